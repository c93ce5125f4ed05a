//! Stored samples -> rescaled i16 values, written straight into a slice of the volume.
//!
//! value = stored * RescaleSlope + RescaleIntercept for every voxel. With an integral slope and
//! intercept (every CT we know) this is exact integer arithmetic; otherwise it is computed in
//! f64 and rounded to the nearest integer, and the caller says so in the warnings. Values that
//! do not fit in i16 are clamped and counted, never wrapped.

use crate::header::Rescale;

/// Where the stored samples come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Samples<'a> {
    /// One byte per sample.
    U8(&'a [u8]),
    /// Two bytes per sample, in the given byte order.
    Bytes16 { bytes: &'a [u8], big_endian: bool },
    /// 16-bit words already in native order (dicom-rs's OW values).
    Words(&'a [u16]),
    /// Four bytes per sample, in the given byte order.
    Bytes32 { bytes: &'a [u8], big_endian: bool },
}

impl Samples<'_> {
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(b) => b.len(),
            Samples::Bytes16 { bytes, .. } => bytes.len() / 2,
            Samples::Words(w) => w.len(),
            Samples::Bytes32 { bytes, .. } => bytes.len() / 4,
        }
    }
}

/// What happened while converting, summed over slices.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ConvertStats {
    /// Voxels whose rescaled value was outside i16 and was clamped.
    pub out_of_range: usize,
    /// Smallest and largest rescaled value seen among the clamped ones.
    pub out_of_range_min: f64,
    pub out_of_range_max: f64,
    /// A non-integral slope or intercept made values round to the nearest integer.
    pub rounded: bool,
}

impl ConvertStats {
    pub fn merge(self, other: Self) -> Self {
        if self.out_of_range == 0 {
            return Self {
                rounded: self.rounded || other.rounded,
                ..other
            };
        }
        if other.out_of_range == 0 {
            return Self {
                rounded: self.rounded || other.rounded,
                ..self
            };
        }
        Self {
            out_of_range: self.out_of_range + other.out_of_range,
            out_of_range_min: self.out_of_range_min.min(other.out_of_range_min),
            out_of_range_max: self.out_of_range_max.max(other.out_of_range_max),
            rounded: self.rounded || other.rounded,
        }
    }

    fn note(&mut self, value: f64) {
        if self.out_of_range == 0 {
            self.out_of_range_min = value;
            self.out_of_range_max = value;
        } else {
            self.out_of_range_min = self.out_of_range_min.min(value);
            self.out_of_range_max = self.out_of_range_max.max(value);
        }
        self.out_of_range += 1;
    }
}

/// Converts `samples` (exactly `dst.len()` of them) with BitsStored / PixelRepresentation and
/// the rescale into `dst`.
pub(crate) fn rescale_into(
    samples: Samples<'_>,
    bits_stored: u16,
    signed: bool,
    rescale: Rescale,
    dst: &mut [i16],
) -> ConvertStats {
    debug_assert_eq!(samples.len(), dst.len());
    let bits = u32::from(bits_stored.clamp(1, 32));
    let shift = 64 - bits;
    // Keep the low `bits` bits (the rest may hold overlays) and sign-extend when signed.
    let extract = move |raw: u32| -> i64 {
        let v = (raw as i64) << shift;
        if signed {
            v >> shift
        } else {
            ((v as u64) >> shift) as i64
        }
    };
    match samples {
        Samples::U8(b) => apply(b.iter().map(|&x| extract(u32::from(x))), rescale, dst),
        Samples::Bytes16 { bytes, big_endian } => {
            let it = bytes.chunks_exact(2).map(move |c| {
                let w = if big_endian {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                };
                extract(u32::from(w))
            });
            apply(it, rescale, dst)
        }
        Samples::Words(w) => apply(w.iter().map(|&x| extract(u32::from(x))), rescale, dst),
        Samples::Bytes32 { bytes, big_endian } => {
            let it = bytes.chunks_exact(4).map(move |c| {
                let a = [c[0], c[1], c[2], c[3]];
                extract(if big_endian {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                })
            });
            apply(it, rescale, dst)
        }
    }
}

/// Largest magnitude for which integer arithmetic on i64 cannot overflow here.
const EXACT_LIMIT: f64 = (1u64 << 31) as f64;

