//! Grouping images into series and working out each series' geometry: sort along the slice
//! normal, and refuse (with the files and values) anything that is not a regular stack.

use std::collections::BTreeSet;
use std::sync::Arc;

use margo_volume::VolumeGeometry;
use margo_volume::nalgebra::{Matrix3, Vector3};

use crate::error::DicomError;
use crate::header::{ImageHeader, Rescale};
use crate::meta::SeriesMeta;

/// Two orientations closer than this (per direction-cosine component) are the same.
const ORIENTATION_TOLERANCE: f64 = 1e-3;
/// Slices closer than this along the normal are at the same position.
const DUPLICATE_POSITION_MM: f64 = 1e-3;

/// One slice of a series: a frame of a file, with its position and rescale.
#[derive(Debug, Clone)]
pub(crate) struct SliceRef {
    pub header: Arc<ImageHeader>,
    pub frame: u32,
    pub rescale: Rescale,
}

/// A series found by a scan: its geometry (when it forms a regular stack) and what is needed
/// to load it. Pixels are not decoded yet.
#[derive(Debug, Clone)]
pub struct SeriesSummary {
    pub series_uid: String,
    pub modality: String,
    pub description: String,
    pub is_ct: bool,
    pub is_localizer: bool,
    /// (columns, rows, slices).
    pub dims: [usize; 3],
    /// (between columns, between rows, between slices), mm.
    pub spacing_mm: [f64; 3],
    /// Placement in LPS, when the slices form a regular stack.
    pub geometry: Option<VolumeGeometry>,
    pub file_count: usize,
    pub slice_count: usize,
    pub warnings: Vec<String>,
    /// Why this series cannot be loaded as it is (uneven spacing, tilt, ...), if so.
    pub problem: Option<String>,
    pub(crate) slices: Vec<SliceRef>,
}

impl SeriesSummary {
    /// The files of this series, in slice order (a multi-frame file appears once).
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        let mut out: Vec<std::path::PathBuf> = Vec::new();
        for s in &self.slices {
            if out.last() != Some(&s.header.path) && !out.contains(&s.header.path) {
                out.push(s.header.path.clone());
            }
        }
        out
    }

    pub fn voxel_count(&self) -> usize {
        self.dims.iter().product()
    }

    /// The header metadata of this series (no skipped files: those belong to the scan).
    pub fn meta(&self) -> SeriesMeta {
        let first = &self.slices[0].header;
        let mut transfer_syntaxes: Vec<String> = self
            .slices
            .iter()
            .map(|s| s.header.ts_uid.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        transfer_syntaxes.dedup();
        let lossy_ts = transfer_syntaxes.iter().any(|uid| {
            matches!(
                uid.as_str(),
                "1.2.840.10008.1.2.4.50"
                    | "1.2.840.10008.1.2.4.51"
                    | "1.2.840.10008.1.2.4.81"
                    | "1.2.840.10008.1.2.4.91"
            )
        });
        let first_frame = &first.frames[self.slices[0].frame as usize];
        SeriesMeta {
            series_uid: self.series_uid.clone(),
            study_uid: first.study_uid.clone(),
            frame_of_reference_uid: first.frame_of_reference_uid.clone(),
            modality: self.modality.clone(),
            is_ct: self.is_ct,
            is_localizer: self.is_localizer,
            description: self.description.clone(),
            sop_class_uid: first.sop_class_uid.clone(),
            manufacturer: first.manufacturer.clone(),
            patient_position: first.patient_position.clone(),
            kernel: first.kernel.clone(),
            slice_thickness_mm: first.slice_thickness_mm,
            window_presets: first_frame.window_presets.clone(),
            pixel_padding_value: first.pixel_padding_value,
            rescale_slope: self.slices[0].rescale.slope,
            rescale_intercept: self.slices[0].rescale.intercept,
            lossy_compressed: lossy_ts || self.slices.iter().any(|s| s.header.lossy),
            transfer_syntaxes,
            anonymisation: first.anonymisation.clone(),
            file_count: self.file_count,
            warnings: self.warnings.clone(),
            skipped: Vec::new(),
        }
    }
}

/// The key that keeps different stacks apart within (and across) SeriesInstanceUIDs.
struct Group {
    series_uid: Option<String>,
    /// Files without a SeriesInstanceUID each form their own series.
    lone_path: Option<std::path::PathBuf>,
    is_localizer: bool,
    rows: usize,
    cols: usize,
    orientation: Option<[f64; 6]>,
    slices: Vec<SliceRef>,
}

