//! `margo render`: one view of a series to a PNG, exactly as the app draws it (same renderer, same
//! view defaults through `margo_render::ViewSpec`), with orientation letters unless `--no-labels`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use margo_render::{
    Interpolation, Preset, RenderMode, Renderer, RgbaImage, ViewName, ViewSpec, WindowLevel,
};
use margo_volume::nalgebra::{Point3, Vector3};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ViewArg {
    Axial,
    Coronal,
    Sagittal,
    Oblique,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    Mpr,
    Mip,
    Minip,
    Mean,
    Dvr,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum InterpolationArg {
    Nearest,
    Linear,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// DICOM folder holding the CT series.
    pub dir: PathBuf,
    /// Plane (MPR) or starting camera (dvr: coronal = from the front, sagittal = from the left,
    /// axial = from the feet).
    #[arg(long, value_enum)]
    pub view: ViewArg,
    /// Point the plane passes through and the image is centred on, LPS mm (default: volume centre).
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Oblique: viewing direction into the screen, LPS (axial is 0,0,1).
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    pub normal: Option<String>,
    /// Oblique: direction that points up on screen (default superior, or anterior for a vertical normal).
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    pub up: Option<String>,
    #[arg(long, value_enum, default_value = "mpr")]
    pub mode: ModeArg,
    /// Slab thickness in mm for mip/minip/mean (default: the whole volume).
    #[arg(long, value_name = "MM")]
    pub slab: Option<f64>,
    /// lung|mediastinum|bone|soft|header (windows) or dvr-lung|dvr-bone|dvr-vessels (--mode dvr).
    #[arg(long)]
    pub preset: Option<String>,
    /// Window centre and width in HU (overrides --preset; default: the header's window, else lung).
    #[arg(long, value_name = "CENTER,WIDTH", allow_hyphen_values = true)]
    pub window: Option<String>,
    /// Field of view width in mm (default: the whole volume); pixels are square.
    #[arg(long, value_name = "MM")]
    pub fov: Option<f64>,
    /// Output size in pixels.
    #[arg(long, value_name = "WxH", default_value = "512x512")]
    pub size: String,
    #[arg(long, value_name = "DEG", allow_hyphen_values = true)]
    pub azimuth: Option<f64>,
    #[arg(long, value_name = "DEG", allow_hyphen_values = true)]
    pub elevation: Option<f64>,
    #[arg(long, value_enum, default_value = "linear")]
    pub interpolation: InterpolationArg,
    /// Leave out orientation letters and the scale bar.
    #[arg(long)]
    pub no_labels: bool,
    /// Output PNG (written to a temporary file beside it, then renamed).
    #[arg(short = 'o', long = "output", value_name = "OUT.png")]
    pub output: PathBuf,
}

/// `N` comma-separated finite numbers (`X,Y,Z`, `CENTER,WIDTH`), for error messages named `what`.
pub(crate) fn parse_numbers<const N: usize>(text: &str, what: &str) -> anyhow::Result<[f64; N]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != N {
        bail!("{what} needs {N} comma-separated numbers, got '{text}'");
    }
    let mut out = [0.0f64; N];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p
            .parse()
            .with_context(|| format!("{what}: '{p}' is not a number"))?;
        if !o.is_finite() {
            bail!("{what}: '{p}' is not finite");
        }
    }
    Ok(out)
}

fn parse_size(text: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .with_context(|| format!("--size must look like 512x512, got '{text}'"))?;
    let w: u32 = w
        .trim()
        .parse()
        .with_context(|| format!("--size width '{w}'"))?;
    let h: u32 = h
        .trim()
        .parse()
        .with_context(|| format!("--size height '{h}'"))?;
    if w == 0 || h == 0 {
        bail!("--size must be at least 1x1, got {w}x{h}");
    }
    Ok((w, h))
}

