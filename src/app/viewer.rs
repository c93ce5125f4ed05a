//! The case view: side panel plus the 2x2 grid (axial, coronal, sagittal, 3D), each slot with
//! its image, overlays (crosshair, letters, scale bar, measurements, probes, zones) and the
//! radiology mouse conventions.

use eframe::egui::{
    self, Align2, Color32, FontId, PointerButton, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2,
};
use margo_volume::SliceGrid;
use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::orientation_label;

use super::case::Case;
use super::overlay::{self, ellipsoid_outline, plane_intersection_line};
use super::panels;
use super::plan_bridge::PlanSession;
use super::render_bridge::ViewImages;
use super::state::{Measurement, SlotContent, Tool, ViewerState, WINDOW_PRESETS, WindowLevel};

/// Slot colours as in 3D Slicer: axial red, coronal green, sagittal yellow.
pub fn slot_color(content: SlotContent) -> Color32 {
    use margo_volume::AnatomicalView::*;
    match content {
        SlotContent::Mpr(Axial) => Color32::from_rgb(230, 80, 70),
        SlotContent::Mpr(Coronal) => Color32::from_rgb(90, 200, 90),
        SlotContent::Mpr(Sagittal) => Color32::from_rgb(230, 210, 70),
        SlotContent::ThreeD => Color32::from_rgb(120, 150, 230),
        SlotContent::ProbeAlong(_) | SlotContent::ProbeAcross(_) => Color32::from_rgb(80, 210, 230),
    }
}

const TIP_COLOR: Color32 = Color32::from_rgb(255, 90, 90);
const ENTRY_COLOR: Color32 = Color32::from_rgb(90, 220, 255);
const ZONE_COLOR: Color32 = Color32::from_rgb(255, 140, 0);
const MEASURE_COLOR: Color32 = Color32::from_rgb(120, 255, 160);
/// How close (screen points) the pointer must be to grab a probe end.
const GRAB_RADIUS: f32 = 9.0;

/// Dark theme with slightly larger text, set once.
pub fn install_style(ctx: &egui::Context) {
    ctx.set_visuals(egui::Visuals::dark());
}

/// What the pointer shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hover {
    pub slot: usize,
    pub point_in_world: Point3<f64>,
    pub hu: Option<i16>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Drag {
    Measure { a_in_world: Point3<f64> },
    ProbeEnd { probe: usize, tip: bool },
}

