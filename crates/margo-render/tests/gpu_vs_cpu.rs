//! The GPU MPR against margo_volume's CPU reslice: same plane, same sampling, within one 8-bit
//! grey level, on small synthetic volumes with anisotropic spacing and rotated direction matrices,
//! for standard and oblique planes, nearest and linear, and thick slabs.

mod common;

use margo_render::{Frame, Interpolation, MprView, Slab, SlabMode, WindowLevel};
use margo_volume::nalgebra::{Matrix3, Point3, Rotation3, Vector3};
use margo_volume::reslice::reslice;
use margo_volume::{AnatomicalView, Volume, VolumeGeometry};

fn rotated(axis: Vector3<f64>, angle_deg: f64) -> Matrix3<f64> {
    *Rotation3::from_axis_angle(
        &margo_volume::nalgebra::Unit::new_normalize(axis),
        angle_deg.to_radians(),
    )
    .matrix()
}

/// Smooth structure plus voxel noise, HU within [-1000, 1000] (exact in f16).
fn test_volume(
    dims: [usize; 3],
    spacing: [f64; 3],
    origin: [f64; 3],
    direction: Matrix3<f64>,
) -> Volume<i16> {
    let geometry = VolumeGeometry::new(dims, spacing, origin, direction).unwrap();
    Volume::from_fn(geometry, |i, j, k| {
        let smooth = 600.0
            * ((i as f64 * 0.7).sin() + (j as f64 * 0.45).cos() * (k as f64 * 0.6).sin())
            / 2.0;
        (smooth + 400.0 * (common::noise(i, j, k) - 0.5)).round() as i16
    })
}

/// True when a continuous index is too close to a cell border (grid edge, or a nearest-neighbour
/// tie) for f32 GPU maths and f64 CPU maths to be expected to agree.
fn ambiguous(volume: &Volume<i16>, p: &Point3<f64>, interpolation: Interpolation) -> bool {
    let g = volume.geometry();
    let idx = g.index_from_world(p);
    (0..3).any(|a| {
        let n = g.dims()[a] as f64;
        let edge = (idx[a] + 0.5).abs() < 1e-3 || (idx[a] - (n - 0.5)).abs() < 1e-3;
        let tie = interpolation == Interpolation::Nearest
            && ((idx[a] + 0.5) - (idx[a] + 0.5).round()).abs() < 1e-3;
        edge || tie
    })
}

/// Expected 8-bit grey of each pixel (None where ambiguous), from the CPU reslice.
fn cpu_reference(volume: &Volume<i16>, view: &MprView) -> Vec<Option<u8>> {
    let grid = view.grid().unwrap();
    let (samples, step) = view.slab_sampling(volume.geometry()).unwrap();
    let thickness = view.slab.map_or(0.0, |s| s.thickness_mm);
    let offsets: Vec<f64> = if samples <= 1 {
        vec![0.0]
    } else {
        (0..samples)
            .map(|k| -0.5 * thickness + f64::from(k) * step)
            .collect()
    };
    let layers: Vec<Vec<Option<f32>>> = offsets
        .iter()
        .map(|o| reslice(volume, &grid.shifted(*o), view.interpolation))
        .collect();
    (0..grid.width() * grid.height())
        .map(|n| {
            let (px, py) = (n % grid.width(), n / grid.width());
            let centre = grid.world_from_pixel(px, py);
            if offsets.iter().any(|o| {
                ambiguous(
                    volume,
                    &(centre + grid.normal_in_world() * *o),
                    view.interpolation,
                )
            }) {
                return None;
            }
            let values: Vec<f64> = layers.iter().filter_map(|l| l[n]).map(f64::from).collect();
            if values.is_empty() {
                return Some(0);
            }
            let hu = match view.slab.map(|s| s.mode) {
                None => values[0],
                Some(SlabMode::Mip) => values.iter().cloned().fold(f64::MIN, f64::max),
                Some(SlabMode::MinIp) => values.iter().cloned().fold(f64::MAX, f64::min),
                Some(SlabMode::Mean) => values.iter().sum::<f64>() / values.len() as f64,
            };
            Some(view.window.grey8_from_hu(hu))
        })
        .collect()
}