impl Group {
    fn accepts(&self, h: &ImageHeader, orientation: Option<[f64; 6]>) -> bool {
        self.lone_path.is_none()
            && h.series_uid.is_some()
            && self.series_uid == h.series_uid
            && self.is_localizer == h.is_localizer()
            && self.rows == h.format.rows
            && self.cols == h.format.cols
            && match (self.orientation, orientation) {
                (None, None) => true,
                (Some(a), Some(b)) => a
                    .iter()
                    .zip(&b)
                    .all(|(x, y)| (x - y).abs() <= ORIENTATION_TOLERANCE),
                _ => false,
            }
    }
}

/// Groups headers (already de-duplicated) into series summaries, largest CT first.
pub(crate) fn group_series(headers: Vec<Arc<ImageHeader>>) -> Vec<SeriesSummary> {
    let mut groups: Vec<Group> = Vec::new();
    for h in &headers {
        for frame in &h.frames {
            let slice = SliceRef {
                header: Arc::clone(h),
                frame: frame.index,
                rescale: frame.rescale,
            };
            if let Some(g) = groups.iter_mut().find(|g| g.accepts(h, frame.orientation)) {
                g.slices.push(slice);
            } else {
                groups.push(Group {
                    series_uid: h.series_uid.clone(),
                    lone_path: h.series_uid.is_none().then(|| h.path.clone()),
                    is_localizer: h.is_localizer(),
                    rows: h.format.rows,
                    cols: h.format.cols,
                    orientation: frame.orientation,
                    slices: vec![slice],
                });
            }
        }
    }

    let mut summaries: Vec<SeriesSummary> = groups.iter().map(summarise).collect();
    // Tell the user when one SeriesInstanceUID was split into several stacks.
    for i in 0..summaries.len() {
        let uid = &summaries[i].series_uid;
        let siblings = summaries
            .iter()
            .filter(|s| !uid.is_empty() && &s.series_uid == uid)
            .count();
        if siblings > 1 {
            let note = format!(
                "SeriesInstanceUID {uid} holds {siblings} stacks (localizer, orientation or \
                 matrix size differ); each is listed separately"
            );
            summaries[i].warnings.push(note);
        }
    }
    summaries.sort_by(|a, b| {
        (b.is_ct && !b.is_localizer)
            .cmp(&(a.is_ct && !a.is_localizer))
            .then(a.is_localizer.cmp(&b.is_localizer))
            .then(b.voxel_count().cmp(&a.voxel_count()))
            .then(a.slices[0].header.path.cmp(&b.slices[0].header.path))
    });
    summaries
}

