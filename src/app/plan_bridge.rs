//! The one place the app talks to margo-plan. Holds the plan being edited (segmentation,
//! probes, tissue factor) and what the UI shows of it (zones as ellipsoids, metrics,
//! findings). Segmentation and margin metrics run on a worker thread, newest request wins, so
//! dragging a probe never stalls a frame; zones are cheap and follow the probe immediately.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use margo_volume::nalgebra::Point3;
use margo_volume::{Mask, Volume};

use super::overlay::Ellipsoid;

/// A probe being planned: ends in LPS mm, device and setting by index into the device table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeState {
    pub tip: Point3<f64>,
    pub entry: Point3<f64>,
    pub device: usize,
    pub setting: usize,
}

/// The segmented nodule as shown in the side panel.
#[derive(Debug, Clone)]
pub struct SegmentationView {
    pub seed_in_world: Point3<f64>,
    pub mask: Arc<Mask>,
    pub volume_ml: f64,
    pub max_diameter_mm: f64,
    pub axial_diameter_mm: f64,
    pub equivalent_diameter_mm: f64,
    pub centroid_in_world: Point3<f64>,
}

/// One finding (risk or check) with its measured value and rule source.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingView {
    pub severity: String,
    pub message: String,
    pub source: String,
}

/// Margin metrics of the current plan.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsView {
    pub coverage_tumour_pct: f64,
    pub coverage_margin5_pct: f64,
    pub coverage_margin10_pct: f64,
    pub min_margin_mm: f64,
    /// Uncovered volume (ml) of the tumour grown by k mm, k = 0..=10.
    pub vic_ml: Vec<f64>,
    /// % of the tumour surface with margin < 0, 0-5, >= 5 mm.
    pub surface_pct: [f64; 3],
    pub weakest_in_world: Option<Point3<f64>>,
    pub verdict: String,
    pub findings: Vec<FindingView>,
}

/// Settings for the segmentation (shown in the side panel, live update).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentParams {
    pub threshold_hu: f64,
    pub max_radius_mm: f64,
    pub opening_mm: f64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            threshold_hu: -500.0,
            max_radius_mm: 30.0,
            opening_mm: 1.0,
        }
    }
}

/// A device as the pickers list it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceChoice {
    pub name: String,
    pub modality: String,
    /// (label, source, evidence)
    pub settings: Vec<(String, String, String)>,
}

enum Job {
    Segment(Point3<f64>, SegmentParams),
}

enum Done {
    Segmented(Result<SegmentationView, String>),
}

pub struct PlanSession {
    volume: Arc<Volume<i16>>,
    pub probes: Vec<ProbeState>,
    pub tissue_scale: f64,
    pub segment_params: SegmentParams,
    pub segmentation: Option<SegmentationView>,
    mask_generation: u64,
    pub zones: Vec<Ellipsoid>,
    pub metrics: Option<MetricsView>,
    /// Last problem to show in the panel (planning errors never panic or block).
    pub status: Option<String>,
    pub devices: Vec<DeviceChoice>,
    jobs_running: usize,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
}

impl PlanSession {
    pub fn new(volume: Arc<Volume<i16>>) -> Self {
        let (done_tx, done_rx) = channel();
        Self {
            volume,
            probes: Vec::new(),
            tissue_scale: 1.0,
            segment_params: SegmentParams::default(),
            segmentation: None,
            mask_generation: 0,
            zones: Vec::new(),
            metrics: None,
            status: None,
            devices: Vec::new(),
            jobs_running: 0,
            done_tx,
            done_rx,
        }
    }

    /// Whether margo-plan's engine is wired into this build.
    pub fn engine_available(&self) -> bool {
        false
    }

    pub fn busy(&self) -> bool {
        self.jobs_running > 0
    }

    pub fn mask(&self) -> Option<&Mask> {
        self.segmentation.as_ref().map(|s| s.mask.as_ref())
    }

    /// Changes whenever the mask does (views re-render their overlay).
    pub fn mask_generation(&self) -> u64 {
        self.mask_generation
    }

    pub fn weakest_point(&self) -> Option<Point3<f64>> {
        self.metrics.as_ref().and_then(|m| m.weakest_in_world)
    }

    /// Collects finished background work.
    pub fn poll(&mut self) {
        while let Ok(done) = self.done_rx.try_recv() {
            self.jobs_running = self.jobs_running.saturating_sub(1);
            match done {
                Done::Segmented(Ok(seg)) => {
                    self.segmentation = Some(seg);
                    self.mask_generation += 1;
                    self.status = None;
                    self.recompute();
                }
                Done::Segmented(Err(e)) => self.status = Some(e),
            }
        }
    }

    fn spawn(&mut self, job: Job) {
        let tx = self.done_tx.clone();
        let volume = self.volume.clone();
        self.jobs_running += 1;
        let spawned = std::thread::Builder::new()
            .name("margo-plan".into())
            .spawn(move || {
                let done = match job {
                    Job::Segment(seed, params) => Done::Segmented(segment(&volume, seed, params)),
                };
                let _ = tx.send(done);
            });
        if let Err(e) = spawned {
            self.jobs_running -= 1;
            self.status = Some(format!("could not start the planning worker: {e}"));
        }
    }

    /// Segments the nodule at `seed` (background).
    pub fn segment(&mut self, seed_in_world: Point3<f64>) {
        self.spawn(Job::Segment(seed_in_world, self.segment_params));
    }

    pub fn add_probe(&mut self, tip: Point3<f64>, entry: Point3<f64>) {
        self.probes.push(ProbeState {
            tip,
            entry,
            device: 0,
            setting: 0,
        });
        self.recompute();
    }

    pub fn move_probe_end(&mut self, probe: usize, tip: bool, to: Point3<f64>) {
        if let Some(p) = self.probes.get_mut(probe) {
            let other = if tip { p.entry } else { p.tip };
            if (to - other).norm() < 1.0 {
                // Tip on the entry has no direction: refuse the move instead of a NaN zone.
                return;
            }
            if tip {
                p.tip = to;
            } else {
                p.entry = to;
            }
            self.recompute();
        }
    }

    pub fn remove_probe(&mut self, probe: usize) {
        if probe < self.probes.len() {
            self.probes.remove(probe);
            self.recompute();
        }
    }

    pub fn tissue_source(&self) -> String {
        "Tissue factor scales the vendor (ex vivo liver) zone to lung.".to_owned()
    }

    pub fn save(&self, path: &std::path::Path) -> anyhow::Result<()> {
        anyhow::bail!("cannot save {}: plan files need margo-plan", path.display())
    }

    pub fn load(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        anyhow::bail!("cannot open {}: plan files need margo-plan", path.display())
    }

    pub fn export_report(&self, path: &std::path::Path) -> anyhow::Result<()> {
        anyhow::bail!("cannot write {}: reports need margo-plan", path.display())
    }

    /// Zones follow the probes at once; metrics follow when the engine is available.
    pub fn recompute(&mut self) {
        self.zones.clear();
        self.metrics = None;
        if !self.engine_available() && !self.probes.is_empty() {
            self.status =
                Some("ablation-zone models (margo-plan) are not wired into this build yet".into());
        }
    }
}

fn segment(
    _volume: &Volume<i16>,
    _seed: Point3<f64>,
    _params: SegmentParams,
) -> Result<SegmentationView, String> {
    Err("nodule segmentation (margo-plan) is not wired into this build yet".into())
}
