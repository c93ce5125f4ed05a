//! Trajectory and selection checks. Each finding carries its measured value, the rule and the
//! rule's source.
//!
//! Tissue is classified from HU only (no organ segmentation), with these thresholds:
//! - bone: >= 450 HU (above contrast-filled vessels, below rib cortex), runs >= 1 mm;
//! - aerated lung along the path: < -500 HU inside the lung mask;
//! - lung mask: < -400 HU and not connected to the border of its axial slice (air outside the
//!   body), closed with a 12 mm ball and holes filled per slice (as in segmentation), so
//!   vessels and nodules inside the lung belong to it;
//! - vessels (heat sinks): >= -200 HU inside the lung mask, outside the tumour grown by 2 mm; the
//!   diameter is `2 * (distance from the voxel centre to the nearest non-vessel centre) - spacing`;
//! - mediastinum / heart / hilum / spine: per axial slice and row, the non-air (>= -400 HU) voxels
//!   between the right lung's medial edge and the left lung's medial edge, where lungs are the
//!   slice's air components not touching the image border. A heuristic, not an organ map.

use margo_volume::nalgebra::Point3;
use margo_volume::{Volume, VolumeGeometry};
use serde::Serialize;

use crate::devices::{DEFAULT_NEEDLE_LENGTH_MM, Modality};
use crate::grid;
use crate::metrics::{MARGIN_RULE_MM, MARGIN_RULE_SOURCE, MarginMetrics};
use crate::probe::ProbeSpec;
use crate::segment::{Crop, NoduleStats, lung_mask};
use crate::zones::PlannedZones;

pub const BONE_MIN_HU: f64 = 450.0;
pub const AERATED_LUNG_MAX_HU: f64 = -500.0;
pub const LUNG_MASK_MAX_HU: f64 = -400.0;
pub const LUNG_MASK_CLOSING_MM: f64 = 12.0;
pub const VESSEL_MIN_HU: f64 = -200.0;
pub const HEAT_SINK_DIAMETER_MM: f64 = 3.0;
pub const AERATED_LUNG_WARN_MM: f64 = 26.0;
pub const CRITICAL_DISTANCE_MM: f64 = 5.0;
pub const TUMOUR_SIZE_WARN_MM: f64 = 30.0;
/// Sampling step along the needle path (mm).
const PATH_STEP_MM: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable id, e.g. `bone_on_path`, `aerated_lung_length`.
    pub kind: String,
    pub severity: Severity,
    /// The measured value (unit in `unit`), if the check measures one.
    pub value: Option<f64>,
    pub unit: String,
    pub message: String,
    pub rule: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_lps_mm: Option<[f64; 3]>,
}

struct PathSample {
    point: Point3<f64>,
    hu: f64,
    in_lung: bool,
}

