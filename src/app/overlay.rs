//! Geometry of what is drawn over a 2D view, in screen pixels of its [`SliceGrid`]: the exact
//! outline where a plane cuts an ellipsoid (ablation zones), the scale bar's length, and the
//! lines where other views' planes cut this one. Pure maths, unit-tested; the UI only paints.

use margo_volume::SliceGrid;
use margo_volume::nalgebra::{Matrix2, Matrix3, Point3, Vector2, Vector3};

/// An ellipsoid in world space: centre, unit axes (columns) and semi-axes in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ellipsoid {
    pub center_in_world: Point3<f64>,
    pub axes_in_world: Matrix3<f64>,
    pub semi_axes_mm: Vector3<f64>,
}

/// The outline where `grid`'s plane cuts `e`, as `segments` screen points (px), or None when
/// the plane misses it. Exact: the cut of an ellipsoid by a plane is an ellipse, found from
/// the quadratic form restricted to the plane.
pub fn ellipsoid_outline(
    e: &Ellipsoid,
    grid: &SliceGrid,
    segments: usize,
) -> Option<Vec<[f64; 2]>> {
    if e.semi_axes_mm.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return None;
    }
    // a(x) = diag(1/semi) R^T (x - c); inside <=> |a(x)| <= 1. On the plane,
    // x = o + s r + t d (s, t in mm), so a = e0 + s u + t v.
    let scale = Matrix3::from_diagonal(&e.semi_axes_mm.map(|s| 1.0 / s));
    let a = scale * e.axes_in_world.transpose();
    let o = grid.center_in_world();
    let e0 = a * (o - e.center_in_world);
    let u = a * grid.right_in_world();
    let v = a * grid.down_in_world();
    let g = Matrix2::new(u.dot(&u), u.dot(&v), u.dot(&v), v.dot(&v));
    let b = Vector2::new(u.dot(&e0), v.dot(&e0));
    let g_inv = g.try_inverse()?;
    let x_min = -(g_inv * b);
    let q_min = e0.dot(&e0) - b.dot(&(g_inv * b));
    // Also rejects NaN (a degenerate plane).
    if q_min.is_nan() || q_min >= 1.0 {
        return None;
    }
    let eig = g.symmetric_eigen();
    let r = 1.0 - q_min;
    let axes: Vec<Vector2<f64>> = (0..2)
        .map(|k| eig.eigenvectors.column(k) * (r / eig.eigenvalues[k].max(1e-18)).sqrt())
        .collect();
    let px = grid.pixel_size_mm();
    let (cx, cy) = (grid.width() as f64 / 2.0, grid.height() as f64 / 2.0);
    Some(
        (0..=segments.max(8))
            .map(|n| {
                let th = n as f64 / segments.max(8) as f64 * std::f64::consts::TAU;
                let st = x_min + axes[0] * th.cos() + axes[1] * th.sin();
                [cx + st.x / px, cy + st.y / px]
            })
            .collect(),
    )
}

/// A round scale-bar length (1, 2, 5 x 10^n mm) no longer than `max_mm`.
pub fn scale_bar_mm(max_mm: f64) -> f64 {
    if !(max_mm.is_finite() && max_mm > 0.0) {
        return 1.0;
    }
    let pow = 10f64.powf(max_mm.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|&l| l <= max_mm)
        .unwrap_or(pow)
}

