//! The attributes of one image file that grouping, geometry and decoding need, read once at
//! scan time (without pixel data).

use std::path::{Path, PathBuf};

use dicom_object::InMemDicomObject;

use crate::attrs::{self, FunctionalGroups, tags};
use crate::error::DicomError;
use crate::meta::{Anonymisation, WindowPreset};
use crate::read::ParsedFile;

/// Stored sample layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PixelFormat {
    pub rows: usize,
    pub cols: usize,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub signed: bool,
    pub samples_per_pixel: u16,
}

impl PixelFormat {
    pub fn bytes_per_sample(&self) -> usize {
        usize::from(self.bits_allocated).div_ceil(8)
    }

    pub fn frame_bytes(&self) -> usize {
        self.rows * self.cols * self.bytes_per_sample()
    }
}

/// Linear modality LUT: value = stored * slope + intercept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rescale {
    pub slope: f64,
    pub intercept: f64,
}

impl Default for Rescale {
    fn default() -> Self {
        Self {
            slope: 1.0,
            intercept: 0.0,
        }
    }
}

/// Geometry and rescale of one frame (a single-frame file has one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FrameInfo {
    pub index: u32,
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    /// (row spacing = between rows, column spacing = between columns), as in PixelSpacing.
    pub pixel_spacing: Option<[f64; 2]>,
    pub rescale: Rescale,
    pub window_presets: Vec<WindowPreset>,
}

#[derive(Debug, Clone)]
pub(crate) struct ImageHeader {
    pub path: PathBuf,
    pub ts_uid: String,
    pub notes: Vec<String>,
    pub sop_class_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
    pub series_uid: Option<String>,
    pub study_uid: Option<String>,
    pub frame_of_reference_uid: Option<String>,
    pub modality: String,
    pub description: String,
    pub image_type: Vec<String>,
    pub manufacturer: Option<String>,
    pub patient_position: Option<String>,
    pub kernel: Option<String>,
    pub slice_thickness_mm: Option<f64>,
    pub spacing_between_slices_mm: Option<f64>,
    pub pixel_padding_value: Option<i32>,
    pub lossy: bool,
    pub anonymisation: Anonymisation,
    pub photometric: String,
    pub format: PixelFormat,
    pub frames: Vec<FrameInfo>,
}

impl ImageHeader {
    pub fn is_localizer(&self) -> bool {
        self.image_type
            .iter()
            .any(|t| t.eq_ignore_ascii_case("LOCALIZER"))
    }
}

