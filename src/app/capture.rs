//! `--screenshot OUT.png`: wait until the case is loaded and every view has drawn a complete
//! frame, save the window as PNG and close. `--bench-frames N`: time N frames while scrolling
//! and N while dragging a probe, print the result as JSON and close.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use eframe::egui;
use margo_volume::nalgebra::Vector3;

use super::MargoApp;

/// Exit status shared between the app and `main` (eframe's run loop returns `()`).
#[derive(Debug, Clone, Default)]
pub struct ExitCode(Arc<AtomicU8>);

impl ExitCode {
    pub fn set(&self, code: u8) {
        self.0.store(code, Ordering::Relaxed);
    }
    pub fn get(&self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.0.load(Ordering::Relaxed))
    }
}

/// Frames to wait after everything is drawn, so the window surface holds a complete frame.
const SETTLE_FRAMES: u32 = 3;
/// Give up waiting for the case after this long (still save what the window shows).
const LOAD_TIMEOUT: Duration = Duration::from_secs(240);

#[derive(Default)]
pub struct Capture {
    screenshot: Option<PathBuf>,
    bench_frames: Option<usize>,
    pub exit: ExitCode,
    started: Option<Instant>,
    ready_frames: u32,
    requested: bool,
    result: Arc<Mutex<Option<Result<(), String>>>>,
    failure_code: u8,
    bench: Option<Bench>,
}

impl Capture {
    pub fn new(screenshot: Option<PathBuf>, bench_frames: Option<usize>) -> Self {
        Self {
            screenshot,
            bench_frames,
            ..Default::default()
        }
    }

    pub fn active(&self) -> bool {
        self.screenshot.is_some() || self.bench_frames.is_some()
    }
}

/// Asks the window to close, and ends the process if it has not closed a few seconds later
/// (a headless run must never hang after its result is written).
fn close_with(ctx: &egui::Context, exit: &ExitCode) {
    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    let code = exit.0.load(Ordering::Relaxed);
    let _ = std::thread::Builder::new()
        .name("margo-exit".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            std::process::exit(i32::from(code));
        });
}

/// Called at the end of every frame.
pub fn step(app: &mut MargoApp, ctx: &egui::Context, viewer_ready: Option<bool>, loading: bool) {
    if !app.capture.active() {
        return;
    }
    let started = *app.capture.started.get_or_insert_with(Instant::now);
    ctx.request_repaint();
    if app.capture.bench_frames.is_some() {
        bench_step(app, ctx, viewer_ready);
        return;
    }
    let Some(path) = app.capture.screenshot.clone() else {
        return;
    };
    let c = &mut app.capture;
    if let Some(result) = c.result.lock().ok().and_then(|mut r| r.take()) {
        match result {
            Ok(()) => {
                eprintln!("saved screenshot {}", path.display());
                c.exit.set(c.failure_code);
            }
            Err(e) => {
                eprintln!("error: {e}");
                c.exit.set(1);
            }
        }
        close_with(ctx, &c.exit);
        return;
    }
    if c.requested {
        return;
    }
    let failed = viewer_ready.is_none() && !loading;
    let timed_out = started.elapsed() > LOAD_TIMEOUT;
    if viewer_ready == Some(true) || failed || timed_out {
        c.ready_frames += 1;
    }
    if c.ready_frames >= SETTLE_FRAMES {
        if failed {
            eprintln!("error: no case is shown: {}", app.errors.join("; "));
            c.failure_code = 2;
        } else if timed_out && viewer_ready != Some(true) {
            eprintln!("error: the views were not ready after {LOAD_TIMEOUT:?}");
            c.failure_code = 3;
        }
        c.requested = true;
        let result = c.result.clone();
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            let r = save_png(&path, &image).map_err(|e| format!("{e:#}"));
            if let Ok(mut slot) = result.lock() {
                *slot = Some(r);
            }
            repaint.request_repaint();
        });
    }
}

/// Saves the next frame of the window as PNG (the "Screenshot" button); the outcome lands in
/// `note` for the top bar.
pub fn save_window(
    ctx: &egui::Context,
    path: PathBuf,
    region: Option<egui::Rect>,
    note: Arc<Mutex<Option<String>>>,
) {
    let repaint = ctx.clone();
    let ppp = ctx.pixels_per_point();
    ctx.request_screenshot(move |image| {
        let image = match region {
            Some(r) => Arc::new(crop(&image, r, ppp)),
            None => image,
        };
        let msg = match save_png(&path, &image) {
            Ok(()) => format!("saved {}", path.display()),
            Err(e) => format!("screenshot failed: {e:#}"),
        };
        if let Ok(mut n) = note.lock() {
            *n = Some(msg);
        }
        repaint.request_repaint();
    });
}

