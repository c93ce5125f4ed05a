//! The common case, fast: an uncompressed little-endian single-frame file whose Pixel Data is
//! its last element. Its header was parsed at scan time, so loading is one read of the pixel
//! bytes from the end of the file (checked against the element header just before them) and
//! the rescale. Anything else falls back to the full parse.

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use crate::decode::FrameTarget;
use crate::error::DicomError;
use crate::header::ImageHeader;
use crate::pixels::{ConvertStats, Samples, rescale_into};

const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const PIXEL_DATA_TAG: [u8; 4] = [0xE0, 0x7F, 0x10, 0x00];

thread_local! {
    /// One pixel buffer per worker thread, reused across slices.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `Ok(None)` when the fast path does not apply (the caller then parses the whole file).
pub(crate) fn try_tail_read(
    header: &ImageHeader,
    targets: &mut [FrameTarget<'_>],
) -> Result<Option<ConvertStats>, DicomError> {
    let ts = header.ts_uid.as_str();
    if header.frames.len() != 1
        || targets.len() != 1
        || !(ts == EXPLICIT_VR_LE || ts == IMPLICIT_VR_LE)
        || !header.notes.is_empty()
    {
        return Ok(None);
    }
    let format = header.format;
    let n = format.frame_bytes();
    let open_err = |error| DicomError::OpenFile {
        path: header.path.clone(),
        error,
    };
    let mut file = File::open(&header.path).map_err(open_err)?;
    let len = file.metadata().map_err(open_err)?.len();
    let Some(start) = len.checked_sub(n as u64 + 12) else {
        return Ok(None);
    };
    file.seek(SeekFrom::Start(start)).map_err(open_err)?;
    let mut h = [0u8; 12];
    file.read_exact(&mut h).map_err(open_err)?;
    let length = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as u64;
    let explicit = h[0..4] == PIXEL_DATA_TAG && matches!(&h[4..8], b"OW\0\0" | b"OB\0\0");
    let implicit = h[4..8] == PIXEL_DATA_TAG;
    if length != n as u64 || !(explicit || implicit) {
        return Ok(None);
    }
    let target = &mut targets[0];
    BUFFER.with_borrow_mut(|buf| {
        buf.resize(n, 0);
        file.read_exact(buf).map_err(open_err)?;
        let samples = match format.bytes_per_sample() {
            1 => Samples::U8(buf),
            2 => Samples::Bytes16 {
                bytes: buf,
                big_endian: false,
            },
            _ => Samples::Bytes32 {
                bytes: buf,
                big_endian: false,
            },
        };
        Ok(Some(rescale_into(
            samples,
            format.bits_stored,
            format.signed,
            target.rescale,
            target.dst,
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_frames;
    use crate::header::image_header;
    use crate::read::{ReadExtent, read_file};

    /// The tail read and the full parse give the same voxels, and the tail read refuses a file
    /// whose pixel data is not the last element.
    #[test]
    fn tail_read_equals_full_parse() {
        let Some(dir) =
            margo_volume::testdata::shared_path("ct/lidc-idri-0001", "tail_read_equals_full_parse")
        else {
            return;
        };
        let path = dir.join("000041.dcm");
        let parsed = read_file(&path, ReadExtent::All).unwrap().unwrap();
        let header = image_header(&path, &parsed).unwrap();
        let rescale = header.frames[0].rescale;
        let mut fast = vec![0i16; 512 * 512];
        let mut full = vec![1i16; 512 * 512];
        let stats = try_tail_read(
            &header,
            &mut [FrameTarget {
                frame: 0,
                rescale,
                dst: &mut fast,
            }],
        )
        .unwrap();
        assert!(stats.is_some(), "the fast path applies to LIDC slices");
        decode_frames(
            &header,
            &parsed,
            vec![FrameTarget {
                frame: 0,
                rescale,
                dst: &mut full,
            }],
        )
        .unwrap();
        assert_eq!(fast, full);

        // Append a trailing element: the check before the pixel bytes no longer matches.
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join("trailing.dcm");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0, 2, 0, 0, 0, 0, 0]);
        std::fs::write(&copy, bytes).unwrap();
        let mut header = header;
        header.path = copy;
        let none = try_tail_read(
            &header,
            &mut [FrameTarget {
                frame: 0,
                rescale,
                dst: &mut fast,
            }],
        )
        .unwrap();
        assert!(none.is_none());
    }
}
