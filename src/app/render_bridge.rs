//! How each view's image is produced. The one place the app talks to margo-render: with a
//! wgpu device (eframe's, or the test harness's) every view is drawn by margo-render through
//! an egui_wgpu paint callback into egui's own render pass; without one (or if the renderer
//! cannot be created, e.g. a volume larger than the device's 3D texture limit) the CPU
//! reslice of margo-volume draws the MPR views into egui textures instead.

use std::sync::Arc;

use eframe::egui::{self, Align2, Color32, FontId, Rect, TextureHandle, TextureOptions};
use eframe::egui_wgpu::{self, wgpu};
use margo_render::{
    EllipsoidOverlay, Frame, Marker, MaskStyle, MprView, RayMode, RaycastView, RenderTarget,
    Renderer, SegmentOverlay, Shapes, Slab, TfChoice, TransferFunctionPreset,
};
use margo_volume::{Interpolation, SliceGrid, Volume};

use super::cpu_view;
use super::plan_bridge::PlanSession;
use super::state::{SlabMode, ViewerState, VolumePreset, WindowLevel};

/// What an MPR image depends on; a change re-renders it.
#[derive(Debug, Clone, PartialEq)]
struct MprKey {
    grid: SliceGrid,
    window: WindowLevel,
    slab: SlabMode,
    slab_thickness_mm: f64,
    mask_generation: u64,
}

struct CachedMpr {
    key: MprKey,
    /// Drawn by egui when there is no wgpu device (else by [`super::blit`]).
    texture: Option<TextureHandle>,
    image: Arc<egui::ColorImage>,
    /// Changes with the image, so the blit uploads only then.
    generation: u64,
}

/// The renderer lives in egui_wgpu's callback resources (the paint callback needs it there).
struct GpuViews {
    render_state: egui_wgpu::RenderState,
    /// What was last given to the renderer, to upload only changes.
    shapes: Shapes,
    mask_generation: u64,
    error: Option<String>,
    /// A software rasteriser (lavapipe): the 3D view renders at half resolution and double
    /// step even when still, since its ray casting shares the only queue with the 2D views.
    software: bool,
}

/// The 3D view: worker, the request last sent, and the newest image as a texture.
struct ThreeD {
    worker: super::three_d::Worker,
    /// Last request: camera, overlays and mask generation.
    requested: Option<(RaycastView, Shapes, u64)>,
    serial: u64,
    shown_serial: u64,
    /// Overlays last seen changing, and when (for the settle delay).
    last_overlay: Option<(Shapes, u64)>,
    overlay_since: std::time::Instant,
    shown: Option<(RaycastView, TextureHandle)>,
    /// The shown image has no transparent pixel, so no background is needed under it.
    shown_opaque: bool,
    /// The shown image, for [`super::blit`] when opaque.
    shown_image: Option<Arc<egui::ColorImage>>,
    error: Option<String>,
}

pub struct ViewImages {
    volume: Arc<Volume<i16>>,
    mpr: [Option<CachedMpr>; 4],
    gpu: Option<GpuViews>,
    three_d: Option<ThreeD>,
    /// 2D views through margo-render's paint callback (else the cached CPU reslice).
    mpr_gpu: bool,
    /// Which renderer draws the views, for the status line.
    pub backend: String,
}

/// How long overlays must stay unchanged before the 3D view is ray-cast again.
const OVERLAY_SETTLE: std::time::Duration = std::time::Duration::from_millis(400);

/// Keys of the views in margo-render (one per slot).
fn view_key(slot: usize) -> margo_render::ViewKey {
    slot as margo_render::ViewKey
}

