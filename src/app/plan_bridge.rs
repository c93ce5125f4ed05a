//! The one place the app talks to margo-plan. Holds the plan being edited (segmentation,
//! probes, tissue factor) and what the UI shows of it (zones as ellipsoids, metrics,
//! findings). Segmentation and margin metrics run on a worker thread, newest request wins, so
//! dragging a probe never stalls a frame; zones are cheap and follow the probe immediately.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use anyhow::Context;
use margo_plan::{
    MarginMetrics, PlannedZones, ProbeSpec, Segmentation, TissueScale, TumourModel, ZoneOptions,
};
use margo_volume::nalgebra::{Matrix3, Point3, Vector3};
use margo_volume::{Mask, Volume};

pub use margo_plan::SegmentParams;

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
    pub meets_rule: bool,
    /// The rule with its source and, when not met, the reasons (shown on hover).
    pub verdict: String,
    pub findings: Vec<FindingView>,
}

/// A device as the pickers list it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceChoice {
    pub id: String,
    pub name: String,
    pub modality: String,
    /// (label, source, evidence) of each usable setting.
    pub settings: Vec<(String, String, String)>,
    /// (power W, time s) of each usable setting, to ask margo-plan for it.
    pub setting_keys: Vec<(Option<f64>, Option<f64>)>,
}

/// Devices and their single-probe settings from margo-plan's table.
pub fn device_choices() -> Vec<DeviceChoice> {
    margo_plan::catalog()
        .iter()
        .filter(|d| d.usable_settings().next().is_some())
        .map(|d| DeviceChoice {
            id: d.id.clone(),
            name: d.name.clone(),
            modality: d.modality.label().to_owned(),
            settings: d
                .usable_settings()
                .map(|s| (s.label(), s.source.clone(), s.evidence.label().to_owned()))
                .collect(),
            setting_keys: d.usable_settings().map(|s| (s.power_w, s.time_s)).collect(),
        })
        .collect()
}

/// A saved segmentation to adopt as it is (Open plan).
struct SavedSeg {
    seed: Point3<f64>,
    params: SegmentParams,
    mask: Mask,
    crop_first_voxel: [usize; 3],
}

enum Job {
    Segment(Point3<f64>, SegmentParams),
    Adopt(Box<SavedSeg>),
    Metrics(
        u64,
        Arc<TumourModel>,
        PlannedZones,
        Vec<ProbeSpec>,
        Arc<Segmentation>,
    ),
}

/// A segmentation and its margin model, or why there is none.
type SegResult = Result<(Arc<Segmentation>, Arc<TumourModel>), String>;

enum Done {
    /// The segmentation, and a note for the panel (None clears it).
    Segmented(SegResult, Option<String>),
    Metrics(u64, MetricsView),
}

pub struct PlanSession {
    volume: Arc<Volume<i16>>,
    series_uid: String,
    pub probes: Vec<ProbeState>,
    pub tissue_scale: f64,
    tissue: TissueScale,
    seg: Option<(Arc<Segmentation>, Arc<TumourModel>)>,
    planned: Option<PlannedZones>,
    /// Bumped on every plan change; metrics of an older revision are dropped.
    revision: u64,
    metrics_running: bool,
    metrics_pending: bool,
    pub segment_params: SegmentParams,
    /// Free-text notes of the plan (kept through open/save, shown in the report).
    pub notes: String,
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
    pub fn new(volume: Arc<Volume<i16>>, series_uid: &str) -> Self {
        let (done_tx, done_rx) = channel();
        let tissue = TissueScale::lung_heuristic();
        Self {
            volume,
            series_uid: series_uid.to_owned(),
            probes: Vec::new(),
            tissue_scale: tissue.long,
            tissue,
            seg: None,
            planned: None,
            revision: 0,
            metrics_running: false,
            metrics_pending: false,
            segment_params: SegmentParams::default(),
            notes: String::new(),
            segmentation: None,
            mask_generation: 0,
            zones: Vec::new(),
            metrics: None,
            status: None,
            devices: device_choices(),
            jobs_running: 0,
            done_tx,
            done_rx,
        }
    }

