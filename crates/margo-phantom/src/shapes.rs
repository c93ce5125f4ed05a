//! Analytic shapes with signed-distance bounds (negative inside, in mm).
//!
//! Each `sdf` returns a value whose magnitude is a *lower bound* on the distance to the surface
//! (or close to one). The rasteriser uses it to decide whether a voxel is uniform (one sample) or
//! straddles a boundary (supersampled), so an underestimate only costs time, never accuracy.

use margo_volume::nalgebra::{Matrix3, Point3, Vector3};
use serde::{Deserialize, Serialize};

/// A tube around a segment whose radius goes linearly from `radius_a_mm` to `radius_b_mm`
/// (rounded ends). Vessels, airways, ribs and the aorta are chains of these.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capsule {
    pub a_lps_mm: [f64; 3],
    pub b_lps_mm: [f64; 3],
    pub radius_a_mm: f64,
    pub radius_b_mm: f64,
}

impl Capsule {
    pub fn new(a: Point3<f64>, b: Point3<f64>, radius_a_mm: f64, radius_b_mm: f64) -> Self {
        Self {
            a_lps_mm: a.coords.into(),
            b_lps_mm: b.coords.into(),
            radius_a_mm,
            radius_b_mm,
        }
    }

    pub fn a(&self) -> Point3<f64> {
        Point3::from(self.a_lps_mm)
    }

    pub fn b(&self) -> Point3<f64> {
        Point3::from(self.b_lps_mm)
    }

    pub fn max_radius_mm(&self) -> f64 {
        self.radius_a_mm.max(self.radius_b_mm)
    }

    pub fn length_mm(&self) -> f64 {
        (self.b() - self.a()).norm()
    }

