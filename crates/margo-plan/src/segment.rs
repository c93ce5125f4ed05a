//! Nodule segmentation from one seed point, without learned models.
//!
//! Steps, all inside a crop around the seed (never the whole volume):
//! 1. **Threshold.** Fixed (`threshold_hu`) or adaptive: halfway between the seed level (median
//!    HU within 2 mm of the seed) and the lung level (10th percentile HU within the radius
//!    limit), clamped to `[-750, -450]` HU: -450 for a solid nodule in aerated lung, lower for a
//!    ground-glass one. A part-solid nodule seeded in its core gets the core only (set
//!    `threshold_hu` to about -700 for the whole lesion).
//! 2. **Chest-wall removal** (juxtapleural nodules): lung mask = voxels below `wall_threshold_hu`
//!    (-400 HU) that are not air outside the body (flood fill from each axial slice's border), closed with a ball of `wall_closing_radius_mm` and with holes filled slice by
//!    slice, so that nodules and vessels inside the lung belong to it while the chest wall and
//!    mediastinum do not. Candidates outside the lung mask are dropped.
//! 3. **Region growing** from the seed over voxels at or above the threshold, within
//!    `max_radius_mm` of the seed.
//! 4. **Opening** with a ball of `opening_radius_mm` to cut thin vessel attachments; keep the
//!    component holding the seed (or the one nearest to it within 3 mm).
//! 5. **Partial-volume rim**: voxels within `rim_grow_mm` of the result and at or above
//!    `rim_threshold_hu` join it (readers outline the visible edge, rim included).
//! 6. **Hole filling** (3D), so that cavities and air bronchograms count as nodule.
//!
//! The result is a [`Mask`] on a sub-grid of the CT (the crop) plus its placement. The mask
//! includes the partial-volume rim (step 5): it follows the visible edge as LIDC's radiologists
//! outline it, which is the conservative choice for margins. The reported `volume_ml` is
//! partial-volume weighted (see [`NoduleStats::volume_ml`]), which the phantom tests hold within
//! 5%; the mask's own volume is `outline_volume_ml`. Diameters, centroid and bounds are the mask's.

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
    /// Opening ball radius (mm); `None` = adaptive: half the nodule's inscribed radius (the
    /// deepest grown voxel within 5 mm of the seed, by a distance transform), clamped to
    /// 1..=3 mm, so that attachments thinner than the nodule's inscribed radius are cut while
    /// small nodules survive (3 mm for a 25 mm nodule, 2 mm for an 8 mm one). `Some(0.0)`
    /// disables.
    pub opening_radius_mm: Option<f64>,
    /// Chest-wall removal on/off. Default on.
    pub remove_chest_wall: bool,
    /// Lung-mask threshold (HU). Default -400.
    pub wall_threshold_hu: f64,
    /// Closing radius of the lung mask (mm). Default 12.
    pub wall_closing_radius_mm: f64,
    /// Fill enclosed holes. Default on.
    pub fill_holes: bool,
    /// Partial-volume rim: after the opening, voxels within this distance of the nodule (mm) and
    /// at or above `rim_threshold_hu` join it. Readers outline the visible edge, which includes
    /// the partial-volume rim. Default 1.0; 0 disables.
    pub rim_grow_mm: f64,
    /// Threshold of the rim (HU). Default -600.
    pub rim_threshold_hu: f64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            max_radius_mm: 30.0,
            threshold_hu: None,
            opening_radius_mm: None,
            remove_chest_wall: true,
            wall_threshold_hu: -400.0,
            wall_closing_radius_mm: 12.0,
            fill_holes: true,
            rim_grow_mm: 1.0,
            rim_threshold_hu: -600.0,
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
    pub opening_used_mm: f64,
    pub stats: NoduleStats,
}