    /// Whether margo-plan's engine is wired into this build.
    pub fn engine_available(&self) -> bool {
        true
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
                Done::Segmented(Ok((seg, model)), note) => {
                    let st = &seg.stats;
                    self.segmentation = Some(SegmentationView {
                        seed_in_world: Point3::from(seg.seed_lps_mm),
                        mask: Arc::new(seg.mask.clone()),
                        volume_ml: st.volume_ml,
                        max_diameter_mm: st.max_diameter_mm,
                        axial_diameter_mm: st.max_axial_diameter_mm,
                        equivalent_diameter_mm: st.equivalent_diameter_mm,
                        centroid_in_world: Point3::from(st.centroid_lps_mm),
                    });
                    self.seg = Some((seg, model));
                    self.mask_generation += 1;
                    self.status = note;
                    self.recompute();
                }
                Done::Segmented(Err(e), _) => self.status = Some(e),
                Done::Metrics(revision, m) => {
                    self.metrics_running = false;
                    if revision == self.revision {
                        self.metrics = Some(m);
                    }
                    if self.metrics_pending {
                        self.metrics_pending = false;
                        self.start_metrics();
                    }
                }
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
                    Job::Segment(seed, params) => {
                        Done::Segmented(segment(&volume, seed, params), None)
                    }
                    Job::Adopt(saved) => {
                        let (result, note) = adopt(&volume, *saved);
                        Done::Segmented(result, note)
                    }
                    Job::Metrics(revision, model, zones, probes, seg) => {
                        Done::Metrics(revision, metrics(&volume, &model, &zones, &probes, &seg))
                    }
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
        self.spawn(Job::Segment(seed_in_world, self.segment_params.clone()));
    }

