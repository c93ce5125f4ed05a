//! A view described the way `margo render` takes it on the command line, turned into a
//! [`Frame`] with the defaults the CLI documents. The CLI, the frame goldens and the benchmark
//! all go through here, so the PNG is built exactly like the view the app shows.

use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{AnatomicalView, Interpolation, ScreenAxes, VolumeGeometry};

use crate::RenderError;
use crate::image::{RgbaImage, draw_edge_labels, draw_scale_bar};
use crate::mpr::{MprView, Slab, SlabMode};
use crate::raycast::{RayMode, RaycastView, TfChoice, TransferFunctionPreset, camera_axes};
use crate::renderer::Frame;
use crate::window::{WindowLevel, WindowPreset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewName {
    Axial,
    Coronal,
    Sagittal,
    Oblique,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RenderMode {
    #[default]
    Mpr,
    Mip,
    MinIp,
    Mean,
    Dvr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    Window(WindowPreset),
    /// The window stored in the series header.
    Header,
    Dvr(TransferFunctionPreset),
}

impl Preset {
    /// `lung|mediastinum|bone|soft|header|dvr-lung|dvr-bone|dvr-vessels`.
    pub fn parse(name: &str) -> Option<Self> {
        WindowPreset::ALL
            .iter()
            .find(|p| p.name() == name)
            .map(|p| Self::Window(*p))
            .or_else(|| {
                TransferFunctionPreset::ALL
                    .iter()
                    .find(|p| p.name() == name)
                    .map(|p| Self::Dvr(*p))
            })
            .or_else(|| (name == "header").then_some(Self::Header))
    }
}

/// One view request. `None` fields take the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSpec {
    pub view: ViewName,
    /// Plane point and image centre (MPR) or orbit target (DVR), LPS mm. Default: volume centre.
    pub at: Option<Point3<f64>>,
    /// Oblique only: viewing direction (into the screen), e.g. (0, 0, 1) is axial.
    pub normal: Option<Vector3<f64>>,
    /// Oblique only: screen up hint. Default superior, or anterior when the normal is vertical.
    pub up: Option<Vector3<f64>>,
    pub mode: RenderMode,
    /// Slab thickness for mip/minip/mean. Default: the volume's whole extent along the normal.
    pub slab_mm: Option<f64>,
    pub preset: Option<Preset>,
    /// Overrides the preset's window.
    pub window: Option<WindowLevel>,
    /// The series header's window (used by `Preset::Header` and as the default).
    pub header_window: Option<WindowLevel>,
    /// Field of view width in mm. Default: the whole volume fits.
    pub fov_mm: Option<f64>,
    pub width_px: u32,
    pub height_px: u32,
    pub azimuth_deg: Option<f64>,
    pub elevation_deg: Option<f64>,
    pub interpolation: Interpolation,
    /// Orientation letters (and a scale bar for 2D views) burnt into the image.
    pub labels: bool,
}

impl ViewSpec {
    pub fn new(view: ViewName, width_px: u32, height_px: u32) -> Self {
        Self {
            view,
            at: None,
            normal: None,
            up: None,
            mode: RenderMode::Mpr,
            slab_mm: None,
            preset: None,
            window: None,
            header_window: None,
            fov_mm: None,
            width_px,
            height_px,
            azimuth_deg: None,
            elevation_deg: None,
            interpolation: Interpolation::Linear,
            labels: true,
        }
    }

    /// `fov_mm` when given (finite and positive), `None` for the default.
    fn given_fov_mm(&self) -> Result<Option<f64>, RenderError> {
        match self.fov_mm {
            Some(f) if f.is_finite() && f > 0.0 => Ok(Some(f)),
            Some(f) => Err(Self::invalid(
                "--fov",
                format!("{f} mm"),
                "must be finite and positive",
            )),
            None => Ok(None),
        }
    }

    fn invalid(what: &'static str, value: String, reason: &'static str) -> RenderError {
        RenderError::InvalidParameter {
            what,
            value,
            reason,
        }
    }

    /// Screen axes of the requested 2D view.
    fn screen_axes(&self) -> Result<ScreenAxes, RenderError> {
        let anatomical = match self.view {
            ViewName::Axial => Some(AnatomicalView::Axial),
            ViewName::Coronal => Some(AnatomicalView::Coronal),
            ViewName::Sagittal => Some(AnatomicalView::Sagittal),
            ViewName::Oblique => None,
        };
        if let Some(v) = anatomical {
            if self.normal.is_some() || self.up.is_some() {
                return Err(Self::invalid(
                    "--normal/--up",
                    format!("{:?}", self.view),
                    "only apply to --view oblique",
                ));
            }
            return Ok(v.screen_axes());
        }
        let normal = self.normal.ok_or_else(|| {
            Self::invalid(
                "oblique view",
                "no --normal".into(),
                "an oblique view needs --normal X,Y,Z",
            )
        })?;
        let up = self.up.unwrap_or_else(|| {
            let n = normal.try_normalize(1e-12).unwrap_or(Vector3::z());
            if n.z.abs() > 0.9 {
                -Vector3::y()
            } else {
                Vector3::z()
            }
        });
        let v = MprView::oblique(Point3::origin(), normal, up, 1.0, 1, 1)?;
        Ok(ScreenAxes {
            right_in_world: v.right_in_world,
            down_in_world: v.down_in_world,
        })
    }

    fn window(&self) -> Result<WindowLevel, RenderError> {
        if let Some(w) = self.window {
            return WindowLevel::new(w.center_hu, w.width_hu);
        }
        match self.preset {
            Some(Preset::Window(p)) => Ok(p.window()),
            Some(Preset::Header) => self.header_window.ok_or_else(|| {
                Self::invalid("preset", "header".into(), "the series header has no window")
            }),
            Some(Preset::Dvr(p)) => Err(Self::invalid(
                "preset",
                p.name().into(),
                "transfer-function presets need --mode dvr",
            )),
            None => Ok(self
                .header_window
                .unwrap_or_else(|| WindowPreset::Lung.window())),
        }
    }

    /// The frame for `geometry` (the loaded volume).
    pub fn frame(&self, geometry: &VolumeGeometry) -> Result<Frame, RenderError> {
        if self.width_px == 0 || self.height_px == 0 {
            return Err(RenderError::EmptyOutput {
                width: self.width_px,
                height: self.height_px,
            });
        }
        let at = self.at.unwrap_or_else(|| geometry.center_in_world());
        if self.mode == RenderMode::Dvr {
            return self.raycast_frame(geometry, at);
        }
        if self.azimuth_deg.is_some() || self.elevation_deg.is_some() {
            return Err(Self::invalid(
                "--azimuth/--elevation",
                format!("{:?}", self.mode),
                "only apply to --mode dvr",
            ));
        }
        let axes = self.screen_axes()?;
        let normal = axes.view_direction();
        let extent = |dir: &Vector3<f64>| {
            let d: Vec<f64> = geometry
                .corners_in_world()
                .iter()
                .map(|c| (c - at).dot(dir))
                .collect();
            let lo = d.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = d.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        };
        let fov = match self.given_fov_mm()? {
            Some(f) => f,
            None => {
                // Whole volume: both screen axes' extents (about `at`) fit.
                let (rl, rh) = extent(&axes.right_in_world);
                let (dl, dh) = extent(&axes.down_in_world);
                let half_w = rl.abs().max(rh.abs());
                let half_h = dl.abs().max(dh.abs());
                2.0 * half_w.max(half_h * f64::from(self.width_px) / f64::from(self.height_px))
            }
        };
        let mut v = MprView::anatomical(
            AnatomicalView::Axial,
            at,
            fov,
            self.width_px,
            self.height_px,
        );
        v.right_in_world = axes.right_in_world;
        v.down_in_world = axes.down_in_world;
        v.window = self.window()?;
        v.interpolation = self.interpolation;
        let slab_mode = match self.mode {
            RenderMode::Mpr => None,
            RenderMode::Mip => Some(SlabMode::Mip),
            RenderMode::MinIp => Some(SlabMode::MinIp),
            RenderMode::Mean => Some(SlabMode::Mean),
            RenderMode::Dvr => unreachable!("handled above"),
        };
        match (slab_mode, self.slab_mm) {
            (None, Some(s)) => {
                return Err(Self::invalid(
                    "--slab",
                    format!("{s} mm"),
                    "needs --mode mip, minip or mean",
                ));
            }
            (None, None) => {}
            (Some(mode), slab) => {
                let thickness_mm = match slab {
                    Some(s) => s,
                    None => {
                        let (lo, hi) = extent(&normal);
                        2.0 * lo.abs().max(hi.abs())
                    }
                };
                v.slab = Some(Slab { mode, thickness_mm });
            }
        }
        Ok(Frame::Mpr(v))
    }

    fn raycast_frame(
        &self,
        geometry: &VolumeGeometry,
        at: Point3<f64>,
    ) -> Result<Frame, RenderError> {
        if self.slab_mm.is_some() {
            return Err(Self::invalid(
                "--slab",
                "with --mode dvr".into(),
                "slabs apply to mip, minip and mean",
            ));
        }
        if self.normal.is_some() || self.up.is_some() {
            return Err(Self::invalid(
                "--normal/--up",
                "with --mode dvr".into(),
                "use --azimuth and --elevation",
            ));
        }
        let (az0, el0) = match self.view {
            ViewName::Coronal | ViewName::Oblique => (0.0, 0.0),
            ViewName::Sagittal => (90.0, 0.0),
            ViewName::Axial => (0.0, -90.0),
        };
        let tf = match self.preset {
            None => TransferFunctionPreset::LungAirways,
            Some(Preset::Dvr(p)) => p,
            Some(other) => {
                return Err(Self::invalid(
                    "preset",
                    format!("{other:?}"),
                    "--mode dvr needs dvr-lung, dvr-bone or dvr-vessels",
                ));
            }
        };
        let mut v = RaycastView::new(geometry, tf, self.width_px, self.height_px);
        v.mode = RayMode::Composite(TfChoice::Preset(tf));
        v.target_in_world = at;
        v.azimuth_deg = self.azimuth_deg.unwrap_or(az0);
        v.elevation_deg = self.elevation_deg.unwrap_or(el0);
        let fov = match self.given_fov_mm()? {
            Some(f) => f,
            None => {
                // The volume's bounding sphere fits the smaller image side.
                let radius = 0.5 * geometry.world_bounds().size_mm().norm();
                2.0 * radius * f64::from(self.width_px)
                    / f64::from(self.width_px.min(self.height_px))
            }
        };
        v.pixel_size_mm = fov / f64::from(self.width_px);
        v.deterministic = true;
        Ok(Frame::Raycast(v))
    }

    /// Burns orientation letters (all views) and a scale bar (2D views) into `image`.
    pub fn annotate(&self, frame: &Frame, image: &mut RgbaImage) {
        if !self.labels {
            return;
        }
        match frame {
            Frame::Mpr(v) => {
                draw_edge_labels(image, &v.edge_labels());
                draw_scale_bar(image, v.mm_per_pixel());
            }
            Frame::Raycast(v) => {
                let (right, down, _) = camera_axes(v.azimuth_deg, v.elevation_deg);
                let labels = ScreenAxes {
                    right_in_world: right,
                    down_in_world: down,
                }
                .edge_labels();
                draw_edge_labels(image, &labels);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry() -> VolumeGeometry {
        VolumeGeometry::axis_aligned([100, 80, 40], [0.5, 0.5, 2.0], [-25.0, -20.0, -40.0]).unwrap()
    }

    fn mpr(spec: &ViewSpec) -> MprView {
        match spec.frame(&geometry()).unwrap() {
            Frame::Mpr(v) => v,
            Frame::Raycast(_) => panic!("expected MPR"),
        }
    }

    #[test]
    fn default_field_of_view_shows_the_whole_volume_about_the_point() {
        let g = geometry();
        let mut s = ViewSpec::new(ViewName::Axial, 200, 100);
        let v = mpr(&s);
        assert!((v.center_in_world - g.center_in_world()).norm() < 1e-12);
        for c in g.corners_in_world() {
            let ([x, y], _) = v.screen_from_world(&c);
            assert!(
                (-1e-9..=200.0 + 1e-9).contains(&x) && (-1e-9..=100.0 + 1e-9).contains(&y),
                "{x} {y}"
            );
        }
        // Off-centre point: still everything in view, centred on the point.
        s.at = Some(Point3::new(10.0, 5.0, 0.0));
        let v = mpr(&s);
        assert_eq!(v.center_in_world, Point3::new(10.0, 5.0, 0.0));
        for c in g.corners_in_world() {
            let ([x, y], _) = v.screen_from_world(&c);
            assert!((-1e-9..=200.0 + 1e-9).contains(&x) && (-1e-9..=100.0 + 1e-9).contains(&y));
        }
        s.fov_mm = Some(50.0);
        assert!((mpr(&s).mm_per_pixel() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn slabs_windows_and_obliques_follow_the_documented_defaults() {
        let mut s = ViewSpec::new(ViewName::Coronal, 64, 64);
        s.header_window = Some(WindowLevel::new(-500.0, 1400.0).unwrap());
        assert_eq!(mpr(&s).window, s.header_window.unwrap());
        s.preset = Some(Preset::Window(WindowPreset::Bone));
        assert_eq!(mpr(&s).window, WindowPreset::Bone.window());
        s.window = Some(WindowLevel::new(10.0, 20.0).unwrap());
        assert_eq!(mpr(&s).window.width_hu, 20.0);
        s.mode = RenderMode::Mip;
        // Coronal normal is y: the volume spans 40 mm in y about the centre.
        assert!((mpr(&s).slab.unwrap().thickness_mm - 40.0).abs() < 1e-9);
        s.slab_mm = Some(20.0);
        assert_eq!(mpr(&s).slab.unwrap().thickness_mm, 20.0);

        let mut o = ViewSpec::new(ViewName::Oblique, 32, 32);
        assert!(o.frame(&geometry()).is_err(), "oblique needs a normal");
        o.normal = Some(Vector3::new(0.0, 0.0, 2.0));
        let v = mpr(&o);
        // A vertical normal defaults to anterior up: the axial view.
        assert!((v.right_in_world - Vector3::x()).norm() < 1e-12);
        assert!((v.down_in_world - Vector3::y()).norm() < 1e-12);
        o.normal = Some(Vector3::new(0.0, 1.0, 0.0));
        let v = mpr(&o);
        assert!(
            (v.down_in_world + Vector3::z()).norm() < 1e-12,
            "superior up by default"
        );

        let mut bad = ViewSpec::new(ViewName::Axial, 32, 32);
        bad.slab_mm = Some(5.0);
        assert!(bad.frame(&geometry()).is_err());
        bad.slab_mm = None;
        bad.azimuth_deg = Some(10.0);
        assert!(bad.frame(&geometry()).is_err());
        bad.azimuth_deg = None;
        bad.preset = Some(Preset::Header);
        assert!(bad.frame(&geometry()).is_err(), "no header window");
        assert_eq!(
            Preset::parse("dvr-vessels"),
            Some(Preset::Dvr(TransferFunctionPreset::VesselsSoftTissue))
        );
        assert_eq!(
            Preset::parse("soft"),
            Some(Preset::Window(WindowPreset::SoftTissue))
        );
        assert_eq!(Preset::parse("nope"), None);
    }

    #[test]
    fn dvr_views_start_from_the_named_side() {
        let mut s = ViewSpec::new(ViewName::Sagittal, 32, 32);
        s.mode = RenderMode::Dvr;
        let Frame::Raycast(v) = s.frame(&geometry()).unwrap() else {
            panic!()
        };
        assert_eq!((v.azimuth_deg, v.elevation_deg), (90.0, 0.0));
        let (right, down, forward) = v.axes();
        // From the patient's left: anterior on screen left, superior up, looking towards -x.
        assert!((right - Vector3::y()).norm() < 1e-12);
        assert!((down + Vector3::z()).norm() < 1e-12);
        assert!((forward + Vector3::x()).norm() < 1e-12);
        s.preset = Some(Preset::Window(WindowPreset::Lung));
        assert!(s.frame(&geometry()).is_err());
    }
}
