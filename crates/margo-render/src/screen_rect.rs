//! The pixel rectangle a ray-cast view can draw into: the projection of the volume's box and of
//! the overlay shapes. Pixels outside it show the background, so the renderer scissors the
//! pass to it. On a GPU that saves little, but a software rasteriser (lavapipe) runs the whole
//! ray loop body once for every 8-pixel group even when no lane's ray meets the volume, which
//! costs about a tenth of a DVR frame when the volume covers half the view.

use margo_volume::VolumeGeometry;
use margo_volume::nalgebra::{Matrix4, Point3, Vector3};

use crate::gpu_types::{FLAG_OVERLAYS, OverlayUniforms, ViewUniforms};

/// Extra pixels kept around the projected hull (pixel-centre rounding, f32 in the shader).
const MARGIN_PX: f64 = 2.0;

/// `[x, y, width, height]` in view pixels enclosing every pixel whose ray can meet the volume
/// box or a shown overlay shape, or `None` when that is not known to be smaller than the view
/// (a point at or behind the eye).
pub(crate) fn ray_view_rect(
    u: &ViewUniforms,
    geometry: &VolumeGeometry,
    overlays: &OverlayUniforms,
) -> Option<[u32; 4]> {
    // The box the ray caster samples: voxel faces, texture coordinates 0 and 1.
    let mut points = geometry.corners_in_world().to_vec();
    if u.modes[3] & FLAG_OVERLAYS != 0 {
        overlay_hull_points(overlays, &mut points);
    }
    projected_rect(u, &points)
}

/// Points whose convex hull holds every overlay shape: the corners of a box around each
/// sphere and capsule end, and the image of the unit cube around each ellipsoid.
fn overlay_hull_points(o: &OverlayUniforms, out: &mut Vec<Point3<f64>>) {
    let v = |a: [f32; 4]| Point3::new(f64::from(a[0]), f64::from(a[1]), f64::from(a[2]));
    let cube = |centre: Point3<f64>, r: f64, out: &mut Vec<Point3<f64>>| {
        for c in 0..8 {
            let s = |bit: i32| if c & bit == 0 { -r } else { r };
            out.push(centre + Vector3::new(s(1), s(2), s(4)));
        }
    };
    let counts = o.counts.map(|c| c as usize);
    for e in o.ellipsoids.iter().take(counts[0]) {
        let unit_from_world = Matrix4::from_fn(|r, c| f64::from(e.unit_from_world[c][r]));
        let Some(world_from_unit) = unit_from_world.try_inverse() else {
            continue;
        };
        for c in 0..8 {
            let s = |bit: i32| if c & bit == 0 { -1.0 } else { 1.0 };
            out.push(world_from_unit.transform_point(&Point3::new(s(1), s(2), s(4))));
        }
    }
    for s in o.segments.iter().take(counts[1]) {
        let r = f64::from(s.a[3].max(s.b[3]).max(0.0));
        cube(v(s.a), r, out);
        cube(v(s.b), r, out);
    }
    for p in o.points.iter().take(counts[2]) {
        cube(v(p.position), f64::from(p.position[3].max(0.0)), out);
    }
}

