//! Turning the scene into voxels: one sample where a voxel is uniform, a supersampled average
//! where it straddles a boundary (partial volume), then CT-like noise and the circular field of
//! view.

use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{Volume, VolumeGeometry};
use rayon::prelude::*;

use crate::config::PhantomConfig;
use crate::rng::{mix64, voxel_normal};
use crate::scene::Scene;

/// Noise-free HU of every voxel of one slice (k), row-major (i fastest).
fn render_slice(
    scene: &Scene,
    config: &PhantomConfig,
    geometry: &VolumeGeometry,
    k: usize,
    out: &mut [f32],
) {
    let [nx, ny, _] = geometry.dims();
    let sp = geometry.spacing_mm();
    // A voxel is uniform when no boundary comes within its half-diagonal (in-plane for
    // boundaries that do not vary with z).
    let half_diagonal = 0.5 * sp.norm();
    let half_diagonal_xy = 0.5 * (sp[0] * sp[0] + sp[1] * sp[1]).sqrt();
    let hu = &config.hu;
    let step_i = geometry.world_vector_from_voxel(&Vector3::x());
    let step_mm = step_i.norm();
    let sub = |n: u32| -> Vec<Vector3<f64>> {
        let n = n.max(1);
        if n == 2 {
            // The tetrahedral half of the 2x2x2 grid: each axis still gets both strata, at half
            // the cost.
            return [
                [1.0, 1.0, 1.0],
                [1.0, -1.0, -1.0],
                [-1.0, 1.0, -1.0],
                [-1.0, -1.0, 1.0],
            ]
            .iter()
            .map(|s| geometry.world_vector_from_voxel(&(Vector3::from(*s) * 0.25)))
            .collect();
        }
        let mut offs = Vec::with_capacity((n * n * n) as usize);
        for c in 0..n {
            for b in 0..n {
                for a in 0..n {
                    let f = |q: u32| (q as f64 + 0.5) / n as f64 - 0.5;
                    offs.push(geometry.world_vector_from_voxel(&Vector3::new(f(a), f(b), f(c))));
                }
            }
        }
        offs
    };
    let offsets = sub(config.supersample);
    let nodule_offsets = sub(config.nodule_supersample.max(config.supersample));
    for j in 0..ny {
        let row = &mut out[j * nx..(j + 1) * nx];
        let mut p = geometry.world_from_index(&Point3::new(0.0, j as f64, k as f64));
        // Distances we can still move along the row without crossing a boundary.
        let mut free_mm = f64::NEG_INFINITY;
        let mut free_xy_mm = f64::NEG_INFINITY;
        let mut held = 0f32;
        for v in row.iter_mut() {
            if free_mm > half_diagonal && free_xy_mm > half_diagonal_xy {
                *v = held;
            } else {
                let (tissue, margin_xy, margin) = scene.sample_margins(&p);
                if margin > half_diagonal && margin_xy > half_diagonal_xy {
                    held = tissue.hu(hu);
                    free_mm = margin;
                    free_xy_mm = margin_xy;
                    *v = held;
                } else {
                    let offs = if scene.in_nodule_box(&p) {
                        &nodule_offsets
                    } else {
                        &offsets
                    };
                    let sum: f32 = offs.iter().map(|o| scene.tissue_at(&(p + o)).hu(hu)).sum();
                    *v = sum / offs.len() as f32;
                    free_mm = f64::NEG_INFINITY;
                }
            }
            free_mm -= step_mm;
            free_xy_mm -= step_mm;
            p += step_i;
        }
    }
}

/// Adds in-plane correlated noise (white noise smoothed by a [1 2 1] kernel each way, the
/// grain of a filtered-back-projection image) with standard deviation `sd_hu`.
fn add_noise(slice: &mut [f32], nx: usize, ny: usize, k: usize, seed: u64, sd_hu: f32) {
    if sd_hu <= 0.0 {
        return;
    }
    let noise_seed = mix64(seed ^ 0x6E6F_6973_6500_0000);
    let base = (k * nx * ny) as u64;
    let mut white = vec![0f32; nx * ny];
    for (n, w) in white.iter_mut().enumerate() {
        *w = voxel_normal(noise_seed, base + n as u64);
    }
    // Horizontal [1 2 1]/4 with the edge sample repeated.
    let mut horizontal = vec![0f32; nx * ny];
    for (src, dst) in white.chunks_exact(nx).zip(horizontal.chunks_exact_mut(nx)) {
        for i in 0..nx {
            let l = src[i.saturating_sub(1)];
            let r = src[(i + 1).min(nx - 1)];
            dst[i] = 0.25 * l + 0.5 * src[i] + 0.25 * r;
        }
    }
    // Variance of [1 2 1]/4 smoothing: (1 + 4 + 1) / 16 per axis; undo it for the 2-D kernel.
    let gain = sd_hu / (6.0f32 / 16.0);
    for j in 0..ny {
        let up = &horizontal[j.saturating_sub(1) * nx..][..nx];
        let mid = &horizontal[j * nx..][..nx];
        let down = &horizontal[(j + 1).min(ny - 1) * nx..][..nx];
        let out = &mut slice[j * nx..][..nx];
        for i in 0..nx {
            let v = 0.25 * up[i] + 0.5 * mid[i] + 0.25 * down[i];
            out[i] += gain * v;
        }
    }
}

/// Rasterises the scene into a HU volume.
pub fn rasterise(scene: &Scene, config: &PhantomConfig, geometry: &VolumeGeometry) -> Volume<i16> {
    let [nx, ny, _] = geometry.dims();
    let mut volume = Volume::filled(geometry.clone(), 0i16);
    let fov = config.fov_padding_hu.map(|pad| {
        let sp = geometry.spacing_mm();
        let radius = 0.5 * (nx as f64 * sp[0]).min(ny as f64 * sp[1]);
        (pad, radius)
    });
    let centre_i = (nx as f64 - 1.0) / 2.0;
    let centre_j = (ny as f64 - 1.0) / 2.0;
    let sp = geometry.spacing_mm();
    volume
        .voxels_mut()
        .par_chunks_mut(nx * ny)
        .enumerate()
        .for_each_init(
            || vec![0f32; nx * ny],
            |buf, (k, out)| {
                render_slice(scene, config, geometry, k, buf);
                add_noise(buf, nx, ny, k, config.seed, config.noise_sd_hu);
                for j in 0..ny {
                    for i in 0..nx {
                        let n = j * nx + i;
                        let outside = fov.is_some_and(|(_, r)| {
                            let dx = (i as f64 - centre_i) * sp[0];
                            let dy = (j as f64 - centre_j) * sp[1];
                            dx * dx + dy * dy > r * r
                        });
                        out[n] = match fov {
                            Some((pad, _)) if outside => pad,
                            _ => buf[n].round().clamp(-1024.0, 3071.0) as i16,
                        };
                    }
                }
            },
        );
    volume
}
