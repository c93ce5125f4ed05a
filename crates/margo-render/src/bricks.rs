//! Empty-space skipping for ray casting: the volume is cut into bricks of `BRICK_VOXELS`^3 voxels;
//! for each brick the HU range its trilinear samples can return (fixed per volume), and per
//! transfer function the Chebyshev distance, in bricks, to the nearest brick that may be visible.
//! A ray in a brick at distance D > 0 can jump out of the cube of (2D - 1)^3 bricks around it
//! in one step, so large empty regions (air, and for bone the lungs and soft tissue) cost a few
//! texture reads instead of one per brick.

use margo_volume::Volume;

/// Bricks are about this long along each axis (8 voxels of 0.7 mm; 2 slices of 2.5 mm): cubes
/// in millimetres, not in voxels, so that thick slices do not make bricks 20 mm tall, which
/// would mark far more of them as possibly visible.
pub const BRICK_EDGE_MM: f64 = 5.6;
/// At most this many voxels a side (the distance transform's cost grows with the brick count,
/// and a ray re-reads the brick map at every step anyway).
pub const MAX_BRICK_VOXELS: usize = 8;

/// Brick edge in voxels along i, j, k for a voxel spacing (1 ..= `MAX_BRICK_VOXELS`).
pub fn brick_voxels(spacing_mm: [f64; 3]) -> [usize; 3] {
    spacing_mm.map(|s| {
        if s.is_finite() && s > 0.0 {
            ((BRICK_EDGE_MM / s).round() as usize).clamp(1, MAX_BRICK_VOXELS)
        } else {
            MAX_BRICK_VOXELS
        }
    })
}

/// Distances are stored in 8 bits; this value means "at least this far".
pub const MAX_BRICK_DISTANCE: u8 = 255;

/// Min and max HU that trilinear samples inside each brick can return, and the brick grid
/// size: along an axis with bricks of `e` voxels, brick b covers cells `[e b, e b + e)` and
/// samples there read voxels `e b - 1 ..= e b + e` (half a voxel past either face is still
/// covered, so f32 rounding of a ray's exit point cannot skip a visible sample).
pub(crate) fn brick_ranges(
    volume: &Volume<i16>,
    brick_voxels: [usize; 3],
) -> (Vec<[i16; 2]>, [usize; 3]) {
    let n = volume.dims();
    let e = brick_voxels.map(|b| b.max(1));
    let nb = std::array::from_fn(|a| n[a].div_ceil(e[a]));
    let v = volume.voxels();
    // Per axis, min/max over the brick's reach, done separably: i, then j, then k.
    let reach = |b: usize, len: usize, e: usize| {
        let first = (b * e).saturating_sub(1);
        let last = ((b + 1) * e).min(len - 1);
        first..=last
    };
    // Pass 1: along i, for every (j, k) row.
    let mut p1 = vec![[i16::MAX, i16::MIN]; nb[0] * n[1] * n[2]];
    for k in 0..n[2] {
        for j in 0..n[1] {
            let row = &v[n[0] * (j + n[1] * k)..][..n[0]];
            for bi in 0..nb[0] {
                let r = &mut p1[bi + nb[0] * (j + n[1] * k)];
                for &x in &row[reach(bi, n[0], e[0])] {
                    r[0] = r[0].min(x);
                    r[1] = r[1].max(x);
                }
            }
        }
    }
    // Pass 2: along j.
    let mut p2 = vec![[i16::MAX, i16::MIN]; nb[0] * nb[1] * n[2]];
    for k in 0..n[2] {
        for bj in 0..nb[1] {
            for bi in 0..nb[0] {
                let r = &mut p2[bi + nb[0] * (bj + nb[1] * k)];
                for j in reach(bj, n[1], e[1]) {
                    let s = p1[bi + nb[0] * (j + n[1] * k)];
                    r[0] = r[0].min(s[0]);
                    r[1] = r[1].max(s[1]);
                }
            }
        }
    }
    // Pass 3: along k.
    let mut out = vec![[i16::MAX, i16::MIN]; nb[0] * nb[1] * nb[2]];
    for bk in 0..nb[2] {
        for bj in 0..nb[1] {
            for bi in 0..nb[0] {
                let r = &mut out[bi + nb[0] * (bj + nb[1] * bk)];
                for k in reach(bk, n[2], e[2]) {
                    let s = p2[bi + nb[0] * (bj + nb[1] * k)];
                    r[0] = r[0].min(s[0]);
                    r[1] = r[1].max(s[1]);
                }
            }
        }
    }
    (out, nb)
}

