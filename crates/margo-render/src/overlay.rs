//! World-space overlays as the renderer's own plain types (no plan types).
//!
//! Colours are display (sRGB) RGBA in 0..1. Label masks (and the "shell", a mask grown by k mm)
//! are uploaded as textures with `Renderer::set_mask` / `set_shell`; the analytic shapes here are
//! cheap uniforms, re-sent by `Renderer::set_shapes` whenever a probe moves.

use margo_volume::nalgebra::{Matrix3, Matrix4, Point3, Vector3};
use margo_volume::{Mask, VolumeGeometry};

use crate::RenderError;
use crate::gpu_types::{self, GpuEllipsoid, GpuPoint, GpuSegment, OverlayUniforms, vec4};

pub type Rgba = [f32; 4];

/// How a label mask is drawn: MPR fill (alpha) + outline in `color`; 3D surface in `color`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskStyle {
    pub color: Rgba,
    /// Fill opacity inside the mask in MPR (0 = outline only).
    pub fill_alpha: f32,
}

/// An ellipsoid `center + A u, |u| <= 1`, where A's columns are the semi-axis vectors (mm).
/// Ellipsoids sharing a `group` draw as their union (one outer outline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EllipsoidOverlay {
    pub center_in_world: Point3<f64>,
    /// Semi-axes as world vectors (mm); they need not be orthogonal but must span 3D.
    pub semi_axes_mm: [Vector3<f64>; 3],
    pub group: u32,
    /// Outline colour in MPR; rgb + opacity of the 3D surface.
    pub color: Rgba,
    /// Fill opacity inside the union in MPR.
    pub fill_alpha: f32,
}

/// End marker of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Marker {
    #[default]
    None,
    /// A ring (MPR) / sphere (3D).
    Ring,
    /// A filled disc (MPR) / sphere (3D), e.g. a probe tip.
    Disc,
}

/// A line segment `a -> b` (a probe shaft from entry to tip).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentOverlay {
    pub a_in_world: Point3<f64>,
    pub b_in_world: Point3<f64>,
    pub color: Rgba,
    /// Shaft radius in 3D (mm).
    pub radius_mm: f64,
    pub marker_a: Marker,
    pub marker_b: Marker,
    /// Marker radius (mm); in MPR at least 3 px.
    pub marker_radius_mm: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointOverlay {
    pub position_in_world: Point3<f64>,
    pub radius_mm: f64,
    pub color: Rgba,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crosshair {
    pub position_in_world: Point3<f64>,
    pub color: Rgba,
    /// Empty gap around the centre in output pixels.
    pub gap_px: f32,
}

/// The analytic overlays of a scene.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shapes {
    pub ellipsoids: Vec<EllipsoidOverlay>,
    pub segments: Vec<SegmentOverlay>,
    pub points: Vec<PointOverlay>,
    pub crosshair: Option<Crosshair>,
}

fn finite_point(p: &Point3<f64>) -> bool {
    p.iter().all(|v| v.is_finite())
}

fn color(c: Rgba) -> [f32; 4] {
    c.map(|v| {
        if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        }
    })
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), RenderError> {
    if count > max {
        return Err(RenderError::TooManyOverlays { what, count, max });
    }
    Ok(())
}

impl EllipsoidOverlay {
    /// A sphere.
    pub fn sphere(center_in_world: Point3<f64>, radius_mm: f64, group: u32, color: Rgba) -> Self {
        Self {
            center_in_world,
            semi_axes_mm: [
                Vector3::x() * radius_mm,
                Vector3::y() * radius_mm,
                Vector3::z() * radius_mm,
            ],
            group,
            color,
            fill_alpha: 0.0,
        }
    }

    /// World -> unit-sphere space, or an error for a flat or non-finite ellipsoid.
    pub fn unit_from_world(&self) -> Result<Matrix4<f64>, RenderError> {
        let a = Matrix3::from_columns(&self.semi_axes_mm);
        let bad = || RenderError::InvalidParameter {
            what: "ellipsoid",
            value: format!(
                "centre {:?}, semi-axes {:?}",
                self.center_in_world.coords.as_slice(),
                a.as_slice()
            ),
            reason: "centre and semi-axes must be finite and span 3D",
        };
        if !finite_point(&self.center_in_world) || a.iter().any(|v| !v.is_finite()) {
            return Err(bad());
        }
        let scale = self
            .semi_axes_mm
            .iter()
            .map(|v| v.norm())
            .fold(0.0, f64::max);
        if a.determinant().abs().partial_cmp(&(1e-9 * scale.powi(3)))
            != Some(std::cmp::Ordering::Greater)
        {
            return Err(bad());
        }
        let inv = a.try_inverse().ok_or_else(bad)?;
        let mut m = inv.to_homogeneous();
        let t = -(inv * self.center_in_world.coords);
        m[(0, 3)] = t.x;
        m[(1, 3)] = t.y;
        m[(2, 3)] = t.z;
        Ok(m)
    }
}

