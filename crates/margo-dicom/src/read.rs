//! Opening one file: Part 10 (with or without preamble), or a bare data set (ACR-NEMA, or a
//! file whose first bytes are junk). Non-DICOM files are recognised and reported as such.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::{
    DefaultDicomObject, FileMetaTableBuilder, InMemDicomObject, OpenFileOptions,
    StandardDataDictionary, file::ReadPreamble,
};
use dicom_transfer_syntax_registry::entries::{
    EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
};

use crate::error::DicomError;
use crate::lengths;
use crate::ts::{MargoTsIndex, trim_uid};

/// How far into a file we look for the first element of a bare data set (stray leading bytes).
const MAX_LEADING_JUNK: usize = 8;

/// A parsed file: either Part 10 (meta + data set) or a bare data set.
pub(crate) enum Dataset {
    Part10(Box<DefaultDicomObject>),
    Bare(Box<InMemDicomObject>),
}

pub(crate) struct ParsedFile {
    pub dataset: Dataset,
    pub ts_uid: String,
    /// Notes about how the file was read (e.g. stray bytes skipped).
    pub notes: Vec<String>,
}

impl ParsedFile {
    pub fn obj(&self) -> &InMemDicomObject {
        match &self.dataset {
            Dataset::Part10(o) => o,
            Dataset::Bare(o) => o,
        }
    }
}

/// What stopping point to use when reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadExtent {
    /// Stop before Pixel Data (scanning).
    Header,
    /// Read everything.
    All,
}

