//! `margo info <DIR> [--json]`: every series in a folder, loaded, with geometry, HU statistics,
//! a voxel checksum, warnings and skipped files.
//!
//! JSON schema (one object on stdout):
//! `{"series":[{"series_uid","modality","description","dims":[nx,ny,nz],"spacing_mm":[sx,sy,sz],
//! "origin_lps_mm":[x,y,z],"direction":[[ix,iy,iz],[jx,jy,jz],[kx,ky,kz]],"hu_min","hu_max",
//! "hu_mean","voxel_sha256","warnings":[..],"skipped":[{"path","reason"}]}]}`
//! `voxel_sha256` is the SHA-256 of the i16 little-endian voxels in i-fastest order. Exit code 0
//! when at least one series loaded, 2 when none did (reasons on stderr).

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use margo_dicom::{LoadProgress, LoadedSeries, SeriesMeta, SkippedFile};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to scan (recursively) for DICOM files; a single file works too.
    pub dir: PathBuf,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct InfoJson<'a> {
    pub series: &'a [SeriesJson],
}

#[derive(Debug, Serialize)]
pub struct SeriesJson {
    pub series_uid: String,
    pub modality: String,
    pub description: String,
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub origin_lps_mm: [f64; 3],
    /// The i, j and k axis unit vectors in LPS.
    pub direction: [[f64; 3]; 3],
    pub hu_min: i16,
    pub hu_max: i16,
    pub hu_mean: f64,
    pub voxel_sha256: String,
    pub warnings: Vec<String>,
    pub skipped: Vec<SkippedJson>,
}

#[derive(Debug, Serialize)]
pub struct SkippedJson {
    pub path: String,
    pub reason: String,
}

impl From<&SkippedFile> for SkippedJson {
    fn from(s: &SkippedFile) -> Self {
        Self {
            path: s.path.display().to_string(),
            reason: s.reason.clone(),
        }
    }
}

