//! `margo bench load [DIR...]`: in-process timing of scanning and loading DICOM series, and the
//! process's peak RSS. Whole-process timings against dcm2niix are made by `bench/load.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folders to load (default: ../shared/ct/lidc-idri-0001).
    pub dirs: Vec<PathBuf>,
    /// Timed runs per folder (after one warm-up run).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dirs = if args.dirs.is_empty() {
        let shared = margo_volume::testdata::shared_dir()
            .context("no folder given and ../shared is absent")?;
        vec![shared.join("ct/lidc-idri-0001")]
    } else {
        args.dirs
    };
    let runs = args.runs.max(1);
    println!(
        "margo bench load: {runs} runs per folder after a warm-up; median (min) in ms; \
         cores: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<40} {:>9} {:>16} {:>16} {:>16} {:>9}",
        "folder", "slices", "scan ms", "load ms", "scan+load ms", "MB/s"
    );
    for dir in &dirs {
        let mut scan_t = Vec::with_capacity(runs);
        let mut load_t = Vec::with_capacity(runs);
        let mut slices = 0;
        let mut bytes = 0u64;
        for run in 0..=runs {
            let t0 = Instant::now();
            let report = margo_dicom::scan_folder(dir)
                .with_context(|| format!("scanning {}", dir.display()))?;
            let t1 = Instant::now();
            let series = margo_dicom::choose_ct(&report)?;
            let loaded = margo_dicom::load_series(series, &margo_dicom::no_progress)?;
            let t2 = Instant::now();
            std::hint::black_box(&loaded);
            if run == 0 {
                slices = loaded.volume.dims()[2];
                bytes = series
                    .files()
                    .iter()
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum();
                continue;
            }
            scan_t.push(t1 - t0);
            load_t.push(t2 - t1);
        }
        let total: Vec<Duration> = scan_t.iter().zip(&load_t).map(|(a, b)| *a + *b).collect();
        let name = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
        let median_total = median(&total);
        println!(
            "{:<40} {:>9} {:>16} {:>16} {:>16} {:>9.0}",
            name,
            slices,
            fmt(&scan_t),
            fmt(&load_t),
            fmt(&total),
            bytes as f64 / 1e6 / median_total.as_secs_f64()
        );
    }
    if let Some(kib) = peak_rss_kib() {
        println!(
            "peak RSS of this process: {:.1} MiB (several volumes may have been alive at once; \
             bench/load.sh measures `margo info` alone)",
            kib as f64 / 1024.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

fn fmt(v: &[Duration]) -> String {
    let min = v.iter().min().copied().unwrap_or_default();
    format!(
        "{:.1} ({:.1})",
        median(v).as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3
    )
}

/// VmHWM from /proc/self/status (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
