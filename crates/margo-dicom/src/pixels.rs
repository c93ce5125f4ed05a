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
    if let Some(stats) = rescale_i16_lanes(samples, bits_stored, signed, rescale, dst) {
        return stats;
    }
    if let Some(stats) = rescale_narrow(samples, bits_stored, signed, rescale, dst) {
        return stats;
    }
    rescale_general(samples, bits_stored, signed, rescale, dst)
}

/// Any sample width and rescale, in i64 (integral rescale) or f64 (otherwise).
fn rescale_general(
    samples: Samples<'_>,
    bits_stored: u16,
    signed: bool,
    rescale: Rescale,
    dst: &mut [i16],
) -> ConvertStats {
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

/// The CT case: slope 1, an intercept that fits in i16, and stored values that fit in i16
/// (signed 16-bit, or at most 15 bits). Then value = stored + intercept is a saturating i16
/// add, eight lanes per SSE2 instruction. A saturated result (i16::MIN or MAX) may mean a
/// clamp: only then the general path recounts the slice for the report.
fn rescale_i16_lanes(
    samples: Samples<'_>,
    bits_stored: u16,
    signed: bool,
    rescale: Rescale,
    dst: &mut [i16],
) -> Option<ConvertStats> {
    let Rescale { slope, intercept } = rescale;
    let applies = slope == 1.0
        && intercept.fract() == 0.0
        && (i16::MIN as f64..=i16::MAX as f64).contains(&intercept)
        && (1..=16).contains(&bits_stored)
        && (signed || bits_stored <= 15);
    if !applies {
        return None;
    }
    let b = intercept as i16;
    let shift = 16 - u32::from(bits_stored);
    let to_i16 = move |r: u16| -> i16 {
        if signed {
            ((r << shift) as i16) >> shift
        } else {
            ((r << shift) >> shift) as i16
        }
    };
    match samples {
        Samples::Words(w) => {
            for (d, r) in dst.iter_mut().zip(w) {
                *d = to_i16(*r).saturating_add(b);
            }
        }
        Samples::Bytes16 { bytes, big_endian } => {
            let (pairs, _) = bytes.as_chunks::<2>();
            if big_endian {
                for (d, p) in dst.iter_mut().zip(pairs) {
                    *d = to_i16(u16::from_be_bytes(*p)).saturating_add(b);
                }
            } else {
                for (d, p) in dst.iter_mut().zip(pairs) {
                    *d = to_i16(u16::from_le_bytes(*p)).saturating_add(b);
                }
            }
        }
        Samples::U8(_) | Samples::Bytes32 { .. } => return None,
    }
    let saturated = dst
        .iter()
        .fold(false, |acc, &v| acc | (v == i16::MIN) | (v == i16::MAX));
    if saturated {
        let mut scratch = vec![0i16; dst.len()];
        return Some(rescale_general(
            samples,
            bits_stored,
            signed,
            rescale,
            &mut scratch,
        ));
    }
    Some(ConvertStats::default())
}

/// The common case (samples of at most 16 bits, integral rescale of modest size) in i32
/// arithmetic with a branch-free loop the compiler vectorises. `None` when it does not apply.
fn rescale_narrow(
    samples: Samples<'_>,
    bits_stored: u16,
    signed: bool,
    rescale: Rescale,
    dst: &mut [i16],
) -> Option<ConvertStats> {
    let Rescale { slope, intercept } = rescale;
    // |stored| <= 65535, so |stored * m + b| < 2^31 with these bounds.
    let fits = slope.fract() == 0.0
        && intercept.fract() == 0.0
        && slope.abs() <= 16384.0
        && intercept.abs() <= (1u32 << 29) as f64;
    if !fits || bits_stored > 16 || bits_stored == 0 {
        return None;
    }
    let (m, b) = (slope as i32, intercept as i32);
    let shift = 32 - u32::from(bits_stored);
    let clamped = match samples {
        Samples::U8(b8) => narrow_loop(b8.iter().map(|&x| u32::from(x)), shift, signed, m, b, dst),
        Samples::Words(w) => narrow_loop(w.iter().map(|&x| u32::from(x)), shift, signed, m, b, dst),
        Samples::Bytes16 { bytes, big_endian } => {
            let (pairs, _) = bytes.as_chunks::<2>();
            if big_endian {
                narrow_loop(
                    pairs.iter().map(|p| u32::from(u16::from_be_bytes(*p))),
                    shift,
                    signed,
                    m,
                    b,
                    dst,
                )
            } else {
                narrow_loop(
                    pairs.iter().map(|p| u32::from(u16::from_le_bytes(*p))),
                    shift,
                    signed,
                    m,
                    b,
                    dst,
                )
            }
        }
        Samples::Bytes32 { .. } => return None,
    };
    let mut stats = ConvertStats::default();
    if clamped > 0 {
        // Rare: describe the clamped values with the general (i64) path's bookkeeping.
        let mut scratch = vec![0i16; dst.len()];
        stats = rescale_general(samples, bits_stored, signed, rescale, &mut scratch);
    }
    Some(stats)
}

#[inline(always)]
fn narrow_loop(
    raw: impl Iterator<Item = u32>,
    shift: u32,
    signed: bool,
    m: i32,
    b: i32,
    dst: &mut [i16],
) -> usize {
    let mut clamped = 0u32;
    let (lo, hi) = (i16::MIN as i32, i16::MAX as i32);
    if signed {
        for (d, r) in dst.iter_mut().zip(raw) {
            let s = ((r << shift) as i32) >> shift;
            let v = s * m + b;
            let c = v.clamp(lo, hi);
            clamped += u32::from(c != v);
            *d = c as i16;
        }
    } else {
        for (d, r) in dst.iter_mut().zip(raw) {
            let s = ((r << shift) >> shift) as i32;
            let v = s * m + b;
            let c = v.clamp(lo, hi);
            clamped += u32::from(c != v);
            *d = c as i16;
        }
    }
    clamped as usize
}

/// Largest magnitude for which integer arithmetic on i64 cannot overflow here.
const EXACT_LIMIT: f64 = (1u64 << 31) as f64;

fn apply(
    stored: impl Iterator<Item = i64> + Clone,
    rescale: Rescale,
    dst: &mut [i16],
) -> ConvertStats {
    let mut stats = ConvertStats::default();
    let Rescale { slope, intercept } = rescale;
    let integral = |x: f64| x.fract() == 0.0 && x.abs() < EXACT_LIMIT;
    let (lo, hi) = (i16::MIN as i64, i16::MAX as i64);
    if integral(slope) && integral(intercept) {
        let (m, b) = (slope as i64, intercept as i64);
        // Branch-free so that it vectorises; out-of-range values are rare, so they are
        // described by a second pass only when there are some.
        let mut clamped = 0usize;
        for (d, s) in dst.iter_mut().zip(stored.clone()) {
            let v = s * m + b;
            let c = v.clamp(lo, hi);
            clamped += usize::from(c != v);
            *d = c as i16;
        }
        if clamped > 0 {
            for v in stored.map(|s| s * m + b).filter(|v| *v < lo || *v > hi) {
                stats.note(v as f64);
            }
        }
    } else {
        stats.rounded = true;
        for (d, s) in dst.iter_mut().zip(stored) {
            let v = (s as f64 * slope + intercept).round();
            if v < lo as f64 || v > hi as f64 {
                stats.note(v);
            }
            // `as` saturates (and maps NaN to 0, which cannot occur with finite inputs).
            *d = v as i16;
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

    /// The vectorised i32 path and the general i64 path agree on every input they share.
    #[test]
    fn narrow_and_general_paths_agree() {
        let mut x = 0x2545F4914F6CDD1Du64;
        let words: Vec<u16> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u16
            })
            .collect();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        for bits in [8u16, 12, 15, 16] {
            for signed in [false, true] {
                for (slope, intercept) in [
                    (1.0, -1024.0),
                    (1.0, 0.0),
                    (1.0, 30000.0),
                    (2.0, -4047.0),
                    (-3.0, 7.0),
                ] {
                    let r = Rescale { slope, intercept };
                    for samples in [
                        Samples::Words(&words),
                        Samples::Bytes16 {
                            bytes: &bytes,
                            big_endian: true,
                        },
                    ] {
                        let mut a = vec![0i16; words.len()];
                        let mut b = vec![0i16; words.len()];
                        let sa = rescale_narrow(samples, bits, signed, r, &mut a).unwrap();
                        let sb = rescale_general(samples, bits, signed, r, &mut b);
                        assert_eq!(a, b, "bits {bits} signed {signed} {r:?}");
                        assert_eq!(sa, sb);
                        let mut c = vec![0i16; words.len()];
                        if let Some(sc) = rescale_i16_lanes(samples, bits, signed, r, &mut c) {
                            assert_eq!(c, b, "lanes: bits {bits} signed {signed} {r:?}");
                            assert_eq!(sc, sb);
                        }
                    }
                }
            }
        }
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