pub struct Viewer {
    pub case: Case,
    pub state: ViewerState,
    pub images: ViewImages,
    pub plan: PlanSession,
    pub hover: Option<Hover>,
    drag: Option<Drag>,
    wheel_accum: [f64; 4],
    /// Tip placed, waiting for the entry click.
    pub pending_tip: Option<Point3<f64>>,
    /// Each slot has drawn a complete image for the current state.
    drawn: [bool; 4],
    /// Grid of each slot as last drawn (tests and screen <-> world conversions).
    pub grids: [Option<SliceGrid>; 4],
    pub rects: [Option<Rect>; 4],
    /// Where "Save plan" / "Open plan" go (the input folder is never written to).
    pub plan_path: String,
    /// Default folder of view PNGs (and of the plan path above).
    pub documents_dir: std::path::PathBuf,
    /// Outcome of "Save view as PNG" (shared with the top bar's screenshot note).
    pub screenshot_note: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Viewer {
    pub fn new(
        case: Case,
        gpu: Option<&eframe::egui_wgpu::RenderState>,
        mpr_on_gpu: Option<bool>,
        documents_dir: std::path::PathBuf,
    ) -> Self {
        let window = if case.info.is_ct {
            WINDOW_PRESETS[0].1
        } else {
            // Non-CT: HU presets do not apply; start from the data's range.
            let (lo, hi) = case.volume.min_max().unwrap_or((0.0, 1.0));
            WindowLevel::new(((lo + hi) / 2.0) as f64, (hi - lo).max(1.0) as f64)
        };
        let state = ViewerState::new(case.volume.geometry().clone(), window);
        let images = ViewImages::new(gpu, &case.volume, mpr_on_gpu);
        let plan = PlanSession::new(case.volume.clone(), &case.info.series_uid);
        let case_uid = case.info.series_uid.clone();
        Self {
            case,
            state,
            images,
            plan,
            hover: None,
            drag: None,
            wheel_accum: [0.0; 4],
            pending_tip: None,
            drawn: [false; 4],
            grids: [None, None, None, None],
            rects: [None; 4],
            screenshot_note: Default::default(),
            plan_path: documents_dir
                .join(format!("margo-plan-{}.json", sanitize(&case_uid)))
                .display()
                .to_string(),
            documents_dir,
        }
    }

    /// True once every visible slot has drawn a complete image (screenshot readiness).
    pub fn all_views_drawn(&self) -> bool {
        let visible: Vec<usize> = match self.state.maximized {
            Some(s) => vec![s],
            None => (0..4).collect(),
        };
        visible.iter().all(|&s| self.drawn[s]) && !self.plan.busy()
    }

    pub fn probe_ends(&self) -> impl Fn(usize) -> Option<(Point3<f64>, Point3<f64>)> + Copy + '_ {
        |n| self.plan.probes.get(n).map(|p| (p.tip, p.entry))
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.plan.poll();
        self.images.sync_overlays(&self.plan);
        self.keyboard(ui.ctx());
        panels::side_panel(self, ui);
        // No panel fill: the views cover their rects with opaque images, and on a software
        // rasteriser (lavapipe) every full-window layer of fragments costs ~25 ms a frame.
        // Only the gaps between views (and views without an image) are filled.
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE)
            .show(ui, |ui| {
                let full = ui.available_rect_before_wrap();
                let rects = slot_rects(full, self.state.maximized);
                for gap in slot_gaps(full, self.state.maximized) {
                    ui.painter().rect_filled(gap, 0.0, VIEW_BACKGROUND);
                }
                self.rects = [None; 4];
                self.drawn = [false; 4];
                self.hover = None;
                for (slot, rect) in rects {
                    self.rects[slot] = Some(rect);
                    self.slot_ui(ui, slot, rect);
                }
            });
        if self.plan.busy() {
            ui.ctx().request_repaint();
        }
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let keys = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
        ];
        ctx.input(|i| {
            for (n, k) in keys.iter().enumerate() {
                if i.key_pressed(*k) {
                    self.state.window = WINDOW_PRESETS[n].1;
                }
            }
            if i.key_pressed(egui::Key::R) {
                self.state.reset_views();
            }
            if i.key_pressed(egui::Key::Escape) {
                self.pending_tip = None;
                self.drag = None;
                self.state.tool = Tool::Navigate;
            }
        });
    }

    fn slot_ui(&mut self, ui: &mut egui::Ui, slot: usize, rect: Rect) {
        let id = ui.make_persistent_id(("margo-slot", slot));
        let response = ui.interact(rect, id, Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        let content = self.state.slots[slot].content;
        if response.double_clicked() {
            self.state.toggle_maximized(slot);
        }
        // Right click without a drag (a drag is W/L): the view's menu.
        response.context_menu(|ui| {
            if ui.button("Save view as PNG").clicked() {
                let name = content.title().to_lowercase().replace(' ', "-");
                let path = self
                    .documents_dir
                    .join(super::paths::timestamped_png(&format!("margo-{name}")));
                super::capture::save_window(
                    ui.ctx(),
                    path,
                    Some(rect),
                    self.screenshot_note.clone(),
                );
                ui.close();
            }
            let label = if self.state.maximized == Some(slot) {
                "Restore 2x2"
            } else {
                "Maximise"
            };
            if ui.button(label).clicked() {
                self.state.toggle_maximized(slot);
                ui.close();
            }
            if ui.button("Reset views (R)").clicked() {
                self.state.reset_views();
                ui.close();
            }
        });
        if content == SlotContent::ThreeD {
            self.three_d_ui(ui, slot, rect, &response, &painter);
        } else {
            self.mpr_ui(ui, slot, rect, &response, &painter);
        }
        // Frame and title.
        let color = slot_color(content);
        let active = response.hovered();
        painter.rect_stroke(
            rect.shrink(0.5),
            0.0,
            Stroke::new(if active { 2.0 } else { 1.0 }, color.gamma_multiply(0.8)),
            StrokeKind::Inside,
        );
    }

    fn three_d_ui(
        &mut self,
        ui: &mut egui::Ui,
        slot: usize,
        rect: Rect,
        response: &egui::Response,
        painter: &egui::Painter,
    ) {
        if response.dragged_by(PointerButton::Primary) {
            let d = response.drag_delta();
            self.state.orbit(-d.x as f64 * 0.5, d.y as f64 * 0.5);
        }
        if response.hovered() {
            for (steps, _, ctrl) in wheel_steps(ui) {
                let _ = ctrl;
                self.state.camera.zoom =
                    (self.state.camera.zoom * 1.1f64.powf(steps)).clamp(0.3, 8.0);
            }
        }
        let interacting = response.dragged();
        let drawn = self
            .images
            .three_d(ui, painter, rect, &self.state, &self.plan, interacting);
        self.drawn[slot] = drawn;
        text_top_left(
            painter,
            rect,
            &[
                "3D".to_owned(),
                format!(
                    "{}  az {:.0}° el {:.0}°",
                    self.state.camera.preset.label(),
                    self.state.camera.azimuth_deg,
                    self.state.camera.elevation_deg
                ),
            ],
            slot_color(SlotContent::ThreeD),
        );
    }

    fn mpr_ui(
        &mut self,
        ui: &mut egui::Ui,
        slot: usize,
        rect: Rect,
        response: &egui::Response,
        painter: &egui::Painter,
    ) {
        let w = rect.width().round().max(1.0) as usize;
        let h = rect.height().round().max(1.0) as usize;
        let ends = |n: usize| self.plan.probes.get(n).map(|p| (p.tip, p.entry));
        let grid = match self.state.slice_grid(slot, w, h, ends) {
            Ok(g) => g,
            Err(e) => {
                painter.rect_filled(rect, 0.0, VIEW_BACKGROUND);
                shadow_text(
                    painter,
                    rect.center(),
                    Align2::CENTER_CENTER,
                    format!("{}: {e}", self.state.slots[slot].content.title()),
                    FontId::proportional(13.0),
                    Color32::LIGHT_RED,
                );
                self.drawn[slot] = true;
                return;
            }
        };
        let to_screen = |p: [f64; 2]| rect.min + Vec2::new(p[0] as f32, p[1] as f32);
        let world_at = |pos: Pos2| {
            let local = pos - rect.min;
            grid.world_from_screen(local.x as f64, local.y as f64)
        };

        self.mpr_interaction(ui, slot, response, &grid, &world_at);
        // The state may have changed: recompute the grid for drawing.
        let ends = |n: usize| self.plan.probes.get(n).map(|p| (p.tip, p.entry));
        let grid = self
            .state
            .slice_grid(slot, w, h, ends)
            .unwrap_or_else(|_| grid.clone());
        let to_screen_g = |p: &Point3<f64>| {
            let (x, y, d) = grid.screen_from_world(p);
            (to_screen([x, y]), d)
        };

        self.grids[slot] = Some(grid.clone());
        let s = &self.state.slots[slot];
        self.drawn[slot] = self.images.mpr(
            ui,
            painter,
            slot,
            rect,
            &grid,
            self.state.window,
            s.slab,
            s.slab_thickness_mm,
            &self.plan,
        );

        // Crosshair: where the other MPR planes cut this one, in their colours.
        if self.state.show_crosshair {
            for other in 0..4 {
                if other == slot || self.rects.get(other).is_none() {
                    continue;
                }
                let oc = self.state.slots[other].content;
                if !matches!(oc, SlotContent::Mpr(_)) {
                    continue;
                }
                let Some(op) = self.state.view_plane(other, ends) else {
                    continue;
                };
                let anchor = self.state.plane_anchor(other, ends);
                if let Some((p, d)) = plane_intersection_line(&grid, &anchor, &op.normal_in_world())
                {
                    let c = to_screen(p);
                    let d = Vec2::new(d[0] as f32, d[1] as f32);
                    let len = rect.width().max(rect.height()) * 2.0;
                    let gap = 14.0;
                    let stroke = Stroke::new(1.0, slot_color(oc).gamma_multiply(0.75));
                    painter.line_segment([c - d * len, c - d * gap], stroke);
                    painter.line_segment([c + d * gap, c + d * len], stroke);
                }
            }
        }

        // Zones: exact outline of each ellipsoid cut by the plane (the GPU renderer draws
        // their union itself).
        let cpu_zones = if self.images.mpr_on_gpu() {
            &[][..]
        } else {
            &self.plan.zones[..]
        };
        for (n, zone) in cpu_zones.iter().enumerate() {
            if let Some(pts) = ellipsoid_outline(zone, &grid, 96) {
                let pts: Vec<Pos2> = pts.into_iter().map(to_screen).collect();
                let _ = n;
                painter.add(egui::Shape::line(pts, Stroke::new(2.0, ZONE_COLOR)));
            }
        }
        // Weakest margin point.
        if let Some(p) = self.plan.weakest_point() {
            let (sp, d) = to_screen_g(&p);
            if d.abs() < grid.pixel_size_mm() * 3.0 + 1.5 {
                painter.circle_stroke(sp, 6.0, Stroke::new(2.0, Color32::from_rgb(255, 60, 200)));
            }
        }
        // Probes: shaft projected, ends as markers (solid when near the plane).
        for (n, p) in self.plan.probes.iter().enumerate() {
            let (t, dt) = to_screen_g(&p.tip);
            let (e, de) = to_screen_g(&p.entry);
            let near = |d: f64| d.abs() <= grid.pixel_size_mm().max(2.0);
            painter.line_segment([e, t], Stroke::new(2.5, Color32::from_rgb(235, 235, 235)));
            for (pt, d, c) in [(t, dt, TIP_COLOR), (e, de, ENTRY_COLOR)] {
                if near(d) {
                    painter.circle_filled(pt, 5.0, c);
                } else {
                    painter.circle_stroke(pt, 5.0, Stroke::new(1.5, c));
                }
            }
            shadow_text(
                painter,
                t + Vec2::new(8.0, -8.0),
                Align2::LEFT_BOTTOM,
                format!("P{}", n + 1),
                FontId::proportional(12.0),
                Color32::WHITE,
            );
        }
        if let Some(tip) = self.pending_tip {
            let (t, _) = to_screen_g(&tip);
            painter.circle_filled(t, 5.0, TIP_COLOR);
            if let Some(hp) = response.hover_pos() {
                painter.line_segment([t, hp], Stroke::new(1.5, ENTRY_COLOR.gamma_multiply(0.7)));
            }
        }
        // Measurements.
        let mut lines: Vec<Measurement> = self.state.measurements.clone();
        if let (Some(Drag::Measure { a_in_world }), Some(pos)) =
            (self.drag, response.interact_pointer_pos())
            && response.dragged()
        {
            lines.push(Measurement {
                a_in_world,
                b_in_world: world_at(pos),
            });
        }
        for m in &lines {
            let (a, da) = to_screen_g(&m.a_in_world);
            let (b, db) = to_screen_g(&m.b_in_world);
            if da.abs().max(db.abs()) > grid.pixel_size_mm().max(1.0) * 2.0 {
                continue;
            }
            painter.line_segment([a, b], Stroke::new(1.5, MEASURE_COLOR));
            for q in [a, b] {
                painter.circle_filled(q, 2.5, MEASURE_COLOR);
            }
            shadow_text(
                painter,
                b + Vec2::new(6.0, 0.0),
                Align2::LEFT_CENTER,
                format!("{:.1} mm", m.length_mm()),
                FontId::proportional(13.0),
                MEASURE_COLOR,
            );
        }

        self.annotations(slot, rect, &grid, painter, response);
    }

    /// Mouse handling of a 2D view.
    fn mpr_interaction(
        &mut self,
        ui: &egui::Ui,
        slot: usize,
        response: &egui::Response,
        grid: &SliceGrid,
        world_at: &dyn Fn(Pos2) -> Point3<f64>,
    ) {
        // Wheel: slices (Shift = 5x); Ctrl+wheel: zoom.
        if response.hovered() {
            for (steps, shift, ctrl) in wheel_steps(ui) {
                if ctrl {
                    self.state.zoom(slot, 1.15f64.powf(steps));
                } else {
                    self.wheel_accum[slot] += steps;
                    let whole = self.wheel_accum[slot].trunc();
                    if whole != 0.0 {
                        self.wheel_accum[slot] -= whole;
                        self.scroll(slot, whole, shift);
                    }
                }
            }
        }
        let mods = ui.input(|i| i.modifiers);
        let delta = response.drag_delta();
        // W/L: right-drag, or Ctrl + left-drag.
        if response.dragged_by(PointerButton::Secondary)
            || (response.dragged_by(PointerButton::Primary) && mods.ctrl)
        {
            self.state.drag_window(delta.x as f64, delta.y as f64);
            return;
        }
        if response.dragged_by(PointerButton::Middle) {
            let px = grid.pixel_size_mm();
            self.state
                .pan(slot, -(delta.x as f64) * px, -(delta.y as f64) * px);
            // pan() moves the centre opposite to the drag; the image follows the mouse.
            return;
        }
        let Some(pos) = response.interact_pointer_pos().or(response.hover_pos()) else {
            return;
        };
        let world = world_at(pos);
        match self.state.tool {
            Tool::Navigate => {
                if response.drag_started_by(PointerButton::Primary) {
                    self.drag = self.grab_probe_end(grid, pos, response.rect.min);
                }
                if response.dragged_by(PointerButton::Primary) {
                    match self.drag {
                        Some(Drag::ProbeEnd { probe, tip }) => {
                            self.plan.move_probe_end(probe, tip, world);
                        }
                        _ => self.state.crosshair_in_world = world,
                    }
                } else if response.clicked_by(PointerButton::Primary) {
                    self.state.crosshair_in_world = world;
                }
                if response.drag_stopped() {
                    self.drag = None;
                }
            }
            Tool::Measure => {
                if response.drag_started_by(PointerButton::Primary) {
                    let start = response
                        .interact_pointer_pos()
                        .map(|p| p - delta)
                        .unwrap_or(pos);
                    self.drag = Some(Drag::Measure {
                        a_in_world: world_at(start),
                    });
                }
                if response.drag_stopped_by(PointerButton::Primary)
                    && let Some(Drag::Measure { a_in_world }) = self.drag.take()
                {
                    let m = Measurement {
                        a_in_world,
                        b_in_world: world,
                    };
                    if m.length_mm() > 0.0 {
                        self.state.measurements.push(m);
                    }
                }
            }
            Tool::Segment => {
                if response.clicked_by(PointerButton::Primary) {
                    self.state.crosshair_in_world = world;
                    self.plan.segment(world);
                }
            }
            Tool::AddProbe => {
                if response.clicked_by(PointerButton::Primary) {
                    match self.pending_tip.take() {
                        None => self.pending_tip = Some(world),
                        Some(tip) => {
                            if (world - tip).norm() < 1.0 {
                                // Entry on the tip: keep waiting for a real entry point.
                                self.pending_tip = Some(tip);
                            } else {
                                self.plan.add_probe(tip, world);
                                self.state.tool = Tool::Navigate;
                            }
                        }
                    }
                }
            }
            Tool::Rotate => {
                if response.dragged_by(PointerButton::Primary) {
                    self.state
                        .rotate_plane(slot, delta.x as f64 * 0.01, -(delta.y as f64) * 0.01);
                }
            }
        }
        if let Some(hp) = response.hover_pos() {
            let p = world_at(hp);
            self.hover = Some(Hover {
                slot,
                point_in_world: p,
                hu: self.case.volume.sample_nearest_world(&p),
            });
        }
    }

    /// Scrolls a slot's plane; probe views move along their normal through the crosshair too.
    pub fn scroll(&mut self, slot: usize, steps: f64, fast: bool) {
        // Wheel away from the user (negative y delta in egui = content up) goes superior /
        // posterior / left, as in Slicer.
        self.state.scroll_slices(slot, steps, fast);
    }

    fn grab_probe_end(&self, grid: &SliceGrid, pos: Pos2, origin: Pos2) -> Option<Drag> {
        let mut best: Option<(f32, Drag)> = None;
        for (n, p) in self.plan.probes.iter().enumerate() {
            for (pt, tip) in [(p.tip, true), (p.entry, false)] {
                let (x, y, _) = grid.screen_from_world(&pt);
                let d = (origin + Vec2::new(x as f32, y as f32)).distance(pos);
                if d <= GRAB_RADIUS && best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, Drag::ProbeEnd { probe: n, tip }));
                }
            }
        }
        best.map(|(_, d)| d)
    }

    /// Text, orientation letters and scale bar of a 2D view.
    fn annotations(
        &self,
        slot: usize,
        rect: Rect,
        grid: &SliceGrid,
        painter: &egui::Painter,
        response: &egui::Response,
    ) {
        let s = &self.state.slots[slot];
        let color = slot_color(s.content);
        let mut top = vec![s.content.title()];
        if let (Some((i, n)), Some(pos)) = (
            self.state.slice_index(slot),
            self.state.slice_position_mm(slot),
        ) && matches!(s.content, SlotContent::Mpr(_))
        {
            let axis = match s.content {
                SlotContent::Mpr(margo_volume::AnatomicalView::Axial) => "z",
                SlotContent::Mpr(margo_volume::AnatomicalView::Coronal) => "y",
                _ => "x",
            };
            top.push(format!("Im {}/{}   {axis} = {pos:.1} mm", i + 1, n));
        }
        if s.slab != super::state::SlabMode::Thin {
            top.push(format!(
                "{} slab {:.0} mm",
                s.slab.label(),
                s.slab_thickness_mm
            ));
        }
        if s.rotation != margo_volume::nalgebra::Rotation3::identity() {
            top.push("oblique".to_owned());
        }
        text_top_left(painter, rect, &top, color);
        let wl = format!(
            "W {:.0}  L {:.0}\nzoom {:.2}",
            self.state.window.width_hu, self.state.window.center_hu, s.zoom
        );
        shadow_text(
            painter,
            rect.right_top() + Vec2::new(-6.0, 4.0),
            Align2::RIGHT_TOP,
            wl,
            FontId::proportional(12.0),
            Color32::from_gray(210),
        );
        // Orientation letters at the edge midpoints.
        let right = grid.right_in_world();
        let down = grid.down_in_world();
        let letter = |v: Vector3<f64>| orientation_label(&v);
        let font = FontId::proportional(16.0);
        let lc = Color32::from_rgb(255, 220, 120);
        shadow_text(
            painter,
            rect.left_center() + Vec2::new(6.0, 0.0),
            Align2::LEFT_CENTER,
            letter(-right),
            font.clone(),
            lc,
        );
        shadow_text(
            painter,
            rect.right_center() + Vec2::new(-6.0, 0.0),
            Align2::RIGHT_CENTER,
            letter(right),
            font.clone(),
            lc,
        );
        shadow_text(
            painter,
            rect.center_top() + Vec2::new(0.0, 4.0),
            Align2::CENTER_TOP,
            letter(-down),
            font.clone(),
            lc,
        );
        shadow_text(
            painter,
            rect.center_bottom() + Vec2::new(0.0, -4.0),
            Align2::CENTER_BOTTOM,
            letter(down),
            font,
            lc,
        );
        // Scale bar (bottom right): a round length up to a quarter of the view.
        let px = grid.pixel_size_mm();
        let bar_mm = overlay::scale_bar_mm(rect.width() as f64 * 0.25 * px);
        let bar_pt = (bar_mm / px) as f32;
        let y = rect.bottom() - 22.0;
        let x1 = rect.right() - 14.0;
        let x0 = x1 - bar_pt;
        let st = Stroke::new(2.0, Color32::from_gray(230));
        painter.line_segment([Pos2::new(x0, y), Pos2::new(x1, y)], st);
        painter.line_segment([Pos2::new(x0, y - 4.0), Pos2::new(x0, y + 4.0)], st);
        painter.line_segment([Pos2::new(x1, y - 4.0), Pos2::new(x1, y + 4.0)], st);
        shadow_text(
            painter,
            Pos2::new((x0 + x1) / 2.0, y - 5.0),
            Align2::CENTER_BOTTOM,
            format!("{bar_mm:.0} mm"),
            FontId::proportional(11.0),
            Color32::from_gray(230),
        );
        // HU and LPS under the cursor (bottom left).
        if let Some(h) = self.hover.filter(|h| h.slot == slot)
            && response.hovered()
        {
            let p = h.point_in_world;
            let hu = match h.hu {
                Some(v) if self.case.info.is_ct => format!("{v} HU"),
                Some(v) => format!("{v}"),
                None => "outside".to_owned(),
            };
            shadow_text(
                painter,
                rect.left_bottom() + Vec2::new(6.0, -6.0),
                Align2::LEFT_BOTTOM,
                format!("{hu}\n({:.1}, {:.1}, {:.1}) mm LPS", p.x, p.y, p.z),
                FontId::monospace(12.0),
                Color32::from_gray(230),
            );
        }
    }
}

