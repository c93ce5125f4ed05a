//! Plan files: JSON with a schema version, validated on load, saved atomically.
//!
//! ```json
//! { "format": "margo-plan", "schema_version": 1,
//!   "series_uid": "...", "frame_of_reference_uid": "...", "volume_dims": [512, 512, 133],
//!   "segmentation": { "seed_lps_mm": [x, y, z], "params": {..},
//!                     "mask": { "first_voxel": [i, j, k], "dims": [nx, ny, nz],
//!                               "runs": [n_out, n_in, n_out, ...] } },
//!   "probes": [ { "tip_lps_mm": [..], "entry_lps_mm": [..], "device": "emprint",
//!                 "power_w": 100, "time_s": 300 } ],
//!   "zone_options": { "tissue_scale": { "long": 0.8, "short": 0.67, "source": ".." },
//!                     "cryo_lethal_inset_mm": 5 },
//!   "notes": "" }
//! ```
//! `runs` is the mask's run-length encoding in i-fastest order on the crop, starting with a run
//! of outside voxels (possibly 0).

use std::path::{Path, PathBuf};

use margo_volume::{Mask, VolumeGeometry};
use serde::{Deserialize, Serialize};

use crate::probe::ProbeSpec;
use crate::segment::SegmentParams;
use crate::zones::{ZoneError, ZoneOptions, build_zones};

pub const FORMAT: &str = "margo-plan";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub format: String,
    pub schema_version: u32,
    pub series_uid: String,
    #[serde(default)]
    pub frame_of_reference_uid: String,
    pub volume_dims: [usize; 3],
    pub segmentation: SavedSegmentation,
    pub probes: Vec<ProbeSpec>,
    pub zone_options: ZoneOptions,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSegmentation {
    pub seed_lps_mm: [f64; 3],
    pub params: SegmentParams,
    pub mask: SavedMask,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedMask {
    pub first_voxel: [usize; 3],
    pub dims: [usize; 3],
    pub runs: Vec<u64>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanFileError {
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plan file {path} is not valid JSON: {source}")]
    ParseJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} is not a margo plan (format is {found:?}, expected \"margo-plan\")")]
    NotAPlan { path: PathBuf, found: String },
    #[error(
        "plan file {path} has schema version {found}; this margo reads version {SCHEMA_VERSION}"
    )]
    UnknownVersion { path: PathBuf, found: String },
    #[error("plan file {path}: {field} is not finite or out of range ({value})")]
    BadNumber {
        path: PathBuf,
        field: String,
        value: String,
    },
    #[error("plan file {path} is for series {in_file}, but the loaded series is {loaded}")]
    SeriesMismatch {
        path: PathBuf,
        in_file: String,
        loaded: String,
    },
    #[error("plan file {path}: volume is {in_file:?} voxels in the file but {loaded:?} loaded")]
    DimsMismatch {
        path: PathBuf,
        in_file: [usize; 3],
        loaded: [usize; 3],
    },
    #[error("plan file {path}: probe {probe} {which} {point:?} lies outside the volume")]
    ProbeOutsideVolume {
        path: PathBuf,
        probe: usize,
        which: &'static str,
        point: [f64; 3],
    },
    #[error("plan file {path}: segmentation seed {seed:?} lies outside the volume")]
    SeedOutsideVolume { path: PathBuf, seed: [f64; 3] },
    #[error("plan file {path}: {source}")]
    Zones { path: PathBuf, source: ZoneError },
    #[error("plan file {path}: mask {problem}")]
    BadMask { path: PathBuf, problem: String },
    #[error("cannot write plan file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Run-length encodes mask labels (i fastest), starting with an outside run.
pub fn encode_runs(labels: &[u8]) -> Vec<u64> {
    let mut runs = Vec::new();
    let mut current = false;
    let mut count = 0u64;
    for &l in labels {
        let v = l != 0;
        if v != current {
            runs.push(count);
            count = 0;
            current = v;
        }
        count += 1;
    }
    runs.push(count);
    runs
}

