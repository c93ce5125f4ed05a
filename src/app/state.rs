//! The viewer's state, free of any UI code: what each view slot shows, the linked crosshair in
//! LPS mm, window/level, zoom/pan, slab, oblique rotation, the 3D camera, the active tool and
//! the measurements. The UI reads it to draw and calls its methods to change it, so every
//! interaction rule (what a wheel step does, how a drag maps to W/L) is unit-tested here.

use margo_volume::nalgebra::{Point3, Rotation3, Unit, Vector3};
use margo_volume::{AnatomicalView, SliceGrid, SliceGridError, VolumeGeometry};

/// Window/level in HU; the displayed grey ramps from `center - width/2` to `center + width/2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowLevel {
    pub center_hu: f64,
    pub width_hu: f64,
}

impl WindowLevel {
    pub const MIN_WIDTH_HU: f64 = 1.0;

    pub fn new(center_hu: f64, width_hu: f64) -> Self {
        Self {
            center_hu,
            width_hu: width_hu.max(Self::MIN_WIDTH_HU),
        }
    }

    /// Grey in 0..=1 for a value in HU.
    pub fn grey(&self, hu: f32) -> f32 {
        let lo = self.center_hu - self.width_hu / 2.0;
        (((hu as f64) - lo) / self.width_hu).clamp(0.0, 1.0) as f32
    }
}

/// The W/L presets on keys 1-4 (the values radiologists use for chest CT; DESIGN/issue 4).
pub const WINDOW_PRESETS: [(&str, WindowLevel); 4] = [
    (
        "Lung",
        WindowLevel {
            center_hu: -600.0,
            width_hu: 1500.0,
        },
    ),
    (
        "Mediastinum",
        WindowLevel {
            center_hu: 40.0,
            width_hu: 400.0,
        },
    ),
    (
        "Bone",
        WindowLevel {
            center_hu: 400.0,
            width_hu: 1800.0,
        },
    ),
    (
        "Soft tissue",
        WindowLevel {
            center_hu: 50.0,
            width_hu: 350.0,
        },
    ),
];

/// Thick-slab projection of an MPR view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SlabMode {
    #[default]
    Thin,
    Mip,
    MinIp,
    Mean,
}

impl SlabMode {
    pub const ALL: [SlabMode; 4] = [Self::Thin, Self::Mip, Self::MinIp, Self::Mean];
    pub fn label(self) -> &'static str {
        match self {
            Self::Thin => "Thin",
            Self::Mip => "MIP",
            Self::MinIp => "MinIP",
            Self::Mean => "Mean",
        }
    }
}

/// 3D view presets (transfer functions of margo-render, or MIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VolumePreset {
    #[default]
    Lung,
    Bone,
    Vessels,
    Mip,
}

impl VolumePreset {
    pub const ALL: [VolumePreset; 4] = [Self::Lung, Self::Bone, Self::Vessels, Self::Mip];
    pub fn label(self) -> &'static str {
        match self {
            Self::Lung => "Lung",
            Self::Bone => "Bone",
            Self::Vessels => "Vessels",
            Self::Mip => "MIP",
        }
    }
}

/// What a view slot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotContent {
    Mpr(AnatomicalView),
    ThreeD,
    /// Oblique plane containing the shaft of probe `n`.
    ProbeAlong(usize),
    /// Plane perpendicular to probe `n` through its tip.
    ProbeAcross(usize),
}

impl SlotContent {
    pub fn title(self) -> String {
        match self {
            Self::Mpr(AnatomicalView::Axial) => "Axial".into(),
            Self::Mpr(AnatomicalView::Coronal) => "Coronal".into(),
            Self::Mpr(AnatomicalView::Sagittal) => "Sagittal".into(),
            Self::ThreeD => "3D".into(),
            Self::ProbeAlong(n) => format!("Probe {} along shaft", n + 1),
            Self::ProbeAcross(n) => format!("Probe {} across tip", n + 1),
        }
    }
}