/// Size and position of a nodule mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoduleStats {
    /// Partial-volume-weighted volume (ml): every voxel of the mask and of its dim 6-neighbour
    /// shell counts `(HU - lung level) / (nodule level - lung level)` (lung level: median of the
    /// aerated voxels near the seed; nodule level: median within 2 mm of the seed), at most 1
    /// and, in the mask, at least 0 (unclamped below in the shell so lung noise cancels). This is
    /// the volumetric estimate the phantom tests hold within 5%; [`NoduleStats::outline_volume_ml`]
    /// is the mask's own volume (whole voxels).
    pub volume_ml: f64,
    /// Volume of the mask itself, rim included (ml).
    pub outline_volume_ml: f64,
    /// Longest 3D diameter between the mask's exposed voxel-face centres (mm).
    pub max_diameter_mm: f64,
    /// Longest in-plane diameter on any one slice (mm), as in RECIST.
    pub max_axial_diameter_mm: f64,
    /// Diameter of the sphere of volume `volume_ml` (mm).
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
    if let Some(r) = p.opening_radius_mm
        && !(r.is_finite() && (0.0..=5.0).contains(&r))
    {
        return bad("opening_radius_mm", r, "must be in 0..=5 mm");
    }
    if !(p.wall_threshold_hu.is_finite() && (-1000.0..=0.0).contains(&p.wall_threshold_hu)) {
        return bad(
            "wall_threshold_hu",
            p.wall_threshold_hu,
            "must be in -1000..=0 HU",
        );
    }
    if !(p.rim_grow_mm.is_finite() && (0.0..=5.0).contains(&p.rim_grow_mm)) {
        return bad("rim_grow_mm", p.rim_grow_mm, "must be in 0..=5 mm");
    }
    if !(p.rim_threshold_hu.is_finite() && (-1000.0..=500.0).contains(&p.rim_threshold_hu)) {
        return bad(
            "rim_threshold_hu",
            p.rim_threshold_hu,
            "must be in -1000..=500 HU",
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

/// Lung mask on a crop: air below `threshold_hu` that is not connected to the border of its whole
/// axial slice (that is air outside the body), closed with a ball, holes filled per axial slice.
pub fn lung_mask(
    volume: &Volume<i16>,
    crop: &Crop,
    threshold_hu: f64,
    closing_radius_mm: f64,
) -> Vec<bool> {
    let dims = crop.dims;
    let spacing_mm: [f64; 3] = volume.geometry().spacing_mm().into();
    let air = body_air(volume, crop, threshold_hu);
    let closed = if closing_radius_mm > 0.0 {
        grid::close(dims, spacing_mm, &air, closing_radius_mm)
    } else {
        air
    };
    grid::fill_holes_axial(dims, &closed)
}

/// Air (below `threshold_hu`) inside the body on the crop: each whole axial slice is flood-filled
/// from its border so that air outside the patient is excluded.
pub fn body_air(volume: &Volume<i16>, crop: &Crop, threshold_hu: f64) -> Vec<bool> {
    use rayon::prelude::*;
    let [cx, cy, cz] = crop.dims;
    let slab = cx * cy;
    let mut out = vec![false; slab * cz];
    out.par_chunks_mut(slab).enumerate().for_each(|(kk, dst)| {
        let Some(slice) = volume.slice(crop.first[2] + kk) else {
            return;
        };
        let outside = outside_air_2d(slice, volume.dims()[0], volume.dims()[1], threshold_hu);
        let nx = volume.dims()[0];
        for jj in 0..cy {
            for ii in 0..cx {
                let idx = crop.first[0] + ii + nx * (crop.first[1] + jj);
                dst[ii + cx * jj] = (slice[idx] as f64) < threshold_hu && !outside[idx];
            }
        }
    });
    out
}

/// Air pixels of one slice 4-connected to the slice border. A flood fill on 4x4 blocks that are
/// all air finds the bulk of the outside cheaply; a pixel flood fill then finishes the edges.
fn outside_air_2d(slice: &[i16], nx: usize, ny: usize, threshold_hu: f64) -> Vec<bool> {
    const B: usize = 4;
    let air = |idx: usize| (slice[idx] as f64) < threshold_hu;
    let (bx, by) = (nx.div_ceil(B), ny.div_ceil(B));
    let block_open: Vec<bool> = (0..bx * by)
        .map(|b| {
            let (x0, y0) = ((b % bx) * B, (b / bx) * B);
            (y0..(y0 + B).min(ny)).all(|y| (x0..(x0 + B).min(nx)).all(|x| air(x + nx * y)))
        })
        .collect();
    let mut ext_block = vec![false; bx * by];
    let mut stack: Vec<usize> = Vec::new();
    for b in 0..bx * by {
        let (x, y) = (b % bx, b / bx);
        if (x == 0 || y == 0 || x + 1 == bx || y + 1 == by) && block_open[b] {
            ext_block[b] = true;
            stack.push(b);
        }
    }
    while let Some(b) = stack.pop() {
        let (x, y) = (b % bx, b / bx);
        let nb = [
            (x > 0).then(|| b - 1),
            (x + 1 < bx).then(|| b + 1),
            (y > 0).then(|| b - bx),
            (y + 1 < by).then(|| b + bx),
        ];
        for n in nb.into_iter().flatten() {
            if block_open[n] && !ext_block[n] {
                ext_block[n] = true;
                stack.push(n);
            }
        }
    }
    // Pixels of outside blocks are outside; the pixel fill starts from those next to other
    // blocks and from air on the slice border.
    let mut outside = vec![false; nx * ny];
    let mut px: Vec<usize> = Vec::new();
    for b in 0..bx * by {
        if !ext_block[b] {
            continue;
        }
        let (x0, y0) = ((b % bx) * B, (b / bx) * B);
        let (x, y) = (b % bx, b / bx);
        let edge = [
            x > 0 && !ext_block[b - 1],
            x + 1 < bx && !ext_block[b + 1],
            y > 0 && !ext_block[b - bx],
            y + 1 < by && !ext_block[b + bx],
        ]
        .iter()
        .any(|&e| e);
        for yy in y0..(y0 + B).min(ny) {
            for xx in x0..(x0 + B).min(nx) {
                let idx = xx + nx * yy;
                outside[idx] = true;
                if edge {
                    px.push(idx);
                }
            }
        }
    }
    for x in 0..nx {
        for y in [0, ny - 1] {
            let idx = x + nx * y;
            if air(idx) && !outside[idx] {
                outside[idx] = true;
                px.push(idx);
            }
        }
    }
    for y in 0..ny {
        for x in [0, nx - 1] {
            let idx = x + nx * y;
            if air(idx) && !outside[idx] {
                outside[idx] = true;
                px.push(idx);
            }
        }
    }
    while let Some(idx) = px.pop() {
        let (x, y) = (idx % nx, idx / nx);
        let nb = [
            (x > 0).then(|| idx - 1),
            (x + 1 < nx).then(|| idx + 1),
            (y > 0).then(|| idx - nx),
            (y + 1 < ny).then(|| idx + nx),
        ];
        for n in nb.into_iter().flatten() {
            if !outside[n] && air(n) {
                outside[n] = true;
                px.push(n);
            }
        }
    }
    outside
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
    let (seed_level, lung_level, lung_median) = {
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
        let mut aerated: Vec<i16> = ball
            .iter()
            .copied()
            .filter(|&v| (v as f64) < params.wall_threshold_hu)
            .collect();
        let lung_median = if aerated.is_empty() {
            -850.0
        } else {
            percentile(&mut aerated, 0.5)
        };
        (
            percentile(&mut near, 0.5),
            percentile(&mut ball, 0.1).clamp(-1000.0, -700.0),
            lung_median,
        )
    };
    let threshold = params
        .threshold_hu
        .unwrap_or_else(|| (0.5 * (seed_level + lung_level)).clamp(-750.0, -450.0));
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
            volume,
            &crop,
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

    // Steps 4-6 work on the grown region's bounding box plus what the opening and the rim can
    // reach: a sub-crop, usually far smaller than the crop the lung mask needed.
    let reach_mm = params.opening_radius_mm.unwrap_or(3.0) + params.rim_grow_mm + 1.0;
    let (sub_first, sub_dims) = {
        let mut lo = dims;
        let mut hi = [0usize; 3];
        for (idx, _) in grown.iter().enumerate().filter(|(_, g)| **g) {
            let v = [
                idx % dims[0],
                (idx / dims[0]) % dims[1],
                idx / (dims[0] * dims[1]),
            ];
            for a in 0..3 {
                lo[a] = lo[a].min(v[a]);
                hi[a] = hi[a].max(v[a]);
            }
        }
        let mut first = [0usize; 3];
        let mut sd = [0usize; 3];
        for a in 0..3 {
            let m = (reach_mm / sp[a]).ceil() as usize + 1;
            first[a] = lo[a].saturating_sub(m);
            sd[a] = (hi[a] + m).min(dims[a] - 1) + 1 - first[a];
        }
        (first, sd)
    };
    let pick = |idx: usize| -> usize {
        let (i, j, k) = (
            idx % sub_dims[0],
            (idx / sub_dims[0]) % sub_dims[1],
            idx / (sub_dims[0] * sub_dims[1]),
        );
        lin(dims, [i + sub_first[0], j + sub_first[1], k + sub_first[2]])
    };
    let sub_n = sub_dims.iter().product::<usize>();
    let grown: Vec<bool> = (0..sub_n).map(|idx| grown[pick(idx)]).collect();
    let hu: Vec<i16> = (0..sub_n).map(|idx| hu[pick(idx)]).collect();
    let lung: Option<Vec<bool>> = lung.map(|l| (0..sub_n).map(|idx| l[pick(idx)]).collect());
    let in_radius: Vec<bool> = (0..sub_n)
        .map(|idx| dist2_from_seed(pick(idx)) <= r2_max)
        .collect();
    let seed_vox = [0, 1, 2]
        .map(|a| seed_vox[a].clamp(sub_first[a], sub_first[a] + sub_dims[a] - 1) - sub_first[a]);
    let dims = sub_dims;
    let n = sub_n;
    let cg = cg
        .sub_grid(sub_first, sub_dims)
        .map_err(|e| SegmentError::Geometry(e.to_string()))?;
    let crop_first = [0, 1, 2].map(|a| crop.first[a] + sub_first[a]);

    // 4. Opening, keep the seed's component.
    let opening_radius = params.opening_radius_mm.unwrap_or_else(|| {
        let inv: Vec<bool> = grown.iter().map(|g| !g).collect();
        let d2 = grid::squared_edt_mm2(dims, sp, &inv);
        // The nodule's own inscribed radius: the deepest grown voxel within 5 mm of the seed
        // (a thick vessel or the wall elsewhere in the grown region must not set it).
        let seed_sub = cg.index_from_world(&seed);
        let inscribed = d2
            .iter()
            .enumerate()
            .filter(|(idx, _)| grown[*idx])
            .filter(|(idx, _)| {
                let v = [
                    idx % dims[0],
                    (idx / dims[0]) % dims[1],
                    idx / (dims[0] * dims[1]),
                ];
                (0..3)
                    .map(|a| ((v[a] as f64 - seed_sub[a]) * sp[a]).powi(2))
                    .sum::<f64>()
                    <= 25.0
            })
            .map(|(_, d)| d.sqrt())
            .fold(0.0, f64::max);
        (inscribed * OPENING_FRACTION).clamp(1.0, 3.0)
    });
    let opened = if opening_radius > 0.0 {
        grid::open(dims, sp, &grown, opening_radius)
    } else {
        grown
    };
    let start = nearest_set(dims, sp, &opened, seed_vox, 3.0).ok_or(SegmentError::EmptyResult {
        seed_lps_mm,
        step: "opening (the structure at the seed is thinner than the opening ball)",
    })?;
    let mut nodule = grid::component_of(dims, &opened, start);

    // 5. Partial-volume rim, 6. holes.
    if params.rim_grow_mm > 0.0 {
        let near = grid::dilate(dims, sp, &nodule, params.rim_grow_mm);
        for idx in 0..n {
            if near[idx]
                && !nodule[idx]
                && hu[idx] as f64 >= params.rim_threshold_hu
                && in_radius[idx]
                && lung.as_ref().is_none_or(|l| l[idx])
            {
                nodule[idx] = true;
            }
        }
    }
    if params.fill_holes {
        nodule = grid::fill_holes_3d(dims, &nodule);
    }

    let labels: Vec<u8> = nodule.iter().map(|&b| u8::from(b)).collect();
    let mask = Mask::from_labels(cg, labels).map_err(|e| SegmentError::Geometry(e.to_string()))?;
    let mut stats = nodule_stats(&mask).ok_or(SegmentError::EmptyResult {
        seed_lps_mm,
        step: "hole filling",
    })?;
    // Partial-volume-weighted volume: each voxel counts the fraction
    // (HU - lung level) / (nodule level - lung level), clamped to 0..1, over the mask and the
    // one-voxel shell around it where the shell is dimmer than the rim threshold (the nodule's
    // fading edge, not a neighbouring vessel or wall).
    // Unclamped below in the shell, so that lung noise averages out instead of adding up.
    let contrast = (seed_level - lung_median).max(100.0);
    let fraction = |idx: usize| ((hu[idx] as f64 - lung_median) / contrast).min(1.0);
    let [nx, ny, nz] = dims;
    let mut pv_sum = 0.0;
    for idx in 0..n {
        if nodule[idx] {
            pv_sum += fraction(idx).max(0.0);
            continue;
        }
        if hu[idx] as f64 >= params.rim_threshold_hu.min(threshold) {
            continue;
        }
        let (i, j, k) = (idx % nx, (idx / nx) % ny, idx / (nx * ny));
        let touches = (i > 0 && nodule[idx - 1])
            || (i + 1 < nx && nodule[idx + 1])
            || (j > 0 && nodule[idx - nx])
            || (j + 1 < ny && nodule[idx + nx])
            || (k > 0 && nodule[idx - nx * ny])
            || (k + 1 < nz && nodule[idx + nx * ny]);
        if touches {
            pv_sum += fraction(idx);
        }
    }
    let pv_mm3 = pv_sum.max(0.0) * mask.geometry().voxel_volume_mm3();
    stats.outline_volume_ml = stats.volume_ml;
    stats.volume_ml = pv_mm3 / 1000.0;
    stats.equivalent_diameter_mm = (6.0 * pv_mm3 / std::f64::consts::PI).cbrt();
    Ok(Segmentation {
        mask,
        crop_first_voxel: crop_first,
        seed_lps_mm,
        params: params.clone(),
        threshold_used_hu: threshold,
        opening_used_mm: opening_radius,
        stats,
    })
}

/// Adaptive opening radius as a fraction of the nodule's inscribed radius.
const OPENING_FRACTION: f64 = 1.0 / 2.0;

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

/// Largest distance between two points (using the first `dims` coordinates). Exact for small
/// sets; for larger ones the candidates are the extreme points along 600 (3D) or 180 (2D)
/// directions, which keeps every point within 0.3% of the farthest pair's length (the diameter
/// is stationary in the direction), at a fraction of the all-pairs cost.
fn feret_diameter(points: &[[f64; 3]], dims: usize) -> f64 {
    let dist2 = |a: &[f64; 3], b: &[f64; 3]| (0..dims).map(|x| (a[x] - b[x]).powi(2)).sum::<f64>();
    let all_pairs = |pts: &[[f64; 3]]| {
        let mut best: f64 = 0.0;
        for (n, a) in pts.iter().enumerate() {
            for b in &pts[n + 1..] {
                best = best.max(dist2(a, b));
            }
        }
        best.sqrt()
    };
    if points.len() <= 400 {
        return all_pairs(points);
    }
    let directions: Vec<[f64; 3]> = if dims == 3 {
        // Fibonacci half-sphere (a direction and its opposite give the same extremes).
        let n = 600;
        (0..n)
            .map(|i| {
                let z = 1.0 - (i as f64 + 0.5) / n as f64;
                let r = (1.0 - z * z).sqrt();
                let phi = i as f64 * std::f64::consts::PI * (3.0 - 5f64.sqrt());
                [r * phi.cos(), r * phi.sin(), z]
            })
            .collect()
    } else {
        (0..180)
            .map(|i| {
                let a = i as f64 * std::f64::consts::PI / 180.0;
                [a.cos(), a.sin(), 0.0]
            })
            .collect()
    };
    let mut candidates: Vec<usize> = Vec::new();
    for d in &directions {
        let proj = |p: &[f64; 3]| (0..dims).map(|x| p[x] * d[x]).sum::<f64>();
        let (mut lo, mut hi) = (0usize, 0usize);
        for (n, p) in points.iter().enumerate() {
            if proj(p) < proj(&points[lo]) {
                lo = n;
            }
            if proj(p) > proj(&points[hi]) {
                hi = n;
            }
        }
        candidates.push(lo);
        candidates.push(hi);
    }
    candidates.sort_unstable();
    candidates.dedup();
    let pts: Vec<[f64; 3]> = candidates.iter().map(|&i| points[i]).collect();
    all_pairs(&pts)
}

/// Volume, diameters, centroid and bounds of a mask; None when empty.
pub fn nodule_stats(mask: &Mask) -> Option<NoduleStats> {
    let g = mask.geometry();
    let count = mask.count();
    if count == 0 {
        return None;
    }
    let mut sum = Vector3::zeros();
    let sp = g.spacing_mm();
    // Exposed face centres (in index units, doubled so they stay integers) of boundary voxels.
    let mut faces: Vec<[i64; 3]> = Vec::new();
    for (i, j, k) in mask.iter_set() {
        sum += g.world_from_ijk([i, j, k]).coords;
        let v = [i as i64, j as i64, k as i64];
        for axis in 0..3 {
            for dir in [-1i64, 1] {
                let mut w = v;
                w[axis] += dir;
                let outside =
                    w[axis] < 0 || !mask.contains(w[0] as usize, w[1] as usize, w[2] as usize);
                if outside {
                    let mut f = [2 * v[0], 2 * v[1], 2 * v[2]];
                    f[axis] += dir;
                    faces.push(f);
                }
            }
        }
    }
    let centroid = sum / count as f64;
    // Longest diameters between exposed face centres (the voxel mask's 0.5 iso-surface): 3D, and
    // in-plane on one slice (faces whose normal lies in the slice).
    let half = [sp[0] / 2.0, sp[1] / 2.0, sp[2] / 2.0];
    let faces_mm: Vec<[f64; 3]> = faces
        .iter()
        .map(|f| {
            [
                f[0] as f64 * half[0],
                f[1] as f64 * half[1],
                f[2] as f64 * half[2],
            ]
        })
        .collect();
    let max3d = feret_diameter(&faces_mm, 3);
    let mut by_slice: std::collections::BTreeMap<i64, Vec<[f64; 3]>> = Default::default();
    for (f, mm) in faces.iter().zip(&faces_mm) {
        if f[2] % 2 == 0 {
            by_slice.entry(f[2]).or_default().push(*mm);
        }
    }
    let max_axial = by_slice
        .values()
        .map(|list| feret_diameter(list, 2))
        .fold(0.0, f64::max);
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
        outline_volume_ml: volume_mm3 / 1000.0,
        max_diameter_mm: max3d,
        max_axial_diameter_mm: max_axial,
        equivalent_diameter_mm: (6.0 * volume_mm3 / std::f64::consts::PI).cbrt(),
        centroid_lps_mm: centroid.into(),
        bbox_min_lps_mm: bb.min.into(),
        bbox_max_lps_mm: bb.max.into(),
        voxel_count: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ellipsoid::Ellipsoid;

    /// Deterministic noise in [-1, 1].
    fn noise(i: usize, j: usize, k: usize) -> f64 {
        let mut h = (i as u64).wrapping_mul(73856093)
            ^ (j as u64).wrapping_mul(19349663)
            ^ (k as u64).wrapping_mul(83492791);
        h ^= h >> 13;
        h = h.wrapping_mul(0x5bd1e995);
        h ^= h >> 15;
        (h % 20001) as f64 / 10000.0 - 1.0
    }

    /// Synthetic lung (-850 HU) with solid objects (+40 HU) and partial volume from 4x4x4
    /// sub-samples per voxel, plus +/-30 HU noise. `wall_x_mm`: chest wall (+40 HU) for x >= it.
    fn phantom(
        objects: &[Ellipsoid],
        vessels: &[(Point3<f64>, Vector3<f64>, f64)],
        wall_x_mm: Option<f64>,
        spacing: [f64; 3],
    ) -> Volume<i16> {
        let dims = [0, 1, 2].map(|a| (80.0 / spacing[a]).round() as usize);
        let origin = [0, 1, 2].map(|a| -(dims[a] as f64 - 1.0) / 2.0 * spacing[a]);
        let g = VolumeGeometry::axis_aligned(dims, spacing, origin).unwrap();
        let gg = g.clone();
        Volume::from_fn(g, move |i, j, k| {
            let c = gg.world_from_ijk([i, j, k]);
            let mut inside = 0usize;
            let n = 4;
            for a in 0..n {
                for b in 0..n {
                    for cc in 0..n {
                        let p = c + Vector3::new(
                            ((a as f64 + 0.5) / n as f64 - 0.5) * spacing[0],
                            ((b as f64 + 0.5) / n as f64 - 0.5) * spacing[1],
                            ((cc as f64 + 0.5) / n as f64 - 0.5) * spacing[2],
                        );
                        let solid = objects.iter().any(|e| e.contains(&p))
                            || vessels.iter().any(|(o, d, r)| {
                                let v = p - o;
                                (v - d * v.dot(d)).norm() <= *r
                            })
                            || wall_x_mm.is_some_and(|w| p.x >= w)
                            // Body wall along the in-plane border, so the lung is inside a body.
                            || p.x.abs() > 36.0
                            || p.y.abs() > 36.0;
                        inside += usize::from(solid);
                    }
                }
            }
            let f = inside as f64 / (n * n * n) as f64;
            (-850.0 + 890.0 * f + 30.0 * noise(i, j, k)).round() as i16
        })
    }

    #[test]
    fn spheres_and_ellipsoids_volume_within_5_percent() {
        for spacing in [[0.7, 0.7, 1.25], [0.7, 0.7, 2.5]] {
            for d in [8.0, 12.0, 20.0] {
                let e = Ellipsoid::sphere(Point3::new(1.3, -0.4, 0.9), d / 2.0);
                let v = phantom(&[e], &[], None, spacing);
                let s = segment(&v, [1.3, -0.4, 0.9], &SegmentParams::default()).unwrap();
                let truth = e.volume_mm3() / 1000.0;
                let err = (s.stats.volume_ml - truth).abs() / truth;
                assert!(
                    err <= 0.05,
                    "sphere {d} mm at {spacing:?}: {} vs {truth} ml ({:.1}%)",
                    s.stats.volume_ml,
                    100.0 * err
                );
                // Equivalent diameter follows the volume (cube root: within 2%). The longest
                // diameters are the outline's (rim included): at most one slice + 1 mm over.
                assert!((s.stats.equivalent_diameter_mm - d).abs() / d < 0.02);
                for measured in [s.stats.max_diameter_mm, s.stats.max_axial_diameter_mm] {
                    assert!(
                        measured >= d - 0.5 && measured <= d + spacing[2] + 1.0,
                        "{measured} vs {d}"
                    );
                }
                assert!(s.stats.outline_volume_ml >= s.stats.volume_ml);
                let c = Point3::from(s.stats.centroid_lps_mm);
                assert!((c - e.centre()).norm() < 0.3, "{c:?}");
            }
            let e = Ellipsoid::of_revolution(
                Point3::new(-2.0, 3.0, 1.0),
                Vector3::new(1.0, 1.0, 0.5),
                9.0,
                5.0,
            )
            .unwrap();
            let v = phantom(&[e], &[], None, spacing);
            let s = segment(&v, [-2.0, 3.0, 1.0], &SegmentParams::default()).unwrap();
            let truth = e.volume_mm3() / 1000.0;
            let err = (s.stats.volume_ml - truth).abs() / truth;
            assert!(
                err <= 0.05,
                "ellipsoid at {spacing:?}: {} vs {truth} ({:.1}%)",
                s.stats.volume_ml,
                100.0 * err
            );
        }
    }

    #[test]
    fn vessel_attachment_is_cut_and_juxtapleural_wall_removed() {
        let spacing = [0.7, 0.7, 1.25];
        let e = Ellipsoid::sphere(Point3::new(0.0, 0.0, 0.0), 7.0);
        let truth = e.volume_mm3() / 1000.0;
        // A 2 mm vessel running through the nodule.
        let v = phantom(
            &[e],
            &[(
                Point3::origin(),
                Vector3::new(1.0, 0.3, 0.2).normalize(),
                1.0,
            )],
            None,
            spacing,
        );
        let s = segment(&v, [0.0; 3], &SegmentParams::default()).unwrap();
        let err = (s.stats.volume_ml - truth).abs() / truth;
        assert!(
            err <= 0.08,
            "with vessel: {} vs {truth} ({:.1}%)",
            s.stats.volume_ml,
            100.0 * err
        );
        let uncut = segment(
            &v,
            [0.0; 3],
            &SegmentParams {
                opening_radius_mm: Some(0.0),
                ..SegmentParams::default()
            },
        )
        .unwrap();
        assert!(
            uncut.stats.max_diameter_mm > 40.0,
            "{}",
            uncut.stats.max_diameter_mm
        );
        // The rim re-adds at most 1 mm stubs at each side.
        assert!(
            s.stats.max_diameter_mm < 14.0 + 2.0 * 1.0 + 1.5,
            "vessel not cut: {}",
            s.stats.max_diameter_mm
        );
        // Nodule touching a chest wall at x = 7 mm.
        let v = phantom(&[e], &[], Some(6.5), spacing);
        let s = segment(&v, [-2.0, 0.0, 0.0], &SegmentParams::default()).unwrap();
        let (_, hi) = (s.stats.bbox_min_lps_mm, s.stats.bbox_max_lps_mm);
        assert!(hi[0] < 8.0, "chest wall leaked in: bbox max x {}", hi[0]);
        let err = (s.stats.volume_ml - truth).abs() / truth;
        assert!(
            err <= 0.15,
            "juxtapleural: {} vs {truth} ({:.1}%)",
            s.stats.volume_ml,
            100.0 * err
        );
        // Without wall removal, the wall is part of the result.
        let p = SegmentParams {
            remove_chest_wall: false,
            ..SegmentParams::default()
        };
        let s2 = segment(&v, [-2.0, 0.0, 0.0], &p).unwrap();
        assert!(s2.stats.volume_ml > 2.0 * truth);
    }

    #[test]
    fn feret_diameter_with_candidates_matches_all_pairs() {
        // Points on a rotated, noisy ellipsoid surface: 2000 points (candidate path).
        let mut pts = Vec::new();
        for n in 0..2000 {
            let t = n as f64 * 0.61803;
            let z = 1.0 - 2.0 * ((n as f64 + 0.5) / 2000.0);
            let r = (1.0 - z * z).sqrt();
            let p = [
                14.0 * r * (t * std::f64::consts::TAU).cos(),
                9.0 * r * (t * std::f64::consts::TAU).sin(),
                6.0 * z,
            ];
            pts.push([
                p[0] + 0.3 * p[1],
                p[1] - 0.3 * p[0],
                p[2] + 0.01 * (n % 7) as f64,
            ]);
        }
        let exact = {
            let mut best: f64 = 0.0;
            for (n, a) in pts.iter().enumerate() {
                for b in &pts[n + 1..] {
                    best = best.max((0..3).map(|x| (a[x] - b[x]).powi(2)).sum::<f64>());
                }
            }
            best.sqrt()
        };
        let fast = feret_diameter(&pts, 3);
        assert!(
            fast <= exact + 1e-12 && fast >= exact * 0.997,
            "{fast} vs {exact}"
        );
    }

    #[test]
    fn bad_seeds_and_parameters_are_errors() {
        let v = phantom(
            &[Ellipsoid::sphere(Point3::origin(), 5.0)],
            &[],
            None,
            [1.0, 1.0, 2.0],
        );
        assert!(matches!(
            segment(&v, [500.0, 0.0, 0.0], &SegmentParams::default()),
            Err(SegmentError::SeedOutsideVolume { .. })
        ));
        assert!(matches!(
            segment(&v, [20.0, 20.0, 0.0], &SegmentParams::default()),
            Err(SegmentError::SeedNotInNodule { .. })
        ));
        assert!(matches!(
            segment(&v, [f64::NAN, 0.0, 0.0], &SegmentParams::default()),
            Err(SegmentError::SeedOutsideVolume { .. })
        ));
        let p = SegmentParams {
            max_radius_mm: f64::INFINITY,
            ..SegmentParams::default()
        };
        assert!(matches!(
            segment(&v, [0.0; 3], &p),
            Err(SegmentError::InvalidParameter { .. })
        ));
    }
}

#[cfg(test)]
mod outside_air_tests {
    use super::*;

    #[test]
    fn block_flood_fill_equals_pixel_flood_fill() {
        // A ring of tissue (body) with a lung hole, a thin air channel through the ring at one
        // place (so that lung connects outside there), and a second closed lung.
        let (nx, ny) = (61, 47);
        let slice: Vec<i16> = (0..nx * ny)
            .map(|idx| {
                let (x, y) = ((idx % nx) as f64 - 30.0, (idx / nx) as f64 - 23.0);
                let r = (x * x / 1.6 + y * y).sqrt();
                let channel = y.abs() < 1.0 && x > 0.0;
                if (15.0..20.0).contains(&r) && !channel {
                    40
                } else if r < 15.0 && x < -3.0 {
                    -850
                } else if r < 15.0 && x.abs() <= 3.0 {
                    40
                } else {
                    -1000
                }
            })
            .collect();
        let fast = outside_air_2d(&slice, nx, ny, -400.0);
        // Reference: plain pixel flood fill from the border.
        let solid: Vec<bool> = slice.iter().map(|&v| v >= -400).collect();
        let filled = grid::fill_holes_3d([nx, ny, 1], &solid);
        let reference: Vec<bool> = slice
            .iter()
            .zip(&filled)
            .map(|(&v, &f)| v < -400 && !f)
            .collect();
        assert_eq!(fast, reference);
        assert!(!fast[20 + nx * 23], "the closed left lung is inside");
        assert!(
            fast[40 + nx * 23],
            "the right lung opens outside through the channel"
        );
    }
}
