//! From probes to ablation zones: exact solids in world space (LPS mm).
//!
//! - MWA / RFA / custom: one ellipsoid of revolution per probe, long axis along the shaft, centre
//!   `offset` mm from the tip (negative towards the hub).
//! - Cryo: each probe makes an iceball (0 C isotherm); all cryo probes merge into one union of
//!   iceballs, and the lethal zone is that union eroded by `cryo_lethal_inset_mm` (the lethal
//!   -20..-40 C isotherm lies about 5-10 mm inside the iceball edge: PMC4850244, Littrup JVIR
//!   2009). The single-probe iceball is the phantom's lethal diameter plus twice the inset.
//! - IRE: consecutive IRE probes form electrode pairs; each pair makes one ellipsoid enclosing
//!   both electrodes (width along the pair, height along the shafts, depth across).
//!
//! The tissue scale (lung heuristic 0.8 long / 0.67 short by default) multiplies the long axis
//! and the centre offset by its `long` factor and the short axis by its `short` factor, for MWA
//! and RFA rows measured outside lung only (lung rows, cryo, IRE and custom zones are unscaled).
//!
//! The ablation region used by the metrics is the union of all heat/IRE ellipsoids, or the cryo
//! lethal zone. Mixing cryo with other modalities in one plan is refused.

use margo_volume::nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

use crate::devices::{
    DeviceSetting, Evidence, HEURISTIC_TIP_OVERSHOOT_MM, Modality, TissueScale, find_device,
    ire_electrode_spacing_mm,
};
use crate::ellipsoid::Ellipsoid;
use crate::probe::{ProbeError, ProbeSpec};
use crate::region::ZoneRegion;

/// Default cryo lethal inset (mm inside the iceball edge); the literature gives 5-10 mm. 10 mm is
/// the value for which the phantom data hang together: a 12 mm single-probe lethal zone then
/// means a 32 mm iceball (typical of 2.4 mm probes at 15 min), and two probes 2 cm apart merge
/// into one lethal zone 32 mm wide (phantom: 33 mm). Below ~5.4 mm the model would leave two
/// separate lethal zones 2 cm apart, which the phantom contradicts.
pub const DEFAULT_CRYO_LETHAL_INSET_MM: f64 = 10.0;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ZoneError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("probe {probe}: unknown device {device:?} (see `margo plan --list-devices`)")]
    UnknownDevice { probe: usize, device: String },
    #[error("probe {probe}: device {device} has no setting {wanted}; available: {available}")]
    UnknownSetting {
        probe: usize,
        device: String,
        wanted: String,
        available: String,
    },
    #[error("probe {probe}: custom device needs {missing} (long=MM;short=MM;offset=MM)")]
    CustomIncomplete { probe: usize, missing: &'static str },
    #[error(
        "probe {probe}: custom zone axes must be positive and at most 200 mm, got long {long_mm}, short {short_mm}"
    )]
    CustomOutOfRange {
        probe: usize,
        long_mm: f64,
        short_mm: f64,
    },
    #[error("IRE needs electrodes in pairs of the same device; probe {probe} has no partner")]
    IreUnpaired { probe: usize },
    #[error("a plan cannot mix cryoablation with other modalities (probes {cryo} and {other})")]
    MixedModalities { cryo: usize, other: usize },
    #[error("tissue scale must be finite, > 0 and <= 2, got long {long}, short {short}")]
    InvalidTissueScale { long: f64, short: f64 },
    #[error("cryo lethal inset must be finite and in 0..=15 mm, got {inset_mm}")]
    InvalidInset { inset_mm: f64 },
}

/// What a drawn zone shape stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneRole {
    /// Heat (MWA/RFA/custom) or IRE ablation zone.
    Ablation,
    /// Cryo iceball (0 C isotherm); the lethal zone lies `lethal_inset_mm` inside the union.
    Iceball,
}

