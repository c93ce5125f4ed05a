//! Nodule segmentation from one seed point, without learned models.
//!
//! Steps, all inside a crop around the seed (never the whole volume):
//! 1. **Threshold.** Fixed (`threshold_hu`) or adaptive: halfway between the seed level (median
//!    HU within 2 mm of the seed) and the lung level (10th percentile HU within the radius
//!    limit), clamped to `[-650, -350]` HU; about -450..-500 HU for a solid nodule in aerated lung.
//! 2. **Chest-wall removal** (juxtapleural nodules): lung mask = voxels below `wall_threshold_hu`
//!    (-400 HU), closed with a ball of `wall_closing_radius_mm` and with holes filled slice by
//!    slice, so that nodules and vessels inside the lung belong to it while the chest wall and
//!    mediastinum do not. Candidates outside the lung mask are dropped.
//! 3. **Region growing** from the seed over voxels at or above the threshold, within
//!    `max_radius_mm` of the seed.
//! 4. **Opening** with a ball of `opening_radius_mm` to cut thin vessel attachments; keep the
//!    component holding the seed (or the one nearest to it within 3 mm).
//! 5. **Hole filling** (3D), so that cavities and air bronchograms count as nodule.
//!
//! The result is a [`Mask`] on a sub-grid of the CT (the crop) plus its placement.

use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{Mask, Volume, VolumeGeometry};
use serde::{Deserialize, Serialize};

use crate::grid;

/// Segmentation parameters. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentParams {
    /// Voxels farther than this from the seed are never part of the nodule (mm). Default 30.
    pub max_radius_mm: f64,
    /// Fixed threshold (HU); `None` = adaptive (see module docs).
    pub threshold_hu: Option<f64>,
    /// Opening ball radius (mm). Default 1.0; 0 disables.
    pub opening_radius_mm: f64,
    /// Chest-wall removal on/off. Default on.
    pub remove_chest_wall: bool,
    /// Lung-mask threshold (HU). Default -400.
    pub wall_threshold_hu: f64,
    /// Closing radius of the lung mask (mm). Default 12.
    pub wall_closing_radius_mm: f64,
    /// Fill enclosed holes. Default on.
    pub fill_holes: bool,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            max_radius_mm: 30.0,
            threshold_hu: None,
            opening_radius_mm: 1.0,
            remove_chest_wall: true,
            wall_threshold_hu: -400.0,
            wall_closing_radius_mm: 12.0,
            fill_holes: true,
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SegmentError {
    #[error("segmentation parameter {name} = {value} is invalid ({why})")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        why: &'static str,
    },
    #[error("seed {seed_lps_mm:?} (LPS mm) lies outside the volume")]
    SeedOutsideVolume { seed_lps_mm: [f64; 3] },
    #[error(
        "seed {seed_lps_mm:?} is at {seed_hu} HU, below the threshold {threshold_hu} HU: click \
         inside the nodule"
    )]
    SeedNotInNodule {
        seed_lps_mm: [f64; 3],
        seed_hu: f64,
        threshold_hu: f64,
    },
    #[error("nothing left of the nodule at {seed_lps_mm:?} after {step}")]
    EmptyResult {
        seed_lps_mm: [f64; 3],
        step: &'static str,
    },
    #[error("internal geometry error: {0}")]
    Geometry(String),
}

/// A segmented nodule.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// The nodule on the crop grid (a sub-grid of the CT's grid).
    pub mask: Mask,
    /// Index in the CT grid of the crop's voxel (0, 0, 0).
    pub crop_first_voxel: [usize; 3],
    pub seed_lps_mm: [f64; 3],
    pub params: SegmentParams,
    pub threshold_used_hu: f64,
    pub stats: NoduleStats,
}

/// Size and position of a nodule mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoduleStats {
    pub volume_ml: f64,
    /// Longest 3D diameter, edge to edge (mm).
    pub max_diameter_mm: f64,
    /// Longest in-plane diameter on any one slice (mm), as in RECIST.
    pub max_axial_diameter_mm: f64,
    /// Diameter of the sphere of the same volume (mm).
    pub equivalent_diameter_mm: f64,
    pub centroid_lps_mm: [f64; 3],
    /// World-space bounds (LPS mm) of the voxel cells.
    pub bbox_min_lps_mm: [f64; 3],
    pub bbox_max_lps_mm: [f64; 3],
    pub voxel_count: usize,
}

/// A box of the CT grid: first voxel and dims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    pub first: [usize; 3],
    pub dims: [usize; 3],
}

