//! Loading a scanned series: decode every slice in parallel straight into its place in the
//! volume, with progress and cancellation.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use margo_volume::Volume;
use rayon::prelude::*;

use crate::decode::{FrameTarget, decode_frames};
use crate::error::DicomError;
use crate::fast::try_tail_read;
use crate::header::ImageHeader;
use crate::meta::{SeriesMeta, SkippedFile};
use crate::pixels::ConvertStats;
use crate::read::{ReadExtent, read_file};
use crate::scan::{ScanReport, scan_folder};
use crate::series::{SeriesSummary, plan_geometry};

/// 2^31 voxels (4 GiB of i16): e.g. 512 x 512 x 8192 slices.
const MAX_VOXELS: usize = 1 << 31;

/// A file and the (volume index, slice) pairs it provides.
type FileSlices<'a> = (Arc<ImageHeader>, Vec<(usize, &'a crate::series::SliceRef)>);

/// A decoded series: HU (or rescaled values for non-CT) in patient space, and its metadata.
#[derive(Debug, Clone)]
pub struct LoadedSeries {
    pub volume: Volume<i16>,
    pub meta: SeriesMeta,
}

/// Progress of a load, reported after each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    pub slices_done: usize,
    pub slices_total: usize,
}

impl LoadProgress {
    pub fn fraction(&self) -> f32 {
        if self.slices_total == 0 {
            1.0
        } else {
            self.slices_done as f32 / self.slices_total as f32
        }
    }
}

