//! Writing a phantom as a DICOM CT Image Storage series (one file per slice).
//!
//! Deterministic: UIDs are `2.25.<128-bit hash of (seed, config, purpose)>`, dates are fixed, so
//! the same phantom gives byte-identical files. Pixels are stored unsigned, 12 bits, with rescale
//! intercept -1024 (the common CT layout, and one JPEG-LS compresses well); a phantom with
//! values below -1024 HU falls back to signed 16-bit, intercept 0. Each file is written to a
//! temporary name in the output folder and renamed into place.

use std::path::{Path, PathBuf};

use dicom_core::value::{PixelFragmentSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use margo_volume::nalgebra::Point3;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::Phantom;

/// CT Image Storage.
pub const CT_IMAGE_STORAGE: &str = uids::CT_IMAGE_STORAGE;
/// Root of the implementation class UID (a UUID-derived OID).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.302140176548402349018436711820196427617";

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DicomWriteError {
    #[error("creating output folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("building the file meta group for {path}: {message}")]
    BuildMeta { path: PathBuf, message: String },
    #[error("JPEG-LS encoding of slice {slice} for {path}: {message}")]
    EncodeJpegLs {
        path: PathBuf,
        slice: usize,
        message: String,
    },
    #[error("transfer syntax {0:?} is not available in this build (enable the `jpeg-ls` feature)")]
    UnsupportedTransferSyntax(TransferSyntax),
    #[error("writing {path}: {message}")]
    WriteFile { path: PathBuf, message: String },
    #[error(
        "{dir} already holds {stale} from an earlier, longer series; writing here would mix two \
         series (remove them or choose an empty folder)"
    )]
    StaleSlices { dir: PathBuf, stale: String },
    #[error(
        "the volume's direction is not axial (identity); the phantom writer only writes axial series"
    )]
    NotAxial,
}

/// Output transfer syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferSyntax {
    /// Explicit VR Little Endian (1.2.840.10008.1.2.1), uncompressed.
    #[default]
    ExplicitVrLittleEndian,
    /// JPEG-LS Lossless (1.2.840.10008.1.2.4.80), through CharLS.
    JpegLsLossless,
}

