//! The desktop planning app: eframe (wgpu renderer) + egui.
//!
//! - [`state`]: the viewer's state and interaction rules, no UI code.
//! - [`loader`] / [`dicom_bridge`]: loading off the UI thread with progress and cancel.
//! - [`viewer`]: the 2x2 views and their interaction; [`panels`]: side panel and top bar.
//! - [`render_bridge`]: how a view's image is produced (GPU through margo-render when
//!   available, else the CPU reslice); [`plan_bridge`]: margo-plan behind one small API.
//! - [`capture`]: `--screenshot` and `--bench-frames`; [`blit`]: opaque CPU-made view images
//!   drawn by a minimal wgpu pipeline (cheaper than egui's on a software rasteriser).

pub mod blit;
pub mod capture;
pub mod case;
pub mod cpu_view;
pub mod dicom_bridge;
pub mod loader;
pub mod overlay;
pub mod panels;
pub mod paths;
pub mod plan_bridge;
pub mod recent;
pub mod render_bridge;
pub mod startup;
pub mod state;
pub mod three_d;
pub mod viewer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;

use case::{Case, SeriesChoice, SkippedFile};
use loader::{LoadEvent, LoadJob};
use recent::RecentFolders;

/// How the app was started (command line).
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Folder to open at start-up (None: the welcome screen).
    pub folder: Option<PathBuf>,
    /// Save the window as PNG once everything is drawn, then exit.
    pub screenshot: Option<PathBuf>,
    /// Measure frame times over this many frames per scenario, print JSON, then exit.
    pub bench_frames: Option<usize>,
    /// Where recent folders persist (None: not persisted, as in tests).
    pub recent_path: Option<PathBuf>,
    /// Default folder of saved plans, reports and screenshots (None: the temporary folder, as in
    /// tests; the app passes `paths::default_documents_dir()`).
    pub documents_dir: Option<PathBuf>,
    /// Draw the 2D views with margo-render (true) or the CPU reslice (false); None: the GPU
    /// unless the adapter is a software rasteriser, where the cached CPU reslice is faster
    /// (BENCHMARKS.md: lavapipe MPR 306 ms vs CPU 88 ms for 1024x1024).
    pub mpr_on_gpu: Option<bool>,
}

/// What the window shows.
pub enum Phase {
    Welcome,
    Loading(LoadJob),
    Picking {
        job: LoadJob,
        series: Vec<SeriesChoice>,
        skipped: Vec<SkippedFile>,
    },
    Viewing(Box<viewer::Viewer>),
}

pub struct MargoApp {
    pub phase: Phase,
    /// Errors shown in the window until dismissed (newest last).
    pub errors: Vec<String>,
    pub recent: RecentFolders,
    recent_path: Option<PathBuf>,
    /// Default folder of saved plans, reports and screenshots.
    pub documents_dir: PathBuf,
    pub folder_input: String,
    pub gpu: Option<eframe::egui_wgpu::RenderState>,
    pub capture: capture::Capture,
    ctx: Option<egui::Context>,
    pending_open: Option<PathBuf>,
    mpr_on_gpu: Option<bool>,
    /// Result of the last "Screenshot" button press, shown in the top bar.
    pub screenshot_note: Arc<std::sync::Mutex<Option<String>>>,
}