/// Where the plane with normal `other_normal` through `point` cuts `grid`'s plane: a screen
/// point on the line and its unit screen direction, or None when the planes are parallel.
pub fn plane_intersection_line(
    grid: &SliceGrid,
    point: &Point3<f64>,
    other_normal: &Vector3<f64>,
) -> Option<([f64; 2], [f64; 2])> {
    let dir = grid.normal_in_world().cross(other_normal);
    if dir.norm() < 1e-6 {
        return None;
    }
    let (x, y, _) = grid.screen_from_world(point);
    // Project `point` onto this plane along the other plane (keeps it on the other plane):
    // the in-plane direction perpendicular to the line, within the other plane, is not
    // needed for the standard case where `point` lies on both planes.
    let d = Vector2::new(
        dir.dot(&grid.right_in_world()),
        dir.dot(&grid.down_in_world()),
    );
    let d = d.try_normalize(1e-9)?;
    Some(([x, y], [d.x, d.y]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use margo_volume::AnatomicalView;

    #[test]
    fn sphere_cut_off_centre_has_the_chord_radius() {
        // Sphere r = 10 mm at the origin, axial plane at z = 6: circle of radius 8 mm.
        let e = Ellipsoid {
            center_in_world: Point3::origin(),
            axes_in_world: Matrix3::identity(),
            semi_axes_mm: Vector3::new(10.0, 10.0, 10.0),
        };
        let grid = SliceGrid::anatomical(
            AnatomicalView::Axial,
            Point3::new(0.0, 0.0, 6.0),
            40.0,
            80,
            80,
        )
        .unwrap();
        let pts = ellipsoid_outline(&e, &grid, 64).unwrap();
        for p in &pts {
            let r_mm = ((p[0] - 40.0).hypot(p[1] - 40.0)) * 0.5;
            assert!((r_mm - 8.0).abs() < 1e-9, "{r_mm}");
        }
        let far = SliceGrid::anatomical(
            AnatomicalView::Axial,
            Point3::new(0.0, 0.0, 10.5),
            40.0,
            80,
            80,
        )
        .unwrap();
        assert!(ellipsoid_outline(&e, &far, 64).is_none());
    }

    #[test]
    fn rotated_ellipsoid_cut_points_lie_on_its_surface() {
        let rot = margo_volume::nalgebra::Rotation3::from_euler_angles(0.3, -0.5, 1.1);
        let e = Ellipsoid {
            center_in_world: Point3::new(3.0, -2.0, 1.0),
            axes_in_world: *rot.matrix(),
            semi_axes_mm: Vector3::new(20.0, 12.0, 8.0),
        };
        let grid = SliceGrid::new(
            Point3::new(1.0, 0.0, 2.0),
            Vector3::new(1.0, 0.2, 0.1),
            Vector3::new(0.0, 0.3, -1.0),
            0.25,
            200,
            150,
        )
        .unwrap();
        let pts = ellipsoid_outline(&e, &grid, 50).unwrap();
        for p in pts {
            let w = grid.world_from_screen(p[0], p[1]);
            let local = rot.inverse() * (w - e.center_in_world);
            let q = (local.x / 20.0).powi(2) + (local.y / 12.0).powi(2) + (local.z / 8.0).powi(2);
            assert!((q - 1.0).abs() < 1e-9, "{q}");
        }
    }

    #[test]
    fn scale_bar_is_round() {
        assert_eq!(scale_bar_mm(73.0), 50.0);
        assert_eq!(scale_bar_mm(20.0), 20.0);
        assert_eq!(scale_bar_mm(9.9), 5.0);
        assert_eq!(scale_bar_mm(0.0), 1.0);
    }

    #[test]
    fn axial_and_coronal_meet_on_a_horizontal_screen_line() {
        let grid = SliceGrid::anatomical(
            AnatomicalView::Axial,
            Point3::new(0.0, 0.0, 0.0),
            40.0,
            80,
            80,
        )
        .unwrap();
        let (p, d) = plane_intersection_line(
            &grid,
            &Point3::new(5.0, 2.0, 0.0),
            &AnatomicalView::Coronal.normal_in_world(),
        )
        .unwrap();
        assert!((p[0] - 50.0).abs() < 1e-9 && (p[1] - 44.0).abs() < 1e-9);
        assert!(d[1].abs() < 1e-9 && (d[0].abs() - 1.0).abs() < 1e-9);
        assert!(plane_intersection_line(&grid, &Point3::origin(), &Vector3::z()).is_none());
    }
}
