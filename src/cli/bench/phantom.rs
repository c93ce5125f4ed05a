//! `margo bench phantom`: time to generate the default 512 x 512 x 160 chest phantom (and the
//! scene build alone), then to write it as DICOM uncompressed and JPEG-LS; dcmtk's `dcmcjpls`
//! compressing the same uncompressed series is timed alongside as the external reference.

use super::{cpu_seconds, load_average};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context;
use margo_phantom::dicom_out::{SeriesOptions, TransferSyntax, write_series};
use margo_phantom::{PhantomConfig, Scene, generate};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Timed generations (the best and the median are reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: u32,
    /// Matrix: columns x rows x slices.
    #[arg(long, default_value = "512x512x160")]
    pub size: String,
    /// Scratch folder for the DICOM writes (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub scratch: Option<PathBuf>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dims: Vec<usize> = args
        .size
        .to_lowercase()
        .split('x')
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--size '{}' is not NxNxN", args.size))?;
    anyhow::ensure!(dims.len() == 3, "--size '{}' is not NxNxN", args.size);
    let config = PhantomConfig {
        dims: [dims[0], dims[1], dims[2]],
        ..PhantomConfig::default()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "phantom {}x{}x{} at {:?} mm, {} nodules, {threads} threads",
        config.dims[0],
        config.dims[1],
        config.dims[2],
        config.spacing_mm,
        config.nodules.len()
    );
    let geometry = config.geometry()?;
    let bounds = geometry.world_bounds();
    let pad = 0.5 * geometry.spacing_mm().norm() + 1.0;
    let mut scene_s = Vec::new();
    let mut total_s = Vec::new();
    let mut cpu_s = Vec::new();
    let mut phantom = None;
    for _ in 0..args.repeats.max(1) {
        let t = Instant::now();
        Scene::build(&config, [bounds.min.z, bounds.max.z], pad)?;
        scene_s.push(t.elapsed().as_secs_f64());
        let cpu0 = cpu_seconds();
        let t = Instant::now();
        phantom = Some(generate(&config)?);
        total_s.push(t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu0, cpu_seconds()) {
            cpu_s.push(b - a);
        }
    }
    let phantom = phantom.expect("at least one run");
    println!(
        "generate (scene + rasterise + noise): best {:.2} s, median {:.2} s over {} runs",
        total_s.iter().cloned().fold(f64::MAX, f64::min),
        median(total_s.clone()),
        total_s.len()
    );
    if !cpu_s.is_empty() {
        println!(
            "  CPU time per generation: median {:.2} s (user + system, all threads; load average {})",
            median(cpu_s),
            load_average().unwrap_or_else(|| "?".into())
        );
    }
    println!(
        "  of which scene build (anatomy, trees, nodules): median {:.2} s",
        median(scene_s)
    );
    let scratch = args.scratch.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("margo-bench-phantom-{}", std::process::id()))
    });
    let evle = scratch.join("evle");
    let t = Instant::now();
    write_series(&phantom, &evle, &SeriesOptions::default())?;
    println!(
        "write DICOM explicit VR LE: {:.2} s, {:.1} MB",
        t.elapsed().as_secs_f64(),
        dir_bytes(&evle) as f64 / 1e6
    );
    if TransferSyntax::JpegLsLossless.available() {
        let jls = scratch.join("jpegls");
        let t = Instant::now();
        write_series(
            &phantom,
            &jls,
            &SeriesOptions {
                transfer_syntax: TransferSyntax::JpegLsLossless,
                ..SeriesOptions::default()
            },
        )?;
        println!(
            "write DICOM JPEG-LS lossless (CharLS, parallel): {:.2} s, {:.1} MB",
            t.elapsed().as_secs_f64(),
            dir_bytes(&jls) as f64 / 1e6
        );
    }
    // External reference: dcmtk compressing the same uncompressed files, one process per file.
    let out = scratch.join("dcmcjpls");
    std::fs::create_dir_all(&out)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&evle)?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let t = Instant::now();
    let mut ok = true;
    for f in &files {
        let target = out.join(f.file_name().unwrap_or_default());
        match Command::new("dcmcjpls").arg(f).arg(&target).status() {
            Ok(s) if s.success() => {}
            _ => {
                ok = false;
                break;
            }
        }
    }
    if ok {
        println!(
            "reference: dcmtk dcmcjpls on the same series (sequential): {:.2} s, {:.1} MB",
            t.elapsed().as_secs_f64(),
            dir_bytes(&out) as f64 / 1e6
        );
    } else {
        println!("reference: dcmcjpls not available (apt-get install dcmtk)");
    }
    if args.scratch.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(ExitCode::SUCCESS)
}