/// One drawable zone shape with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneShape {
    /// Indices of the probes that make this shape (two for an IRE pair).
    pub probes: Vec<usize>,
    pub role: ZoneRole,
    pub modality: Modality,
    pub device_id: String,
    pub device_name: String,
    pub setting: String,
    pub ellipsoid: Ellipsoid,
    /// Table axes before the tissue scale (long, short) in mm.
    pub table_axes_mm: [f64; 2],
    /// Scale factors applied (long, short); 1 when the tissue scale does not apply.
    pub applied_scale: [f64; 2],
    pub evidence: Evidence,
    pub source: String,
    pub note: String,
    /// True when the centre offset came from the heuristic, not the source.
    pub offset_is_heuristic: bool,
}

/// All zones of a plan and the region the metrics test against.
#[derive(Debug, Clone)]
pub struct PlannedZones {
    pub shapes: Vec<ZoneShape>,
    /// Inset of the cryo lethal zone inside the iceball union (0 without cryo).
    pub lethal_inset_mm: f64,
    pub region: ZoneRegion,
}

/// Zone-building options that the operator can edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneOptions {
    pub tissue_scale: TissueScale,
    #[serde(default = "default_inset")]
    pub cryo_lethal_inset_mm: f64,
}

fn default_inset() -> f64 {
    DEFAULT_CRYO_LETHAL_INSET_MM
}

impl Default for ZoneOptions {
    fn default() -> Self {
        Self {
            tissue_scale: TissueScale::lung_heuristic(),
            cryo_lethal_inset_mm: DEFAULT_CRYO_LETHAL_INSET_MM,
        }
    }
}

