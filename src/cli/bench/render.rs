//! `margo bench render`: frames per second after warm-up on a real CT (LIDC-IDRI-0001 by
//! default): MPR and a 20 mm MIP slab at 1024x1024, DVR at 512x512 at the interactive step and at
//! full quality. Each frame is rendered and waited for (no read-back, like an on-screen frame).
//! The CPU reslice of margo-volume (rayon) on the same MPR plane is timed alongside as the
//! reference point.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{cpu_seconds, load_average};
use margo_render::raycast::INTERACTIVE_STEP_SCALE;
use margo_render::{
    Frame, HeadlessRaycast, Preset, RenderMode, Renderer, TransferFunctionPreset, ViewName,
    ViewSpec, WindowPreset,
};
use margo_volume::nalgebra::Point3;
use margo_volume::{Volume, VolumeGeometry};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// CT folder (default: the shared LIDC-IDRI-0001).
    pub dir: Option<PathBuf>,
    /// Frames rendered before timing starts.
    #[arg(long, default_value_t = 3)]
    pub warmup: u32,
    /// Most timed frames per case (at least 2, and timing stops after --seconds).
    #[arg(long, default_value_t = 20)]
    pub frames: u32,
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Centre of the views, LPS mm (default: the LIDC-IDRI-0001 nodule).
    #[arg(
        long,
        value_name = "X,Y,Z",
        allow_hyphen_values = true,
        default_value = "56.2,86.2,-115.6"
    )]
    pub at: String,
    /// Skip the 512x512x1000 synthetic volume (upload + one MPR and one DVR frame).
    #[arg(long)]
    pub skip_large: bool,
    /// Time only the cases whose name contains this text (case-insensitive), e.g. `dvr lung`.
    #[arg(long)]
    pub only: Option<String>,
    /// Also time 1920x1080 frames (MPR axial; DVR lung and bone at full quality and at the
    /// interactive step) on the series repeated along its slices to 532 of them (LIDC-IDRI-0001
    /// 4x: 512x512x532), the real-GPU case. Meant for a machine with a GPU
    /// (bench/gpu.sh); slow on lavapipe.
    #[arg(long)]
    pub full_hd: bool,
    /// How ray-cast frames are drawn: in a compute pass or a fragment pass (default: the
    /// renderer's choice for the device).
    #[arg(long, value_enum)]
    pub raycast: Option<RaycastPath>,
}

/// `--raycast`: margo-render's `HeadlessRaycast`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RaycastPath {
    Compute,
    Fragment,
}

/// A headless renderer taking the `--raycast` path, if given.
fn open_renderer(args: &Args) -> anyhow::Result<Renderer> {
    let mut renderer = Renderer::new_headless().context("opening a GPU device")?;
    if let Some(path) = args.raycast {
        renderer.set_headless_raycast(match path {
            RaycastPath::Compute => HeadlessRaycast::Compute,
            RaycastPath::Fragment => HeadlessRaycast::Fragment,
        });
    }
    Ok(renderer)
}

/// Frames timed, wall time, and CPU seconds of the whole process (lavapipe's threads included)
/// over them: on a shared machine the CPU time per frame is what another load cannot inflate.
struct Timing {
    frames: u32,
    wall: Duration,
    cpu_s: Option<f64>,
}

impl Timing {
    fn row(&self, name: &str) -> String {
        let s = self.wall.as_secs_f64();
        let n = f64::from(self.frames);
        let cpu = self
            .cpu_s
            .map_or("-".to_string(), |c| format!("{:.1}", 1000.0 * c / n));
        format!(
            "| {name} | {} | {:.1} | {:.1} | {cpu} |",
            self.frames,
            n / s,
            1000.0 * s / n
        )
    }
}

