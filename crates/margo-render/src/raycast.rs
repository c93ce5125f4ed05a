//! Volume ray casting views: an orbit camera around a target, transfer-function presets, MIP.

use margo_volume::VolumeGeometry;
use margo_volume::geometry::Aabb;
use margo_volume::nalgebra::{Point3, Rotation3, Vector3};

use crate::RenderError;
use crate::gpu_types::{self, ViewUniforms, vec4};
use crate::window::WindowLevel;

/// Texels of each transfer-function row: one per HU from -1024 to 3071.
pub const TF_WIDTH: u32 = 4096;
/// HU at the first and last texel centre.
pub const TF_FIRST_HU: f64 = -1024.0;
/// Rows: the presets in `TransferFunctionPreset::ALL` order, then one custom row.
pub const TF_ROWS: u32 = 4;
/// Opacities are given per this path length; the shader corrects for its step.
pub const OPACITY_REFERENCE_MM: f64 = 1.0;
/// `RaycastView::step_scale` while the user drags a 3D view: 4 x half the smallest voxel
/// spacing (1.4 mm on 0.7 mm pixels), two in-plane voxels per step. The app uses it and
/// `margo bench render` measures it, so the benchmark's "interactive" is what the user gets.
pub const INTERACTIVE_STEP_SCALE: f64 = 4.0;

/// One control point of a piecewise-linear transfer function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TfPoint {
    pub hu: f64,
    /// Display (sRGB) colour, 0..1.
    pub rgb: [f64; 3],
    /// Opacity accumulated over `OPACITY_REFERENCE_MM` of path.
    pub alpha: f64,
}

/// Piecewise linear in HU, constant beyond the first/last point.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferFunction {
    pub points: Vec<TfPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferFunctionPreset {
    /// Air/tissue interfaces inside the chest: airways, lung vessels, nodules (a translucent band
    /// at -600..-400 HU, after 3D Slicer's CT-Lung).
    LungAirways,
    /// Bone (> 150 HU).
    Bone,
    /// Soft tissue faint, enhanced vessels and bone brighter.
    VesselsSoftTissue,
}

fn p(hu: f64, rgb: [f64; 3], alpha: f64) -> TfPoint {
    TfPoint { hu, rgb, alpha }
}

impl TransferFunctionPreset {
    pub const ALL: [TransferFunctionPreset; 3] =
        [Self::LungAirways, Self::Bone, Self::VesselsSoftTissue];

    pub fn name(self) -> &'static str {
        match self {
            Self::LungAirways => "dvr-lung",
            Self::Bone => "dvr-bone",
            Self::VesselsSoftTissue => "dvr-vessels",
        }
    }

    pub fn transfer_function(self) -> TransferFunction {
        let points = match self {
            Self::LungAirways => vec![
                p(-1000.0, [0.3, 0.3, 1.0], 0.0),
                p(-650.0, [0.35, 0.55, 0.9], 0.0),
                p(-600.0, [0.55, 0.75, 0.95], 0.12),
                p(-450.0, [0.95, 0.85, 0.75], 0.15),
                p(-400.0, [0.95, 0.7, 0.6], 0.0),
                p(3071.0, [1.0, 0.3, 0.3], 0.0),
            ],
            Self::Bone => vec![
                p(120.0, [0.85, 0.55, 0.45], 0.0),
                p(220.0, [0.92, 0.8, 0.65], 0.15),
                p(500.0, [0.98, 0.94, 0.85], 0.6),
                p(1500.0, [1.0, 1.0, 1.0], 0.9),
            ],
            Self::VesselsSoftTissue => vec![
                p(-120.0, [0.55, 0.25, 0.2], 0.0),
                p(20.0, [0.75, 0.4, 0.35], 0.006),
                p(80.0, [0.85, 0.45, 0.4], 0.02),
                p(160.0, [0.95, 0.2, 0.15], 0.3),
                p(400.0, [1.0, 0.9, 0.8], 0.6),
                p(1200.0, [1.0, 1.0, 1.0], 0.8),
            ],
        };
        TransferFunction { points }
    }

    pub(crate) fn row(self) -> u32 {
        match self {
            Self::LungAirways => 0,
            Self::Bone => 1,
            Self::VesselsSoftTissue => 2,
        }
    }
}

