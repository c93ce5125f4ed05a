//! The assembled phantom scene: fixed thorax + seeded trees and nodules, with a point query that
//! returns the tissue at a point and a lower bound on the distance to the nearest tissue change.

use margo_volume::nalgebra::{Point3, Vector3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::PhantomError;
use crate::body::{BoneKind, Thorax, wall_capsules};
use crate::config::{NoduleKind, NoduleSpec, PhantomConfig, TissueHu};
use crate::nodules::{Nodule, NoduleShape};
use crate::rng::SplitMix64;
use crate::shapes::{Capsule, CapsuleGrid, Ellipsoid, PreparedCapsule};
use crate::trees::{Exclusion, GrowParams, TreeTruth, grow_tree, territory};

/// Every tissue the phantom paints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Tissue {
    Air,
    Lung,
    Skin,
    Fat,
    Muscle,
    MediastinalFat,
    Myocardium,
    BloodPool,
    Aorta,
    PulmonaryVessel,
    AirwayWall,
    AirwayLumen,
    Fissure,
    CorticalBone,
    CancellousBone,
    Cartilage,
    IntervertebralDisc,
    SpinalCanal,
    Liver,
    SpleenStomach,
    NoduleSolid,
    NoduleGroundGlass,
}

impl Tissue {
    pub fn hu(self, t: &TissueHu) -> f32 {
        match self {
            Tissue::Air | Tissue::AirwayLumen => t.air,
            Tissue::Lung => t.lung,
            Tissue::Skin => t.skin,
            Tissue::Fat => t.fat,
            Tissue::Muscle | Tissue::IntervertebralDisc => t.muscle,
            Tissue::MediastinalFat => t.mediastinal_fat,
            Tissue::Myocardium => t.myocardium,
            Tissue::BloodPool => t.blood_pool,
            Tissue::Aorta => t.aorta,
            Tissue::PulmonaryVessel => t.pulmonary_vessel,
            Tissue::AirwayWall => t.airway_wall,
            Tissue::Fissure => t.fissure,
            Tissue::CorticalBone => t.cortical_bone,
            Tissue::CancellousBone => t.cancellous_bone,
            Tissue::Cartilage => t.cartilage,
            Tissue::SpinalCanal => t.spinal_canal,
            Tissue::Liver => t.liver,
            Tissue::SpleenStomach => t.spleen_stomach,
            Tissue::NoduleSolid => t.nodule_solid,
            Tissue::NoduleGroundGlass => t.nodule_ground_glass,
        }
    }
}

/// If `p` is outside the box, lowers `m` to (distance to the box + `pad`) and returns false;
/// returns true inside. Skips the square root when it cannot lower `m`.
#[inline]
fn inside_box<const TRACK: bool>(
    p: &Point3<f64>,
    b: &(Point3<f64>, Point3<f64>),
    pad: f64,
    m: &mut f64,
) -> bool {
    let dx = (b.0.x - p.x).max(0.0).max(p.x - b.1.x);
    let dy = (b.0.y - p.y).max(0.0).max(p.y - b.1.y);
    let dz = (b.0.z - p.z).max(0.0).max(p.z - b.1.z);
    let d2 = dx * dx + dy * dy + dz * dz;
    if d2 == 0.0 {
        return true;
    }
    if !TRACK {
        return false;
    }
    // When m is already below pad the box cannot lower it.
    let limit = *m - pad;
    if limit > 0.0 && d2 < limit * limit {
        *m = d2.sqrt() + pad;
    }
    false
}

/// Distance from `p` to an axis-aligned box (0 inside).
#[inline]
fn box_distance(p: &Point3<f64>, lo: &Point3<f64>, hi: &Point3<f64>) -> f64 {
    let dx = (lo.x - p.x).max(0.0).max(p.x - hi.x);
    let dy = (lo.y - p.y).max(0.0).max(p.y - hi.y);
    let dz = (lo.z - p.z).max(0.0).max(p.z - hi.z);
    (dx * dx + dy * dy + dz * dz).sqrt()
}

/// A tube of the mediastinum (aorta, cavae, pulmonary arteries, esophagus, central airways).
#[derive(Debug, Clone, Copy)]
struct Tube {
    capsule: Capsule,
    tissue: Tissue,
    /// Airway wall thickness (lumen is air); 0 for solid tubes.
    wall_mm: f64,
}

