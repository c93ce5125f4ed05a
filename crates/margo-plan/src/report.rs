//! Plan reports: a JSON document, a Markdown page and a self-contained HTML page, all with the metrics, the
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
    /// Series description as the DICOM header has it (free text: escaped in the HTML report).
    pub series_description: String,
    pub nodule: NoduleStats,
    pub threshold_used_hu: Option<f64>,
    pub probes: Vec<ProbeSpec>,
    pub zones: Vec<ZoneShape>,
    pub cryo_lethal_inset_mm: f64,
    pub tissue_scale: TissueScale,
    pub metrics: Option<MarginMetrics>,
    pub findings: Vec<Finding>,
    /// The plan's free-text notes (escaped in the HTML report).
    pub notes: String,
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
        if !self.series_description.is_empty() {
            let _ = writeln!(s, "Description: {}\n", md_cell(&self.series_description));
        }
        let _ = writeln!(s, "## Nodule\n");
        md_table(
            &mut s,
            &NODULE_HEADER,
            std::slice::from_ref(&self.nodule_cells()),
        );
        let _ = writeln!(s, "## Zones\n");
        md_table(&mut s, &ZONE_HEADER, &self.zone_rows());
        for line in self.zone_notes() {
            let _ = writeln!(s, "{line}\n");
        }
        if let Some(m) = &self.metrics {
            let _ = writeln!(s, "## Coverage and margins\n");
            md_table(&mut s, &COVERAGE_HEADER, &[coverage_cells(m)]);
            let _ = writeln!(
                s,
                "Weakest point (LPS mm): {}.\n",
                lps(&m.weakest_point_lps_mm)
            );
            let vic: Vec<String> = m.vic_ml.iter().map(|v| format!("{v:.2}")).collect();
            let _ = writeln!(s, "VIC_k (ml), k = 0..10 mm: {}\n", vic.join(", "));
            let _ = writeln!(
                s,
                "Verdict: **{}**. {}\n\nRule: {}\n",
                verdict_label(m),
                m.verdict.reasons.join(" "),
                m.verdict.rule
            );
        }
        let _ = writeln!(s, "## Findings\n");
        md_table(&mut s, &FINDING_HEADER, &self.finding_rows());
        if !self.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n\n{}", self.notes);
        }
        s
    }

    /// One row of the nodule table (shared by the Markdown and HTML reports).
    fn nodule_cells(&self) -> Vec<String> {
        let n = &self.nodule;
        vec![
            format!("{:.2} ml", n.volume_ml),
            format!(
                "{:.1} / {:.1} mm",
                n.max_diameter_mm, n.max_axial_diameter_mm
            ),
            format!("{:.1} mm", n.equivalent_diameter_mm),
            lps(&n.centroid_lps_mm),
        ]
    }

    fn zone_rows(&self) -> Vec<Vec<String>> {
        self.zones
            .iter()
            .map(|z| {
                let h = z.ellipsoid.half_lengths_mm;
                vec![
                    format!("{:?}", z.probes),
                    z.device_name.clone(),
                    z.setting.clone(),
                    format!("{:.1} x {:.1} x {:.1}", 2.0 * h[0], 2.0 * h[1], 2.0 * h[2]),
                    format!("{} x {}", z.applied_scale[0], z.applied_scale[1]),
                    z.evidence.label().to_owned(),
                    format!(
                        "{}{}",
                        z.source,
                        if z.offset_is_heuristic {
                            " (centre offset: heuristic)"
                        } else {
                            ""
                        }
                    ),
                ]
            })
            .collect()
    }

    /// Sentences under the zone table: cryo inset and tissue scale with their sources.
    fn zone_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.cryo_lethal_inset_mm > 0.0 {
            notes.push(format!(
                "Cryo: lethal zone = iceball union eroded by {} mm (PMC4850244; Littrup JVIR 2009).",
                self.cryo_lethal_inset_mm
            ));
        }
        notes.push(format!(
            "Tissue scale (liver tables -> lung): {} long, {} short. {}",
            self.tissue_scale.long, self.tissue_scale.short, self.tissue_scale.source
        ));
        notes
    }

    fn finding_rows(&self) -> Vec<Vec<String>> {
        self.findings
            .iter()
            .map(|f| {
                vec![
                    format!("{:?}", f.severity),
                    f.kind.clone(),
                    f.value.map_or("-".into(), |v| format!("{v:.1} {}", f.unit)),
                    f.message.clone(),
                    f.rule.clone(),
                    f.source.clone(),
                ]
            })
            .collect()
    }

    /// A self-contained HTML page (inline CSS, no script, no external resource) with everything
    /// the Markdown report has plus the probes and the given images (`(caption, relative path)`,
    /// typically PNGs of the views written beside the page). All text is escaped.
    pub fn to_html(&self, images: &[(String, String)]) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>Ablation plan report</title>\n<style>{HTML_CSS}</style>\n</head>\n<body>\n"
        );
        let _ = writeln!(s, "<h1>Ablation plan report</h1>");
        let _ = writeln!(
            s,
            "<div class=\"disclaimer\" role=\"note\"><strong>{}</strong></div>",
            esc(DISCLAIMER)
        );
        let _ = writeln!(s, "<h2>Case</h2>\n<table class=\"kv\">");
        let _ = writeln!(
            s,
            "<tr><th>Series UID</th><td><code>{}</code></td></tr>",
            esc(&self.series_uid)
        );
        if !self.series_description.is_empty() {
            let _ = writeln!(
                s,
                "<tr><th>Series description</th><td>{}</td></tr>",
                esc(&self.series_description)
            );
        }
        let _ = writeln!(s, "</table>");

        let _ = writeln!(s, "<h2>Nodule</h2>");
        html_table(
            &mut s,
            &NODULE_HEADER,
            std::slice::from_ref(&self.nodule_cells()),
        );
        if let Some(t) = self.threshold_used_hu {
            let _ = writeln!(s, "<p>Segmentation threshold used: {t:.0} HU.</p>");
        }

        let _ = writeln!(s, "<h2>Probes</h2>");
        html_table(&mut s, &PROBE_HEADER, &self.probe_rows());

        let _ = writeln!(s, "<h2>Ablation zones</h2>");
        html_table(&mut s, &ZONE_HEADER, &self.zone_rows());
        for line in self.zone_notes() {
            let _ = writeln!(s, "<p>{}</p>", esc(&line));
        }

        let _ = writeln!(s, "<h2>Coverage and margins</h2>");
        match &self.metrics {
            Some(m) => self.html_metrics(&mut s, m),
            None => {
                let _ = writeln!(s, "<p>No zone: no coverage or margin computed.</p>");
            }
        }

        let _ = writeln!(s, "<h2>Findings</h2>");
        if self.findings.is_empty() {
            let _ = writeln!(s, "<p>None.</p>");
        } else {
            html_table(&mut s, &FINDING_HEADER, &self.finding_rows());
        }

        if !self.notes.is_empty() {
            let _ = writeln!(
                s,
                "<h2>Notes</h2>\n<p class=\"notes\">{}</p>",
                esc(&self.notes)
            );
        }
        if !images.is_empty() {
            let _ = writeln!(s, "<h2>Views</h2>\n<div class=\"views\">");
            for (caption, path) in images {
                let _ = writeln!(
                    s,
                    "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
                    esc(&url_path(path)),
                    esc(caption),
                    esc(caption)
                );
            }
            let _ = writeln!(s, "</div>");
        }
        let _ = writeln!(
            s,
            "<div class=\"disclaimer\"><strong>{}</strong></div>\n</body>\n</html>",
            esc(DISCLAIMER)
        );
        s
    }

    fn html_metrics(&self, s: &mut String, m: &MarginMetrics) {
        use std::fmt::Write;
        html_table(s, &COVERAGE_HEADER, &[coverage_cells(m)]);
        let class = margin_class(m.min_margin_mm);
        let _ = writeln!(
            s,
            "<p>Minimal ablative margin: <span class=\"margin {class}\">{}</span> \
             (rule: at least 5 mm everywhere). Weakest point (LPS mm): {}.</p>",
            esc(&mm(m.min_margin_mm)),
            esc(&lps(&m.weakest_point_lps_mm))
        );
        let _ = writeln!(
            s,
            "<p class=\"verdict {}\"><strong>{}</strong>. {}</p>\n<p>Rule: {}</p>",
            if m.verdict.meets_rule { "ok" } else { "bad" },
            esc(verdict_label(m)),
            esc(&m.verdict.reasons.join(" ")),
            esc(&m.verdict.rule)
        );
        let _ = writeln!(
            s,
            "<h3>Uncovered volume VIC<sub>k</sub> of the tumour grown by k mm</h3>"
        );
        let _ = write!(s, "<table class=\"vic\">\n<tr><th>k (mm)</th>");
        for k in 0..m.vic_ml.len() {
            let _ = write!(s, "<th>{k}</th>");
        }
        let _ = write!(s, "</tr>\n<tr><th>VIC (ml)</th>");
        for v in &m.vic_ml {
            let _ = write!(s, "<td>{}</td>", esc(&format!("{v:.2}")));
        }
        if m.coverage_pct.len() == m.vic_ml.len() {
            let _ = write!(s, "</tr>\n<tr><th>coverage</th>");
            for c in &m.coverage_pct {
                let _ = write!(s, "<td>{}</td>", esc(&pct(*c)));
            }
        }
        let _ = writeln!(s, "</tr>\n</table>");
        let _ = writeln!(s, "<h3>Surface margin distribution</h3>");
        let bars = [
            ("&lt; 0 mm", m.surface_below_0_pct, "bad"),
            ("0 - 5 mm", m.surface_0_to_5_pct, "warn"),
            ("&ge; 5 mm", m.surface_at_least_5_pct, "ok"),
        ];
        let _ = writeln!(s, "<table class=\"bars\">");
        for (label, value, class) in bars {
            let width = if value.is_finite() {
                value.clamp(0.0, 100.0)
            } else {
                0.0
            };
            let _ = writeln!(
                s,
                "<tr><th>{label}</th><td class=\"num\">{}</td><td class=\"barcell\">\
                 <div class=\"bar {class}\" style=\"width:{width:.1}%\"></div></td></tr>",
                esc(&pct(value))
            );
        }
        let _ = writeln!(s, "</table>");
    }

    fn probe_rows(&self) -> Vec<Vec<String>> {
        self.probes
            .iter()
            .enumerate()
            .map(|(n, p)| {
                let zone = self.zones.iter().find(|z| z.probes.contains(&n));
                let d: f64 = (0..3)
                    .map(|i| (p.tip_lps_mm[i] - p.entry_lps_mm[i]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                vec![
                    n.to_string(),
                    zone.map_or(p.device.clone(), |z| z.device_name.clone()),
                    zone.map_or("-".into(), |z| z.setting.clone()),
                    lps(&p.tip_lps_mm),
                    lps(&p.entry_lps_mm),
                    format!("{d:.1} mm"),
                    zone.map_or("-".into(), |z| z.evidence.label().to_owned()),
                    zone.map_or("-".into(), |z| z.source.clone()),
                ]
            })
            .collect()
    }
}

const NODULE_HEADER: [&str; 4] = [
    "volume",
    "longest diameter (3D / axial)",
    "equivalent diameter",
    "centroid (LPS mm)",
];
const ZONE_HEADER: [&str; 7] = [
    "probes",
    "device",
    "setting",
    "axes (mm)",
    "scale",
    "evidence",
    "source",
];
const COVERAGE_HEADER: [&str; 5] = [
    "tumour",
    "tumour + 5 mm",
    "tumour + 10 mm",
    "minimal margin",
    "surface < 0 / 0-5 / >= 5 mm",
];
const FINDING_HEADER: [&str; 6] = ["severity", "check", "value", "message", "rule", "source"];
const PROBE_HEADER: [&str; 8] = [
    "probe",
    "device",
    "setting",
    "tip (LPS mm)",
    "entry (LPS mm)",
    "tip-entry",
    "evidence",
    "source",
];

const HTML_CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
max-width:1100px;margin:1.5em auto;padding:0 1em;color:#1d1d1f;line-height:1.4}\
h1{margin-bottom:.3em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}\
th,td{border:1px solid #ccc;padding:.3em .55em;text-align:left;vertical-align:top}\
th{background:#f2f2f4}td.num{text-align:right}code{font-size:.9em}\
.disclaimer{background:#fff4d6;border:2px solid #d49b00;padding:.7em 1em;margin:1em 0}\
.margin{font-weight:bold;padding:.1em .4em;border-radius:3px}\
.ok{background:#cdeccd}.warn{background:#ffe3a3}.bad{background:#f6c1c1}\
.verdict{padding:.4em .6em}.barcell{width:320px}.bar{height:1em;min-width:1px}\
.notes{white-space:pre-wrap}.views{display:flex;flex-wrap:wrap;gap:1em}\
figure{margin:0}figure img{max-width:520px;border:1px solid #999}\
@media print{.views img{max-width:48%}}";

/// Text for HTML element content and attribute values (quotes too).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A relative file path as a URL path: separators as '/', characters that would change its
/// meaning in a URL ('%', '#', '?', space) percent-encoded.
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '\\' => out.push('/'),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            ' ' => out.push_str("%20"),
            _ => out.push(c),
        }
    }
    out
}

/// Colour class of a margin against the 5 mm rule.
fn margin_class(margin_mm: f64) -> &'static str {
    if margin_mm >= 5.0 {
        "ok"
    } else if margin_mm >= 0.0 {
        "warn"
    } else {
        "bad"
    }
}

fn verdict_label(m: &MarginMetrics) -> &'static str {
    if m.verdict.meets_rule {
        "meets the 5 mm margin rule"
    } else {
        "does not meet the 5 mm margin rule"
    }
}

fn coverage_cells(m: &MarginMetrics) -> Vec<String> {
    let at = |k: usize| m.coverage_pct.get(k).copied().unwrap_or(f64::NAN);
    vec![
        pct(at(0)),
        pct(at(5)),
        pct(at(10)),
        mm(m.min_margin_mm),
        format!(
            "{} / {} / {}",
            pct(m.surface_below_0_pct),
            pct(m.surface_0_to_5_pct),
            pct(m.surface_at_least_5_pct)
        ),
    ]
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}%")
    } else {
        "-".into()
    }
}

