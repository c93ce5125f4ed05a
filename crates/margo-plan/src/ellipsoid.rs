//! Ellipsoids in world space (LPS mm) and the exact distance from a point to their surface.
//!
//! The distance uses D. Eberly's method ("Distance from a Point to an Ellipse, an Ellipsoid, or a
//! Hyperellipsoid", Geometric Tools 2013): reflect the point into the first octant of the
//! ellipsoid's frame, then find the root of the secular equation
//! `sum_i (r_i z_i / (s + r_i))^2 = 1` in `s`, which gives the closest surface point. Eberly
//! bisects; we take safeguarded Newton steps inside the same bracket (the function is convex and
//! decreasing there), which converges in a handful of iterations and falls back to bisection
//! whenever a step would leave the bracket. Degenerate cases (point on a symmetry plane) follow
//! Eberly's case analysis, so the result is exact to floating-point precision everywhere.

use margo_volume::nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

/// A solid ellipsoid as a plain shape a renderer can draw: centre, three orthonormal axes and the
/// half-length along each. `axes[0]` is the probe's shaft direction for needle zones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ellipsoid {
    pub centre_lps_mm: [f64; 3],
    /// Unit vectors in LPS, mutually orthogonal.
    pub axes_lps: [[f64; 3]; 3],
    pub half_lengths_mm: [f64; 3],
}

/// Closest point on the surface and the signed depth (positive inside, mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurfaceQuery {
    pub depth_mm: f64,
    pub closest_in_world: Point3<f64>,
}

impl Ellipsoid {
    /// A sphere of radius `radius_mm`.
    pub fn sphere(centre: Point3<f64>, radius_mm: f64) -> Self {
        Self {
            centre_lps_mm: centre.into(),
            axes_lps: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            half_lengths_mm: [radius_mm; 3],
        }
    }

    /// An ellipsoid of revolution around `long_axis` (need not be unit, must be non-zero).
    /// Returns None for a zero or non-finite axis.
    pub fn of_revolution(
        centre: Point3<f64>,
        long_axis: Vector3<f64>,
        long_half_mm: f64,
        short_half_mm: f64,
    ) -> Option<Self> {
        let u = long_axis.try_normalize(1e-12)?;
        let (v, w) = perpendicular_basis(&u);
        Some(Self {
            centre_lps_mm: centre.into(),
            axes_lps: [u.into(), v.into(), w.into()],
            half_lengths_mm: [long_half_mm, short_half_mm, short_half_mm],
        })
    }

    pub fn centre(&self) -> Point3<f64> {
        Point3::from(self.centre_lps_mm)
    }

    pub fn axis(&self, n: usize) -> Vector3<f64> {
        Vector3::from(self.axes_lps[n])
    }

    pub fn volume_mm3(&self) -> f64 {
        4.0 / 3.0 * std::f64::consts::PI * self.half_lengths_mm.iter().product::<f64>()
    }

    /// True when every number is finite, the half-lengths positive and the axes orthonormal.
    pub fn is_valid(&self) -> bool {
        let finite = self
            .centre_lps_mm
            .iter()
            .chain(self.half_lengths_mm.iter())
            .chain(self.axes_lps.iter().flatten())
            .all(|v| v.is_finite());
        finite
            && self.half_lengths_mm.iter().all(|&h| h > 0.0)
            && (0..3).all(|a| {
                (self.axis(a).norm() - 1.0).abs() < 1e-6
                    && ((a + 1)..3).all(|b| self.axis(a).dot(&self.axis(b)).abs() < 1e-6)
            })
    }

    /// Point in the ellipsoid's own frame (coordinates along its axes).
    #[inline]
    pub fn local_from_world(&self, p: &Point3<f64>) -> Vector3<f64> {
        let d = p - self.centre();
        Vector3::new(
            d.dot(&self.axis(0)),
            d.dot(&self.axis(1)),
            d.dot(&self.axis(2)),
        )
    }