/// Runs every check. `metrics` adds the margin verdict when given.
pub fn check_plan(
    volume: &Volume<i16>,
    probes: &[ProbeSpec],
    zones: &PlannedZones,
    nodule: &NoduleStats,
    tumour_mask: Option<&margo_volume::Mask>,
    metrics: Option<&MarginMetrics>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if nodule.max_diameter_mm > TUMOUR_SIZE_WARN_MM {
        out.push(Finding {
            kind: "tumour_size".into(),
            severity: Severity::Warning,
            value: Some(nodule.max_diameter_mm),
            unit: "mm".into(),
            message: format!(
                "tumour longest diameter {:.1} mm > {TUMOUR_SIZE_WARN_MM} mm: ablation works best below 2-3 cm",
                nodule.max_diameter_mm
            ),
            rule: "warn above 30 mm".into(),
            source: "clinical reference: best results below 2-3 cm; trials admit up to 3-3.5 cm".into(),
            probe: None,
            location_lps_mm: Some(nodule.centroid_lps_mm),
        });
    }
    if let Some(m) = metrics {
        out.push(Finding {
            kind: "minimal_margin".into(),
            severity: if m.verdict.meets_rule {
                Severity::Info
            } else {
                Severity::Warning
            },
            value: m.min_margin_mm.is_finite().then_some(m.min_margin_mm),
            unit: "mm".into(),
            message: m.verdict.reasons.join("; "),
            rule: format!("minimal ablative margin >= {MARGIN_RULE_MM} mm everywhere"),
            source: MARGIN_RULE_SOURCE.into(),
            probe: None,
            location_lps_mm: m
                .weakest_point_lps_mm
                .iter()
                .all(|v| v.is_finite())
                .then_some(m.weakest_point_lps_mm),
        });
    }
    for shape in &zones.shapes {
        if shape.modality == Modality::Ire {
            out.push(Finding {
                kind: "ire_in_lung".into(),
                severity: Severity::Warning,
                value: None,
                unit: String::new(),
                message: "IRE in lung is research / teaching only: poor results, ALICE trial stopped early".into(),
                rule: "IRE is not an established lung ablation".into(),
                source: "clinical reference (ALICE trial)".into(),
                probe: shape.probes.first().copied(),
                location_lps_mm: None,
            });
        }
    }
    for (n, probe) in probes.iter().enumerate() {
        let limit = probe.needle_length_mm.unwrap_or(DEFAULT_NEEDLE_LENGTH_MM);
        let len = probe.length_mm();
        if len > limit {
            out.push(Finding {
                kind: "needle_too_short".into(),
                severity: Severity::Blocked,
                value: Some(len),
                unit: "mm".into(),
                message: format!("path entry->tip is {len:.0} mm, longer than the device's usable {limit:.0} mm"),
                rule: "path length <= usable needle length".into(),
                source: if probe.needle_length_mm.is_some() {
                    "needle length entered for this probe".into()
                } else {
                    format!("default usable length {DEFAULT_NEEDLE_LENGTH_MM} mm (not vendor data; set length=MM)")
                },
                probe: Some(n),
                location_lps_mm: Some(probe.entry_lps_mm),
            });
        }
        out.extend(path_findings(volume, probe, n, zones));
    }
    out.extend(neighbourhood_findings(volume, zones, tumour_mask));
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn sample_path(volume: &Volume<i16>, probe: &ProbeSpec) -> Vec<PathSample> {
    let entry = probe.entry();
    let tip = probe.tip();
    let len = (tip - entry).norm();
    let steps = ((len / PATH_STEP_MM).ceil() as usize).max(1);
    let g = volume.geometry();
    // Lung mask on a crop around the path.
    let centre = margo_volume::nalgebra::center(&entry, &tip);
    let crop = Crop::around(
        g,
        &g.world_from_index(&clamp_index(g, &g.index_from_world(&centre))),
        len / 2.0 + LUNG_MASK_CLOSING_MM + 2.0,
    );
    let lung = crop.and_then(|c| {
        let cg = c.geometry(g).ok()?;
        let m = lung_mask(volume, &c, LUNG_MASK_MAX_HU, LUNG_MASK_CLOSING_MM);
        Some((cg, m))
    });
    (0..=steps)
        .map(|s| {
            let p = entry + (tip - entry) * (s as f64 / steps as f64);
            let hu = volume.sample_linear_world(&p).map_or(-1000.0, |v| v as f64);
            let in_lung = lung.as_ref().is_some_and(|(cg, m)| {
                cg.rounded_index_from_world(&p)
                    .is_some_and(|v| m[v[0] + cg.dims()[0] * (v[1] + cg.dims()[1] * v[2])])
            });
            PathSample {
                point: p,
                hu,
                in_lung,
            }
        })
        .collect()
}

fn clamp_index(g: &VolumeGeometry, i: &Point3<f64>) -> Point3<f64> {
    let d = g.dims();
    Point3::new(
        i[0].clamp(0.0, d[0] as f64 - 1.0),
        i[1].clamp(0.0, d[1] as f64 - 1.0),
        i[2].clamp(0.0, d[2] as f64 - 1.0),
    )
}

fn path_findings(
    volume: &Volume<i16>,
    probe: &ProbeSpec,
    n: usize,
    zones: &PlannedZones,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if probe.length_mm() == 0.0 {
        return out;
    }
    let samples = sample_path(volume, probe);
    let step = probe.length_mm() / (samples.len().max(2) - 1) as f64;
    // Bone: runs of >= 1 mm at or above BONE_MIN_HU.
    let mut bone_len = 0.0;
    let mut run = 0.0;
    let mut first_bone = None;
    for s in &samples {
        if s.hu >= BONE_MIN_HU {
            run += step;
            if run >= 1.0 {
                first_bone.get_or_insert(s.point);
            }
        } else {
            if run >= 1.0 {
                bone_len += run;
            }
            run = 0.0;
        }
    }
    if run >= 1.0 {
        bone_len += run;
    }
    if let Some(p) = first_bone {
        out.push(Finding {
            kind: "bone_on_path".into(),
            severity: Severity::Blocked,
            value: Some(bone_len),
            unit: "mm".into(),
            message: format!("the path crosses {bone_len:.1} mm of bone (>= {BONE_MIN_HU} HU): rib, scapula or spine in the way"),
            rule: "no bone on the needle path".into(),
            source: "percutaneous access cannot pass bone; HU threshold documented in margo-plan findings".into(),
            probe: Some(n),
            location_lps_mm: Some(p.into()),
        });
    }
    // Aerated lung length and pleural punctures.
    let lung_len: f64 = samples
        .iter()
        .filter(|s| s.in_lung && s.hu < AERATED_LUNG_MAX_HU)
        .count() as f64
        * step;
    out.push(Finding {
        kind: "aerated_lung_length".into(),
        severity: if lung_len >= AERATED_LUNG_WARN_MM {
            Severity::Warning
        } else {
            Severity::Info
        },
        value: Some(lung_len),
        unit: "mm".into(),
        message: format!(
            "{lung_len:.1} mm of aerated lung (< {AERATED_LUNG_MAX_HU} HU) on the path"
        ),
        rule: format!(
            "pneumothorax risk rises with >= {AERATED_LUNG_WARN_MM} mm of aerated lung crossed"
        ),
        source: "Nour-Eldin AJR 2009 (>= 2.6 cm); Gillams Clin Radiol 2007 (5.4 vs 1.9 cm)".into(),
        probe: Some(n),
        location_lps_mm: None,
    });
    let mut punctures = Vec::new();
    for w in samples.windows(2) {
        if !w[0].in_lung && w[1].in_lung {
            punctures.push(w[1].point);
        }
    }
    out.push(Finding {
        kind: "pleural_punctures".into(),
        severity: if punctures.len() > 1 {
            Severity::Warning
        } else {
            Severity::Info
        },
        value: Some(punctures.len() as f64),
        unit: "count".into(),
        message: format!(
            "{} pleural puncture(s) (entries into the lung mask) on the path",
            punctures.len()
        ),
        rule: "each pleural puncture adds pneumothorax risk; prefer one".into(),
        source: "clinical reference (pneumothorax risk factors)".into(),
        probe: Some(n),
        location_lps_mm: punctures.first().map(|p| (*p).into()),
    });
    if let Some(p) = punctures.first() {
        let depth = zones.region.depth_mm(p);
        if depth >= 0.0 {
            out.push(Finding {
                kind: "zone_reaches_pleura".into(),
                severity: Severity::Warning,
                value: Some(depth),
                unit: "mm".into(),
                message: format!("the ablation zone includes the pleural puncture point ({depth:.1} mm inside)"),
                rule: "keep the pleural puncture point outside the ablation zone".into(),
                source: "zone including the pleural puncture: pneumothorax OR 7.7 (swine; clinical reference)".into(),
                probe: Some(n),
                location_lps_mm: Some((*p).into()),
            });
        }
    }
    out
}

fn neighbourhood_findings(
    volume: &Volume<i16>,
    zones: &PlannedZones,
    tumour: Option<&margo_volume::Mask>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some((lo, hi)) = zones.region.bounds() else {
        return out;
    };
    let g = volume.geometry();
    let centre = margo_volume::nalgebra::center(&lo, &hi);
    let half = (hi - lo).max() / 2.0;
    let Some(crop) = Crop::around(
        g,
        &g.world_from_index(&clamp_index(g, &g.index_from_world(&centre))),
        half + CRITICAL_DISTANCE_MM + LUNG_MASK_CLOSING_MM,
    ) else {
        return out;
    };
    let Ok(cg) = crop.geometry(g) else { return out };
    let dims = crop.dims;
    let sp: [f64; 3] = cg.spacing_mm().into();
    let hu = crop.extract(volume);
    let lung = lung_mask(volume, &crop, LUNG_MASK_MAX_HU, LUNG_MASK_CLOSING_MM);
    // Tumour (grown by 2 mm) on the crop.
    let n = hu.len();
    let mut tumour_here = vec![false; n];
    if let Some(t) = tumour {
        for (i, j, k) in t.iter_set() {
            let p = t.geometry().world_from_ijk([i, j, k]);
            if let Some(v) = cg.rounded_index_from_world(&p) {
                tumour_here[v[0] + dims[0] * (v[1] + dims[1] * v[2])] = true;
            }
        }
    }
    let tumour_grown = grid::dilate(dims, sp, &tumour_here, 2.0);
    let vessel: Vec<bool> = (0..n)
        .map(|i| lung[i] && hu[i] as f64 >= VESSEL_MIN_HU && !tumour_grown[i])
        .collect();
    let not_vessel: Vec<bool> = vessel.iter().map(|v| !v).collect();
    let d2 = grid::squared_edt_mm2(dims, sp, &not_vessel);
    let min_sp = sp[0].min(sp[1]).min(sp[2]);
    let mut worst: Option<(f64, Point3<f64>, f64)> = None;
    for idx in 0..n {
        if !vessel[idx] || !d2[idx].is_finite() {
            continue;
        }
        let diameter = 2.0 * d2[idx].sqrt() - min_sp;
        if diameter < HEAT_SINK_DIAMETER_MM {
            continue;
        }
        let (i, j, k) = (
            idx % dims[0],
            (idx / dims[0]) % dims[1],
            idx / (dims[0] * dims[1]),
        );
        let p = cg.world_from_ijk([i, j, k]);
        // Touching: the vessel wall (radius from the centre) reaches the zone.
        let depth = zones.region.depth_mm(&p) + diameter / 2.0;
        if depth >= 0.0 && worst.is_none_or(|(d, _, _)| diameter > d) {
            worst = Some((diameter, p, depth));
        }
    }
    if let Some((d, p, _)) = worst {
        out.push(Finding {
            kind: "heat_sink_vessel".into(),
            severity: Severity::Warning,
            value: Some(d),
            unit: "mm".into(),
            message: format!("a vessel or soft-tissue tube of about {d:.1} mm diameter touches or enters the zone: heat sink may shrink the zone"),
            rule: format!("flag vessels >= {HEAT_SINK_DIAMETER_MM} mm touching or inside the zone"),
            source: "clinical reference (heat sink: vessels and bronchi above ~3 mm)".into(),
            probe: None,
            location_lps_mm: Some(p.into()),
        });
    }
    if let Some((dist, p)) = mediastinum_distance(volume, zones, &lo, &hi) {
        let sev = if dist < CRITICAL_DISTANCE_MM {
            Severity::Warning
        } else {
            Severity::Info
        };
        out.push(Finding {
            kind: "mediastinum_distance".into(),
            severity: sev,
            value: Some(dist),
            unit: "mm".into(),
            message: if dist <= 0.0 {
                "the zone reaches the mediastinum / heart / hilum (HU heuristic)".into()
            } else {
                format!("zone is {dist:.1} mm from the mediastinum / heart / hilum (HU heuristic)")
            },
            rule: format!("keep >= {CRITICAL_DISTANCE_MM} mm from critical structures"),
            source: "SOLSTICE trial (>= 5 mm from critical structures); clinical reference".into(),
            probe: None,
            location_lps_mm: Some(p.into()),
        });
    }
    out
}

/// Smallest distance (mm, 0 when touching or inside) from the zone to mediastinal voxels within
/// 5 mm of its bounds, on the axial slices it spans.
fn mediastinum_distance(
    volume: &Volume<i16>,
    zones: &PlannedZones,
    lo: &Point3<f64>,
    hi: &Point3<f64>,
) -> Option<(f64, Point3<f64>)> {
    let g = volume.geometry();
    let [nx, ny, nz] = g.dims();
    let pad = CRITICAL_DISTANCE_MM;
    let k_range = {
        let a = g.index_from_world(&(lo - margo_volume::nalgebra::Vector3::repeat(pad)));
        let b = g.index_from_world(&(hi + margo_volume::nalgebra::Vector3::repeat(pad)));
        let k0 = a[2].min(b[2]).floor().max(0.0) as usize;
        let k1 = (a[2].max(b[2]).ceil().max(0.0) as usize).min(nz - 1);
        k0..=k1
    };
    let mut best: Option<(f64, Point3<f64>)> = None;
    for k in k_range {
        let slice = volume.slice(k)?;
        let air: Vec<bool> = slice
            .iter()
            .map(|&v| (v as f64) < LUNG_MASK_MAX_HU)
            .collect();
        // Air not connected to the border = lungs (and airways).
        let solid: Vec<bool> = air.iter().map(|a| !a).collect();
        let filled = grid::fill_holes_3d([nx, ny, 1], &solid);
        let lung: Vec<bool> = air.iter().zip(&filled).map(|(&a, &f)| a && f).collect();
        // Body midline: mean world x of the lung voxels' extremes.
        let xs: Vec<f64> = (0..nx * ny)
            .filter(|&i| lung[i])
            .map(|i| g.world_from_ijk([i % nx, i / nx, k]).x)
            .collect();
        if xs.len() < 100 {
            continue;
        }
        let (xmin, xmax) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let mid = 0.5 * (xmin + xmax);
        for j in 0..ny {
            let mut right_edge = f64::NEG_INFINITY; // patient right = -x
            let mut left_edge = f64::INFINITY;
            for i in 0..nx {
                if lung[i + nx * j] {
                    let x = g.world_from_ijk([i, j, k]).x;
                    if x < mid {
                        right_edge = right_edge.max(x);
                    } else {
                        left_edge = left_edge.min(x);
                    }
                }
            }
            if !(right_edge.is_finite() && left_edge.is_finite()) {
                continue;
            }
            for i in 0..nx {
                let p = g.world_from_ijk([i, j, k]);
                if p.x <= right_edge || p.x >= left_edge || air[i + nx * j] {
                    continue;
                }
                if (0..3).any(|a| p[a] < lo[a] - pad || p[a] > hi[a] + pad) {
                    continue;
                }
                let dist = (-zones.region.depth_mm(&p)).max(0.0);
                if best.is_none_or(|(b, _)| dist < b) {
                    best = Some((dist, p));
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zones::{ZoneOptions, build_zones};
    use margo_volume::VolumeGeometry;

    /// A schematic chest at 1 mm: two lungs (-850 HU) either side of a mediastinum (+40),
    /// chest wall (+40) with a rib (+900) at x 64..68, |y| <= 4, air outside; a vessel of 5 mm
    /// diameter along z at (44, 0); nodule at (30, 0, 0), radius 6.
    fn chest() -> Volume<i16> {
        let g =
            VolumeGeometry::axis_aligned([161, 91, 41], [1.0; 3], [-80.0, -45.0, -20.0]).unwrap();
        let gg = g.clone();
        Volume::from_fn(g, move |i, j, k| {
            let p = gg.world_from_ijk([i, j, k]);
            let (ax, ay) = (p.x.abs(), p.y.abs());
            if ax > 75.0 || ay > 38.0 {
                return -1000;
            }
            if (64.0..=68.0).contains(&p.x) && ay <= 4.0 {
                return 900;
            }
            if ax > 60.0 || ay > 30.0 || ax <= 10.0 {
                return 40;
            }
            if (p - Point3::new(30.0, 0.0, 0.0)).norm() <= 6.0 {
                return 40;
            }
            if ((p.x - 44.0).powi(2) + p.y.powi(2)).sqrt() <= 2.5 {
                return 40;
            }
            -850
        })
    }

    fn custom(entry: [f64; 3], size: f64, length: Option<f64>) -> ProbeSpec {
        let mut p = ProbeSpec::parse(&format!(
            "tip=30,0,0;entry={},{},{};device=custom;long={size};short={size};offset=0",
            entry[0], entry[1], entry[2]
        ))
        .unwrap();
        p.needle_length_mm = length;
        p
    }

    fn nodule(d: f64) -> NoduleStats {
        NoduleStats {
            volume_ml: 0.9,
            outline_volume_ml: 0.9,
            max_diameter_mm: d,
            max_axial_diameter_mm: d,
            equivalent_diameter_mm: d,
            centroid_lps_mm: [30.0, 0.0, 0.0],
            bbox_min_lps_mm: [24.0, -6.0, -6.0],
            bbox_max_lps_mm: [36.0, 6.0, 6.0],
            voxel_count: 900,
        }
    }

    fn find<'a>(f: &'a [Finding], kind: &str) -> Option<&'a Finding> {
        f.iter().find(|x| x.kind == kind)
    }

    #[test]
    fn rib_on_the_path_blocks_and_needle_length_is_checked() {
        let v = chest();
        let probes = [custom([74.0, 0.0, 0.0], 20.0, Some(40.0))];
        let zones = build_zones(&probes, &ZoneOptions::default()).unwrap();
        let f = check_plan(&v, &probes, &zones, &nodule(12.0), None, None);
        let bone = find(&f, "bone_on_path").expect("rib crossed");
        assert_eq!(bone.severity, Severity::Blocked);
        assert!((bone.value.unwrap() - 5.0).abs() < 1.0, "{:?}", bone.value);
        let len = find(&f, "needle_too_short").expect("44 mm path, 40 mm needle");
        assert!((len.value.unwrap() - 44.0).abs() < 1e-9);
        assert_eq!(f[0].severity, Severity::Blocked, "sorted by severity");
        assert!(find(&f, "tumour_size").is_none());
    }

    #[test]
    fn lung_length_punctures_heat_sink_and_mediastinum() {
        let v = chest();
        let probes = [custom([74.0, 20.0, 0.0], 32.0, None)];
        let zones = build_zones(&probes, &ZoneOptions::default()).unwrap();
        let tumour = margo_volume::Mask::from_fn(v.geometry().clone(), |i, j, k| {
            (v.geometry().world_from_ijk([i, j, k]) - Point3::new(30.0, 0.0, 0.0)).norm() <= 6.0
        });
        let f = check_plan(&v, &probes, &zones, &nodule(35.0), Some(&tumour), None);
        assert!(find(&f, "bone_on_path").is_none(), "{f:#?}");
        // Aerated lung from the pleura (x = 60) to the nodule surface (x ~ 36), along a path
        // with dx/len = 44/48.3.
        let lung = find(&f, "aerated_lung_length").unwrap();
        let expected = (60.0 - 36.0) * (44.0f64.hypot(20.0) / 44.0);
        assert!(
            (lung.value.unwrap() - expected).abs() < 1.5,
            "{:?} vs {expected}",
            lung.value
        );
        assert_eq!(lung.severity, Severity::Warning);
        let pl = find(&f, "pleural_punctures").unwrap();
        assert_eq!(pl.value, Some(1.0));
        let px = pl.location_lps_mm.unwrap()[0];
        assert!((px - 60.0).abs() < 1.0, "{px}");
        assert!(find(&f, "zone_reaches_pleura").is_none());
        let hs = find(&f, "heat_sink_vessel").expect("5 mm vessel inside the zone");
        assert!((hs.value.unwrap() - 5.0).abs() < 1.5, "{:?}", hs.value);
        let med = find(&f, "mediastinum_distance").unwrap();
        // Zone radius 16 around x = 30; mediastinum edge at x = 10: 4 mm.
        assert!((med.value.unwrap() - 4.0).abs() < 1.0, "{:?}", med.value);
        assert_eq!(med.severity, Severity::Warning);
        assert_eq!(find(&f, "tumour_size").unwrap().severity, Severity::Warning);
    }

    #[test]
    fn zone_reaching_the_puncture_point_warns() {
        let v = chest();
        let probes = [custom([74.0, 20.0, 0.0], 70.0, None)];
        let zones = build_zones(&probes, &ZoneOptions::default()).unwrap();
        let f = check_plan(&v, &probes, &zones, &nodule(12.0), None, None);
        let z = find(&f, "zone_reaches_pleura").expect("35 mm zone radius reaches x = 60");
        assert!(z.value.unwrap() > 0.0);
        assert_eq!(find(&f, "mediastinum_distance").unwrap().value, Some(0.0));
    }
}