    /// Distance from the axis minus the local radius, with the radius grown by `extra_mm` (for
    /// walls around a lumen).
    #[inline]
    pub fn sdf(&self, p: &Point3<f64>, extra_mm: f64) -> f64 {
        let a = self.a();
        let ab = self.b() - a;
        let len2 = ab.norm_squared();
        let t = if len2 > 0.0 {
            ((p - a).dot(&ab) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let closest = a + ab * t;
        let r = self.radius_a_mm + (self.radius_b_mm - self.radius_a_mm) * t + extra_mm;
        (p - closest).norm() - r
    }

    /// Axis-aligned bounds grown by `pad_mm`.
    pub fn bounds(&self, pad_mm: f64) -> (Point3<f64>, Point3<f64>) {
        let r = self.max_radius_mm() + pad_mm;
        let lo = self.a().inf(&self.b()) - Vector3::repeat(r);
        let hi = self.a().sup(&self.b()) + Vector3::repeat(r);
        (lo, hi)
    }
}

/// A capsule with its per-query constants precomputed, for the hot loops.
#[derive(Debug, Clone, Copy)]
pub struct PreparedCapsule {
    a: Vector3<f64>,
    ab: Vector3<f64>,
    inv_len2: f64,
    radius_a: f64,
    radius_delta: f64,
}

impl PreparedCapsule {
    pub fn new(c: &Capsule) -> Self {
        let ab = c.b() - c.a();
        let len2 = ab.norm_squared();
        Self {
            a: c.a().coords,
            ab,
            inv_len2: if len2 > 0.0 { 1.0 / len2 } else { 0.0 },
            radius_a: c.radius_a_mm,
            radius_delta: c.radius_b_mm - c.radius_a_mm,
        }
    }

    /// Signed distance (as [`Capsule::sdf`]) grown by `extra_mm`, computed only when it can
    /// matter: returns `None` when the point is outside by more than `within_mm`.
    #[inline]
    pub fn sdf_within(&self, p: &Point3<f64>, extra_mm: f64, within_mm: f64) -> Option<f64> {
        let ap = p.coords - self.a;
        let t = (ap.dot(&self.ab) * self.inv_len2).clamp(0.0, 1.0);
        let d = ap - self.ab * t;
        let r = self.radius_a + self.radius_delta * t + extra_mm;
        let reach = r + within_mm;
        let d2 = d.norm_squared();
        if d2 > reach * reach {
            None
        } else {
            Some(d2.sqrt() - r)
        }
    }
}

/// An ellipsoid with semi-axes along the columns of `rotation` (world from local).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ellipsoid {
    pub centre_lps_mm: [f64; 3],
    pub semi_axes_mm: [f64; 3],
    /// Row-major 3x3: columns are the unit directions of the three semi-axes in LPS.
    pub axes_lps: [[f64; 3]; 3],
}

impl Ellipsoid {
    pub fn new(centre: Point3<f64>, semi_axes_mm: [f64; 3], rotation: Matrix3<f64>) -> Self {
        let mut axes_lps = [[0.0; 3]; 3];
        for (r, row) in axes_lps.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = rotation[(r, c)];
            }
        }
        Self {
            centre_lps_mm: centre.coords.into(),
            semi_axes_mm,
            axes_lps,
        }
    }

    pub fn axis_aligned(centre: Point3<f64>, semi_axes_mm: [f64; 3]) -> Self {
        Self::new(centre, semi_axes_mm, Matrix3::identity())
    }

    pub fn centre(&self) -> Point3<f64> {
        Point3::from(self.centre_lps_mm)
    }

    pub fn rotation(&self) -> Matrix3<f64> {
        Matrix3::from_fn(|r, c| self.axes_lps[r][c])
    }

    pub fn grown(&self, by_mm: f64) -> Self {
        Self {
            semi_axes_mm: self.semi_axes_mm.map(|s| s + by_mm),
            ..*self
        }
    }

    /// Point in the ellipsoid's own frame (axes = semi-axes directions).
    #[inline]
    pub fn local(&self, p: &Point3<f64>) -> Vector3<f64> {
        let d = p - self.centre();
        let a = &self.axes_lps;
        Vector3::new(
            a[0][0] * d.x + a[1][0] * d.y + a[2][0] * d.z,
            a[0][1] * d.x + a[1][1] * d.y + a[2][1] * d.z,
            a[0][2] * d.x + a[1][2] * d.y + a[2][2] * d.z,
        )
    }

    /// `(|q| - 1) * min semi-axis` with `q` the point in unit-sphere coordinates: the scaled norm
    /// is 1/min-axis Lipschitz, so this never overstates the distance.
    #[inline]
    pub fn sdf(&self, p: &Point3<f64>) -> f64 {
        let l = self.local(p);
        let s = self.semi_axes_mm;
        let q = Vector3::new(l.x / s[0], l.y / s[1], l.z / s[2]);
        (q.norm() - 1.0) * s[0].min(s[1]).min(s[2])
    }

    pub fn volume_mm3(&self) -> f64 {
        4.0 / 3.0 * std::f64::consts::PI * self.semi_axes_mm.iter().product::<f64>()
    }

    /// Axis-aligned bounds (exact for a rotated ellipsoid) grown by `pad_mm`.
    pub fn bounds(&self, pad_mm: f64) -> (Point3<f64>, Point3<f64>) {
        let r = self.rotation();
        let s = self.semi_axes_mm;
        let half = Vector3::from_fn(|row, _| {
            ((r[(row, 0)] * s[0]).powi(2)
                + (r[(row, 1)] * s[1]).powi(2)
                + (r[(row, 2)] * s[2]).powi(2))
            .sqrt()
                + pad_mm
        });
        (self.centre() - half, self.centre() + half)
    }
}

/// Rotation taking +z to `dir`, with a deterministic choice of the other two axes; `None` for a
/// zero direction.
pub fn frame_from_direction(dir: &Vector3<f64>) -> Option<Matrix3<f64>> {
    let z = dir.try_normalize(1e-12)?;
    let helper = if z.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let x = helper.cross(&z).normalize();
    let y = z.cross(&x);
    Some(Matrix3::from_columns(&[x, y, z]))
}

