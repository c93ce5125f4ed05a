//! The fixed adult thorax: body outline, chest wall, pleural cavity, diaphragm, mediastinum,
//! heart, great vessels, spine, sternum, ribs, clavicles and scapulae.
//!
//! All positions are LPS mm (+x patient left, +y posterior, +z superior) around a thorax centred
//! near x = 0, y = 8, with the carina at z = +62 and the diaphragm domes at z = -45 (right) and
//! -60 (left). Sizes are those of an average adult (body 330 x 264 mm).

use margo_volume::nalgebra::{Matrix3, Point3, Vector3};
use serde::{Deserialize, Serialize};

use crate::shapes::{Capsule, Ellipsoid, rotation_about};

/// A superellipse cross-section `|dx/a|^n + |dy/b|^n = 1`, the same at every z.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SuperEllipse {
    pub centre_xy_mm: [f64; 2],
    pub half_width_x_mm: f64,
    pub half_depth_y_mm: f64,
    pub exponent: f64,
}

impl SuperEllipse {
    /// Lower bound on the signed in-plane distance (the scaled n-norm is 1/min(a, b) Lipschitz
    /// for n >= 2).
    #[inline]
    pub fn sdf(&self, p: &Point3<f64>) -> f64 {
        let u = ((p.x - self.centre_xy_mm[0]) / self.half_width_x_mm).abs();
        let v = ((p.y - self.centre_xy_mm[1]) / self.half_depth_y_mm).abs();
        // Exponent 2 (an ellipse) on the hot path; others only where a squarer outline matters.
        let norm = if self.exponent == 2.0 {
            (u * u + v * v).sqrt()
        } else {
            (u.powf(self.exponent) + v.powf(self.exponent)).powf(1.0 / self.exponent)
        };
        (norm - 1.0) * self.half_width_x_mm.min(self.half_depth_y_mm)
    }
}

/// A diaphragm dome: `z = top - curvature * ((x - cx)^2 + k (y - cy)^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dome {
    pub centre_xy_mm: [f64; 2],
    pub top_z_mm: f64,
    pub curvature_per_mm: f64,
    pub y_weight: f64,
}

impl Dome {
    #[inline]
    /// Height of the dome over (x, y) and the square of its slope there.
    fn height(&self, x: f64, y: f64) -> (f64, f64) {
        let dx = x - self.centre_xy_mm[0];
        let dy = y - self.centre_xy_mm[1];
        let z = self.top_z_mm - self.curvature_per_mm * (dx * dx + self.y_weight * dy * dy);
        let c2 = 4.0 * self.curvature_per_mm * self.curvature_per_mm;
        let slope_sq = c2 * (dx * dx + (self.y_weight * dy).powi(2));
        (z, slope_sq)
    }
}

/// Where a capsule of the chest wall belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoneKind {
    /// Cortical shell with cancellous marrow.
    Bone,
    /// Costal cartilage.
    Cartilage,
}

/// One rib: a centreline of points and a constant radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RibTruth {
    /// "right" (x < 0) or "left".
    pub side: String,
    /// 1 (uppermost) to 12.
    pub number: u32,
    pub centreline_lps_mm: Vec<[f64; 3]>,
    pub radius_mm: f64,
    /// Index into the centreline where costal cartilage starts (end of bone), if any.
    pub cartilage_from_point: Option<usize>,
}

/// A vessel or airway polyline with radii (the aorta, the venae cavae, the pulmonary trunk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TubeTruth {
    pub name: String,
    pub centreline_lps_mm: Vec<[f64; 3]>,
    pub radii_mm: Vec<f64>,
}

impl TubeTruth {
    pub fn capsules(&self) -> Vec<Capsule> {
        self.centreline_lps_mm
            .windows(2)
            .zip(self.radii_mm.windows(2))
            .map(|(p, r)| Capsule::new(Point3::from(p[0]), Point3::from(p[1]), r[0], r[1]))
            .collect()
    }
}