/// The table setting a probe asks for.
pub fn resolve_setting(
    probe_index: usize,
    probe: &ProbeSpec,
) -> Result<(&'static crate::devices::Device, &'static DeviceSetting), ZoneError> {
    let device = find_device(&probe.device).ok_or_else(|| ZoneError::UnknownDevice {
        probe: probe_index,
        device: probe.device.clone(),
    })?;
    let usable: Vec<&DeviceSetting> = device.usable_settings().collect();
    let matches = |want: Option<f64>, have: Option<f64>| match (want, have) {
        (None, _) => true,
        (Some(w), Some(h)) => (w - h).abs() < 1e-6,
        (Some(_), None) => false,
    };
    let candidates: Vec<&&DeviceSetting> = usable
        .iter()
        .filter(|s| matches(probe.power_w, s.power_w) && matches(probe.time_s, s.time_s))
        .collect();
    match candidates.as_slice() {
        [one] => Ok((device, one)),
        _ => Err(ZoneError::UnknownSetting {
            probe: probe_index,
            device: device.id.clone(),
            wanted: format!(
                "power={} time={}",
                probe.power_w.map_or("-".into(), |v| v.to_string()),
                probe.time_s.map_or("-".into(), |v| v.to_string())
            ),
            available: usable
                .iter()
                .map(|s| s.label())
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

/// Builds every zone of a plan.
pub fn build_zones(probes: &[ProbeSpec], options: &ZoneOptions) -> Result<PlannedZones, ZoneError> {
    let scale = &options.tissue_scale;
    if !scale.is_valid() {
        return Err(ZoneError::InvalidTissueScale {
            long: scale.long,
            short: scale.short,
        });
    }
    let inset = options.cryo_lethal_inset_mm;
    if !(inset.is_finite() && (0.0..=15.0).contains(&inset)) {
        return Err(ZoneError::InvalidInset { inset_mm: inset });
    }
    let mut shapes = Vec::new();
    let mut cryo_probe = None;
    let mut other_probe = None;
    let mut pending_ire: Option<(
        usize,
        &'static crate::devices::Device,
        &'static DeviceSetting,
    )> = None;
    for (n, probe) in probes.iter().enumerate() {
        let dir = probe.direction(n)?;
        if probe.device.eq_ignore_ascii_case("custom") {
            other_probe.get_or_insert(n);
            let long = probe.long_mm.ok_or(ZoneError::CustomIncomplete {
                probe: n,
                missing: "long",
            })?;
            let short = probe.short_mm.ok_or(ZoneError::CustomIncomplete {
                probe: n,
                missing: "short",
            })?;
            let offset = probe.offset_mm.ok_or(ZoneError::CustomIncomplete {
                probe: n,
                missing: "offset",
            })?;
            if !(long > 0.0 && short > 0.0 && long <= 200.0 && short <= 200.0) {
                return Err(ZoneError::CustomOutOfRange {
                    probe: n,
                    long_mm: long,
                    short_mm: short,
                });
            }
            let centre = probe.tip() + dir * offset;
            shapes.push(ZoneShape {
                probes: vec![n],
                role: ZoneRole::Ablation,
                modality: Modality::Mwa,
                device_id: "custom".into(),
                device_name: "custom zone (entered by the operator)".into(),
                setting: format!("long {long} mm, short {short} mm, offset {offset} mm"),
                ellipsoid: needle_ellipsoid(centre, dir, long, short),
                table_axes_mm: [long, short],
                applied_scale: [1.0, 1.0],
                evidence: Evidence::UserEntered,
                source: "entered by the operator (the centre's own vendor chart)".into(),
                note: String::new(),
                offset_is_heuristic: false,
            });
            continue;
        }
        let (device, setting) = resolve_setting(n, probe)?;
        match device.modality {
            Modality::Cryo => {
                cryo_probe.get_or_insert(n);
            }
            _ => {
                other_probe.get_or_insert(n);
            }
        }
        if let (Some(c), Some(o)) = (cryo_probe, other_probe) {
            return Err(ZoneError::MixedModalities { cryo: c, other: o });
        }
        let table_long = setting.long_mm.unwrap_or(setting.short_mm);
        let table_short = setting.short_mm;
        let applied = if TissueScale::applies_to(device.modality, &setting.tissue) {
            [scale.long, scale.short]
        } else {
            [1.0, 1.0]
        };
        match device.modality {
            Modality::Mwa | Modality::Rfa | Modality::Cryo => {
                let (mut long, mut short) = (table_long * applied[0], table_short * applied[1]);
                let role = if device.modality == Modality::Cryo {
                    // Iceball = lethal diameter plus the inset on each side.
                    long += 2.0 * inset;
                    short += 2.0 * inset;
                    ZoneRole::Iceball
                } else {
                    ZoneRole::Ablation
                };
                let (offset, heuristic) = match setting.offset_mm {
                    Some(o) => (o * applied[0], false),
                    None => (-(long / 2.0 - HEURISTIC_TIP_OVERSHOOT_MM).max(0.0), true),
                };
                let centre = probe.tip() + dir * offset;
                shapes.push(ZoneShape {
                    probes: vec![n],
                    role,
                    modality: device.modality,
                    device_id: device.id.clone(),
                    device_name: device.name.clone(),
                    setting: setting.label(),
                    ellipsoid: needle_ellipsoid(centre, dir, long, short),
                    table_axes_mm: [table_long, table_short],
                    applied_scale: applied,
                    evidence: setting.evidence,
                    source: setting.source.clone(),
                    note: setting.note.clone(),
                    offset_is_heuristic: heuristic,
                });
            }
            Modality::Ire => match pending_ire.take() {
                None => pending_ire = Some((n, device, setting)),
                Some((first, first_dev, _)) if first_dev.id != device.id => {
                    return Err(ZoneError::IreUnpaired { probe: first });
                }
                Some((first, _, _)) => {
                    let a = &probes[first];
                    let dir_a = a.direction(first)?;
                    // Centre of each 2 cm exposure: 10 mm back from the tip.
                    let ca = a.tip() - dir_a * 10.0;
                    let cb = probe.tip() - dir * 10.0;
                    let shaft = (dir_a + dir).try_normalize(1e-9).unwrap_or(dir);
                    let pair = cb - ca;
                    let width_dir = (pair - shaft * pair.dot(&shaft))
                        .try_normalize(1e-9)
                        .unwrap_or_else(|| crate::ellipsoid::perpendicular_basis(&shaft).0);
                    let depth_dir = shaft.cross(&width_dir);
                    let height = setting.third_mm.unwrap_or(table_long);
                    shapes.push(ZoneShape {
                        probes: vec![first, n],
                        role: ZoneRole::Ablation,
                        modality: Modality::Ire,
                        device_id: device.id.clone(),
                        device_name: device.name.clone(),
                        setting: format!(
                            "electrode pair, {} mm spacing in the source",
                            ire_electrode_spacing_mm(&device.id).unwrap_or(f64::NAN)
                        ),
                        ellipsoid: Ellipsoid {
                            centre_lps_mm: nalgebra_mid(ca, cb).into(),
                            axes_lps: [shaft.into(), width_dir.into(), depth_dir.into()],
                            half_lengths_mm: [height / 2.0, table_long / 2.0, table_short / 2.0],
                        },
                        table_axes_mm: [table_long, table_short],
                        applied_scale: [1.0, 1.0],
                        evidence: setting.evidence,
                        source: setting.source.clone(),
                        note: setting.note.clone(),
                        offset_is_heuristic: false,
                    });
                }
            },
        }
    }
    if let Some((n, _, _)) = pending_ire {
        return Err(ZoneError::IreUnpaired { probe: n });
    }
    let lethal_inset_mm = if cryo_probe.is_some() { inset } else { 0.0 };
    let region = ZoneRegion::new(
        shapes.iter().map(|s| s.ellipsoid).collect(),
        lethal_inset_mm,
    );
    Ok(PlannedZones {
        shapes,
        lethal_inset_mm,
        region,
    })
}

fn nalgebra_mid(a: Point3<f64>, b: Point3<f64>) -> Point3<f64> {
    margo_volume::nalgebra::center(&a, &b)
}

fn needle_ellipsoid(centre: Point3<f64>, dir: Vector3<f64>, long: f64, short: f64) -> Ellipsoid {
    // dir is a unit vector (ProbeSpec::direction), so this cannot fail.
    Ellipsoid::of_revolution(centre, dir, long / 2.0, short / 2.0)
        .unwrap_or_else(|| Ellipsoid::sphere(centre, short / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(device: &str, power: Option<f64>, time: Option<f64>) -> ProbeSpec {
        ProbeSpec {
            tip_lps_mm: [0.0, 0.0, 0.0],
            entry_lps_mm: [0.0, 0.0, 100.0],
            device: device.into(),
            power_w: power,
            time_s: time,
            long_mm: None,
            short_mm: None,
            offset_mm: None,
            needle_length_mm: None,
        }
    }

    #[test]
    fn mwa_zone_sits_along_the_shaft_with_scaled_axes() {
        let z = build_zones(
            &[probe("emprint", Some(100.0), Some(600.0))],
            &ZoneOptions::default(),
        )
        .unwrap();
        let e = z.shapes[0].ellipsoid;
        // Shaft runs from +z (entry) to the tip at the origin: the centre is 13.5 * 0.8 mm back
        // towards the entry, i.e. at +z.
        assert!((e.centre_lps_mm[2] - 13.5 * 0.8).abs() < 1e-9);
        assert!((e.half_lengths_mm[0] - 41.0 * 0.8 / 2.0).abs() < 1e-9);
        assert!((e.half_lengths_mm[1] - 36.0 * 0.67 / 2.0).abs() < 1e-9);
        assert!((e.axis(0).z.abs() - 1.0).abs() < 1e-12);
        // Lung rows are not scaled.
        let l = build_zones(
            &[probe("swine-lung-mwa", Some(100.0), Some(120.0))],
            &ZoneOptions::default(),
        )
        .unwrap();
        assert_eq!(l.shapes[0].applied_scale, [1.0, 1.0]);
        assert!(l.shapes[0].offset_is_heuristic);
        assert!((l.shapes[0].ellipsoid.half_lengths_mm[0] - 13.8).abs() < 1e-9);
    }

    #[test]
    fn bad_devices_and_settings_are_refused_clearly() {
        let o = ZoneOptions::default();
        assert!(matches!(
            build_zones(&[probe("nope", None, None)], &o),
            Err(ZoneError::UnknownDevice { .. })
        ));
        let err = build_zones(&[probe("emprint", Some(100.0), Some(61.0))], &o).unwrap_err();
        assert!(err.to_string().contains("100 W, 600 s"), "{err}");
        assert!(matches!(
            build_zones(&[probe("custom", None, None)], &o),
            Err(ZoneError::CustomIncomplete { .. })
        ));
        assert!(matches!(
            build_zones(&[probe("ire-1.5cm", None, None)], &o),
            Err(ZoneError::IreUnpaired { .. })
        ));
        assert!(matches!(
            build_zones(
                &[
                    probe("cryo-2.4mm", None, None),
                    probe("cool-tip", None, None)
                ],
                &o
            ),
            Err(ZoneError::MixedModalities { .. })
        ));
    }

    #[test]
    fn two_cryo_probes_merge_and_match_phantom_lethal_width() {
        let mut a = probe("cryo-2.4mm", None, None);
        let mut b = a.clone();
        a.tip_lps_mm = [-10.0, 0.0, 0.0];
        a.entry_lps_mm = [-10.0, 0.0, 100.0];
        b.tip_lps_mm = [10.0, 0.0, 0.0];
        b.entry_lps_mm = [10.0, 0.0, 100.0];
        let z = build_zones(&[a, b], &ZoneOptions::default()).unwrap();
        assert_eq!(z.lethal_inset_mm, 10.0);
        assert!(z.region.erosion_is_exact());
        let c = z.shapes[0].ellipsoid.centre_lps_mm[2];
        // One merged lethal zone: the point between the probes is inside.
        assert!(z.region.depth_mm(&Point3::new(0.0, 0.0, c)) > 0.0);
        // Lethal width across the pair, scanning inwards from outside.
        let mut x = 30.0;
        while z.region.depth_mm(&Point3::new(x, 0.0, c)) < 0.0 {
            x -= 0.01;
        }
        let width = 2.0 * x;
        // Phantom (Littrup 2009): 33 mm for two probes. The eroded-union model gives 32 mm.
        assert!((width - 32.0).abs() < 0.05, "{width}");
        assert!((width - 33.0).abs() / 33.0 < 0.05);
        // A single probe gives the table's 12 mm lethal diameter.
        let one = build_zones(&[probe("cryo-2.4mm", None, None)], &ZoneOptions::default()).unwrap();
        let c1 = one.shapes[0].ellipsoid.centre();
        assert!((one.region.depth_mm(&c1) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn ire_pair_encloses_both_electrodes() {
        let mut a = probe("ire-1.5cm", None, None);
        let mut b = a.clone();
        a.tip_lps_mm = [-7.5, 0.0, 0.0];
        a.entry_lps_mm = [-7.5, 0.0, 100.0];
        b.tip_lps_mm = [7.5, 0.0, 0.0];
        b.entry_lps_mm = [7.5, 0.0, 100.0];
        let z = build_zones(&[a, b], &ZoneOptions::default()).unwrap();
        assert_eq!(z.shapes.len(), 1);
        let e = z.shapes[0].ellipsoid;
        assert_eq!(e.half_lengths_mm, [15.0, 15.0, 8.5]);
        assert!(
            (e.axis(1).x.abs() - 1.0).abs() < 1e-12,
            "width along the pair"
        );
        for x in [-7.5, 7.5] {
            assert!(e.contains(&Point3::new(x, 0.0, 10.0)));
        }
    }
}
