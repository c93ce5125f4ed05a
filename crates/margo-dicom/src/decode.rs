//! Decoding the frames of one file into their slices of the volume.

use std::path::Path;

use dicom_core::value::{DicomValueType, PrimitiveValue, Value};
use dicom_pixeldata::PixelDecoder;
use rayon::prelude::*;

use crate::attrs::tags;
use crate::error::DicomError;
use crate::header::{ImageHeader, PixelFormat, Rescale};
use crate::pixels::{ConvertStats, Samples, rescale_into};
use crate::read::{Dataset, ParsedFile, error_chain, panic_message};
use crate::ts::{self, PixelEncoding};

/// One frame of the file and the volume slice it goes to.
pub(crate) struct FrameTarget<'v> {
    pub frame: u32,
    pub rescale: Rescale,
    pub dst: &'v mut [i16],
}

/// Decodes the requested frames of `file` into their destinations.
pub(crate) fn decode_frames(
    header: &ImageHeader,
    file: &ParsedFile,
    targets: Vec<FrameTarget<'_>>,
) -> Result<ConvertStats, DicomError> {
    let path = header.path.as_path();
    match ts::pixel_encoding(&file.ts_uid) {
        PixelEncoding::Unsupported => Err(unsupported(
            path,
            &file.ts_uid,
            "no decoder for this transfer syntax (retired or unknown)".to_string(),
        )),
        PixelEncoding::Native => decode_native(header, file, targets),
        PixelEncoding::Encapsulated => {
            let Dataset::Part10(obj) = &file.dataset else {
                return Err(unsupported(
                    path,
                    &file.ts_uid,
                    "encapsulated pixel data without file meta".to_string(),
                ));
            };
            check_jpeg_precision(path, &file.ts_uid, obj)?;
            decode_encapsulated(header, obj, targets)
        }
    }
}

fn unsupported(path: &Path, ts_uid: &str, reason: String) -> DicomError {
    DicomError::UnsupportedTransferSyntax {
        path: path.to_path_buf(),
        ts_uid: ts_uid.to_string(),
        ts_name: ts::transfer_syntax_name(ts_uid).to_string(),
        reason,
    }
}

fn pixel_data_length(path: &Path, format: &PixelFormat, frame: u32, found: usize) -> DicomError {
    DicomError::PixelDataLength {
        path: path.to_path_buf(),
        frame,
        expected_bytes: format.frame_bytes(),
        found_bytes: found,
        rows: format.rows,
        cols: format.cols,
        bytes_per_sample: format.bytes_per_sample(),
    }
}