    pub fn add_probe(&mut self, tip: Point3<f64>, entry: Point3<f64>) {
        // Default: the first microwave device (the commonest lung ablation modality).
        let device = self
            .devices
            .iter()
            .position(|d| d.modality == "MWA")
            .unwrap_or(0);
        self.probes.push(ProbeState {
            tip,
            entry,
            device,
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
        format!(
            "long x{:.2}, short x{:.2}: {}",
            self.tissue.long, self.tissue.short, self.tissue.source
        )
    }

    /// The probes as margo-plan specs.
    fn specs(&self) -> Vec<ProbeSpec> {
        self.probes
            .iter()
            .map(|p| {
                let dev = self.devices.get(p.device);
                let key = dev.and_then(|d| d.setting_keys.get(p.setting)).copied();
                ProbeSpec {
                    tip_lps_mm: p.tip.coords.into(),
                    entry_lps_mm: p.entry.coords.into(),
                    device: dev.map(|d| d.id.clone()).unwrap_or_default(),
                    power_w: key.and_then(|k| k.0),
                    time_s: key.and_then(|k| k.1),
                    long_mm: None,
                    short_mm: None,
                    offset_mm: None,
                    needle_length_mm: None,
                }
            })
            .collect()
    }

    fn zone_options(&self) -> ZoneOptions {
        let mut tissue = self.tissue.clone();
        if (self.tissue_scale - tissue.long).abs() > 1e-9 {
            tissue = TissueScale::uniform(self.tissue_scale);
        }
        ZoneOptions {
            tissue_scale: tissue,
            ..ZoneOptions::default()
        }
    }

    /// Zones follow the probes at once (cheap); metrics follow on the worker.
    pub fn recompute(&mut self) {
        self.revision += 1;
        let options = self.zone_options();
        self.tissue = options.tissue_scale.clone();
        self.zones.clear();
        self.planned = None;
        self.metrics = None;
        if self.probes.is_empty() {
            return;
        }
        match margo_plan::build_zones(&self.specs(), &options) {
            Ok(planned) => {
                self.zones = planned
                    .shapes
                    .iter()
                    .map(|z| {
                        let e = &z.ellipsoid;
                        let a = e.axes_lps;
                        Ellipsoid {
                            center_in_world: Point3::from(e.centre_lps_mm),
                            axes_in_world: Matrix3::from_columns(&[
                                Vector3::from(a[0]),
                                Vector3::from(a[1]),
                                Vector3::from(a[2]),
                            ]),
                            semi_axes_mm: Vector3::from(e.half_lengths_mm),
                        }
                    })
                    .collect();
                self.planned = Some(planned);
                if self
                    .status
                    .as_deref()
                    .is_some_and(|s| s.starts_with("zones:"))
                {
                    self.status = None;
                }
                self.start_metrics();
            }
            Err(e) => self.status = Some(format!("zones: {e}")),
        }
    }

    fn start_metrics(&mut self) {
        let (Some((seg, model)), Some(planned)) = (&self.seg, &self.planned) else {
            return;
        };
        if self.metrics_running {
            self.metrics_pending = true;
            return;
        }
        self.metrics_running = true;
        let job = Job::Metrics(
            self.revision,
            model.clone(),
            planned.clone(),
            self.specs(),
            seg.clone(),
        );
        self.spawn(job);
    }

    fn plan_file(&self) -> anyhow::Result<margo_plan::planfile::PlanFile> {
        let (seg, _) = self
            .seg
            .as_ref()
            .context("segment the nodule before saving a plan")?;
        Ok(margo_plan::planfile::PlanFile {
            format: margo_plan::planfile::FORMAT.to_owned(),
            schema_version: margo_plan::planfile::SCHEMA_VERSION,
            series_uid: self.series_uid.clone(),
            frame_of_reference_uid: String::new(),
            volume_dims: self.volume.dims(),
            segmentation: margo_plan::planfile::SavedSegmentation {
                seed_lps_mm: seg.seed_lps_mm,
                params: seg.params.clone(),
                mask: margo_plan::planfile::SavedMask::from_mask(&seg.mask, seg.crop_first_voxel),
            },
            probes: self.specs(),
            zone_options: self.zone_options(),
            notes: self.notes.clone(),
        })
    }

    /// Saves the plan as JSON (atomic write by margo-plan), creating its folder if needed.
    pub fn save(&self, path: &std::path::Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating folder {}", dir.display()))?;
        }
        self.plan_file()?
            .save(path)
            .with_context(|| format!("saving plan {}", path.display()))
    }

    /// Opens a plan saved for this series: probes, tissue factor, notes, and the saved nodule
    /// mask as it is (its seed and parameters kept for later edits; see [`adopt`]).
    pub fn load(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let plan = margo_plan::planfile::PlanFile::load(path)
            .with_context(|| format!("opening plan {}", path.display()))?;
        let saved_mask = plan
            .validate_against(path, &self.series_uid, self.volume.geometry())
            .with_context(|| format!("plan {} does not fit this series", path.display()))?;
        let mut probes = Vec::new();
        for spec in &plan.probes {
            let device = self
                .devices
                .iter()
                .position(|d| d.id.eq_ignore_ascii_case(&spec.device))
                .with_context(|| {
                    format!("plan uses device {:?} that the table lacks", spec.device)
                })?;
            let setting = self.devices[device]
                .setting_keys
                .iter()
                .position(|k| *k == (spec.power_w, spec.time_s))
                .unwrap_or(0);
            probes.push(ProbeState {
                tip: Point3::from(spec.tip_lps_mm),
                entry: Point3::from(spec.entry_lps_mm),
                device,
                setting,
            });
        }
        self.probes = probes;
        self.tissue = plan.zone_options.tissue_scale.clone();
        self.tissue_scale = self.tissue.long;
        self.segment_params = plan.segmentation.params.clone();
        self.notes = plan.notes.clone();
        self.spawn(Job::Adopt(Box::new(SavedSeg {
            seed: Point3::from(plan.segmentation.seed_lps_mm),
            params: plan.segmentation.params.clone(),
            mask: saved_mask,
            crop_first_voxel: plan.segmentation.mask.first_voxel,
        })));
        self.recompute();
        Ok(())
    }

    /// The report of the current plan (metrics and findings computed now, on this thread).
    pub fn report(
        &self,
        series_description: &str,
    ) -> anyhow::Result<margo_plan::report::PlanReport> {
        let (seg, model) = self
            .seg
            .as_ref()
            .context("segment the nodule before exporting a report")?;
        let planned = self
            .planned
            .as_ref()
            .context("add a probe before exporting a report")?;
        let specs = self.specs();
        let metrics = model.evaluate(&planned.region);
        let findings = margo_plan::findings::check_plan(
            &self.volume,
            &specs,
            planned,
            &seg.stats,
            Some(&seg.mask),
            Some(&metrics),
        );
        Ok(margo_plan::report::PlanReport {
            disclaimer: margo_plan::DISCLAIMER.to_owned(),
            series_uid: self.series_uid.clone(),
            series_description: series_description.to_owned(),
            nodule: seg.stats.clone(),
            threshold_used_hu: Some(seg.threshold_used_hu).filter(|t| t.is_finite()),
            probes: specs,
            zones: planned.shapes.clone(),
            cryo_lethal_inset_mm: planned.lethal_inset_mm,
            tissue_scale: self.zone_options().tissue_scale,
            metrics: Some(metrics),
            findings,
            notes: self.notes.clone(),
        })
    }
}

/// A saved mask becomes the segmentation as it is. Its statistics come from a fresh run at the
/// saved seed when that run gives the very same mask (the partial-volume volume needs the
/// run's HU levels), else from the mask alone, and the panel says so.
fn adopt(volume: &Volume<i16>, saved: SavedSeg) -> (SegResult, Option<String>) {
    let fresh = margo_plan::segment(volume, saved.seed.coords.into(), &saved.params).ok();
    let (stats, threshold, opening, note) = match fresh {
        Some(f)
            if f.crop_first_voxel == saved.crop_first_voxel
                && f.mask.dims() == saved.mask.dims()
                && f.mask.labels() == saved.mask.labels() =>
        {
            (f.stats, f.threshold_used_hu, f.opening_used_mm, None)
        }
        _ => match margo_plan::segment::nodule_stats(&saved.mask) {
            Some(st) => (
                st,
                f64::NAN,
                f64::NAN,
                Some(
                    "opened the saved nodule mask (a fresh segmentation at its seed differs; \
                     volume from the mask's voxels)"
                        .to_owned(),
                ),
            ),
            None => return (Err("the saved nodule mask is empty".into()), None),
        },
    };
    let model = match TumourModel::new(&saved.mask) {
        Ok(m) => m,
        Err(e) => return (Err(format!("margin model: {e}")), None),
    };
    let seg = Segmentation {
        mask: saved.mask,
        crop_first_voxel: saved.crop_first_voxel,
        seed_lps_mm: saved.seed.coords.into(),
        params: saved.params,
        threshold_used_hu: threshold,
        opening_used_mm: opening,
        stats,
    };
    (Ok((Arc::new(seg), Arc::new(model))), note)
}

fn segment(
    volume: &Volume<i16>,
    seed: Point3<f64>,
    params: SegmentParams,
) -> Result<(Arc<Segmentation>, Arc<TumourModel>), String> {
    let seg = margo_plan::segment(volume, seed.coords.into(), &params)
        .map_err(|e| format!("segmentation: {e}"))?;
    let model = TumourModel::new(&seg.mask).map_err(|e| format!("margin model: {e}"))?;
    Ok((Arc::new(seg), Arc::new(model)))
}

fn metrics(
    volume: &Volume<i16>,
    model: &TumourModel,
    zones: &PlannedZones,
    probes: &[ProbeSpec],
    seg: &Segmentation,
) -> MetricsView {
    let m: MarginMetrics = model.evaluate(&zones.region);
    let findings = margo_plan::findings::check_plan(
        volume,
        probes,
        zones,
        &seg.stats,
        Some(&seg.mask),
        Some(&m),
    );
    MetricsView {
        coverage_tumour_pct: m.tumour_coverage_pct(),
        coverage_margin5_pct: m.margin5_coverage_pct(),
        coverage_margin10_pct: m.margin10_coverage_pct(),
        min_margin_mm: m.min_margin_mm,
        vic_ml: m.vic_ml.clone(),
        surface_pct: [
            m.surface_below_0_pct,
            m.surface_0_to_5_pct,
            m.surface_at_least_5_pct,
        ],
        weakest_in_world: Some(Point3::from(m.weakest_point_lps_mm))
            .filter(|p| p.iter().all(|v| v.is_finite())),
        meets_rule: m.verdict.meets_rule,
        verdict: if m.verdict.meets_rule {
            format!("Meets the rule: {}", m.verdict.rule)
        } else {
            format!(
                "Does not meet the rule: {}. {}",
                m.verdict.rule,
                m.verdict.reasons.join("; ")
            )
        },
        findings: findings
            .iter()
            .map(|f| FindingView {
                severity: format!("{:?}", f.severity).to_lowercase(),
                message: f.message.clone(),
                source: format!("{} ({})", f.rule, f.source),
            })
            .collect(),
    }
}