/// Conservative factor on bounds that ignore z-variation of a cross-section.
const SAFETY: f64 = 0.8;

#[derive(Debug, Clone)]
pub struct Scene {
    pub thorax: Thorax,
    tubes: Vec<Tube>,
    tube_grid: CapsuleGrid,
    wall: Vec<(Capsule, BoneKind)>,
    wall_grid: CapsuleGrid,
    airway_caps: Vec<Capsule>,
    airway_walls: Vec<f64>,
    airway_grid: CapsuleGrid,
    vessel_caps: Vec<Capsule>,
    vessel_prepared: Vec<PreparedCapsule>,
    airway_prepared: Vec<PreparedCapsule>,
    wall_prepared: Vec<PreparedCapsule>,
    vessel_grid: CapsuleGrid,
    pub nodules: Vec<Nodule>,
    nodule_boxes: Vec<(Point3<f64>, Point3<f64>)>,
    pub vessel_trees: Vec<TreeTruth>,
    pub airway_trees: Vec<TreeTruth>,
    spine_box: (Point3<f64>, Point3<f64>),
    sternum_box: (Point3<f64>, Point3<f64>),
    heart_box: (Point3<f64>, Point3<f64>),
    scapula_boxes: [(Point3<f64>, Point3<f64>); 2],
    heart_fat: Ellipsoid,
    /// Distance beyond which bounding boxes and grids skip a shape.
    pad_mm: f64,
}

fn airway_wall_mm(lumen_radius_mm: f64) -> f64 {
    0.2 * lumen_radius_mm + 0.35
}

impl Scene {
    /// Builds the scene. `z_range_mm` limits where nodules may be placed (the volume's slab),
    /// `xy_half_extent_mm` the in-plane field of view around (0, 8).
    pub fn build(
        config: &PhantomConfig,
        z_range_mm: [f64; 2],
        pad_mm: f64,
    ) -> Result<Self, PhantomError> {
        let thorax = Thorax::standard();
        let mut tubes = Vec::new();
        let mut add = |t: &crate::body::TubeTruth, tissue: Tissue, wall: f64| {
            for c in t.capsules() {
                tubes.push(Tube {
                    capsule: c,
                    tissue,
                    wall_mm: wall,
                });
            }
        };
        add(&thorax.esophagus, Tissue::Muscle, 0.0);
        add(&thorax.aorta, Tissue::Aorta, 0.0);
        for v in &thorax.other_vessels {
            add(v, Tissue::BloodPool, 0.0);
        }
        add(&thorax.trachea_and_main_bronchi, Tissue::AirwayLumen, 2.0);
        for b in thorax.main_bronchi() {
            add(&b, Tissue::AirwayLumen, 1.8);
        }
        let tube_caps: Vec<Capsule> = tubes.iter().map(|t| t.capsule).collect();
        let tube_walls: Vec<f64> = tubes.iter().map(|t| t.wall_mm).collect();
        let tube_grid = CapsuleGrid::build(
            &tube_caps,
            10.0,
            &|c| {
                tube_caps
                    .iter()
                    .position(|x| x == c)
                    .map_or(0.0, |i| tube_walls[i])
            },
            pad_mm,
        );
        let wall = wall_capsules(&thorax);
        let wall_prepared = wall.iter().map(|w| PreparedCapsule::new(&w.0)).collect();
        let wall_caps: Vec<Capsule> = wall.iter().map(|w| w.0).collect();
        let wall_grid = CapsuleGrid::build(&wall_caps, 12.0, &|_| 0.0, pad_mm);
        let heart_fat = thorax.heart.grown(thorax.pericardial_fat_mm);
        let spine_box = (
            Point3::new(-40.0, 58.0, f64::NEG_INFINITY),
            Point3::new(40.0, 140.0, f64::INFINITY),
        );
        let s = &thorax.sternum;
        let sternum_box = (
            Point3::new(
                -s.half_width_x_mm - pad_mm,
                s.centre_xy_mm[1] - s.half_depth_y_mm - pad_mm,
                thorax.sternum_z_range_mm[0] - pad_mm,
            ),
            Point3::new(
                s.half_width_x_mm + pad_mm,
                s.centre_xy_mm[1] + s.half_depth_y_mm + pad_mm,
                thorax.sternum_z_range_mm[1] + pad_mm,
            ),
        );
        let heart_box = heart_fat.bounds(pad_mm);
        let scapula_boxes = thorax.scapulae.map(|e| e.bounds(pad_mm));
        let mut scene = Self {
            thorax,
            tubes,
            tube_grid,
            wall,
            wall_grid,
            airway_caps: Vec::new(),
            airway_walls: Vec::new(),
            airway_grid: CapsuleGrid::default(),
            vessel_caps: Vec::new(),
            vessel_prepared: Vec::new(),
            airway_prepared: Vec::new(),
            wall_prepared,
            vessel_grid: CapsuleGrid::default(),
            nodules: Vec::new(),
            nodule_boxes: Vec::new(),
            vessel_trees: Vec::new(),
            airway_trees: Vec::new(),
            spine_box,
            sternum_box,
            heart_box,
            scapula_boxes,
            heart_fat,
            pad_mm,
        };
        // Nodules that must stay clear of vessels are placed first; trees grow around them.
        let (later, first): (Vec<_>, Vec<_>) = config
            .nodules
            .iter()
            .enumerate()
            .partition(|(_, s)| s.kind == NoduleKind::Juxtavascular);
        let mut placed: Vec<(usize, Nodule)> = Vec::new();
        for (i, spec) in first {
            let n = scene.place_free(config.seed, i, spec, z_range_mm, &placed)?;
            placed.push((i, n));
        }
        let exclusions: Vec<Exclusion> = placed
            .iter()
            .map(|(_, n)| Exclusion {
                centre: n.centre(),
                radius_mm: n.bounding_radius_mm() + 3.0,
            })
            .collect();
        scene.grow_trees(config.seed, &exclusions);
        for (i, spec) in later {
            let n = scene.place_juxtavascular(config.seed, i, spec, z_range_mm, &placed)?;
            placed.push((i, n));
        }
        placed.sort_by_key(|(i, _)| *i);
        scene.nodules = placed.into_iter().map(|(_, n)| n).collect();
        scene.nodule_boxes = scene
            .nodules
            .iter()
            .map(|n| {
                let r = n.bounding_radius_mm() + pad_mm;
                (
                    n.centre() - Vector3::repeat(r),
                    n.centre() + Vector3::repeat(r),
                )
            })
            .collect();
        Ok(scene)
    }