    #[inline]
    pub fn world_from_local(&self, l: &Vector3<f64>) -> Point3<f64> {
        self.centre() + self.axis(0) * l[0] + self.axis(1) * l[1] + self.axis(2) * l[2]
    }

    /// `|A (p - c)|` with `A` scaling each axis by 1/half-length: < 1 inside, 1 on the surface.
    /// Lipschitz in `p` with constant `1 / min(half_lengths)`.
    #[inline]
    pub fn normalised_radius(&self, p: &Point3<f64>) -> f64 {
        let l = self.local_from_world(p);
        let h = self.half_lengths_mm;
        ((l[0] / h[0]).powi(2) + (l[1] / h[1]).powi(2) + (l[2] / h[2]).powi(2)).sqrt()
    }

    #[inline]
    pub fn contains(&self, p: &Point3<f64>) -> bool {
        self.normalised_radius(p) <= 1.0
    }

    pub fn min_half_length_mm(&self) -> f64 {
        self.half_lengths_mm
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }

    pub fn max_half_length_mm(&self) -> f64 {
        self.half_lengths_mm.iter().copied().fold(0.0, f64::max)
    }

    /// Smallest radius of curvature on the surface, `b^2 / a` for half-lengths a >= b.
    pub fn min_curvature_radius_mm(&self) -> f64 {
        self.min_half_length_mm().powi(2) / self.max_half_length_mm()
    }

    /// Exact signed depth (positive inside) and closest surface point.
    pub fn query(&self, p: &Point3<f64>) -> SurfaceQuery {
        let local = self.local_from_world(p);
        // Sort the axes by half-length, largest first, as Eberly's algorithm expects.
        let mut order = [0usize, 1, 2];
        order.sort_by(|&a, &b| self.half_lengths_mm[b].total_cmp(&self.half_lengths_mm[a]));
        let e = order.map(|a| self.half_lengths_mm[a]);
        let y = order.map(|a| local[a].abs());
        let (x, dist) = closest_on_ellipsoid(e, y);
        let mut closest_local = Vector3::zeros();
        for (n, &a) in order.iter().enumerate() {
            closest_local[a] = x[n].copysign(local[a]);
        }
        let inside = self.normalised_radius(p) <= 1.0;
        SurfaceQuery {
            depth_mm: if inside { dist } else { -dist },
            closest_in_world: self.world_from_local(&closest_local),
        }
    }

    /// Exact signed depth in mm: positive inside, negative outside, 0 on the surface.
    pub fn depth_mm(&self, p: &Point3<f64>) -> f64 {
        self.query(p).depth_mm
    }

    /// World-space axis-aligned bounds (exact for an ellipsoid).
    pub fn bounds(&self) -> (Point3<f64>, Point3<f64>) {
        let c = self.centre();
        let mut ext = Vector3::zeros();
        for w in 0..3 {
            ext[w] = (0..3)
                .map(|a| (self.axes_lps[a][w] * self.half_lengths_mm[a]).powi(2))
                .sum::<f64>()
                .sqrt();
        }
        (c - ext, c + ext)
    }
}

/// Two unit vectors completing `u` to a right-handed orthonormal frame, chosen deterministically.
pub fn perpendicular_basis(u: &Vector3<f64>) -> (Vector3<f64>, Vector3<f64>) {
    // Cross with the world axis least aligned with u: never degenerate.
    let helper = if u.x.abs() <= u.y.abs() && u.x.abs() <= u.z.abs() {
        Vector3::x()
    } else if u.y.abs() <= u.z.abs() {
        Vector3::y()
    } else {
        Vector3::z()
    };
    let v = u.cross(&helper).normalize();
    let w = u.cross(&v);
    (v, w)
}

