//! Frame goldens: the ONE tolerance definition of rendered-frame regression tests, plus PNG
//! reading/writing and the diff images. Included by the `tests/render_*.rs` end-to-end tests.
//!
//! A frame matches its reference `tests/golden/render/<name>.png` when at most
//! `TOLERANCE.max_differing_fraction` of its pixels differ by more than
//! `TOLERANCE.channel_levels` in any RGB channel (8-bit levels). The slack covers rounding and
//! texture-filtering differences between GPU drivers; a wrong orientation, window, overlay or
//! transfer function changes far more pixels. On mismatch `<name>.actual.png` and `<name>.diff.png`
//! go to `target/golden-diff/`. `UPDATE_GOLDEN=1` rewrites the references (look at them before
//! committing).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub struct Tolerance {
    /// Per-channel difference (8-bit levels) below which a pixel counts as equal.
    pub channel_levels: u8,
    /// Fraction of pixels allowed to differ by more than `channel_levels`.
    pub max_differing_fraction: f64,
}

pub const TOLERANCE: Tolerance = Tolerance {
    channel_levels: 3,
    max_differing_fraction: 0.005,
};

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/render")
}

pub fn diff_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("golden-diff")
}

/// RGB8 image, row-major, top row first.
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgb {
    pub fn from_rgba(width: u32, height: u32, rgba: &[u8]) -> Self {
        Self {
            width,
            height,
            pixels: rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        }
    }
}

pub fn read_png(path: &Path) -> Rgb {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("decoding {}: {e}", path.display()));
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
    let pixels = match info.color_type {
        png::ColorType::Rgb => buf[..info.buffer_size()].to_vec(),
        png::ColorType::Rgba => buf[..info.buffer_size()]
            .chunks(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        other => panic!("{}: unexpected colour type {other:?}", path.display()),
    };
    Rgb {
        width: info.width,
        height: info.height,
        pixels,
    }
}

pub fn write_png(image: &Rgb, path: &Path) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let file =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), image.width, image.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&image.pixels).unwrap();
    writer.finish().unwrap();
}

/// Count of pixels differing beyond the tolerance, and the diff image (golden in dim grey,
/// differing pixels in red scaled by the difference).
pub fn compare(actual: &Rgb, golden: &Rgb) -> (usize, Rgb) {
    let mut diff = Rgb {
        width: actual.width,
        height: actual.height,
        pixels: vec![0; actual.pixels.len()],
    };
    let mut differing = 0;
    for ((a, g), d) in actual
        .pixels
        .chunks(3)
        .zip(golden.pixels.chunks(3))
        .zip(diff.pixels.chunks_mut(3))
    {
        let worst = (0..3).map(|c| a[c].abs_diff(g[c])).max().unwrap_or(0);
        if worst > TOLERANCE.channel_levels {
            differing += 1;
            d.copy_from_slice(&[128u8.saturating_add(worst / 2).max(160), 0, 0]);
        } else {
            let grey = ((u16::from(g[0]) + u16::from(g[1]) + u16::from(g[2])) / 9) as u8;
            d.copy_from_slice(&[grey, grey, grey]);
        }
    }
    (differing, diff)
}

/// Checks `actual` against `tests/golden/render/<name>.png` (or rewrites it with `UPDATE_GOLDEN=1`).
pub fn check_golden(name: &str, actual: &Rgb) {
    let golden_path = golden_dir().join(format!("{name}.png"));
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        write_png(actual, &golden_path);
        eprintln!(
            "{name}: golden rewritten at {} (look at it before committing)",
            golden_path.display()
        );
        return;
    }
    let actual_path = diff_dir().join(format!("{name}.actual.png"));
    if !golden_path.exists() {
        write_png(actual, &actual_path);
        panic!(
            "{name}: no reference {}; the frame is at {}. Run with UPDATE_GOLDEN=1 to create it, and look at it.",
            golden_path.display(),
            actual_path.display()
        );
    }
    let golden = read_png(&golden_path);
    if (golden.width, golden.height) != (actual.width, actual.height) {
        write_png(actual, &actual_path);
        panic!(
            "{name}: size {}x{} differs from the reference's {}x{}; the frame is at {}",
            actual.width,
            actual.height,
            golden.width,
            golden.height,
            actual_path.display()
        );
    }
    let (differing, diff) = compare(actual, &golden);
    let total = (actual.width * actual.height) as usize;
    let allowed = (TOLERANCE.max_differing_fraction * total as f64).floor() as usize;
    if differing > allowed {
        let diff_path = diff_dir().join(format!("{name}.diff.png"));
        write_png(actual, &actual_path);
        write_png(&diff, &diff_path);
        panic!(
            "{name}: {differing} of {total} pixels differ by more than {} levels (allowed {allowed}); see {} and {}",
            TOLERANCE.channel_levels,
            actual_path.display(),
            diff_path.display()
        );
    }
    eprintln!("{name}: {differing} of {total} pixels beyond tolerance (allowed {allowed})");
}

/// A headless renderer, or `None` with a visible skip line when no GPU adapter exists.
pub fn renderer(test: &str) -> Option<margo_render::Renderer> {
    match margo_render::Renderer::new_headless() {
        Ok(r) => Some(r),
        Err(e @ margo_render::RenderError::RequestAdapter { .. }) => {
            if std::env::var("MARGO_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("{test}: no GPU adapter and MARGO_REQUIRE_GPU=1: {e}");
            }
            eprintln!("{test}: skipped: no GPU adapter ({e})");
            None
        }
        Err(e) => panic!("{test}: could not create the renderer: {e}"),
    }
}