fn summarise(group: &Group) -> SeriesSummary {
    let first = &group.slices[0].header;
    let mut warnings: Vec<String> = Vec::new();
    for note in group
        .slices
        .iter()
        .flat_map(|s| s.header.notes.iter())
        .collect::<BTreeSet<_>>()
    {
        warnings.push(note.clone());
    }
    if first.series_uid.is_none() {
        warnings.push(format!(
            "{}: no SeriesInstanceUID; treated as a series of its own",
            first.path.display()
        ));
    }
    let is_ct = first.modality.eq_ignore_ascii_case("CT");
    if !is_ct {
        warnings.push(format!(
            "modality {} is not CT: values are the rescaled stored values, not HU, and HU \
             window presets do not apply",
            first.modality
        ));
    }
    if first.photometric == "MONOCHROME1" {
        warnings.push(
            "PhotometricInterpretation MONOCHROME1: values are kept as rescaled; display must \
             invert"
                .to_string(),
        );
    }
    let mut file_paths: Vec<&std::path::Path> = group
        .slices
        .iter()
        .map(|s| s.header.path.as_path())
        .collect();
    file_paths.sort();
    file_paths.dedup();

    let mut slices = group.slices.clone();
    let (geometry, problem) = match plan_geometry(&mut slices, &mut warnings) {
        Ok(g) => (Some(g), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let (dims, spacing_mm) = match &geometry {
        Some(g) => (g.dims(), g.spacing_mm().into()),
        None => ([group.cols, group.rows, group.slices.len()], [0.0; 3]),
    };
    SeriesSummary {
        series_uid: first.series_uid.clone().unwrap_or_default(),
        modality: first.modality.clone(),
        description: first.description.clone(),
        is_ct,
        is_localizer: group.is_localizer,
        dims,
        spacing_mm,
        geometry,
        file_count: file_paths.len(),
        slice_count: group.slices.len(),
        warnings,
        problem,
        slices,
    }
}

/// Sorts `slices` along the slice normal and returns the volume geometry, or an error naming
/// the files and values that make the slices an irregular stack.
pub(crate) fn plan_geometry(
    slices: &mut [SliceRef],
    warnings: &mut Vec<String>,
) -> Result<VolumeGeometry, DicomError> {
    let first = Arc::clone(&slices[0].header);
    let frame0 = &first.frames[slices[0].frame as usize];
    let path0 = first.path.clone();

    if slices.len() > 1 && is_unplaced_multiframe(slices) {
        return unplaced_multiframe(slices, warnings);
    }

    // Direction: row (i) and column (j) cosines from the header, normal = row x column.
    let (row, col) = match frame0.orientation {
        Some(o) => (
            Vector3::new(o[0], o[1], o[2]),
            Vector3::new(o[3], o[4], o[5]),
        ),
        None if slices.len() == 1 => {
            warnings.push(format!(
                "{}: no ImageOrientationPatient; identity (axial) orientation assumed",
                path0.display()
            ));
            (Vector3::x(), Vector3::y())
        }
        None => {
            return Err(DicomError::CannotSort {
                path: path0,
                count: slices.len(),
                attribute: "ImageOrientationPatient (0020,0037)",
            });
        }
    };
    let (row, col) = match (row.try_normalize(1e-6), col.try_normalize(1e-6)) {
        (Some(r), Some(c)) => (r, c),
        _ => {
            return Err(DicomError::InvalidGeometry {
                path: path0,
                error: margo_volume::GeometryError::NonOrthonormalDirection {
                    axis: 0,
                    length: row.norm().min(col.norm()),
                    max_dot: row.dot(&col),
                },
            });
        }
    };
    let normal = row.cross(&col);

    // In-plane spacing: PixelSpacing is (between rows, between columns) = (j, i).
    let pixel_spacing = match frame0.pixel_spacing {
        Some(ps) => ps,
        None => {
            warnings.push(format!(
                "{}: no PixelSpacing; 1 mm x 1 mm assumed",
                path0.display()
            ));
            [1.0, 1.0]
        }
    };
    for s in slices.iter().skip(1) {
        let ps = s.header.frames[s.frame as usize].pixel_spacing;
        let same = match ps {
            Some(p) => {
                (p[0] - pixel_spacing[0]).abs() <= 1e-4 * pixel_spacing[0].max(1.0)
                    && (p[1] - pixel_spacing[1]).abs() <= 1e-4 * pixel_spacing[1].max(1.0)
            }
            None => frame0.pixel_spacing.is_none(),
        };
        if !same {
            return Err(DicomError::InconsistentSlices {
                first: path0,
                second: s.header.path.clone(),
                attribute: "PixelSpacing",
                first_value: format!("{:?}", frame0.pixel_spacing),
                second_value: format!("{ps:?}"),
            });
        }
    }

    let (origin, spacing_k) = if slices.len() == 1 {
        let origin = match frame0.position {
            Some(p) => p,
            None => {
                warnings.push(format!(
                    "{}: no ImagePositionPatient; first voxel placed at the origin",
                    path0.display()
                ));
                [0.0; 3]
            }
        };
        // One slice has no neighbour to measure the spacing from: use the header's nominal
        // value and say so (it only sets the slab thickness of a one-slice volume).
        let spacing_k = match (first.spacing_between_slices_mm, first.slice_thickness_mm) {
            (Some(s), _) if s > 0.0 => {
                warnings.push(format!(
                    "single slice: slice spacing taken from SpacingBetweenSlices ({s} mm)"
                ));
                s
            }
            (_, Some(t)) if t > 0.0 => {
                warnings.push(format!(
                    "single slice: slice spacing taken from SliceThickness ({t} mm)"
                ));
                t
            }
            _ => {
                warnings.push("single slice: no slice thickness; 1 mm assumed".to_string());
                1.0
            }
        };
        (origin, spacing_k)
    } else {
        sort_and_measure(slices, &normal)?
    };

    let direction = Matrix3::from_columns(&[row, col, normal]);
    VolumeGeometry::new(
        [first.format.cols, first.format.rows, slices.len()],
        [pixel_spacing[1], pixel_spacing[0], spacing_k],
        origin,
        direction,
    )
    .map_err(|source| DicomError::InvalidGeometry {
        path: slices[0].header.path.clone(),
        error: source,
    })
}

/// Sorts by position along `normal` (never by file name or InstanceNumber), then checks that
/// the positions form one straight, evenly spaced line along the normal.
fn sort_and_measure(
    slices: &mut [SliceRef],
    normal: &Vector3<f64>,
) -> Result<([f64; 3], f64), DicomError> {
    let mut keyed: Vec<(f64, Vector3<f64>, SliceRef)> = Vec::with_capacity(slices.len());
    for s in slices.iter() {
        let Some(p) = s.header.frames[s.frame as usize].position else {
            return Err(DicomError::CannotSort {
                path: s.header.path.clone(),
                count: slices.len(),
                attribute: "ImagePositionPatient (0020,0032)",
            });
        };
        let p = Vector3::from(p);
        keyed.push((p.dot(normal), p, s.clone()));
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));

    let n = keyed.len();
    for w in keyed.windows(2) {
        if (w[1].0 - w[0].0).abs() < DUPLICATE_POSITION_MM {
            return Err(DicomError::DuplicateSlicePosition {
                first: w[0].2.header.path.clone(),
                second: w[1].2.header.path.clone(),
                position_mm: w[0].0,
            });
        }
    }
    let spacing = (keyed[n - 1].0 - keyed[0].0) / (n - 1) as f64;
    // Judge the gaps against their median, so that one missing slice is reported as the gap
    // that is twice the others (not as every gap being off from a skewed mean).
    let mut gaps: Vec<f64> = keyed.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort_by(f64::total_cmp);
    let typical = gaps[gaps.len() / 2];
    // DS values carry ~6 significant digits; real gaps (a missing slice) are whole slices.
    let tolerance_mm = (0.002 * typical).max(0.01);
    let worst = keyed
        .windows(2)
        .map(|w| (w, w[1].0 - w[0].0))
        .max_by(|a, b| (a.1 - typical).abs().total_cmp(&(b.1 - typical).abs()));
    if let Some((w, gap)) = worst
        && ((gap - typical).abs() > tolerance_mm || (spacing - typical).abs() > tolerance_mm)
    {
        return Err(DicomError::InconsistentSpacing {
            first: w[0].2.header.path.clone(),
            second: w[1].2.header.path.clone(),
            gap_mm: gap,
            expected_mm: typical,
            tolerance_mm,
        });
    }
    // Shear: every position must lie on the line through the first along the normal.
    let p0 = keyed[0].1;
    let mut worst: Option<(f64, f64, usize)> = None;
    for (idx, (s, p, _)) in keyed.iter().enumerate().skip(1) {
        let along = s - keyed[0].0;
        let offset = (p - p0 - normal * along).norm();
        let allowed = 0.01 + 0.001 * along.abs();
        if offset > allowed && worst.is_none_or(|w| offset > w.0) {
            worst = Some((offset, along, idx));
        }
    }
    if let Some((offset, along, idx)) = worst {
        return Err(DicomError::GantryTilt {
            first: keyed[0].2.header.path.clone(),
            last: keyed[idx].2.header.path.clone(),
            tilt_deg: offset.atan2(along.abs()).to_degrees(),
            offset_mm: offset,
        });
    }
    for (dst, (_, _, s)) in slices.iter_mut().zip(keyed.iter()) {
        *dst = s.clone();
    }
    Ok((p0.into(), spacing))
}

/// One multi-frame file whose frames carry no plane position or orientation at all (neither
/// functional groups nor top-level attributes beyond frame 0).
fn is_unplaced_multiframe(slices: &[SliceRef]) -> bool {
    let h = &slices[0].header;
    slices.iter().all(|s| Arc::ptr_eq(&s.header, h))
        && h.frames
            .iter()
            .skip(1)
            .all(|f| f.position.is_none() && f.orientation.is_none())
        && h.frames[0].orientation.is_none()
}

/// Frames in file order on an identity grid at the origin, said loudly in the warnings: the
/// file gives nothing to sort or place them by, so nothing can contradict this order.
fn unplaced_multiframe(
    slices: &mut [SliceRef],
    warnings: &mut Vec<String>,
) -> Result<VolumeGeometry, DicomError> {
    slices.sort_by_key(|s| s.frame);
    let h = Arc::clone(&slices[0].header);
    let ps = h.frames[0].pixel_spacing.unwrap_or_else(|| {
        warnings.push(format!(
            "{}: no PixelSpacing; 1 mm x 1 mm assumed",
            h.path.display()
        ));
        [1.0, 1.0]
    });
    let spacing_k = h
        .spacing_between_slices_mm
        .or(h.slice_thickness_mm)
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    warnings.push(format!(
        "{}: {} frames without plane position or orientation: stacked in frame order on an \
         identity (axial) grid at the origin, {spacing_k} mm apart (from the header's \
         SpacingBetweenSlices/SliceThickness); the placement in the patient is unknown",
        h.path.display(),
        slices.len()
    ));
    VolumeGeometry::new(
        [h.format.cols, h.format.rows, slices.len()],
        [ps[1], ps[0], spacing_k],
        [0.0; 3],
        Matrix3::identity(),
    )
    .map_err(|source| DicomError::InvalidGeometry {
        path: h.path.clone(),
        error: source,
    })
}