/// Per-slot view parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotState {
    pub content: SlotContent,
    /// 1 = the whole volume fits the view.
    pub zoom: f64,
    /// Screen-plane pan of the view centre, mm along the view's right and down axes.
    pub pan_mm: [f64; 2],
    /// Oblique rotation of the plane about the crosshair (identity = the standard plane).
    pub rotation: Rotation3<f64>,
    pub slab: SlabMode,
    pub slab_thickness_mm: f64,
}

impl SlotState {
    pub fn new(content: SlotContent) -> Self {
        Self {
            content,
            zoom: 1.0,
            pan_mm: [0.0, 0.0],
            rotation: Rotation3::identity(),
            slab: SlabMode::Thin,
            slab_thickness_mm: 10.0,
        }
    }
}

/// The 3D camera: orbit about the volume centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera3d {
    pub azimuth_deg: f64,
    pub elevation_deg: f64,
    pub zoom: f64,
    pub preset: VolumePreset,
}

impl Default for Camera3d {
    fn default() -> Self {
        // Seen from the front (anterior), like a coronal view.
        Self {
            azimuth_deg: 0.0,
            elevation_deg: 0.0,
            zoom: 1.0,
            preset: VolumePreset::Lung,
        }
    }
}

/// What a left click in a 2D view does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tool {
    /// Click/drag moves the crosshair; probe ends can be dragged.
    #[default]
    Navigate,
    /// Click-drag draws a distance measurement.
    Measure,
    /// Click the nodule to segment it.
    Segment,
    /// Click the tip, then the entry point.
    AddProbe,
    /// Drag rotates the plane about the crosshair (oblique).
    Rotate,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Self::Navigate,
        Self::Measure,
        Self::Segment,
        Self::AddProbe,
        Self::Rotate,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Self::Navigate => "Navigate",
            Self::Measure => "Measure",
            Self::Segment => "Segment nodule",
            Self::AddProbe => "Add probe",
            Self::Rotate => "Oblique",
        }
    }
}

/// A distance measurement between two world points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    pub a_in_world: Point3<f64>,
    pub b_in_world: Point3<f64>,
}

impl Measurement {
    pub fn length_mm(&self) -> f64 {
        (self.b_in_world - self.a_in_world).norm()
    }
}

/// Everything the 2D/3D views show, for one loaded volume.
#[derive(Debug, Clone)]
pub struct ViewerState {
    geometry: VolumeGeometry,
    pub slots: [SlotState; 4],
    /// Slot shown alone (double-click), or None for the 2x2 grid.
    pub maximized: Option<usize>,
    pub crosshair_in_world: Point3<f64>,
    pub window: WindowLevel,
    pub camera: Camera3d,
    pub tool: Tool,
    pub measurements: Vec<Measurement>,
    pub show_crosshair: bool,
}

/// Standard slot layout: axial, coronal / sagittal, 3D.
pub const DEFAULT_SLOTS: [SlotContent; 4] = [
    SlotContent::Mpr(AnatomicalView::Axial),
    SlotContent::Mpr(AnatomicalView::Coronal),
    SlotContent::Mpr(AnatomicalView::Sagittal),
    SlotContent::ThreeD,
];

/// A plane to show: screen axes in world and the point it passes through.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewPlane {
    pub right_in_world: Vector3<f64>,
    pub down_in_world: Vector3<f64>,
}

impl ViewPlane {
    pub fn normal_in_world(&self) -> Vector3<f64> {
        self.right_in_world.cross(&self.down_in_world)
    }
}

impl ViewerState {
    pub fn new(geometry: VolumeGeometry, window: WindowLevel) -> Self {
        let crosshair_in_world = geometry.center_in_world();
        Self {
            geometry,
            slots: DEFAULT_SLOTS.map(SlotState::new),
            maximized: None,
            crosshair_in_world,
            window,
            camera: Camera3d::default(),
            tool: Tool::Navigate,
            measurements: Vec::new(),
            show_crosshair: true,
        }
    }

    pub fn geometry(&self) -> &VolumeGeometry {
        &self.geometry
    }

    /// Centred crosshair, fitted views without rotation, default 3D camera (key R). W/L and
    /// what each slot shows are kept.
    pub fn reset_views(&mut self) {
        self.crosshair_in_world = self.geometry.center_in_world();
        for slot in &mut self.slots {
            *slot = SlotState::new(slot.content);
        }
        self.camera = Camera3d {
            preset: self.camera.preset,
            ..Camera3d::default()
        };
    }

