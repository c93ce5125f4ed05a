//! Command-line interface. One module per subcommand; each exposes `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod bench;
pub mod info;
pub mod phantom;
pub mod plan;
pub mod render;

/// Margo: CT viewer for planning percutaneous ablation of lung tumours.
///
/// Without a subcommand, opens the desktop app on DIR (default: the bundled sample case).
#[derive(Debug, Parser)]
#[command(name = "margo", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub app: AppArgs,
}

/// Options of the desktop app (no subcommand).
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    /// DICOM folder to open (default: the bundled sample case).
    pub dir: Option<std::path::PathBuf>,
    /// Save the window as PNG once the case is loaded and every view is drawn, then exit.
    #[arg(long, value_name = "OUT.png")]
    pub screenshot: Option<std::path::PathBuf>,
    /// Time this many frames while scrolling and while dragging a probe, print JSON, exit.
    #[arg(long, value_name = "N")]
    pub bench_frames: Option<usize>,
    /// Window size in points.
    #[arg(long, value_name = "WxH", default_value = "1280x800")]
    pub size: String,
    /// Start on the welcome screen instead of the sample case.
    #[arg(long)]
    pub no_sample: bool,
    /// 2D views: `gpu` (margo-render), `cpu` (cached CPU reslice) or `auto` (CPU on software
    /// rasterisers such as lavapipe, where it is faster).
    #[arg(long, value_name = "auto|gpu|cpu", default_value = "auto")]
    pub mpr: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the series found in a folder (geometry, HU statistics, warnings, skipped files).
    Info(info::Args),
    /// Generate a synthetic chest CT phantom series with ground truth.
    Phantom(phantom::Args),
    /// Segment a nodule, place probes and compute coverage, margins and risks.
    Plan(plan::Args),
    /// Render one view of a series to a PNG.
    Render(render::Args),
    /// Benchmarks (loading, rendering, planning).
    Bench(bench::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Info(args)) => info::run(args),
        Some(Command::Phantom(args)) => phantom::run(args),
        Some(Command::Plan(args)) => plan::run(args),
        Some(Command::Render(args)) => render::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        None => run_app(cli.app),
    }
}

/// The desktop app: `margo [DIR] [--screenshot OUT.png] [--bench-frames N]`.
fn run_app(args: AppArgs) -> anyhow::Result<ExitCode> {
    let size = parse_size(&args.size)?;
    let mpr_on_gpu = match args.mpr.as_str() {
        "auto" => None,
        "gpu" => Some(true),
        "cpu" => Some(false),
        other => anyhow::bail!("--mpr must be auto, gpu or cpu, got {other:?}"),
    };
    let folder = match args.dir {
        Some(dir) => Some(dir),
        None if args.no_sample => None,
        None => margo::app::default_sample_folder(),
    };
    let options = margo::app::AppOptions {
        folder,
        screenshot: args.screenshot,
        bench_frames: args.bench_frames,
        recent_path: margo::app::recent::RecentFolders::default_path(),
        documents_dir: Some(margo::app::paths::default_documents_dir()),
        mpr_on_gpu,
    };
    margo::app::run_native(options, size)
}

fn parse_size(text: &str) -> anyhow::Result<[f32; 2]> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some([w.trim().parse::<f32>().ok()?, h.trim().parse::<f32>().ok()?]))
        .filter(|[w, h]| w.is_finite() && h.is_finite() && *w >= 320.0 && *h >= 240.0);
    parsed.ok_or_else(|| {
        anyhow::anyhow!("--size must be WxH with W >= 320 and H >= 240, got {text:?}")
    })
}