fn time_frames(
    mut render: impl FnMut() -> anyhow::Result<()>,
    args: &Args,
) -> anyhow::Result<Timing> {
    for _ in 0..args.warmup {
        render()?;
    }
    // At least 2 frames; then until --frames frames or --seconds, whichever comes first.
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let mut n = 0;
    while n < 2 || (n < args.frames && start.elapsed().as_secs_f64() < args.seconds) {
        render()?;
        n += 1;
    }
    let wall = start.elapsed();
    let cpu_s = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
    Ok(Timing {
        frames: n,
        wall,
        cpu_s,
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => margo_volume::testdata::shared_dir()
            .map(|d| d.join("ct/lidc-idri-0001"))
            .context("no DIR given and no shared data folder found")?,
    };
    let at = {
        let [x, y, z] = crate::cli::render::parse_numbers::<3>(&args.at, "--at")?;
        Point3::new(x, y, z)
    };
    let loaded =
        margo_dicom::open_ct(&dir).with_context(|| format!("loading {}", dir.display()))?;
    let volume = &loaded.volume;
    let mut renderer = open_renderer(&args)?;
    let t = Instant::now();
    renderer
        .upload_volume(volume)
        .context("uploading the volume")?;
    let upload_s = t.elapsed().as_secs_f64();

    let mpr = |mode: RenderMode, slab: Option<f64>| {
        let mut s = ViewSpec::new(ViewName::Axial, 1024, 1024);
        s.at = Some(at);
        s.fov_mm = Some(360.0);
        s.preset = Some(Preset::Window(WindowPreset::Lung));
        s.mode = mode;
        s.slab_mm = slab;
        s
    };
    let dvr = |preset: TransferFunctionPreset, step_scale: f64| -> anyhow::Result<Frame> {
        let mut s = ViewSpec::new(ViewName::Coronal, 512, 512);
        s.mode = RenderMode::Dvr;
        s.preset = Some(Preset::Dvr(preset));
        let mut frame = s.frame(volume.geometry())?;
        if let Frame::Raycast(v) = &mut frame {
            v.step_scale = step_scale;
        }
        Ok(frame)
    };
    let interactive = |preset: &str| {
        format!("DVR {preset} 512x512, interactive step (x{INTERACTIVE_STEP_SCALE})")
    };
    let cases: Vec<(String, Frame)> = vec![
        (
            "MPR axial 1024x1024 (linear)".into(),
            mpr(RenderMode::Mpr, None).frame(volume.geometry())?,
        ),
        (
            "MIP slab 20 mm 1024x1024".into(),
            mpr(RenderMode::Mip, Some(20.0)).frame(volume.geometry())?,
        ),
        (
            interactive("lung"),
            dvr(TransferFunctionPreset::LungAirways, INTERACTIVE_STEP_SCALE)?,
        ),
        (
            "DVR lung 512x512, full quality".into(),
            dvr(TransferFunctionPreset::LungAirways, 1.0)?,
        ),
        (
            interactive("bone"),
            dvr(TransferFunctionPreset::Bone, INTERACTIVE_STEP_SCALE)?,
        ),
        (
            "DVR bone 512x512, full quality".into(),
            dvr(TransferFunctionPreset::Bone, 1.0)?,
        ),
    ];
    println!("# margo bench render: {}", dir.display());
    println!(
        "volume {:?} voxels, adapter {}, upload {:.2} s, ray casting in a {:?} pass",
        volume.dims(),
        renderer.adapter_name(),
        upload_s,
        renderer.headless_raycast()
    );
    println!(
        "load average (1 min) {}",
        load_average().unwrap_or_else(|| "-".into())
    );
    println!("| case | frames | fps | ms/frame | CPU ms/frame |");
    println!("|---|---|---|---|---|");
    let wanted = |name: &str| wanted(&args, name);
    for (name, frame) in cases.iter().filter(|(name, _)| wanted(name)) {
        let timing = time_frames(|| Ok(renderer.render_and_wait(frame)?), &args)?;
        println!("{}", timing.row(name));
    }
    // Reference: the CPU reslice of the same MPR plane (margo-volume, rayon, all cores).
    if let Frame::Mpr(v) = &cases[0].1
        && wanted("CPU reslice")
    {
        let grid = v.grid()?;
        let timing = time_frames(
            || {
                std::hint::black_box(margo_volume::reslice::reslice(
                    volume,
                    &grid,
                    margo_volume::Interpolation::Linear,
                ));
                Ok(())
            },
            &args,
        )?;
        println!(
            "{}",
            timing.row("CPU reslice (margo-volume, rayon), same MPR plane 1024x1024")
        );
    }
    drop(renderer);
    if args.full_hd {
        full_hd(&args, volume)?;
    }
    if !args.skip_large {
        large_volume(&args)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Slices of the 1920x1080 case: LIDC-IDRI-0001's 133, four times.
const FULL_HD_SLICES: usize = 532;

/// `volume` with its slices repeated (0, 1, .., n-1, 0, 1, ..) to `slices` of them, continuing
/// the same geometry: a taller volume of real anatomy for timing.
fn repeat_slices(volume: &Volume<i16>, slices: usize) -> anyhow::Result<Volume<i16>> {
    let g = volume.geometry();
    let [nx, ny, nz] = g.dims();
    let s = g.spacing_mm();
    let o = g.origin_in_world();
    let geometry = VolumeGeometry::new(
        [nx, ny, slices],
        [s.x, s.y, s.z],
        [o.x, o.y, o.z],
        *g.direction(),
    )?;
    let per_slice = nx * ny;
    let voxels = (0..slices)
        .flat_map(|k| {
            volume.voxels()[(k % nz) * per_slice..][..per_slice]
                .iter()
                .copied()
        })
        .collect();
    Ok(Volume::new(geometry, voxels)?)
}

/// The real-GPU figures: 1920x1080 frames on a 512x512x532 volume.
fn full_hd(args: &Args, volume: &Volume<i16>) -> anyhow::Result<()> {
    let tall = repeat_slices(volume, FULL_HD_SLICES)?;
    let mut renderer = open_renderer(args)?;
    let t = Instant::now();
    renderer
        .upload_volume(&tall)
        .context("uploading the 532-slice volume")?;
    println!(
        "| {:?} (slices repeated): upload | 1 | - | {:.0} | - |",
        tall.dims(),
        1000.0 * t.elapsed().as_secs_f64()
    );
    let (w, h) = (1920, 1080);
    let mut mpr = ViewSpec::new(ViewName::Axial, w, h);
    mpr.preset = Some(Preset::Window(WindowPreset::Lung));
    let mut cases = vec![(
        format!("{w}x{h} MPR axial (linear), 532 slices"),
        mpr.frame(tall.geometry())?,
    )];
    for preset in [
        TransferFunctionPreset::LungAirways,
        TransferFunctionPreset::Bone,
    ] {
        for (step_name, step_scale) in [
            (
                format!("interactive step (x{INTERACTIVE_STEP_SCALE})"),
                INTERACTIVE_STEP_SCALE,
            ),
            ("full quality".to_string(), 1.0),
        ] {
            let mut s = ViewSpec::new(ViewName::Coronal, w, h);
            s.mode = RenderMode::Dvr;
            s.preset = Some(Preset::Dvr(preset));
            let mut frame = s.frame(tall.geometry())?;
            if let Frame::Raycast(v) = &mut frame {
                v.step_scale = step_scale;
            }
            cases.push((
                format!(
                    "{w}x{h} DVR {}, {step_name}, 532 slices",
                    preset.name().trim_start_matches("dvr-")
                ),
                frame,
            ));
        }
    }
    for (name, frame) in cases.iter().filter(|(name, _)| wanted(args, name)) {
        let timing = time_frames(|| Ok(renderer.render_and_wait(frame)?), args)?;
        println!("{}", timing.row(name));
    }
    Ok(())
}

/// Whether `--only` selects the case `name`.
fn wanted(args: &Args, name: &str) -> bool {
    args.only
        .as_ref()
        .is_none_or(|o| name.to_lowercase().contains(&o.to_lowercase()))
}

/// The largest volume the issue asks for: 512x512x1000 (0.7 x 0.7 x 0.5 mm), synthetic.
fn large_volume(args: &Args) -> anyhow::Result<()> {
    let geometry =
        VolumeGeometry::axis_aligned([512, 512, 1000], [0.7, 0.7, 0.5], [-179.0, -179.0, -250.0])?;
    let g = geometry.clone();
    let volume = Volume::from_fn(geometry, move |i, j, k| {
        let p = g.world_from_ijk([i, j, k]);
        let r = (p.x * p.x + p.y * p.y).sqrt();
        if r > 150.0 {
            -1000
        } else if (p.coords - margo_volume::nalgebra::Vector3::new(40.0, 30.0, 10.0)).norm() < 12.0
            || (r > 140.0)
        {
            400
        } else {
            -850 + ((i ^ j ^ k) & 31) as i16
        }
    });
    let mut renderer = open_renderer(args)?;
    let t = Instant::now();
    renderer
        .upload_volume(&volume)
        .context("uploading 512x512x1000")?;
    let upload_s = t.elapsed().as_secs_f64();
    let mut sag = ViewSpec::new(ViewName::Sagittal, 1024, 1024);
    sag.preset = Some(Preset::Window(WindowPreset::Lung));
    let sag = sag.frame(volume.geometry())?;
    let mut dvr = ViewSpec::new(ViewName::Coronal, 512, 512);
    dvr.mode = RenderMode::Dvr;
    dvr.preset = Some(Preset::Dvr(TransferFunctionPreset::Bone));
    let dvr = dvr.frame(volume.geometry())?;
    println!(
        "| 512x512x1000 synthetic: upload | 1 | - | {:.0} | - |",
        1000.0 * upload_s
    );
    for (name, frame) in [
        ("512x512x1000 synthetic: MPR sagittal 1024x1024", &sag),
        ("512x512x1000 synthetic: DVR bone 512x512", &dvr),
    ] {
        let timing = time_frames(
            || Ok(renderer.render_and_wait(frame)?),
            &Args {
                frames: 3,
                seconds: 0.0,
                warmup: 1,
                ..args.clone()
            },
        )?;
        println!("{}", timing.row(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_slices_continue_the_stack_with_the_same_geometry() {
        let g = VolumeGeometry::axis_aligned([3, 2, 4], [0.7, 0.8, 2.5], [-10.0, 5.0, 20.0])
            .expect("valid geometry");
        let v = Volume::from_fn(g, |i, j, k| (100 * k + 10 * j + i) as i16);
        let tall = repeat_slices(&v, 10).expect("repeated");
        assert_eq!(tall.dims(), [3, 2, 10]);
        assert_eq!(tall.geometry().spacing_mm(), v.geometry().spacing_mm());
        assert_eq!(
            tall.geometry().origin_in_world(),
            v.geometry().origin_in_world()
        );
        for k in 0..10 {
            assert_eq!(tall.slice(k), v.slice(k % 4), "slice {k}");
        }
    }
}