    /// Signed distance bound to the lungs (negative inside either lung), ignoring their
    /// internal structures. Used to grow trees and place nodules.
    pub fn lung_sdf(&self, p: &Point3<f64>) -> f64 {
        let t = &self.thorax;
        let mut d = t.cavity_sdf(p).max(-t.diaphragm_sdf(p));
        d = d.max(self.lung_exclusions_sdf(p));
        d
    }

    /// Minus the distance to the nearest non-lung structure inside the cavity (mediastinum,
    /// heart, great vessels, spine).
    fn lung_exclusions_sdf(&self, p: &Point3<f64>) -> f64 {
        let t = &self.thorax;
        let mut d = -t.mediastinum.sdf(p);
        d = d.max(-self.heart_fat.sdf(p));
        for tube in &self.tubes {
            d = d.max(-tube.capsule.sdf(p, tube.wall_mm));
        }
        d = d.max(-t.vertebral_body.sdf(p));
        d
    }

    fn z_ok(z: f64, r: f64, z_range: [f64; 2]) -> bool {
        z - r - 2.0 >= z_range[0] && z + r + 2.0 <= z_range[1]
    }

    fn far_from(&self, c: &Point3<f64>, r: f64, placed: &[(usize, Nodule)]) -> bool {
        placed
            .iter()
            .all(|(_, n)| (n.centre() - c).norm() > r + n.bounding_radius_mm() + 8.0)
    }