    /// The plane of an MPR slot (None for the 3D slot). Probe planes need the probe ends,
    /// passed by the caller as (tip, entry).
    pub fn view_plane(
        &self,
        slot: usize,
        probe_ends: impl Fn(usize) -> Option<(Point3<f64>, Point3<f64>)>,
    ) -> Option<ViewPlane> {
        let s = self.slots.get(slot)?;
        let (right, down) = match s.content {
            SlotContent::Mpr(view) => {
                let axes = view.screen_axes();
                (axes.right_in_world, axes.down_in_world)
            }
            SlotContent::ThreeD => return None,
            SlotContent::ProbeAlong(n) => {
                let (tip, entry) = probe_ends(n)?;
                let shaft = (tip - entry).try_normalize(1e-9)?;
                // Shaft runs down the screen (entry at top, tip below); right is the in-plane
                // direction closest to patient left so the view reads like a coronal/axial one.
                let right = orthogonal_towards(&shaft, &Vector3::x())
                    .or_else(|| orthogonal_towards(&shaft, &Vector3::y()))?;
                (right, shaft)
            }
            SlotContent::ProbeAcross(n) => {
                let (tip, entry) = probe_ends(n)?;
                let shaft = (tip - entry).try_normalize(1e-9)?;
                let right = orthogonal_towards(&shaft, &Vector3::x())
                    .or_else(|| orthogonal_towards(&shaft, &Vector3::y()))?;
                let down = shaft.cross(&right);
                (right, down)
            }
        };
        Some(ViewPlane {
            right_in_world: s.rotation * right,
            down_in_world: s.rotation * down,
        })
    }

    /// The point a slot's plane passes through: the crosshair, or the probe tip for probe views.
    pub fn plane_anchor(
        &self,
        slot: usize,
        probe_ends: impl Fn(usize) -> Option<(Point3<f64>, Point3<f64>)>,
    ) -> Point3<f64> {
        match self.slots.get(slot).map(|s| s.content) {
            Some(SlotContent::ProbeAlong(n) | SlotContent::ProbeAcross(n)) => probe_ends(n)
                .map(|(tip, _)| tip)
                .unwrap_or(self.crosshair_in_world),
            _ => self.crosshair_in_world,
        }
    }

    /// The slice grid a slot shows at `width_px x height_px`: the plane passes through the
    /// anchor; the view is centred on the volume centre projected into the plane, plus pan,
    /// and at zoom 1 the volume's projection fits the view.
    pub fn slice_grid(
        &self,
        slot: usize,
        width_px: usize,
        height_px: usize,
        probe_ends: impl Fn(usize) -> Option<(Point3<f64>, Point3<f64>)> + Copy,
    ) -> Result<SliceGrid, SliceGridError> {
        let Some(plane) = self.view_plane(slot, probe_ends) else {
            return Err(SliceGridError::DegenerateAxes {
                right: [0.0; 3],
                down: [0.0; 3],
            });
        };
        let s = &self.slots[slot];
        let anchor = self.plane_anchor(slot, probe_ends);
        let centre = self.geometry.center_in_world();
        let n = plane.normal_in_world();
        // Volume centre moved into the plane through the anchor.
        let mut view_centre = centre - n * (centre - anchor).dot(&n);
        if matches!(
            s.content,
            SlotContent::ProbeAlong(_) | SlotContent::ProbeAcross(_)
        ) {
            view_centre = anchor;
        }
        view_centre += plane.right_in_world * s.pan_mm[0] + plane.down_in_world * s.pan_mm[1];
        let (extent_right, extent_down) = self.projected_extent_mm(&plane);
        let fit_mm_per_px = (extent_right / width_px.max(1) as f64)
            .max(extent_down / height_px.max(1) as f64)
            * 1.04;
        let pixel_size_mm = if matches!(
            s.content,
            SlotContent::ProbeAlong(_) | SlotContent::ProbeAcross(_)
        ) {
            // Probe views show 120 mm around the tip at zoom 1.
            120.0 / width_px.min(height_px).max(1) as f64 / s.zoom
        } else {
            fit_mm_per_px / s.zoom
        };
        SliceGrid::new(
            view_centre,
            plane.right_in_world,
            plane.down_in_world,
            pixel_size_mm,
            width_px,
            height_px,
        )
    }