/// Reads `path`. `Ok(None)` means the file is not DICOM at all (ignored, not an error).
pub(crate) fn read_file(path: &Path, extent: ReadExtent) -> Result<Option<ParsedFile>, DicomError> {
    // dicom-rs is not expected to panic, but a loader must never take the app down because of
    // one odd file: turn a panic into a per-file error.
    match catch_unwind(AssertUnwindSafe(|| read_file_inner(path, extent))) {
        Ok(r) => r,
        Err(panic) => Err(DicomError::ParseFile {
            path: path.to_path_buf(),
            message: format!("the DICOM parser panicked: {}", panic_message(&panic)),
        }),
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn read_file_inner(path: &Path, extent: ReadExtent) -> Result<Option<ParsedFile>, DicomError> {
    let open_err = |source| DicomError::OpenFile {
        path: path.to_path_buf(),
        error: source,
    };
    let file = File::open(path).map_err(open_err)?;
    let file_len = file.metadata().map_err(open_err)?.len();
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut head = Vec::with_capacity(132);
    (&mut reader)
        .take(132)
        .read_to_end(&mut head)
        .map_err(open_err)?;

    let preamble = if head.len() >= 132 && &head[128..132] == b"DICM" {
        Some(ReadPreamble::Always)
    } else if head.len() >= 4 && &head[0..4] == b"DICM" {
        Some(ReadPreamble::Never)
    } else {
        None
    };

    let overrun = |o: lengths::LengthOverrun| DicomError::ParseFile {
        path: path.to_path_buf(),
        message: o.to_string(),
    };
    if let Some(preamble) = preamble {
        let meta_start = if preamble == ReadPreamble::Always {
            132
        } else {
            4
        };
        if let Some(encoding) = dataset_encoding(&mut reader, meta_start) {
            let stop = extent == ReadExtent::Header;
            lengths::check_lengths(&mut reader, meta_start, file_len, encoding, stop)
                .map_err(overrun)?;
        }
        // Back to the start, keeping the buffer when the walk stayed inside it.
        let here = reader.stream_position().map_err(open_err)?;
        reader.seek_relative(-(here as i64)).map_err(open_err)?;
        let first_try = options(preamble, extent).from_reader(&mut reader);
        let (obj, notes) = match first_try {
            Ok(obj) => (obj, Vec::new()),
            Err(e) => {
                let message = error_chain(&e);
                // Some writers put out-of-spec values in the file meta (e.g. an 18-character
                // AE title). The meta only tells the transfer syntax: rebuild it in memory.
                match read_with_rebuilt_meta(&mut reader, meta_start, extent) {
                    Some(Ok(obj)) => (
                        obj,
                        vec![format!(
                            "{}: invalid file meta ({message}); rebuilt in memory from its \
                             transfer syntax (the file is not changed)",
                            path.display()
                        )],
                    ),
                    _ => {
                        return Err(DicomError::ParseFile {
                            path: path.to_path_buf(),
                            message,
                        });
                    }
                }
            }
        };
        let ts_uid = trim_uid(obj.meta().transfer_syntax()).to_string();
        return Ok(Some(ParsedFile {
            dataset: Dataset::Part10(Box::new(obj)),
            ts_uid,
            notes,
        }));
    }

    let Some((offset, explicit)) = (0..=MAX_LEADING_JUNK).find_map(|off| {
        head.get(off..)
            .and_then(bare_dataset_start)
            .map(|explicit| (off, explicit))
    }) else {
        return Ok(None);
    };

    // A bare data set has no "stop before pixel data" option in dicom-rs: read it whole.
    reader.seek(SeekFrom::Start(0)).map_err(open_err)?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(open_err)?;
    let encoding = lengths::Encoding {
        explicit_vr: explicit,
        big_endian: false,
    };
    let len = bytes.len() as u64;
    let mut in_memory = BufReader::new(Cursor::new(&bytes));
    lengths::check_lengths(&mut in_memory, offset as u64, len, encoding, false).map_err(overrun)?;
    let ts = if explicit {
        EXPLICIT_VR_LITTLE_ENDIAN.erased()
    } else {
        IMPLICIT_VR_LITTLE_ENDIAN.erased()
    };
    let obj = InMemDicomObject::read_dataset_with_ts(&bytes[offset..], &ts).map_err(|e| {
        DicomError::ParseFile {
            path: path.to_path_buf(),
            message: format!(
                "no DICOM file meta; tried a bare {} VR little endian data set at byte {offset}: {}",
                if explicit { "explicit" } else { "implicit" },
                error_chain(&e)
            ),
        }
    })?;
    let mut notes = vec![format!(
        "{}: no DICOM file meta (ACR-NEMA style); read as {} VR little endian",
        path.display(),
        if explicit { "explicit" } else { "implicit" }
    )];
    if offset > 0 {
        notes.push(format!(
            "{}: skipped {offset} stray byte(s) before the first data element",
            path.display()
        ));
    }
    Ok(Some(ParsedFile {
        dataset: Dataset::Bare(Box::new(obj)),
        ts_uid: ts.uid().to_string(),
        notes,
    }))
}

fn options(
    preamble: ReadPreamble,
    extent: ReadExtent,
) -> OpenFileOptions<StandardDataDictionary, MargoTsIndex> {
    let options = OpenFileOptions::new()
        .transfer_syntax_index(MargoTsIndex)
        .read_preamble(preamble);
    match extent {
        ReadExtent::Header => options.read_until(tags::PIXEL_DATA),
        ReadExtent::All => options,
    }
}

/// The file meta group values we need, read leniently (lengths trusted, values not checked).
#[derive(Debug, Default, PartialEq)]
struct RawMeta {
    transfer_syntax: Option<String>,
    sop_class_uid: Option<String>,
    sop_instance_uid: Option<String>,
    /// Bytes from the start of the group to the first data set element.
    length: usize,
}

/// Walks explicit VR little endian group 0002 elements at the start of `bytes`.
fn parse_raw_meta(bytes: &[u8]) -> Option<RawMeta> {
    let mut meta = RawMeta::default();
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let group = u16::from_le_bytes([bytes[pos], bytes[pos + 1]]);
        if group != 0x0002 {
            break;
        }
        let element = u16::from_le_bytes([bytes[pos + 2], bytes[pos + 3]]);
        let vr = &bytes[pos + 4..pos + 6];
        let (header, len) = if matches!(
            vr,
            b"OB" | b"OW" | b"OF" | b"SQ" | b"UT" | b"UN" | b"UC" | b"UR" | b"OD" | b"OL" | b"OV"
        ) {
            let l = bytes.get(pos + 8..pos + 12)?;
            (12, u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
        } else {
            (
                8,
                u16::from_le_bytes([bytes[pos + 6], bytes[pos + 7]]) as usize,
            )
        };
        let value = bytes.get(pos + header..pos + header + len)?;
        let text = || {
            Some(
                String::from_utf8_lossy(value)
                    .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                    .to_string(),
            )
        };
        match element {
            0x0002 => meta.sop_class_uid = text(),
            0x0003 => meta.sop_instance_uid = text(),
            0x0010 => meta.transfer_syntax = text(),
            _ => {}
        }
        pos += header + len;
    }
    meta.length = pos;
    meta.transfer_syntax.is_some().then_some(meta)
}

/// How the data set after the file meta at `meta_start` is encoded, read leniently from the
/// meta's transfer syntax; `None` when the meta cannot be read or the data set is deflated
/// (its lengths are inside the compressed stream).
fn dataset_encoding(reader: &mut BufReader<File>, meta_start: u64) -> Option<lengths::Encoding> {
    // Relative seeks and a read well inside the buffer: the walk that follows reuses it.
    let here = reader.stream_position().ok()?;
    reader.seek_relative(meta_start as i64 - here as i64).ok()?;
    let mut head = Vec::new();
    reader.by_ref().take(4096).read_to_end(&mut head).ok()?;
    let ts = parse_raw_meta(&head)?.transfer_syntax?;
    match trim_uid(&ts) {
        "1.2.840.10008.1.2" => Some(lengths::Encoding {
            explicit_vr: false,
            big_endian: false,
        }),
        "1.2.840.10008.1.2.2" => Some(lengths::Encoding {
            explicit_vr: true,
            big_endian: true,
        }),
        "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" => None,
        _ => Some(lengths::Encoding::EXPLICIT_LE),
    }
}

fn read_with_rebuilt_meta(
    reader: &mut BufReader<File>,
    meta_start: u64,
    extent: ReadExtent,
) -> Option<Result<DefaultDicomObject, dicom_object::ReadError>> {
    reader.seek(SeekFrom::Start(meta_start)).ok()?;
    let mut head = Vec::new();
    reader
        .by_ref()
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    let raw = parse_raw_meta(&head)?;
    let mut builder = FileMetaTableBuilder::new().transfer_syntax(raw.transfer_syntax?);
    if let Some(uid) = raw.sop_class_uid {
        builder = builder.media_storage_sop_class_uid(uid);
    }
    if let Some(uid) = raw.sop_instance_uid {
        builder = builder.media_storage_sop_instance_uid(uid);
    }
    let meta = builder.build().ok()?;
    let mut rebuilt = b"DICM".to_vec();
    meta.write(&mut rebuilt).ok()?;
    reader
        .seek(SeekFrom::Start(meta_start + raw.length as u64))
        .ok()?;
    Some(
        options(ReadPreamble::Never, extent)
            .from_reader(std::io::Cursor::new(rebuilt).chain(reader)),
    )
}

/// Does `bytes` start like a little-endian data set (first element in group 0008, or 0002)?
/// Returns whether the VR is explicit.
fn bare_dataset_start(bytes: &[u8]) -> Option<bool> {
    if bytes.len() < 8 {
        return None;
    }
    let group = u16::from_le_bytes([bytes[0], bytes[1]]);
    let element = u16::from_le_bytes([bytes[2], bytes[3]]);
    if !(group == 0x0008 || group == 0x0002) || element > 0x00FF {
        return None;
    }
    let vr = &bytes[4..6];
    if vr.iter().all(u8::is_ascii_uppercase) && KNOWN_VRS.contains(&vr) {
        return Some(true);
    }
    let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    (len <= 1024).then_some(false)
}

const KNOWN_VRS: [&[u8]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];

/// An error with its chain of sources, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_bare_starts() {
        // (0008,0005) CS explicit
        assert_eq!(
            bare_dataset_start(&[8, 0, 5, 0, b'C', b'S', 10, 0]),
            Some(true)
        );
        // (0008,0000) UL implicit, length 4
        assert_eq!(bare_dataset_start(&[8, 0, 0, 0, 4, 0, 0, 0]), Some(false));
        // text
        assert_eq!(bare_dataset_start(b"<?xml version"), None);
        assert_eq!(bare_dataset_start(&[8, 0]), None);
    }
}