    fn place_free(
        &self,
        seed: u64,
        index: usize,
        spec: &NoduleSpec,
        z_range: [f64; 2],
        placed: &[(usize, Nodule)],
    ) -> Result<Nodule, PhantomError> {
        let (mut rng, template) = nodule_template(seed, index, spec);
        let r = template.bounding_radius_mm();
        let side = if spec.lobe.is_left() { 1.0 } else { -1.0 };
        let t = &self.thorax;
        for _ in 0..40_000 {
            let centre = if spec.kind == NoduleKind::Juxtapleural {
                // On the costal pleura (lateral and posterior), pushed in by 0.8 r so a small
                // cap lies in the chest wall.
                let theta = rng.range(0.7, 2.3);
                let z = rng.range(-90.0, t.apex_start_z_mm);
                let a = t.cavity.half_width_x_mm;
                let b = t.cavity.half_depth_y_mm;
                let cy = t.cavity.centre_xy_mm[1];
                let q = Point3::new(side * a * theta.sin(), cy + b * theta.cos(), z);
                let normal = Vector3::new(q.x / (a * a), (q.y - cy) / (b * b), 0.0).normalize();
                let c = q - normal * (0.8 * r);
                let others = (-t.diaphragm_sdf(&c)).max(self.lung_exclusions_sdf(&c));
                if others > -(r + 6.0) {
                    continue;
                }
                c
            } else {
                let c = Point3::new(
                    side * rng.range(15.0, 140.0),
                    rng.range(-85.0, 100.0),
                    rng.range(z_range[0], z_range[1]),
                );
                if self.lung_sdf(&c) > -(r + 6.0) {
                    continue;
                }
                c
            };
            if t.lobe(&centre) != spec.lobe
                || t.fissure_distance(&centre) < r + 3.0
                || !Self::z_ok(centre.z, r, z_range)
                || !self.far_from(&centre, r, placed)
            {
                continue;
            }
            return Ok(template.translated(centre));
        }
        Err(placement_failed(spec, z_range))
    }

    fn place_juxtavascular(
        &self,
        seed: u64,
        index: usize,
        spec: &NoduleSpec,
        z_range: [f64; 2],
        placed: &[(usize, Nodule)],
    ) -> Result<Nodule, PhantomError> {
        let (mut rng, template) = nodule_template(seed, index, spec);
        let r = template.bounding_radius_mm();
        let t = &self.thorax;
        let n = self.vessel_caps.len();
        if n > 0 {
            for _ in 0..20_000 {
                let c = &self.vessel_caps[(rng.next_u64() % n as u64) as usize];
                let vr = 0.5 * (c.radius_a_mm + c.radius_b_mm);
                if !(1.2..=3.5).contains(&vr) {
                    continue;
                }
                let mid = nalgebra_mid(c);
                let axis = (c.b() - c.a()).normalize();
                let v = Vector3::new(rng.normal(), rng.normal(), rng.normal());
                let perp = (v - axis * v.dot(&axis)).try_normalize(1e-9);
                let Some(perp) = perp else { continue };
                // Overlap the vessel by half its radius: the nodule abuts and engulfs its edge.
                let centre = mid + perp * (r + 0.5 * vr);
                if t.lobe(&centre) != spec.lobe
                    || self.lung_sdf(&centre) > -(r + 4.0)
                    || t.fissure_distance(&centre) < r + 2.0
                    || !Self::z_ok(centre.z, r, z_range)
                    || !self.far_from(&centre, r, placed)
                {
                    continue;
                }
                return Ok(template.translated(centre));
            }
        }
        Err(placement_failed(spec, z_range))
    }

