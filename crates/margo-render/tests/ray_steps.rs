//! Interactive ray casting (a step 2..4 times coarser while the user drags) must show the same
//! anatomy in the same place: a ball rendered at the full and at the interactive step has the
//! same centroid on screen, for three viewpoints, on anisotropic voxels with odd counts.

mod common;

use margo_render::{Frame, RaycastView, TransferFunctionPreset};
use margo_volume::nalgebra::Point3;
use margo_volume::{Volume, VolumeGeometry};

/// Luminance-weighted centroid (x, y) in pixels and the summed luminance.
fn centroid(img: &margo_render::RgbaImage) -> (f64, f64, f64) {
    let (mut sx, mut sy, mut s) = (0.0, 0.0, 0.0);
    for y in 0..img.height {
        for x in 0..img.width {
            let p = img.pixel(x, y);
            let l = f64::from(p[0]) + f64::from(p[1]) + f64::from(p[2]);
            sx += l * (f64::from(x) + 0.5);
            sy += l * (f64::from(y) + 0.5);
            s += l;
        }
    }
    (sx / s, sy / s, s)
}

#[test]
fn interactive_steps_keep_the_anatomy_in_place() {
    let Some(mut r) = common::renderer("interactive_steps_keep_the_anatomy_in_place") else {
        return;
    };
    // Anisotropic voxels, odd counts.
    let spacing = [0.6, 0.8, 2.0];
    let dims = [41, 39, 20];
    let origin = [-12.0, -15.2, -19.0];
    let geometry = VolumeGeometry::axis_aligned(dims, spacing, origin).unwrap();
    let centre = Point3::new(3.3, -2.1, 1.0);
    let g = geometry.clone();
    let volume = Volume::from_fn(geometry, move |i, j, k| {
        let d = (g.world_from_ijk([i, j, k]) - centre).norm();
        // A ball with a soft edge (partial volume), bone inside.
        (1000.0 - 400.0 * (d - 6.0).clamp(0.0, 5.0)) as i16
    });
    r.upload_volume(&volume).unwrap();
    let mut view = RaycastView::new(volume.geometry(), TransferFunctionPreset::Bone, 96, 96);
    view.target_in_world = Point3::new(2.0, 0.0, 0.0);
    view.pixel_size_mm = 0.3;
    for (azimuth, elevation) in [(0.0, 0.0), (90.0, 0.0), (30.0, -60.0)] {
        view.azimuth_deg = azimuth;
        view.elevation_deg = elevation;
        let full = r.render_to_rgba(&Frame::Raycast(view.clone())).unwrap();
        let interactive = r
            .render_to_rgba(&Frame::Raycast(RaycastView {
                step_scale: 4.0,
                ..view.clone()
            }))
            .unwrap();
        let (fx, fy, fl) = centroid(&full);
        let (ix, iy, il) = centroid(&interactive);
        assert!(fl > 1e5, "the ball is visible at azimuth {azimuth}");
        // 0.5 px = 0.15 mm, a quarter of the finest voxel.
        assert!(
            (fx - ix).abs() < 0.5 && (fy - iy).abs() < 0.5,
            "azimuth {azimuth}, elevation {elevation}: full ({fx:.2}, {fy:.2}) vs interactive ({ix:.2}, {iy:.2})"
        );
        assert!(
            (il / fl - 1.0).abs() < 0.15,
            "similar brightness: {il} vs {fl}"
        );
    }
}