fn decode_native(
    header: &ImageHeader,
    file: &ParsedFile,
    targets: Vec<FrameTarget<'_>>,
) -> Result<ConvertStats, DicomError> {
    let path = header.path.as_path();
    let format = header.format;
    let element = file
        .obj()
        .get(tags::PIXEL_DATA)
        .ok_or_else(|| DicomError::MissingAttribute {
            path: path.to_path_buf(),
            attribute: "PixelData (7FE0,0010)",
        })?;
    let big_endian = ts::lookup(&file.ts_uid)
        .is_some_and(|t| t.endianness() == dicom_encoding::transfer_syntax::Endianness::Big);
    let frame_samples = format.rows * format.cols;
    let bps = format.bytes_per_sample();

    // The whole pixel data as samples; frames are cut from it below.
    let all: Samples<'_> = match element.value() {
        Value::Primitive(PrimitiveValue::U8(bytes)) => match bps {
            1 => Samples::U8(bytes),
            2 => Samples::Bytes16 { bytes, big_endian },
            _ => Samples::Bytes32 { bytes, big_endian },
        },
        Value::Primitive(PrimitiveValue::U16(words)) if bps == 2 => Samples::Words(words),
        Value::Primitive(PrimitiveValue::Empty) => Samples::U8(&[]),
        Value::Primitive(other) => {
            return Err(DicomError::UnsupportedPixelFormat {
                path: path.to_path_buf(),
                detail: format!(
                    "native pixel data held as {:?} values with BitsAllocated {}",
                    other.value_type(),
                    format.bits_allocated
                ),
            });
        }
        _ => {
            return Err(DicomError::DecodePixelData {
                path: path.to_path_buf(),
                frame: 0,
                message: "encapsulated pixel data in a native transfer syntax".to_string(),
            });
        }
    };

    let cut = |frame: u32| -> Result<Samples<'_>, DicomError> {
        let start = frame as usize * frame_samples;
        let end = start + frame_samples;
        let short =
            |len: usize| pixel_data_length(path, &format, frame, len.saturating_sub(start) * bps);
        Ok(match all {
            Samples::U8(b) => Samples::U8(b.get(start..end).ok_or_else(|| short(b.len()))?),
            Samples::Words(w) => Samples::Words(w.get(start..end).ok_or_else(|| short(w.len()))?),
            Samples::Bytes16 { bytes, big_endian } => Samples::Bytes16 {
                bytes: bytes
                    .get(start * 2..end * 2)
                    .ok_or_else(|| short(bytes.len() / 2))?,
                big_endian,
            },
            Samples::Bytes32 { bytes, big_endian } => Samples::Bytes32 {
                bytes: bytes
                    .get(start * 4..end * 4)
                    .ok_or_else(|| short(bytes.len() / 4))?,
                big_endian,
            },
        })
    };
    // Validate every frame's length before writing anything.
    let jobs: Vec<(Samples<'_>, FrameTarget<'_>)> = targets
        .into_iter()
        .map(|t| cut(t.frame).map(|s| (s, t)))
        .collect::<Result<_, _>>()?;
    let convert = |(samples, t): (Samples<'_>, FrameTarget<'_>)| {
        rescale_into(samples, format.bits_stored, format.signed, t.rescale, t.dst)
    };
    Ok(if jobs.len() > 1 {
        jobs.into_par_iter()
            .map(convert)
            .reduce(ConvertStats::default, ConvertStats::merge)
    } else {
        jobs.into_iter()
            .map(convert)
            .fold(ConvertStats::default(), ConvertStats::merge)
    })
}

/// jpeg-decoder implements DCT JPEG at 8 bits only: refuse 12-bit (process 4) by name.
fn check_jpeg_precision(
    path: &Path,
    ts_uid: &str,
    obj: &dicom_object::DefaultDicomObject,
) -> Result<(), DicomError> {
    if !ts::is_jpeg_dct(ts_uid) {
        return Ok(());
    }
    let first_fragment = obj
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.fragments())
        .and_then(|f| f.first());
    if let Some((marker, precision)) = first_fragment.and_then(|f| ts::jpeg_sof(f))
        && precision > 8
        && marker != 0xC3
    {
        return Err(unsupported(
            path,
            ts_uid,
            format!(
                "{precision}-bit lossy JPEG (SOF{}) is not supported by the JPEG decoder \
                 (8-bit DCT and lossless JPEG are)",
                marker - 0xC0
            ),
        ));
    }
    Ok(())
}

