//! A downsampled copy of the volume for interactive ray casting.
//!
//! While the user drags a 3D view the ray step is coarsened (2..4 times); sampling the full
//! volume at such steps aliases, and on a CPU rasteriser (lavapipe) it is also slow: rays cross
//! the 70 MB texture of a 512x512x133 CT in a cache-hostile order. Frames whose step is at least
//! half the coarse voxel (Nyquist) therefore read a box-filtered copy with half the voxels along
//! every axis finer than `COARSEN_BELOW_MM` (LIDC-IDRI-0001: 256x256x133, 1.4 x 1.4 x 2.5 mm) —
//! a prefiltered level of detail, like a mipmap, not a different image. Full-quality frames and
//! every MPR view read the full volume.
//!
//! Coarse texel c along an axis with factor f averages fine voxels f c .. f c + f - 1 (the last
//! one repeated past the edge), so its centre lies at fine index f c + (f - 1) / 2. A fine
//! texture coordinate u = (i + 0.5) / n maps to the coarse one u n / (f n'), which is what the
//! shader's `coarse_scale` holds.

use margo_volume::Volume;

use crate::half::f16_bits_from_f32;

/// Axes with a finer spacing than this are halved.
pub const COARSEN_BELOW_MM: f64 = 1.25;

/// The coarse grid of a volume: per-axis factors (1 or 2) and voxel counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CoarseGrid {
    pub factors: [usize; 3],
    pub dims: [usize; 3],
    /// Smallest coarse voxel spacing, mm.
    pub min_spacing_mm: f64,
    /// Fine texture coordinate -> coarse texture coordinate, per axis: n / (f n').
    pub texture_scale: [f64; 3],
}

impl CoarseGrid {
    /// `None` when no axis is fine enough to halve (the full volume is already coarse).
    pub fn for_volume(dims: [usize; 3], spacing_mm: [f64; 3]) -> Option<Self> {
        let factors = spacing_mm.map(|s| {
            if s.is_finite() && s > 0.0 && s < COARSEN_BELOW_MM {
                2
            } else {
                1
            }
        });
        if factors == [1; 3] || dims.contains(&0) {
            return None;
        }
        let coarse_dims: [usize; 3] = std::array::from_fn(|a| dims[a].div_ceil(factors[a]));
        let min_spacing_mm = (0..3)
            .map(|a| spacing_mm[a] * factors[a] as f64)
            .fold(f64::INFINITY, f64::min);
        Some(Self {
            factors,
            dims: coarse_dims,
            min_spacing_mm,
            texture_scale: std::array::from_fn(|a| {
                dims[a] as f64 / (factors[a] * coarse_dims[a]) as f64
            }),
        })
    }

    /// Whether a ray step samples the coarse copy adequately (at least half its voxel).
    pub fn suits_step(&self, step_mm: f64) -> bool {
        step_mm >= 0.5 * self.min_spacing_mm
    }

    /// Box-filtered HU of the coarse grid as f16 bits, i fastest.
    pub fn downsample_f16(&self, volume: &Volume<i16>) -> Vec<u16> {
        let n = volume.dims();
        let f = self.factors;
        let v = volume.voxels();
        let weight = 1.0 / (f[0] * f[1] * f[2]) as f32;
        let [ci, cj, ck] = self.dims;
        let mut out = Vec::with_capacity(ci * cj * ck);
        for k in 0..ck {
            for j in 0..cj {
                for i in 0..ci {
                    let mut sum = 0.0f32;
                    for dk in 0..f[2] {
                        let kk = (f[2] * k + dk).min(n[2] - 1);
                        for dj in 0..f[1] {
                            let jj = (f[1] * j + dj).min(n[1] - 1);
                            let row = &v[n[0] * (jj + n[1] * kk)..][..n[0]];
                            for di in 0..f[0] {
                                sum += f32::from(row[(f[0] * i + di).min(n[0] - 1)]);
                            }
                        }
                    }
                    out.push(f16_bits_from_f32(sum * weight));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::half::f32_from_f16_bits;
    use margo_volume::VolumeGeometry;

    #[test]
    fn only_fine_axes_are_halved() {
        let g = CoarseGrid::for_volume([512, 512, 133], [0.7, 0.7, 2.5]).unwrap();
        assert_eq!(g.factors, [2, 2, 1]);
        assert_eq!(g.dims, [256, 256, 133]);
        assert!((g.min_spacing_mm - 1.4).abs() < 1e-12);
        assert_eq!(g.texture_scale, [1.0; 3]);
        assert!(g.suits_step(0.7) && !g.suits_step(0.69));
        assert!(CoarseGrid::for_volume([64, 64, 64], [2.0, 2.0, 2.0]).is_none());
        // Odd counts: the last coarse texel reaches past the edge.
        let odd = CoarseGrid::for_volume([5, 4, 3], [0.5, 0.5, 0.5]).unwrap();
        assert_eq!(odd.dims, [3, 2, 2]);
        assert_eq!(odd.texture_scale, [5.0 / 6.0, 1.0, 3.0 / 4.0]);
    }

    #[test]
    fn coarse_texels_average_their_block_and_sit_where_the_scale_says() {
        // HU linear in the index: a box average equals the value at the block centre, so the
        // coarse texel centre, mapped back through `texture_scale`, must carry the fine value
        // there (edges repeat the last voxel, so only interior blocks are exact).
        let dims = [7, 6, 5];
        let geometry = VolumeGeometry::axis_aligned(dims, [0.5, 0.6, 0.7], [0.0; 3]).unwrap();
        let volume = Volume::from_fn(geometry, |i, j, k| (10 * i + 30 * j + 100 * k) as i16);
        let g = CoarseGrid::for_volume(dims, [0.5, 0.6, 0.7]).unwrap();
        assert_eq!(g.factors, [2, 2, 2]);
        let coarse = g.downsample_f16(&volume);
        assert_eq!(coarse.len(), 4 * 3 * 3);
        for k in 0..2 {
            for j in 0..3 {
                for i in 0..3 {
                    let value = f32_from_f16_bits(coarse[i + 4 * (j + 3 * k)]);
                    // Coarse texture coordinate of the texel centre -> fine texture coordinate
                    // -> fine continuous index.
                    let fine_index: Vec<f64> = [i, j, k]
                        .iter()
                        .enumerate()
                        .map(|(a, c)| {
                            let u_coarse = (*c as f64 + 0.5) / g.dims[a] as f64;
                            u_coarse / g.texture_scale[a] * dims[a] as f64 - 0.5
                        })
                        .collect();
                    let expected =
                        10.0 * fine_index[0] + 30.0 * fine_index[1] + 100.0 * fine_index[2];
                    assert!(
                        (f64::from(value) - expected).abs() < 0.26,
                        "texel {i},{j},{k}: {value} vs {expected}"
                    );
                }
            }
        }
        // The edge texel along i (fine voxels 6 and a repeated 6) holds voxel 6's value.
        let edge = f32_from_f16_bits(coarse[3]);
        assert_eq!(
            edge,
            f32::from(
                volume.get(6, 0, 0).unwrap()
                    + volume.get(6, 1, 0).unwrap()
                    + volume.get(6, 0, 1).unwrap()
                    + volume.get(6, 1, 1).unwrap()
            ) / 4.0
        );
    }
}