impl TransferFunction {
    /// Colour and opacity at `hu`.
    pub fn evaluate(&self, hu: f64) -> ([f64; 3], f64) {
        let pts = &self.points;
        match pts.len() {
            0 => return ([0.0; 3], 0.0),
            _ if hu <= pts[0].hu => return (pts[0].rgb, pts[0].alpha),
            _ => {}
        }
        for w in pts.windows(2) {
            if hu <= w[1].hu {
                let span = w[1].hu - w[0].hu;
                let f = if span > 0.0 {
                    (hu - w[0].hu) / span
                } else {
                    1.0
                };
                let rgb = std::array::from_fn(|c| w[0].rgb[c] + f * (w[1].rgb[c] - w[0].rgb[c]));
                return (rgb, w[0].alpha + f * (w[1].alpha - w[0].alpha));
            }
        }
        let last = pts[pts.len() - 1];
        (last.rgb, last.alpha)
    }

    pub(crate) fn validate(&self) -> Result<(), RenderError> {
        let bad = |reason| RenderError::InvalidParameter {
            what: "transfer function",
            value: format!("{} points", self.points.len()),
            reason,
        };
        if self.points.is_empty() {
            return Err(bad("needs at least one point"));
        }
        for w in self.points.windows(2) {
            if w[0]
                .hu
                .partial_cmp(&w[1].hu)
                .is_none_or(|o| o == std::cmp::Ordering::Greater)
            {
                return Err(bad("points must be sorted by HU"));
            }
        }
        for p in &self.points {
            if !p.hu.is_finite()
                || !(0.0..=1.0).contains(&p.alpha)
                || p.rgb.iter().any(|c| !(0.0..=1.0).contains(c))
            {
                return Err(bad("HU must be finite, colours and opacity within 0..1"));
            }
        }
        Ok(())
    }

    /// Prefix counts of texels with visible opacity (as the GPU sees them after f16 rounding):
    /// `out[i]` = number of such texels among the first `i`. Length `TF_WIDTH + 1`.
    pub(crate) fn visible_prefix(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(TF_WIDTH as usize + 1);
        out.push(0);
        let mut n = 0;
        for t in self.texels() {
            // The shader treats alpha <= 1e-4 as transparent; f16 rounding only matters near 0.
            if crate::half::f32_from_f16_bits(crate::half::f16_bits_from_f32(t[3])) > 1e-4 {
                n += 1;
            }
            out.push(n);
        }
        out
    }

    /// Open HU interval outside which samples of this function's texture row are transparent
    /// (alpha <= 1e-4 as the shader tests it): one texel beyond the first and last visible texels,
    /// since linear filtering blends neighbours, and unbounded on a side whose edge texel is
    /// visible (the texture clamps). Empty (lo >= hi) when nothing is visible.
    pub(crate) fn visible_hu_interval(&self) -> (f64, f64) {
        let prefix = self.visible_prefix();
        let n = prefix.len() - 1;
        let first = (0..n).find(|&i| prefix[i + 1] > prefix[i]);
        let last = (0..n).rev().find(|&i| prefix[i + 1] > prefix[i]);
        match (first, last) {
            (Some(first), Some(last)) => {
                let hu = |i: usize| TF_FIRST_HU + i as f64;
                let lo = if first == 0 { -1e30 } else { hu(first) - 1.0 };
                let hi = if last == n - 1 { 1e30 } else { hu(last) + 1.0 };
                (lo, hi)
            }
            _ => (0.0, 0.0),
        }
    }

