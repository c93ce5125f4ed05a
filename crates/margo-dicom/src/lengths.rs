//! Value lengths checked against the file before dicom-rs parses it. dicom-rs reserves and
//! zero-fills a value's declared length before reading it, so one flipped bit in a 32-bit length
//! field made it allocate up to 4 GiB per file (seconds of work, and several files decoded in
//! parallel can exhaust memory) only to fail with "failed to fill whole buffer". This walk reads
//! element headers only and refuses a length that runs past the end of the file or of its
//! enclosing sequence or item, naming the element and its offset.
//!
//! It judges lengths only: anything else it cannot follow (unknown structure, I/O errors) ends
//! the walk without an error, and dicom-rs decides as before.

use std::io::{BufReader, Read, Seek};

use dicom_core::dictionary::DataDictionary;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// How a data set is encoded (deflated data sets are not walked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoding {
    pub explicit_vr: bool,
    pub big_endian: bool,
}

impl Encoding {
    pub const EXPLICIT_LE: Encoding = Encoding {
        explicit_vr: true,
        big_endian: false,
    };
}

/// A declared length that the file cannot hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LengthOverrun {
    pub tag: (u16, u16),
    /// Offset of the element's header in the file.
    pub offset: u64,
    pub length: u64,
    /// Bytes left after the header, in the file or the enclosing item.
    pub available: u64,
}

impl std::fmt::Display for LengthOverrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "element ({:04X},{:04X}) at byte {} declares {} value bytes but only {} follow \
             (corrupted length)",
            self.tag.0, self.tag.1, self.offset, self.length, self.available
        )
    }
}

const UNDEFINED: u32 = u32::MAX;
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    /// A sequence's items follow.
    Sequence,
    /// An item's elements follow.
    Item,
    /// Encapsulated pixel data: items are raw fragments.
    Fragments,
}

/// Walks the elements from `start` to the end of the file (`file_len` bytes), the file meta
/// group (group 0002 at the top level) in explicit VR little endian and the rest in `encoding`.
/// With `stop_at_pixel_data` the walk ends at the top-level Pixel Data (scanning reads no
/// further). `Err` only for a declared length the file cannot hold.
///
/// Skips use `BufReader::seek_relative`, which keeps the buffer: an absolute seek would
/// discard it at every element (that made scanning LIDC-IDRI-0001 60% slower).
pub(crate) fn check_lengths<R: Read + Seek>(
    reader: &mut BufReader<R>,
    start: u64,
    file_len: u64,
    encoding: Encoding,
    stop_at_pixel_data: bool,
) -> Result<(), LengthOverrun> {
    let Ok(here) = reader.stream_position() else {
        return Ok(());
    };
    if reader.seek_relative(start as i64 - here as i64).is_err() {
        return Ok(());
    }
    let mut walk = Walk {
        reader,
        pos: start,
        file_len,
        stack: Vec::new(),
    };
    walk.run(encoding, stop_at_pixel_data)
}

struct Walk<'a, R> {
    reader: &'a mut BufReader<R>,
    pos: u64,
    file_len: u64,
    /// Open containers and where each ends (`None`: undefined length, ends at a delimiter).
    stack: Vec<(Container, Option<u64>)>,
}