    /// Extent of the volume's bounding box along the plane's right and down axes (mm).
    fn projected_extent_mm(&self, plane: &ViewPlane) -> (f64, f64) {
        let corners = self.geometry.corners_in_world();
        let span = |axis: &Vector3<f64>| {
            let (lo, hi) = corners.iter().fold((f64::MAX, f64::MIN), |(lo, hi), c| {
                let d = c.coords.dot(axis);
                (lo.min(d), hi.max(d))
            });
            (hi - lo).max(1.0)
        };
        (span(&plane.right_in_world), span(&plane.down_in_world))
    }

    /// Distance between neighbouring slices along `normal` (mm): the voxel grid's spacing
    /// projected onto it, so axis-aligned views step exactly one slice.
    pub fn slice_step_mm(&self, normal: &Vector3<f64>) -> f64 {
        let spacing = self.geometry.spacing_mm();
        let n = normal.normalize();
        let mut step = 0.0;
        for a in 0..3 {
            step += (self.geometry.axis_in_world(a).dot(&n)).abs() * spacing[a];
        }
        step.max(0.05)
    }

    /// Mouse wheel in an MPR view: move the crosshair `steps` slices along the view normal
    /// (Shift: 5 slices a step), clamped to the volume's bounds.
    pub fn scroll_slices(&mut self, slot: usize, steps: f64, fast: bool) {
        let Some(plane) = self.view_plane(slot, |_| None) else {
            return;
        };
        let n = plane.normal_in_world();
        let step = self.slice_step_mm(&n) * if fast { 5.0 } else { 1.0 };
        let moved = self.crosshair_in_world + n * (steps * step);
        self.crosshair_in_world = self.clamp_to_volume(moved);
    }

    /// Position of the crosshair along a slot's normal, relative to the volume centre (mm):
    /// the "slice position" shown in the view. For axial views this is z in LPS.
    pub fn slice_position_mm(&self, slot: usize) -> Option<f64> {
        let plane = self.view_plane(slot, |_| None)?;
        let n = plane.normal_in_world();
        // Standard views report the LPS coordinate along their axis (z for axial, y for
        // coronal, x for sagittal), like a DICOM viewer's slice location.
        let axis = (0..3).max_by(|&a, &b| n[a].abs().total_cmp(&n[b].abs()))?;
        Some(self.crosshair_in_world[axis])
    }

    /// Slice index (0-based) and count of the volume axis closest to the slot's normal.
    pub fn slice_index(&self, slot: usize) -> Option<(usize, usize)> {
        let plane = self.view_plane(slot, |_| None)?;
        let n = plane.normal_in_world();
        let idx = self.geometry.index_from_world(&self.crosshair_in_world);
        let axis = (0..3).max_by(|&a, &b| {
            self.geometry
                .axis_in_world(a)
                .dot(&n)
                .abs()
                .total_cmp(&self.geometry.axis_in_world(b).dot(&n).abs())
        })?;
        let count = self.geometry.dims()[axis];
        let i = idx[axis].round().clamp(0.0, (count - 1) as f64) as usize;
        Some((i, count))
    }

    pub fn clamp_to_volume(&self, p: Point3<f64>) -> Point3<f64> {
        let dims = self.geometry.dims();
        let mut idx = self.geometry.index_from_world(&p);
        for a in 0..3 {
            idx[a] = idx[a].clamp(0.0, (dims[a] - 1) as f64);
        }
        self.geometry.world_from_index(&idx)
    }

    /// Right-drag (or Ctrl+left-drag) by `dx, dy` screen points: horizontal changes the width,
    /// vertical the level (drag down = brighter image = lower level), scaled so a drag across
    /// a view covers the useful range.
    pub fn drag_window(&mut self, dx_points: f64, dy_points: f64) {
        let sensitivity = (self.window.width_hu / 300.0).clamp(0.5, 10.0);
        self.window = WindowLevel::new(
            self.window.center_hu - dy_points * sensitivity,
            self.window.width_hu + dx_points * sensitivity * 2.0,
        );
    }