    /// One texture row of RGBA f32, texel i at HU `TF_FIRST_HU + i`.
    pub(crate) fn texels(&self) -> Vec<[f32; 4]> {
        (0..TF_WIDTH)
            .map(|i| {
                let (rgb, a) = self.evaluate(TF_FIRST_HU + f64::from(i));
                [rgb[0] as f32, rgb[1] as f32, rgb[2] as f32, a as f32]
            })
            .collect()
    }
}

/// What a ray accumulates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RayMode {
    /// Front-to-back compositing through a transfer function.
    Composite(TfChoice),
    /// Maximum intensity along the ray, windowed to grey.
    Mip(WindowLevel),
}

/// Which transfer function row a composite view uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TfChoice {
    Preset(TransferFunctionPreset),
    /// The one set with `Renderer::set_custom_transfer_function`.
    Custom,
}

/// Removes the part of the volume on the positive side of `normal` through `point_in_world`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipPlane {
    pub point_in_world: Point3<f64>,
    pub normal: Vector3<f64>,
}

/// A perspective orbit camera around `target_in_world`.
///
/// Azimuth 0, elevation 0 looks from the patient's front (like coronal: patient right on screen
/// left, superior up); azimuth +90 looks from the patient's left (like sagittal); elevation -90
/// looks from the feet (like axial). `pixel_size_mm` is measured on the plane through the target.
#[derive(Debug, Clone, PartialEq)]
pub struct RaycastView {
    pub target_in_world: Point3<f64>,
    pub azimuth_deg: f64,
    pub elevation_deg: f64,
    pub pixel_size_mm: f64,
    pub width_px: u32,
    pub height_px: u32,
    /// Eye to target; `None`: three times the volume's bounding radius.
    pub eye_distance_mm: Option<f64>,
    pub mode: RayMode,
    /// `None`: half the smallest voxel spacing.
    pub step_mm: Option<f64>,
    /// Multiplies the step: 1 = full quality; `INTERACTIVE_STEP_SCALE` while the user drags.
    pub step_scale: f64,
    pub shading: bool,
    pub clip_box: Option<Aabb>,
    pub clip_plane: Option<ClipPlane>,
    /// No per-pixel jitter of the ray start (bit-identical frames, goldens).
    pub deterministic: bool,
    /// Varies the jitter pattern between frames when not deterministic.
    pub frame_seed: u32,
    pub show_overlays: bool,
}

/// Camera axes in world: (right, down, forward) for an azimuth/elevation.
pub fn camera_axes(
    azimuth_deg: f64,
    elevation_deg: f64,
) -> (Vector3<f64>, Vector3<f64>, Vector3<f64>) {
    let r = Rotation3::from_axis_angle(&Vector3::z_axis(), azimuth_deg.to_radians())
        * Rotation3::from_axis_angle(&Vector3::x_axis(), -elevation_deg.to_radians());
    // Elevation 0, azimuth 0: the coronal screen axes, looking posterior.
    (r * Vector3::x(), r * -Vector3::z(), r * Vector3::y())
}

impl RaycastView {
    /// Whole volume in view from the front, composite with `preset`.
    pub fn new(
        geometry: &VolumeGeometry,
        preset: TransferFunctionPreset,
        width_px: u32,
        height_px: u32,
    ) -> Self {
        let bounds = geometry.world_bounds();
        let extent = bounds.size_mm();
        let fov = extent.x.max(extent.z) * 1.1;
        Self {
            target_in_world: bounds.center(),
            azimuth_deg: 0.0,
            elevation_deg: 0.0,
            pixel_size_mm: fov / f64::from(width_px.max(1)),
            width_px,
            height_px,
            eye_distance_mm: None,
            mode: RayMode::Composite(TfChoice::Preset(preset)),
            step_mm: None,
            step_scale: 1.0,
            shading: true,
            clip_box: None,
            clip_plane: None,
            deterministic: true,
            frame_seed: 0,
            show_overlays: true,
        }
    }

