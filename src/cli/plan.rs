//! `margo plan`: segment a nodule, place probes, print coverage, margins and risks.
//!
//! ```text
//! margo plan <DIR> --seed X,Y,Z [--probe "tip=X,Y,Z;entry=X,Y,Z;device=NAME;power=W;time=S"]...
//!            [--tissue-scale F|LONG,SHORT] [--save PLAN.json] [--json]
//! margo plan <DIR> --load PLAN.json [--json]
//! margo plan --list-devices [--json]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use margo_plan::devices::TissueScale;
use margo_plan::planfile::{PlanFile, SavedMask, SavedSegmentation};
use margo_plan::report::PlanReport;
use margo_plan::segment::{NoduleStats, nodule_stats};
use margo_plan::{ProbeSpec, SegmentParams, TumourModel, ZoneOptions};
use margo_volume::{Mask, Volume};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding the CT series.
    pub dir: Option<PathBuf>,
    /// Seed point inside the nodule, LPS mm: X,Y,Z.
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<String>,
    /// A probe: "tip=X,Y,Z;entry=X,Y,Z;device=NAME;power=W;time=S" (custom device:
    /// "device=custom;long=MM;short=MM;offset=MM"; optional "length=MM" usable needle length).
    /// Repeat for several probes.
    #[arg(long = "probe", allow_hyphen_values = true)]
    pub probes: Vec<String>,
    /// Scale of zones from liver tables in lung: F (both axes) or LONG,SHORT.
    /// Default: the lung heuristic 0.8,0.67 (a heuristic; see --list-devices).
    #[arg(long)]
    pub tissue_scale: Option<String>,
    /// Cryo lethal zone inset inside the iceball (mm, default 10).
    #[arg(long)]
    pub cryo_inset: Option<f64>,
    /// Fixed segmentation threshold (HU) instead of the adaptive one.
    #[arg(long, allow_hyphen_values = true)]
    pub threshold: Option<f64>,
    /// Free-text notes stored in the saved plan.
    #[arg(long)]
    pub notes: Option<String>,
    /// Save the plan (atomic write).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Load a saved plan instead of --seed/--probe.
    #[arg(long, conflicts_with_all = ["seed", "probes"])]
    pub load: Option<PathBuf>,
    /// Write the full report: HTML when the name ends in .html, else Markdown (and the full JSON
    /// report next to it, .json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// List devices, settings and their sources.
    #[arg(long)]
    pub list_devices: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list_devices {
        list_devices(args.json);
        return Ok(ExitCode::SUCCESS);
    }
    let dir = args
        .dir
        .as_deref()
        .context("a CT folder is required (or --list-devices)")?;
    let series =
        margo_dicom::open_ct(dir).with_context(|| format!("loading CT from {}", dir.display()))?;
    let volume = &series.volume;
    let series_uid = series.meta.series_uid.clone();
    let frame_uid = series
        .meta
        .frame_of_reference_uid
        .clone()
        .unwrap_or_default();

    let loaded = match &args.load {
        Some(path) => Some(load_plan(path, &series_uid, volume)?),
        None => None,
    };
    let (probes, options, seed, params, notes) = match &loaded {
        Some((plan, _)) => (
            plan.probes.clone(),
            plan.zone_options.clone(),
            plan.segmentation.seed_lps_mm,
            plan.segmentation.params.clone(),
            plan.notes.clone(),
        ),
        None => {
            let seed = args
                .seed
                .as_deref()
                .context("--seed X,Y,Z is required (or --load)")?;
            let seed =
                margo_plan::probe::parse_point(seed).map_err(|e| anyhow::anyhow!("--seed: {e}"))?;
            let probes = args
                .probes
                .iter()
                .map(|p| ProbeSpec::parse(p))
                .collect::<Result<Vec<_>, _>>()?;
            for (n, p) in probes.iter().enumerate() {
                for (which, point) in [("tip", p.tip_lps_mm), ("entry", p.entry_lps_mm)] {
                    if !volume.geometry().contains_world(&point.into()) {
                        bail!("probe {n}: {which} {point:?} lies outside the volume");
                    }
                }
            }
            let mut options = ZoneOptions::default();
            if let Some(ts) = &args.tissue_scale {
                options.tissue_scale = parse_tissue_scale(ts)?;
            }
            if let Some(inset) = args.cryo_inset {
                options.cryo_lethal_inset_mm = inset;
            }
            let params = SegmentParams {
                threshold_hu: args.threshold,
                ..SegmentParams::default()
            };
            (
                probes,
                options,
                seed,
                params,
                args.notes.clone().unwrap_or_default(),
            )
        }
    };

    // Segmentation: fresh, or the saved mask (re-segmenting only to recover the volume estimate
    // when the saved mask is exactly what the saved seed and parameters give).
    let (mask, crop_first, stats, threshold) = match &loaded {
        Some((_, saved_mask)) => {
            let first = loaded
                .as_ref()
                .map(|(p, _)| p.segmentation.mask.first_voxel)
                .unwrap_or([0; 3]);
            let fresh = margo_plan::segment(volume, seed, &params).ok();
            match fresh {
                Some(s)
                    if s.mask.labels() == saved_mask.labels() && s.crop_first_voxel == first =>
                {
                    (s.mask, first, s.stats, Some(s.threshold_used_hu))
                }
                _ => {
                    let stats: NoduleStats =
                        nodule_stats(saved_mask).context("the saved nodule mask is empty")?;
                    (saved_mask.clone(), first, stats, None)
                }
            }
        }
        None => {
            let s = margo_plan::segment(volume, seed, &params)
                .with_context(|| format!("segmenting the nodule at seed {seed:?}"))?;
            (
                s.mask,
                s.crop_first_voxel,
                s.stats,
                Some(s.threshold_used_hu),
            )
        }
    };

    let zones = margo_plan::build_zones(&probes, &options).context("building ablation zones")?;
    let model = TumourModel::new(&mask).context("preparing margin metrics")?;
    let metrics = (!zones.shapes.is_empty()).then(|| model.evaluate(&zones.region));
    let findings = margo_plan::findings::check_plan(
        volume,
        &probes,
        &zones,
        &stats,
        Some(&mask),
        metrics.as_ref(),
    );
    let report = PlanReport {
        disclaimer: margo_plan::DISCLAIMER.to_owned(),
        series_uid: series_uid.clone(),
        series_description: series.meta.description.clone(),
        nodule: stats,
        threshold_used_hu: threshold,
        probes: probes.clone(),
        zones: zones.shapes.clone(),
        cryo_lethal_inset_mm: zones.lethal_inset_mm,
        tissue_scale: options.tissue_scale.clone(),
        metrics,
        findings,
        notes: notes.clone(),
    };

    if let Some(path) = &args.save {
        let plan = PlanFile {
            format: margo_plan::planfile::FORMAT.to_owned(),
            schema_version: margo_plan::planfile::SCHEMA_VERSION,
            series_uid,
            frame_of_reference_uid: frame_uid,
            volume_dims: volume.dims(),
            segmentation: SavedSegmentation {
                seed_lps_mm: seed,
                params,
                mask: SavedMask::from_mask(&mask, crop_first),
            },
            probes,
            zone_options: options,
            notes,
        };
        plan.save(path)
            .with_context(|| format!("saving the plan to {}", path.display()))?;
    }
    if let Some(path) = &args.report {
        let is_html = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        let text = if is_html {
            report.to_html(&[])
        } else {
            report.to_markdown()
        };
        margo_plan::planfile::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        let json_path = path.with_extension("json");
        margo_plan::planfile::write_atomic(&json_path, report.to_json().as_bytes())
            .with_context(|| format!("writing {}", json_path.display()))?;
    }
    if args.json {
        println!("{}", report.cli_json());
    } else {
        print_summary(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn load_plan(
    path: &Path,
    series_uid: &str,
    volume: &Volume<i16>,
) -> anyhow::Result<(PlanFile, Mask)> {
    let plan = PlanFile::load(path)?;
    let mask = plan.validate_against(path, series_uid, volume.geometry())?;
    Ok((plan, mask))
}

fn parse_tissue_scale(s: &str) -> anyhow::Result<TissueScale> {
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--tissue-scale {s:?}: expected F or LONG,SHORT"))?;
    let scale = match parts.as_slice() {
        [f] => TissueScale::uniform(*f),
        [l, sh] => TissueScale {
            long: *l,
            short: *sh,
            source: "set by the operator".into(),
        },
        _ => bail!("--tissue-scale {s:?}: expected F or LONG,SHORT"),
    };
    if !scale.is_valid() {
        bail!("--tissue-scale {s:?}: factors must be finite, > 0 and <= 2");
    }
    Ok(scale)
}

fn list_devices(json: bool) {
    let devices = margo_plan::catalog();
    if json {
        let v = serde_json::json!({
            "devices": devices,
            "tissue_scale_default": TissueScale::lung_heuristic(),
            "custom": "device=custom;long=MM;short=MM;offset=MM (offset: zone centre from the tip, negative towards the hub)",
            "disclaimer": margo_plan::DISCLAIMER,
        });
        println!("{v}");
        return;
    }
    println!("{}\n", margo_plan::DISCLAIMER);
    for d in devices {
        println!("{} ({}, {})", d.id, d.name, d.modality.label());
        for s in &d.settings {
            let usable = s.probes == 1 && s.long_mm.is_some();
            println!(
                "  {:<22} {:>5} x {:<5} mm  offset {:>6}  {} [{}]{}{}",
                s.label(),
                s.long_mm.map_or("-".into(), |v| format!("{v}")),
                s.short_mm,
                s.offset_mm.map_or("heur.".into(), |v| format!("{v}")),
                s.tissue,
                s.evidence.label(),
                if usable { "" } else { "  (reference only)" },
                if s.note.is_empty() {
                    String::new()
                } else {
                    format!("  - {}", s.note)
                }
            );
            println!("      source: {}", s.source);
        }
    }
    let ts = TissueScale::lung_heuristic();
    println!(
        "\ncustom: device=custom;long=MM;short=MM;offset=MM (offset: zone centre from the tip, \
         negative towards the hub)\ntissue scale default: {} long, {} short. {}",
        ts.long, ts.short, ts.source
    );
}

fn print_summary(r: &PlanReport) {
    let n = &r.nodule;
    println!(
        "nodule: {:.2} ml (mask {:.2} ml), longest {:.1} mm (axial {:.1} mm), centroid LPS ({:.1}, {:.1}, {:.1})",
        n.volume_ml,
        n.outline_volume_ml,
        n.max_diameter_mm,
        n.max_axial_diameter_mm,
        n.centroid_lps_mm[0],
        n.centroid_lps_mm[1],
        n.centroid_lps_mm[2]
    );
    for z in &r.zones {
        let h = z.ellipsoid.half_lengths_mm;
        println!(
            "zone (probes {:?}): {} {} -> {:.1} x {:.1} x {:.1} mm [{}; {}]",
            z.probes,
            z.device_id,
            z.setting,
            2.0 * h[0],
            2.0 * h[1],
            2.0 * h[2],
            z.evidence.label(),
            z.source
        );
    }
    if let Some(m) = &r.metrics {
        println!(
            "coverage: tumour {:.1}%, +5 mm {:.1}%, +10 mm {:.1}%; minimal margin {:.1} mm; surface <0 / 0-5 / >=5 mm: {:.1}% / {:.1}% / {:.1}%",
            m.coverage_pct[0],
            m.coverage_pct[5],
            m.coverage_pct[10],
            m.min_margin_mm,
            m.surface_below_0_pct,
            m.surface_0_to_5_pct,
            m.surface_at_least_5_pct
        );
        println!("verdict: {}", m.verdict.reasons.join("; "));
    }
    for f in &r.findings {
        println!(
            "[{:?}] {}: {} (rule: {}; source: {})",
            f.severity, f.kind, f.message, f.rule, f.source
        );
    }
    println!("{}", margo_plan::DISCLAIMER);
}