/// Closest point on the ellipsoid with half-lengths `e` (e0 >= e1 >= e2 > 0) to the first-octant
/// point `y` (all >= 0). Returns the point and the unsigned distance.
fn closest_on_ellipsoid(e: [f64; 3], y: [f64; 3]) -> ([f64; 3], f64) {
    let [e0, e1, e2] = e;
    let [y0, y1, y2] = y;
    let dist3 =
        |x: [f64; 3]| ((x[0] - y0).powi(2) + (x[1] - y1).powi(2) + (x[2] - y2).powi(2)).sqrt();
    if y2 > 0.0 {
        if y1 > 0.0 {
            if y0 > 0.0 {
                let z = [y0 / e0, y1 / e1, y2 / e2];
                let g = z[0] * z[0] + z[1] * z[1] + z[2] * z[2] - 1.0;
                if g != 0.0 {
                    let r = [(e0 / e2).powi(2), (e1 / e2).powi(2), 1.0];
                    let s = root(r, z, g);
                    let x = [
                        r[0] * y0 / (s + r[0]),
                        r[1] * y1 / (s + r[1]),
                        y2 / (s + 1.0),
                    ];
                    (x, dist3(x))
                } else {
                    (y, 0.0)
                }
            } else {
                let (x2d, _) = closest_on_ellipse([e1, e2], [y1, y2]);
                let x = [0.0, x2d[0], x2d[1]];
                (x, dist3(x))
            }
        } else if y0 > 0.0 {
            let (x2d, _) = closest_on_ellipse([e0, e2], [y0, y2]);
            let x = [x2d[0], 0.0, x2d[1]];
            (x, dist3(x))
        } else {
            let x = [0.0, 0.0, e2];
            (x, (y2 - e2).abs())
        }
    } else {
        let denom0 = e0 * e0 - e2 * e2;
        let denom1 = e1 * e1 - e2 * e2;
        let numer0 = e0 * y0;
        let numer1 = e1 * y1;
        if numer0 < denom0 && numer1 < denom1 {
            let xde0 = numer0 / denom0;
            let xde1 = numer1 / denom1;
            let discr = 1.0 - xde0 * xde0 - xde1 * xde1;
            if discr > 0.0 {
                let x = [e0 * xde0, e1 * xde1, e2 * discr.sqrt()];
                return (x, dist3(x));
            }
        }
        let (x2d, _) = closest_on_ellipse([e0, e1], [y0, y1]);
        let x = [x2d[0], x2d[1], 0.0];
        (x, dist3(x))
    }
}

/// 2D version: ellipse half-lengths e0 >= e1 > 0, point in the first quadrant.
fn closest_on_ellipse(e: [f64; 2], y: [f64; 2]) -> ([f64; 2], f64) {
    let [e0, e1] = e;
    let [y0, y1] = y;
    if y1 > 0.0 {
        if y0 > 0.0 {
            let z = [y0 / e0, y1 / e1];
            let g = z[0] * z[0] + z[1] * z[1] - 1.0;
            if g != 0.0 {
                let r0 = (e0 / e1).powi(2);
                let s = root([r0, 1.0], z, g);
                let x = [r0 * y0 / (s + r0), y1 / (s + 1.0)];
                let d = ((x[0] - y0).powi(2) + (x[1] - y1).powi(2)).sqrt();
                (x, d)
            } else {
                (y, 0.0)
            }
        } else {
            ([0.0, e1], (y1 - e1).abs())
        }
    } else {
        let numer0 = e0 * y0;
        let denom0 = e0 * e0 - e1 * e1;
        if numer0 < denom0 {
            let xde0 = numer0 / denom0;
            let x = [e0 * xde0, e1 * (1.0 - xde0 * xde0).max(0.0).sqrt()];
            let d = ((x[0] - y0).powi(2) + x[1].powi(2)).sqrt();
            (x, d)
        } else {
            ([e0, 0.0], (y0 - e0).abs())
        }
    }
}

fn robust_length(v: &[f64]) -> f64 {
    let m = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    if m == 0.0 {
        return 0.0;
    }
    m * v.iter().map(|x| (x / m).powi(2)).sum::<f64>().sqrt()
}