impl Crop {
    /// The voxels within `radius_mm` (per axis) of `centre`, clipped to the grid. None when the
    /// centre is outside the grid.
    pub fn around(g: &VolumeGeometry, centre: &Point3<f64>, radius_mm: f64) -> Option<Self> {
        let c = g.index_from_world(centre);
        if !g.contains_index(&c) {
            return None;
        }
        let sp = g.spacing_mm();
        let dims = g.dims();
        let mut first = [0; 3];
        let mut crop_dims = [0; 3];
        for a in 0..3 {
            let r = (radius_mm / sp[a]).ceil() + 1.0;
            let lo = (c[a] - r).floor().max(0.0) as usize;
            let hi = ((c[a] + r).ceil() as usize).min(dims[a] - 1);
            first[a] = lo.min(hi);
            crop_dims[a] = hi - first[a] + 1;
        }
        Some(Self {
            first,
            dims: crop_dims,
        })
    }

    pub fn geometry(&self, g: &VolumeGeometry) -> Result<VolumeGeometry, SegmentError> {
        g.sub_grid(self.first, self.dims)
            .map_err(|e| SegmentError::Geometry(e.to_string()))
    }

    /// Copies the crop's voxels out of the volume (i fastest).
    pub fn extract(&self, v: &Volume<i16>) -> Vec<i16> {
        let [nx, ny, nz] = self.dims;
        let mut out = Vec::with_capacity(nx * ny * nz);
        for k in 0..nz {
            for j in 0..ny {
                let start =
                    v.geometry()
                        .linear_index(self.first[0], self.first[1] + j, self.first[2] + k);
                out.extend_from_slice(&v.voxels()[start..start + nx]);
            }
        }
        out
    }
}

fn check_params(p: &SegmentParams) -> Result<(), SegmentError> {
    let bad = |name, value, why| Err(SegmentError::InvalidParameter { name, value, why });
    if !(p.max_radius_mm.is_finite() && p.max_radius_mm > 1.0 && p.max_radius_mm <= 100.0) {
        return bad("max_radius_mm", p.max_radius_mm, "must be in 1..=100 mm");
    }
    if let Some(t) = p.threshold_hu
        && !(t.is_finite() && (-1100.0..=3000.0).contains(&t))
    {
        return bad("threshold_hu", t, "must be a finite HU value");
    }
    if !(p.opening_radius_mm.is_finite() && (0.0..=5.0).contains(&p.opening_radius_mm)) {
        return bad(
            "opening_radius_mm",
            p.opening_radius_mm,
            "must be in 0..=5 mm",
        );
    }
    if !(p.wall_threshold_hu.is_finite() && (-1000.0..=0.0).contains(&p.wall_threshold_hu)) {
        return bad(
            "wall_threshold_hu",
            p.wall_threshold_hu,
            "must be in -1000..=0 HU",
        );
    }
    if !(p.wall_closing_radius_mm.is_finite() && (0.0..=40.0).contains(&p.wall_closing_radius_mm)) {
        return bad(
            "wall_closing_radius_mm",
            p.wall_closing_radius_mm,
            "must be in 0..=40 mm",
        );
    }
    Ok(())
}

/// Lung mask on a crop: below `threshold_hu`, closed with a ball, holes filled per axial slice.
pub fn lung_mask(
    hu: &[i16],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    threshold_hu: f64,
    closing_radius_mm: f64,
) -> Vec<bool> {
    let air: Vec<bool> = hu.iter().map(|&v| (v as f64) < threshold_hu).collect();
    let closed = if closing_radius_mm > 0.0 {
        grid::close(dims, spacing_mm, &air, closing_radius_mm)
    } else {
        air
    };
    grid::fill_holes_axial(dims, &closed)
}

