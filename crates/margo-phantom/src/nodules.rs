//! Nodule shapes, their analytic volumes, and truth records.

use margo_volume::nalgebra::{Matrix3, Point3, Vector3};
use serde::{Deserialize, Serialize};

use crate::config::{Lobe, NoduleKind};
use crate::rng::SplitMix64;
use crate::shapes::{Ellipsoid, rotation_about};

/// Star-shaped lobulated surface: `r(u) = r0 (1 + sum_k a_k exp(-(1 - u.v_k) / w))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lobulation {
    pub base_radius_mm: f64,
    pub bump_directions_lps: Vec<[f64; 3]>,
    pub bump_amplitudes: Vec<f64>,
    pub bump_width: f64,
}

impl Lobulation {
    /// Random bumps, then `base_radius_mm` chosen so the volume equals a sphere of
    /// `diameter_mm`.
    pub fn random(rng: &mut SplitMix64, diameter_mm: f64) -> Self {
        let n = 6;
        let mut dirs = Vec::new();
        let mut amps = Vec::new();
        for _ in 0..n {
            let v = Vector3::new(rng.normal(), rng.normal(), rng.normal()).normalize();
            dirs.push(v.into());
            amps.push(rng.range(0.15, 0.3));
        }
        let mut l = Self {
            base_radius_mm: 1.0,
            bump_directions_lps: dirs,
            bump_amplitudes: amps,
            bump_width: 0.12,
        };
        let unit_volume = l.volume_mm3();
        let target = std::f64::consts::PI / 6.0 * diameter_mm.powi(3);
        l.base_radius_mm = (target / unit_volume).cbrt();
        l
    }

    #[inline]
    pub fn radius_mm(&self, unit_dir: &Vector3<f64>) -> f64 {
        let mut s = 1.0;
        for (v, a) in self.bump_directions_lps.iter().zip(&self.bump_amplitudes) {
            let dot = unit_dir.x * v[0] + unit_dir.y * v[1] + unit_dir.z * v[2];
            s += a * (-(1.0 - dot) / self.bump_width).exp();
        }
        self.base_radius_mm * s
    }

    pub fn max_radius_mm(&self) -> f64 {
        self.base_radius_mm * (1.0 + self.bump_amplitudes.iter().sum::<f64>())
    }

    /// `(1/3) * integral of r^3 over the unit sphere`, by a 400 x 800 midpoint rule in
    /// (theta, phi): the integrand is smooth, so this is exact to ~1e-8 relative.
    pub fn volume_mm3(&self) -> f64 {
        let (nt, np) = (400, 800);
        let dt = std::f64::consts::PI / nt as f64;
        let dp = std::f64::consts::TAU / np as f64;
        let mut sum = 0.0;
        for i in 0..nt {
            let th = (i as f64 + 0.5) * dt;
            let (st, ct) = th.sin_cos();
            for j in 0..np {
                let ph = (j as f64 + 0.5) * dp;
                let u = Vector3::new(st * ph.cos(), st * ph.sin(), ct);
                sum += self.radius_mm(&u).powi(3) * st;
            }
        }
        sum * dt * dp / 3.0
    }
}

/// The solid part of a nodule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum NoduleShape {
    Ellipsoid(Ellipsoid),
    Lobulated(Lobulation),
}

/// A placed nodule: what the rasteriser paints and what truth.json reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nodule {
    pub kind: NoduleKind,
    pub lobe: Lobe,
    pub centre_lps_mm: [f64; 3],
    pub shape: NoduleShape,
    /// Part-solid nodules: radius of the solid core sphere, same centre.
    pub solid_core_radius_mm: Option<f64>,
}

impl Nodule {
    pub fn centre(&self) -> Point3<f64> {
        Point3::from(self.centre_lps_mm)
    }

    /// Signed distance bound (negative inside the whole nodule).
    #[inline]
    pub fn sdf(&self, p: &Point3<f64>) -> f64 {
        match &self.shape {
            NoduleShape::Ellipsoid(e) => e.sdf(p),
            NoduleShape::Lobulated(l) => {
                let d = p - self.centre();
                let r = d.norm();
                if r < 1e-12 {
                    return -l.base_radius_mm;
                }
                // The radial function changes slowly but not 1-Lipschitz: halve the bound.
                0.5 * (r - l.radius_mm(&(d / r)))
            }
        }
    }

    /// Whether `p` is inside the nodule (the whole lesion, ground glass included).
    pub fn contains(&self, p: &Point3<f64>) -> bool {
        self.sdf(p) < 0.0
    }

    /// Whether `p` is inside the solid core of a part-solid nodule.
    pub fn core_sdf(&self, p: &Point3<f64>) -> Option<f64> {
        self.solid_core_radius_mm
            .map(|r| (p - self.centre()).norm() - r)
    }

    pub fn volume_mm3(&self) -> f64 {
        match &self.shape {
            NoduleShape::Ellipsoid(e) => e.volume_mm3(),
            NoduleShape::Lobulated(l) => l.volume_mm3(),
        }
    }

    /// Radius of a sphere around the centre that contains the nodule.
    pub fn bounding_radius_mm(&self) -> f64 {
        match &self.shape {
            NoduleShape::Ellipsoid(e) => e.semi_axes_mm.iter().cloned().fold(0.0, f64::max),
            NoduleShape::Lobulated(l) => l.max_radius_mm(),
        }
    }