/// Rotation by `angle_rad` about the unit `axis` (Rodrigues).
/// A zero axis gives the identity (no rotation) rather than NaNs.
pub fn rotation_about(axis: &Vector3<f64>, angle_rad: f64) -> Matrix3<f64> {
    let Some(k) = axis.try_normalize(1e-12) else {
        return Matrix3::identity();
    };
    let (s, c) = angle_rad.sin_cos();
    let kx = Matrix3::new(0.0, -k.z, k.y, k.z, 0.0, -k.x, -k.y, k.x, 0.0);
    Matrix3::identity() + kx * s + kx * kx * (1.0 - c)
}

/// Capsules bucketed in a uniform grid so a point query tests only the few nearby ones.
#[derive(Debug, Clone, Default)]
pub struct CapsuleGrid {
    origin: Point3<f64>,
    cell_mm: f64,
    dims: [usize; 3],
    /// CSR: items of cell c are `items[starts[c]..starts[c + 1]]`.
    starts: Vec<u32>,
    items: Vec<u32>,
    /// Every capsule not listed in a cell is at least this far (plus its wall) from the cell.
    pad_mm: f64,
    /// Per cell: a lower bound on the distance from any point of the cell to any unlisted
    /// capsule (pad, or more for cells far from every capsule).
    clearance_mm: Vec<f32>,
    hi: Point3<f64>,
}