/// Segments the nodule around `seed_lps_mm`.
pub fn segment(
    volume: &Volume<i16>,
    seed_lps_mm: [f64; 3],
    params: &SegmentParams,
) -> Result<Segmentation, SegmentError> {
    check_params(params)?;
    if seed_lps_mm.iter().any(|v| !v.is_finite()) {
        return Err(SegmentError::SeedOutsideVolume { seed_lps_mm });
    }
    let g = volume.geometry();
    let seed = Point3::from(seed_lps_mm);
    let context = if params.remove_chest_wall {
        params.wall_closing_radius_mm
    } else {
        0.0
    };
    let crop = Crop::around(g, &seed, params.max_radius_mm + context)
        .ok_or(SegmentError::SeedOutsideVolume { seed_lps_mm })?;
    let cg = crop.geometry(g)?;
    let dims = crop.dims;
    let sp: [f64; 3] = cg.spacing_mm().into();
    let hu = crop.extract(volume);
    let n = hu.len();
    let seed_idx = cg.index_from_world(&seed);
    let seed_vox = cg
        .rounded_index_from_world(&seed)
        .ok_or(SegmentError::SeedOutsideVolume { seed_lps_mm })?;
    let dist2_from_seed = |idx: usize| -> f64 {
        let (i, j, k) = (
            idx % dims[0],
            (idx / dims[0]) % dims[1],
            idx / (dims[0] * dims[1]),
        );
        ((i as f64 - seed_idx[0]) * sp[0]).powi(2)
            + ((j as f64 - seed_idx[1]) * sp[1]).powi(2)
            + ((k as f64 - seed_idx[2]) * sp[2]).powi(2)
    };
    let r2_max = params.max_radius_mm.powi(2);

    // 1. Threshold.
    let threshold = match params.threshold_hu {
        Some(t) => t,
        None => {
            let mut near: Vec<i16> = (0..n)
                .filter(|&idx| dist2_from_seed(idx) <= 4.0)
                .map(|idx| hu[idx])
                .collect();
            let mut ball: Vec<i16> = (0..n)
                .filter(|&idx| dist2_from_seed(idx) <= r2_max)
                .map(|idx| hu[idx])
                .collect();
            if near.is_empty() {
                near.push(hu[lin(dims, seed_vox)]);
            }
            let seed_level = percentile(&mut near, 0.5);
            let lung_level = percentile(&mut ball, 0.1).clamp(-1000.0, -700.0);
            (0.5 * (seed_level + lung_level)).clamp(-650.0, -350.0)
        }
    };
    let seed_hu = hu[lin(dims, seed_vox)] as f64;
    if seed_hu < threshold {
        // The seed voxel itself may be a dark speck inside a nodule: accept when most of its
        // 2 mm neighbourhood is above threshold.
        let near: Vec<i16> = (0..n)
            .filter(|&idx| dist2_from_seed(idx) <= 4.0)
            .map(|idx| hu[idx])
            .collect();
        let above = near.iter().filter(|&&v| v as f64 >= threshold).count();
        if above * 2 <= near.len() {
            return Err(SegmentError::SeedNotInNodule {
                seed_lps_mm,
                seed_hu,
                threshold_hu: threshold,
            });
        }
    }

    // 2. Lung mask (chest-wall removal).
    let lung = params.remove_chest_wall.then(|| {
        lung_mask(
            &hu,
            dims,
            sp,
            params.wall_threshold_hu,
            params.wall_closing_radius_mm,
        )
    });

    // 3. Candidates and region growing.
    let candidate: Vec<bool> = (0..n)
        .map(|idx| {
            hu[idx] as f64 >= threshold
                && dist2_from_seed(idx) <= r2_max
                && lung.as_ref().is_none_or(|l| l[idx])
        })
        .collect();
    let start =
        nearest_set(dims, sp, &candidate, seed_vox, 3.0).ok_or(SegmentError::EmptyResult {
            seed_lps_mm,
            step: "chest-wall removal and thresholding",
        })?;
    let grown = grid::component_of(dims, &candidate, start);

    // 4. Opening, keep the seed's component.
    let opened = if params.opening_radius_mm > 0.0 {
        grid::open(dims, sp, &grown, params.opening_radius_mm)
    } else {
        grown
    };
    let start = nearest_set(dims, sp, &opened, seed_vox, 3.0).ok_or(SegmentError::EmptyResult {
        seed_lps_mm,
        step: "opening (the structure at the seed is thinner than the opening ball)",
    })?;
    let mut nodule = grid::component_of(dims, &opened, start);

    // 5. Holes.
    if params.fill_holes {
        nodule = grid::fill_holes_3d(dims, &nodule);
    }

    let labels: Vec<u8> = nodule.iter().map(|&b| u8::from(b)).collect();
    let mask = Mask::from_labels(cg, labels).map_err(|e| SegmentError::Geometry(e.to_string()))?;
    let stats = nodule_stats(&mask).ok_or(SegmentError::EmptyResult {
        seed_lps_mm,
        step: "hole filling",
    })?;
    Ok(Segmentation {
        mask,
        crop_first_voxel: crop.first,
        seed_lps_mm,
        params: params.clone(),
        threshold_used_hu: threshold,
        stats,
    })
}

fn lin(dims: [usize; 3], v: [usize; 3]) -> usize {
    v[0] + dims[0] * (v[1] + dims[1] * v[2])
}

fn percentile(v: &mut [i16], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    let (_, x, _) = v.select_nth_unstable(k);
    *x as f64
}

