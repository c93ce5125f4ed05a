//! Transfer syntaxes: which ones we can read, and a registry that also knows the retired JPEG
//! ones so that their headers still parse (their pixel data is then refused by name).

use dicom_encoding::transfer_syntax::{Codec, TransferSyntax, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// Retired JPEG transfer syntaxes that dicom-rs does not register. Their data sets are explicit
/// VR little endian with encapsulated pixel data, so registering stubs (no pixel codec) lets the
/// header parse; decoding is then refused with `UnsupportedTransferSyntax`.
static RETIRED_JPEG: [TransferSyntax; 14] = [
    stub(
        "1.2.840.10008.1.2.4.52",
        "JPEG Extended (Process 3 & 5) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.53",
        "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.54",
        "JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.55",
        "JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.56",
        "JPEG Full Progression, Non-Hierarchical (Process 11 & 13) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.58",
        "JPEG Lossless, Non-Hierarchical (Process 15) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.59",
        "JPEG Extended, Hierarchical (Process 16 & 18) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.60",
        "JPEG Extended, Hierarchical (Process 17 & 19) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.61",
        "JPEG Spectral Selection, Hierarchical (Process 20 & 22) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.62",
        "JPEG Spectral Selection, Hierarchical (Process 21 & 23) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.63",
        "JPEG Full Progression, Hierarchical (Process 24 & 26) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.64",
        "JPEG Full Progression, Hierarchical (Process 25 & 27) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.65",
        "JPEG Lossless, Hierarchical (Process 28) (Retired)",
    ),
    stub(
        "1.2.840.10008.1.2.4.66",
        "JPEG Lossless, Hierarchical (Process 29) (Retired)",
    ),
];

const fn stub(uid: &'static str, name: &'static str) -> TransferSyntax {
    TransferSyntax::new_ele(uid, name, Codec::EncapsulatedPixelData(None, None))
}

/// dicom-rs's registry plus the retired JPEG stubs.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MargoTsIndex;

impl TransferSyntaxIndex for MargoTsIndex {
    fn get(&self, uid: &str) -> Option<&TransferSyntax> {
        lookup(uid)
    }
}

pub(crate) fn lookup(uid: &str) -> Option<&'static TransferSyntax> {
    let uid = trim_uid(uid);
    TransferSyntaxRegistry
        .get(uid)
        .or_else(|| RETIRED_JPEG.iter().find(|ts| ts.uid() == uid))
}

pub(crate) fn trim_uid(uid: &str) -> &str {
    uid.trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
}

/// A human name for a transfer syntax UID, or "unknown transfer syntax".
pub fn transfer_syntax_name(uid: &str) -> &'static str {
    lookup(uid).map_or("unknown transfer syntax", |ts| ts.name())
}

/// How a file's pixel data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PixelEncoding {
    /// Native samples in the data set (little or big endian, possibly deflated on disk).
    Native,
    /// Encapsulated and decodable by a registered codec.
    Encapsulated,
    /// Encapsulated in a format we cannot decode.
    Unsupported,
}

pub(crate) fn pixel_encoding(uid: &str) -> PixelEncoding {
    match lookup(uid) {
        None => PixelEncoding::Unsupported,
        Some(ts) => match ts.codec() {
            Codec::None | Codec::Dataset(Some(_)) => PixelEncoding::Native,
            Codec::EncapsulatedPixelData(Some(_), _) => PixelEncoding::Encapsulated,
            _ => PixelEncoding::Unsupported,
        },
    }
}

/// Which copy of an image stored twice (the same SOP instance re-encoded) to read: lower is
/// better. Exact copies first: uncompressed (0), then deflated or lossless-compressed (1), then
/// encodings that may be lossy (2: what a planning tool should only use when nothing else is
/// there), then encodings we cannot decode (3).
pub(crate) fn copy_preference(uid: &str) -> u8 {
    let uid = trim_uid(uid);
    match pixel_encoding(uid) {
        PixelEncoding::Unsupported => 3,
        PixelEncoding::Native if uid == "1.2.840.10008.1.2.1.99" => 1,
        PixelEncoding::Native => 0,
        PixelEncoding::Encapsulated => match uid {
            // RLE, JPEG lossless (processes 14 and 14 SV1), JPEG-LS lossless, JPEG 2000
            // lossless-only, HTJ2K lossless-only.
            "1.2.840.10008.1.2.5"
            | "1.2.840.10008.1.2.4.57"
            | "1.2.840.10008.1.2.4.70"
            | "1.2.840.10008.1.2.4.80"
            | "1.2.840.10008.1.2.4.90"
            | "1.2.840.10008.1.2.4.201" => 1,
            _ => 2,
        },
    }
}

/// True for the JPEG (ITU T.81) family whose DCT processes jpeg-decoder supports only at 8 bits.
pub(crate) fn is_jpeg_dct(uid: &str) -> bool {
    matches!(
        trim_uid(uid),
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51"
    )
}

/// JPEG lossless process 14 (any predictor, or selection value 1).
pub(crate) fn is_jpeg_lossless(uid: &str) -> bool {
    matches!(
        trim_uid(uid),
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70"
    )
}

/// JPEG 2000 (lossless only, or lossless/lossy): our lossless fast path is tried first.
pub(crate) fn is_jpeg2000(uid: &str) -> bool {
    matches!(
        trim_uid(uid),
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91"
    )
}

/// Finds the first JPEG start-of-frame marker in `bytes` and returns (marker, sample precision).
/// Used to refuse 12-bit DCT JPEG by name instead of failing deep inside the decoder.
pub(crate) fn jpeg_sof(bytes: &[u8]) -> Option<(u8, u8)> {
    let mut i = 2; // skip SOI
    while i + 4 < bytes.len() {
        if bytes[i] != 0xFF {
            i += 1;
            continue;
        }
        let marker = bytes[i + 1];
        match marker {
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                return bytes.get(i + 4).map(|&p| (marker, p));
            }
            0xD8 | 0x01 | 0xD0..=0xD7 | 0xFF => i += 2,
            _ => {
                let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
                i += 2 + len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_jpeg_is_known_but_unsupported() {
        assert_eq!(
            pixel_encoding("1.2.840.10008.1.2.4.55\0"),
            PixelEncoding::Unsupported
        );
        assert!(transfer_syntax_name("1.2.840.10008.1.2.4.53").contains("Spectral"));
        assert_eq!(pixel_encoding("1.2.840.10008.1.2.1"), PixelEncoding::Native);
        assert_eq!(pixel_encoding("1.2.840.10008.1.2.2"), PixelEncoding::Native);
        assert_eq!(
            pixel_encoding("1.2.840.10008.1.2.1.99"),
            PixelEncoding::Native
        );
        assert_eq!(
            pixel_encoding("1.2.840.10008.1.2.4.70"),
            PixelEncoding::Encapsulated
        );
        assert_eq!(pixel_encoding("1.9.9.9"), PixelEncoding::Unsupported);
    }

    #[test]
    fn finds_sof_precision() {
        // SOI, APP0 (len 4), SOF1 with precision 12.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC1, 0x00, 0x0B, 12, 0, 0,
        ];
        assert_eq!(jpeg_sof(&jpeg), Some((0xC1, 12)));
        assert_eq!(jpeg_sof(&[0xFF, 0xD8]), None);
    }
}
