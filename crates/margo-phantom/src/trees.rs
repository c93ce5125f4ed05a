//! Branching trees (pulmonary vessels, airways) grown from the hila into the lungs.
//!
//! Territory splitting: a tree owns a cloud of random points that fills its lung. Each branch
//! heads for the centroid of its points, then splits them in two across their widest spread; each
//! child takes its share. Radii follow Murray's law with flow proportional to territory
//! (r^3 proportional to the number of points), so calibre shrinks towards the periphery and the
//! lung fills evenly. Branches that would leave the lung or enter an exclusion sphere (around
//! isolated nodules) are shortened or dropped.

use margo_volume::nalgebra::{Matrix3, Point3, Vector3};
use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;
use crate::shapes::Capsule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeSegment {
    pub start_lps_mm: [f64; 3],
    pub end_lps_mm: [f64; 3],
    pub radius_start_mm: f64,
    pub radius_end_mm: f64,
    /// Index of the parent segment in the same tree (None for a root).
    pub parent: Option<u32>,
    /// 0 at the root.
    pub generation: u32,
}

impl TreeSegment {
    pub fn capsule(&self) -> Capsule {
        Capsule::new(
            Point3::from(self.start_lps_mm),
            Point3::from(self.end_lps_mm),
            self.radius_start_mm,
            self.radius_end_mm,
        )
    }
}

/// One tree: "pulmonary-vessel" or "airway" (radii are lumen radii for airways).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeTruth {
    pub name: String,
    pub kind: String,
    pub side: String,
    pub segments: Vec<TreeSegment>,
}