    fn grow_trees(&mut self, seed: u64, exclusions: &[Exclusion]) {
        let t = &self.thorax;
        struct Root {
            name: String,
            kind: &'static str,
            side: &'static str,
            left: bool,
            start: Point3<f64>,
            params: GrowParams,
        }
        let vessel = |root_radius_mm: f64, points: usize| GrowParams {
            root_radius_mm,
            points,
            point_depth_mm: 3.0,
            pleural_clearance_mm: 1.0,
            step_fraction: 0.45,
            max_length_per_radius: 6.0,
            min_radius_mm: 0.3,
        };
        let mut roots = Vec::new();
        for (side, s, hilum) in [
            ("right", -1.0, t.hila_lps_mm[0]),
            ("left", 1.0, t.hila_lps_mm[1]),
        ] {
            let h = Point3::from(hilum);
            let left = s > 0.0;
            roots.push(Root {
                name: format!("{side} pulmonary arteries"),
                kind: "pulmonary-vessel",
                side,
                left,
                start: h,
                params: vessel(7.0, 2600),
            });
            roots.push(Root {
                name: format!("{side} pulmonary veins"),
                kind: "pulmonary-vessel",
                side,
                left,
                start: h + Vector3::new(s * 2.0, -8.0, -22.0),
                params: vessel(6.5, 2200),
            });
            let bronchus = self.thorax.main_bronchi()[usize::from(left)].clone();
            let end = *bronchus.centreline_lps_mm.last().expect("two points");
            roots.push(Root {
                name: format!("{side} bronchi"),
                kind: "airway",
                side,
                left,
                start: Point3::from(end),
                params: GrowParams {
                    root_radius_mm: 6.0,
                    points: 110,
                    point_depth_mm: 12.0,
                    pleural_clearance_mm: 8.0,
                    step_fraction: 0.5,
                    max_length_per_radius: 8.0,
                    min_radius_mm: 0.9,
                },
            });
        }
        let this = &*self;
        let trees: Vec<TreeTruth> = roots
            .par_iter()
            .map(|root| {
                let mut rng = SplitMix64::stream(seed, &root.name);
                let left = root.left;
                let lung = |p: &Point3<f64>| {
                    // Stay in this root's own lung.
                    let wrong_side = if this.thorax.is_left(p) != left {
                        50.0
                    } else {
                        -1e9
                    };
                    this.lung_sdf(p).max(wrong_side)
                };
                let s = if left { 1.0 } else { -1.0 };
                let bounds = (
                    Point3::new(if left { 0.0 } else { -150.0 }, -100.0, -130.0),
                    Point3::new(if left { 150.0 } else { 0.0 }, 110.0, 160.0),
                );
                let _ = s;
                let points = territory(
                    &mut rng,
                    bounds,
                    root.params.points,
                    root.params.point_depth_mm,
                    &lung,
                    exclusions,
                );
                grow_tree(
                    &root.name,
                    root.kind,
                    root.side,
                    root.start,
                    points,
                    &mut rng,
                    &lung,
                    exclusions,
                    root.params,
                )
            })
            .collect();
        for tree in trees {
            if tree.kind == "airway" {
                self.airway_trees.push(tree);
            } else {
                self.vessel_trees.push(tree);
            }
        }
        self.vessel_caps = self
            .vessel_trees
            .iter()
            .flat_map(|t| t.segments.iter().map(|s| s.capsule()))
            .collect();
        self.airway_caps = self
            .airway_trees
            .iter()
            .flat_map(|t| t.segments.iter().map(|s| s.capsule()))
            .collect();
        self.airway_walls = self
            .airway_caps
            .iter()
            .map(|c| airway_wall_mm(c.max_radius_mm()))
            .collect();
        self.vessel_prepared = self.vessel_caps.iter().map(PreparedCapsule::new).collect();
        self.airway_prepared = self.airway_caps.iter().map(PreparedCapsule::new).collect();
        self.vessel_grid = CapsuleGrid::build(&self.vessel_caps, 5.0, &|_| 0.0, self.pad_mm);
        self.airway_grid = CapsuleGrid::build(
            &self.airway_caps,
            6.0,
            &|c| airway_wall_mm(c.max_radius_mm()),
            self.pad_mm,
        );
    }

    /// The tissue at `p` and a lower bound (approximately) on the distance to a different
    /// tissue, in mm.
    pub fn sample(&self, p: &Point3<f64>) -> (Tissue, f64) {
        let (t, m_xy, m) = self.sample_margins(p);
        (t, m_xy.min(m))
    }

    /// The tissue at `p`, a lower bound on the in-plane distance to boundaries that do not vary
    /// with z (body outline, chest wall, spine: a voxel straddles these only if they come within
    /// its in-plane half-diagonal), and a lower bound on the 3-D distance to all others.
    pub fn sample_margins(&self, p: &Point3<f64>) -> (Tissue, f64, f64) {
        self.sample_impl::<true>(p)
    }

    /// Just the tissue at `p` (the same decision as [`Scene::sample_margins`], without the
    /// distance bookkeeping): what partial-volume sub-samples need.
    pub fn tissue_at(&self, p: &Point3<f64>) -> Tissue {
        self.sample_impl::<false>(p).0
    }

