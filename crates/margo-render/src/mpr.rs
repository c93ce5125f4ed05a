//! Multiplanar reformat views: a plane (or slab) in world space, shown with radiological screen
//! axes. The plane -> pixel mapping is `margo_volume::SliceGrid`'s (pixel centres at +0.5).

use margo_volume::anatomy::EdgeLabels;
use margo_volume::nalgebra::{Point3, Rotation3, Unit, Vector3};
use margo_volume::{AnatomicalView, Interpolation, ScreenAxes, SliceGrid, VolumeGeometry};

use crate::RenderError;
use crate::gpu_types::{self, ViewUniforms, vec4};
use crate::window::WindowLevel;

/// How the samples across a thick slab combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlabMode {
    /// Maximum intensity projection.
    Mip,
    /// Minimum intensity projection.
    MinIp,
    /// Average (a thick multiplanar reformat).
    Mean,
}

/// A slab centred on the view plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slab {
    pub mode: SlabMode,
    /// Full thickness across the plane in mm (half on each side).
    pub thickness_mm: f64,
}

/// Most samples across one slab; the step grows when a slab would need more.
pub const MAX_SLAB_SAMPLES: u32 = 1024;

/// One MPR view: a rectangle of `width_px x height_px` square pixels in world space.
#[derive(Debug, Clone, PartialEq)]
pub struct MprView {
    /// Plane centre = image centre (LPS mm).
    pub center_in_world: Point3<f64>,
    /// Screen +x in world (unit).
    pub right_in_world: Vector3<f64>,
    /// Screen +y (down the image) in world (unit, orthogonal to `right_in_world`).
    pub down_in_world: Vector3<f64>,
    pub pixel_size_mm: f64,
    pub width_px: u32,
    pub height_px: u32,
    pub window: WindowLevel,
    pub interpolation: Interpolation,
    /// `None`: the plane itself.
    pub slab: Option<Slab>,
    /// Distance between slab samples; `None`: one voxel along the normal (the axis that changes
    /// fastest), which sees every voxel the slab crosses.
    pub slab_step_mm: Option<f64>,
    pub show_overlays: bool,
    /// Overlay line width in output pixels (scale by the display's pixels per point).
    pub line_width_px: f64,
}

impl MprView {
    /// A standard radiological view through `center_in_world`, `fov_width_mm` wide.
    pub fn anatomical(
        view: AnatomicalView,
        center_in_world: Point3<f64>,
        fov_width_mm: f64,
        width_px: u32,
        height_px: u32,
    ) -> Self {
        let ScreenAxes {
            right_in_world,
            down_in_world,
        } = view.screen_axes();
        Self {
            center_in_world,
            right_in_world,
            down_in_world,
            pixel_size_mm: fov_width_mm / f64::from(width_px.max(1)),
            width_px,
            height_px,
            window: WindowLevel::default(),
            interpolation: Interpolation::Linear,
            slab: None,
            slab_step_mm: None,
            show_overlays: true,
            line_width_px: 1.5,
        }
    }

    /// An oblique view looking along `view_normal` (into the screen, as
    /// `AnatomicalView::normal_in_world`), with `up_hint` projected into the plane as screen up.
    /// Axial is `view_normal = (0, 0, 1)`, `up_hint = (0, -1, 0)` (anterior up).
    pub fn oblique(
        center_in_world: Point3<f64>,
        view_normal: Vector3<f64>,
        up_hint: Vector3<f64>,
        fov_width_mm: f64,
        width_px: u32,
        height_px: u32,
    ) -> Result<Self, RenderError> {
        let degenerate = || RenderError::InvalidParameter {
            what: "oblique plane (normal, up)",
            value: format!("{:?}, {:?}", view_normal.as_slice(), up_hint.as_slice()),
            reason: "normal and up must be finite, non-zero and not parallel",
        };
        if view_normal
            .iter()
            .chain(up_hint.iter())
            .any(|v| !v.is_finite())
        {
            return Err(degenerate());
        }
        let n = view_normal.try_normalize(1e-9).ok_or_else(degenerate)?;
        let up = up_hint - n * n.dot(&up_hint);
        let up = up
            .try_normalize(1e-3 * up_hint.norm().max(1e-300))
            .ok_or_else(degenerate)?;
        let down = -up;
        // right x down = normal  =>  right = down x normal.
        let right = down.cross(&n);
        let mut v = Self::anatomical(
            AnatomicalView::Axial,
            center_in_world,
            fov_width_mm,
            width_px,
            height_px,
        );
        v.right_in_world = right;
        v.down_in_world = down;
        Ok(v)
    }