fn compare(
    renderer: &mut margo_render::Renderer,
    volume: &Volume<i16>,
    view: &MprView,
    what: &str,
) {
    let image = renderer.render_to_rgba(&Frame::Mpr(view.clone())).unwrap();
    let expected = cpu_reference(volume, view);
    let (mut checked, mut inside, mut worst) = (0, 0, 0i32);
    for (n, e) in expected.iter().enumerate() {
        let Some(e) = e else { continue };
        let px = &image.pixels[n * 4..n * 4 + 4];
        assert_eq!(px[3], 255);
        assert!(
            px[0] == px[1] && px[1] == px[2],
            "{what}: grey expected, got {px:?}"
        );
        let diff = (i32::from(px[0]) - i32::from(*e)).abs();
        worst = worst.max(diff);
        assert!(
            diff <= 1,
            "{what}: pixel ({}, {}) GPU {} vs CPU {e}",
            n % view.width_px as usize,
            n / view.width_px as usize,
            px[0]
        );
        checked += 1;
        if *e > 0 {
            inside += 1;
        }
    }
    // The comparison must actually cover the volume, not only background.
    assert!(
        checked * 10 >= expected.len() * 9,
        "{what}: only {checked} of {} pixels comparable",
        expected.len()
    );
    assert!(
        inside * 4 >= checked,
        "{what}: only {inside} of {checked} pixels inside the volume"
    );
    eprintln!("{what}: {checked} pixels, worst difference {worst}");
}

fn views_for(volume: &Volume<i16>) -> Vec<(String, MprView)> {
    let g = volume.geometry();
    let c = g.center_in_world() + Vector3::new(0.37, -0.21, 0.13);
    let fov = g.world_bounds().size_mm().max() * 0.8;
    let mut out = Vec::new();
    for av in AnatomicalView::ALL {
        out.push((
            av.name().to_string(),
            MprView::anatomical(av, c, fov, 48, 40),
        ));
    }
    out.push((
        "oblique".into(),
        MprView::oblique(
            c,
            Vector3::new(1.0, 2.0, 3.0),
            Vector3::new(0.2, -1.0, 0.4),
            fov,
            44,
            52,
        )
        .unwrap(),
    ));
    out.push((
        "oblique-steep".into(),
        MprView::oblique(
            c,
            Vector3::new(-0.8, 0.1, 0.3),
            Vector3::new(0.0, 0.3, 1.0),
            fov * 0.7,
            40,
            40,
        )
        .unwrap(),
    ));
    for (_, v) in &mut out {
        v.window = WindowLevel::new(0.0, 2000.0).unwrap();
        v.show_overlays = false;
    }
    out
}

#[test]
fn mpr_matches_cpu_reslice_on_anisotropic_and_rotated_volumes() {
    let Some(mut renderer) =
        common::renderer("mpr_matches_cpu_reslice_on_anisotropic_and_rotated_volumes")
    else {
        return;
    };
    let volumes = [
        (
            "iso",
            test_volume(
                [20, 18, 16],
                [1.0, 1.0, 1.0],
                [-10.0, -9.0, -8.0],
                Matrix3::identity(),
            ),
        ),
        (
            "aniso",
            test_volume(
                [24, 20, 12],
                [0.7, 0.9, 2.5],
                [3.0, -40.0, 100.0],
                Matrix3::identity(),
            ),
        ),
        (
            "rotated",
            test_volume(
                [18, 22, 14],
                [0.8, 1.1, 1.7],
                [5.0, 2.0, -3.0],
                rotated(Vector3::new(1.0, -2.0, 0.5), 33.0),
            ),
        ),
        (
            "flipped",
            // Feet-first-like: slices go inferior, rows anterior, a permutation with flips.
            test_volume(
                [16, 20, 18],
                [1.2, 0.6, 1.5],
                [0.0, 0.0, 0.0],
                Matrix3::new(-1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0),
            ),
        ),
    ];
    for (vname, volume) in &volumes {
        renderer.upload_volume(volume).unwrap();
        for (name, view) in views_for(volume) {
            for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
                let mut v = view.clone();
                v.interpolation = interpolation;
                compare(
                    &mut renderer,
                    volume,
                    &v,
                    &format!("{vname}/{name}/{interpolation:?}"),
                );
            }
        }
    }
}

#[test]
fn slabs_match_cpu_max_min_and_mean_of_shifted_planes() {
    let Some(mut renderer) = common::renderer("slabs_match_cpu_max_min_and_mean_of_shifted_planes")
    else {
        return;
    };
    let volume = test_volume(
        [22, 20, 14],
        [0.8, 0.8, 2.0],
        [-8.0, -8.0, -13.0],
        rotated(Vector3::new(0.3, 1.0, 0.2), 20.0),
    );
    renderer.upload_volume(&volume).unwrap();
    for (name, view) in views_for(&volume) {
        for mode in [SlabMode::Mip, SlabMode::MinIp, SlabMode::Mean] {
            let mut v = view.clone();
            v.slab = Some(Slab {
                mode,
                thickness_mm: 6.0,
            });
            compare(&mut renderer, &volume, &v, &format!("slab {mode:?}/{name}"));
        }
    }
}