fn text_top_left(painter: &egui::Painter, rect: Rect, lines: &[String], color: Color32) {
    shadow_text(
        painter,
        rect.left_top() + Vec2::new(6.0, 4.0),
        Align2::LEFT_TOP,
        lines.join("\n"),
        FontId::proportional(12.5),
        color,
    );
}

/// Wheel notches this frame as (steps, shift, ctrl): a line = 1 step, 50 points = 1 step.
/// Positive steps = wheel pushed away from the user.
fn wheel_steps(ui: &egui::Ui) -> Vec<(f64, bool, bool)> {
    ui.input(|i| {
        i.events
            .iter()
            .filter_map(|e| match e {
                egui::Event::MouseWheel {
                    unit,
                    delta,
                    modifiers,
                    ..
                } => {
                    // Some platforms turn Shift+wheel into horizontal scrolling.
                    let d = if delta.y != 0.0 { delta.y } else { delta.x } as f64;
                    let steps = match unit {
                        egui::MouseWheelUnit::Line => d,
                        egui::MouseWheelUnit::Point => d / 50.0,
                        egui::MouseWheelUnit::Page => d * 10.0,
                    };
                    Some((steps, modifiers.shift, modifiers.ctrl || modifiers.command))
                }
                _ => None,
            })
            .collect()
    })
}