/// The set voxel nearest to `from` within `limit_mm`, if any.
fn nearest_set(
    dims: [usize; 3],
    sp: [f64; 3],
    mask: &[bool],
    from: [usize; 3],
    limit_mm: f64,
) -> Option<[usize; 3]> {
    if mask[lin(dims, from)] {
        return Some(from);
    }
    let r = [0, 1, 2].map(|a| (limit_mm / sp[a]).ceil() as isize);
    let mut best: Option<(f64, [usize; 3])> = None;
    for dk in -r[2]..=r[2] {
        for dj in -r[1]..=r[1] {
            for di in -r[0]..=r[0] {
                let v = [
                    from[0] as isize + di,
                    from[1] as isize + dj,
                    from[2] as isize + dk,
                ];
                if v.iter().zip(dims).any(|(&c, n)| c < 0 || c as usize >= n) {
                    continue;
                }
                let v = v.map(|c| c as usize);
                let d = (di as f64 * sp[0]).powi(2)
                    + (dj as f64 * sp[1]).powi(2)
                    + (dk as f64 * sp[2]).powi(2);
                if d <= limit_mm * limit_mm && mask[lin(dims, v)] && best.is_none_or(|(b, _)| d < b)
                {
                    best = Some((d, v));
                }
            }
        }
    }
    best.map(|(_, v)| v)
}

/// Volume, diameters, centroid and bounds of a mask; None when empty.
pub fn nodule_stats(mask: &Mask) -> Option<NoduleStats> {
    let g = mask.geometry();
    let count = mask.count();
    if count == 0 {
        return None;
    }
    let mut sum = Vector3::zeros();
    let mut boundary: Vec<([usize; 3], Point3<f64>)> = Vec::new();
    for (i, j, k) in mask.iter_set() {
        let p = g.world_from_ijk([i, j, k]);
        sum += p.coords;
        let on_edge = [
            (i == 0) || !mask.contains(i - 1, j, k),
            !mask.contains(i + 1, j, k),
            (j == 0) || !mask.contains(i, j - 1, k),
            !mask.contains(i, j + 1, k),
            (k == 0) || !mask.contains(i, j, k - 1),
            !mask.contains(i, j, k + 1),
        ];
        if on_edge.iter().any(|&b| b) {
            boundary.push(([i, j, k], p));
        }
    }
    let centroid = sum / count as f64;
    let sp = g.spacing_mm();
    // Longest distance across the voxel cells (Feret diameter of the union of voxel boxes):
    // for two voxels the farthest corners are `sqrt(sum_a (|d_a| + s_a)^2)` apart, with d the
    // centre offset along the grid axes.
    let feret = |a: &[usize; 3], b: &[usize; 3], axes: usize| -> f64 {
        (0..axes)
            .map(|x| ((a[x] as f64 - b[x] as f64).abs() * sp[x] + sp[x]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut max3d: f64 = 0.0;
    let mut max_axial: f64 = 0.0;
    for (n, (va, _)) in boundary.iter().enumerate() {
        for (vb, _) in &boundary[n + 1..] {
            max3d = max3d.max(feret(va, vb, 3));
            if va[2] == vb[2] {
                max_axial = max_axial.max(feret(va, vb, 2));
            }
        }
        max3d = max3d.max(feret(va, va, 3));
        max_axial = max_axial.max(feret(va, va, 2));
    }
    let (lo, hi) = mask.bounding_box()?;
    let corners = [0usize, 1].iter().flat_map(|&x| {
        [0usize, 1].iter().flat_map(move |&y| {
            [0usize, 1].iter().map(move |&z| {
                Point3::new(
                    if x == 0 {
                        lo[0] as f64 - 0.5
                    } else {
                        hi[0] as f64 + 0.5
                    },
                    if y == 0 {
                        lo[1] as f64 - 0.5
                    } else {
                        hi[1] as f64 + 0.5
                    },
                    if z == 0 {
                        lo[2] as f64 - 0.5
                    } else {
                        hi[2] as f64 + 0.5
                    },
                )
            })
        })
    });
    let bb = margo_volume::Aabb::from_points(corners.map(|c| g.world_from_index(&c)))?;
    let volume_mm3 = count as f64 * g.voxel_volume_mm3();
    Some(NoduleStats {
        volume_ml: volume_mm3 / 1000.0,
        max_diameter_mm: max3d,
        max_axial_diameter_mm: max_axial,
        equivalent_diameter_mm: (6.0 * volume_mm3 / std::f64::consts::PI).cbrt(),
        centroid_lps_mm: centroid.into(),
        bbox_min_lps_mm: bb.min.into(),
        bbox_max_lps_mm: bb.max.into(),
        voxel_count: count,
    })
}