/// The view the arguments describe (without the header window, which comes from the series).
pub fn spec_from_args(args: &Args) -> anyhow::Result<ViewSpec> {
    let (w, h) = parse_size(&args.size)?;
    let view = match args.view {
        ViewArg::Axial => ViewName::Axial,
        ViewArg::Coronal => ViewName::Coronal,
        ViewArg::Sagittal => ViewName::Sagittal,
        ViewArg::Oblique => ViewName::Oblique,
    };
    let mut spec = ViewSpec::new(view, w, h);
    spec.at = args
        .at
        .as_deref()
        .map(|t| parse_numbers::<3>(t, "--at"))
        .transpose()?
        .map(Point3::from);
    spec.normal = args
        .normal
        .as_deref()
        .map(|t| parse_numbers::<3>(t, "--normal"))
        .transpose()?
        .map(Vector3::from);
    spec.up = args
        .up
        .as_deref()
        .map(|t| parse_numbers::<3>(t, "--up"))
        .transpose()?
        .map(Vector3::from);
    spec.mode = match args.mode {
        ModeArg::Mpr => RenderMode::Mpr,
        ModeArg::Mip => RenderMode::Mip,
        ModeArg::Minip => RenderMode::MinIp,
        ModeArg::Mean => RenderMode::Mean,
        ModeArg::Dvr => RenderMode::Dvr,
    };
    spec.slab_mm = args.slab;
    spec.preset = match &args.preset {
        None => None,
        Some(p) => Some(Preset::parse(p).with_context(|| {
            format!("unknown --preset '{p}' (lung, mediastinum, bone, soft, header, dvr-lung, dvr-bone, dvr-vessels)")
        })?),
    };
    spec.window = match &args.window {
        None => None,
        Some(t) => {
            let [c, w] = parse_numbers::<2>(t, "--window")?;
            Some(WindowLevel::new(c, w).context("--window")?)
        }
    };
    spec.fov_mm = args.fov;
    spec.azimuth_deg = args.azimuth;
    spec.elevation_deg = args.elevation;
    spec.interpolation = match args.interpolation {
        InterpolationArg::Nearest => Interpolation::Nearest,
        InterpolationArg::Linear => Interpolation::Linear,
    };
    spec.labels = !args.no_labels;
    Ok(spec)
}

/// Writes an RGB PNG (the alpha channel is always opaque) atomically: encoded in memory, then
/// saved through a temporary file and a rename.
pub fn write_png_atomic(image: &RgbaImage, path: &Path) -> anyhow::Result<()> {
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, image.width, image.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("encoding the PNG")?;
        let rgb: Vec<u8> = image
            .pixels
            .chunks(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        writer.write_image_data(&rgb).context("encoding the PNG")?;
        writer.finish().context("encoding the PNG")?;
    }
    margo_volume::atomic::write_atomic(path, &png_bytes)
        .with_context(|| format!("saving {}", path.display()))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut spec = spec_from_args(&args)?;
    let loaded = margo_dicom::open_ct(&args.dir)
        .with_context(|| format!("loading the CT series in {}", args.dir.display()))?;
    spec.header_window = loaded
        .meta
        .window_presets
        .first()
        .and_then(|w| WindowLevel::new(w.center, w.width).ok());
    let frame = spec
        .frame(loaded.volume.geometry())
        .with_context(|| format!("setting up the {:?} view", args.view))?;
    let mut renderer = Renderer::new_headless().context("opening a GPU device")?;
    renderer
        .upload_volume(&loaded.volume)
        .context("uploading the volume to the GPU")?;
    let mut image = renderer.render_to_rgba(&frame).context("rendering")?;
    spec.annotate(&frame, &mut image);
    write_png_atomic(&image, &args.output)
        .with_context(|| format!("saving {}", args.output.display()))?;
    eprintln!(
        "wrote {} ({}x{}, {} on {})",
        args.output.display(),
        image.width,
        image.height,
        match &frame {
            margo_render::Frame::Mpr(v) => format!("MPR {:.3} mm/px", v.mm_per_pixel()),
            margo_render::Frame::Raycast(_) => "ray casting".to_string(),
        },
        renderer.adapter_name()
    );
    Ok(ExitCode::SUCCESS)
}