/// The fixed anatomy, serialised into truth.json as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thorax {
    pub body: SuperEllipse,
    pub skin_mm: f64,
    /// Inner boundary of subcutaneous fat (outside: fat, inside: muscle).
    pub muscle: SuperEllipse,
    /// Pleural cavity cross-section below `apex_start_z_mm`.
    pub cavity: SuperEllipse,
    pub apex_start_z_mm: f64,
    /// Lung apices: above `apex_start_z_mm` each side's cross-section is an ellipse centred at
    /// |x| = `apex_centre_x_mm * t` with half-axes scaled by sqrt(1 - t^2), where t runs from 0
    /// to 1 at `apex_top_z_mm` (continuous with the cavity below).
    pub apex_top_z_mm: f64,
    pub apex_centre_x_mm: f64,
    /// Right and left domes; the diaphragm is the higher of the two at each (x, y).
    pub domes: [Dome; 2],
    /// Liver (patient right, x < this) versus stomach/spleen below the diaphragm.
    pub liver_boundary_x_mm: f64,
    /// Mediastinal column between the lungs (cross-section, at every z above the diaphragm).
    pub mediastinum: SuperEllipse,
    pub heart: Ellipsoid,
    pub heart_chambers: [Ellipsoid; 2],
    pub pericardial_fat_mm: f64,
    pub aorta: TubeTruth,
    pub other_vessels: Vec<TubeTruth>,
    pub trachea_and_main_bronchi: TubeTruth,
    pub esophagus: TubeTruth,
    pub vertebral_body: SuperEllipse,
    pub vertebra_period_mm: f64,
    pub disc_height_mm: f64,
    pub spinal_canal: SuperEllipse,
    pub vertebral_arch: SuperEllipse,
    pub spinous_process: SuperEllipse,
    pub transverse_processes: [SuperEllipse; 2],
    pub sternum: SuperEllipse,
    pub sternum_z_range_mm: [f64; 2],
    pub cortex_mm: f64,
    pub ribs: Vec<RibTruth>,
    pub clavicles: Vec<TubeTruth>,
    pub scapulae: [Ellipsoid; 2],
    /// Major fissure: a plane through `major_fissure_point_yz_mm` with normal
    /// (0, n_y, n_z); positive side = lower lobe.
    pub major_fissure_point_yz_mm: [f64; 2],
    pub major_fissure_normal_yz: [f64; 2],
    /// Right minor fissure: the plane z = this, between upper and middle lobes.
    pub minor_fissure_z_mm: f64,
    pub fissure_thickness_mm: f64,
    /// Hilum points where the pulmonary trees start (right, left).
    pub hila_lps_mm: [[f64; 3]; 2],
    pub carina_lps_mm: [f64; 3],
}

fn se(cx: f64, cy: f64, a: f64, b: f64, n: f64) -> SuperEllipse {
    SuperEllipse {
        centre_xy_mm: [cx, cy],
        half_width_x_mm: a,
        half_depth_y_mm: b,
        exponent: n,
    }
}

fn tube(name: &str, pts: &[([f64; 3], f64)]) -> TubeTruth {
    TubeTruth {
        name: name.into(),
        centreline_lps_mm: pts.iter().map(|p| p.0).collect(),
        radii_mm: pts.iter().map(|p| p.1).collect(),
    }
}