/// A progress callback that never cancels.
pub fn no_progress(_: LoadProgress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// Scans `dir` and loads its largest CT series (localizers aside). When the folder holds no CT
/// but exactly one other series, that one is loaded, flagged non-CT in its metadata.
pub fn open_ct(dir: &Path) -> Result<LoadedSeries, DicomError> {
    open_ct_with_progress(dir, &no_progress)
}

/// [`open_ct`] with a progress callback; returning `ControlFlow::Break` cancels.
pub fn open_ct_with_progress(
    dir: &Path,
    progress: &(dyn Fn(LoadProgress) -> ControlFlow<()> + Sync),
) -> Result<LoadedSeries, DicomError> {
    let report = scan_folder(dir)?;
    let series = choose_ct(&report)?;
    let mut loaded = load_series(series, progress)?;
    loaded.meta.skipped = report.skipped.clone();
    Ok(loaded)
}

/// The series [`open_ct`] would load.
pub fn choose_ct(report: &ScanReport) -> Result<&SeriesSummary, DicomError> {
    if report.series.is_empty() {
        return Err(DicomError::NoLoadableImages {
            path: report.root.clone(),
            ignored: report.ignored.len(),
            skipped: report.skipped.clone(),
        });
    }
    // Summaries come sorted: CT non-localizer series first, largest first.
    if let Some(ct) = report.series.iter().find(|s| s.is_ct && !s.is_localizer) {
        return Ok(ct);
    }
    if report.series.len() == 1 {
        return Ok(&report.series[0]);
    }
    Err(DicomError::NoCtSeries {
        path: report.root.clone(),
        found: report
            .series
            .iter()
            .map(|s| {
                format!(
                    "{} {}{} ({} slices)",
                    s.modality,
                    s.series_uid,
                    if s.is_localizer { " localizer" } else { "" },
                    s.slice_count
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// Decodes one scanned series. `progress` is called from worker threads after each file;
/// returning `ControlFlow::Break(())` stops the load with [`DicomError::Cancelled`].
pub fn load_series(
    series: &SeriesSummary,
    progress: &(dyn Fn(LoadProgress) -> ControlFlow<()> + Sync),
) -> Result<LoadedSeries, DicomError> {
    let geometry = match &series.geometry {
        Some(g) => g.clone(),
        // Recompute to return the typed error (the summary keeps only its text).
        None => {
            let mut slices = series.slices.clone();
            plan_geometry(&mut slices, &mut Vec::new())?
        }
    };
    let [nx, ny, nz] = geometry.dims();
    let slice_len = nx * ny;
    // Refuse absurd sizes (a corrupt header could ask for terabytes; with overcommit an
    // allocation "succeeds" and the process dies later). Otherwise let the allocator hand out
    // zeroed pages: no memset pass, every voxel is overwritten by its slice.
    if slice_len.checked_mul(nz).is_none_or(|n| n > MAX_VOXELS) {
        return Err(DicomError::AllocateVolume {
            dims: geometry.dims(),
        });
    }
    let mut voxels: Vec<i16> = vec![0; slice_len * nz];

    // Group the sorted slices by file, so each file is read once.
    let mut by_file: Vec<FileSlices<'_>> = Vec::new();
    let mut index: HashMap<PathBuf, usize> = HashMap::new();
    for (k, s) in series.slices.iter().enumerate() {
        let i = *index.entry(s.header.path.clone()).or_insert_with(|| {
            by_file.push((Arc::clone(&s.header), Vec::new()));
            by_file.len() - 1
        });
        by_file[i].1.push((k, s));
    }
    let mut slots: Vec<Option<&mut [i16]>> = voxels.chunks_mut(slice_len).map(Some).collect();
    let tasks: Vec<(Arc<ImageHeader>, Vec<FrameTarget<'_>>)> = by_file
        .into_iter()
        .map(|(h, frames)| {
            let targets = frames
                .into_iter()
                .map(|(k, s)| FrameTarget {
                    frame: s.frame,
                    rescale: s.rescale,
                    dst: slots[k].take().expect("each slice index appears once"),
                })
                .collect();
            (h, targets)
        })
        .collect();

    let total = series.slices.len();
    let done = AtomicUsize::new(0);
    let cancelled = AtomicBool::new(false);
    let stats = tasks
        .into_par_iter()
        .map(|(header, targets)| {
            if cancelled.load(Ordering::Relaxed) {
                return Err(DicomError::Cancelled);
            }
            let n = targets.len();
            let mut targets = targets;
            let stats = match try_tail_read(&header, &mut targets)? {
                Some(stats) => stats,
                None => {
                    let file = read_file(&header.path, ReadExtent::All)?.ok_or_else(|| {
                        DicomError::ParseFile {
                            path: header.path.clone(),
                            message: "no longer a DICOM file (changed since the scan?)".to_string(),
                        }
                    })?;
                    decode_frames(&header, &file, targets)?
                }
            };
            let slices_done = done.fetch_add(n, Ordering::Relaxed) + n;
            if progress(LoadProgress {
                slices_done,
                slices_total: total,
            })
            .is_break()
            {
                cancelled.store(true, Ordering::Relaxed);
                return Err(DicomError::Cancelled);
            }
            Ok(stats)
        })
        .try_reduce(ConvertStats::default, |a, b| Ok(a.merge(b)));
    if cancelled.load(Ordering::Relaxed) {
        return Err(DicomError::Cancelled);
    }
    let stats = stats?;

    let mut meta = series.meta();
    if stats.out_of_range > 0 {
        meta.warnings.push(format!(
            "{} voxels had rescaled values outside the i16 range (from {} to {}) and were \
             clamped to [-32768, 32767]",
            stats.out_of_range, stats.out_of_range_min, stats.out_of_range_max
        ));
    }
    if stats.rounded {
        meta.warnings.push(format!(
            "RescaleSlope {} / RescaleIntercept {} are not integers: values were rounded to \
             the nearest integer",
            meta.rescale_slope, meta.rescale_intercept
        ));
    }
    let volume = Volume::new(geometry, voxels).map_err(|e| DicomError::ParseFile {
        path: series.slices[0].header.path.clone(),
        message: format!("volume assembly failed: {e}"),
    })?;
    Ok(LoadedSeries { volume, meta })
}

/// Files skipped by a scan, for callers that build their own metadata.
pub fn skipped_files(report: &ScanReport) -> Vec<SkippedFile> {
    report.skipped.clone()
}
