//! `margo bench <area>`: benchmarks whose results go into BENCHMARKS.md. Never timed
//! assertions in tests.

use std::process::ExitCode;

use clap::Subcommand;

mod load;
mod phantom;
mod plan;
mod render;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub area: Area,
}

#[derive(Debug, Subcommand)]
pub enum Area {
    /// DICOM loading speed and memory.
    Load(load::Args),
    /// Phantom generation speed.
    Phantom(phantom::Args),
    /// Segmentation and margin-metric speed.
    Plan(plan::Args),
    /// GPU frame rates (MPR, slabs, DVR).
    Render(render::Args),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.area {
        Area::Load(a) => load::run(a),
        Area::Phantom(a) => phantom::run(a),
        Area::Plan(a) => plan::run(a),
        Area::Render(a) => render::run(a),
    }
}

/// CPU seconds (user + system) this process has used, from /proc (Linux); None elsewhere.
pub(crate) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The 1-minute load average, to judge whether other work shared the cores.
pub(crate) fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_string)
}
