//! The loader's error type: one variant per step that can fail, with the file and the values.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong between a folder and a volume.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DicomError {
    #[error("cannot read folder {path}: {error}")]
    ReadFolder {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "no loadable DICOM image under {path} ({ignored} non-DICOM files ignored, {} skipped{})",
        skipped.len(),
        list_skipped(skipped)
    )]
    NoLoadableImages {
        path: PathBuf,
        ignored: usize,
        skipped: Vec<crate::meta::SkippedFile>,
    },
    #[error("refusing to allocate a volume of {dims:?} voxels (more than 2^31)")]
    AllocateVolume { dims: [usize; 3] },
    #[error("no CT series under {path}; found: {found}")]
    NoCtSeries { path: PathBuf, found: String },
    #[error("cannot open {path}: {error}")]
    OpenFile {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot parse DICOM file {path}: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("{path}: required attribute {attribute} is missing or unreadable")]
    MissingAttribute {
        path: PathBuf,
        attribute: &'static str,
    },
    #[error("{path}: unsupported pixel format: {detail}")]
    UnsupportedPixelFormat { path: PathBuf, detail: String },
    #[error("{path}: unsupported transfer syntax {ts_uid} ({ts_name}): {reason}")]
    UnsupportedTransferSyntax {
        path: PathBuf,
        ts_uid: String,
        ts_name: String,
        reason: String,
    },
    #[error("{path}: cannot decode pixel data of frame {frame}: {message}")]
    DecodePixelData {
        path: PathBuf,
        frame: u32,
        message: String,
    },
    #[error(
        "{path}: pixel data of frame {frame} has {found_bytes} bytes, expected {expected_bytes} \
         ({rows} rows x {cols} columns x {bytes_per_sample} bytes)"
    )]
    PixelDataLength {
        path: PathBuf,
        frame: u32,
        expected_bytes: usize,
        found_bytes: usize,
        rows: usize,
        cols: usize,
        bytes_per_sample: usize,
    },
    #[error(
        "slices {first} and {second} sit at the same position along the slice normal \
         ({position_mm:.4} mm); the series mixes several acquisitions"
    )]
    DuplicateSlicePosition {
        first: PathBuf,
        second: PathBuf,
        position_mm: f64,
    },
    #[error(
        "uneven slice spacing: the gap between {first} and {second} is {gap_mm:.4} mm but the \
         other gaps are {expected_mm:.4} mm (tolerance {tolerance_mm:.4} mm); refusing to stack \
         unevenly spaced slices"
    )]
    InconsistentSpacing {
        first: PathBuf,
        second: PathBuf,
        gap_mm: f64,
        expected_mm: f64,
        tolerance_mm: f64,
    },
    #[error(
        "slice positions are sheared (gantry tilt about {tilt_deg:.3} degrees): {last} is offset \
         {offset_mm:.4} mm in-plane from the line through {first} along the slice normal; \
         refusing to stack sheared slices"
    )]
    GantryTilt {
        first: PathBuf,
        last: PathBuf,
        tilt_deg: f64,
        offset_mm: f64,
    },
    #[error("{first} and {second} disagree on {attribute}: {first_value} vs {second_value}")]
    InconsistentSlices {
        first: PathBuf,
        second: PathBuf,
        attribute: &'static str,
        first_value: String,
        second_value: String,
    },
    #[error("{path}: invalid geometry: {error}")]
    InvalidGeometry {
        path: PathBuf,
        error: margo_volume::GeometryError,
    },
    #[error("{path}: cannot sort {count} slices: {attribute} is missing")]
    CannotSort {
        path: PathBuf,
        count: usize,
        attribute: &'static str,
    },
    #[error("loading was cancelled")]
    Cancelled,
}

fn list_skipped(skipped: &[crate::meta::SkippedFile]) -> String {
    const SHOWN: usize = 5;
    let mut s: String = skipped
        .iter()
        .take(SHOWN)
        .map(|f| format!("; {}: {}", f.path.display(), f.reason))
        .collect();
    if skipped.len() > SHOWN {
        s.push_str(&format!("; and {} more", skipped.len() - SHOWN));
    }
    s
}