/// SHA-256 of the voxels as i16 little endian, i fastest (the order `Volume` stores them in).
pub fn voxel_sha256(voxels: &[i16]) -> String {
    let mut hasher = Sha256::new();
    let mut buf = Vec::with_capacity(64 * 1024 * 2);
    for chunk in voxels.chunks(64 * 1024) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
        hasher.update(&buf);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `with_sha`: the checksum costs about as much as loading a plain series (SHA-256 is
/// sequential), so the table view leaves it out; `--json` always has it.
pub fn series_json(loaded: &LoadedSeries, skipped: &[SkippedFile], with_sha: bool) -> SeriesJson {
    let g = loaded.volume.geometry();
    let voxels = loaded.volume.voxels();
    let (mut min, mut max, mut sum) = (i16::MAX, i16::MIN, 0i64);
    for &v in voxels {
        min = min.min(v);
        max = max.max(v);
        sum += i64::from(v);
    }
    let axis = |a: usize| {
        let v = g.axis_in_world(a);
        [v.x, v.y, v.z]
    };
    let o = g.origin_in_world();
    SeriesJson {
        series_uid: loaded.meta.series_uid.clone(),
        modality: loaded.meta.modality.clone(),
        description: loaded.meta.description.clone(),
        dims: g.dims(),
        spacing_mm: g.spacing_mm().into(),
        origin_lps_mm: [o.x, o.y, o.z],
        direction: [axis(0), axis(1), axis(2)],
        hu_min: min,
        hu_max: max,
        hu_mean: sum as f64 / voxels.len().max(1) as f64,
        voxel_sha256: if with_sha {
            voxel_sha256(voxels)
        } else {
            String::new()
        },
        warnings: loaded.meta.warnings.clone(),
        skipped: skipped.iter().map(SkippedJson::from).collect(),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = match margo_dicom::scan_folder(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            if args.json {
                println!("{{\"series\":[]}}");
            }
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let show_progress = std::io::stderr().is_terminal();
    let progress = |p: LoadProgress| {
        if show_progress {
            eprint!("\rloading {}/{} slices", p.slices_done, p.slices_total);
        }
        ControlFlow::Continue(())
    };

    let mut loaded_json = Vec::new();
    let mut loaded_meta = Vec::new();
    let mut failures = Vec::new();
    for summary in &report.series {
        match margo_dicom::load_series(summary, &progress) {
            Ok(loaded) => {
                loaded_json.push(series_json(&loaded, &report.skipped, args.json));
                loaded_meta.push(loaded.meta);
            }
            Err(e) => failures.push(format!(
                "series {} ({}, {} slices): {e}",
                summary.series_uid, summary.modality, summary.slice_count
            )),
        }
        if show_progress {
            eprint!("\r\x1b[K");
        }
    }

    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(
            &mut out,
            &InfoJson {
                series: &loaded_json,
            },
        )?;
        writeln!(out)?;
    } else {
        print_table(&report, &loaded_json, &loaded_meta);
    }
    for f in &failures {
        eprintln!("not loaded: {f}");
    }
    if loaded_json.is_empty() {
        if report.series.is_empty() {
            eprintln!(
                "no DICOM image series under {} ({} non-DICOM files ignored)",
                args.dir.display(),
                report.ignored.len()
            );
        }
        for s in &report.skipped {
            eprintln!("skipped {}: {}", s.path.display(), s.reason);
        }
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(report: &margo_dicom::ScanReport, loaded: &[SeriesJson], metas: &[SeriesMeta]) {
    println!(
        "{} series under {} ({} files skipped, {} non-DICOM ignored)",
        loaded.len(),
        report.root.display(),
        report.skipped.len(),
        report.ignored.len()
    );
    for (s, m) in loaded.iter().zip(metas) {
        println!();
        println!("series {}", s.series_uid);
        println!("  modality     {}  {}", s.modality, s.description);
        println!(
            "  dims         {} x {} x {}",
            s.dims[0], s.dims[1], s.dims[2]
        );
        println!(
            "  spacing      {:.6} x {:.6} x {:.6} mm",
            s.spacing_mm[0], s.spacing_mm[1], s.spacing_mm[2]
        );
        println!(
            "  origin (LPS) {:.4}, {:.4}, {:.4} mm",
            s.origin_lps_mm[0], s.origin_lps_mm[1], s.origin_lps_mm[2]
        );
        for (name, d) in ["i", "j", "k"].iter().zip(&s.direction) {
            println!(
                "  {name} axis       {:+.6}, {:+.6}, {:+.6}",
                d[0], d[1], d[2]
            );
        }
        println!(
            "  values       min {}  max {}  mean {:.2}",
            s.hu_min, s.hu_max, s.hu_mean
        );
        println!("  header       {}", header_line(m));
        println!(
            "  encoding     {}{}",
            m.transfer_syntaxes
                .iter()
                .map(|uid| margo_dicom::transfer_syntax_name(uid))
                .collect::<Vec<_>>()
                .join(", "),
            if m.lossy_compressed { " (lossy)" } else { "" }
        );
        for w in &s.warnings {
            println!("  warning      {w}");
        }
    }
    for s in &report.skipped {
        println!("skipped {}: {}", s.path.display(), s.reason);
    }
}

/// Display metadata on one line: what a reader checks before trusting the numbers.
fn header_line(m: &SeriesMeta) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &m.patient_position {
        parts.push(format!("position {p}"));
    }
    if let Some(k) = &m.kernel {
        parts.push(format!("kernel {k}"));
    }
    if let Some(t) = m.slice_thickness_mm {
        parts.push(format!("thickness {t} mm"));
    }
    for w in &m.window_presets {
        parts.push(format!("W/L {}/{}", w.width, w.center));
    }
    if let Some(p) = m.pixel_padding_value {
        parts.push(format!("padding value {p} (stored)"));
    }
    if m.rescale_slope != 1.0 || m.rescale_intercept != 0.0 {
        parts.push(format!(
            "rescale {} x + {}",
            m.rescale_slope, m.rescale_intercept
        ));
    }
    parts.push(m.anonymisation.summary());
    parts.join(", ")
}
