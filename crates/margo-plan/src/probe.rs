//! Probes as the operator places them: tip, entry, device and setting.

use margo_volume::nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

/// One probe. Tip and entry are LPS mm. `device` is a table id (`margo plan --list-devices`) or
/// `custom` (then `long_mm`, `short_mm` and `offset_mm` are required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    pub tip_lps_mm: [f64; 3],
    pub entry_lps_mm: [f64; 3],
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_s: Option<f64>,
    /// Custom device: zone length along the shaft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_mm: Option<f64>,
    /// Custom device: zone diameter across the shaft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_mm: Option<f64>,
    /// Custom device: zone centre from the tip along the shaft, negative towards the hub (the
    /// vendor tables' convention, e.g. -11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_mm: Option<f64>,
    /// Usable needle length of this device (for the needle-length check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needle_length_mm: Option<f64>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProbeError {
    #[error("probe {probe}: {field} must be finite, got {value}")]
    NonFinite {
        probe: usize,
        field: &'static str,
        value: f64,
    },
    #[error("probe {probe}: entry and tip are the same point {tip:?} (no needle direction)")]
    EntryEqualsTip { probe: usize, tip: [f64; 3] },
    #[error("probe spec {spec:?}: {message}")]
    ParseSpec { spec: String, message: String },
}

impl ProbeSpec {
    pub fn tip(&self) -> Point3<f64> {
        Point3::from(self.tip_lps_mm)
    }

    pub fn entry(&self) -> Point3<f64> {
        Point3::from(self.entry_lps_mm)
    }

    /// Unit vector from the entry to the tip (the direction the needle advances).
    pub fn direction(&self, probe: usize) -> Result<Vector3<f64>, ProbeError> {
        self.check_finite(probe)?;
        (self.tip() - self.entry())
            .try_normalize(1e-9)
            .ok_or(ProbeError::EntryEqualsTip {
                probe,
                tip: self.tip_lps_mm,
            })
    }

    pub fn length_mm(&self) -> f64 {
        (self.tip() - self.entry()).norm()
    }

    pub fn check_finite(&self, probe: usize) -> Result<(), ProbeError> {
        let mut fields: Vec<(&'static str, f64)> = vec![
            ("tip", self.tip_lps_mm[0]),
            ("tip", self.tip_lps_mm[1]),
            ("tip", self.tip_lps_mm[2]),
            ("entry", self.entry_lps_mm[0]),
            ("entry", self.entry_lps_mm[1]),
            ("entry", self.entry_lps_mm[2]),
        ];
        for (name, v) in [
            ("power_w", self.power_w),
            ("time_s", self.time_s),
            ("long_mm", self.long_mm),
            ("short_mm", self.short_mm),
            ("offset_mm", self.offset_mm),
            ("needle_length_mm", self.needle_length_mm),
        ] {
            if let Some(v) = v {
                fields.push((name, v));
            }
        }
        for (field, value) in fields {
            if !value.is_finite() {
                return Err(ProbeError::NonFinite {
                    probe,
                    field,
                    value,
                });
            }
        }
        Ok(())
    }

    /// Parses the command-line form
    /// `tip=X,Y,Z;entry=X,Y,Z;device=NAME[;power=W][;time=S][;long=MM;short=MM;offset=MM][;length=MM]`.
    pub fn parse(spec: &str) -> Result<Self, ProbeError> {
        let err = |message: String| ProbeError::ParseSpec {
            spec: spec.to_string(),
            message,
        };
        let mut tip = None;
        let mut entry = None;
        let mut out = ProbeSpec {
            tip_lps_mm: [0.0; 3],
            entry_lps_mm: [0.0; 3],
            device: String::new(),
            power_w: None,
            time_s: None,
            long_mm: None,
            short_mm: None,
            offset_mm: None,
            needle_length_mm: None,
        };
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| err(format!("{part:?} is not key=value")))?;
            let value = value.trim();
            let number = |v: &str| -> Result<f64, ProbeError> {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| err(format!("{key}: {v:?} is not a finite number")))
            };
            match key.trim() {
                "tip" => tip = Some(parse_point(value).map_err(err)?),
                "entry" => entry = Some(parse_point(value).map_err(err)?),
                "device" => out.device = value.to_string(),
                "power" => out.power_w = Some(number(value)?),
                "time" => out.time_s = Some(number(value)?),
                "long" => out.long_mm = Some(number(value)?),
                "short" => out.short_mm = Some(number(value)?),
                "offset" => out.offset_mm = Some(number(value)?),
                "length" => out.needle_length_mm = Some(number(value)?),
                other => return Err(err(format!("unknown key {other:?}"))),
            }
        }
        out.tip_lps_mm = tip.ok_or_else(|| err("tip=X,Y,Z is required".into()))?;
        out.entry_lps_mm = entry.ok_or_else(|| err("entry=X,Y,Z is required".into()))?;
        if out.device.is_empty() {
            return Err(err("device=NAME is required".into()));
        }
        Ok(out)
    }
}

/// Parses `X,Y,Z` (LPS mm).
pub fn parse_point(s: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|c| c.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{s:?} is not X,Y,Z"))?;
    match v.as_slice() {
        [x, y, z] if v.iter().all(|c| c.is_finite()) => Ok([*x, *y, *z]),
        _ => Err(format!("{s:?} is not three finite numbers X,Y,Z")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cli_form_and_rejects_bad_ones() {
        let p =
            ProbeSpec::parse("tip=1,2,3;entry=4, 5,6;device=emprint;power=100;time=300").unwrap();
        assert_eq!(p.tip_lps_mm, [1.0, 2.0, 3.0]);
        assert_eq!(p.entry_lps_mm, [4.0, 5.0, 6.0]);
        assert_eq!((p.power_w, p.time_s), (Some(100.0), Some(300.0)));
        let c = ProbeSpec::parse("tip=0,0,0;entry=0,0,50;device=custom;long=30;short=20;offset=-8")
            .unwrap();
        assert_eq!(
            (c.long_mm, c.short_mm, c.offset_mm),
            (Some(30.0), Some(20.0), Some(-8.0))
        );
        for bad in [
            "tip=1,2;entry=0,0,0;device=x",
            "tip=1,2,3;device=x",
            "tip=1,2,3;entry=0,0,0",
            "tip=1,2,nan;entry=0,0,0;device=x",
            "tip=1,2,3;entry=0,0,0;device=x;power=abc",
            "tip=1,2,3;entry=0,0,0;device=x;colour=red",
        ] {
            assert!(ProbeSpec::parse(bad).is_err(), "{bad}");
        }
        let same = ProbeSpec::parse("tip=1,2,3;entry=1,2,3;device=x").unwrap();
        assert!(matches!(
            same.direction(0),
            Err(ProbeError::EntryEqualsTip { .. })
        ));
    }
}
