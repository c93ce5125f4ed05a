//! Scanning: find the files under a folder and read their headers (no pixel data), in parallel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::DicomError;
use crate::header::{ImageHeader, image_header};
use crate::meta::SkippedFile;
use crate::read::{ReadExtent, read_file};
use crate::series::{SeriesSummary, group_series};
use crate::ts::{PixelEncoding, pixel_encoding};

/// What a folder holds: series (not yet decoded), files skipped with reasons, non-DICOM files.
#[derive(Debug, Clone)]
pub struct ScanReport {
    /// The folder (or file) that was scanned.
    pub root: PathBuf,
    /// Series found, largest first (CT before other modalities, localizers last).
    pub series: Vec<SeriesSummary>,
    /// DICOM (or DICOM-looking) files that could not be used, with the reason.
    pub skipped: Vec<SkippedFile>,
    /// Files that are not DICOM at all (e.g. annotation XML); ignored, not errors.
    pub ignored: Vec<PathBuf>,
}

/// Scans `root` (a folder, recursively, or a single file) for DICOM images.
pub fn scan_folder(root: &Path) -> Result<ScanReport, DicomError> {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    if root.is_file() {
        files.push(root.to_path_buf());
    } else {
        collect_files(root, &mut files, &mut unreadable, 0)?;
    }
    files.sort();
    let mut report = scan_paths_under(root, &files);
    report.skipped.extend(unreadable);
    Ok(report)
}

