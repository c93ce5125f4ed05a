//! `margo bench plan [DIR]`: segmentation and margin-metric timing on LIDC-IDRI-0001's nodule with
//! one MWA probe. `--export DIR` writes the tumour mask, the zone and the exact metrics so that
//! `bench/plan_scipy.py` can time a QAM-style distance-transform pipeline on the same crop
//! (`bench/plan.sh` runs both).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use margo_plan::{ProbeSpec, SegmentParams, TumourModel, ZoneOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CT folder (default: ../shared/ct/lidc-idri-0001).
    pub dir: Option<PathBuf>,
    /// Seed inside the nodule, LPS mm.
    #[arg(long, default_value = "56.2,86.2,-115.6", allow_hyphen_values = true)]
    pub seed: String,
    /// The probe (moved around its tip for the per-move timing).
    #[arg(
        long,
        default_value = "tip=52.6,74.0,-115.6;entry=75,150,-115.6;device=amica;power=80;time=600",
        allow_hyphen_values = true
    )]
    pub probe: String,
    /// Timed runs (segmentation) and probe moves (metrics).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Write mask, zone and exact metrics here for the scipy comparison.
    #[arg(long)]
    pub export: Option<PathBuf>,
}

fn median_ms(mut t: Vec<Duration>) -> (f64, f64, f64) {
    t.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p95 = t[((t.len() as f64 * 0.95).ceil() as usize).clamp(1, t.len()) - 1];
    (ms(t[t.len() / 2]), ms(t[0]), ms(p95))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => d,
        None => margo_volume::testdata::shared_dir()
            .context("no folder given and ../shared is absent")?
            .join("ct/lidc-idri-0001"),
    };
    let runs = args.runs.max(1);
    let series =
        margo_dicom::open_ct(&dir).with_context(|| format!("loading {}", dir.display()))?;
    let volume = &series.volume;
    let seed = margo_plan::probe::parse_point(&args.seed).map_err(|e| anyhow::anyhow!(e))?;
    let probe = ProbeSpec::parse(&args.probe)?;
    println!(
        "margo bench plan: {} ; {runs} runs; cores: {}",
        dir.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Segmentation.
    let params = SegmentParams::default();
    let mut seg = margo_plan::segment(volume, seed, &params)?;
    let mut seg_t = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        seg = margo_plan::segment(volume, seed, &params)?;
        seg_t.push(t.elapsed());
    }
    let (med, min, p95) = median_ms(seg_t);
    println!(
        "segmentation:        median {med:8.2} ms  min {min:8.2}  p95 {p95:8.2}   ({:.2} ml, {} voxels)",
        seg.stats.volume_ml, seg.stats.voxel_count
    );

    // Precompute (once per segmentation).
    let mut pre_t = Vec::new();
    let mut model = TumourModel::new(&seg.mask)?;
    for _ in 0..runs {
        let t = Instant::now();
        model = TumourModel::new(&seg.mask)?;
        pre_t.push(t.elapsed());
    }
    let (med, min, p95) = median_ms(pre_t);
    println!(
        "metrics precompute:  median {med:8.2} ms  min {min:8.2}  p95 {p95:8.2}   ({} surface points)",
        model.surface_points().len()
    );

    // Probe moves: tip shifted on a small spiral; each move rebuilds the zone and every metric.
    let options = ZoneOptions::default();
    let mut move_t = Vec::new();
    let mut last = None;
    for n in 0..runs.max(50) {
        let a = n as f64 * 0.9;
        let r = 0.1 * n as f64 % 4.0;
        let mut p = probe.clone();
        p.tip_lps_mm[0] += r * a.cos();
        p.tip_lps_mm[2] += r * a.sin();
        let t = Instant::now();
        let zones = margo_plan::build_zones(std::slice::from_ref(&p), &options)?;
        let m = model.evaluate(&zones.region);
        move_t.push(t.elapsed());
        if n == 0 {
            last = Some((zones, m));
        }
    }
    let (med, min, p95) = median_ms(move_t);
    let (zones, m) = last.context("no probe move")?;
    println!(
        "per probe move:      median {med:8.3} ms  min {min:8.3}  p95 {p95:8.3}   (zone + coverage T0..T10 + VIC + exact surface margins)"
    );
    println!(
        "metrics: coverage {:.2}% / +5 mm {:.2}% / +10 mm {:.2}%, minimal margin {:.3} mm",
        m.coverage_pct[0], m.coverage_pct[5], m.coverage_pct[10], m.min_margin_mm
    );

    if let Some(out) = args.export {
        std::fs::create_dir_all(&out)?;
        let g = seg.mask.geometry();
        let meta = serde_json::json!({
            "dims_ijk": g.dims(),
            "spacing_mm": <[f64; 3]>::from(g.spacing_mm()),
            "origin_lps_mm": <[f64; 3]>::from(g.origin_in_world().coords),
            "direction_columns": [
                <[f64; 3]>::from(g.axis_in_world(0)),
                <[f64; 3]>::from(g.axis_in_world(1)),
                <[f64; 3]>::from(g.axis_in_world(2)),
            ],
            "ellipsoid": zones.shapes[0].ellipsoid,
            "exact": {
                "min_margin_mm": m.min_margin_mm,
                "coverage_pct": m.coverage_pct[0],
                "margin5_pct": m.coverage_pct[5],
                "margin10_pct": m.coverage_pct[10],
                "per_move_median_ms": med,
            },
        });
        std::fs::write(
            out.join("plan_bench.json"),
            serde_json::to_string_pretty(&meta)?,
        )?;
        std::fs::write(out.join("tumour_mask_u8_ifastest.raw"), seg.mask.labels())?;
        println!("exported to {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