    /// With `TRACK` false, margins are not maintained (the returned ones are meaningless) and
    /// tests that only serve them are skipped; tissue decisions are identical.
    #[inline(always)]
    fn sample_impl<const TRACK: bool>(&self, p: &Point3<f64>) -> (Tissue, f64, f64) {
        let t = &self.thorax;
        let pad = self.pad_mm;
        let body = t.body.sdf(p);
        let mut m_xy = body.abs();
        let mut m = f64::MAX;
        if body > 0.0 {
            return (Tissue::Air, m_xy, m);
        }
        let mut tissue;
        let skin_d = body + t.skin_mm;
        m_xy = m_xy.min(skin_d.abs());
        let muscle = t.muscle.sdf(p);
        m_xy = m_xy.min(muscle.abs());
        if skin_d > 0.0 {
            tissue = Tissue::Skin;
        } else if muscle > 0.0 {
            tissue = Tissue::Fat;
        } else {
            tissue = Tissue::Muscle;
        }
        let mut in_lung = false;
        let dia = t.diaphragm_sdf(p);
        if muscle < 0.0 {
            let cav2d = t.cavity.sdf(p);
            let cav = if p.z <= t.apex_start_z_mm {
                cav2d
            } else {
                t.cavity_sdf(p)
            };
            if p.z > t.apex_start_z_mm - 2.0 {
                m = m.min(SAFETY * cav.abs());
            }
            m_xy = m_xy.min(cav2d.abs());
            m = m.min(dia.abs());
            if cav < 0.0 || cav2d < 0.0 {
                if dia < 0.0 {
                    if cav2d < 0.0 {
                        let lb = p.x - t.liver_boundary_x_mm;
                        m_xy = m_xy.min(lb.abs());
                        tissue = if lb < 0.0 {
                            Tissue::Liver
                        } else {
                            Tissue::SpleenStomach
                        };
                    }
                } else {
                    if cav < 0.0 {
                        tissue = Tissue::Lung;
                        in_lung = true;
                    }
                    let md = t.mediastinum.sdf(p);
                    m_xy = m_xy.min(md.abs());
                    if md < 0.0 && cav2d < 0.0 {
                        tissue = Tissue::MediastinalFat;
                        in_lung = false;
                    }
                }
            }
        }
        // Heart (on the diaphragm, inside its pericardial fat).
        if inside_box::<TRACK>(p, &self.heart_box, pad, &mut m) && dia > 0.0 {
            let hf = self.heart_fat.sdf(p);
            m = m.min(hf.abs());
            if hf < 0.0 {
                tissue = Tissue::MediastinalFat;
                in_lung = false;
                cover(&mut m_xy, &mut m, (-hf).min(dia), false);
                let h = t.heart.sdf(p);
                m = m.min(h.abs());
                if h < 0.0 {
                    tissue = Tissue::Myocardium;
                    for c in &t.heart_chambers {
                        let d = c.sdf(p);
                        m = m.min(d.abs());
                        if d < 0.0 {
                            tissue = Tissue::BloodPool;
                        }
                    }
                }
            }
        }
        // Great vessels, esophagus and central airways.
        let (near, clearance) = self.tube_grid.query(p);
        m = m.min(clearance);
        for &ti in near {
            let tube = &self.tubes[ti as usize];
            let outer = tube.capsule.sdf(p, tube.wall_mm);
            m = m.min(outer.abs());
            if outer < 0.0 {
                in_lung = false;
                cover(&mut m_xy, &mut m, -outer, false);
                if tube.wall_mm > 0.0 {
                    let lumen = tube.capsule.sdf(p, 0.0);
                    m = m.min(lumen.abs());
                    tissue = if lumen < 0.0 {
                        Tissue::AirwayLumen
                    } else {
                        Tissue::AirwayWall
                    };
                } else {
                    tissue = tube.tissue;
                }
            }
        }
        // Spine (z-invariant cross-sections; the disc planes count in 3-D).
        let sb = box_distance(p, &self.spine_box.0, &self.spine_box.1);
        if sb > 0.0 {
            m_xy = m_xy.min(sb);
        } else if let Some(s) = self.spine(p, &mut m_xy, &mut m) {
            tissue = s;
            in_lung = false;
        }
        // Sternum.
        if inside_box::<TRACK>(p, &self.sternum_box, pad, &mut m) {
            let [z0, z1] = t.sternum_z_range_mm;
            let d = t.sternum.sdf(p).max(z0 - p.z).max(p.z - z1);
            if d < 0.0 {
                cover(&mut m_xy, &mut m, -d, false);
                in_lung = false;
            }
            if let Some(b) = bone(d, t.cortex_mm, &mut m) {
                tissue = b;
            }
        }
        // Ribs, costal cartilage, clavicles.
        let (near, clearance) = self.wall_grid.query(p);
        m = m.min(clearance);
        for &ci in near {
            let kind = self.wall[ci as usize].1;
            // Bones need the cortex boundary too, which lies inside the capsule.
            let Some(d) =
                self.wall_prepared[ci as usize].sdf_within(p, 0.0, if TRACK { m } else { 0.0 })
            else {
                continue;
            };
            if d < 0.0 {
                cover(&mut m_xy, &mut m, -d, false);
                in_lung = false;
            }
            match kind {
                BoneKind::Bone => {
                    if let Some(b) = bone(d, t.cortex_mm, &mut m) {
                        tissue = b;
                    }
                }
                BoneKind::Cartilage => {
                    m = m.min(d.abs());
                    if d < 0.0 {
                        tissue = Tissue::Cartilage;
                    }
                }
            }
        }
        for (e, b) in t.scapulae.iter().zip(&self.scapula_boxes) {
            if inside_box::<TRACK>(p, b, pad, &mut m) {
                let d = e.sdf(p);
                m = m.min(d.abs());
                if d < 0.0 {
                    cover(&mut m_xy, &mut m, -d, false);
                    tissue = Tissue::CorticalBone;
                }
            }
        }
        if in_lung {
            // Fissures.
            let half = 0.5 * t.fissure_thickness_mm;
            let major = t.major_fissure_sdf(p);
            m = m.min((major.abs() - half).abs());
            if major.abs() < half {
                cover(&mut m_xy, &mut m, half - major.abs(), false);
                tissue = Tissue::Fissure;
            }
            if !t.is_left(p) && major < 0.0 {
                let minor = p.z - t.minor_fissure_z_mm;
                m = m.min((minor.abs() - half).abs());
                if minor.abs() < half {
                    cover(&mut m_xy, &mut m, half - minor.abs(), false);
                    tissue = Tissue::Fissure;
                }
            }
            let (near, clearance) = self.airway_grid.query(p);
            m = m.min(clearance);
            for &ci in near {
                let c = &self.airway_prepared[ci as usize];
                let Some(outer) = c.sdf_within(
                    p,
                    self.airway_walls[ci as usize],
                    if TRACK { m } else { 0.0 },
                ) else {
                    continue;
                };
                m = m.min(outer.abs());
                if outer < 0.0 {
                    let lumen = c.sdf_within(p, 0.0, f64::MAX).unwrap_or(f64::MAX);
                    if lumen < 0.0 {
                        cover(&mut m_xy, &mut m, -outer, false);
                        tissue = Tissue::AirwayLumen;
                    } else if tissue != Tissue::AirwayLumen {
                        cover(&mut m_xy, &mut m, -outer, false);
                        tissue = Tissue::AirwayWall;
                    }
                    m = m.min(lumen.abs());
                }
            }
            let (near, clearance) = self.vessel_grid.query(p);
            m = m.min(clearance);
            for &ci in near {
                if let Some(d) = self.vessel_prepared[ci as usize].sdf_within(
                    p,
                    0.0,
                    if TRACK { m } else { 0.0 },
                ) {
                    m = m.min(d.abs());
                    if d < 0.0 {
                        cover(&mut m_xy, &mut m, -d, false);
                        tissue = Tissue::PulmonaryVessel;
                    }
                }
            }
        }
        if let Some(n) = self.nodule_at_impl::<TRACK>(p, &mut m_xy, &mut m) {
            tissue = n;
        }
        (tissue, m_xy, m)
    }