/// A sphere the tree must keep out of.
#[derive(Debug, Clone, Copy)]
pub struct Exclusion {
    pub centre: Point3<f64>,
    pub radius_mm: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct GrowParams {
    /// Radius of the root.
    pub root_radius_mm: f64,
    /// Territory points (the number of terminal branches, roughly).
    pub points: usize,
    /// Points are drawn at least this far inside the lung.
    pub point_depth_mm: f64,
    /// Keep this much lung between the tube surface and the pleura.
    pub pleural_clearance_mm: f64,
    /// Fraction of the way to the territory centroid that one segment goes.
    pub step_fraction: f64,
    /// Longest segment, in radii.
    pub max_length_per_radius: f64,
    /// Smallest radius drawn.
    pub min_radius_mm: f64,
}

struct Pending {
    start: Point3<f64>,
    radius: f64,
    points: Vec<Point3<f64>>,
    parent: Option<u32>,
    generation: u32,
}

/// Random points inside the lung (`lung_sdf < -depth`) within `bounds`, outside exclusions.
pub fn territory(
    rng: &mut SplitMix64,
    bounds: (Point3<f64>, Point3<f64>),
    count: usize,
    depth_mm: f64,
    lung_sdf: &dyn Fn(&Point3<f64>) -> f64,
    exclusions: &[Exclusion],
) -> Vec<Point3<f64>> {
    let (lo, hi) = bounds;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count * 200 {
        if out.len() == count {
            break;
        }
        let p = Point3::new(
            rng.range(lo.x, hi.x),
            rng.range(lo.y, hi.y),
            rng.range(lo.z, hi.z),
        );
        if lung_sdf(&p) < -depth_mm
            && exclusions
                .iter()
                .all(|e| (p - e.centre).norm() > e.radius_mm + depth_mm)
        {
            out.push(p);
        }
    }
    out
}

/// Unit direction of largest spread of `points` perpendicular to `axis` (power iteration).
fn widest_direction(
    points: &[Point3<f64>],
    centroid: &Point3<f64>,
    axis: &Vector3<f64>,
) -> Vector3<f64> {
    let mut cov = Matrix3::zeros();
    for p in points {
        let d = p - centroid;
        let d = d - axis * d.dot(axis);
        cov += d * d.transpose();
    }
    let mut v = axis
        .cross(&Vector3::new(0.3, 0.5, 0.8))
        .try_normalize(1e-9)
        .unwrap_or(Vector3::x());
    for _ in 0..12 {
        match (cov * v).try_normalize(1e-12) {
            Some(n) => v = n,
            None => break,
        }
    }
    v
}

/// Grows one tree from `root` into the territory `points`.
#[allow(clippy::too_many_arguments)]
pub fn grow_tree(
    name: &str,
    kind: &str,
    side: &str,
    root: Point3<f64>,
    points: Vec<Point3<f64>>,
    rng: &mut SplitMix64,
    lung_sdf: &dyn Fn(&Point3<f64>) -> f64,
    exclusions: &[Exclusion],
    params: GrowParams,
) -> TreeTruth {
    let total = points.len().max(1) as f64;
    let mut segments: Vec<TreeSegment> = Vec::new();
    let mut stack = vec![Pending {
        start: root,
        radius: params.root_radius_mm,
        points,
        parent: None,
        generation: 0,
    }];
    while let Some(b) = stack.pop() {
        if b.points.is_empty() || b.radius < params.min_radius_mm {
            continue;
        }
        let n = b.points.len() as f64;
        let centroid = Point3::from(b.points.iter().map(|p| p.coords).sum::<Vector3<f64>>() / n);
        let to = centroid - b.start;
        let distance = to.norm();
        // A single point: go to it. Otherwise part of the way to the territory's centre.
        let (dir, mut length) = if distance < 1e-6 {
            continue;
        } else if b.points.len() == 1 {
            (to / distance, distance)
        } else {
            (
                to / distance,
                (distance * params.step_fraction).min(b.radius * params.max_length_per_radius),
            )
        };
        length = length.max(1.0);
        let end_radius = b.radius * 0.98;
        let mut accepted = None;
        for _ in 0..4 {
            let end = b.start + dir * length;
            let mid = b.start + dir * (0.5 * length);
            let fits = b.generation == 0
                || (lung_sdf(&end) < -(end_radius + params.pleural_clearance_mm)
                    && lung_sdf(&mid) < -(b.radius + params.pleural_clearance_mm));
            let capsule = Capsule::new(b.start, end, b.radius, end_radius);
            let clear = exclusions
                .iter()
                .all(|e| capsule.sdf(&e.centre, 0.0) > e.radius_mm);
            if fits && clear {
                accepted = Some(end);
                break;
            }
            length *= 0.5;
            if length < 1.0 {
                break;
            }
        }
        if b.points.len() == 1 && accepted.is_none() {
            continue;
        }
        // Blocked (pleura or an exclusion in the way): split the territory where we stand and
        // let the two halves find their own way.
        let (end, parent, generation, end_radius) = match accepted {
            Some(end) => {
                segments.push(TreeSegment {
                    start_lps_mm: b.start.coords.into(),
                    end_lps_mm: end.coords.into(),
                    radius_start_mm: b.radius,
                    radius_end_mm: end_radius,
                    parent: b.parent,
                    generation: b.generation,
                });
                (
                    end,
                    Some(segments.len() as u32 - 1),
                    b.generation + 1,
                    end_radius,
                )
            }
            None => (b.start, b.parent, b.generation, b.radius),
        };
        if b.points.len() == 1 {
            continue;
        }
        // Split the territory across its widest spread, a little unevenly.
        let across = widest_direction(&b.points, &centroid, &dir);
        let mut pts = b.points;
        pts.sort_by(|p, q| {
            let a = (p - centroid).dot(&across);
            let c = (q - centroid).dot(&across);
            a.total_cmp(&c)
        });
        let fraction = rng.range(0.3, 0.5);
        let cut = ((pts.len() as f64 * fraction).round() as usize).clamp(1, pts.len() - 1);
        let second = pts.split_off(cut);
        for group in [pts, second] {
            // Murray's law: r^3 proportional to the flow, i.e. to the territory.
            let radius = params.root_radius_mm * (group.len() as f64 / total).cbrt();
            stack.push(Pending {
                start: end,
                radius: radius.min(end_radius),
                points: group,
                parent,
                generation,
            });
        }
    }
    TreeTruth {
        name: name.into(),
        kind: kind.into(),
        side: side.into(),
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_fill_the_lung_stay_inside_and_taper() {
        // A spherical "lung" of radius 80 mm, grown from its edge.
        let lung = |p: &Point3<f64>| p.coords.norm() - 80.0;
        let mut rng = SplitMix64::new(5);
        let excl = [Exclusion {
            centre: Point3::new(0.0, 40.0, 0.0),
            radius_mm: 10.0,
        }];
        let params = GrowParams {
            root_radius_mm: 5.0,
            points: 600,
            point_depth_mm: 2.0,
            pleural_clearance_mm: 1.0,
            step_fraction: 0.5,
            max_length_per_radius: 12.0,
            min_radius_mm: 0.3,
        };
        let bounds = (
            Point3::new(-80.0, -80.0, -80.0),
            Point3::new(80.0, 80.0, 80.0),
        );
        let pts = territory(&mut rng, bounds, params.points, 2.0, &lung, &excl);
        assert_eq!(pts.len(), 600);
        let t = grow_tree(
            "t",
            "pulmonary-vessel",
            "left",
            Point3::new(-70.0, 0.0, 0.0),
            pts.clone(),
            &mut rng,
            &lung,
            &excl,
            params,
        );
        assert!(t.segments.len() > 800, "{}", t.segments.len());
        // Without obstacles the tree reaches its whole territory.
        let free = grow_tree(
            "free",
            "pulmonary-vessel",
            "left",
            Point3::new(-70.0, 0.0, 0.0),
            pts.clone(),
            &mut rng,
            &lung,
            &[],
            params,
        );
        let mut max_gap: f64 = 0.0;
        for p in &pts {
            let nearest = free
                .segments
                .iter()
                .map(|s| s.capsule().sdf(p, 0.0))
                .fold(f64::MAX, f64::min);
            max_gap = max_gap.max(nearest);
        }
        assert!(
            max_gap < 3.0,
            "a territory point is {max_gap} mm from the tree"
        );
        for s in t.segments.iter().filter(|s| s.generation > 0) {
            let c = s.capsule();
            assert!(lung(&c.b()) < -(s.radius_end_mm));
            assert!(c.sdf(&excl[0].centre, 0.0) > 10.0);
            let parent = &t.segments[s.parent.unwrap() as usize];
            assert!(s.radius_start_mm <= parent.radius_end_mm);
            assert_eq!(s.start_lps_mm, parent.end_lps_mm);
            assert_eq!(s.generation, parent.generation + 1);
        }
    }
}
