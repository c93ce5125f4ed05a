//! Series metadata for display and for the caller's decisions (what was loaded, what was
//! skipped, what to warn about).

use std::path::PathBuf;

/// A file that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: String,
}

/// A window (W/L) preset from the header, in the series' rescaled units (HU for CT).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowPreset {
    pub center: f64,
    pub width: f64,
    /// WindowCenterWidthExplanation, when given.
    pub explanation: Option<String>,
}

/// What the header says about de-identification. Margo never shows or stores the name itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anonymisation {
    /// PatientIdentityRemoved (0012,0062): Some(true) for YES, Some(false) for NO.
    pub identity_removed: Option<bool>,
    /// DeidentificationMethod (0012,0063), when given.
    pub method: Option<String>,
    /// Whether PatientName (0010,0010) holds a non-empty value.
    pub patient_name_present: bool,
}

impl Anonymisation {
    /// One line for display.
    pub fn summary(&self) -> String {
        match (self.identity_removed, self.patient_name_present) {
            (Some(true), _) => match &self.method {
                Some(m) => format!("de-identified ({m})"),
                None => "de-identified".to_string(),
            },
            (_, false) => "not declared de-identified; patient name empty".to_string(),
            (_, true) => "not declared de-identified; patient name present".to_string(),
        }
    }
}

/// Everything about a loaded (or scanned) series except its voxels.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesMeta {
    pub series_uid: String,
    pub study_uid: Option<String>,
    pub frame_of_reference_uid: Option<String>,
    pub modality: String,
    /// Modality is CT (HU presets apply). Other modalities load as their rescaled values.
    pub is_ct: bool,
    /// ImageType says LOCALIZER (a scout): never stacked with axial images.
    pub is_localizer: bool,
    pub description: String,
    pub sop_class_uid: Option<String>,
    pub manufacturer: Option<String>,
    pub patient_position: Option<String>,
    /// ConvolutionKernel (or the Enhanced CT reconstruction kernel).
    pub kernel: Option<String>,
    pub slice_thickness_mm: Option<f64>,
    /// Header W/L presets (first slice), in rescaled units.
    pub window_presets: Vec<WindowPreset>,
    /// PixelPaddingValue as a stored value, read with the signedness of PixelRepresentation
    /// (LIDC-IDRI stores 63536 as US with signed pixels: that is -2000). Not remapped.
    pub pixel_padding_value: Option<i32>,
    /// RescaleSlope and RescaleIntercept of the first slice (each slice uses its own).
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    /// LossyImageCompression = 01 on any slice, or a lossy transfer syntax.
    pub lossy_compressed: bool,
    /// Transfer syntax UIDs present in the series.
    pub transfer_syntaxes: Vec<String>,
    pub anonymisation: Anonymisation,
    /// Number of files contributing images (a multi-frame file counts once).
    pub file_count: usize,
    pub warnings: Vec<String>,
    /// Files in the scanned folder that were not used (unreadable, duplicates, ...).
    pub skipped: Vec<SkippedFile>,
}