impl Thorax {
    pub fn standard() -> Self {
        let deg = std::f64::consts::PI / 180.0;
        let heart_rotation =
            rotation_about(&Vector3::z(), -35.0 * deg) * rotation_about(&Vector3::y(), 20.0 * deg);
        let heart_centre = Point3::new(32.0, -22.0, -12.0);
        let heart = Ellipsoid::new(heart_centre, [66.0, 50.0, 50.0], heart_rotation);
        let chamber = |offset: Vector3<f64>, semi: [f64; 3]| {
            Ellipsoid::new(heart_centre + heart_rotation * offset, semi, heart_rotation)
        };
        let heart_chambers = [
            chamber(Vector3::new(14.0, 8.0, 2.0), [40.0, 28.0, 32.0]),
            chamber(Vector3::new(-10.0, -22.0, 4.0), [40.0, 18.0, 30.0]),
        ];
        let major_dir = Vector3::new(0.0, -160.0, -145.0).normalize();
        let mut t = Self {
            body: se(0.0, 8.0, 165.0, 128.0, 2.0),
            skin_mm: 2.0,
            muscle: se(0.0, 10.0, 152.0, 106.0, 2.0),
            cavity: se(0.0, 10.0, 140.0, 92.0, 2.0),
            apex_start_z_mm: 80.0,
            apex_top_z_mm: 158.0,
            apex_centre_x_mm: 60.0,
            domes: [
                Dome {
                    centre_xy_mm: [-65.0, 5.0],
                    top_z_mm: -45.0,
                    curvature_per_mm: 0.006,
                    y_weight: 0.6,
                },
                Dome {
                    centre_xy_mm: [70.0, 5.0],
                    top_z_mm: -60.0,
                    curvature_per_mm: 0.006,
                    y_weight: 0.6,
                },
            ],
            liver_boundary_x_mm: 15.0,
            mediastinum: se(3.0, -5.0, 24.0, 88.0, 2.0),
            heart,
            heart_chambers,
            pericardial_fat_mm: 4.0,
            aorta: tube(
                "aorta",
                &[
                    ([14.0, -32.0, 18.0], 14.0),
                    ([8.0, -22.0, 60.0], 14.0),
                    ([5.0, -12.0, 90.0], 13.0),
                    ([12.0, 6.0, 102.0], 12.0),
                    ([22.0, 30.0, 98.0], 12.0),
                    ([26.0, 50.0, 82.0], 11.5),
                    ([24.0, 57.0, 50.0], 11.0),
                    ([20.0, 60.0, 0.0], 11.0),
                    ([14.0, 60.0, -60.0], 10.5),
                    ([8.0, 57.0, -120.0], 10.0),
                    ([5.0, 55.0, -200.0], 10.0),
                ],
            ),
            other_vessels: vec![
                tube(
                    "superior vena cava",
                    &[
                        ([-26.0, -8.0, 110.0], 9.0),
                        ([-26.0, -12.0, 60.0], 10.0),
                        ([-24.0, -18.0, 15.0], 10.0),
                    ],
                ),
                tube(
                    "pulmonary trunk",
                    &[
                        ([14.0, -45.0, 20.0], 13.0),
                        ([24.0, -30.0, 45.0], 13.0),
                        ([20.0, -8.0, 52.0], 12.0),
                    ],
                ),
                tube(
                    "right pulmonary artery",
                    &[
                        ([20.0, -8.0, 52.0], 10.0),
                        ([-10.0, 5.0, 50.0], 9.5),
                        ([-42.0, 8.0, 44.0], 8.5),
                    ],
                ),
                tube(
                    "left pulmonary artery",
                    &[([20.0, -8.0, 52.0], 10.0), ([42.0, 10.0, 52.0], 8.5)],
                ),
            ],
            trachea_and_main_bronchi: tube(
                "trachea",
                &[([0.0, 25.0, 200.0], 9.0), ([0.0, 28.0, 62.0], 9.0)],
            ),
            esophagus: tube(
                "esophagus",
                &[
                    ([4.0, 50.0, 200.0], 7.0),
                    ([6.0, 48.0, 20.0], 7.0),
                    ([14.0, 40.0, -70.0], 8.0),
                ],
            ),
            vertebral_body: se(0.0, 80.0, 21.0, 16.0, 2.0),
            vertebra_period_mm: 27.0,
            disc_height_mm: 5.0,
            spinal_canal: se(0.0, 106.0, 8.5, 8.0, 2.0),
            vertebral_arch: se(0.0, 108.0, 16.0, 14.0, 2.0),
            spinous_process: se(0.0, 125.0, 5.0, 11.0, 2.0),
            transverse_processes: [
                se(-24.0, 106.0, 12.0, 5.0, 2.0),
                se(24.0, 106.0, 12.0, 5.0, 2.0),
            ],
            sternum: se(0.0, -92.0, 17.0, 7.0, 2.0),
            sternum_z_range_mm: [-40.0, 118.0],
            cortex_mm: 1.5,
            ribs: Vec::new(),
            clavicles: [-1.0, 1.0]
                .iter()
                .map(|&s| {
                    tube(
                        if s < 0.0 {
                            "right clavicle"
                        } else {
                            "left clavicle"
                        },
                        &[
                            ([s * 18.0, -98.0, 120.0], 6.0),
                            ([s * 70.0, -100.0, 128.0], 6.0),
                            ([s * 118.0, -70.0, 138.0], 6.0),
                            ([s * 142.0, -25.0, 140.0], 6.0),
                        ],
                    )
                })
                .collect(),
            scapulae: [-1.0, 1.0].map(|s: f64| {
                let normal = Vector3::new(s * 0.547, 0.837, 0.0);
                let tangent = Vector3::new(0.837, -s * 0.547, 0.0);
                Ellipsoid::new(
                    Point3::new(s * 100.0, 100.0, 75.0),
                    [48.0, 3.5, 70.0],
                    Matrix3::from_columns(&[tangent, normal, Vector3::z()]),
                )
            }),
            major_fissure_point_yz_mm: [90.0, 85.0],
            major_fissure_normal_yz: [-major_dir.z, major_dir.y],
            minor_fissure_z_mm: 18.0,
            fissure_thickness_mm: 0.8,
            hila_lps_mm: [[-50.0, 8.0, 42.0], [52.0, 10.0, 46.0]],
            carina_lps_mm: [0.0, 28.0, 62.0],
        };
        t.ribs = ribs(&t);
        t
    }