impl CapsuleGrid {
    /// `pad_mm`: how far from a cell a capsule (grown by `extra_mm`, e.g. a wall) may be and
    /// still be listed; queries report at least `pad_mm` as the distance to unlisted ones.
    pub fn build(
        capsules: &[Capsule],
        cell_mm: f64,
        extra_mm: &dyn Fn(&Capsule) -> f64,
        pad_mm: f64,
    ) -> Self {
        if capsules.is_empty() {
            return Self {
                pad_mm,
                cell_mm,
                ..Default::default()
            };
        }
        let bounds: Vec<_> = capsules
            .iter()
            .map(|c| c.bounds(extra_mm(c) + pad_mm))
            .collect();
        let mut lo = bounds[0].0;
        let mut hi = bounds[0].1;
        for (l, h) in &bounds {
            lo = lo.inf(l);
            hi = hi.sup(h);
        }
        let dims = [0, 1, 2].map(|a| (((hi[a] - lo[a]) / cell_mm).ceil() as usize).max(1));
        let n_cells = dims[0] * dims[1] * dims[2];
        let cell_range = |l: &Point3<f64>, h: &Point3<f64>| {
            let c0 =
                [0, 1, 2].map(|a| (((l[a] - lo[a]) / cell_mm).floor() as usize).min(dims[a] - 1));
            let c1 =
                [0, 1, 2].map(|a| (((h[a] - lo[a]) / cell_mm).floor() as usize).min(dims[a] - 1));
            (c0, c1)
        };
        let mut counts = vec![0u32; n_cells + 1];
        for (l, h) in &bounds {
            let (c0, c1) = cell_range(l, h);
            for z in c0[2]..=c1[2] {
                for y in c0[1]..=c1[1] {
                    for x in c0[0]..=c1[0] {
                        counts[x + dims[0] * (y + dims[1] * z) + 1] += 1;
                    }
                }
            }
        }
        for c in 0..n_cells {
            counts[c + 1] += counts[c];
        }
        let starts = counts;
        let mut fill = starts.clone();
        let mut items = vec![0u32; starts[n_cells] as usize];
        for (idx, (l, h)) in bounds.iter().enumerate() {
            let (c0, c1) = cell_range(l, h);
            for z in c0[2]..=c1[2] {
                for y in c0[1]..=c1[1] {
                    for x in c0[0]..=c1[0] {
                        let c = x + dims[0] * (y + dims[1] * z);
                        items[fill[c] as usize] = idx as u32;
                        fill[c] += 1;
                    }
                }
            }
        }
        // Chebyshev distance (in cells) to the nearest non-empty cell, by multi-source BFS.
        let mut steps = vec![u32::MAX; n_cells];
        let mut queue = std::collections::VecDeque::new();
        for (c, s) in steps.iter_mut().enumerate() {
            if starts[c + 1] > starts[c] {
                *s = 0;
                queue.push_back(c);
            }
        }
        while let Some(c) = queue.pop_front() {
            let (x, y, z) = (
                c % dims[0],
                (c / dims[0]) % dims[1],
                c / (dims[0] * dims[1]),
            );
            for dz in -1i64..=1 {
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (nx, ny, nz) = (x as i64 + dx, y as i64 + dy, z as i64 + dz);
                        if nx < 0
                            || ny < 0
                            || nz < 0
                            || nx >= dims[0] as i64
                            || ny >= dims[1] as i64
                            || nz >= dims[2] as i64
                        {
                            continue;
                        }
                        let n = nx as usize + dims[0] * (ny as usize + dims[1] * nz as usize);
                        if steps[n] == u32::MAX {
                            steps[n] = steps[c] + 1;
                            queue.push_back(n);
                        }
                    }
                }
            }
        }
        // Every capsule point lies in a cell that lists it, so a cell d >= 2 cells from any
        // non-empty cell is at least (d - 1) cells from every capsule.
        let clearance_mm = steps
            .iter()
            .map(|&d| {
                if d == u32::MAX {
                    f32::MAX
                } else {
                    pad_mm.max((d.saturating_sub(1)) as f64 * cell_mm) as f32
                }
            })
            .collect();
        let hi = Point3::new(
            lo.x + dims[0] as f64 * cell_mm,
            lo.y + dims[1] as f64 * cell_mm,
            lo.z + dims[2] as f64 * cell_mm,
        );
        Self {
            origin: lo,
            cell_mm,
            dims,
            starts,
            items,
            pad_mm,
            clearance_mm,
            hi,
        }
    }

    /// The capsules that may lie within `pad_mm` of `p`, and a lower bound on the distance from
    /// `p` to every capsule not in that list.
    #[inline]
    pub fn query(&self, p: &Point3<f64>) -> (&[u32], f64) {
        if self.items.is_empty() {
            return (&[], f64::MAX);
        }
        let mut c = [0usize; 3];
        for a in 0..3 {
            let f = (p[a] - self.origin[a]) / self.cell_mm;
            if !(f >= 0.0 && f < self.dims[a] as f64) {
                let dx = (self.origin.x - p.x).max(0.0).max(p.x - self.hi.x);
                let dy = (self.origin.y - p.y).max(0.0).max(p.y - self.hi.y);
                let dz = (self.origin.z - p.z).max(0.0).max(p.z - self.hi.z);
                return (&[], (dx * dx + dy * dy + dz * dz).sqrt() + self.pad_mm);
            }
            c[a] = f as usize;
        }
        let cell = c[0] + self.dims[0] * (c[1] + self.dims[1] * c[2]);
        (
            &self.items[self.starts[cell] as usize..self.starts[cell + 1] as usize],
            self.clearance_mm[cell] as f64,
        )
    }

    pub fn pad_mm(&self) -> f64 {
        self.pad_mm
    }

    /// Indices of the capsules that may lie within `pad_mm` of `p`.
    #[inline]
    pub fn candidates(&self, p: &Point3<f64>) -> &[u32] {
        if self.items.is_empty() {
            return &[];
        }
        let mut c = [0usize; 3];
        for a in 0..3 {
            let f = (p[a] - self.origin[a]) / self.cell_mm;
            if !(f >= 0.0 && f < self.dims[a] as f64) {
                return &[];
            }
            c[a] = f as usize;
        }
        let cell = c[0] + self.dims[0] * (c[1] + self.dims[1] * c[2]);
        &self.items[self.starts[cell] as usize..self.starts[cell + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capsule_sdf_is_distance_for_constant_radius() {
        let c = Capsule::new(
            Point3::new(0.0, 0.0, 0.0),
            Point3::new(0.0, 0.0, 10.0),
            2.0,
            2.0,
        );
        assert!((c.sdf(&Point3::new(5.0, 0.0, 5.0), 0.0) - 3.0).abs() < 1e-12);
        assert!((c.sdf(&Point3::new(0.0, 0.0, 13.0), 0.0) - 1.0).abs() < 1e-12);
        assert!((c.sdf(&Point3::new(0.0, 1.0, 5.0), 0.5) + 1.5).abs() < 1e-12);
    }

    #[test]
    fn ellipsoid_sdf_never_overstates_distance() {
        let rot = rotation_about(&Vector3::new(1.0, 2.0, 3.0), 0.7);
        let e = Ellipsoid::new(Point3::new(1.0, -2.0, 3.0), [6.0, 3.0, 4.0], rot);
        // Dense surface samples; the true distance is >= |sdf|.
        let mut surface = Vec::new();
        for i in 0..60 {
            for j in 0..120 {
                let th = std::f64::consts::PI * (i as f64 + 0.5) / 60.0;
                let ph = std::f64::consts::TAU * j as f64 / 120.0;
                let l = Vector3::new(
                    6.0 * th.sin() * ph.cos(),
                    3.0 * th.sin() * ph.sin(),
                    4.0 * th.cos(),
                );
                surface.push(e.centre() + rot * l);
            }
        }
        let mut r = crate::rng::SplitMix64::new(3);
        for _ in 0..300 {
            let p = e.centre()
                + Vector3::new(r.range(-9.0, 9.0), r.range(-9.0, 9.0), r.range(-9.0, 9.0));
            let true_d = surface
                .iter()
                .map(|s| (s - p).norm())
                .fold(f64::MAX, f64::min);
            assert!(
                e.sdf(&p).abs() <= true_d + 0.15,
                "{} > {}",
                e.sdf(&p).abs(),
                true_d
            );
        }
        let (lo, hi) = e.bounds(0.0);
        for s in &surface {
            assert!((0..3).all(|a| s[a] >= lo[a] - 1e-9 && s[a] <= hi[a] + 1e-9));
        }
    }

    #[test]
    fn grid_lists_every_capsule_near_a_point() {
        let mut r = crate::rng::SplitMix64::new(9);
        let caps: Vec<Capsule> = (0..60)
            .map(|_| {
                let a = Point3::new(
                    r.range(-50.0, 50.0),
                    r.range(-50.0, 50.0),
                    r.range(-50.0, 50.0),
                );
                let b =
                    a + Vector3::new(r.range(-8.0, 8.0), r.range(-8.0, 8.0), r.range(-8.0, 8.0));
                Capsule::new(a, b, r.range(0.5, 3.0), r.range(0.5, 3.0))
            })
            .collect();
        let grid = CapsuleGrid::build(&caps, 6.0, &|_| 0.0, 2.0);
        for _ in 0..2000 {
            let p = Point3::new(
                r.range(-90.0, 90.0),
                r.range(-90.0, 90.0),
                r.range(-90.0, 90.0),
            );
            let listed = grid.candidates(&p);
            let (queried, clearance) = grid.query(&p);
            assert_eq!(queried, listed);
            for (i, c) in caps.iter().enumerate() {
                if c.sdf(&p, 0.0) < 2.0 {
                    assert!(
                        listed.contains(&(i as u32)),
                        "capsule {i} near {p:?} not listed"
                    );
                }
                if !listed.contains(&(i as u32)) {
                    assert!(
                        c.sdf(&p, 0.0) >= clearance - 1e-9,
                        "clearance {clearance} too large"
                    );
                }
            }
        }
    }

    #[test]
    fn frames_are_orthonormal() {
        for d in [Vector3::x(), Vector3::new(0.3, -0.2, 0.9), -Vector3::z()] {
            let f = frame_from_direction(&d).unwrap();
            assert!((f.transpose() * f - Matrix3::identity()).norm() < 1e-12);
            assert!((f.column(2) - d.normalize()).norm() < 1e-12);
        }
        let r = rotation_about(&Vector3::z(), std::f64::consts::FRAC_PI_2);
        assert!((r * Vector3::x() - Vector3::y()).norm() < 1e-12);
        assert_eq!(rotation_about(&Vector3::zeros(), 1.0), Matrix3::identity());
        assert!(frame_from_direction(&Vector3::zeros()).is_none());
    }
}
