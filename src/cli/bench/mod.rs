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