fn mm(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1} mm")
    } else {
        "-".into()
    }
}

fn lps(p: &[f64; 3]) -> String {
    format!("({:.1}, {:.1}, {:.1})", p[0], p[1], p[2])
}

/// A Markdown table cell: pipes would split the cell, newlines would end the row.
fn md_cell(text: &str) -> String {
    text.replace('|', "/").replace(['\n', '\r'], " ")
}

fn md_table(s: &mut String, header: &[&str], rows: &[Vec<String>]) {
    use std::fmt::Write;
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(s);
}

fn html_table(s: &mut String, header: &[&str], rows: &[Vec<String>]) {
    use std::fmt::Write;
    let _ = write!(s, "<table>\n<tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    let _ = writeln!(s, "</tr>");
    for row in rows {
        let _ = write!(s, "<tr>");
        for c in row {
            let _ = write!(s, "<td>{}</td>", esc(c));
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(s, "</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;
    use crate::metrics::TumourModel;
    use crate::zones::{ZoneOptions, build_zones};
    use margo_volume::{Mask, VolumeGeometry};

    /// A 16 mm ball at the origin, one microwave probe through it, and a finding.
    fn sample_report() -> PlanReport {
        let (r, n) = (8.0, 25usize);
        let origin = [-(n as f64 - 1.0) / 2.0; 3];
        let g = VolumeGeometry::axis_aligned([n; 3], [1.0; 3], origin).unwrap();
        let mask = Mask::from_fn(g.clone(), |i, j, k| {
            g.world_from_ijk([i, j, k]).coords.norm() <= r
        });
        let stats = crate::segment::nodule_stats(&mask).unwrap();
        let probes = vec![
            ProbeSpec::parse("tip=0,0,12;entry=0,0,90;device=emprint;power=45;time=150").unwrap(),
        ];
        let options = ZoneOptions::default();
        let zones = build_zones(&probes, &options).unwrap();
        let metrics = TumourModel::new(&mask).unwrap().evaluate(&zones.region);
        PlanReport {
            disclaimer: DISCLAIMER.to_owned(),
            series_uid: "1.2.3".into(),
            series_description: "Chest <CT> & \"lung\"".into(),
            nodule: stats,
            threshold_used_hu: Some(-500.0),
            probes,
            zones: zones.shapes.clone(),
            cryo_lethal_inset_mm: zones.lethal_inset_mm,
            tissue_scale: options.tissue_scale,
            metrics: Some(metrics),
            findings: vec![Finding {
                kind: "aerated_lung_length".into(),
                severity: Severity::Warning,
                value: Some(31.0),
                unit: "mm".into(),
                message: "31 mm of aerated lung <crossed>".into(),
                rule: "warn at >= 26 mm".into(),
                source: "Some et al. 2020".into(),
                probe: Some(0),
                location_lps_mm: None,
            }],
            notes: "line one\nline two".into(),
        }
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">Tom's & co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; co&lt;/a&gt;"
        );
        assert_eq!(url_path(r"views\axial #1.png"), "views/axial%20%231.png");
    }

    #[test]
    fn html_escapes_free_text_from_the_series_notes_findings_and_captions() {
        let mut report = sample_report();
        report.series_description = "<script>alert(1)</script>".into();
        report.notes = "\"><img src=x onerror=alert(1)>".into();
        report.findings[0].message = "<iframe src=//evil>".into();
        let html = report.to_html(&[("axial \" onload=\"x".into(), "r_files/axial.png".into())]);
        let lower = html.to_lowercase();
        assert!(!lower.contains("<script"), "{html}");
        assert!(!lower.contains("<iframe"));
        assert!(!lower.contains("onload=\""));
        assert!(!lower.contains("<img src=x"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        // The one image is the one given, nothing is fetched from elsewhere.
        assert_eq!(lower.matches("<img").count(), 1);
        assert!(html.contains("<img src=\"r_files/axial.png\""));
        for external in ["http:", "https:", "//evil\"", "<link", "@import", "url("] {
            assert!(!lower.contains(external), "{external}");
        }
    }

    #[test]
    fn html_has_the_disclaimer_and_every_metric() {
        let report = sample_report();
        let html = report.to_html(&[]);
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        let disclaimer = esc(DISCLAIMER);
        assert!(html.contains(&disclaimer));
        let prominent = html.find("class=\"disclaimer\"").unwrap();
        assert!(
            prominent < html.find("<h2>").unwrap(),
            "disclaimer before the data"
        );
        assert!(html.contains("ex vivo liver"));

        let m = report.metrics.as_ref().unwrap();
        let n = &report.nodule;
        let z = &report.zones[0];
        let mut expected = vec![
            format!("{:.2} ml", n.volume_ml),
            format!(
                "{:.1} / {:.1} mm",
                n.max_diameter_mm, n.max_axial_diameter_mm
            ),
            format!("{:.1} mm", n.equivalent_diameter_mm),
            format!("{:.1}%", m.coverage_pct[0]),
            format!("{:.1}%", m.coverage_pct[5]),
            format!("{:.1}%", m.coverage_pct[10]),
            format!("{:.1} mm", m.min_margin_mm),
            format!("{:.1}%", m.surface_below_0_pct),
            format!("{:.1}%", m.surface_0_to_5_pct),
            format!("{:.1}%", m.surface_at_least_5_pct),
            esc(&z.device_name),
            esc(&z.setting),
            esc(z.evidence.label()),
            esc(&z.source),
            esc(&report.tissue_scale.source),
            esc(&m.verdict.rule),
            "aerated_lung_length".into(),
            "31.0 mm".into(),
            esc(&report.findings[0].rule),
            esc(&report.findings[0].source),
            "Chest &lt;CT&gt; &amp; &quot;lung&quot;".into(),
            "line one\nline two".into(),
        ];
        let h = z.ellipsoid.half_lengths_mm;
        expected.push(format!(
            "{:.1} x {:.1} x {:.1}",
            2.0 * h[0],
            2.0 * h[1],
            2.0 * h[2]
        ));
        assert_eq!(m.vic_ml.len(), 11);
        expected.extend(m.vic_ml.iter().map(|v| format!("<td>{v:.2}</td>")));
        for e in &expected {
            assert!(html.contains(e.as_str()), "missing {e:?}");
        }
        // The minimal margin is coloured against 5 mm.
        let class = margin_class(m.min_margin_mm);
        assert!(html.contains(&format!("class=\"margin {class}\"")));
        assert_eq!(margin_class(5.0), "ok");
        assert_eq!(margin_class(4.9), "warn");
        assert_eq!(margin_class(-0.1), "bad");
    }

    #[test]
    fn markdown_and_html_without_zones_do_not_panic() {
        let mut report = sample_report();
        report.metrics = None;
        report.zones.clear();
        report.findings.clear();
        let html = report.to_html(&[]);
        assert!(html.contains("No zone"));
        let md = report.to_markdown();
        assert!(md.contains(DISCLAIMER) && md.contains("## Findings"));
        // A pipe or newline in free text cannot break a Markdown table row.
        let mut report = sample_report();
        report.findings[0].message = "a | b\nc".into();
        let md = report.to_markdown();
        assert!(md.contains("| a / b c |"), "{md}");
    }
}