    /// Ctrl+wheel: zoom by `factor` (> 1 zooms in), between 0.2x and 40x.
    pub fn zoom(&mut self, slot: usize, factor: f64) {
        if let Some(s) = self.slots.get_mut(slot)
            && factor.is_finite()
            && factor > 0.0
        {
            s.zoom = (s.zoom * factor).clamp(0.2, 40.0);
        }
    }

    /// Middle-drag: pan by a screen displacement converted to mm by the caller's pixel size.
    pub fn pan(&mut self, slot: usize, d_right_mm: f64, d_down_mm: f64) {
        if let Some(s) = self.slots.get_mut(slot) {
            // Dragging moves the image with the mouse: the view centre moves the other way.
            s.pan_mm[0] -= d_right_mm;
            s.pan_mm[1] -= d_down_mm;
        }
    }

    /// Oblique drag: rotate a slot's plane about the crosshair, `yaw` about the screen's down
    /// axis and `pitch` about its right axis (radians).
    pub fn rotate_plane(&mut self, slot: usize, yaw_rad: f64, pitch_rad: f64) {
        let Some(plane) = self.view_plane(slot, |_| None) else {
            return;
        };
        let yaw = Rotation3::from_axis_angle(&Unit::new_normalize(plane.down_in_world), yaw_rad);
        let pitch =
            Rotation3::from_axis_angle(&Unit::new_normalize(plane.right_in_world), pitch_rad);
        let s = &mut self.slots[slot];
        s.rotation = pitch * yaw * s.rotation;
    }

    /// Double-click: maximise a slot, or restore the grid if it is the maximised one.
    pub fn toggle_maximized(&mut self, slot: usize) {
        self.maximized = if self.maximized == Some(slot) {
            None
        } else {
            Some(slot)
        };
    }

    /// 3D drag: orbit; elevation is limited to +-89 degrees to keep "up" defined.
    pub fn orbit(&mut self, d_azimuth_deg: f64, d_elevation_deg: f64) {
        self.camera.azimuth_deg = (self.camera.azimuth_deg + d_azimuth_deg).rem_euclid(360.0);
        self.camera.elevation_deg =
            (self.camera.elevation_deg + d_elevation_deg).clamp(-89.0, 89.0);
    }
}

