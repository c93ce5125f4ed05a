//! Deterministic randomness. The generator must give the same voxels for the same seed on every
//! machine and thread count, so there is no global RNG: anatomy variation comes from a small
//! sequential generator, and voxel noise from a counter-based hash of (seed, voxel index), which
//! any thread can evaluate in any order.

/// SplitMix64: tiny, fast, well distributed; enough for placing anatomy.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// An independent stream for one purpose (so adding draws in one place does not shift
    /// another structure).
    pub fn stream(seed: u64, purpose: &str) -> Self {
        let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
        for b in purpose.bytes() {
            h = mix64(h ^ b as u64);
        }
        Self::new(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box-Muller; one value per call keeps the stream simple).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The SplitMix64 finaliser: a bijective 64-bit mix.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Approximately standard-normal noise for one voxel, from a hash of (seed, linear index).
/// Sum of four 16-bit uniforms (Irwin-Hall), centred and scaled to unit variance: no
/// transcendental functions, tails cut at about 3.5 sigma, which is what a CT noise texture needs.
#[inline]
pub fn voxel_normal(seed: u64, index: u64) -> f32 {
    let h = mix64(seed ^ mix64(index.wrapping_add(0xD1B5_4A32_D192_ED03)));
    let sum = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    // Each term is uniform on [0, 65535]: mean 32767.5, variance 65536^2/12 (to 1e-9).
    const MEAN: f32 = 4.0 * 32767.5;
    const INV_SD: f32 = 1.0 / (65536.0 * 0.577_350_26); // sqrt(4/12) = 0.57735
    (sum as f32 - MEAN) * INV_SD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SplitMix64::stream(7, "ribs");
                move |_| r.next_u64()
            })
            .collect();
        let mut r = SplitMix64::stream(7, "ribs");
        let b: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        let mut other = SplitMix64::stream(7, "vessels");
        assert_ne!(a[0], other.next_u64());
    }

    #[test]
    fn voxel_noise_has_unit_variance_and_zero_mean() {
        let n = 200_000u64;
        let (mut s, mut s2) = (0f64, 0f64);
        for i in 0..n {
            let v = voxel_normal(42, i) as f64;
            s += v;
            s2 += v * v;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = SplitMix64::new(1);
        let n = 100_000;
        let mean_u: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((mean_u - 0.5).abs() < 0.01);
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.02 && (v - 1.0).abs() < 0.03, "{m} {v}");
    }
}