/// The part of `image` under `region` (points), clamped to the image (never panics).
pub fn crop(
    image: &egui::ColorImage,
    region: egui::Rect,
    pixels_per_point: f32,
) -> egui::ColorImage {
    let [w, h] = image.size;
    let clamp = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, x1) = (clamp(region.min.x, w), clamp(region.max.x, w));
    let (y0, y1) = (clamp(region.min.y, h), clamp(region.max.y, h));
    let (cw, ch) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    let mut pixels = Vec::with_capacity(cw * ch);
    for y in y0..y0 + ch {
        pixels.extend_from_slice(&image.pixels[y * w + x0..y * w + x0 + cw]);
    }
    egui::ColorImage::new([cw, ch], pixels)
}

/// Writes an egui image as an RGBA PNG, atomically.
pub fn save_png(path: &Path, image: &egui::ColorImage) -> anyhow::Result<()> {
    let [w, h] = image.size;
    let mut rgba = Vec::with_capacity(w * h * 4);
    for p in &image.pixels {
        let [r, g, b, a] = p.to_srgba_unmultiplied();
        rgba.extend_from_slice(&[r, g, b, a]);
    }
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().context("encoding PNG header")?;
        writer
            .write_image_data(&rgba)
            .context("encoding PNG data")?;
    }
    super::recent::write_atomically(path, &bytes)
        .with_context(|| format!("saving screenshot {}", path.display()))
}

/// "Export report": on the next frame, crops each view from the window and writes the HTML
/// report with those PNGs (see [`write_report`]); the outcome lands in `note`.
pub fn export_report(
    ctx: &egui::Context,
    report: margo_plan::report::PlanReport,
    html_path: PathBuf,
    views: Vec<(String, egui::Rect)>,
    note: Arc<Mutex<Option<String>>>,
) {
    let repaint = ctx.clone();
    let ppp = ctx.pixels_per_point();
    ctx.request_screenshot(move |image| {
        let images: Vec<(String, egui::ColorImage)> = views
            .iter()
            .map(|(caption, rect)| (caption.clone(), crop(&image, *rect, ppp)))
            .filter(|(_, img)| img.size[0] > 0 && img.size[1] > 0)
            .collect();
        let msg = match write_report(&html_path, &report, &images) {
            Ok(()) => format!("wrote {}", html_path.display()),
            Err(e) => format!("report failed: {e:#}"),
        };
        if let Ok(mut n) = note.lock() {
            *n = Some(msg);
        }
        repaint.request_repaint();
    });
}

/// The folder beside `html_path` that holds its images: `NAME_files` for `NAME.html`.
pub fn report_files_dir(html_path: &Path) -> PathBuf {
    let stem = html_path
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
    html_path.with_file_name(format!("{stem}_files"))
}

/// Writes `NAME_files/<view>.png` for each view, the JSON report as `NAME.json`, then the HTML
/// page `NAME.html` last (each file atomically), so the page never points at missing images.
pub fn write_report(
    html_path: &Path,
    report: &margo_plan::report::PlanReport,
    views: &[(String, egui::ColorImage)],
) -> anyhow::Result<()> {
    let dir = report_files_dir(html_path);
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut images = Vec::new();
    for (n, (caption, image)) in views.iter().enumerate() {
        // File names from the caption, reduced to safe characters (and unique).
        let mut name: String = caption
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        if name.is_empty()
            || images
                .iter()
                .any(|(_, p): &(String, String)| p.ends_with(&format!("/{name}.png")))
        {
            name = format!("{name}-{n}");
        }
        let file = format!("{name}.png");
        save_png(&dir.join(&file), image)?;
        images.push((caption.clone(), format!("{dir_name}/{file}")));
    }
    super::recent::write_atomically(
        &html_path.with_extension("json"),
        report.to_json().as_bytes(),
    )?;
    super::recent::write_atomically(html_path, report.to_html(&images).as_bytes())
        .with_context(|| format!("writing report {}", html_path.display()))
}