/// Pixel bounds of `points` seen by the view's camera, as the shader builds its rays: the ray
/// through pixel position (px, py) has direction Z + (px - w/2) X + (py - h/2) Y.
fn projected_rect(u: &ViewUniforms, points: &[Point3<f64>]) -> Option<[u32; 4]> {
    let v = |a: [f32; 4]| Vector3::new(f64::from(a[0]), f64::from(a[1]), f64::from(a[2]));
    let (eye, x, y, z) = (
        v(u.origin_world),
        v(u.axis_x_world),
        v(u.axis_y_world),
        v(u.axis_z_world),
    );
    let (w, h) = (f64::from(u.screen[0]), f64::from(u.screen[1]));
    let (xx, yy, zz) = (x.norm_squared(), y.norm_squared(), z.norm_squared());
    let axes_valid = xx > 0.0 && yy > 0.0 && zz > 0.0;
    if !axes_valid {
        return None;
    }
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in points {
        let rel = p.coords - eye;
        // rel = depth * (Z + a X + b Y) with X, Y, Z orthogonal.
        let depth = rel.dot(&z) / zz;
        // NaN (non-finite input) fails this test too.
        let in_front = depth > 1e-6;
        if !in_front || !p.coords.iter().all(|c| c.is_finite()) {
            return None;
        }
        let px = 0.5 * w + rel.dot(&x) / xx / depth;
        let py = 0.5 * h + rel.dot(&y) / yy / depth;
        lo = [lo[0].min(px), lo[1].min(py)];
        hi = [hi[0].max(px), hi[1].max(py)];
    }
    let x0 = (lo[0] - MARGIN_PX).floor().clamp(0.0, w);
    let y0 = (lo[1] - MARGIN_PX).floor().clamp(0.0, h);
    let x1 = (hi[0] + MARGIN_PX).ceil().clamp(0.0, w);
    let y1 = (hi[1] + MARGIN_PX).ceil().clamp(0.0, h);
    Some([x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu_types::GpuSegment;
    use crate::raycast::{RaycastView, TransferFunctionPreset};

    /// An oblique, anisotropic volume whose box sits off the view centre.
    fn geometry() -> VolumeGeometry {
        let r = margo_volume::nalgebra::Rotation3::from_euler_angles(0.3, -0.2, 0.5);
        VolumeGeometry::new(
            [60, 40, 25],
            [0.8, 1.1, 2.5],
            [-30.0, 10.0, 40.0],
            *r.matrix(),
        )
        .expect("valid geometry")
    }

    /// Whether the shader's ray through pixel (px, py) meets the texture box (slab test in
    /// texture space, independent of the projection above).
    fn ray_meets_box(u: &ViewUniforms, geometry: &VolumeGeometry, px: f64, py: f64) -> bool {
        let v = |a: [f32; 4]| Vector3::new(f64::from(a[0]), f64::from(a[1]), f64::from(a[2]));
        let (w, h) = (f64::from(u.screen[0]), f64::from(u.screen[1]));
        let d = v(u.axis_z_world)
            + (px - 0.5 * w) * v(u.axis_x_world)
            + (py - 0.5 * h) * v(u.axis_y_world);
        let m = geometry.texture_from_world();
        let o = m.transform_point(&Point3::from(v(u.origin_world)));
        let d = m.transform_vector(&d);
        let (mut t0, mut t1) = (0.0f64, f64::INFINITY);
        for a in 0..3 {
            if d[a].abs() < 1e-15 {
                if !(0.0..=1.0).contains(&o[a]) {
                    return false;
                }
                continue;
            }
            let (ta, tb) = ((0.0 - o[a]) / d[a], (1.0 - o[a]) / d[a]);
            t0 = t0.max(ta.min(tb));
            t1 = t1.min(ta.max(tb));
        }
        t0 <= t1
    }

    #[test]
    fn pixels_outside_the_rect_see_no_volume_and_the_rect_is_tight() {
        let g = geometry();
        for (azimuth, elevation, zoom) in [
            (0.0, 0.0, 0.6),
            (35.0, 20.0, 0.8),
            (-120.0, -60.0, 0.5),
            (90.0, 80.0, 0.7),
        ] {
            let mut view = RaycastView::new(&g, TransferFunctionPreset::Bone, 320, 240);
            view.azimuth_deg = azimuth;
            view.elevation_deg = elevation;
            view.pixel_size_mm /= zoom;
            // Off centre, so that the rect is not symmetric.
            view.target_in_world += Vector3::new(12.0, -7.0, 5.0);
            let u = view.uniforms(&g, 0).expect("valid view");
            let [x, y, w, h] =
                ray_view_rect(&u, &g, &OverlayUniforms::default()).expect("volume in front");
            let mut hits = 0;
            for py in 0..240 {
                for px in 0..320 {
                    let meets = ray_meets_box(&u, &g, px as f64 + 0.5, py as f64 + 0.5);
                    let inside = (x..x + w).contains(&px) && (y..y + h).contains(&py);
                    assert!(
                        inside || !meets,
                        "pixel ({px}, {py}) sees the volume outside {:?}",
                        [x, y, w, h]
                    );
                    hits += usize::from(meets);
                }
            }
            // Tight: the rect is the hull's bounds plus the margin, not the whole view.
            let area = (w * h) as usize;
            assert!(
                hits > 0 && area < 320 * 240,
                "{:?}: {hits} hits",
                [x, y, w, h]
            );
            for (edge_x, edge_y) in [
                (x + 2 * MARGIN_PX as u32 + 1, y + h / 2),
                (x + w / 2, y + 2 * MARGIN_PX as u32 + 1),
            ] {
                let row = (0..320)
                    .any(|px| ray_meets_box(&u, &g, px as f64 + 0.5, f64::from(edge_y) + 0.5));
                let col = (0..240)
                    .any(|py| ray_meets_box(&u, &g, f64::from(edge_x) + 0.5, py as f64 + 0.5));
                assert!(row && col, "a ray near the rect's edge should meet the box");
            }
        }
    }

    #[test]
    fn overlays_outside_the_volume_widen_the_rect_and_a_point_behind_the_eye_disables_it() {
        let g = geometry();
        let view = RaycastView::new(&g, TransferFunctionPreset::Bone, 320, 240);
        let u = view.uniforms(&g, FLAG_OVERLAYS).expect("valid view");
        let none = OverlayUniforms::default();
        let base = ray_view_rect(&u, &g, &none).expect("volume in front");
        // A probe shaft reaching far to the patient's left of the volume.
        let mut o = OverlayUniforms::default();
        o.counts[1] = 1;
        let c = g.world_bounds().center();
        o.segments[0] = GpuSegment {
            a: [c.x as f32, c.y as f32, c.z as f32, 1.0],
            b: [c.x as f32 + 150.0, c.y as f32, c.z as f32, 1.0],
            ..Default::default()
        };
        let wide = ray_view_rect(&u, &g, &o).expect("probe in front");
        assert!(
            wide[0] + wide[2] > base[0] + base[2] || wide[0] < base[0],
            "{base:?} vs {wide:?}"
        );
        // Not shown: no effect.
        let hidden = view.uniforms(&g, 0).expect("valid view");
        let mut hidden = hidden;
        hidden.modes[3] &= !FLAG_OVERLAYS;
        assert_eq!(ray_view_rect(&hidden, &g, &o), Some(base));
        // An end point behind the eye: the projection is unbounded, no rect.
        let eye = Point3::from(Vector3::new(
            f64::from(u.origin_world[0]),
            f64::from(u.origin_world[1]),
            f64::from(u.origin_world[2]),
        ));
        let behind = eye
            - Vector3::new(
                f64::from(u.axis_z_world[0]),
                f64::from(u.axis_z_world[1]),
                f64::from(u.axis_z_world[2]),
            );
        o.segments[0].b = [behind.x as f32, behind.y as f32, behind.z as f32, 1.0];
        assert_eq!(ray_view_rect(&u, &g, &o), None);
    }
}
