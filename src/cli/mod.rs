//! Command-line interface. One module per subcommand; each exposes `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod bench;
pub mod info;
pub mod phantom;
pub mod plan;
pub mod render;

/// Margo: CT viewer for planning percutaneous ablation of lung tumours.
#[derive(Debug, Parser)]
#[command(name = "margo", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
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
        None => {
            anyhow::bail!("the desktop app is not built yet; see `margo --help` for the subcommands")
        }
    }
}