    /// Camera (right, down, forward) unit vectors in world.
    pub fn axes(&self) -> (Vector3<f64>, Vector3<f64>, Vector3<f64>) {
        camera_axes(self.azimuth_deg, self.elevation_deg)
    }

    pub(crate) fn uniforms(
        &self,
        geometry: &VolumeGeometry,
        flags: u32,
    ) -> Result<ViewUniforms, RenderError> {
        let invalid = |what, value: String, reason| RenderError::InvalidParameter {
            what,
            value,
            reason,
        };
        if self.width_px == 0 || self.height_px == 0 {
            return Err(RenderError::EmptyOutput {
                width: self.width_px,
                height: self.height_px,
            });
        }
        if !(self.pixel_size_mm.is_finite() && self.pixel_size_mm > 0.0) {
            return Err(invalid(
                "pixel size",
                format!("{} mm", self.pixel_size_mm),
                "must be finite and positive",
            ));
        }
        if !(self.azimuth_deg.is_finite() && self.elevation_deg.is_finite())
            || self.target_in_world.iter().any(|v| !v.is_finite())
        {
            return Err(invalid(
                "camera",
                format!(
                    "target {:?}, azimuth {}, elevation {}",
                    self.target_in_world.coords.as_slice(),
                    self.azimuth_deg,
                    self.elevation_deg
                ),
                "must be finite",
            ));
        }
        if !(self.step_scale.is_finite() && self.step_scale >= 1.0e-3) {
            return Err(invalid(
                "step scale",
                self.step_scale.to_string(),
                "must be finite and positive",
            ));
        }
        let spacing = geometry.spacing_mm();
        let base_step = match self.step_mm {
            Some(s) if s.is_finite() && s > 0.0 => s,
            Some(s) => {
                return Err(invalid(
                    "ray step",
                    format!("{s} mm"),
                    "must be finite and positive",
                ));
            }
            None => 0.5 * spacing.min(),
        };
        let bounds = geometry.world_bounds();
        let radius = 0.5 * bounds.size_mm().norm();
        let distance = match self.eye_distance_mm {
            Some(d) if d.is_finite() && d > 0.0 => d,
            Some(d) => {
                return Err(invalid(
                    "eye distance",
                    format!("{d} mm"),
                    "must be finite and positive",
                ));
            }
            None => 3.0 * radius.max(1.0),
        };
        // The ray loop stops after 4096 steps; a longer path would be cut short.
        let diagonal = 2.0 * radius;
        let step = (base_step * self.step_scale).max(diagonal / 4000.0);

        let (right, down, forward) = self.axes();
        let eye = self.target_in_world - forward * distance;
        let s = self.pixel_size_mm;
        let dims = geometry.dims();
        let mut modes = [gpu_types::RAY_COMPOSITE, 1, 0, flags];
        if !self.deterministic {
            modes[2] = self.frame_seed.wrapping_mul(2654435761) | 1;
        }
        let (window, tf_row) = match self.mode {
            RayMode::Composite(choice) => (
                WindowLevel::default(),
                match choice {
                    TfChoice::Preset(p) => p.row(),
                    TfChoice::Custom => TF_ROWS - 1,
                },
            ),
            RayMode::Mip(w) => {
                modes[0] = gpu_types::RAY_MIP;
                (w, 0)
            }
        };
        if self.shading {
            modes[3] |= gpu_types::FLAG_SHADING;
        }
        if self.show_overlays {
            modes[3] |= gpu_types::FLAG_OVERLAYS;
        }
        let mut u = ViewUniforms {
            texture_from_world: gpu_types::mat4_to_gpu(&geometry.texture_from_world()),
            screen: vec4(f64::from(self.width_px), f64::from(self.height_px), s, 1.0),
            origin_world: vec4(eye.x, eye.y, eye.z, 0.0),
            axis_x_world: vec4(right.x * s, right.y * s, right.z * s, 0.0),
            axis_y_world: vec4(down.x * s, down.y * s, down.z * s, 0.0),
            axis_z_world: vec4(
                forward.x * distance,
                forward.y * distance,
                forward.z * distance,
                0.0,
            ),
            window: vec4(window.center_hu, window.width_hu, 0.0, 1.0),
            modes,
            ray: vec4(step, OPACITY_REFERENCE_MM, 0.3, 1.0),
            tf_range: vec4(
                TF_FIRST_HU - 0.5,
                TF_FIRST_HU + f64::from(TF_WIDTH) - 0.5,
                (f64::from(tf_row) + 0.5) / f64::from(TF_ROWS),
                f64::from(tf_row),
            ),
            volume_dims: vec4(dims[0] as f64, dims[1] as f64, dims[2] as f64, 0.0),
            ..Default::default()
        };
        if let Some(b) = &self.clip_box {
            if b.min.iter().chain(b.max.iter()).any(|v| !v.is_finite()) {
                return Err(invalid("clip box", format!("{b:?}"), "must be finite"));
            }
            u.clip_min = vec4(b.min.x, b.min.y, b.min.z, 0.0);
            u.clip_max = vec4(b.max.x, b.max.y, b.max.z, 0.0);
            u.modes[3] |= gpu_types::FLAG_CLIP_BOX;
        }
        if let Some(c) = &self.clip_plane {
            let n = c
                .normal
                .try_normalize(1e-12)
                .filter(|n| {
                    n.iter().all(|v| v.is_finite())
                        && c.point_in_world.iter().all(|v| v.is_finite())
                })
                .ok_or_else(|| {
                    invalid(
                        "clip plane",
                        format!("{c:?}"),
                        "normal must be non-zero and finite",
                    )
                })?;
            u.clip_plane = vec4(n.x, n.y, n.z, n.dot(&c.point_in_world.coords));
            u.modes[3] |= gpu_types::FLAG_CLIP_PLANE;
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::half::{f16_bits_from_f32, f32_from_f16_bits};

    /// Alpha the shader reads at `hu`: the row's f16 texels, linearly filtered, clamped.
    fn filtered_alpha(texels: &[[f32; 4]], hu: f64) -> f32 {
        let x = (hu - TF_FIRST_HU).clamp(0.0, f64::from(TF_WIDTH - 1));
        let i = x.floor() as usize;
        let j = (i + 1).min(texels.len() - 1);
        let w = (x - i as f64) as f32;
        let a = |t: usize| f32_from_f16_bits(f16_bits_from_f32(texels[t][3]));
        a(i) * (1.0 - w) + a(j) * w
    }

    #[test]
    fn samples_outside_the_visible_interval_are_transparent() {
        let mut functions: Vec<TransferFunction> = TransferFunctionPreset::ALL
            .iter()
            .map(|p| p.transfer_function())
            .collect();
        // Visible at both clamped ends, and visible nowhere.
        functions.push(TransferFunction {
            points: vec![p(-1100.0, [1.0; 3], 0.5), p(3100.0, [1.0; 3], 0.5)],
        });
        functions.push(TransferFunction {
            points: vec![p(0.0, [1.0; 3], 0.0)],
        });
        for tf in &functions {
            let texels = tf.texels();
            let (lo, hi) = tf.visible_hu_interval();
            let mut visible_inside = false;
            let mut hu = -1200.0;
            while hu < 3300.0 {
                let a = filtered_alpha(&texels, hu);
                if hu <= lo || hu >= hi {
                    assert!(a <= 1e-4, "alpha {a} at {hu} HU outside ({lo}, {hi})");
                } else if a > 1e-4 {
                    visible_inside = true;
                }
                hu += 0.125;
            }
            assert_eq!(visible_inside, lo < hi, "({lo}, {hi})");
        }
    }
}