impl TransferSyntax {
    pub fn uid(self) -> &'static str {
        match self {
            TransferSyntax::ExplicitVrLittleEndian => uids::EXPLICIT_VR_LITTLE_ENDIAN,
            TransferSyntax::JpegLsLossless => uids::JPEGLS_LOSSLESS,
        }
    }

    /// Whether this build can write it.
    pub fn available(self) -> bool {
        match self {
            TransferSyntax::ExplicitVrLittleEndian => true,
            TransferSyntax::JpegLsLossless => cfg!(feature = "jpeg-ls"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesOptions {
    pub transfer_syntax: TransferSyntax,
    pub series_description: String,
    /// File names are `<prefix><instance number, 4 digits>.dcm`.
    pub file_prefix: String,
}

impl Default for SeriesOptions {
    fn default() -> Self {
        Self {
            transfer_syntax: TransferSyntax::default(),
            series_description: "Synthetic chest CT phantom (margo-phantom)".into(),
            file_prefix: "CT".into(),
        }
    }
}

/// Deterministic UID `2.25.<decimal 128-bit>` from a hash of the phantom and a purpose.
pub fn uid_for(phantom: &Phantom, purpose: &str) -> String {
    let mut h = Sha256::new();
    h.update(phantom.truth.config.seed.to_le_bytes());
    h.update(phantom.truth.voxel_sha256.as_bytes());
    h.update(purpose.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Keep it below 2^127 and non-zero, like a UUID-derived UID.
    let value = (u128::from_be_bytes(bytes) >> 1).max(1);
    format!("2.25.{value}")
}

/// A decimal string (VR DS) of at most 16 characters.
fn ds(x: f64) -> String {
    for decimals in (0..=6).rev() {
        let mut s = format!("{x:.decimals$}");
        if s.contains('.') {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        if s == "-0" {
            s = "0".into();
        }
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{x:.0}")
}

fn ds_multi(values: &[f64]) -> String {
    values.iter().map(|v| ds(*v)).collect::<Vec<_>>().join("\\")
}

/// How stored values map to HU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLayout {
    pub bits_stored: u16,
    pub signed: bool,
    pub intercept_hu: i32,
}

impl PixelLayout {
    pub fn for_volume(min_hu: i16, max_hu: i16) -> Self {
        if min_hu >= -1024 && max_hu <= 3071 {
            Self {
                bits_stored: 12,
                signed: false,
                intercept_hu: -1024,
            }
        } else {
            Self {
                bits_stored: 16,
                signed: true,
                intercept_hu: 0,
            }
        }
    }

    fn stored_le_bytes(&self, hu: &[i16]) -> Vec<u8> {
        let mut out = Vec::with_capacity(hu.len() * 2);
        for &v in hu {
            let stored = (v as i32 - self.intercept_hu) as u16;
            out.extend_from_slice(&stored.to_le_bytes());
        }
        out
    }
}

#[cfg(feature = "jpeg-ls")]
fn encode_jpeg_ls(
    bytes: &[u8],
    columns: usize,
    rows: usize,
    layout: PixelLayout,
) -> Result<Vec<u8>, String> {
    let mut codec = charls::CharLS::default();
    let info = charls::FrameInfo {
        width: columns as u32,
        height: rows as u32,
        bits_per_sample: layout.bits_stored as i32,
        component_count: 1,
    };
    let mut out = codec.encode(info, 0, bytes).map_err(|e| e.to_string())?;
    // Fragments have even length; a trailing zero after EOI is the usual padding.
    if out.len() % 2 == 1 {
        out.push(0);
    }
    Ok(out)
}

#[cfg(not(feature = "jpeg-ls"))]
fn encode_jpeg_ls(_: &[u8], _: usize, _: usize, _: PixelLayout) -> Result<Vec<u8>, String> {
    Err("built without the jpeg-ls feature".into())
}

/// Files `<prefix>NNNN.dcm` with NNNN > `slices` would survive a rewrite and mix two series.
fn check_no_stale_slices(dir: &Path, prefix: &str, slices: usize) -> Result<(), DicomWriteError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut stale: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| {
            name.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".dcm"))
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n > slices)
        })
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    stale.sort();
    let shown = if stale.len() > 3 {
        format!(
            "{} ... {} ({} files)",
            stale[0],
            stale[stale.len() - 1],
            stale.len()
        )
    } else {
        stale.join(", ")
    };
    Err(DicomWriteError::StaleSlices {
        dir: dir.to_path_buf(),
        stale: shown,
    })
}