/// Rectangles of the visible slots: one maximised, or the 2x2 grid
/// (axial | coronal / sagittal | 3D).
pub fn slot_rects(full: Rect, maximized: Option<usize>) -> Vec<(usize, Rect)> {
    if let Some(s) = maximized {
        return vec![(s, full)];
    }
    let gap = 2.0;
    let w = (full.width() - gap) / 2.0;
    let h = (full.height() - gap) / 2.0;
    (0..4)
        .map(|s| {
            let (c, r) = (s % 2, s / 2);
            let min = full.min + Vec2::new(c as f32 * (w + gap), r as f32 * (h + gap));
            (s, Rect::from_min_size(min, Vec2::new(w, h)))
        })
        .collect()
}

/// Background of the views area, where no image covers it.
pub const VIEW_BACKGROUND: Color32 = Color32::from_gray(12);

/// The strips of `full` between the rects of [`slot_rects`] (none when one view is maximised).
pub fn slot_gaps(full: Rect, maximized: Option<usize>) -> Vec<Rect> {
    let rects = slot_rects(full, maximized);
    if rects.len() < 4 {
        return Vec::new();
    }
    let (top_left, top_right, bottom_left) = (rects[0].1, rects[1].1, rects[2].1);
    vec![
        Rect::from_x_y_ranges(top_left.max.x..=top_right.min.x, full.y_range()),
        Rect::from_x_y_ranges(full.x_range(), top_left.max.y..=bottom_left.min.y),
    ]
}