fn decode_encapsulated(
    header: &ImageHeader,
    obj: &dicom_object::DefaultDicomObject,
    targets: Vec<FrameTarget<'_>>,
) -> Result<ConvertStats, DicomError> {
    let path = header.path.as_path();
    let n_frames = header.frames.len();
    let (fragments, offsets) = obj
        .get(tags::PIXEL_DATA)
        .map(|e| {
            (
                e.fragments().map_or(0, |f| f.len()),
                e.value().offset_table().map_or(0, |o| o.len()),
            )
        })
        .unwrap_or((0, 0));
    // dicom-rs finds frame f through a 1:1 fragment mapping or the Basic Offset Table. With
    // neither (several fragments per frame, empty table), decode the whole pixel data once:
    // its JPEG reader walks the SOI markers.
    let whole = n_frames > 1 && fragments != n_frames && offsets < n_frames;
    if whole {
        let decoded = guarded_decode(path, 0, || obj.decode_pixel_data())?;
        let frame_bytes = header.format.rows * header.format.cols * bytes_of(&decoded);
        return targets
            .into_iter()
            .map(|t| {
                let start = t.frame as usize * frame_bytes;
                let bytes = decoded
                    .data()
                    .get(start..start + frame_bytes)
                    .ok_or_else(|| {
                        pixel_data_length(
                            path,
                            &header.format,
                            t.frame,
                            decoded.data().len().saturating_sub(start),
                        )
                    })?;
                convert_decoded(header, &decoded, bytes, t)
            })
            .try_fold(ConvertStats::default(), |acc, s| s.map(|s| acc.merge(s)));
    }
    let lossless = ts::is_jpeg_lossless(obj.meta().transfer_syntax());
    let jpeg2000 = ts::is_jpeg2000(obj.meta().transfer_syntax()) && own_j2k_decoder();
    let one = |t: FrameTarget<'_>| -> Result<ConvertStats, DicomError> {
        let mut t = t;
        if lossless && let Some(stats) = lossless_frame(header, obj, n_frames, &mut t) {
            return Ok(stats);
        }
        if jpeg2000 && let Some(stats) = j2k_frame(header, obj, n_frames, &mut t) {
            return Ok(stats);
        }
        let decoded = guarded_decode(path, t.frame, || obj.decode_pixel_data_frame(t.frame))?;
        let frame_bytes = header.format.rows * header.format.cols * bytes_of(&decoded);
        let bytes = decoded.data().get(..frame_bytes).ok_or_else(|| {
            pixel_data_length(path, &header.format, t.frame, decoded.data().len())
        })?;
        convert_decoded(header, &decoded, bytes, t)
    };
    if targets.len() > 1 {
        targets
            .into_par_iter()
            .map(one)
            .try_reduce(ConvertStats::default, |a, b| Ok(a.merge(b)))
    } else {
        targets
            .into_iter()
            .map(one)
            .try_fold(ConvertStats::default(), |acc, s| s.map(|s| acc.merge(s)))
    }
}

thread_local! {
    static LOSSLESS_BUFFER: std::cell::RefCell<Vec<u16>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The encapsulated bytes of frame `frame`: its own fragment when there is one per frame, all
/// fragments joined for a single-frame image; `None` for other layouts (the generic path).
fn frame_bytes<'a>(
    obj: &'a dicom_object::DefaultDicomObject,
    n_frames: usize,
    frame: usize,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    let fragments = obj.get(tags::PIXEL_DATA)?.fragments()?;
    if fragments.len() == n_frames {
        Some(std::borrow::Cow::Borrowed(&fragments.get(frame)?[..]))
    } else if n_frames == 1 {
        Some(std::borrow::Cow::Owned(
            fragments.iter().flatten().copied().collect(),
        ))
    } else {
        None
    }
}

/// Our JPEG lossless decoder (much faster than the general one) for a frame stored in its own
/// fragment(s). `None` when it does not apply or fails: the caller then uses dicom-pixeldata.
fn lossless_frame(
    header: &ImageHeader,
    obj: &dicom_object::DefaultDicomObject,
    n_frames: usize,
    t: &mut FrameTarget<'_>,
) -> Option<ConvertStats> {
    let bytes = frame_bytes(obj, n_frames, t.frame as usize)?;
    let format = header.format;
    LOSSLESS_BUFFER.with_borrow_mut(|buf| {
        let frame = crate::jpeg_lossless::decode(&bytes, buf).ok()?;
        let fits = frame.rows == format.rows
            && frame.cols == format.cols
            && format.bits_allocated == 16
            && buf.len() == t.dst.len();
        fits.then(|| {
            rescale_into(
                Samples::Words(buf),
                format.bits_stored,
                format.signed,
                t.rescale,
                t.dst,
            )
        })
    })
}

