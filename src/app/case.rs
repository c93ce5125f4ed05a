//! A loaded case as the app sees it: the volume plus what the UI shows about its series.
//! Independent of margo-dicom's types so the UI and tests can build cases from anywhere.

use std::path::PathBuf;
use std::sync::Arc;

use margo_volume::Volume;

/// One series found by a scan, as the series picker lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChoice {
    /// Index of the series in the scan (the loader's own numbering).
    pub index: usize,
    pub description: String,
    pub modality: String,
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub warnings: Vec<String>,
}

impl SeriesChoice {
    /// CT volumes first, then the most slices: the series a planner most likely wants.
    pub fn preference(&self) -> (bool, usize) {
        (self.modality == "CT", self.dims[2])
    }
}

/// A file the loader skipped, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// Metadata of the loaded series shown in the side panel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaseInfo {
    pub folder: PathBuf,
    pub series_uid: String,
    pub description: String,
    pub modality: String,
    /// False for MR and other non-CT series: HU presets do not apply.
    pub is_ct: bool,
    pub patient: String,
    /// Window presets from the header: (name, centre HU, width HU).
    pub header_windows: Vec<(String, f64, f64)>,
    pub warnings: Vec<String>,
    pub skipped: Vec<SkippedFile>,
}

/// A volume ready to view.
#[derive(Debug, Clone)]
pub struct Case {
    pub volume: Arc<Volume<i16>>,
    pub info: CaseInfo,
}