/// Reads the header of a parsed file. Errors name the missing attribute.
pub(crate) fn image_header(path: &Path, file: &ParsedFile) -> Result<ImageHeader, DicomError> {
    let obj = file.obj();
    let missing = |attribute| DicomError::MissingAttribute {
        path: path.to_path_buf(),
        attribute,
    };
    let rows = attrs::int(obj, tags::ROWS).ok_or_else(|| missing("Rows (0028,0010)"))?;
    let cols = attrs::int(obj, tags::COLUMNS).ok_or_else(|| missing("Columns (0028,0011)"))?;
    let bits_allocated = attrs::int(obj, tags::BITS_ALLOCATED)
        .ok_or_else(|| missing("BitsAllocated (0028,0100)"))?;
    let bits_stored = attrs::int(obj, tags::BITS_STORED).unwrap_or(bits_allocated);
    let signed = attrs::int(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    // ACR-NEMA files may lack SamplesPerPixel; a CT image is monochrome.
    let samples_per_pixel = attrs::int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let bad = |detail: String| DicomError::UnsupportedPixelFormat {
        path: path.to_path_buf(),
        detail,
    };
    if !(1..=65535).contains(&rows) || !(1..=65535).contains(&cols) {
        return Err(bad(format!("{rows} rows x {cols} columns")));
    }
    if ![8, 16, 32].contains(&bits_allocated) {
        return Err(bad(format!(
            "BitsAllocated {bits_allocated} (need 8, 16 or 32)"
        )));
    }
    if bits_stored < 1 || bits_stored > bits_allocated {
        return Err(bad(format!(
            "BitsStored {bits_stored} with BitsAllocated {bits_allocated}"
        )));
    }
    if samples_per_pixel != 1 {
        return Err(bad(format!(
            "SamplesPerPixel {samples_per_pixel}: colour images are not volumes"
        )));
    }
    let format = PixelFormat {
        rows: rows as usize,
        cols: cols as usize,
        bits_allocated: bits_allocated as u16,
        bits_stored: bits_stored as u16,
        signed,
        samples_per_pixel: 1,
    };

    let number_of_frames = attrs::int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1);
    if number_of_frames > 100_000 {
        return Err(bad(format!("NumberOfFrames {number_of_frames}")));
    }
    let frames: Vec<FrameInfo> = (0..number_of_frames as usize)
        .map(|f| frame_info(obj, f))
        .collect();

    let fg = FunctionalGroups::of(obj, 0);
    let kernel = attrs::string(obj, tags::CONVOLUTION_KERNEL).or_else(|| {
        fg.find(tags::CT_RECONSTRUCTION_SEQUENCE, tags::CONVOLUTION_KERNEL)
            .and_then(|m| attrs::string(m, tags::CONVOLUTION_KERNEL))
    });
    let slice_thickness_mm = attrs::float(obj, tags::SLICE_THICKNESS).or_else(|| {
        fg.find(tags::PIXEL_MEASURES_SEQUENCE, tags::SLICE_THICKNESS)
            .and_then(|m| attrs::float(m, tags::SLICE_THICKNESS))
    });
    let spacing_between_slices_mm = attrs::float(obj, tags::SPACING_BETWEEN_SLICES).or_else(|| {
        fg.find(tags::PIXEL_MEASURES_SEQUENCE, tags::SPACING_BETWEEN_SLICES)
            .and_then(|m| attrs::float(m, tags::SPACING_BETWEEN_SLICES))
    });
    let pixel_padding_value = attrs::int(obj, tags::PIXEL_PADDING_VALUE)
        .map(|v| reinterpret_padding(v, format.bits_allocated, signed));
    let lossy = attrs::string(obj, tags::LOSSY_IMAGE_COMPRESSION).as_deref() == Some("01");
    let anonymisation = Anonymisation {
        identity_removed: attrs::string(obj, tags::PATIENT_IDENTITY_REMOVED)
            .map(|s| s.eq_ignore_ascii_case("YES")),
        method: attrs::string(obj, tags::DEIDENTIFICATION_METHOD),
        patient_name_present: attrs::string(obj, tags::PATIENT_NAME).is_some(),
    };
    let mut image_type = attrs::strings(obj, tags::IMAGE_TYPE);
    if image_type.is_empty()
        && let Some(m) = fg.find(tags::CT_IMAGE_FRAME_TYPE_SEQUENCE, tags::FRAME_TYPE)
    {
        image_type = attrs::strings(m, tags::FRAME_TYPE);
    }

    Ok(ImageHeader {
        path: path.to_path_buf(),
        ts_uid: file.ts_uid.clone(),
        notes: file.notes.clone(),
        sop_class_uid: attrs::string(obj, tags::SOP_CLASS_UID),
        sop_instance_uid: attrs::string(obj, tags::SOP_INSTANCE_UID),
        series_uid: attrs::string(obj, tags::SERIES_INSTANCE_UID),
        study_uid: attrs::string(obj, tags::STUDY_INSTANCE_UID),
        frame_of_reference_uid: attrs::string(obj, tags::FRAME_OF_REFERENCE_UID),
        modality: attrs::string(obj, tags::MODALITY).unwrap_or_else(|| "OT".to_string()),
        description: attrs::string(obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
        image_type,
        manufacturer: attrs::string(obj, tags::MANUFACTURER),
        patient_position: attrs::string(obj, tags::PATIENT_POSITION),
        kernel,
        slice_thickness_mm,
        spacing_between_slices_mm,
        pixel_padding_value,
        lossy,
        anonymisation,
        photometric: attrs::string(obj, tags::PHOTOMETRIC_INTERPRETATION)
            .unwrap_or_else(|| "MONOCHROME2".to_string()),
        format,
        frames,
    })
}

/// PixelPaddingValue is US or SS depending on PixelRepresentation, but writers get the VR
/// wrong (LIDC: US 63536 with signed pixels). Reinterpret the bits with the pixels' signedness.
fn reinterpret_padding(value: i64, bits_allocated: u16, signed: bool) -> i32 {
    let bits = u32::from(bits_allocated.min(32));
    let modulus = 1i64 << bits;
    let unsigned = value.rem_euclid(modulus);
    if signed && unsigned >= modulus / 2 {
        (unsigned - modulus) as i32
    } else {
        unsigned as i32
    }
}

fn frame_info(obj: &InMemDicomObject, frame: usize) -> FrameInfo {
    let fg = FunctionalGroups::of(obj, frame);
    let from_fg = |seq, tag| fg.find(seq, tag);

    let position = from_fg(tags::PLANE_POSITION_SEQUENCE, tags::IMAGE_POSITION_PATIENT)
        .and_then(|m| attrs::floats_n::<3>(m, tags::IMAGE_POSITION_PATIENT))
        .or_else(|| {
            // A top-level position describes only the first frame of a legacy multi-frame.
            if frame != 0 {
                return None;
            }
            attrs::floats_n::<3>(obj, tags::IMAGE_POSITION_PATIENT)
                .or_else(|| attrs::floats_n::<3>(obj, attrs::RETIRED_IMAGE_POSITION))
        });
    let orientation = from_fg(
        tags::PLANE_ORIENTATION_SEQUENCE,
        tags::IMAGE_ORIENTATION_PATIENT,
    )
    .and_then(|m| attrs::floats_n::<6>(m, tags::IMAGE_ORIENTATION_PATIENT))
    .or_else(|| attrs::floats_n::<6>(obj, tags::IMAGE_ORIENTATION_PATIENT))
    .or_else(|| attrs::floats_n::<6>(obj, attrs::RETIRED_IMAGE_ORIENTATION));
    let pixel_spacing = from_fg(tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING)
        .and_then(|m| attrs::floats_n::<2>(m, tags::PIXEL_SPACING))
        .or_else(|| attrs::floats_n::<2>(obj, tags::PIXEL_SPACING));
    let rescale_item = from_fg(
        tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
        tags::RESCALE_INTERCEPT,
    )
    .unwrap_or(obj);
    let rescale = Rescale {
        slope: attrs::float(rescale_item, tags::RESCALE_SLOPE).unwrap_or(1.0),
        intercept: attrs::float(rescale_item, tags::RESCALE_INTERCEPT).unwrap_or(0.0),
    };
    let voi_item = from_fg(tags::FRAME_VOILUT_SEQUENCE, tags::WINDOW_CENTER).unwrap_or(obj);
    FrameInfo {
        index: frame as u32,
        position,
        orientation,
        pixel_spacing,
        rescale,
        window_presets: window_presets(voi_item),
    }
}

fn window_presets(obj: &InMemDicomObject) -> Vec<WindowPreset> {
    let (Some(centers), Some(widths)) = (
        attrs::floats(obj, tags::WINDOW_CENTER),
        attrs::floats(obj, tags::WINDOW_WIDTH),
    ) else {
        return Vec::new();
    };
    let explanations = attrs::strings(obj, tags::WINDOW_CENTER_WIDTH_EXPLANATION);
    centers
        .iter()
        .zip(&widths)
        .enumerate()
        .filter(|(_, (_, w))| **w > 0.0)
        .map(|(i, (&center, &width))| WindowPreset {
            center,
            width,
            explanation: explanations.get(i).filter(|s| !s.is_empty()).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_takes_the_pixel_signedness() {
        // LIDC-IDRI-0001: US 63536 with PixelRepresentation 1 means -2000.
        assert_eq!(reinterpret_padding(63536, 16, true), -2000);
        assert_eq!(reinterpret_padding(-2000, 16, true), -2000);
        assert_eq!(reinterpret_padding(63536, 16, false), 63536);
        assert_eq!(reinterpret_padding(-2000, 16, false), 63536);
        assert_eq!(reinterpret_padding(255, 8, true), -1);
    }
}