/// Root of `sum ((r_i z_i) / (s + r_i))^2 - 1` in Eberly's bracket, for the 3D case
/// (`r = [r0, r1, 1]`) and the 2D case (`r = [r0, 1]`) alike: the last ratio is always 1.
fn root<const N: usize>(r: [f64; N], z: [f64; N], g: f64) -> f64 {
    let n: [f64; N] = std::array::from_fn(|i| r[i] * z[i]);
    let s0 = z[N - 1] - 1.0;
    let s1 = if g < 0.0 {
        0.0
    } else {
        robust_length(&n) - 1.0
    };
    let f = |s: f64| {
        let mut v = -1.0;
        let mut dv = 0.0;
        for i in 0..N {
            let q = n[i] / (s + r[i]);
            v += q * q;
            dv += -2.0 * q * q / (s + r[i]);
        }
        (v, dv)
    };
    safeguarded_newton(s0, s1, f)
}

/// Root of a decreasing function with f(lo) >= 0 >= f(hi): Newton from the left (monotone for a
/// convex decreasing function), bisection whenever Newton leaves the bracket or stalls.
fn safeguarded_newton(mut lo: f64, mut hi: f64, f: impl Fn(f64) -> (f64, f64)) -> f64 {
    let mut s = lo;
    for _ in 0..200 {
        let (v, dv) = f(s);
        if v == 0.0 {
            return s;
        }
        if v > 0.0 {
            lo = lo.max(s);
        } else {
            hi = hi.min(s);
        }
        let mut next = if dv < 0.0 { s - v / dv } else { f64::NAN };
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if next == s || (next - s).abs() <= 1e-15 * (1.0 + s.abs()) || hi - lo <= 0.0 {
            return next;
        }
        if next == lo || next == hi {
            return next;
        }
        s = next;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotated(centre: [f64; 3], half: [f64; 3], angle: f64) -> Ellipsoid {
        // Rotation about an oblique axis so that no ellipsoid axis is a world axis.
        let axis = Vector3::new(1.0, 2.0, -0.5).normalize();
        let rot = margo_volume::nalgebra::Rotation3::from_axis_angle(
            &margo_volume::nalgebra::Unit::new_normalize(axis),
            angle,
        );
        let m = rot.matrix();
        Ellipsoid {
            centre_lps_mm: centre,
            axes_lps: [
                m.column(0).into_owned().into(),
                m.column(1).into_owned().into(),
                m.column(2).into_owned().into(),
            ],
            half_lengths_mm: half,
        }
    }

    #[test]
    fn sphere_distance_is_radius_minus_norm() {
        let s = Ellipsoid::sphere(Point3::new(1.0, -2.0, 3.0), 10.0);
        for p in [
            Point3::new(1.0, -2.0, 3.0),
            Point3::new(4.0, 0.0, 3.0),
            Point3::new(20.0, -2.0, 3.0),
            Point3::new(1.0, -2.0, -7.0),
        ] {
            let r = (p - s.centre()).norm();
            let q = s.query(&p);
            assert!((q.depth_mm - (10.0 - r)).abs() < 1e-9, "{p:?} {q:?}");
            assert!(((q.closest_in_world - s.centre()).norm() - 10.0).abs() < 1e-9);
        }
    }

    /// Brute force: minimum over a dense parametric sampling, refined locally.
    fn brute_distance(e: &Ellipsoid, p: &Point3<f64>) -> f64 {
        let mut best = (f64::INFINITY, 0.0, 0.0);
        let n = 400;
        for a in 0..=n {
            let theta = std::f64::consts::PI * a as f64 / n as f64;
            for b in 0..(2 * n) {
                let phi = std::f64::consts::PI * b as f64 / n as f64;
                let l = Vector3::new(
                    e.half_lengths_mm[0] * theta.cos(),
                    e.half_lengths_mm[1] * theta.sin() * phi.cos(),
                    e.half_lengths_mm[2] * theta.sin() * phi.sin(),
                );
                let d = (e.world_from_local(&l) - p).norm();
                if d < best.0 {
                    best = (d, theta, phi);
                }
            }
        }
        // Local refinement on a shrinking grid.
        let (mut d0, mut t0, mut f0) = best;
        let mut step = std::f64::consts::PI / n as f64;
        for _ in 0..40 {
            for (dt, df) in [(step, 0.0), (-step, 0.0), (0.0, step), (0.0, -step)] {
                let (t, f) = (t0 + dt, f0 + df);
                let l = Vector3::new(
                    e.half_lengths_mm[0] * t.cos(),
                    e.half_lengths_mm[1] * t.sin() * f.cos(),
                    e.half_lengths_mm[2] * t.sin() * f.sin(),
                );
                let d = (e.world_from_local(&l) - p).norm();
                if d < d0 {
                    (d0, t0, f0) = (d, t, f);
                }
            }
            step *= 0.7;
        }
        d0
    }

    #[test]
    fn rotated_ellipsoid_matches_brute_force_inside_and_outside() {
        let e = rotated([10.0, 20.0, -30.0], [20.0, 12.0, 7.0], 0.7);
        assert!(e.is_valid());
        let c = e.centre();
        let pts = [
            c + Vector3::new(3.0, 1.0, -2.0),
            c + Vector3::new(15.0, -4.0, 6.0),
            c + Vector3::new(-25.0, 8.0, 1.0),
            c + Vector3::new(0.5, 0.2, 0.1),
            c + Vector3::new(1.0, 30.0, -12.0),
        ];
        for p in pts {
            let q = e.query(&p);
            let brute = brute_distance(&e, &p);
            assert!(
                (q.depth_mm.abs() - brute).abs() < 1e-4,
                "{p:?}: {} vs {brute}",
                q.depth_mm
            );
            assert_eq!(q.depth_mm > 0.0, e.contains(&p));
            // The closest point lies on the surface.
            assert!((e.normalised_radius(&q.closest_in_world) - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn degenerate_points_on_symmetry_planes_and_axes() {
        let e = Ellipsoid {
            centre_lps_mm: [0.0; 3],
            axes_lps: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            half_lengths_mm: [20.0, 12.0, 7.0],
        };
        // The centre: nearest surface is the end of the shortest axis.
        assert!((e.depth_mm(&Point3::origin()) - 7.0).abs() < 1e-12);
        // On the long axis inside: distance to the short axis ring/pole.
        for p in [
            Point3::new(5.0, 0.0, 0.0),
            Point3::new(18.0, 0.0, 0.0),
            Point3::new(3.0, 4.0, 0.0),
            Point3::new(0.0, 4.0, 2.0),
            Point3::new(25.0, 0.0, 0.0),
            Point3::new(0.0, 0.0, 9.0),
            Point3::new(6.0, 0.0, 3.0),
        ] {
            let brute = brute_distance(&e, &p);
            assert!(
                (e.depth_mm(&p).abs() - brute).abs() < 1e-4,
                "{p:?}: {} vs {brute}",
                e.depth_mm(&p)
            );
        }
        // Equal half-lengths (sphere) with the point on an axis.
        let s = Ellipsoid::sphere(Point3::origin(), 5.0);
        assert!((s.depth_mm(&Point3::new(0.0, 0.0, 2.0)) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn bounds_are_tight() {
        let e = rotated([0.0; 3], [20.0, 12.0, 7.0], 1.1);
        let (lo, hi) = e.bounds();
        // Points just inside the bounds along each world axis exist on the surface: the support
        // function equals the bound.
        for w in 0..3 {
            let mut dir = Vector3::zeros();
            dir[w] = 1.0;
            // Support point: c + M M^T dir / |M^T dir| with M = axes * half-lengths.
            let mt: Vector3<f64> =
                Vector3::from_fn(|a, _| e.axis(a).dot(&dir) * e.half_lengths_mm[a]);
            let support = (0..3).fold(Vector3::zeros(), |acc, a| {
                acc + e.axis(a) * e.half_lengths_mm[a] * mt[a] / mt.norm()
            });
            assert!((support[w] - hi[w]).abs() < 1e-9);
            assert!((support[w] + lo[w]).abs() < 1e-9);
        }
    }
}
