//! Ablation devices and their zone tables, as data with a source and an evidence level per row.
//!
//! The table is `data/ablation-zones.csv` (compiled in). It was transcribed from the project's
//! clinical reference (`shared/reference/ablation-zones.csv` and `clinical-rules.md`):
//! - MWA vendor rows (Covidien/Emprint-like, Amica, Acculis): vendor brochures, **ex vivo normal
//!   liver**; long x short axis and centre offset from the tip (negative = towards the hub).
//! - MWA lung rows: **in vivo swine lung** (Acta Med Okayama 2022;76:57; PMC11324231).
//! - RFA rows: **ex vivo bovine liver** zone volumes for 3 cm targets (PMC4463338), drawn as the
//!   sphere of that volume (diameter computed, stated in the row's note).
//! - Cryo rows: lethal (-30 C) diameters in an agar **phantom** at 15 min, 2.4 mm probes 2 cm
//!   apart (Littrup JVIR 2009). Only the single-probe row makes zones; the 2-4 probe rows are kept
//!   as reference values for the merged-zone model (see `zones`).
//! - IRE rows: **in vivo swine liver** (Ben-David AJR 2012). Research / teaching only in lung.
//!
//! None of these numbers is a guarantee of the zone a device makes in a patient's lung.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const TABLE_CSV: &str = include_str!("../data/ablation-zones.csv");

/// Where a zone number comes from, weakest to strongest for lung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Evidence {
    VendorExVivoLiver,
    ExVivoAnimalLiver,
    InVivoAnimalLiver,
    InVivoAnimalLung,
    Phantom,
    Clinical,
    /// Entered by the operator (custom device).
    UserEntered,
}

impl Evidence {
    pub fn label(self) -> &'static str {
        match self {
            Evidence::VendorExVivoLiver => "vendor data, ex vivo liver",
            Evidence::ExVivoAnimalLiver => "ex vivo animal liver",
            Evidence::InVivoAnimalLiver => "in vivo animal liver",
            Evidence::InVivoAnimalLung => "in vivo animal lung",
            Evidence::Phantom => "phantom",
            Evidence::Clinical => "clinical",
            Evidence::UserEntered => "entered by the operator",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "vendor-ex-vivo-liver" => Evidence::VendorExVivoLiver,
            "ex-vivo-animal-liver" => Evidence::ExVivoAnimalLiver,
            "in-vivo-animal-liver" => Evidence::InVivoAnimalLiver,
            "in-vivo-animal-lung" => Evidence::InVivoAnimalLung,
            "phantom" => Evidence::Phantom,
            "clinical" => Evidence::Clinical,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Mwa,
    Rfa,
    Cryo,
    Ire,
}

impl Modality {
    pub fn label(self) -> &'static str {
        match self {
            Modality::Mwa => "MWA",
            Modality::Rfa => "RFA",
            Modality::Cryo => "cryo",
            Modality::Ire => "IRE",
        }
    }
}

/// One row of the zone table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSetting {
    /// Number of probes the row describes (cryo reference rows have 2-4).
    pub probes: u32,
    pub power_w: Option<f64>,
    pub time_s: Option<f64>,
    /// Zone length along the shaft (IRE: width along the electrode pair).
    pub long_mm: Option<f64>,
    /// Zone diameter across the shaft (IRE: depth).
    pub short_mm: f64,
    /// IRE only: height along the shafts.
    pub third_mm: Option<f64>,
    /// Centre of the zone from the tip along the shaft, negative towards the hub. `None` when
    /// the source gives none (then [`HEURISTIC_TIP_OVERSHOOT_MM`] places it).
    pub offset_mm: Option<f64>,
    pub tissue: String,
    pub evidence: Evidence,
    pub note: String,
    pub source: String,
}

impl DeviceSetting {
    /// "100 W, 240 s" style label.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if self.probes > 1 {
            parts.push(format!("{} probes", self.probes));
        }
        if let Some(p) = self.power_w {
            parts.push(format!("{p} W"));
        }
        if let Some(t) = self.time_s {
            parts.push(format!("{t} s"));
        }
        if parts.is_empty() {
            "single setting".into()
        } else {
            parts.join(", ")
        }
    }
}