/// Decodes runs into `n` labels; None when the runs do not add up to `n`.
pub fn decode_runs(runs: &[u64], n: usize) -> Option<Vec<u8>> {
    let total: u64 = runs.iter().try_fold(0u64, |a, &r| a.checked_add(r))?;
    if total != n as u64 {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for (i, &r) in runs.iter().enumerate() {
        out.extend(std::iter::repeat_n(u8::from(i % 2 == 1), r as usize));
    }
    Some(out)
}

impl SavedMask {
    pub fn from_mask(mask: &Mask, first_voxel: [usize; 3]) -> Self {
        Self {
            first_voxel,
            dims: mask.dims(),
            runs: encode_runs(mask.labels()),
        }
    }

    /// Rebuilds the mask on its crop of `volume_geometry`.
    pub fn to_mask(&self, volume_geometry: &VolumeGeometry) -> Result<Mask, String> {
        let vd = volume_geometry.dims();
        for a in 0..3 {
            if self.dims[a] == 0
                || self.first_voxel[a]
                    .checked_add(self.dims[a])
                    .is_none_or(|e| e > vd[a])
            {
                return Err(format!(
                    "crop {:?}+{:?} does not fit the volume {vd:?}",
                    self.first_voxel, self.dims
                ));
            }
        }
        let n = self.dims.iter().product();
        let labels = decode_runs(&self.runs, n)
            .ok_or_else(|| format!("runs do not add up to {n} voxels"))?;
        if labels.iter().all(|&l| l == 0) {
            return Err("is empty".into());
        }
        let g = volume_geometry
            .sub_grid(self.first_voxel, self.dims)
            .map_err(|e| e.to_string())?;
        Mask::from_labels(g, labels).map_err(|e| e.to_string())
    }
}

impl PlanFile {
    /// Parses and checks a plan file's own content (version, numbers, devices), without a volume.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PlanFileError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| PlanFileError::ParseJson {
                path: path.into(),
                source,
            })?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != FORMAT {
            return Err(PlanFileError::NotAPlan {
                path: path.into(),
                found: format.into(),
            });
        }
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == SCHEMA_VERSION as u64 => {}
            other => {
                return Err(PlanFileError::UnknownVersion {
                    path: path.into(),
                    found: other.map_or_else(
                        || {
                            value
                                .get("schema_version")
                                .map_or("missing".into(), |v| v.to_string())
                        },
                        |v| v.to_string(),
                    ),
                });
            }
        }
        let plan: PlanFile =
            serde_json::from_value(value).map_err(|source| PlanFileError::ParseJson {
                path: path.into(),
                source,
            })?;
        plan.check_numbers(path)?;
        build_zones(&plan.probes, &plan.zone_options).map_err(|source| PlanFileError::Zones {
            path: path.into(),
            source,
        })?;
        Ok(plan)
    }

    fn check_numbers(&self, path: &Path) -> Result<(), PlanFileError> {
        let bad = |field: String, value: f64| PlanFileError::BadNumber {
            path: path.into(),
            field,
            value: value.to_string(),
        };
        for (a, v) in self.segmentation.seed_lps_mm.iter().enumerate() {
            if !v.is_finite() {
                return Err(bad(format!("segmentation.seed_lps_mm[{a}]"), *v));
            }
        }
        let p = &self.segmentation.params;
        for (name, v) in [
            ("max_radius_mm", p.max_radius_mm),
            ("opening_radius_mm", p.opening_radius_mm.unwrap_or(0.0)),
            ("rim_grow_mm", p.rim_grow_mm),
            ("rim_threshold_hu", p.rim_threshold_hu),
            ("wall_threshold_hu", p.wall_threshold_hu),
            ("wall_closing_radius_mm", p.wall_closing_radius_mm),
            ("threshold_hu", p.threshold_hu.unwrap_or(0.0)),
        ] {
            if !v.is_finite() {
                return Err(bad(format!("segmentation.params.{name}"), v));
            }
        }
        for (n, probe) in self.probes.iter().enumerate() {
            probe.check_finite(n).map_err(|e| match e {
                crate::probe::ProbeError::NonFinite { field, value, .. } => {
                    bad(format!("probes[{n}].{field}"), value)
                }
                other => PlanFileError::Zones {
                    path: path.into(),
                    source: other.into(),
                },
            })?;
        }
        Ok(())
    }

    /// Checks the plan against the loaded series and rebuilds the mask.
    pub fn validate_against(
        &self,
        path: &Path,
        series_uid: &str,
        geometry: &VolumeGeometry,
    ) -> Result<Mask, PlanFileError> {
        if !self.series_uid.is_empty() && self.series_uid != series_uid {
            return Err(PlanFileError::SeriesMismatch {
                path: path.into(),
                in_file: self.series_uid.clone(),
                loaded: series_uid.into(),
            });
        }
        if self.volume_dims != geometry.dims() {
            return Err(PlanFileError::DimsMismatch {
                path: path.into(),
                in_file: self.volume_dims,
                loaded: geometry.dims(),
            });
        }
        let seed = self.segmentation.seed_lps_mm;
        if !geometry.contains_world(&seed.into()) {
            return Err(PlanFileError::SeedOutsideVolume {
                path: path.into(),
                seed,
            });
        }
        for (n, p) in self.probes.iter().enumerate() {
            for (which, point) in [("tip", p.tip_lps_mm), ("entry", p.entry_lps_mm)] {
                if !geometry.contains_world(&point.into()) {
                    return Err(PlanFileError::ProbeOutsideVolume {
                        path: path.into(),
                        probe: n,
                        which,
                        point,
                    });
                }
            }
        }
        self.segmentation
            .mask
            .to_mask(geometry)
            .map_err(|problem| PlanFileError::BadMask {
                path: path.into(),
                problem,
            })
    }

    pub fn load(path: &Path) -> Result<Self, PlanFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data with finite numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Writes atomically: a temporary file in the same folder, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), PlanFileError> {
        write_atomic(path, self.to_json().as_bytes()).map_err(|source| PlanFileError::Write {
            path: path.into(),
            source,
        })
    }
}