fn apply(stored: impl Iterator<Item = i64>, rescale: Rescale, dst: &mut [i16]) -> ConvertStats {
    let mut stats = ConvertStats::default();
    let Rescale { slope, intercept } = rescale;
    let integral = |x: f64| x.fract() == 0.0 && x.abs() < EXACT_LIMIT;
    if integral(slope) && integral(intercept) {
        let (m, b) = (slope as i64, intercept as i64);
        for (d, s) in dst.iter_mut().zip(stored) {
            let v = s * m + b;
            *d = if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
                v as i16
            } else {
                stats.note(v as f64);
                v.clamp(i16::MIN as i64, i16::MAX as i64) as i16
            };
        }
    } else {
        stats.rounded = true;
        for (d, s) in dst.iter_mut().zip(stored) {
            let v = (s as f64 * slope + intercept).round();
            *d = if (i16::MIN as f64..=i16::MAX as f64).contains(&v) {
                v as i16
            } else {
                stats.note(v);
                // `as` saturates (and maps NaN to 0, which cannot occur with finite inputs).
                v as i16
            };
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    const HU: Rescale = Rescale {
        slope: 1.0,
        intercept: -1024.0,
    };

    #[test]
    fn signed_16_bit_little_endian_with_intercept() {
        let stored: [i16; 4] = [-2000, 0, 1024, 3071];
        let bytes: Vec<u8> = stored.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut dst = [0i16; 4];
        let stats = rescale_into(
            Samples::Bytes16 {
                bytes: &bytes,
                big_endian: false,
            },
            16,
            true,
            HU,
            &mut dst,
        );
        assert_eq!(dst, [-3024, -1024, 0, 2047]);
        assert_eq!(stats, ConvertStats::default());
    }

    #[test]
    fn big_endian_and_words_agree() {
        let stored: [u16; 3] = [0, 467, 4095];
        let be: Vec<u8> = stored.iter().flat_map(|v| v.to_be_bytes()).collect();
        let mut a = [0i16; 3];
        let mut b = [0i16; 3];
        rescale_into(
            Samples::Bytes16 {
                bytes: &be,
                big_endian: true,
            },
            12,
            false,
            Rescale::default(),
            &mut a,
        );
        rescale_into(
            Samples::Words(&stored),
            12,
            false,
            Rescale::default(),
            &mut b,
        );
        assert_eq!(a, [0, 467, 4095]);
        assert_eq!(a, b);
    }

    #[test]
    fn bits_stored_masks_high_bits_and_sign_extends() {
        // 12 bits stored, signed: 0x0FFF is -1; an overlay bit at 0x8000 must be ignored.
        let words = [0x0FFFu16, 0x8001, 0x0800];
        let mut dst = [0i16; 3];
        rescale_into(
            Samples::Words(&words),
            12,
            true,
            Rescale::default(),
            &mut dst,
        );
        assert_eq!(dst, [-1, 1, -2048]);
        rescale_into(
            Samples::Words(&words),
            12,
            false,
            Rescale::default(),
            &mut dst,
        );
        assert_eq!(dst, [4095, 1, 2048]);
    }

    #[test]
    fn out_of_range_is_clamped_and_counted() {
        let words = [65535u16, 0, 40000];
        let mut dst = [0i16; 3];
        let stats = rescale_into(
            Samples::Words(&words),
            16,
            false,
            Rescale::default(),
            &mut dst,
        );
        assert_eq!(dst, [32767, 0, 32767]);
        assert_eq!(stats.out_of_range, 2);
        assert_eq!(stats.out_of_range_min, 40000.0);
        assert_eq!(stats.out_of_range_max, 65535.0);
    }

    #[test]
    fn fractional_rescale_rounds_to_nearest() {
        // JPEG baseline re-encoding: slope 32.1216, intercept -4047.
        let bytes = [30u8, 168];
        let mut dst = [0i16; 2];
        let stats = rescale_into(
            Samples::U8(&bytes),
            8,
            false,
            Rescale {
                slope: 32.1216,
                intercept: -4047.0,
            },
            &mut dst,
        );
        assert_eq!(dst, [(30.0f64 * 32.1216 - 4047.0).round() as i16, 1349]);
        assert!(stats.rounded);
        assert_eq!(stats.out_of_range, 0);
    }

    #[test]
    fn merge_keeps_extremes() {
        let mut a = ConvertStats::default();
        a.note(40000.0);
        let mut b = ConvertStats::default();
        b.note(-40000.0);
        b.note(50000.0);
        let m = a.merge(b).merge(ConvertStats::default());
        assert_eq!(m.out_of_range, 3);
        assert_eq!(m.out_of_range_min, -40000.0);
        assert_eq!(m.out_of_range_max, 50000.0);
    }
}
