//! Shared by the app tests: a small synthetic chest case, a headless harness of the whole
//! app on wgpu (lavapipe in CI), and the golden-image comparison with its one tolerance.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::wgpu::{WgpuTestRenderer, create_render_state, default_wgpu_setup};
use margo::app::case::{Case, CaseInfo};
use margo::app::{AppOptions, MargoApp};
use margo_volume::{Volume, VolumeGeometry};

/// Window size of every app test (points, 1 pixel per point).
pub const SIZE: [f32; 2] = [1280.0, 800.0];

/// The one tolerance for app goldens: a pixel differs when any channel differs by more than
/// `CHANNEL_TOLERANCE` (anti-aliasing and lavapipe rounding), and an image fails when more
/// than `MAX_DIFFERING_FRACTION` of its pixels differ (font hinting across Mesa versions).
pub const CHANNEL_TOLERANCE: u8 = 12;
pub const MAX_DIFFERING_FRACTION: f64 = 0.002;

/// Synthetic chest: body ellipse (soft tissue 40 HU) with two lungs (-850 HU), a spine
/// (bone 700 HU) posterior, and a 16 mm solid nodule (30 HU) in the right lung (-x).
pub fn chest_case() -> Case {
    let dims = [128, 128, 64];
    let spacing = [2.5, 2.5, 5.0];
    let origin = [-158.75, -158.75, -157.5];
    let geometry = VolumeGeometry::axis_aligned(dims, spacing, origin).expect("valid geometry");
    let g = geometry.clone();
    let volume = Volume::from_fn(geometry, move |i, j, k| {
        let p = g.world_from_ijk([i, j, k]);
        let (x, y, z) = (p.x, p.y, p.z);
        let body = (x / 150.0).powi(2) + (y / 110.0).powi(2) <= 1.0;
        if !body {
            return -1000;
        }
        let spine = (x / 18.0).powi(2) + ((y - 75.0) / 18.0).powi(2) <= 1.0;
        if spine {
            return 700;
        }
        let in_lung = |cx: f64| {
            ((x - cx) / 55.0).powi(2) + ((y + 5.0) / 75.0).powi(2) + (z / 150.0).powi(2) <= 1.0
        };
        if in_lung(-70.0) || in_lung(70.0) {
            let nodule =
                ((x + 70.0).powi(2) + (y + 10.0).powi(2) + (z - 10.0).powi(2)).sqrt() <= 8.0;
            if nodule {
                return 30;
            }
            // A vessel running cranio-caudally in the left lung.
            if ((x - 60.0).powi(2) + (y - 5.0).powi(2)).sqrt() <= 3.0 {
                return 60;
            }
            return -850;
        }
        40
    });
    Case {
        volume: Arc::new(volume),
        info: CaseInfo {
            folder: PathBuf::new(),
            series_uid: "1.2.3.synthetic".into(),
            description: "Synthetic chest (test)".into(),
            modality: "CT".into(),
            is_ct: true,
            patient: "ANON^TEST".into(),
            ..CaseInfo::default()
        },
    }
}

/// Centre of the synthetic nodule, LPS mm.
pub const NODULE_CENTRE: [f64; 3] = [-70.0, -10.0, 10.0];

/// A harness running the whole app, rendering with wgpu; the app shares the wgpu device.
pub fn harness(app_setup: impl FnOnce(&mut MargoApp)) -> Harness<'static, MargoApp> {
    harness_with(AppOptions::default(), app_setup)
}

/// Like [`harness`], with start-up options (e.g. a folder to open).
pub fn harness_with(
    options: AppOptions,
    app_setup: impl FnOnce(&mut MargoApp),
) -> Harness<'static, MargoApp> {
    let render_state = create_render_state(
        default_wgpu_setup(),
        eframe::egui_wgpu::RendererOptions::PREDICTABLE,
    );
    let mut app = MargoApp::new(options, Some(render_state.clone()));
    app_setup(&mut app);
    Harness::builder()
        .with_size(egui::Vec2::from(SIZE))
        .with_pixels_per_point(1.0)
        // 30 fps of simulated time: a click pair is a double-click (< 0.3 s apart).
        .with_step_dt(1.0 / 30.0)
        .renderer(WgpuTestRenderer::from_render_state(render_state))
        .build_ui_state(|ui, app: &mut MargoApp| app.frame(ui), app)
}

/// Runs frames until the app is idle (loading, planning and the 3D worker finished), for at
/// least `min_frames` frames and at most 180 s of wall time (software rendering is slow, and
/// test threads share the cores).
pub fn settle(h: &mut Harness<'static, MargoApp>, min_frames: usize) {
    let started = std::time::Instant::now();
    let _ = min_frames;
    while started.elapsed() < std::time::Duration::from_secs(180) {
        h.step();
        let busy = h
            .state()
            .viewer()
            .is_some_and(|v| !v.all_views_drawn() || v.plan.busy());
        let loading = match &h.state().phase {
            margo::app::Phase::Loading(_) => true,
            // The picker waits for the user unless a chosen series is loading.
            margo::app::Phase::Picking { job, .. } => job.progress.stage == "Loading",
            _ => false,
        };
        if !busy && !loading {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.run_steps(2);
}

/// Compares a rendered image with `tests/golden/app/<name>.png` using the tolerance above.
/// `UPDATE_GOLDEN=1` rewrites the reference; a mismatch writes `<name>.actual.png` and
/// `<name>.diff.png` under `target/golden-diff/app/`.
pub fn check_golden(name: &str, image: &image::RgbaImage) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let golden = root.join("tests/golden/app").join(format!("{name}.png"));
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        image.save(&golden).expect("write golden");
        eprintln!("updated {}", golden.display());
        return;
    }
    let diff_dir = root.join("target/golden-diff/app");
    let fail = |why: String| -> ! {
        std::fs::create_dir_all(&diff_dir).ok();
        let actual = diff_dir.join(format!("{name}.actual.png"));
        image.save(&actual).ok();
        panic!("{why}; actual image: {}", actual.display());
    };
    let Ok(reference) = image::open(&golden).map(|i| i.to_rgba8()) else {
        fail(format!(
            "no golden {} (run with UPDATE_GOLDEN=1 and look at it before committing)",
            golden.display()
        ));
    };
    if reference.dimensions() != image.dimensions() {
        fail(format!(
            "size {:?} differs from golden {:?}",
            image.dimensions(),
            reference.dimensions()
        ));
    }
    let mut diff = image::RgbaImage::new(image.width(), image.height());
    let mut differing = 0usize;
    for (x, y, a) in image.enumerate_pixels() {
        let b = reference.get_pixel(x, y);
        let bad = (0..4).any(|c| a[c].abs_diff(b[c]) > CHANNEL_TOLERANCE);
        if bad {
            differing += 1;
            diff.put_pixel(x, y, image::Rgba([255, 0, 255, 255]));
        } else {
            let g = a[0] / 3;
            diff.put_pixel(x, y, image::Rgba([g, g, g, 255]));
        }
    }
    let fraction = differing as f64 / (image.width() * image.height()).max(1) as f64;
    if fraction > MAX_DIFFERING_FRACTION {
        std::fs::create_dir_all(&diff_dir).ok();
        diff.save(diff_dir.join(format!("{name}.diff.png"))).ok();
        fail(format!(
            "{name}: {differing} pixels ({:.3} %) differ by more than {CHANNEL_TOLERANCE}, limit {:.3} %",
            fraction * 100.0,
            MAX_DIFFERING_FRACTION * 100.0
        ));
    }
}