    /// Builds the shape for `kind` at `centre` with volume-equivalent `diameter_mm`.
    pub fn new(
        kind: NoduleKind,
        lobe: Lobe,
        centre: Point3<f64>,
        diameter_mm: f64,
        rng: &mut SplitMix64,
    ) -> Self {
        let r = diameter_mm / 2.0;
        let shape = match kind {
            NoduleKind::Ellipsoid => {
                // Semi-axes in ratio 1.25 : 0.9 : 0.888..., product 1: same volume as the sphere.
                let f = [1.25, 0.9, 1.0 / (1.25 * 0.9)];
                let axis = Vector3::new(rng.normal(), rng.normal(), rng.normal());
                let rot: Matrix3<f64> = rotation_about(&axis, rng.range(0.0, std::f64::consts::PI));
                NoduleShape::Ellipsoid(Ellipsoid::new(centre, f.map(|k| k * r), rot))
            }
            NoduleKind::Lobulated => NoduleShape::Lobulated(Lobulation::random(rng, diameter_mm)),
            _ => NoduleShape::Ellipsoid(Ellipsoid::axis_aligned(centre, [r; 3])),
        };
        Self {
            kind,
            lobe,
            centre_lps_mm: centre.coords.into(),
            shape,
            solid_core_radius_mm: (kind == NoduleKind::PartSolid).then_some(r / 2.0),
        }
    }

    pub fn truth(&self) -> NoduleTruth {
        let volume_mm3 = self.volume_mm3();
        let (semi, dirs) = match &self.shape {
            NoduleShape::Ellipsoid(e) => {
                let rot = e.rotation();
                (
                    e.semi_axes_mm,
                    [0, 1, 2].map(|c| [rot[(0, c)], rot[(1, c)], rot[(2, c)]]),
                )
            }
            NoduleShape::Lobulated(l) => {
                let r = l.max_radius_mm();
                ([r; 3], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            }
        };
        NoduleTruth {
            kind: self.kind,
            lobe: self.lobe,
            centre_lps_mm: self.centre_lps_mm,
            axes_mm: semi.map(|s| 2.0 * s),
            axis_directions_lps: dirs,
            diameter_mm: 2.0 * (volume_mm3 * 3.0 / (4.0 * std::f64::consts::PI)).cbrt(),
            max_diameter_mm: 2.0 * self.bounding_radius_mm(),
            volume_ml: volume_mm3 / 1000.0,
            solid_core_diameter_mm: self.solid_core_radius_mm.map(|r| 2.0 * r),
            solid_volume_ml: match self.kind {
                NoduleKind::GroundGlass => 0.0,
                NoduleKind::PartSolid => {
                    4.0 / 3.0
                        * std::f64::consts::PI
                        * self.solid_core_radius_mm.unwrap_or(0.0).powi(3)
                        / 1000.0
                }
                _ => volume_mm3 / 1000.0,
            },
        }
    }
}

/// A nodule as written in truth.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoduleTruth {
    pub kind: NoduleKind,
    pub lobe: Lobe,
    pub centre_lps_mm: [f64; 3],
    /// Full lengths (2 x semi-axis) along `axis_directions_lps`; for a lobulated nodule, the
    /// bounding sphere's diameter three times.
    pub axes_mm: [f64; 3],
    pub axis_directions_lps: [[f64; 3]; 3],
    /// Volume-equivalent sphere diameter.
    pub diameter_mm: f64,
    /// Largest extent through the centre (bounding-sphere diameter).
    pub max_diameter_mm: f64,
    /// Analytic volume of the whole lesion.
    pub volume_ml: f64,
    pub solid_core_diameter_mm: Option<f64>,
    /// Analytic volume of the solid component (0 for ground glass).
    pub solid_volume_ml: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lobulated_volume_matches_monte_carlo() {
        let mut rng = SplitMix64::new(11);
        let l = Lobulation::random(&mut rng, 16.0);
        let target = std::f64::consts::PI / 6.0 * 16f64.powi(3);
        assert!((l.volume_mm3() - target).abs() / target < 1e-6);
        // Independent check: hit-or-miss in the bounding cube.
        let n = Nodule {
            kind: NoduleKind::Lobulated,
            lobe: Lobe::Rml,
            centre_lps_mm: [0.0; 3],
            shape: NoduleShape::Lobulated(l.clone()),
            solid_core_radius_mm: None,
        };
        let rmax = l.max_radius_mm();
        let mut hits = 0usize;
        let total = 400_000usize;
        for _ in 0..total {
            let p = Point3::new(
                rng.range(-rmax, rmax),
                rng.range(-rmax, rmax),
                rng.range(-rmax, rmax),
            );
            if n.contains(&p) {
                hits += 1;
            }
        }
        let mc = hits as f64 / total as f64 * (2.0 * rmax).powi(3);
        assert!((mc - target).abs() / target < 0.01, "mc {mc} vs {target}");
    }

    #[test]
    fn ellipsoid_keeps_equivalent_diameter() {
        let mut rng = SplitMix64::new(2);
        let n = Nodule::new(
            NoduleKind::Ellipsoid,
            Lobe::Rll,
            Point3::origin(),
            10.0,
            &mut rng,
        );
        let t = n.truth();
        assert!((t.diameter_mm - 10.0).abs() < 1e-9);
        assert!((t.volume_ml - std::f64::consts::PI / 6.0 * 1e3 / 1e3).abs() < 1e-9);
        assert!((t.axes_mm[0] - 12.5).abs() < 1e-9);
    }
}