    /// Main bronchi as tubes (carina to each hilum), radius 7 / 6.5 mm.
    pub fn main_bronchi(&self) -> [TubeTruth; 2] {
        let c = self.carina_lps_mm;
        [
            tube(
                "right main bronchus",
                &[(c, 7.0), ([-36.0, 22.0, 46.0], 6.5)],
            ),
            tube("left main bronchus", &[(c, 6.5), ([38.0, 24.0, 44.0], 6.0)]),
        ]
    }

    /// The cavity cross-section at height z, per side: (centre |x|, half-width, half-depth).
    #[inline]
    fn cavity_section(&self, z: f64) -> (f64, f64, f64) {
        let a = self.cavity.half_width_x_mm;
        let b = self.cavity.half_depth_y_mm;
        if z <= self.apex_start_z_mm {
            (0.0, a, b)
        } else {
            let t =
                ((z - self.apex_start_z_mm) / (self.apex_top_z_mm - self.apex_start_z_mm)).min(1.0);
            let s = (1.0 - t * t).max(0.0).sqrt();
            let c = self.apex_centre_x_mm * t;
            (c, (a - c) * s, b * s)
        }
    }

    /// Pleural cavity (lungs + mediastinum, above and below the diaphragm). Above the apex
    /// start each side narrows to its own dome.
    #[inline]
    pub fn cavity_sdf(&self, p: &Point3<f64>) -> f64 {
        if p.z <= self.apex_start_z_mm {
            return self.cavity.sdf(p);
        }
        let (c, a, b) = self.cavity_section(p.z);
        if a <= 1e-3 || b <= 1e-3 {
            return p.z - self.apex_top_z_mm;
        }
        let u = (p.x.abs() - c) / a;
        let v = (p.y - self.cavity.centre_xy_mm[1]) / b;
        ((u * u + v * v).sqrt() - 1.0) * a.min(b)
    }

    /// Positive above the diaphragm; magnitude a (local) lower bound on the distance to it.
    #[inline]
    pub fn diaphragm_sdf(&self, p: &Point3<f64>) -> f64 {
        let (z0, s0) = self.domes[0].height(p.x, p.y);
        let (z1, s1) = self.domes[1].height(p.x, p.y);
        let (z, slope_sq) = if z0 >= z1 { (z0, s0) } else { (z1, s1) };
        // Height difference over the local slope: the distance to a gently curved surface.
        (p.z - z) / (1.0 + slope_sq).sqrt()
    }