impl Shapes {
    pub(crate) fn fill_uniforms(&self, u: &mut OverlayUniforms) -> Result<(), RenderError> {
        check_count(
            "ellipsoids",
            self.ellipsoids.len(),
            gpu_types::MAX_ELLIPSOIDS,
        )?;
        check_count("segments", self.segments.len(), gpu_types::MAX_SEGMENTS)?;
        check_count("points", self.points.len(), gpu_types::MAX_POINTS)?;
        let mut ellipsoids = [GpuEllipsoid::default(); gpu_types::MAX_ELLIPSOIDS];
        for (g, e) in ellipsoids.iter_mut().zip(&self.ellipsoids) {
            *g = GpuEllipsoid {
                unit_from_world: gpu_types::mat4_to_gpu(&e.unit_from_world()?),
                color: color(e.color),
                params: [e.group as f32, e.fill_alpha.clamp(0.0, 1.0), 0.0, 0.0],
            };
        }
        let mut segments = [GpuSegment::default(); gpu_types::MAX_SEGMENTS];
        for (g, s) in segments.iter_mut().zip(&self.segments) {
            let sizes_ok = [s.radius_mm, s.marker_radius_mm]
                .iter()
                .all(|r| r.is_finite() && *r >= 0.0);
            if !finite_point(&s.a_in_world) || !finite_point(&s.b_in_world) || !sizes_ok {
                return Err(RenderError::InvalidParameter {
                    what: "segment",
                    value: format!("{s:?}"),
                    reason: "end points must be finite, radii finite and not negative",
                });
            }
            let marker = |m: Marker| match m {
                Marker::None => 0.0,
                Marker::Ring => 1.0,
                Marker::Disc => 2.0,
            };
            *g = GpuSegment {
                a: vec4(s.a_in_world.x, s.a_in_world.y, s.a_in_world.z, s.radius_mm),
                b: vec4(
                    s.b_in_world.x,
                    s.b_in_world.y,
                    s.b_in_world.z,
                    s.marker_radius_mm,
                ),
                color: color(s.color),
                params: [marker(s.marker_a), marker(s.marker_b), 0.0, 0.0],
            };
        }
        let mut points = [GpuPoint::default(); gpu_types::MAX_POINTS];
        for (g, p) in points.iter_mut().zip(&self.points) {
            if !(finite_point(&p.position_in_world)
                && p.radius_mm.is_finite()
                && p.radius_mm >= 0.0)
            {
                return Err(RenderError::InvalidParameter {
                    what: "point",
                    value: format!("{p:?}"),
                    reason: "position must be finite, radius finite and not negative",
                });
            }
            let c = p.position_in_world;
            *g = GpuPoint {
                position: vec4(c.x, c.y, c.z, p.radius_mm),
                color: color(p.color),
            };
        }
        let mut flags = u.counts[3] & !gpu_types::OVERLAY_CROSSHAIR;
        if let Some(c) = &self.crosshair {
            if !finite_point(&c.position_in_world) {
                return Err(RenderError::InvalidParameter {
                    what: "crosshair",
                    value: format!("{c:?}"),
                    reason: "position must be finite",
                });
            }
            flags |= gpu_types::OVERLAY_CROSSHAIR;
            let p = c.position_in_world;
            u.crosshair = vec4(p.x, p.y, p.z, f64::from(c.gap_px.max(0.0)));
            u.crosshair_color = color(c.color);
        }
        u.counts = [
            self.ellipsoids.len() as u32,
            self.segments.len() as u32,
            self.points.len() as u32,
            flags,
        ];
        u.ellipsoids = ellipsoids;
        u.segments = segments;
        u.points = points;
        Ok(())
    }
}