/// Chebyshev (L-infinity) distance in bricks from every brick to the nearest `visible` one,
/// 0 for a visible brick, capped at `MAX_BRICK_DISTANCE` (also when no brick is visible).
/// Exact and separable: the distance along i, then the min over j of max(that, |dj|), then k.
pub(crate) fn chebyshev_distance(visible: &[bool], dims: [usize; 3]) -> Vec<u8> {
    const FAR: u32 = MAX_BRICK_DISTANCE as u32;
    let [ni, nj, nk] = dims;
    assert_eq!(visible.len(), ni * nj * nk, "one flag per brick");
    let at = |i: usize, j: usize, k: usize| i + ni * (j + nj * k);
    // Along i: two sweeps.
    let mut d: Vec<u32> = visible.iter().map(|v| if *v { 0 } else { FAR }).collect();
    for k in 0..nk {
        for j in 0..nj {
            for i in 1..ni {
                d[at(i, j, k)] = d[at(i, j, k)].min(d[at(i - 1, j, k)] + 1);
            }
            for i in (0..ni.saturating_sub(1)).rev() {
                d[at(i, j, k)] = d[at(i, j, k)].min(d[at(i + 1, j, k)] + 1);
            }
        }
    }
    // Along j, then k: min over the line of max(distance so far, offset along the line).
    let mut line = Vec::new();
    for (axis, len) in [(1usize, nj), (2usize, nk)] {
        for a in 0..ni {
            for b in 0..if axis == 1 { nk } else { nj } {
                let index = |t: usize| {
                    if axis == 1 { at(a, t, b) } else { at(a, b, t) }
                };
                line.clear();
                line.extend((0..len).map(|t| d[index(t)]));
                for t in 0..len {
                    let best = line
                        .iter()
                        .enumerate()
                        .map(|(u, v)| (*v).max(t.abs_diff(u) as u32))
                        .min()
                        .unwrap_or(FAR);
                    d[index(t)] = best.min(FAR);
                }
            }
        }
    }
    d.into_iter().map(|v| v.min(FAR) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use margo_volume::VolumeGeometry;

    #[test]
    fn brick_ranges_cover_every_trilinear_footprint() {
        let g = VolumeGeometry::axis_aligned([19, 9, 17], [1.0; 3], [0.0; 3]).unwrap();
        let v = Volume::from_fn(g, |i, j, k| {
            ((i * 7919 + j * 104_729 + k * 1_299_709) % 2001) as i16 - 1000
        });
        let e = [8, 3, 2];
        let (ranges, nb) = brick_ranges(&v, e);
        assert_eq!(nb, [3, 3, 9]);
        for bk in 0..nb[2] {
            for bj in 0..nb[1] {
                for bi in 0..nb[0] {
                    let (mut lo, mut hi) = (i16::MAX, i16::MIN);
                    let span = |b: usize, n: usize, e: usize| {
                        (b * e).saturating_sub(1)..=((b + 1) * e).min(n - 1)
                    };
                    for k in span(bk, 17, e[2]) {
                        for j in span(bj, 9, e[1]) {
                            for i in span(bi, 19, e[0]) {
                                let x = v.get(i, j, k).unwrap();
                                lo = lo.min(x);
                                hi = hi.max(x);
                            }
                        }
                    }
                    assert_eq!(ranges[bi + nb[0] * (bj + nb[1] * bk)], [lo, hi]);
                }
            }
        }
    }

    #[test]
    fn bricks_are_about_equally_long_in_millimetres() {
        assert_eq!(brick_voxels([0.7, 0.7, 2.5]), [8, 8, 2]);
        assert_eq!(brick_voxels([0.5, 0.5, 0.5]), [8, 8, 8]);
        assert_eq!(brick_voxels([1.0, 1.0, 5.0]), [6, 6, 1]);
        assert_eq!(brick_voxels([0.7, 0.0, f64::NAN]), [8, 8, 8]);
    }

    #[test]
    fn chebyshev_distance_equals_brute_force() {
        let dims = [7, 5, 6];
        let n = dims[0] * dims[1] * dims[2];
        for seed in 0..20u64 {
            let mut x = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let visible: Vec<bool> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    // From almost empty (seed 0..3: none or one) to dense.
                    (x >> 33) % 97 < seed * seed / 4
                })
                .collect();
            let d = chebyshev_distance(&visible, dims);
            for k in 0..dims[2] {
                for j in 0..dims[1] {
                    for i in 0..dims[0] {
                        let mut best = u32::from(MAX_BRICK_DISTANCE);
                        for (o, v) in visible.iter().enumerate() {
                            if *v {
                                let (oi, oj, ok) =
                                    (o % dims[0], o / dims[0] % dims[1], o / (dims[0] * dims[1]));
                                let dist = i.abs_diff(oi).max(j.abs_diff(oj)).max(k.abs_diff(ok));
                                best = best.min(dist as u32);
                            }
                        }
                        assert_eq!(
                            u32::from(d[i + dims[0] * (j + dims[1] * k)]),
                            best,
                            "seed {seed} at {i},{j},{k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn chebyshev_distance_caps_far_bricks() {
        let dims = [300, 1, 1];
        let mut visible = vec![false; 300];
        visible[0] = true;
        let d = chebyshev_distance(&visible, dims);
        assert_eq!(d[0], 0);
        assert_eq!(d[254], 254);
        assert_eq!(d[299], MAX_BRICK_DISTANCE);
        assert!(
            chebyshev_distance(&[false; 4], [2, 2, 1])
                .iter()
                .all(|v| *v == MAX_BRICK_DISTANCE)
        );
    }
}