    /// The same plane as a `margo_volume::SliceGrid` (validates size, pixel size and axes).
    pub fn grid(&self) -> Result<SliceGrid, RenderError> {
        Ok(SliceGrid::new(
            self.center_in_world,
            self.right_in_world,
            self.down_in_world,
            self.pixel_size_mm,
            self.width_px as usize,
            self.height_px as usize,
        )?)
    }

    /// Unit normal pointing away from the viewer.
    pub fn normal_in_world(&self) -> Vector3<f64> {
        self.right_in_world.cross(&self.down_in_world)
    }

    /// Orientation letters at the image's left, right, top and bottom edges.
    pub fn edge_labels(&self) -> EdgeLabels {
        ScreenAxes {
            right_in_world: self.right_in_world,
            down_in_world: self.down_in_world,
        }
        .edge_labels()
    }

    /// Length of one output pixel in mm (for scale bars).
    pub fn mm_per_pixel(&self) -> f64 {
        self.pixel_size_mm
    }

    /// Zoom by `factor` (> 1 magnifies) keeping the world point under `screen_px` fixed.
    pub fn zoom_about(&mut self, factor: f64, screen_px: [f64; 2]) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let before = self.world_from_screen(screen_px);
        self.pixel_size_mm /= factor;
        let after = self.world_from_screen(screen_px);
        self.center_in_world += before - after;
    }

    /// Move the image content by `(dx, dy)` screen pixels (drag to the right moves anatomy right).
    pub fn pan_px(&mut self, dx_px: f64, dy_px: f64) {
        self.center_in_world -=
            (self.right_in_world * dx_px + self.down_in_world * dy_px) * self.pixel_size_mm;
    }

    /// Move the plane along its normal (scrolling through slices).
    pub fn step_mm(&mut self, offset_mm: f64) {
        self.center_in_world += self.normal_in_world() * offset_mm;
    }

    /// Rotate the plane about `axis_in_world` through `pivot_in_world` (e.g. the crosshair).
    pub fn rotate_about(
        &mut self,
        pivot_in_world: Point3<f64>,
        axis_in_world: Vector3<f64>,
        angle_rad: f64,
    ) {
        let Some(axis) = Unit::try_new(axis_in_world, 1e-12) else {
            return;
        };
        if !angle_rad.is_finite() {
            return;
        }
        let r = Rotation3::from_axis_angle(&axis, angle_rad);
        self.center_in_world = pivot_in_world + r * (self.center_in_world - pivot_in_world);
        self.right_in_world = r * self.right_in_world;
        self.down_in_world = r * self.down_in_world;
    }

    /// World position of a continuous screen position (pixel centres at +0.5).
    pub fn world_from_screen(&self, screen_px: [f64; 2]) -> Point3<f64> {
        self.center_in_world
            + self.right_in_world
                * ((screen_px[0] - f64::from(self.width_px) / 2.0) * self.pixel_size_mm)
            + self.down_in_world
                * ((screen_px[1] - f64::from(self.height_px) / 2.0) * self.pixel_size_mm)
    }

    /// Screen position (px) of a world point's projection and its distance from the plane (mm,
    /// positive away from the viewer).
    pub fn screen_from_world(&self, point_in_world: &Point3<f64>) -> ([f64; 2], f64) {
        let d = point_in_world - self.center_in_world;
        (
            [
                d.dot(&self.right_in_world) / self.pixel_size_mm + f64::from(self.width_px) / 2.0,
                d.dot(&self.down_in_world) / self.pixel_size_mm + f64::from(self.height_px) / 2.0,
            ],
            d.dot(&self.normal_in_world()),
        )
    }

    /// Sample count and spacing across the slab (1 sample, 0 mm without a slab).
    pub fn slab_sampling(&self, geometry: &VolumeGeometry) -> Result<(u32, f64), RenderError> {
        let Some(slab) = self.slab else {
            return Ok((1, 0.0));
        };
        if !(slab.thickness_mm.is_finite() && slab.thickness_mm >= 0.0) {
            return Err(RenderError::InvalidParameter {
                what: "slab thickness",
                value: format!("{} mm", slab.thickness_mm),
                reason: "must be finite and not negative",
            });
        }
        if slab.thickness_mm == 0.0 {
            return Ok((1, 0.0));
        }
        let step_mm = match self.slab_step_mm {
            Some(s) if s.is_finite() && s > 0.0 => s,
            Some(s) => {
                return Err(RenderError::InvalidParameter {
                    what: "slab step",
                    value: format!("{s} mm"),
                    reason: "must be finite and positive",
                });
            }
            None => {
                let per_mm = geometry
                    .voxel_vector_from_world(&self.normal_in_world())
                    .abs()
                    .max();
                if per_mm > 0.0 { 1.0 / per_mm } else { 1.0 }
            }
        };
        let samples = ((slab.thickness_mm / step_mm).ceil() as u64 + 1)
            .clamp(2, u64::from(MAX_SLAB_SAMPLES)) as u32;
        Ok((samples, slab.thickness_mm / f64::from(samples - 1)))
    }

    /// Validates the view against the volume and fills the shader's uniforms.
    pub(crate) fn uniforms(
        &self,
        geometry: &VolumeGeometry,
        flags: u32,
    ) -> Result<ViewUniforms, RenderError> {
        let grid = self.grid()?;
        let (samples, _) = self.slab_sampling(geometry)?;
        if !(self.window.width_hu.is_finite()
            && self.window.width_hu > 0.0
            && self.window.center_hu.is_finite())
        {
            return Err(RenderError::InvalidParameter {
                what: "window",
                value: format!("{} / {}", self.window.center_hu, self.window.width_hu),
                reason: "centre must be finite and width positive",
            });
        }
        let thickness_mm = self.slab.map_or(0.0, |s| s.thickness_mm);
        let normal = grid.normal_in_world();
        if !plane_cuts_volume(
            geometry,
            &grid.center_in_world(),
            &normal,
            thickness_mm / 2.0,
        ) {
            return Err(RenderError::PlaneOutsideVolume {
                center_mm: grid.center_in_world().coords.into(),
                normal: normal.into(),
                slab_mm: thickness_mm,
            });
        }
        let s = grid.pixel_size_mm();
        let origin = grid.world_from_screen(0.0, 0.0);
        let right = grid.right_in_world() * s;
        let down = grid.down_in_world() * s;
        let dims = geometry.dims();
        let slab_mode = match self.slab {
            None => gpu_types::SLAB_NONE,
            Some(s) => match s.mode {
                SlabMode::Mip => gpu_types::SLAB_MIP,
                SlabMode::MinIp => gpu_types::SLAB_MINIP,
                SlabMode::Mean => gpu_types::SLAB_MEAN,
            },
        };
        let overlays = if self.show_overlays {
            gpu_types::FLAG_OVERLAYS
        } else {
            0
        };
        Ok(ViewUniforms {
            texture_from_world: gpu_types::mat4_to_gpu(&geometry.texture_from_world()),
            screen: vec4(
                grid.width() as f64,
                grid.height() as f64,
                s,
                self.line_width_px.clamp(0.5, 64.0),
            ),
            origin_world: vec4(origin.x, origin.y, origin.z, 0.0),
            axis_x_world: vec4(right.x, right.y, right.z, 0.0),
            axis_y_world: vec4(down.x, down.y, down.z, 0.0),
            axis_z_world: vec4(normal.x, normal.y, normal.z, 0.0),
            window: vec4(
                self.window.center_hu,
                self.window.width_hu,
                thickness_mm,
                f64::from(samples),
            ),
            modes: [
                slab_mode,
                match self.interpolation {
                    Interpolation::Nearest => 0,
                    Interpolation::Linear => 1,
                },
                0,
                flags | overlays,
            ],
            volume_dims: vec4(dims[0] as f64, dims[1] as f64, dims[2] as f64, 0.0),
            ..Default::default()
        })
    }
}

/// True when the plane (thickened by `half_thickness_mm` each side) meets the grid's extent.
pub fn plane_cuts_volume(
    geometry: &VolumeGeometry,
    point_in_world: &Point3<f64>,
    unit_normal: &Vector3<f64>,
    half_thickness_mm: f64,
) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for c in geometry.corners_in_world() {
        let d = (c - point_in_world).dot(unit_normal);
        lo = lo.min(d);
        hi = hi.max(d);
    }
    lo <= half_thickness_mm && hi >= -half_thickness_mm
}