/// The mask grown by `distance_mm` (Euclidean, in mm, honouring anisotropic spacing), on the same
/// grid: the "shell" whose outline shows the safety margin around a nodule. Voxels whose centre
/// lies within `distance_mm` of an inside voxel's centre are inside.
pub fn grow_mask(mask: &Mask, distance_mm: f64) -> Result<Mask, RenderError> {
    if !(distance_mm.is_finite() && distance_mm >= 0.0) {
        return Err(RenderError::InvalidParameter {
            what: "shell distance",
            value: format!("{distance_mm} mm"),
            reason: "must be finite and not negative",
        });
    }
    let geometry: &VolumeGeometry = mask.geometry();
    let dims = geometry.dims();
    let spacing = geometry.spacing_mm();
    // Work in the bounding box of the mask grown by the distance.
    let mut lo = dims;
    let mut hi = [0usize; 3];
    let labels = mask.labels();
    let mut any = false;
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            let row = &labels[geometry.linear_index(0, j, k)..][..dims[0]];
            for (i, &v) in row.iter().enumerate() {
                if v != 0 {
                    any = true;
                    for (a, x) in [i, j, k].into_iter().enumerate() {
                        lo[a] = lo[a].min(x);
                        hi[a] = hi[a].max(x);
                    }
                }
            }
        }
    }
    let mut out = Mask::empty(geometry.clone());
    if !any {
        return Ok(out);
    }
    for a in 0..3 {
        let reach = (distance_mm / spacing[a]).floor() as usize;
        lo[a] = lo[a].saturating_sub(reach);
        hi[a] = (hi[a] + reach).min(dims[a] - 1);
    }
    let sub = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let idx = |i: usize, j: usize, k: usize| i + sub[0] * (j + sub[1] * k);
    const FAR: f64 = 1e30;
    let mut d2 = vec![FAR; sub[0] * sub[1] * sub[2]];
    for k in 0..sub[2] {
        for j in 0..sub[1] {
            for i in 0..sub[0] {
                if mask.contains(i + lo[0], j + lo[1], k + lo[2]) {
                    d2[idx(i, j, k)] = 0.0;
                }
            }
        }
    }
    // Separable exact squared Euclidean distance transform (Felzenszwalb & Huttenlocher).
    for axis in 0..3 {
        let n = sub[axis];
        let (others_a, others_b) = match axis {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        };
        let mut line = vec![0.0; n];
        for b in 0..sub[others_b] {
            for a in 0..sub[others_a] {
                let at = |x: usize| {
                    let mut c = [0usize; 3];
                    c[axis] = x;
                    c[others_a] = a;
                    c[others_b] = b;
                    idx(c[0], c[1], c[2])
                };
                for (x, v) in line.iter_mut().enumerate() {
                    *v = d2[at(x)];
                }
                let res = distance_1d(&line, spacing[axis]);
                for (x, v) in res.into_iter().enumerate() {
                    d2[at(x)] = v;
                }
            }
        }
    }
    let limit = distance_mm * distance_mm + 1e-9;
    for k in 0..sub[2] {
        for j in 0..sub[1] {
            for i in 0..sub[0] {
                if d2[idx(i, j, k)] <= limit {
                    let li = geometry.linear_index(i + lo[0], j + lo[1], k + lo[2]);
                    out.labels_mut()[li] = 1;
                }
            }
        }
    }
    Ok(out)
}

/// 1D lower envelope of parabolas: out[q] = min_p f[p] + ((q - p) * spacing)^2.
fn distance_1d(f: &[f64], spacing: f64) -> Vec<f64> {
    let n = f.len();
    let mut out = vec![0.0; n];
    let mut v = vec![0usize; n];
    let mut z = vec![0.0f64; n + 1];
    let x = |q: usize| q as f64 * spacing;
    let mut k = 0usize;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in 1..n {
        loop {
            let p = v[k];
            let s = ((f[q] + x(q) * x(q)) - (f[p] + x(p) * x(p))) / (2.0 * (x(q) - x(p)));
            if s <= z[k] && k > 0 {
                k -= 1;
                continue;
            }
            if s <= z[k] {
                // k == 0: q replaces the first parabola.
                v[0] = q;
                z[0] = f64::NEG_INFINITY;
                z[1] = f64::INFINITY;
                break;
            }
            k += 1;
            v[k] = q;
            z[k] = s;
            z[k + 1] = f64::INFINITY;
            break;
        }
    }
    k = 0;
    for (q, o) in out.iter_mut().enumerate() {
        while z[k + 1] < x(q) {
            k += 1;
        }
        let d = x(q) - x(v[k]);
        *o = d * d + f[v[k]];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grown_mask_matches_brute_force_distance_with_anisotropic_spacing() {
        let g = VolumeGeometry::axis_aligned([20, 18, 12], [0.8, 1.0, 2.5], [0.0; 3]).unwrap();
        let seeds = [[5usize, 6, 5], [6, 6, 5], [12, 9, 7]];
        let mask = Mask::from_fn(g.clone(), |i, j, k| seeds.contains(&[i, j, k]));
        let grown = grow_mask(&mask, 4.0).unwrap();
        for k in 0..12 {
            for j in 0..18 {
                for i in 0..20 {
                    let p = g.world_from_ijk([i, j, k]);
                    let inside = seeds
                        .iter()
                        .any(|s| (g.world_from_ijk(*s) - p).norm() <= 4.0 + 1e-9);
                    assert_eq!(grown.contains(i, j, k), inside, "{i} {j} {k}");
                }
            }
        }
        assert_eq!(
            grow_mask(&Mask::empty(g.clone()), 3.0)
                .unwrap()
                .labels()
                .iter()
                .filter(|v| **v != 0)
                .count(),
            0
        );
        assert!(grow_mask(&mask, f64::NAN).is_err());
    }

    #[test]
    fn ellipsoid_unit_space_maps_surface_to_unit_sphere() {
        let e = EllipsoidOverlay {
            center_in_world: Point3::new(1.0, 2.0, 3.0),
            semi_axes_mm: [
                Vector3::new(3.0, 0.0, 0.0),
                Vector3::new(0.0, 2.0, 2.0),
                Vector3::new(0.0, -1.0, 1.0),
            ],
            group: 0,
            color: [1.0; 4],
            fill_alpha: 0.0,
        };
        let m = e.unit_from_world().unwrap();
        let on_surface = Point3::new(1.0, 4.0, 5.0);
        let u = m.transform_point(&on_surface);
        assert!((u.coords.norm() - 1.0).abs() < 1e-12);
        let flat = EllipsoidOverlay {
            semi_axes_mm: [Vector3::x(), Vector3::y(), Vector3::zeros()],
            ..e
        };
        assert!(flat.unit_from_world().is_err());
    }
}
