//! Plan reports: a JSON document and a human-readable Markdown page, both with the metrics, the
//! findings, the zone sources and the disclaimer.

use serde::Serialize;
use serde_json::json;

use crate::DISCLAIMER;
use crate::devices::TissueScale;
use crate::findings::Finding;
use crate::metrics::MarginMetrics;
use crate::probe::ProbeSpec;
use crate::segment::NoduleStats;
use crate::zones::ZoneShape;

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub disclaimer: String,
    pub series_uid: String,
    pub nodule: NoduleStats,
    pub threshold_used_hu: Option<f64>,
    pub probes: Vec<ProbeSpec>,
    pub zones: Vec<ZoneShape>,
    pub cryo_lethal_inset_mm: f64,
    pub tissue_scale: TissueScale,
    pub metrics: Option<MarginMetrics>,
    pub findings: Vec<Finding>,
}

fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// One zone as the command line prints it.
pub fn zone_json(z: &ZoneShape) -> serde_json::Value {
    json!({
        "probes": z.probes,
        "role": z.role,
        "modality": z.modality,
        "device": z.device_id,
        "setting": z.setting,
        "centre_lps_mm": z.ellipsoid.centre_lps_mm,
        "axes_lps": z.ellipsoid.axes_lps,
        "half_lengths_mm": z.ellipsoid.half_lengths_mm,
        "scale_applied": z.applied_scale,
        "evidence": z.evidence,
        "source": z.source,
    })
}

impl PlanReport {
    /// The `margo plan --json` object (the shape the issue specifies).
    pub fn cli_json(&self) -> serde_json::Value {
        let m = self.metrics.as_ref();
        json!({
            "nodule": {
                "volume_ml": self.nodule.volume_ml,
                "max_diameter_mm": self.nodule.max_diameter_mm,
                "centroid_lps_mm": self.nodule.centroid_lps_mm,
            },
            "zones": self.zones.iter().map(zone_json).collect::<Vec<_>>(),
            "coverage": {
                "tumour_pct": m.map(|m| finite(m.tumour_coverage_pct())),
                "margin5_pct": m.map(|m| finite(m.margin5_coverage_pct())),
                "margin10_pct": m.map(|m| finite(m.margin10_coverage_pct())),
            },
            "min_margin_mm": m.map(|m| finite(m.min_margin_mm)),
            "vic_ml": m.map(|m| m.vic_ml.clone()),
            "findings": self.findings.iter().map(|f| json!({
                "kind": f.kind,
                "severity": f.severity,
                "value": f.value.map(finite),
                "message": f.message,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "# Ablation plan report\n");
        let _ = writeln!(s, "> **{DISCLAIMER}**\n");
        let _ = writeln!(s, "Series: `{}`\n", self.series_uid);
        let n = &self.nodule;
        let _ = writeln!(s, "## Nodule\n");
        let _ = writeln!(
            s,
            "| volume | longest diameter (3D / axial) | equivalent diameter | centroid (LPS mm) |\n|---|---|---|---|\n| {:.2} ml | {:.1} / {:.1} mm | {:.1} mm | ({:.1}, {:.1}, {:.1}) |\n",
            n.volume_ml,
            n.max_diameter_mm,
            n.max_axial_diameter_mm,
            n.equivalent_diameter_mm,
            n.centroid_lps_mm[0],
            n.centroid_lps_mm[1],
            n.centroid_lps_mm[2]
        );
        let _ = writeln!(s, "## Zones\n");
        let _ = writeln!(
            s,
            "| probes | device | setting | axes (mm) | scale | evidence | source |\n|---|---|---|---|---|---|---|"
        );
        for z in &self.zones {
            let h = z.ellipsoid.half_lengths_mm;
            let _ = writeln!(
                s,
                "| {:?} | {} | {} | {:.1} x {:.1} x {:.1} | {} x {} | {} | {}{} |",
                z.probes,
                z.device_name,
                z.setting,
                2.0 * h[0],
                2.0 * h[1],
                2.0 * h[2],
                z.applied_scale[0],
                z.applied_scale[1],
                z.evidence.label(),
                z.source,
                if z.offset_is_heuristic {
                    " (centre offset: heuristic)"
                } else {
                    ""
                }
            );
        }
        if self.cryo_lethal_inset_mm > 0.0 {
            let _ = writeln!(
                s,
                "\nCryo: lethal zone = iceball union eroded by {} mm (PMC4850244; Littrup JVIR 2009).",
                self.cryo_lethal_inset_mm
            );
        }
        let _ = writeln!(
            s,
            "\nTissue scale (liver tables -> lung): {} long, {} short. {}\n",
            self.tissue_scale.long, self.tissue_scale.short, self.tissue_scale.source
        );
        if let Some(m) = &self.metrics {
            let _ = writeln!(s, "## Coverage and margins\n");
            let _ = writeln!(
                s,
                "| tumour | tumour + 5 mm | tumour + 10 mm | minimal margin | surface < 0 / 0-5 / >= 5 mm |\n|---|---|---|---|---|\n| {:.1}% | {:.1}% | {:.1}% | {:.1} mm | {:.1}% / {:.1}% / {:.1}% |\n",
                m.coverage_pct[0],
                m.coverage_pct[5],
                m.coverage_pct[10],
                m.min_margin_mm,
                m.surface_below_0_pct,
                m.surface_0_to_5_pct,
                m.surface_at_least_5_pct
            );
            let _ = writeln!(
                s,
                "Weakest point (LPS mm): ({:.1}, {:.1}, {:.1}).\n",
                m.weakest_point_lps_mm[0], m.weakest_point_lps_mm[1], m.weakest_point_lps_mm[2]
            );
            let vic: Vec<String> = m.vic_ml.iter().map(|v| format!("{v:.2}")).collect();
            let _ = writeln!(s, "VIC_k (ml), k = 0..10 mm: {}\n", vic.join(", "));
            let _ = writeln!(
                s,
                "Verdict: **{}**. {}\n\nRule: {}\n",
                if m.verdict.meets_rule {
                    "meets the 5 mm margin rule"
                } else {
                    "does not meet the 5 mm margin rule"
                },
                m.verdict.reasons.join(" "),
                m.verdict.rule
            );
        }
        let _ = writeln!(s, "## Findings\n");
        let _ = writeln!(
            s,
            "| severity | check | value | message | rule | source |\n|---|---|---|---|---|---|"
        );
        for f in &self.findings {
            let _ = writeln!(
                s,
                "| {:?} | {} | {} | {} | {} | {} |",
                f.severity,
                f.kind,
                f.value.map_or("-".into(), |v| format!("{v:.1} {}", f.unit)),
                f.message.replace('|', "/"),
                f.rule.replace('|', "/"),
                f.source.replace('|', "/")
            );
        }
        s
    }
}
