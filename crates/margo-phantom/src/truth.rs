//! `truth.json`: everything known about a generated phantom, in LPS millimetres.

use serde::{Deserialize, Serialize};

use crate::body::Thorax;
use crate::config::PhantomConfig;
use crate::nodules::{Nodule, NoduleTruth};
use crate::trees::TreeTruth;

/// The grid the images use (same convention as `margo_volume::VolumeGeometry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeometryTruth {
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    /// Centre of voxel (0, 0, 0), LPS mm.
    pub origin_lps_mm: [f64; 3],
    /// Columns of the direction matrix: i, j and k axes in LPS.
    pub axes_lps: [[f64; 3]; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub generator: String,
    pub version: String,
    /// Always true: no patient data went into this image.
    pub synthetic: bool,
    pub coordinate_system: String,
    pub config: PhantomConfig,
    pub geometry: GeometryTruth,
    /// SHA-256 of the HU voxels (i16 little endian, i fastest), the value regeneration checks.
    pub voxel_sha256: String,
    pub nodules: Vec<NoduleTruth>,
    /// Exact nodule shapes (for building reference masks).
    pub nodule_shapes: Vec<Nodule>,
    /// Pulmonary vessel trees: segment centrelines and radii.
    pub vessels: Vec<TreeTruth>,
    /// Bronchial trees (lumen radii; wall = 0.2 r + 0.35 mm).
    pub airways: Vec<TreeTruth>,
    pub ribs: Vec<crate::body::RibTruth>,
    /// Body outline, cavity, diaphragm, mediastinum, heart, great vessels, spine, fissures.
    pub anatomy: Thorax,
}

/// Rounds every float in a JSON value to `decimals` places (keeps truth.json small and stable).
pub fn round_json(value: &mut serde_json::Value, decimals: i32) {
    let scale = 10f64.powi(decimals);
    match value {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                let r = (f * scale).round() / scale;
                if let Some(v) = serde_json::Number::from_f64(if r == 0.0 { 0.0 } else { r }) {
                    *n = v;
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|v| round_json(v, decimals)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|v| round_json(v, decimals)),
        _ => {}
    }
}
