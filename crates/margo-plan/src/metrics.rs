//! Coverage and margin metrics of an ablation region against a tumour mask.
//!
//! Definitions (stated once, used everywhere):
//! - **Tumour** `T`: the union of the mask's voxel cells. **Tumour + k mm** `T_k`: the voxels whose
//!   centre lies within k mm of a tumour voxel centre (exact Euclidean distance transform; this is
//!   the grown tumour of QAM and of VIC, Kaye et al. Eur Radiol 2019). `T_0 = T`.
//! - **Coverage** of `T_k`: volume of `T_k ∩ Z` / volume of `T_k`, where `Z` is the ablation region
//!   (an exact solid, see `region`). Voxel cells that straddle the zone boundary are integrated
//!   on sub-columns about 0.5 mm apart, each column's inside length computed exactly along the
//!   slice axis (point sub-samples for the eroded cryo zone); the other cells count whole.
//! - **VIC_k** (k = 0..10): the volume of `T_k` left outside `Z` (ml).
//! - **Tumour surface points**: the midpoints between each tumour voxel centre and each of its 6
//!   neighbours outside the tumour (the faces of the voxel mask), each weighted by its face area.
//! - **Surface margin** at a surface point: the signed distance from the point to the boundary of
//!   the ablation region, computed on the exact solid (positive inside the zone, negative where the
//!   tumour surface is uncovered).
//! - **Minimal ablative margin**: the smallest surface margin; its point is the weakest point.
//! - **Margin distribution**: % of the tumour surface area with margin < 0, 0..5 and >= 5 mm (QAM).
//! - **Verdict**: the rule is a margin of at least 5 mm everywhere (lung MWA: 1-year local
//!   progression-free 88.9% with >= 5 mm vs 35.7% below; BMC Med Imaging 2021, s12880-021-00626-z).
//!
//! [`TumourModel`] precomputes everything that does not depend on the probes (crop, distance map,
//! surface points), so [`TumourModel::evaluate`] only tests points against the zone.

use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{Mask, VolumeGeometry};
use rayon::prelude::*;
use serde::Serialize;

use crate::grid;
use crate::region::{CellClass, ZoneRegion};

/// Largest k of VIC_k and of the grown tumour (mm).
pub const MAX_GROWTH_MM: usize = 10;
/// The margin rule (mm).
pub const MARGIN_RULE_MM: f64 = 5.0;
pub const MARGIN_RULE_SOURCE: &str = "minimal ablative margin >= 5 mm (lung MWA: 1-year local \
progression-free 88.9% with >= 5 mm vs 35.7% below; BMC Med Imaging 2021, s12880-021-00626-z); \
aim 5-10 mm";
/// Target sub-sample spacing inside straddling voxels (mm).
const SUBSAMPLE_STEP_MM: f64 = 0.5;

#[derive(Debug, Clone, Copy)]
struct GrownVoxel {
    centre: Point3<f64>,
    /// Slice index on the crop.
    k: u32,
    /// Smallest k (mm) with this voxel in T_k.
    k_min: u8,
}

/// The grown-tumour voxels of one (i, j) column of the crop, in increasing slice order.
#[derive(Debug, Clone)]
struct Column {
    /// World centre of voxel (i, j, 0) of the crop.
    base: Point3<f64>,
    voxels: Vec<GrownVoxel>,
}

/// A tumour surface point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SurfacePoint {
    pub lps_mm: [f64; 3],
    pub area_mm2: f64,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetricsError {
    #[error("the tumour mask is empty")]
    EmptyTumour,
    #[error("internal geometry error: {0}")]
    Geometry(String),
}

/// Everything about the tumour that the metrics need, computed once per segmentation.
#[derive(Debug, Clone)]
pub struct TumourModel {
    grid: VolumeGeometry,
    columns: Vec<Column>,
    surface: Vec<SurfacePoint>,
    voxel_volume_mm3: f64,
    cell_radius_mm: f64,
    sub_steps: [usize; 3],
    /// Voxel counts of T_k for k = 0..=10.
    counts: [usize; MAX_GROWTH_MM + 1],
}