impl MargoApp {
    /// `gpu` is eframe's (or the test harness's) wgpu state, shared with margo-render.
    pub fn new(options: AppOptions, gpu: Option<eframe::egui_wgpu::RenderState>) -> Self {
        let recent = options
            .recent_path
            .as_deref()
            .map(RecentFolders::load)
            .unwrap_or_default();
        Self {
            phase: Phase::Welcome,
            errors: Vec::new(),
            recent,
            recent_path: options.recent_path.clone(),
            documents_dir: options
                .documents_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir),
            folder_input: options
                .folder
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            gpu,
            capture: capture::Capture::new(options.screenshot.clone(), options.bench_frames),
            ctx: None,
            pending_open: options.folder,
            mpr_on_gpu: options.mpr_on_gpu,
            screenshot_note: Arc::default(),
        }
    }

    /// Starts loading `folder` in the background (replacing any load in progress).
    pub fn open_folder(&mut self, ctx: &egui::Context, folder: &Path) {
        let ctx = ctx.clone();
        let wake: loader::Wake = Arc::new(move || ctx.request_repaint());
        self.folder_input = folder.display().to_string();
        self.phase = Phase::Loading(LoadJob::start(folder, wake));
    }

    /// Shows an already loaded case (tests, or after loading).
    pub fn show_case(&mut self, case: Case) {
        if !case.info.folder.as_os_str().is_empty() {
            self.recent.push(&case.info.folder);
            if let Some(path) = &self.recent_path
                && let Err(e) = self.recent.save(path)
            {
                self.errors
                    .push(format!("could not save the recent folders list: {e:#}"));
            }
        }
        let mut v = viewer::Viewer::new(
            case,
            self.gpu.as_ref(),
            self.mpr_on_gpu,
            self.documents_dir.clone(),
        );
        v.screenshot_note = self.screenshot_note.clone();
        self.phase = Phase::Viewing(Box::new(v));
    }

    pub fn viewer(&self) -> Option<&viewer::Viewer> {
        match &self.phase {
            Phase::Viewing(v) => Some(v),
            _ => None,
        }
    }

    pub fn viewer_mut(&mut self) -> Option<&mut viewer::Viewer> {
        match &mut self.phase {
            Phase::Viewing(v) => Some(v),
            _ => None,
        }
    }

    /// Handles loader messages, while loading and while the user picks a series.
    fn poll_loading(&mut self) {
        let phase = std::mem::replace(&mut self.phase, Phase::Welcome);
        let (mut job, mut picking) = match phase {
            Phase::Loading(job) => (job, None),
            Phase::Picking {
                job,
                series,
                skipped,
            } => (job, Some((series, skipped))),
            other => {
                self.phase = other;
                return;
            }
        };
        self.phase = loop {
            match job.poll() {
                None => {
                    break match picking {
                        None => Phase::Loading(job),
                        Some((series, skipped)) => Phase::Picking {
                            job,
                            series,
                            skipped,
                        },
                    };
                }
                Some(LoadEvent::Progress(_)) => {}
                // Several series: the picker shows until the user chooses (the job then loads).
                Some(LoadEvent::Scanned {
                    series, skipped, ..
                }) => picking = Some((series, skipped)),
                Some(LoadEvent::Loaded(case)) => {
                    self.show_case(*case);
                    return;
                }
                Some(LoadEvent::Failed(msg)) => {
                    self.errors.push(msg);
                    break Phase::Welcome;
                }
                Some(LoadEvent::Cancelled) => break Phase::Welcome,
            }
        };
    }

    /// Files dropped on the window: open the folder (or the file's folder).
    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        let path = dropped
            .iter()
            .map(|f| f.path().to_path_buf())
            .find(|p| !p.as_os_str().is_empty());
        if let Some(path) = path {
            let folder = if path.is_dir() {
                path
            } else {
                path.parent().map(Path::to_path_buf).unwrap_or(path)
            };
            self.open_folder(ctx, &folder);
        }
    }

    /// One frame of the whole window.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let started = std::time::Instant::now();
        self.frame_inner(ui);
        if std::env::var_os("MARGO_TRACE_FRAMES").is_some() {
            static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
            let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
            let since = last.map_or(0.0, |l| (started - l).as_secs_f64() * 1e3);
            *last = Some(started);
            eprintln!(
                "frame: ui {:.1} ms, {since:.0} ms since the previous frame",
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    }

    fn frame_inner(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
            viewer::install_style(&ctx);
        }
        if let Some(folder) = self.pending_open.take() {
            self.open_folder(&ctx, &folder);
        }
        self.handle_dropped_files(&ctx);
        self.poll_loading();
        panels::top_bar(self, ui);
        startup::error_banner(self, ui);
        let mut open_request = None;
        match &mut self.phase {
            Phase::Welcome => {
                open_request = startup::welcome(ui, &mut self.folder_input, &self.recent);
            }
            Phase::Loading(job) => startup::loading(ui, job),
            Phase::Picking {
                job,
                series,
                skipped,
            } => startup::picker(ui, job, series, skipped),
            Phase::Viewing(v) => v.ui(ui),
        }
        if let Some(folder) = open_request {
            self.open_folder(&ctx, &folder);
        }
        let viewer_ready = self.viewer().map(viewer::Viewer::all_views_drawn);
        let loading = matches!(self.phase, Phase::Loading(_) | Phase::Picking { .. });
        capture::step(self, &ctx, viewer_ready, loading);
    }
}

impl eframe::App for MargoApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }
}

/// Opens the window; returns the process exit code (non-zero when `--screenshot` or
/// `--bench-frames` could not complete).
pub fn run_native(options: AppOptions, size: [f32; 2]) -> anyhow::Result<std::process::ExitCode> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Margo — ablation planning")
            .with_inner_size(size)
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    let exit = capture::ExitCode::default();
    let exit_for_app = exit.clone();
    eframe::run_native(
        "margo",
        native,
        Box::new(move |cc| {
            let mut app = MargoApp::new(options, cc.wgpu_render_state.clone());
            app.capture.exit = exit_for_app;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))?;
    Ok(exit.get())
}

/// The bundled sample case: `sample-data/` next to the executable's project, else the one
/// this binary was built from, else `./sample-data`.
pub fn default_sample_folder() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            candidates.push(dir.join("sample-data"));
        }
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data"));
    candidates.push(PathBuf::from("sample-data"));
    candidates.into_iter().find(|p| p.is_dir())
}