    /// Positive on the lower-lobe side of the major fissure.
    #[inline]
    pub fn major_fissure_sdf(&self, p: &Point3<f64>) -> f64 {
        let [py, pz] = self.major_fissure_point_yz_mm;
        let [ny, nz] = self.major_fissure_normal_yz;
        (p.y - py) * ny + (p.z - pz) * nz
    }

    pub fn is_left(&self, p: &Point3<f64>) -> bool {
        p.x > self.mediastinum.centre_xy_mm[0]
    }

    /// The lobe containing `p` (assuming it is in a lung).
    pub fn lobe(&self, p: &Point3<f64>) -> crate::config::Lobe {
        use crate::config::Lobe;
        let lower = self.major_fissure_sdf(p) > 0.0;
        match (self.is_left(p), lower) {
            (true, true) => Lobe::Lll,
            (true, false) => Lobe::Lul,
            (false, true) => Lobe::Rll,
            (false, false) if p.z < self.minor_fissure_z_mm => Lobe::Rml,
            (false, false) => Lobe::Rul,
        }
    }

    /// Distance bound to the fissures that bound `p`'s lobe.
    pub fn fissure_distance(&self, p: &Point3<f64>) -> f64 {
        let major = self.major_fissure_sdf(p).abs();
        if !self.is_left(p) && self.major_fissure_sdf(p) < 0.0 {
            major.min((p.z - self.minor_fissure_z_mm).abs())
        } else {
            major
        }
    }

    pub fn rib_cage_point(&self, side: f64, theta: f64, z: f64) -> Point3<f64> {
        let out = 7.0;
        let (c, a, b) = self.cavity_section(z.min(self.apex_top_z_mm - 8.0));
        Point3::new(
            side * (c + (a + out) * theta.sin()),
            self.cavity.centre_xy_mm[1] + (b + out) * theta.cos(),
            z,
        )
    }
}

/// Twelve ribs a side, from the spine (posterior, theta ~ 0) round to the front, sloping down.
fn ribs(t: &Thorax) -> Vec<RibTruth> {
    let mut out = Vec::new();
    for (side_name, side) in [("right", -1.0), ("left", 1.0)] {
        for k in 0..12u32 {
            let z_post = 140.0 - 21.0 * k as f64;
            let (theta_end, cartilage_from) = match k {
                0..=6 => (2.95, Some(2.35)),
                7..=9 => (2.55, Some(2.05)),
                10 => (1.7, None),
                _ => (1.3, None),
            };
            let drop = match k {
                0 => 18.0,
                1 => 32.0,
                _ => 48.0,
            };
            let theta0 = 0.38;
            let n = 20;
            let mut pts = Vec::with_capacity(n + 1);
            let mut cart_idx = None;
            for i in 0..=n {
                let th = theta0 + (theta_end - theta0) * i as f64 / n as f64;
                let z = z_post - drop * (th - theta0) / (std::f64::consts::PI - theta0);
                if cart_idx.is_none() && cartilage_from.is_some_and(|c| th >= c) {
                    cart_idx = Some(i);
                }
                pts.push(t.rib_cage_point(side, th, z).coords.into());
            }
            out.push(RibTruth {
                side: side_name.into(),
                number: k + 1,
                centreline_lps_mm: pts,
                radius_mm: 5.0,
                cartilage_from_point: cart_idx,
            });
        }
    }
    out
}

/// Chest-wall capsules (ribs, cartilage, clavicles) with their kind.
pub fn wall_capsules(t: &Thorax) -> Vec<(Capsule, BoneKind)> {
    let mut out = Vec::new();
    for rib in &t.ribs {
        for (i, w) in rib.centreline_lps_mm.windows(2).enumerate() {
            let kind = match rib.cartilage_from_point {
                Some(c) if i >= c => BoneKind::Cartilage,
                _ => BoneKind::Bone,
            };
            out.push((
                Capsule::new(
                    Point3::from(w[0]),
                    Point3::from(w[1]),
                    rib.radius_mm,
                    rib.radius_mm,
                ),
                kind,
            ));
        }
    }
    for c in &t.clavicles {
        out.extend(c.capsules().into_iter().map(|c| (c, BoneKind::Bone)));
    }
    out
}