/// A file-name-safe version of a UID.
fn sanitize(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if t.is_empty() { "case".into() } else { t }
}

/// Text with a dark outline so it stays readable over bright anatomy (bone, contrast).
fn shadow_text(
    painter: &egui::Painter,
    pos: Pos2,
    align: Align2,
    text: impl ToString,
    font: FontId,
    color: Color32,
) {
    let text = text.to_string();
    let shadow = Color32::from_black_alpha(200);
    for d in [
        Vec2::new(1.0, 1.0),
        Vec2::new(-1.0, 1.0),
        Vec2::new(1.0, -1.0),
        Vec2::new(-1.0, -1.0),
    ] {
        painter.text(pos + d, align, &text, font.clone(), shadow);
    }
    painter.text(pos, align, text, font, color);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The views and the gaps between them cover the whole views area (nothing shows the
    /// clear colour now that the panel has no fill), and the gaps do not cover any view.
    #[test]
    fn slot_rects_and_gaps_tile_the_views_area() {
        let full = Rect::from_min_size(egui::pos2(0.0, 24.0), Vec2::new(977.5, 775.0));
        for maximized in [None, Some(2)] {
            let rects: Vec<Rect> = slot_rects(full, maximized).iter().map(|r| r.1).collect();
            let gaps = slot_gaps(full, maximized);
            for y in (24..799).step_by(3) {
                for x in (0..977).step_by(3) {
                    let p = egui::pos2(x as f32 + 0.5, y as f32 + 0.5);
                    let in_view = rects.iter().filter(|r| r.contains(p)).count();
                    let in_gap = gaps.iter().any(|g| g.contains(p));
                    assert!(
                        (in_view == 1) != in_gap,
                        "{p:?}: {in_view} views, gap {in_gap} ({maximized:?})"
                    );
                }
            }
        }
    }
}