impl ViewImages {
    pub fn new(
        gpu: Option<&egui_wgpu::RenderState>,
        volume: &Arc<Volume<i16>>,
        mpr_on_gpu: Option<bool>,
    ) -> Self {
        let mut backend = "CPU reslice (no GPU device)".to_owned();
        let gpu = gpu.and_then(|rs| {
            let target = RenderTarget::color(rs.target_format);
            let made = Renderer::new(&rs.device, &rs.queue, target).and_then(|mut r| {
                r.upload_volume(volume)?;
                Ok(r)
            });
            match made {
                Ok(r) => {
                    rs.renderer.write().callback_resources.insert(r);
                    let info = rs.adapter.get_info();
                    let software = info.device_type == wgpu::DeviceType::Cpu;
                    backend = format!(
                        "3D: {}{}",
                        info.name,
                        if software {
                            " (software, reduced quality)"
                        } else {
                            ""
                        }
                    );
                    Some(GpuViews {
                        software,
                        render_state: rs.clone(),
                        shapes: Shapes::default(),
                        mask_generation: u64::MAX,
                        error: None,
                    })
                }
                Err(e) => {
                    backend = format!("CPU reslice (GPU renderer unavailable: {e})");
                    None
                }
            }
        });
        let mpr_gpu = gpu
            .as_ref()
            .is_some_and(|g| mpr_on_gpu.unwrap_or(!g.software));
        if gpu.is_some() {
            backend = format!(
                "{backend}; 2D: {}",
                if mpr_gpu { "GPU" } else { "CPU reslice" }
            );
        }
        Self {
            volume: volume.clone(),
            mpr: [None, None, None, None],
            gpu,
            three_d: None,
            mpr_gpu,
            backend,
        }
    }

    /// Whether the 2D views are drawn by margo-render (which then also draws the zones).
    pub fn mpr_on_gpu(&self) -> bool {
        self.mpr_gpu && self.gpu.is_some()
    }

    /// Hands the plan's overlays (mask, zones, probes) to the GPU renderer when they changed.
    pub fn sync_overlays(&mut self, plan: &PlanSession) {
        let Some(g) = &mut self.gpu else { return };
        let mut shapes = Shapes::default();
        for (n, z) in plan.zones.iter().enumerate() {
            let a = z.axes_in_world;
            let s = z.semi_axes_mm;
            shapes.ellipsoids.push(EllipsoidOverlay {
                center_in_world: z.center_in_world,
                semi_axes_mm: [a.column(0) * s.x, a.column(1) * s.y, a.column(2) * s.z],
                // One group: the union of all zones is what covers the tumour.
                group: 0,
                color: [1.0, 0.55, 0.0, 0.35],
                fill_alpha: 0.12,
            });
            let _ = n;
        }
        for p in &plan.probes {
            shapes.segments.push(SegmentOverlay {
                a_in_world: p.entry,
                b_in_world: p.tip,
                color: [0.92, 0.92, 0.92, 1.0],
                radius_mm: 0.9,
                marker_a: Marker::Ring,
                marker_b: Marker::Disc,
                marker_radius_mm: 2.0,
            });
        }
        let mut resources = g.render_state.renderer.write();
        let Some(r) = resources.callback_resources.get_mut::<Renderer>() else {
            return;
        };
        if shapes != g.shapes {
            g.error = r.set_shapes(&shapes).err().map(|e| e.to_string());
            g.shapes = shapes;
        }
        if plan.mask_generation() != g.mask_generation {
            let style = MaskStyle {
                color: [1.0, 0.8, 0.16, 1.0],
                fill_alpha: 0.3,
            };
            if let Err(e) = r.set_mask(plan.mask().map(|m| (m, style))) {
                g.error = Some(e.to_string());
            }
            g.mask_generation = plan.mask_generation();
        }
    }