/// Writes one file per axial slice into `dir` (created if needed) and returns their paths,
/// ordered by slice index k (inferior to superior).
pub fn write_series(
    phantom: &Phantom,
    dir: &Path,
    options: &SeriesOptions,
) -> Result<Vec<PathBuf>, DicomWriteError> {
    if !options.transfer_syntax.available() {
        return Err(DicomWriteError::UnsupportedTransferSyntax(
            options.transfer_syntax,
        ));
    }
    let geometry = phantom.volume.geometry();
    if (geometry.direction() - margo_volume::nalgebra::Matrix3::identity()).norm() > 1e-9 {
        return Err(DicomWriteError::NotAxial);
    }
    std::fs::create_dir_all(dir).map_err(|source| DicomWriteError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let [nx, ny, nz] = geometry.dims();
    check_no_stale_slices(dir, &options.file_prefix, nz)?;
    let sp = geometry.spacing_mm();
    let (min, max) = phantom.volume.min_max().unwrap_or((0.0, 0.0));
    let layout = PixelLayout::for_volume(min as i16, max as i16);
    let study_uid = uid_for(phantom, "study");
    let series_uid = uid_for(phantom, "series");
    let frame_uid = uid_for(phantom, "frame-of-reference");
    let seed = phantom.truth.config.seed;
    (0..nz)
        .into_par_iter()
        .map(|k| {
            let path = dir.join(format!("{}{:04}.dcm", options.file_prefix, k + 1));
            let ipp = geometry.world_from_index(&Point3::new(0.0, 0.0, k as f64));
            let sop_uid = uid_for(phantom, &format!("instance-{k}"));
            let slice = phantom.volume.slice(k).expect("k < nz");
            let bytes = layout.stored_le_bytes(slice);
            let pixel_element = match options.transfer_syntax {
                TransferSyntax::ExplicitVrLittleEndian => {
                    DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(bytes))
                }
                TransferSyntax::JpegLsLossless => {
                    let frame = encode_jpeg_ls(&bytes, nx, ny, layout).map_err(|message| {
                        DicomWriteError::EncodeJpegLs {
                            path: path.clone(),
                            slice: k,
                            message,
                        }
                    })?;
                    DataElement::new_with_len(
                        tags::PIXEL_DATA,
                        VR::OB,
                        Length::UNDEFINED,
                        PixelFragmentSequence::new(vec![0u32], vec![frame]),
                    )
                }
            };
            let str_el = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
            let u16_el = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
            let obj = InMemDicomObject::from_element_iter([
                str_el(tags::IMAGE_TYPE, VR::CS, "DERIVED\\SECONDARY\\AXIAL"),
                str_el(tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE),
                str_el(tags::SOP_INSTANCE_UID, VR::UI, &sop_uid),
                str_el(tags::STUDY_DATE, VR::DA, "20000101"),
                str_el(tags::SERIES_DATE, VR::DA, "20000101"),
                str_el(tags::CONTENT_DATE, VR::DA, "20000101"),
                str_el(tags::STUDY_TIME, VR::TM, "120000"),
                str_el(tags::SERIES_TIME, VR::TM, "120000"),
                str_el(tags::CONTENT_TIME, VR::TM, "120000"),
                str_el(tags::ACCESSION_NUMBER, VR::SH, ""),
                str_el(tags::MODALITY, VR::CS, "CT"),
                str_el(tags::MANUFACTURER, VR::LO, "Margo"),
                str_el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
                str_el(
                    tags::STUDY_DESCRIPTION,
                    VR::LO,
                    "Synthetic chest CT (not a patient)",
                ),
                str_el(
                    tags::SERIES_DESCRIPTION,
                    VR::LO,
                    &options.series_description,
                ),
                str_el(tags::MANUFACTURER_MODEL_NAME, VR::LO, "margo-phantom"),
                str_el(tags::PATIENT_NAME, VR::PN, "ANON^PHANTOM"),
                str_el(tags::PATIENT_ID, VR::LO, &format!("PHANTOM-{seed}")),
                str_el(tags::PATIENT_BIRTH_DATE, VR::DA, ""),
                str_el(tags::PATIENT_SEX, VR::CS, "O"),
                str_el(tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES"),
                str_el(
                    tags::DEIDENTIFICATION_METHOD,
                    VR::LO,
                    "Synthetic phantom; contains no patient data",
                ),
                str_el(tags::BODY_PART_EXAMINED, VR::CS, "CHEST"),
                str_el(tags::SLICE_THICKNESS, VR::DS, &ds(sp[2])),
                str_el(tags::KVP, VR::DS, "120"),
                str_el(
                    tags::SOFTWARE_VERSIONS,
                    VR::LO,
                    concat!("margo-phantom ", env!("CARGO_PKG_VERSION")),
                ),
                str_el(tags::PATIENT_POSITION, VR::CS, "HFS"),
                str_el(tags::STUDY_INSTANCE_UID, VR::UI, &study_uid),
                str_el(tags::SERIES_INSTANCE_UID, VR::UI, &series_uid),
                str_el(tags::STUDY_ID, VR::SH, "1"),
                str_el(tags::SERIES_NUMBER, VR::IS, "1"),
                str_el(tags::ACQUISITION_NUMBER, VR::IS, "1"),
                str_el(tags::INSTANCE_NUMBER, VR::IS, &(k + 1).to_string()),
                str_el(
                    tags::IMAGE_POSITION_PATIENT,
                    VR::DS,
                    &ds_multi(&[ipp.x, ipp.y, ipp.z]),
                ),
                str_el(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, "1\\0\\0\\0\\1\\0"),
                str_el(tags::FRAME_OF_REFERENCE_UID, VR::UI, &frame_uid),
                str_el(tags::POSITION_REFERENCE_INDICATOR, VR::LO, ""),
                str_el(tags::SLICE_LOCATION, VR::DS, &ds(ipp.z)),
                u16_el(tags::SAMPLES_PER_PIXEL, 1),
                str_el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
                u16_el(tags::ROWS, ny as u16),
                u16_el(tags::COLUMNS, nx as u16),
                // Row spacing (between rows, along j) first, then column spacing (along i).
                str_el(tags::PIXEL_SPACING, VR::DS, &ds_multi(&[sp[1], sp[0]])),
                u16_el(tags::BITS_ALLOCATED, 16),
                u16_el(tags::BITS_STORED, layout.bits_stored),
                u16_el(tags::HIGH_BIT, layout.bits_stored - 1),
                u16_el(tags::PIXEL_REPRESENTATION, u16::from(layout.signed)),
                str_el(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"),
                str_el(tags::WINDOW_CENTER, VR::DS, "-600\\40"),
                str_el(tags::WINDOW_WIDTH, VR::DS, "1500\\400"),
                str_el(
                    tags::WINDOW_CENTER_WIDTH_EXPLANATION,
                    VR::LO,
                    "LUNG\\MEDIASTINUM",
                ),
                str_el(
                    tags::RESCALE_INTERCEPT,
                    VR::DS,
                    &layout.intercept_hu.to_string(),
                ),
                str_el(tags::RESCALE_SLOPE, VR::DS, "1"),
                str_el(tags::RESCALE_TYPE, VR::LO, "HU"),
                str_el(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
                pixel_element,
            ]);
            let file = obj
                .with_meta(
                    FileMetaTableBuilder::new()
                        .transfer_syntax(options.transfer_syntax.uid())
                        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                        .implementation_version_name("MARGO_PHANTOM"),
                )
                .map_err(|e| DicomWriteError::BuildMeta {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            let mut buffer = Vec::with_capacity(nx * ny * 2 + 4096);
            file.write_all(&mut buffer)
                .map_err(|e| DicomWriteError::WriteFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            crate::write_atomic(&path, &buffer).map_err(|e| DicomWriteError::WriteFile {
                path: path.clone(),
                message: e.to_string(),
            })?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_ds() {
        assert_eq!(ds(0.7), "0.7");
        assert_eq!(ds(-179.65), "-179.65");
        assert_eq!(ds(2.0), "2");
        assert_eq!(ds(-0.0), "0");
        assert!(ds(-123456.123456789).len() <= 16);
        assert_eq!(ds_multi(&[1.0, 0.0, -0.5]), "1\\0\\-0.5");
    }

    #[test]
    fn layout_round_trips_hu() {
        let l = PixelLayout::for_volume(-1024, 3071);
        assert_eq!(
            l,
            PixelLayout {
                bits_stored: 12,
                signed: false,
                intercept_hu: -1024
            }
        );
        let b = l.stored_le_bytes(&[-1024, 0, 3071]);
        assert_eq!(b, vec![0, 0, 0, 4, 255, 15]);
        let s = PixelLayout::for_volume(-2000, 100);
        assert!(s.signed && s.intercept_hu == 0 && s.bits_stored == 16);
        let b = s.stored_le_bytes(&[-2000]);
        assert_eq!(i16::from_le_bytes([b[0], b[1]]), -2000);
    }
}
