//! f32 -> IEEE 754 binary16 bits, round to nearest even. The volume and the transfer function
//! are uploaded as 16-bit floats; no extra crate needed for one function.

pub fn f16_bits_from_f32(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        // Inf stays inf, NaN stays a (quiet) NaN.
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal half: value = q * 2^-24.
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let q = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let rounded = if rem > halfway || (rem == halfway && q & 1 == 1) {
            q + 1
        } else {
            q
        };
        return sign | rounded as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1fff;
    // A carry out of the mantissa bumps the exponent, and past the largest finite gives inf.
    let rounded = if rem > 0x1000 || (rem == 0x1000 && half & 1 == 1) {
        half + 1
    } else {
        half
    };
    sign | rounded as u16
}

/// The value a binary16 holds (for tests and for documenting the HU mapping).
pub fn f32_from_f16_bits(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let mant = (h & 0x3ff) as f32;
    match exp {
        0 => sign * mant * 2f32.powi(-24),
        0x1f if mant == 0.0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        _ => sign * (1.0 + mant / 1024.0) * 2f32.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(f16_bits_from_f32(0.0), 0);
        assert_eq!(f16_bits_from_f32(1.0), 0x3c00);
        assert_eq!(f16_bits_from_f32(0.5), 0x3800);
        assert_eq!(f16_bits_from_f32(-2.0), 0xc000);
        assert_eq!(f16_bits_from_f32(65504.0), 0x7bff);
        assert_eq!(f16_bits_from_f32(1e6), 0x7c00);
        assert_eq!(f16_bits_from_f32(2.0f32.powi(-24)), 1);
        assert_eq!(f16_bits_from_f32(f32::NAN) & 0x7c00, 0x7c00);
    }

    #[test]
    fn every_hu_up_to_2048_is_exact_and_larger_ones_round_to_nearest() {
        for hu in i16::MIN..=i16::MAX {
            let back = f32_from_f16_bits(f16_bits_from_f32(hu as f32));
            let err = (back - hu as f32).abs();
            if hu.unsigned_abs() <= 2048 {
                assert_eq!(err, 0.0, "{hu}");
            } else {
                // Spacing of binary16 at |hu| is 2^(floor(log2|hu|) - 10); error <= half of it.
                let ulp = 2f32.powi((hu.unsigned_abs() as f32).log2().floor() as i32 - 10);
                assert!(err <= ulp / 2.0, "{hu} -> {back}");
            }
        }
    }

    #[test]
    fn small_fractions_round_trip_closely() {
        for k in 0..=1000 {
            let x = k as f32 / 1000.0;
            let back = f32_from_f16_bits(f16_bits_from_f32(x));
            assert!(
                (back - x).abs() <= x * 2f32.powi(-11) + 2f32.powi(-25),
                "{x} {back}"
            );
        }
    }
}