/// Whether our JPEG 2000 decoder is tried before OpenJPEG. `MARGO_J2K_DECODER=openjpeg` turns
/// it off: for same-run comparisons (bench/load.sh) and as an escape hatch.
fn own_j2k_decoder() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MARGO_J2K_DECODER").as_deref() != Ok("openjpeg"))
}

thread_local! {
    static J2K_SCRATCH: std::cell::RefCell<(crate::j2k::Scratch, Vec<u16>)> =
        std::cell::RefCell::new(Default::default());
}

/// Our JPEG 2000 lossless decoder (faster than OpenJPEG on CT, same output) for a frame in its
/// own fragment(s). `None` when the stream is outside its scope, corrupt or truncated: the
/// caller then uses OpenJPEG through dicom-pixeldata, which also names any error.
fn j2k_frame(
    header: &ImageHeader,
    obj: &dicom_object::DefaultDicomObject,
    n_frames: usize,
    t: &mut FrameTarget<'_>,
) -> Option<ConvertStats> {
    let format = header.format;
    if format.bits_allocated != 16 || format.rows * format.cols != t.dst.len() {
        return None;
    }
    let bytes = frame_bytes(obj, n_frames, t.frame as usize)?;
    J2K_SCRATCH.with_borrow_mut(|(scratch, buf)| {
        buf.resize(t.dst.len(), 0);
        // The decoder has no panicking path by design; a bug must still not take the load down.
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::j2k::decode_into(&bytes, format.rows, format.cols, buf, scratch)
        }));
        match decoded {
            Ok(Ok(())) => Some(rescale_into(
                Samples::Words(buf),
                format.bits_stored.min(16),
                format.signed,
                t.rescale,
                t.dst,
            )),
            Ok(Err(_)) => None,
            Err(_) => {
                // Buffers may be half-written: start the next frame with fresh ones.
                *scratch = Default::default();
                None
            }
        }
    })
}

fn bytes_of(decoded: &dicom_pixeldata::DecodedPixelData<'_>) -> usize {
    usize::from(decoded.bits_allocated()).div_ceil(8)
}

/// Runs a dicom-pixeldata decode, turning its errors (and any panic in a codec) into ours.
fn guarded_decode<'a>(
    path: &Path,
    frame: u32,
    f: impl FnOnce() -> dicom_pixeldata::Result<dicom_pixeldata::DecodedPixelData<'a>>,
) -> Result<dicom_pixeldata::DecodedPixelData<'a>, DicomError> {
    let err = |message| DicomError::DecodePixelData {
        path: path.to_path_buf(),
        frame,
        message,
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(err(error_chain(&e))),
        Err(p) => Err(err(format!("the decoder panicked: {}", panic_message(&p)))),
    }
}

fn convert_decoded(
    header: &ImageHeader,
    decoded: &dicom_pixeldata::DecodedPixelData<'_>,
    bytes: &[u8],
    t: FrameTarget<'_>,
) -> Result<ConvertStats, DicomError> {
    // Codecs hand back samples in native byte order.
    let big_endian = cfg!(target_endian = "big");
    let samples = match bytes_of(decoded) {
        1 => Samples::U8(bytes),
        2 => Samples::Bytes16 { bytes, big_endian },
        4 => Samples::Bytes32 { bytes, big_endian },
        n => {
            return Err(DicomError::UnsupportedPixelFormat {
                path: header.path.clone(),
                detail: format!("decoder returned {n}-byte samples"),
            });
        }
    };
    // The codec may report the precision it found in the stream; the header's BitsStored and
    // PixelRepresentation still define the values.
    Ok(rescale_into(
        samples,
        header.format.bits_stored.min(decoded.bits_allocated()),
        header.format.signed,
        t.rescale,
        t.dst,
    ))
}