/// Writes `bytes` to `path` via a temporary file in the same folder and a rename.
pub use margo_volume::atomic::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_plan() -> PlanFile {
        let g = VolumeGeometry::axis_aligned([20, 20, 10], [1.0; 3], [0.0; 3]).unwrap();
        let mut m = Mask::empty(g.sub_grid([5, 5, 2], [6, 6, 4]).unwrap());
        m.set(2, 3, 1, true);
        m.set(3, 3, 1, true);
        PlanFile {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            series_uid: "1.2.3".into(),
            frame_of_reference_uid: "1.2.4".into(),
            volume_dims: [20, 20, 10],
            segmentation: SavedSegmentation {
                seed_lps_mm: [7.0, 8.0, 3.0],
                params: SegmentParams::default(),
                mask: SavedMask::from_mask(&m, [5, 5, 2]),
            },
            probes: vec![
                ProbeSpec::parse("tip=7,8,3;entry=7,8,9;device=emprint;power=45;time=150").unwrap(),
            ],
            zone_options: ZoneOptions::default(),
            notes: "test".into(),
        }
    }

    #[test]
    fn runs_round_trip() {
        for labels in [vec![], vec![1u8, 1, 0, 1], vec![0, 0, 0], vec![1]] {
            let runs = encode_runs(&labels);
            assert_eq!(decode_runs(&runs, labels.len()).unwrap(), labels);
        }
        assert!(decode_runs(&[1, 2], 4).is_none());
        assert!(decode_runs(&[u64::MAX, 2], 4).is_none());
    }

    #[test]
    fn save_load_round_trip_and_validation() {
        let dir = std::env::temp_dir().join(format!("margo-plan-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plan.json");
        let plan = sample_plan();
        plan.save(&path).unwrap();
        let back = PlanFile::load(&path).unwrap();
        assert_eq!(back, plan);
        let g = VolumeGeometry::axis_aligned([20, 20, 10], [1.0; 3], [0.0; 3]).unwrap();
        let mask = back.validate_against(&path, "1.2.3", &g).unwrap();
        assert_eq!(mask.count(), 2);
        assert!(matches!(
            back.validate_against(&path, "9.9", &g),
            Err(PlanFileError::SeriesMismatch { .. })
        ));
        let mut outside = plan.clone();
        outside.probes[0].entry_lps_mm = [7.0, 8.0, 90.0];
        assert!(matches!(
            outside.validate_against(&path, "1.2.3", &g),
            Err(PlanFileError::ProbeOutsideVolume { which: "entry", .. })
        ));
        // No temporary file left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_are_rejected_with_clear_messages() {
        let p = Path::new("x.json");
        let good = sample_plan().to_json();
        let cases: Vec<(String, &str)> = vec![
            (
                good.replace("\"schema_version\": 1", "\"schema_version\": 7"),
                "schema version 7",
            ),
            (
                good.replace("\"margo-plan\"", "\"other\""),
                "not a margo plan",
            ),
            (
                good.replace("\"device\": \"emprint\"", "\"device\": \"zap-9000\""),
                "unknown device",
            ),
            (
                good.replace("\"power_w\": 45.0", "\"power_w\": 46.0"),
                "no setting",
            ),
            (good.replace("7.0,", "NaN,"), "not valid JSON"),
            (good.replace("7.0,", "1e999,"), "not valid JSON"),
            ("{".into(), "not valid JSON"),
        ];
        for (text, expect) in cases {
            let err = PlanFile::parse(&text, p).unwrap_err().to_string();
            assert!(err.contains(expect), "{err} should mention {expect}");
            assert!(err.contains("x.json"), "{err}");
        }
        let g = VolumeGeometry::axis_aligned([20, 20, 10], [1.0; 3], [0.0; 3]).unwrap();
        let mut bad_mask = sample_plan();
        bad_mask.segmentation.mask.runs.push(3);
        assert!(matches!(
            bad_mask.validate_against(p, "1.2.3", &g),
            Err(PlanFileError::BadMask { .. })
        ));
    }
}