/// Frame-time measurement: scrolling, then dragging a probe end.
struct Bench {
    frames: usize,
    scenario: usize,
    last: Option<Instant>,
    times_ms: Vec<f64>,
    results: Vec<(String, Vec<f64>)>,
    direction: f64,
}

const SCENARIOS: [&str; 2] = ["scroll axial", "drag probe"];

fn bench_step(app: &mut MargoApp, ctx: &egui::Context, viewer_ready: Option<bool>) {
    let frames = app.capture.bench_frames.unwrap_or(100).max(2);
    if viewer_ready != Some(true) && app.capture.bench.is_none() {
        if viewer_ready.is_none() && !app.errors.is_empty() {
            eprintln!("error: bench needs a case: {}", app.errors.join("; "));
            app.capture.exit.set(2);
            close_with(ctx, &app.capture.exit);
        }
        return;
    }
    let bench = app.capture.bench.get_or_insert_with(|| Bench {
        frames,
        scenario: 0,
        last: None,
        times_ms: Vec::new(),
        results: Vec::new(),
        direction: 1.0,
    });
    let now = Instant::now();
    if let Some(last) = bench.last {
        bench.times_ms.push((now - last).as_secs_f64() * 1e3);
    }
    bench.last = Some(now);
    if bench.times_ms.len() >= bench.frames {
        let name = SCENARIOS[bench.scenario].to_owned();
        bench
            .results
            .push((name, std::mem::take(&mut bench.times_ms)));
        bench.scenario += 1;
        bench.last = None;
    }
    let scenario = bench.scenario;
    if scenario >= SCENARIOS.len() {
        let report = bench_report(&bench.results, ctx);
        println!("{report}");
        app.capture.exit.set(0);
        close_with(ctx, &app.capture.exit);
        return;
    }
    let direction = bench.direction;
    let Some(v) = app.viewer_mut() else { return };
    match scenario {
        0 => {
            let before = v.state.crosshair_in_world;
            v.scroll(0, direction, false);
            if v.state.crosshair_in_world == before
                && let Some(b) = app.capture.bench.as_mut()
            {
                b.direction = -b.direction;
            }
        }
        _ => {
            if v.plan.probes.is_empty() {
                let tip = v.state.crosshair_in_world;
                v.plan.add_probe(tip, tip + Vector3::new(60.0, -60.0, 20.0));
            }
            let n = app.capture.bench.as_ref().map_or(0, |b| b.times_ms.len()) as f64;
            if let Some(v) = app.viewer_mut() {
                let tip = v.plan.probes[0].tip;
                let moved = tip + Vector3::new((n * 0.3).sin() * 0.8, (n * 0.3).cos() * 0.8, 0.0);
                // As a user drags a probe end: the planes stay, overlays and metrics follow.
                v.plan.move_probe_end(0, true, moved);
            }
        }
    }
}

fn bench_report(results: &[(String, Vec<f64>)], ctx: &egui::Context) -> String {
    let size = ctx.content_rect().size();
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|(name, t)| {
            let mut s = t.clone();
            s.sort_by(f64::total_cmp);
            let median = s.get(s.len() / 2).copied().unwrap_or(f64::NAN);
            let worst = s.last().copied().unwrap_or(f64::NAN);
            serde_json::json!({"scenario": name, "frames": s.len(), "median_ms": median, "worst_ms": worst})
        })
        .collect();
    serde_json::json!({"window_points": [size.x, size.y], "results": rows}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_takes_the_region_and_clamps_to_the_image() {
        let pixels = (0..12u8).map(egui::Color32::from_gray).collect();
        let image = egui::ColorImage::new([4, 3], pixels);
        let c = crop(
            &image,
            egui::Rect::from_min_max(egui::pos2(1.0, 1.0), egui::pos2(3.0, 3.0)),
            1.0,
        );
        assert_eq!(c.size, [2, 2]);
        assert_eq!(c.pixels[0], egui::Color32::from_gray(5));
        assert_eq!(c.pixels[3], egui::Color32::from_gray(10));
        // Partly outside, or inverted: clamped, never a panic.
        let c = crop(
            &image,
            egui::Rect::from_min_max(egui::pos2(-5.0, 2.0), egui::pos2(50.0, 9.0)),
            1.0,
        );
        assert_eq!(c.size, [4, 1]);
        let c = crop(
            &image,
            egui::Rect::from_min_max(egui::pos2(3.0, 3.0), egui::pos2(1.0, 1.0)),
            2.0,
        );
        assert_eq!(c.size, [0, 0]);
    }
}