/// When a source gives no centre offset, the zone is placed so that its distal pole lies this far
/// beyond the tip (centre `max(0, long/2 - 5)` mm back from the tip). A heuristic, not data.
pub const HEURISTIC_TIP_OVERSHOOT_MM: f64 = 5.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Short name used on the command line and in plan files (`emprint`, `cool-tip`, ...).
    pub id: String,
    pub name: String,
    pub modality: Modality,
    pub settings: Vec<DeviceSetting>,
}

impl Device {
    /// Settings that describe a single-probe zone with both axes (those a probe can use).
    pub fn usable_settings(&self) -> impl Iterator<Item = &DeviceSetting> {
        self.settings
            .iter()
            .filter(|s| s.probes == 1 && s.long_mm.is_some())
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum DeviceTableError {
    #[error("zone table line {line}: {message}")]
    ParseRow { line: usize, message: String },
}

/// The compiled-in device table.
pub fn catalog() -> &'static [Device] {
    static CATALOG: OnceLock<Vec<Device>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // The table is compiled in and covered by a test, so a parse error is a build defect;
        // still, never panic: an unparsable table yields no devices.
        parse_table(TABLE_CSV).unwrap_or_default()
    })
}

pub fn find_device(id: &str) -> Option<&'static Device> {
    catalog().iter().find(|d| d.id.eq_ignore_ascii_case(id))
}

/// Parses the zone table (a plain CSV with double-quoted fields).
pub fn parse_table(text: &str) -> Result<Vec<Device>, DeviceTableError> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| split_csv(l))
        .ok_or(DeviceTableError::ParseRow {
            line: 1,
            message: "empty table".into(),
        })?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let need = |name: &str| {
        col(name).ok_or(DeviceTableError::ParseRow {
            line: 1,
            message: format!("missing column {name}"),
        })
    };
    let c_id = need("device_id")?;
    let c_dev = need("device")?;
    let c_mod = need("modality")?;
    let c_tis = need("tissue")?;
    let c_ev = need("evidence")?;
    let c_pr = need("probes")?;
    let c_pw = need("power_w")?;
    let c_t = need("time_s")?;
    let c_l = need("long_mm")?;
    let c_s = need("short_mm")?;
    let c_3 = need("third_mm")?;
    let c_o = need("offset_mm")?;
    let c_n = need("note")?;
    let c_src = need("source")?;
    let mut devices: Vec<Device> = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = n + 1;
        let f = split_csv(line);
        let err = |message: String| DeviceTableError::ParseRow {
            line: line_no,
            message,
        };
        if f.len() != header.len() {
            return Err(err(format!(
                "{} fields, header has {}",
                f.len(),
                header.len()
            )));
        }
        let num = |c: usize| -> Result<Option<f64>, DeviceTableError> {
            let s = f[c].trim();
            if s.is_empty() {
                return Ok(None);
            }
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(err(format!("column {} is not a number: {s:?}", header[c]))),
            }
        };
        let modality = match f[c_mod].as_str() {
            "mwa" => Modality::Mwa,
            "rfa" => Modality::Rfa,
            "cryo" => Modality::Cryo,
            "ire" => Modality::Ire,
            other => return Err(err(format!("unknown modality {other:?}"))),
        };
        let evidence = Evidence::parse(&f[c_ev])
            .ok_or_else(|| err(format!("unknown evidence {:?}", f[c_ev])))?;
        let short_mm = num(c_s)?.ok_or_else(|| err("short_mm is required".into()))?;
        let setting = DeviceSetting {
            probes: f[c_pr]
                .parse()
                .map_err(|_| err(format!("probes is not an integer: {:?}", f[c_pr])))?,
            power_w: num(c_pw)?,
            time_s: num(c_t)?,
            long_mm: num(c_l)?,
            short_mm,
            third_mm: num(c_3)?,
            offset_mm: num(c_o)?,
            tissue: f[c_tis].clone(),
            evidence,
            note: f[c_n].clone(),
            source: f[c_src].clone(),
        };
        if f[c_src].trim().is_empty() {
            return Err(err("every row needs a source".into()));
        }
        match devices.iter_mut().find(|d| d.id == f[c_id]) {
            Some(d) => d.settings.push(setting),
            None => devices.push(Device {
                id: f[c_id].clone(),
                name: f[c_dev].clone(),
                modality,
                settings: vec![setting],
            }),
        }
    }
    Ok(devices)
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Scale applied to zone axes taken from non-lung tables (liver, agar) when planning in lung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TissueScale {
    pub long: f64,
    pub short: f64,
    /// Where the numbers come from (shown to the operator).
    pub source: String,
}

