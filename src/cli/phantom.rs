//! `margo phantom`. Not implemented yet (see its issue).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("margo phantom is not implemented yet")
}