/// Unit vector in the direction of `towards` with its component along `axis` removed, or None
/// when they are (nearly) parallel.
fn orthogonal_towards(axis: &Vector3<f64>, towards: &Vector3<f64>) -> Option<Vector3<f64>> {
    let a = axis.try_normalize(1e-12)?;
    let v = towards - a * a.dot(towards);
    if v.norm() < 0.2 * towards.norm() {
        return None;
    }
    v.try_normalize(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ViewerState {
        let g = VolumeGeometry::axis_aligned([64, 48, 20], [0.7, 0.7, 2.5], [-20.0, -10.0, -30.0])
            .unwrap();
        ViewerState::new(g, WINDOW_PRESETS[0].1)
    }

    #[test]
    fn axial_scroll_moves_one_slice_and_clamps() {
        let mut s = state();
        let z0 = s.crosshair_in_world.z;
        // Axial is viewed from the feet, normal = +z (superior): a positive step goes up.
        s.scroll_slices(0, 1.0, false);
        assert!((s.crosshair_in_world.z - z0 - 2.5).abs() < 1e-9);
        s.scroll_slices(0, 1.0, true);
        assert!((s.crosshair_in_world.z - z0 - 15.0).abs() < 1e-9);
        s.scroll_slices(0, 1000.0, false);
        assert!((s.crosshair_in_world.z - (-30.0 + 19.0 * 2.5)).abs() < 1e-9);
        assert_eq!(s.slice_index(0), Some((19, 20)));
        // Coronal steps along y by the row spacing.
        let y0 = s.crosshair_in_world.y;
        s.scroll_slices(1, -2.0, false);
        assert!((s.crosshair_in_world.y - y0 + 1.4).abs() < 1e-9);
    }

    #[test]
    fn slice_grid_fits_volume_and_passes_through_crosshair() {
        let mut s = state();
        s.crosshair_in_world = Point3::new(0.0, 0.0, 5.0);
        let g = s.slice_grid(0, 200, 100, |_| None).unwrap();
        // The plane contains the crosshair.
        let (_, _, d) = g.screen_from_world(&s.crosshair_in_world);
        assert!(d.abs() < 1e-9);
        // Whole volume (64 * 0.7 = 44.8 mm wide, 33.6 mm tall) fits in the view.
        let b = s.geometry().world_bounds();
        for p in [b.min, b.max] {
            let (x, y, _) = g.screen_from_world(&p);
            assert!(
                (0.0..=200.0).contains(&x) && (0.0..=100.0).contains(&y),
                "{x} {y}"
            );
        }
        // Radiological convention: patient left (+x) is on screen right in axial.
        let (xl, _, _) = g.screen_from_world(&Point3::new(10.0, 0.0, 5.0));
        let (xr, _, _) = g.screen_from_world(&Point3::new(-10.0, 0.0, 5.0));
        assert!(xl > xr);
    }

    #[test]
    fn window_drag_and_presets() {
        let mut s = state();
        let before = s.window;
        s.drag_window(50.0, 0.0);
        assert!(s.window.width_hu > before.width_hu);
        assert_eq!(s.window.center_hu, before.center_hu);
        s.drag_window(0.0, 20.0);
        assert!(s.window.center_hu < before.center_hu);
        s.drag_window(-1e9, 0.0);
        assert_eq!(s.window.width_hu, WindowLevel::MIN_WIDTH_HU);
        assert_eq!(WindowLevel::new(40.0, 400.0).grey(40.0), 0.5);
    }

    #[test]
    fn zoom_pan_rotate_and_maximise() {
        let mut s = state();
        s.zoom(0, 2.0);
        let g = s.slice_grid(0, 100, 100, |_| None).unwrap();
        s.zoom(0, 0.5);
        let g1 = s.slice_grid(0, 100, 100, |_| None).unwrap();
        assert!((g1.pixel_size_mm() / g.pixel_size_mm() - 2.0).abs() < 1e-9);
        s.zoom(0, f64::NAN);
        assert_eq!(s.slots[0].zoom, 1.0);
        s.pan(0, 3.0, 0.0);
        let g2 = s.slice_grid(0, 100, 100, |_| None).unwrap();
        assert!((g2.center_in_world().x - (g1.center_in_world().x - 3.0)).abs() < 1e-9);
        s.rotate_plane(0, 0.3, 0.0);
        let p = s.view_plane(0, |_| None).unwrap();
        assert!((p.normal_in_world().dot(&Vector3::z()) - 0.3f64.cos()).abs() < 1e-9);
        s.toggle_maximized(2);
        assert_eq!(s.maximized, Some(2));
        s.toggle_maximized(2);
        assert_eq!(s.maximized, None);
        s.reset_views();
        assert_eq!(s.slots[0].rotation, Rotation3::identity());
    }

    #[test]
    fn probe_planes_contain_the_shaft() {
        let mut s = state();
        s.slots[3] = SlotState::new(SlotContent::ProbeAlong(0));
        s.slots[2] = SlotState::new(SlotContent::ProbeAcross(0));
        let tip = Point3::new(1.0, 2.0, 3.0);
        let entry = Point3::new(30.0, 2.0, 20.0);
        let ends = |_| Some((tip, entry));
        let along = s.slice_grid(3, 100, 100, ends).unwrap();
        for p in [tip, entry] {
            assert!(along.screen_from_world(&p).2.abs() < 1e-9);
        }
        let across = s.slice_grid(2, 100, 100, ends).unwrap();
        assert!(across.screen_from_world(&tip).2.abs() < 1e-9);
        let shaft = (tip - entry).normalize();
        assert!((across.normal_in_world().dot(&shaft).abs() - 1.0).abs() < 1e-9);
        // A probe whose tip equals its entry has no plane: an error, not NaN.
        assert!(s.slice_grid(3, 100, 100, |_| Some((tip, tip))).is_err());
    }
}