/// Metrics of one zone configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarginMetrics {
    /// Coverage of T_k for k = 0..=10 (%), `coverage_pct[0]` = tumour, `[5]`, `[10]` = margins.
    pub coverage_pct: Vec<f64>,
    /// VIC_k (ml) for k = 0..=10.
    pub vic_ml: Vec<f64>,
    /// Volume of T_k (ml).
    pub grown_volume_ml: Vec<f64>,
    pub min_margin_mm: f64,
    pub weakest_point_lps_mm: [f64; 3],
    /// Nearest point of the zone boundary to the weakest point.
    pub weakest_zone_point_lps_mm: [f64; 3],
    /// % of tumour surface area with margin < 0, 0..5 and >= 5 mm.
    pub surface_below_0_pct: f64,
    pub surface_0_to_5_pct: f64,
    pub surface_at_least_5_pct: f64,
    pub verdict: Verdict,
}

impl MarginMetrics {
    pub fn tumour_coverage_pct(&self) -> f64 {
        self.coverage_pct[0]
    }
    pub fn margin5_coverage_pct(&self) -> f64 {
        self.coverage_pct[5]
    }
    pub fn margin10_coverage_pct(&self) -> f64 {
        self.coverage_pct[10]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// True when the minimal margin meets the rule everywhere.
    pub meets_rule: bool,
    pub rule: String,
    pub reasons: Vec<String>,
}

impl TumourModel {
    /// Builds the model from a tumour mask (any grid; usually the segmentation's crop).
    pub fn new(tumour: &Mask) -> Result<Self, MetricsError> {
        let (lo, hi) = tumour.bounding_box().ok_or(MetricsError::EmptyTumour)?;
        let g = tumour.geometry();
        let sp = g.spacing_mm();
        // Crop = tumour bbox + 10 mm + 1 voxel, on the same lattice (may extend past the mask's
        // own grid: the tumour is absent there).
        let pad = [0, 1, 2].map(|a| (MAX_GROWTH_MM as f64 / sp[a]).ceil() as isize + 1);
        let first: [isize; 3] = [0, 1, 2].map(|a| lo[a] as isize - pad[a]);
        let dims: [usize; 3] = [0, 1, 2].map(|a| (hi[a] - lo[a]) + 1 + 2 * pad[a] as usize);
        let origin = g.world_from_index(&Point3::new(
            first[0] as f64,
            first[1] as f64,
            first[2] as f64,
        ));
        let cg = VolumeGeometry::new(dims, sp.into(), origin.coords.into(), *g.direction())
            .map_err(|e| MetricsError::Geometry(e.to_string()))?;
        let n = dims[0] * dims[1] * dims[2];
        let mut inside = vec![false; n];
        for (i, j, k) in tumour.iter_set() {
            let c = [
                i as isize - first[0],
                j as isize - first[1],
                k as isize - first[2],
            ];
            let c = c.map(|v| v as usize);
            inside[c[0] + dims[0] * (c[1] + dims[1] * c[2])] = true;
        }
        let spacing: [f64; 3] = sp.into();
        let d2 = grid::squared_edt_mm2(dims, spacing, &inside);
        let mut columns: Vec<Option<Column>> = vec![None; dims[0] * dims[1]];
        let mut counts = [0usize; MAX_GROWTH_MM + 1];
        for (idx, &dd) in d2.iter().enumerate() {
            let d = dd.sqrt();
            if d <= MAX_GROWTH_MM as f64 + 1e-9 {
                let k_min = if inside[idx] {
                    0
                } else {
                    (d - 1e-9).ceil().max(1.0) as u8
                };
                let (i, j, k) = (
                    idx % dims[0],
                    (idx / dims[0]) % dims[1],
                    idx / (dims[0] * dims[1]),
                );
                columns[i + dims[0] * j]
                    .get_or_insert_with(|| Column {
                        base: cg.world_from_ijk([i, j, 0]),
                        voxels: Vec::new(),
                    })
                    .voxels
                    .push(GrownVoxel {
                        centre: cg.world_from_ijk([i, j, k]),
                        k: k as u32,
                        k_min,
                    });
                for c in counts.iter_mut().skip(k_min as usize) {
                    *c += 1;
                }
            }
        }
        // Surface points: face midpoints between a tumour voxel and an outside neighbour.
        let mut surface = Vec::new();
        let face_area = [sp[1] * sp[2], sp[0] * sp[2], sp[0] * sp[1]];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let idx = i + dims[0] * (j + dims[1] * k);
                    if !inside[idx] {
                        continue;
                    }
                    let c = cg.world_from_ijk([i, j, k]);
                    for axis in 0..3 {
                        let v = [i, j, k];
                        for dir in [-1isize, 1] {
                            let nb = v[axis] as isize + dir;
                            // The crop pads every side, so neighbours exist.
                            let mut w = v;
                            w[axis] = nb as usize;
                            let nidx = w[0] + dims[0] * (w[1] + dims[1] * w[2]);
                            if !inside[nidx] {
                                let step = cg.axis_in_world(axis) * (0.5 * sp[axis] * dir as f64);
                                surface.push(SurfacePoint {
                                    lps_mm: (c + step).into(),
                                    area_mm2: face_area[axis],
                                });
                            }
                        }
                    }
                }
            }
        }
        let sub_steps = [0, 1, 2].map(|a| (sp[a] / SUBSAMPLE_STEP_MM).ceil().max(1.0) as usize);
        Ok(Self {
            grid: cg,
            columns: columns.into_iter().flatten().collect(),
            surface,
            voxel_volume_mm3: sp.product(),
            cell_radius_mm: 0.5 * sp.norm(),
            sub_steps,
            counts,
        })
    }

    pub fn surface_points(&self) -> &[SurfacePoint] {
        &self.surface
    }

    pub fn grid(&self) -> &VolumeGeometry {
        &self.grid
    }

    /// Tumour volume (ml) as the metrics see it.
    pub fn tumour_volume_ml(&self) -> f64 {
        self.counts[0] as f64 * self.voxel_volume_mm3 / 1000.0
    }

    /// Fraction of a voxel cell inside the region (sub-sampled for straddling cells).
    fn inside_fraction(&self, region: &ZoneRegion, centre: &Point3<f64>) -> f64 {
        match region.classify_cell(centre, self.cell_radius_mm) {
            CellClass::Inside => 1.0,
            CellClass::Outside => 0.0,
            CellClass::Mixed => {
                let sp = self.grid.spacing_mm();
                let [nx, ny, nz] = self.sub_steps;
                let axes: [Vector3<f64>; 3] = [0, 1, 2].map(|a| self.grid.axis_in_world(a));
                // Exact chords along the slice axis through a grid of sub-columns; point
                // sub-samples only for the eroded (cryo) region.
                let mut sum = 0.0;
                for b in 0..ny {
                    let fy = ((b as f64 + 0.5) / ny as f64 - 0.5) * sp[1];
                    for a in 0..nx {
                        let fx = ((a as f64 + 0.5) / nx as f64 - 0.5) * sp[0];
                        let base = centre + axes[0] * fx + axes[1] * fy;
                        match region.chord_inside_mm(&base, &axes[2], 0.5 * sp[2]) {
                            Some(len) => sum += len / sp[2],
                            None => {
                                let mut hit = 0usize;
                                for c in 0..nz {
                                    let fz = ((c as f64 + 0.5) / nz as f64 - 0.5) * sp[2];
                                    hit += usize::from(region.contains(&(base + axes[2] * fz)));
                                }
                                sum += hit as f64 / nz as f64;
                            }
                        }
                    }
                }
                sum / (nx * ny) as f64
            }
        }
    }

    /// Adds the covered fraction of every voxel of one column to `acc[k_min]`. Exact along the
    /// slice axis (one set of chord intervals per sub-column for the whole column); the eroded
    /// cryo zone falls back to per-voxel sub-sampling.
    fn cover_column(
        &self,
        region: &ZoneRegion,
        col: &Column,
        acc: &mut [f64; MAX_GROWTH_MM + 1],
        iv: &mut Vec<(f64, f64)>,
    ) {
        let sp = self.grid.spacing_mm();
        let [nx, ny, _] = self.sub_steps;
        let axes: [Vector3<f64>; 3] = [0, 1, 2].map(|a| self.grid.axis_in_world(a));
        let (Some(first), Some(last)) = (col.voxels.first(), col.voxels.last()) else {
            return;
        };
        let t_lo = (first.k as f64 - 0.5) * sp[2];
        let t_hi = (last.k as f64 + 0.5) * sp[2];
        let weight = 1.0 / (nx * ny) as f64;
        for b in 0..ny {
            let fy = ((b as f64 + 0.5) / ny as f64 - 0.5) * sp[1];
            for a in 0..nx {
                let fx = ((a as f64 + 0.5) / nx as f64 - 0.5) * sp[0];
                let base = col.base + axes[0] * fx + axes[1] * fy;
                iv.clear();
                if !region.chord_intervals(&base, &axes[2], t_lo, t_hi, iv) {
                    // Eroded region: per-voxel classification and sub-samples.
                    if a == 0 && b == 0 {
                        for v in &col.voxels {
                            acc[v.k_min as usize] += self.inside_fraction(region, &v.centre);
                        }
                    }
                    continue;
                }
                if iv.is_empty() {
                    continue;
                }
                let mut n = 0;
                for v in &col.voxels {
                    let (lo, hi) = ((v.k as f64 - 0.5) * sp[2], (v.k as f64 + 0.5) * sp[2]);
                    while n < iv.len() && iv[n].1 <= lo {
                        n += 1;
                    }
                    let mut inside = 0.0;
                    let mut m = n;
                    while m < iv.len() && iv[m].0 < hi {
                        inside += iv[m].1.min(hi) - iv[m].0.max(lo);
                        m += 1;
                    }
                    if inside > 0.0 {
                        acc[v.k_min as usize] += weight * inside / sp[2];
                    }
                }
            }
        }
    }

    /// All metrics for one ablation region.
    pub fn evaluate(&self, region: &ZoneRegion) -> MarginMetrics {
        // Coverage per k: partial sums over fixed chunks of columns, added in chunk order, so the
        // numbers are bit-identical from run to run (a work-stealing reduce adds floats in
        // whatever order the threads finish, and a reloaded plan must report what was saved).
        const COLUMNS_PER_CHUNK: usize = 256;
        let partial: Vec<[f64; MAX_GROWTH_MM + 1]> = self
            .columns
            .par_chunks(COLUMNS_PER_CHUNK)
            .map(|chunk| {
                let (mut acc, mut scratch) = ([0.0; MAX_GROWTH_MM + 1], Vec::new());
                for col in chunk {
                    self.cover_column(region, col, &mut acc, &mut scratch);
                }
                acc
            })
            .collect();
        let mut covered = [0.0; MAX_GROWTH_MM + 1];
        for acc in &partial {
            for (x, y) in covered.iter_mut().zip(acc) {
                *x += y;
            }
        }
        let mut cum = 0.0;
        let mut coverage_pct = Vec::with_capacity(MAX_GROWTH_MM + 1);
        let mut vic_ml = Vec::with_capacity(MAX_GROWTH_MM + 1);
        let mut grown_volume_ml = Vec::with_capacity(MAX_GROWTH_MM + 1);
        for (k, covered_k) in covered.iter().enumerate() {
            cum += covered_k;
            let total = self.counts[k] as f64;
            coverage_pct.push(if total > 0.0 {
                100.0 * cum / total
            } else {
                0.0
            });
            vic_ml.push((total - cum).max(0.0) * self.voxel_volume_mm3 / 1000.0);
            grown_volume_ml.push(total * self.voxel_volume_mm3 / 1000.0);
        }

        // Surface margins (exact).
        let margins: Vec<(f64, Point3<f64>)> = self
            .surface
            .par_iter()
            .map(|s| region.depth_and_boundary_point(&Point3::from(s.lps_mm)))
            .collect();
        let mut min_idx = 0;
        let (mut below0, mut mid, mut above, mut total_area) = (0.0, 0.0, 0.0, 0.0);
        for (n, ((m, _), s)) in margins.iter().zip(&self.surface).enumerate() {
            if *m < margins[min_idx].0 {
                min_idx = n;
            }
            total_area += s.area_mm2;
            if *m < 0.0 {
                below0 += s.area_mm2;
            } else if *m < MARGIN_RULE_MM {
                mid += s.area_mm2;
            } else {
                above += s.area_mm2;
            }
        }
        let pct = |x: f64| {
            if total_area > 0.0 {
                100.0 * x / total_area
            } else {
                0.0
            }
        };
        let (min_margin_mm, weakest_zone) = margins
            .get(min_idx)
            .copied()
            .unwrap_or((f64::NEG_INFINITY, Point3::origin()));
        let weakest = self
            .surface
            .get(min_idx)
            .map_or([f64::NAN; 3], |s| s.lps_mm);
        let min_margin_mm = if min_margin_mm.is_finite() {
            min_margin_mm
        } else {
            // No zone at all: report the tumour as entirely uncovered with no finite margin.
            f64::NEG_INFINITY
        };
        let verdict = verdict(
            min_margin_mm,
            coverage_pct[0],
            pct(below0),
            pct(mid),
            weakest,
        );
        MarginMetrics {
            coverage_pct,
            vic_ml,
            grown_volume_ml,
            min_margin_mm,
            weakest_point_lps_mm: weakest,
            weakest_zone_point_lps_mm: weakest_zone.into(),
            surface_below_0_pct: pct(below0),
            surface_0_to_5_pct: pct(mid),
            surface_at_least_5_pct: pct(above),
            verdict,
        }
    }
}

