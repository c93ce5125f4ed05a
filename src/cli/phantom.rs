//! `margo phantom`: write a synthetic chest CT series and its `truth.json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use margo_phantom::dicom_out::{SeriesOptions, TransferSyntax, write_series};
use margo_phantom::{Lobe, NoduleKind, NoduleSpec, PhantomConfig, generate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoduleArg {
    Solid,
    Ellipsoid,
    Lobulated,
    Juxtapleural,
    Juxtavascular,
    PartSolid,
    Ggo,
}

impl NoduleArg {
    fn kind(self) -> NoduleKind {
        match self {
            NoduleArg::Solid => NoduleKind::Solid,
            NoduleArg::Ellipsoid => NoduleKind::Ellipsoid,
            NoduleArg::Lobulated => NoduleKind::Lobulated,
            NoduleArg::Juxtapleural => NoduleKind::Juxtapleural,
            NoduleArg::Juxtavascular => NoduleKind::Juxtavascular,
            NoduleArg::PartSolid => NoduleKind::PartSolid,
            NoduleArg::Ggo => NoduleKind::GroundGlass,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LobeArg {
    Rul,
    Rml,
    Rll,
    Lul,
    Lll,
}

impl LobeArg {
    fn lobe(self) -> Lobe {
        match self {
            LobeArg::Rul => Lobe::Rul,
            LobeArg::Rml => Lobe::Rml,
            LobeArg::Rll => Lobe::Rll,
            LobeArg::Lul => Lobe::Lul,
            LobeArg::Lll => Lobe::Lll,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CompressionArg {
    /// Explicit VR Little Endian, uncompressed.
    #[default]
    None,
    /// JPEG-LS lossless (about 2-3x smaller).
    JpegLs,
}

/// Generate a synthetic chest CT phantom series (DICOM) with ground truth (truth.json).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder (created; existing files with the same names are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed: the same seed and options give the same voxels and UIDs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Exactly one nodule of this kind; without it, a default set of several kinds.
    #[arg(long, value_enum)]
    pub nodule: Option<NoduleArg>,
    /// Volume-equivalent diameter of the --nodule, mm.
    #[arg(long, default_value_t = 15.0, requires = "nodule")]
    pub diameter: f64,
    /// Lobe of the --nodule (default: RLL, or LUL for juxtapleural/ground glass).
    #[arg(long, value_enum, requires = "nodule")]
    pub lobe: Option<LobeArg>,
    /// Matrix: columns x rows x slices.
    #[arg(long, default_value = "512x512x160")]
    pub size: String,
    /// Voxel spacing in mm: column, row, slice.
    #[arg(long, default_value = "0.7,0.7,2.0")]
    pub spacing: String,
    /// Height (LPS z, mm) of the volume's centre; the lungs span about z = -100 to +158.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub centre_z: f64,
    /// CT noise standard deviation in HU (0 for a noise-free phantom).
    #[arg(long, default_value_t = 12.0)]
    pub noise: f32,
    /// Reconstruct the whole square instead of padding outside the circular field of view.
    #[arg(long)]
    pub no_fov_padding: bool,
    /// Pixel data transfer syntax.
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,
}

fn parse_triple<T: std::str::FromStr>(text: &str, sep: char, what: &str) -> anyhow::Result<[T; 3]> {
    let parts: Vec<&str> = text.split(sep).map(str::trim).collect();
    if parts.len() != 3 {
        bail!("{what} must have three values separated by '{sep}', got '{text}'");
    }
    let mut out = Vec::with_capacity(3);
    for p in parts {
        out.push(
            p.parse::<T>()
                .map_err(|_| anyhow::anyhow!("{what}: '{p}' is not a valid number in '{text}'"))?,
        );
    }
    Ok(out
        .try_into()
        .unwrap_or_else(|_| unreachable!("three values")))
}

/// The generator configuration the arguments describe.
pub fn config_from_args(args: &Args) -> anyhow::Result<PhantomConfig> {
    let mut config = PhantomConfig {
        seed: args.seed,
        dims: parse_triple(&args.size.to_lowercase(), 'x', "--size")?,
        spacing_mm: parse_triple(&args.spacing, ',', "--spacing")?,
        noise_sd_hu: args.noise,
        ..PhantomConfig::default()
    };
    config.centre_lps_mm[2] = args.centre_z;
    if args.no_fov_padding {
        config.fov_padding_hu = None;
    }
    if let Some(n) = args.nodule {
        let kind = n.kind();
        let lobe = args.lobe.map(LobeArg::lobe).unwrap_or(match kind {
            NoduleKind::Juxtapleural | NoduleKind::GroundGlass => Lobe::Lul,
            _ => Lobe::Rll,
        });
        config.nodules = vec![NoduleSpec {
            kind,
            diameter_mm: args.diameter,
            lobe,
        }];
    }
    Ok(config)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = config_from_args(&args)?;
    let t0 = Instant::now();
    let phantom = generate(&config).context("generating the phantom")?;
    let generated_s = t0.elapsed().as_secs_f64();
    let options = SeriesOptions {
        transfer_syntax: match args.compression {
            CompressionArg::None => TransferSyntax::ExplicitVrLittleEndian,
            CompressionArg::JpegLs => TransferSyntax::JpegLsLossless,
        },
        ..SeriesOptions::default()
    };
    let t1 = Instant::now();
    let files = write_series(&phantom, &args.out, &options)
        .with_context(|| format!("writing the DICOM series to {}", args.out.display()))?;
    let truth = phantom
        .write_truth(&args.out)
        .with_context(|| format!("writing truth.json to {}", args.out.display()))?;
    let written_s = t1.elapsed().as_secs_f64();
    println!(
        "phantom seed {}: {}x{}x{} voxels of {:?} mm, generated in {generated_s:.2} s, {} files written in {written_s:.2} s",
        config.seed,
        config.dims[0],
        config.dims[1],
        config.dims[2],
        config.spacing_mm,
        files.len()
    );
    for n in &phantom.truth.nodules {
        println!(
            "  nodule {:<13} {} centre LPS [{:.1}, {:.1}, {:.1}] mm, diameter {:.1} mm, volume {:.3} ml",
            n.kind.name(),
            n.lobe.name(),
            n.centre_lps_mm[0],
            n.centre_lps_mm[1],
            n.centre_lps_mm[2],
            n.diameter_mm,
            n.volume_ml
        );
    }
    println!("truth: {}", truth.display());
    println!("voxel sha256: {}", phantom.truth.voxel_sha256);
    Ok(ExitCode::SUCCESS)
}
