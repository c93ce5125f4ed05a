//! A deterministic synthetic chest CT with ground truth.
//!
//! [`generate`] turns a [`PhantomConfig`] (seed, matrix, spacing, noise, nodules) into a
//! [`Phantom`]: a `Volume<i16>` of Hounsfield units in LPS patient space (i = patient right to
//! left, j = anterior to posterior, k = inferior to superior) and its [`Truth`] (nodules with
//! analytic volumes, vessel and airway trees, ribs, organ shapes). The same seed and config give
//! the same voxels on every machine and thread count. [`dicom_out::write_series`] writes a CT
//! Image Storage series; [`Phantom::write_truth`] writes `truth.json`.

pub mod body;
pub mod config;
pub mod dicom_out;
pub mod nodules;
mod raster;
pub mod rng;
pub mod scene;
pub mod shapes;
pub mod trees;
pub mod truth;

use std::path::{Path, PathBuf};

use margo_volume::nalgebra::{Matrix3, Point3};
use margo_volume::{Volume, VolumeGeometry};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use config::{Lobe, NoduleKind, NoduleSpec, PhantomConfig, TissueHu, default_nodules};
pub use nodules::{Nodule, NoduleTruth};
pub use scene::{Scene, Tissue};
pub use truth::Truth;

/// The default volume centre (LPS mm): the middle of the thorax, apex at z = +158, lung bases
/// near z = -100.
pub const THORAX_CENTRE_LPS_MM: [f64; 3] = [0.0, 8.0, 0.0];

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PhantomError {
    #[error("invalid phantom configuration: {reason}")]
    InvalidConfig { reason: String },
    #[error(
        "could not place a {diameter_mm} mm {kind} nodule in the {lobe} within z {z_range_mm:?} mm \
         (the volume's slab may not cover that lobe, or the nodule is too large)"
    )]
    NodulePlacement {
        kind: &'static str,
        lobe: &'static str,
        diameter_mm: f64,
        z_range_mm: [f64; 2],
    },
    #[error("geometry: {0}")]
    Geometry(#[from] margo_volume::GeometryError),
    #[error("writing {path}: {source}")]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("serialising truth for {path}: {source}")]
    SerialiseTruth {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// A generated phantom.
#[derive(Debug, Clone)]
pub struct Phantom {
    pub volume: Volume<i16>,
    pub truth: Truth,
    /// The analytic scene, for point queries (`scene.sample(p)`) in tests.
    pub scene: Scene,
}

impl PhantomConfig {
    fn validate(&self) -> Result<(), PhantomError> {
        let bad = |reason: String| Err(PhantomError::InvalidConfig { reason });
        if self.dims.iter().any(|&n| n == 0 || n > 4096) {
            return bad(format!(
                "matrix {:?} must be 1..=4096 on each axis",
                self.dims
            ));
        }
        let voxels = self.dims.iter().product::<usize>();
        if voxels > 600_000_000 {
            return bad(format!(
                "matrix {:?} is {voxels} voxels; the generator's limit is 600 million (1.2 GB)",
                self.dims
            ));
        }
        if self
            .spacing_mm
            .iter()
            .any(|s| !(s.is_finite() && *s >= 0.05 && *s <= 20.0))
        {
            return bad(format!(
                "spacing {:?} mm must be within 0.05..=20 mm",
                self.spacing_mm
            ));
        }
        if self
            .centre_lps_mm
            .iter()
            .any(|c| !(c.is_finite() && c.abs() <= 1000.0))
        {
            return bad(format!(
                "centre {:?} mm must be finite and within 1 m",
                self.centre_lps_mm
            ));
        }
        if !(self.noise_sd_hu.is_finite() && (0.0..=500.0).contains(&self.noise_sd_hu)) {
            return bad(format!(
                "noise {} HU must be within 0..=500",
                self.noise_sd_hu
            ));
        }
        if !(1..=8).contains(&self.supersample) || !(1..=8).contains(&self.nodule_supersample) {
            return bad("supersampling must be 1..=8 per axis".into());
        }
        for n in &self.nodules {
            if !(n.diameter_mm.is_finite() && (2.0..=60.0).contains(&n.diameter_mm)) {
                return bad(format!(
                    "nodule diameter {} mm must be within 2..=60 mm",
                    n.diameter_mm
                ));
            }
        }
        Ok(())
    }

    /// The volume grid: axis-aligned LPS, centred on `centre_lps_mm`.
    pub fn geometry(&self) -> Result<VolumeGeometry, PhantomError> {
        let origin: [f64; 3] = std::array::from_fn(|a| {
            self.centre_lps_mm[a] - 0.5 * (self.dims[a] as f64 - 1.0) * self.spacing_mm[a]
        });
        Ok(VolumeGeometry::new(
            self.dims,
            self.spacing_mm,
            origin,
            Matrix3::identity(),
        )?)
    }
}

/// Generates the phantom described by `config`.
pub fn generate(config: &PhantomConfig) -> Result<Phantom, PhantomError> {
    config.validate()?;
    let geometry = config.geometry()?;
    let bounds = geometry.world_bounds();
    let sp = geometry.spacing_mm();
    let half_diagonal = 0.5 * sp.norm();
    let scene = Scene::build(config, [bounds.min.z, bounds.max.z], half_diagonal + 1.0)?;
    let volume = raster::rasterise(&scene, config, &geometry);
    let truth = Truth {
        generator: "margo-phantom".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        synthetic: true,
        coordinate_system:
            "DICOM patient LPS, millimetres; +x patient left, +y posterior, +z superior".into(),
        config: config.clone(),
        geometry: truth::GeometryTruth {
            dims: geometry.dims(),
            spacing_mm: sp.into(),
            origin_lps_mm: geometry.origin_in_world().coords.into(),
            axes_lps: [0, 1, 2].map(|a| geometry.axis_in_world(a).into()),
        },
        voxel_sha256: voxel_sha256(&volume),
        nodules: scene.nodules.iter().map(|n| n.truth()).collect(),
        nodule_shapes: scene.nodules.clone(),
        vessels: scene.vessel_trees.clone(),
        airways: scene.airway_trees.clone(),
        ribs: scene.thorax.ribs.clone(),
        anatomy: scene.thorax.clone(),
    };
    Ok(Phantom {
        volume,
        truth,
        scene,
    })
}

/// SHA-256 (hex) of the voxels as little-endian i16, i fastest.
pub fn voxel_sha256(volume: &Volume<i16>) -> String {
    let mut h = Sha256::new();
    for chunk in volume.voxels().chunks(1 << 16) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        h.update(&bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Phantom {
    /// Writes `truth.json` into `dir` atomically (compact JSON, floats rounded to 0.001 mm).
    pub fn write_truth(&self, dir: &Path) -> Result<PathBuf, PhantomError> {
        let path = dir.join("truth.json");
        let mut value =
            serde_json::to_value(&self.truth).map_err(|source| PhantomError::SerialiseTruth {
                path: path.clone(),
                source,
            })?;
        truth::round_json(&mut value, 3);
        let mut text =
            serde_json::to_string(&value).map_err(|source| PhantomError::SerialiseTruth {
                path: path.clone(),
                source,
            })?;
        text.push('\n');
        write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// Reference segmentation of nodule `index`: the voxels (of a crop of the phantom's grid
    /// around the nodule) whose centres lie inside the analytic shape, ground glass included.
    /// For comparing a segmentation with the truth (Dice, volume); `None` for a bad index or a
    /// nodule outside the grid.
    pub fn nodule_mask(&self, index: usize) -> Option<margo_volume::Mask> {
        let nodule = self.scene.nodules.get(index)?;
        let g = self.volume.geometry();
        let reach = nodule.bounding_radius_mm() + g.spacing_mm().max();
        let c = g.index_from_world(&nodule.centre());
        let dims = g.dims();
        let sp = g.spacing_mm();
        let mut first = [0usize; 3];
        let mut size = [0usize; 3];
        for a in 0..3 {
            let lo = (c[a] - reach / sp[a]).floor().max(0.0);
            let hi = (c[a] + reach / sp[a]).ceil().min(dims[a] as f64 - 1.0);
            if hi < lo {
                return None;
            }
            first[a] = lo as usize;
            size[a] = (hi - lo) as usize + 1;
        }
        let crop = g.sub_grid(first, size).ok()?;
        let at = crop.clone();
        Some(margo_volume::Mask::from_fn(crop, move |i, j, k| {
            nodule.contains(&at.world_from_ijk([i, j, k]))
        }))
    }

    /// HU at a world point (nearest voxel), for tests.
    pub fn hu_at(&self, p: &Point3<f64>) -> Option<i16> {
        self.volume.sample_nearest_world(p)
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PhantomError> {
    margo_volume::atomic::write_atomic(path, bytes).map_err(|source| PhantomError::WriteFile {
        path: path.to_path_buf(),
        source,
    })
}