impl<R: Read + Seek> Walk<'_, R> {
    fn run(&mut self, encoding: Encoding, stop_at_pixel_data: bool) -> Result<(), LengthOverrun> {
        loop {
            while let Some(&(_, Some(end))) = self.stack.last() {
                if self.pos < end {
                    break;
                }
                self.stack.pop();
            }
            if self.pos + 8 > self.file_len {
                return Ok(());
            }
            let top_level = self.stack.is_empty();
            let mut head = [0u8; 8];
            if self.reader.read_exact(&mut head).is_err() {
                return Ok(());
            }
            // The file meta group is explicit VR little endian whatever the data set uses.
            let meta = top_level && u16::from_le_bytes([head[0], head[1]]) == 0x0002;
            let enc = if meta {
                Encoding::EXPLICIT_LE
            } else {
                encoding
            };
            let u16_at = |b: &[u8]| {
                if enc.big_endian {
                    u16::from_be_bytes([b[0], b[1]])
                } else {
                    u16::from_le_bytes([b[0], b[1]])
                }
            };
            let u32_at = |b: &[u8]| {
                if enc.big_endian {
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
                } else {
                    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
                }
            };
            let tag = (u16_at(&head[0..2]), u16_at(&head[2..4]));
            let offset = self.pos;
            if tag.0 == 0xFFFE {
                // Items and delimiters: a 4-byte length, no VR, in every encoding.
                let length = u32_at(&head[4..8]);
                self.pos += 8;
                match tag.1 {
                    0xE000 if self.inside() == Some(Container::Fragments) => {
                        if length == UNDEFINED {
                            return Ok(());
                        }
                        self.check(tag, offset, 8, length)?;
                        self.skip(u64::from(length));
                    }
                    0xE000 => {
                        if length != UNDEFINED {
                            self.check(tag, offset, 8, length)?;
                        }
                        let end = (length != UNDEFINED).then(|| self.pos + u64::from(length));
                        self.stack.push((Container::Item, end));
                    }
                    0xE00D => {
                        if self.inside() == Some(Container::Item) {
                            self.stack.pop();
                        }
                    }
                    0xE0DD => {
                        if self.inside() == Some(Container::Item) {
                            self.stack.pop();
                        }
                        if matches!(
                            self.inside(),
                            Some(Container::Sequence | Container::Fragments)
                        ) {
                            self.stack.pop();
                        }
                    }
                    _ => return Ok(()),
                }
                continue;
            }
            if stop_at_pixel_data && top_level && tag == PIXEL_DATA {
                return Ok(());
            }
            let (vr, header_len, length) = if enc.explicit_vr {
                // dicom-rs reads an unknown VR as UN (reserved bytes, 4-byte length).
                let vr = Some(VR::from_binary([head[4], head[5]]).unwrap_or(VR::UN));
                match vr {
                    Some(
                        VR::OB
                        | VR::OD
                        | VR::OF
                        | VR::OL
                        | VR::OV
                        | VR::OW
                        | VR::SQ
                        | VR::SV
                        | VR::UC
                        | VR::UN
                        | VR::UR
                        | VR::UT
                        | VR::UV,
                    ) => {
                        let mut len = [0u8; 4];
                        if self.reader.read_exact(&mut len).is_err() {
                            return Ok(());
                        }
                        (vr, 12, u32_at(&len))
                    }
                    _ => (vr, 8, u32::from(u16_at(&head[6..8]))),
                }
            } else {
                let vr = StandardDataDictionary
                    .by_tag(Tag(tag.0, tag.1))
                    .map(|e| e.vr.relaxed());
                (vr, 8, u32_at(&head[4..8]))
            };
            self.pos = offset + header_len;
            if length == UNDEFINED {
                // Undefined length: a sequence, or encapsulated pixel data (dicom-rs reads an
                // undefined-length element of any other VR as a sequence too).
                let kind = if tag == PIXEL_DATA || matches!(vr, Some(VR::OB | VR::OW)) {
                    Container::Fragments
                } else {
                    Container::Sequence
                };
                self.stack.push((kind, None));
                continue;
            }
            self.check(tag, offset, header_len, length)?;
            if vr == Some(VR::SQ) {
                self.stack
                    .push((Container::Sequence, Some(self.pos + u64::from(length))));
            } else {
                self.skip(u64::from(length));
            }
        }
    }

    fn inside(&self) -> Option<Container> {
        self.stack.last().map(|(c, _)| *c)
    }

    /// Whether a value of `length` bytes after a header of `header_len` at `offset` fits in the
    /// file and in every enclosing container of defined length.
    fn check(
        &self,
        tag: (u16, u16),
        offset: u64,
        header_len: u64,
        length: u32,
    ) -> Result<(), LengthOverrun> {
        let value_start = offset + header_len;
        let limit = self
            .stack
            .iter()
            .filter_map(|(_, end)| *end)
            .fold(self.file_len, u64::min);
        let available = limit.saturating_sub(value_start);
        if u64::from(length) > available {
            return Err(LengthOverrun {
                tag,
                offset,
                length: u64::from(length),
                available,
            });
        }
        Ok(())
    }

    fn skip(&mut self, bytes: u64) {
        self.pos += bytes;
        // A failed seek ends the walk through the next read; the length was already checked.
        // (`bytes` fits in the file, so in i64.)
        let _ = self.reader.seek_relative(bytes as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Explicit VR little endian element bytes.
    fn el(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(group.to_le_bytes());
        b.extend(element.to_le_bytes());
        b.extend(vr);
        if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
            b.extend([0, 0]);
            b.extend((value.len() as u32).to_le_bytes());
        } else {
            b.extend((value.len() as u16).to_le_bytes());
        }
        b.extend(value);
        b
    }

    fn walk(bytes: &[u8], encoding: Encoding, stop: bool) -> Result<(), LengthOverrun> {
        let mut reader = BufReader::new(Cursor::new(bytes));
        check_lengths(&mut reader, 0, bytes.len() as u64, encoding, stop)
    }

    fn item(content: &[u8]) -> Vec<u8> {
        let mut b = vec![0xFE, 0xFF, 0x00, 0xE0];
        b.extend((content.len() as u32).to_le_bytes());
        b.extend(content);
        b
    }

    #[test]
    fn a_well_formed_data_set_passes_and_a_corrupted_length_is_named() {
        let mut good = el(0x0008, 0x0060, b"CS", b"CT");
        let nested = el(0x0008, 0x0100, b"SH", b"T-1234");
        good.extend(el(0x0008, 0x1110, b"SQ", &item(&nested)));
        good.extend(el(0x0028, 0x0010, b"US", &512u16.to_le_bytes()));
        good.extend(el(0x7FE0, 0x0010, b"OW", &[0u8; 32]));
        assert_eq!(walk(&good, Encoding::EXPLICIT_LE, false), Ok(()));

        // The nested element claims more than its item holds (but less than the file).
        let mut bad = good.clone();
        let at = bad
            .windows(4)
            .position(|w| w == [0x08, 0x00, 0x00, 0x01])
            .unwrap();
        bad[at + 6] = 40;
        let err = walk(&bad, Encoding::EXPLICIT_LE, false).unwrap_err();
        assert_eq!(err.tag, (0x0008, 0x0100));
        assert_eq!(err.length, 40);
        assert!(err.to_string().contains("(0008,0100)"), "{err}");

        // Pixel data claiming 4 GiB: refused when loading, not looked at when scanning.
        let mut huge = good.clone();
        let n = huge.len();
        huge[n - 32 - 4..n - 32].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let err = walk(&huge, Encoding::EXPLICIT_LE, false).unwrap_err();
        assert_eq!(
            (err.tag, err.length, err.available),
            (PIXEL_DATA, 0xFFFF_FFF0, 32)
        );
        assert_eq!(walk(&huge, Encoding::EXPLICIT_LE, true), Ok(()));
    }

    #[test]
    fn encapsulated_fragments_and_undefined_lengths_are_followed() {
        let mut b = el(0x0008, 0x0060, b"CS", b"CT");
        // Undefined-length sequence with an undefined-length item.
        b.extend([
            0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        b.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        b.extend(el(0x0008, 0x1150, b"UI", b"1.2.3.4"));
        b.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        b.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        // Encapsulated pixel data: an empty offset table and one fragment of raw bytes that
        // look like an element with a huge length (must be skipped, not parsed).
        b.extend([
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        b.extend(item(&[]));
        b.extend(item(&[
            0x08, 0x00, 0x60, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0x7F,
        ]));
        b.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(walk(&b, Encoding::EXPLICIT_LE, false), Ok(()));
        // A fragment longer than the file.
        let n = b.len();
        b[n - 8 - 12 - 4..n - 8 - 12].copy_from_slice(&1000u32.to_le_bytes());
        let err = walk(&b, Encoding::EXPLICIT_LE, false).unwrap_err();
        assert_eq!((err.tag, err.length), ((0xFFFE, 0xE000), 1000));
    }

    #[test]
    fn implicit_and_big_endian_lengths_are_read_in_their_encoding() {
        // Implicit VR LE: Modality (CS, from the dictionary) then a private element.
        let mut b = Vec::new();
        for (g, e, v) in [
            (0x0008u16, 0x0060u16, &b"CT"[..]),
            (0x0029, 0x1010, &[1u8, 2, 3, 4][..]),
        ] {
            b.extend(g.to_le_bytes());
            b.extend(e.to_le_bytes());
            b.extend((v.len() as u32).to_le_bytes());
            b.extend(v);
        }
        let implicit = Encoding {
            explicit_vr: false,
            big_endian: false,
        };
        assert_eq!(walk(&b, implicit, false), Ok(()));
        // The private element's length (its header starts at byte 10).
        b[10 + 4..10 + 8].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        assert_eq!(walk(&b, implicit, false).unwrap_err().tag, (0x0029, 0x1010));

        // Explicit VR big endian: the same short element both ways round.
        let be = Encoding {
            explicit_vr: true,
            big_endian: true,
        };
        let mut b = vec![0x00, 0x08, 0x00, 0x60, b'C', b'S', 0x00, 0x02, b'C', b'T'];
        assert_eq!(walk(&b, be, false), Ok(()));
        // Bytes 02 00: 512 read big endian (2 if it were read little endian).
        b[6..8].copy_from_slice(&[0x02, 0x00]);
        assert_eq!(walk(&b, be, false).unwrap_err().length, 512);
    }
}