fn verdict(min_margin: f64, tumour_cov: f64, below0: f64, mid: f64, weakest: [f64; 3]) -> Verdict {
    let mut reasons = Vec::new();
    let meets = min_margin >= MARGIN_RULE_MM;
    if !min_margin.is_finite() {
        reasons.push("no ablation zone".to_string());
    } else if min_margin < 0.0 {
        reasons.push(format!(
            "tumour not fully covered: {:.1}% of its volume and {below0:.1}% of its surface lie \
             outside the zone (worst {:.1} mm outside at LPS ({:.1}, {:.1}, {:.1}))",
            100.0 - tumour_cov,
            -min_margin,
            weakest[0],
            weakest[1],
            weakest[2]
        ));
    } else if !meets {
        reasons.push(format!(
            "minimal margin {min_margin:.1} mm < {MARGIN_RULE_MM} mm at LPS ({:.1}, {:.1}, {:.1}); \
             {mid:.1}% of the tumour surface has a margin of 0-5 mm",
            weakest[0], weakest[1], weakest[2]
        ));
    } else {
        reasons.push(format!(
            "minimal margin {min_margin:.1} mm >= {MARGIN_RULE_MM} mm on the whole tumour surface \
             (planned; the real zone may differ)"
        ));
    }
    Verdict {
        meets_rule: meets,
        rule: MARGIN_RULE_SOURCE.into(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ellipsoid::Ellipsoid;

    fn ball_mask(radius: f64, sp: [f64; 3], centre: [f64; 3]) -> Mask {
        let n = [0, 1, 2].map(|a| (2.0 * (radius + 4.0) / sp[a]).ceil() as usize + 1);
        let origin = [0, 1, 2].map(|a| centre[a] - (n[a] as f64 - 1.0) / 2.0 * sp[a]);
        let g = VolumeGeometry::axis_aligned(n, sp, origin).unwrap();
        let c = Point3::from(centre);
        Mask::from_fn(g.clone(), |i, j, k| {
            (g.world_from_ijk([i, j, k]) - c).norm() <= radius
        })
    }

    /// Brute force coverage: 8x8x8 sub-samples in every tumour voxel.
    fn brute_coverage(mask: &Mask, region: &ZoneRegion) -> f64 {
        let g = mask.geometry();
        let sp = g.spacing_mm();
        let (mut hit, mut total) = (0usize, 0usize);
        for (i, j, k) in mask.iter_set() {
            let c = g.world_from_ijk([i, j, k]);
            for a in 0..8 {
                for b in 0..8 {
                    for cc in 0..8 {
                        let off = Vector3::new(
                            ((a as f64 + 0.5) / 8.0 - 0.5) * sp[0],
                            ((b as f64 + 0.5) / 8.0 - 0.5) * sp[1],
                            ((cc as f64 + 0.5) / 8.0 - 0.5) * sp[2],
                        );
                        total += 1;
                        if region.contains(&(c + off)) {
                            hit += 1;
                        }
                    }
                }
            }
        }
        100.0 * hit as f64 / total as f64
    }

    #[test]
    fn concentric_sphere_margin_is_r_minus_r_exactly() {
        // Margin on analytic surface points: R - r exactly.
        let region = ZoneRegion::new(
            vec![Ellipsoid::sphere(Point3::new(1.0, 2.0, 3.0), 20.0)],
            0.0,
        );
        for n in 0..200 {
            let t = n as f64 * 0.7;
            let dir = Vector3::new(
                t.cos() * (t * 0.3).sin(),
                t.sin() * (t * 0.3).sin(),
                (t * 0.3).cos(),
            );
            let p = Point3::new(1.0, 2.0, 3.0) + dir * 12.0;
            assert!((region.depth_mm(&p) - 8.0).abs() < 1e-9);
        }
        // On a voxelised ball the metric equals R minus the farthest surface point's radius.
        let mask = ball_mask(10.0, [0.7, 0.7, 1.0], [1.0, 2.0, 3.0]);
        let model = TumourModel::new(&mask).unwrap();
        let m = model.evaluate(&region);
        let r_max = model
            .surface_points()
            .iter()
            .map(|s| (Point3::from(s.lps_mm) - Point3::new(1.0, 2.0, 3.0)).norm())
            .fold(0.0, f64::max);
        assert!((m.min_margin_mm - (20.0 - r_max)).abs() < 1e-9);
        assert!((r_max - 10.0).abs() < 0.6);
        assert_eq!(m.coverage_pct[0], 100.0);
        assert!(m.verdict.meets_rule);
        assert!(m.vic_ml[0] == 0.0 && m.vic_ml[5] == 0.0);
        // T_10 (radius ~20 mm) equals the zone: coverage close to but not 100%.
        assert!(m.coverage_pct[10] > 90.0 && m.coverage_pct[10] < 100.0);
    }

    #[test]
    fn shifted_rotated_ellipsoid_matches_brute_force() {
        let mask = ball_mask(8.0, [0.7, 0.7, 2.5], [0.0, 0.0, 0.0]);
        let model = TumourModel::new(&mask).unwrap();
        let axis = Vector3::new(1.0, 0.5, 0.8);
        for shift in [0.0, 3.0, 6.0, 9.0] {
            let e =
                Ellipsoid::of_revolution(Point3::new(shift, -0.5 * shift, 1.0), axis, 16.0, 11.0)
                    .unwrap();
            let region = ZoneRegion::new(vec![e], 0.0);
            let m = model.evaluate(&region);
            let brute_cov = brute_coverage(&mask, &region);
            assert!(
                (m.coverage_pct[0] - brute_cov).abs() < 0.5,
                "shift {shift}: {} vs {brute_cov}",
                m.coverage_pct[0]
            );
            // Brute-force margin: min over the surface points of a dense-sampling distance.
            // Brute force on the 25 surface points with the smallest exact margin and on every
            // 10th point (a wrong ranking would show up there).
            let mut ranked: Vec<Point3<f64>> = model
                .surface_points()
                .iter()
                .map(|s| Point3::from(s.lps_mm))
                .collect();
            ranked.sort_by(|a, b| region.depth_mm(a).total_cmp(&region.depth_mm(b)));
            let chosen: Vec<Point3<f64>> = ranked
                .iter()
                .take(25)
                .chain(ranked.iter().step_by(10))
                .copied()
                .collect();
            let brute_margin = chosen
                .iter()
                .map(|&p| {
                    let inside = e.contains(&p);
                    let mut best = f64::INFINITY;
                    let n = 300;
                    for a in 0..=n {
                        let th = std::f64::consts::PI * a as f64 / n as f64;
                        for b in 0..(2 * n) {
                            let ph = std::f64::consts::PI * b as f64 / n as f64;
                            let q = e.world_from_local(&Vector3::new(
                                16.0 * th.cos(),
                                11.0 * th.sin() * ph.cos(),
                                11.0 * th.sin() * ph.sin(),
                            ));
                            best = best.min((q - p).norm());
                        }
                    }
                    if inside { best } else { -best }
                })
                .fold(f64::INFINITY, f64::min);
            assert!(
                (m.min_margin_mm - brute_margin).abs() < 0.1,
                "shift {shift}: {} vs {brute_margin}",
                m.min_margin_mm
            );
            let vic0 = (100.0 - m.coverage_pct[0]) / 100.0 * model.tumour_volume_ml();
            assert!((m.vic_ml[0] - vic0).abs() < 1e-9);
            // VIC grows with k.
            assert!(m.vic_ml.windows(2).all(|w| w[1] >= w[0] - 1e-12));
        }
    }

    #[test]
    fn union_and_eroded_cryo_regions_match_brute_force_coverage() {
        let mask = ball_mask(7.0, [0.7, 0.7, 2.5], [0.0, 0.0, 0.0]);
        let model = TumourModel::new(&mask).unwrap();
        let a = Ellipsoid::sphere(Point3::new(-5.0, 1.0, 0.0), 10.0);
        let b = Ellipsoid::sphere(Point3::new(6.0, -1.0, 2.0), 9.0);
        for region in [
            ZoneRegion::new(vec![a, b], 0.0),
            ZoneRegion::new(vec![a, b], 3.0),
        ] {
            let m = model.evaluate(&region);
            let brute = brute_coverage(&mask, &region);
            assert!(
                (m.coverage_pct[0] - brute).abs() < 0.5,
                "inset {}: {} vs {brute}",
                region.inset_mm(),
                m.coverage_pct[0]
            );
            assert!(m.coverage_pct[0] > 50.0 && m.coverage_pct[0] < 100.0);
        }
    }

    #[test]
    fn uncovered_tumour_gets_negative_margin_and_reasons() {
        let mask = ball_mask(6.0, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]);
        let model = TumourModel::new(&mask).unwrap();
        let region = ZoneRegion::new(
            vec![Ellipsoid::sphere(Point3::new(8.0, 0.0, 0.0), 10.0)],
            0.0,
        );
        let m = model.evaluate(&region);
        assert!(m.min_margin_mm < -3.0);
        assert!(
            m.weakest_point_lps_mm[0] < -5.0,
            "weakest point is on the far side"
        );
        assert!(!m.verdict.meets_rule);
        assert!(m.surface_below_0_pct > 0.0);
        assert!(
            (m.surface_below_0_pct + m.surface_0_to_5_pct + m.surface_at_least_5_pct - 100.0).abs()
                < 1e-9
        );
        let empty = model.evaluate(&ZoneRegion::new(vec![], 0.0));
        assert_eq!(empty.coverage_pct[0], 0.0);
        assert!(!empty.verdict.meets_rule);
    }
}