impl TissueScale {
    /// The lung heuristic: 0.8 along the shaft, 0.67 across it, against liver tables.
    pub fn lung_heuristic() -> Self {
        Self {
            long: 0.8,
            short: 0.67,
            source: LUNG_SCALE_SOURCE.into(),
        }
    }

    /// An operator-chosen factor (both axes).
    pub fn uniform(f: f64) -> Self {
        Self {
            long: f,
            short: f,
            source: "set by the operator".into(),
        }
    }

    pub fn is_valid(&self) -> bool {
        [self.long, self.short]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0 && *v <= 2.0)
    }

    /// The scale only applies to heat-based (MWA, RFA) rows measured outside lung.
    pub fn applies_to(modality: Modality, tissue: &str) -> bool {
        matches!(modality, Modality::Mwa | Modality::Rfa) && !tissue.eq_ignore_ascii_case("lung")
    }
}

impl Default for TissueScale {
    fn default() -> Self {
        Self::lung_heuristic()
    }
}

pub const LUNG_SCALE_SOURCE: &str = "HEURISTIC, not published data: rough lung/liver ratio 0.8 long, \
0.67 short, from in vivo swine lung MWA (100 W: 22.0 x 14.1 mm at 1 min, 27.6 x 20.2 mm at 2 min, \
29.2 x 21.2 mm at 3 min; Acta Med Okayama 2022;76:57) against vendor liver tables. No published \
lung correction factor exists; adjust it to your centre's experience.";

/// Distance between the two IRE electrodes each IRE row was measured with.
pub fn ire_electrode_spacing_mm(device_id: &str) -> Option<f64> {
    match device_id {
        "ire-1.5cm" => Some(15.0),
        "ire-2.0cm" => Some(20.0),
        _ => None,
    }
}

/// Default usable needle length when the operator gives none (`length=MM`). Not vendor data.
pub const DEFAULT_NEEDLE_LENGTH_MM: f64 = 200.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_with_source_and_evidence_on_every_row() {
        let devs = parse_table(TABLE_CSV).unwrap();
        assert_eq!(devs.len(), catalog().len());
        let rows: usize = devs.iter().map(|d| d.settings.len()).sum();
        assert_eq!(
            rows,
            TABLE_CSV.lines().filter(|l| !l.trim().is_empty()).count() - 1
        );
        for d in &devs {
            for s in &d.settings {
                assert!(!s.source.is_empty(), "{}", d.id);
                assert!(s.short_mm > 0.0);
            }
        }
        for id in [
            "emprint",
            "amica",
            "acculis",
            "swine-lung-mwa",
            "cool-tip",
            "cryo-2.4mm",
            "ire-1.5cm",
        ] {
            assert!(find_device(id).is_some(), "{id}");
        }
        // Spot-check transcription against the reference: Emprint-like 100 W 600 s.
        let e = find_device("emprint").unwrap();
        let s = e
            .settings
            .iter()
            .find(|s| s.power_w == Some(100.0) && s.time_s == Some(600.0))
            .unwrap();
        assert_eq!(
            (s.long_mm, s.short_mm, s.offset_mm),
            (Some(41.0), 36.0, Some(-13.5))
        );
        assert_eq!(s.evidence, Evidence::VendorExVivoLiver);
        let lung = find_device("swine-lung-mwa").unwrap();
        assert_eq!(lung.settings[0].evidence, Evidence::InVivoAnimalLung);
        // Cool-tip: sphere of 28.5 cm3.
        let ct = &find_device("cool-tip").unwrap().settings[0];
        let v = std::f64::consts::PI / 6.0 * ct.short_mm.powi(3) / 1000.0;
        assert!((v - 28.5).abs() < 0.3, "{v}");
    }

    #[test]
    fn csv_splitting_handles_quotes() {
        assert_eq!(split_csv(r#"a,"b, c",d"#), vec!["a", "b, c", "d"]);
        assert_eq!(split_csv(r#""x ""y""",z"#), vec![r#"x "y""#, "z"]);
        assert!(parse_table("device_id,device\nx").is_err());
    }
}