/// Scans an explicit list of files (no folder walk).
pub fn scan_files(files: &[PathBuf]) -> ScanReport {
    let root = files
        .first()
        .and_then(|f| f.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    scan_paths_under(&root, files)
}

enum Probe {
    Image(Box<ImageHeader>),
    NotDicom,
    Skipped(SkippedFile),
}

fn scan_paths_under(root: &Path, files: &[PathBuf]) -> ScanReport {
    let probes: Vec<Probe> = files.par_iter().map(|p| probe(p)).collect();
    let mut headers = Vec::new();
    let mut skipped = Vec::new();
    let mut ignored = Vec::new();
    for (path, probe) in files.iter().zip(probes) {
        match probe {
            Probe::Image(h) => headers.push(Arc::new(*h)),
            Probe::NotDicom => ignored.push(path.clone()),
            Probe::Skipped(s) => skipped.push(s),
        }
    }
    let headers = drop_duplicate_instances(headers, &mut skipped);
    let series = group_series(headers);
    ScanReport {
        root: root.to_path_buf(),
        series,
        skipped,
        ignored,
    }
}

fn probe(path: &Path) -> Probe {
    match read_file(path, ReadExtent::Header) {
        Ok(None) => Probe::NotDicom,
        Ok(Some(parsed)) => {
            let obj = parsed.obj();
            // DICOMDIR, structured reports, presentation states...: DICOM but not images.
            use crate::attrs::tags;
            let is_image = [
                tags::ROWS,
                tags::COLUMNS,
                tags::BITS_ALLOCATED,
                tags::PIXEL_DATA,
            ]
            .into_iter()
            .any(|t| obj.get(t).is_some());
            if !is_image {
                let what = crate::attrs::string(obj, tags::SOP_CLASS_UID).map_or_else(
                    || "unknown SOP class".to_string(),
                    |s| format!("SOP class {s}"),
                );
                return Probe::Skipped(SkippedFile {
                    path: path.to_path_buf(),
                    reason: format!("DICOM file without an image ({what})"),
                });
            }
            match image_header(path, &parsed) {
                Ok(h) => match oversized_matrix(&h).or_else(|| truncation(&h)) {
                    Some(reason) => Probe::Skipped(SkippedFile {
                        path: path.to_path_buf(),
                        reason,
                    }),
                    None => Probe::Image(Box::new(h)),
                },
                Err(e) => Probe::Skipped(SkippedFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }),
            }
        }
        Err(e) => Probe::Skipped(SkippedFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Rows and Columns above this are refused: no CT matrix comes near it (512 is usual, 2048 is
/// rare), while a corrupted header asking for 40000 x 40000 made a compressed slice reserve
/// 3 GB before its decoder failed.
pub const MAX_MATRIX: usize = 8192;

fn oversized_matrix(h: &ImageHeader) -> Option<String> {
    let (rows, cols) = (h.format.rows, h.format.cols);
    (rows > MAX_MATRIX || cols > MAX_MATRIX).then(|| {
        format!(
            "image matrix {rows} x {cols} (Rows x Columns) exceeds the {MAX_MATRIX} x \
             {MAX_MATRIX} margo loads: a corrupted header?"
        )
    })
}

/// A native-encoded file shorter than its pixel data alone is truncated: catch it at scan time
/// (a cheap size check) so that it is reported as skipped instead of failing the whole load.
fn truncation(h: &ImageHeader) -> Option<String> {
    if pixel_encoding(&h.ts_uid) != PixelEncoding::Native || is_deflated(&h.ts_uid) {
        return None;
    }
    let needed = h.format.frame_bytes() as u64 * h.frames.len() as u64;
    let len = std::fs::metadata(&h.path).ok()?.len();
    (len < needed).then(|| {
        format!(
            "truncated or without pixel data: the file has {len} bytes but its pixel data \
             alone needs {needed} ({} x {} x {} frame(s) x {} bytes)",
            h.format.rows,
            h.format.cols,
            h.frames.len(),
            h.format.bytes_per_sample()
        )
    })
}

fn is_deflated(ts_uid: &str) -> bool {
    ts_uid == "1.2.840.10008.1.2.1.99"
}

/// The same SOP instance stored twice (a copy, or the same image re-encoded) is one image: keep
/// the best copy (exact before lossy, see `ts::copy_preference`; then the first by path) and
/// report the others.
fn drop_duplicate_instances(
    headers: Vec<Arc<ImageHeader>>,
    skipped: &mut Vec<SkippedFile>,
) -> Vec<Arc<ImageHeader>> {
    // Index of the copy to keep per SOP Instance UID (headers arrive sorted by path).
    let mut best: HashMap<&str, usize> = HashMap::new();
    for (n, h) in headers.iter().enumerate() {
        if let Some(uid) = &h.sop_instance_uid {
            let rank = |i: usize| crate::ts::copy_preference(&headers[i].ts_uid);
            best.entry(uid.as_str())
                .and_modify(|b| {
                    if rank(n) < rank(*b) {
                        *b = n;
                    }
                })
                .or_insert(n);
        }
    }
    let keep: Vec<bool> = headers
        .iter()
        .enumerate()
        .map(|(n, h)| {
            h.sop_instance_uid
                .as_deref()
                .is_none_or(|uid| best[uid] == n)
        })
        .collect();
    for (n, h) in headers.iter().enumerate() {
        if let (false, Some(uid)) = (keep[n], &h.sop_instance_uid) {
            let kept = &headers[best[uid.as_str()]];
            skipped.push(SkippedFile {
                path: h.path.clone(),
                reason: format!(
                    "same SOPInstanceUID as {} (a duplicate or re-encoded copy; kept: {}, {})",
                    kept.path.display(),
                    crate::ts::transfer_syntax_name(&kept.ts_uid),
                    match crate::ts::copy_preference(&kept.ts_uid) {
                        0 | 1 => "exact",
                        _ => "possibly lossy: no exact copy found",
                    }
                ),
            });
        }
    }
    headers
        .into_iter()
        .zip(keep)
        .filter_map(|(h, k)| k.then_some(h))
        .collect()
}

/// Recursive walk; symlinked folders are not followed (no cycles), symlinked files are.
fn collect_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    unreadable: &mut Vec<SkippedFile>,
    depth: usize,
) -> Result<(), DicomError> {
    const MAX_DEPTH: usize = 32;
    let entries = std::fs::read_dir(dir).map_err(|source| DicomError::ReadFolder {
        path: dir.to_path_buf(),
        error: source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if depth < MAX_DEPTH {
                // An unreadable sub-folder must not hide the rest of the tree: report it.
                if let Err(e) = collect_files(&path, out, unreadable, depth + 1) {
                    unreadable.push(SkippedFile {
                        path: path.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        } else if file_type.is_file() || (file_type.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}
