//! Command-line interface. One module per subcommand; each exposes `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod info;

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
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Info(args)) => info::run(args),
        None => {
            anyhow::bail!("the desktop app is not built yet; see `margo --help` for the subcommands")
        }
    }
}