    /// The nodule tissue at `p`, if any; updates the margin.
    #[inline]
    pub fn nodule_at(&self, p: &Point3<f64>, m_xy: &mut f64, m: &mut f64) -> Option<Tissue> {
        self.nodule_at_impl::<true>(p, m_xy, m)
    }

    #[inline(always)]
    fn nodule_at_impl<const TRACK: bool>(
        &self,
        p: &Point3<f64>,
        m_xy: &mut f64,
        m: &mut f64,
    ) -> Option<Tissue> {
        let mut out = None;
        for (n, b) in self.nodules.iter().zip(&self.nodule_boxes) {
            if !inside_box::<TRACK>(p, b, self.pad_mm, m) {
                continue;
            }
            let d = n.sdf(p);
            *m = m.min(d.abs());
            if d < 0.0 {
                cover(m_xy, m, -d, false);
            }
            if let Some(core) = n.core_sdf(p) {
                *m = m.min(core.abs());
            }
            if d < 0.0 {
                out = Some(match n.kind {
                    NoduleKind::GroundGlass => Tissue::NoduleGroundGlass,
                    NoduleKind::PartSolid if n.core_sdf(p).is_some_and(|c| c > 0.0) => {
                        Tissue::NoduleGroundGlass
                    }
                    _ => Tissue::NoduleSolid,
                });
            }
        }
        out
    }