    /// Draws an MPR view into `rect`; true when the image is complete.
    #[allow(clippy::too_many_arguments)]
    pub fn mpr(
        &mut self,
        ui: &egui::Ui,
        painter: &egui::Painter,
        slot: usize,
        rect: Rect,
        grid: &SliceGrid,
        window: WindowLevel,
        slab: SlabMode,
        slab_thickness_mm: f64,
        plan: &PlanSession,
    ) -> bool {
        if let Some(g) = self.gpu.as_ref().filter(|_| self.mpr_gpu) {
            let ppp = ui.ctx().pixels_per_point() as f64;
            let view = MprView {
                center_in_world: grid.center_in_world(),
                right_in_world: grid.right_in_world(),
                down_in_world: grid.down_in_world(),
                // The callback draws at physical pixels: same field of view, finer pixels.
                pixel_size_mm: grid.pixel_size_mm() / ppp,
                width_px: (grid.width() as f64 * ppp).round().max(1.0) as u32,
                height_px: (grid.height() as f64 * ppp).round().max(1.0) as u32,
                window: render_window(window),
                interpolation: Interpolation::Linear,
                slab: match slab {
                    SlabMode::Thin => None,
                    SlabMode::Mip => Some(Slab {
                        mode: margo_render::SlabMode::Mip,
                        thickness_mm: slab_thickness_mm,
                    }),
                    SlabMode::MinIp => Some(Slab {
                        mode: margo_render::SlabMode::MinIp,
                        thickness_mm: slab_thickness_mm,
                    }),
                    SlabMode::Mean => Some(Slab {
                        mode: margo_render::SlabMode::Mean,
                        thickness_mm: slab_thickness_mm,
                    }),
                },
                slab_step_mm: None,
                show_overlays: true,
                line_width_px: 1.5 * ppp,
            };
            painter.rect_filled(rect, 0.0, super::viewer::VIEW_BACKGROUND);
            add_callback(painter, rect, slot, Frame::Mpr(view));
            if let Some(e) = &g.error {
                painter.text(
                    rect.center_bottom() - egui::vec2(0.0, 40.0),
                    Align2::CENTER_BOTTOM,
                    e,
                    FontId::proportional(12.0),
                    Color32::LIGHT_RED,
                );
            }
            return true;
        }
        let key = MprKey {
            grid: grid.clone(),
            window,
            slab,
            slab_thickness_mm,
            mask_generation: plan.mask_generation(),
        };
        let cached = &mut self.mpr[slot];
        if cached.as_ref().is_none_or(|c| c.key != key) {
            let step = self.volume.geometry().spacing_mm().min();
            let image = cpu_view::render_mpr(
                &self.volume,
                grid,
                window,
                slab,
                slab_thickness_mm,
                step,
                plan.mask(),
            );
            let image = Arc::new(image);
            let generation = cached.as_ref().map_or(0, |c| c.generation + 1);
            // With a wgpu device the blit draws it; egui's texture is made only without one.
            let texture = match (&self.gpu, cached.take().and_then(|c| c.texture)) {
                (Some(_), _) => None,
                (None, Some(mut t)) => {
                    t.set(image.as_ref().clone(), TextureOptions::LINEAR);
                    Some(t)
                }
                (None, None) => Some(ui.ctx().load_texture(
                    format!("mpr-{slot}"),
                    image.as_ref().clone(),
                    TextureOptions::LINEAR,
                )),
            };
            *cached = Some(CachedMpr {
                key,
                texture,
                image,
                generation,
            });
        }
        if let Some(c) = cached.as_ref() {
            if let (Some(g), None) = (&self.gpu, &c.texture) {
                super::blit::add(
                    painter,
                    rect,
                    slot,
                    c.image.clone(),
                    c.generation,
                    g.render_state.target_format,
                );
                return true;
            }
            let Some(texture) = &c.texture else {
                return true;
            };
            painter.image(
                texture.id(),
                rect,
                Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        true
    }

    /// Draws the 3D view; true when complete.
    pub fn three_d(
        &mut self,
        ui: &egui::Ui,
        painter: &egui::Painter,
        rect: Rect,
        state: &ViewerState,
        _plan: &PlanSession,
        interacting: bool,
    ) -> bool {
        // Filled at the end unless an opaque image covers the rect: on a software rasteriser
        // each layer of fragments costs (BENCHMARKS.md, desktop app frame time).
        let background = painter.add(egui::Shape::Noop);
        let fill = |painter: &egui::Painter| {
            painter.set(
                background,
                egui::Shape::rect_filled(rect, 0.0, Color32::from_gray(8)),
            );
        };
        if let Some(g) = &self.gpu {
            let ppp = ui.ctx().pixels_per_point() as f64;
            let quality = ThreeDQuality::of(interacting, g.software);
            let scale = quality.resolution_scale;
            let w = (rect.width() as f64 * ppp * scale).round().max(1.0) as u32;
            let h = (rect.height() as f64 * ppp * scale).round().max(1.0) as u32;
            let preset = match state.camera.preset {
                VolumePreset::Lung => Some(TransferFunctionPreset::LungAirways),
                VolumePreset::Bone => Some(TransferFunctionPreset::Bone),
                VolumePreset::Vessels => Some(TransferFunctionPreset::VesselsSoftTissue),
                VolumePreset::Mip => None,
            };
            let mut view = RaycastView::new(
                self.volume.geometry(),
                preset.unwrap_or(TransferFunctionPreset::LungAirways),
                w,
                h,
            );
            match preset {
                None => view.mode = RayMode::Mip(render_window(state.window)),
                Some(p) => view.mode = RayMode::Composite(TfChoice::Preset(p)),
            }
            // Fit the volume, then apply the user's zoom.
            let extent = self.volume.geometry().world_bounds().size_mm();
            let fit = (extent.x.max(extent.y) * 1.1 / w.max(1) as f64)
                .max(extent.z * 1.1 / h.max(1) as f64);
            view.pixel_size_mm = fit / state.camera.zoom;
            view.azimuth_deg = state.camera.azimuth_deg;
            view.elevation_deg = state.camera.elevation_deg;
            view.step_scale = quality.step_scale;
            view.deterministic = quality.deterministic;
            let t = self.three_d.get_or_insert_with(|| {
                let ctx = ui.ctx().clone();
                ThreeD {
                    worker: super::three_d::Worker::start(
                        g.render_state.device.clone(),
                        g.render_state.queue.clone(),
                        self.volume.clone(),
                        Arc::new(move || ctx.request_repaint()),
                    ),
                    requested: None,
                    serial: 0,
                    shown_serial: 0,
                    last_overlay: None,
                    overlay_since: std::time::Instant::now(),
                    shown: None,
                    shown_opaque: false,
                    shown_image: None,
                    error: None,
                }
            });
            if let Some(done) = t.worker.poll() {
                t.shown_serial = done.serial;
                match done.result {
                    Ok(img) => {
                        t.shown_opaque = img.pixels.chunks_exact(4).all(|p| p[3] == u8::MAX);
                        let image = egui::ColorImage::from_rgba_unmultiplied(
                            [img.width as usize, img.height as usize],
                            &img.pixels,
                        );
                        t.shown_image = Some(Arc::new(image.clone()));
                        match &mut t.shown {
                            Some((v, tex)) => {
                                tex.set(image, TextureOptions::LINEAR);
                                *v = done.view;
                            }
                            None => {
                                let tex =
                                    ui.ctx().load_texture("3d", image, TextureOptions::LINEAR);
                                t.shown = Some((done.view, tex));
                            }
                        }
                        t.error = None;
                    }
                    Err(e) => t.error = Some(e),
                }
            }
            let wanted = (view.clone(), g.shapes.clone(), _plan.mask_generation());
            // Overlay-only changes (a probe being dragged in a 2D view) wait until they have
            // been still for a moment: a ray cast per drag step would hold the GPU queue (on
            // lavapipe, the CPU) that the 2D views need.
            let overlays_changed = t
                .requested
                .as_ref()
                .is_some_and(|r| r.0 == wanted.0 && r != &wanted);
            if overlays_changed && t.last_overlay != Some((wanted.1.clone(), wanted.2)) {
                t.last_overlay = Some((wanted.1.clone(), wanted.2));
                t.overlay_since = std::time::Instant::now();
            }
            let settled = t.overlay_since.elapsed() >= OVERLAY_SETTLE;
            if overlays_changed && !settled {
                ui.ctx().request_repaint_after(OVERLAY_SETTLE);
            }
            if t.requested.as_ref() != Some(&wanted) && (!overlays_changed || settled) {
                t.serial += 1;
                t.worker.request(super::three_d::Request {
                    serial: t.serial,
                    view: view.clone(),
                    shapes: g.shapes.clone(),
                    mask: (
                        _plan.mask_generation(),
                        _plan.segmentation.as_ref().map(|s| s.mask.clone()),
                    ),
                });
                t.requested = Some(wanted.clone());
            }
            if !(t.shown.is_some() && t.shown_opaque) {
                fill(painter);
            }
            if let (true, Some(image)) = (t.shown_opaque, &t.shown_image) {
                super::blit::add(
                    painter,
                    rect,
                    BLIT_KEY_3D,
                    image.clone(),
                    t.shown_serial,
                    g.render_state.target_format,
                );
            } else if let Some((_, tex)) = &t.shown {
                painter.image(
                    tex.id(),
                    rect,
                    Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
            }
            let complete = t.shown.is_some()
                && t.shown_serial == t.serial
                && t.requested.as_ref() == Some(&wanted);
            if let Some(e) = &t.error {
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    format!("3D: {e}"),
                    FontId::proportional(12.0),
                    Color32::LIGHT_RED,
                );
                return true;
            }
            if !complete {
                painter.text(
                    rect.right_bottom() + egui::vec2(-8.0, -6.0),
                    Align2::RIGHT_BOTTOM,
                    "rendering…",
                    FontId::proportional(12.0),
                    Color32::from_gray(170),
                );
            }
            return complete;
        }
        fill(painter);
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            "3D volume rendering needs the GPU renderer (margo-render)",
            FontId::proportional(13.0),
            Color32::from_gray(160),
        );
        true
    }
}

/// The 3D view's key in [`super::blit`] (the 2D views use their slot number).
const BLIT_KEY_3D: usize = 100;

fn render_window(w: WindowLevel) -> margo_render::WindowLevel {
    margo_render::WindowLevel::new(w.center_hu, w.width_hu).unwrap_or_default()
}

fn add_callback(painter: &egui::Painter, rect: Rect, slot: usize, frame: Frame) {
    painter.add(egui_wgpu::Callback::new_paint_callback(
        rect,
        ViewCallback {
            key: view_key(slot),
            frame,
        },
    ));
}

/// One view drawn by margo-render inside egui's render pass.
struct ViewCallback {
    key: margo_render::ViewKey,
    frame: Frame,
}

impl egui_wgpu::CallbackTrait for ViewCallback {
    fn prepare(
        &self,
        _device: &wgpu::Device,
        _queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(r) = resources.get_mut::<Renderer>() {
            // An error leaves the pane empty (black); the status line names the renderer.
            let _ = r.prepare(self.key, &self.frame);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(r) = resources.get::<Renderer>() {
            let _ = r.paint(pass, self.key);
        }
    }
}

/// How the 3D view trades quality for speed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ThreeDQuality {
    /// Fraction of the view's pixels along each axis that get a ray.
    resolution_scale: f64,
    /// `RaycastView::step_scale`.
    step_scale: f64,
    /// No per-pixel jitter of the ray start.
    deterministic: bool,
}

impl ThreeDQuality {
    /// Half resolution and the interactive step while dragging (fewer rays still on a software
    /// rasteriser), full quality when still.
    fn of(interacting: bool, software: bool) -> Self {
        let resolution_scale = match (interacting, software) {
            (false, false) => 1.0,
            (true, false) | (false, true) => 0.5,
            (true, true) => 0.3,
        };
        let step_scale = match (interacting, software) {
            (false, false) => 1.0,
            (false, true) => 2.0,
            (true, _) => margo_render::raycast::INTERACTIVE_STEP_SCALE,
        };
        Self {
            resolution_scale,
            step_scale,
            // At the interactive step, rays that start at the same depth sample thin structures
            // (the lung preset's -650..-400 HU band at the skin, pleura and vessel walls) in
            // concentric rings that hide the vessel tree; a per-pixel start offset turns them
            // into fine noise (BENCHMARKS.md). The pattern is fixed (seed 0), so it does not
            // flicker, and still frames stay exact (goldens).
            deterministic: !interacting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ThreeDQuality;

    #[test]
    fn the_3d_view_is_exact_when_still_and_jittered_at_the_coarse_step_while_dragging() {
        for software in [false, true] {
            let still = ThreeDQuality::of(false, software);
            let drag = ThreeDQuality::of(true, software);
            assert!(still.deterministic && !drag.deterministic);
            assert_eq!(
                drag.step_scale,
                margo_render::raycast::INTERACTIVE_STEP_SCALE
            );
            assert!(drag.step_scale > still.step_scale);
            assert!(drag.resolution_scale < still.resolution_scale);
        }
        assert_eq!(ThreeDQuality::of(false, false).step_scale, 1.0);
    }
}