    /// Index of the nodule whose (padded) bounding box contains `p`.
    pub fn in_nodule_box(&self, p: &Point3<f64>) -> bool {
        self.nodule_boxes
            .iter()
            .any(|b| box_distance(p, &b.0, &b.1) == 0.0)
    }

    fn spine(&self, p: &Point3<f64>, m_xy: &mut f64, m: &mut f64) -> Option<Tissue> {
        let t = &self.thorax;
        let vb = t.vertebral_body.sdf(p);
        let arch = t.vertebral_arch.sdf(p);
        let posterior = arch
            .min(t.spinous_process.sdf(p))
            .min(t.transverse_processes[0].sdf(p))
            .min(t.transverse_processes[1].sdf(p));
        // The canal lies inside the arch, so this is the whole spine's outline.
        let outline = vb.min(posterior);
        if outline >= 0.0 {
            *m_xy = m_xy.min(outline);
            return None;
        }
        cover(m_xy, m, -outline, true);
        let canal = t.spinal_canal.sdf(p);
        *m_xy = m_xy.min(canal.abs()).min(vb.abs()).min(posterior.abs());
        let mut out = bone(posterior.max(-canal), t.cortex_mm, m_xy);
        if vb < 0.0 {
            let period = t.vertebra_period_mm;
            let phase = (p.z + 1000.0).rem_euclid(period);
            let disc_start = period - t.disc_height_mm;
            *m = m.min((phase - disc_start).abs().min(phase).min(period - phase));
            out = if phase >= disc_start {
                Some(Tissue::IntervertebralDisc)
            } else {
                bone(vb, t.cortex_mm, m_xy)
            };
        }
        if canal < 0.0 {
            out = Some(Tissue::SpinalCanal);
        }
        out
    }
}

/// Paints over everything below: boundaries of lower layers closer than `depth_mm` (the point's
/// depth inside the new structure) are hidden, so the margins restart from that depth. A
/// z-invariant structure (`planar`) hides whole voxel columns, so only its in-plane depth counts.
#[inline]
fn cover(m_xy: &mut f64, m: &mut f64, depth_mm: f64, planar: bool) {
    if planar {
        *m_xy = depth_mm;
        *m = f64::MAX;
    } else {
        *m = depth_mm;
        *m_xy = f64::MAX;
    }
}

/// Cortical shell of `cortex_mm` around cancellous bone, for a shape with signed distance `d`.
#[inline]
fn bone(d: f64, cortex_mm: f64, m: &mut f64) -> Option<Tissue> {
    *m = m.min(d.abs()).min((d + cortex_mm).abs());
    if d >= 0.0 {
        None
    } else if d > -cortex_mm {
        Some(Tissue::CorticalBone)
    } else {
        Some(Tissue::CancellousBone)
    }
}

fn nalgebra_mid(c: &Capsule) -> Point3<f64> {
    margo_volume::nalgebra::center(&c.a(), &c.b())
}

impl Nodule {
    /// The same nodule moved so its centre is at `centre`.
    pub fn translated(&self, centre: Point3<f64>) -> Nodule {
        let mut n = self.clone();
        n.centre_lps_mm = centre.coords.into();
        if let NoduleShape::Ellipsoid(e) = &mut n.shape {
            e.centre_lps_mm = centre.coords.into();
        }
        n
    }
}

/// Nodule `index`'s random stream and its shape at the origin (each placement strategy then
/// moves a copy); the stream continues with the placement draws.
fn nodule_template(seed: u64, index: usize, spec: &NoduleSpec) -> (SplitMix64, Nodule) {
    let mut rng = SplitMix64::stream(seed, &format!("nodule-{index}"));
    let template = Nodule::new(
        spec.kind,
        spec.lobe,
        Point3::origin(),
        spec.diameter_mm,
        &mut rng,
    );
    (rng, template)
}

/// No spot satisfied a placement strategy's constraints.
fn placement_failed(spec: &NoduleSpec, z_range: [f64; 2]) -> PhantomError {
    PhantomError::NodulePlacement {
        kind: spec.kind.name(),
        lobe: spec.lobe.name(),
        diameter_mm: spec.diameter_mm,
        z_range_mm: z_range,
    }
}
