//! wgpu renderer: MPR, slabs, volume ray casting and overlays.
//!
//! One [`Renderer`] holds a CT volume as a 3D texture of HU (16-bit float, see
//! [`renderer::VOLUME_FORMAT`]) plus overlays, and draws any number of views of it:
//!
//! * in the app, into egui's render pass: `Renderer::new(device, queue, target)`, then per frame
//!   `prepare(key, &Frame)` in `CallbackTrait::prepare` and `paint(pass, key)` in
//!   `CallbackTrait::paint`;
//! * headless (CLI, tests): `Renderer::new_headless()` and `render_to_rgba(&Frame)`.
//!
//! Views: [`MprView`] (a plane of `margo_volume::SliceGrid` pixels, windowed in the shader,
//! optional MIP/MinIP/mean slab) and [`RaycastView`] (orbit camera, transfer-function presets or
//! MIP). Overlays are plain world-space types in [`overlay`]. Geometry follows DESIGN.md: LPS mm,
//! f64 on the CPU, f32 only at the GPU boundary.

pub mod context;
pub mod error;
pub mod gpu_types;
pub mod half;
pub mod image;
pub mod mpr;
pub mod overlay;
pub mod raycast;
pub mod renderer;
pub mod shaders;
pub mod spec;
pub mod window;

pub use error::RenderError;
pub use image::RgbaImage;
pub use margo_volume::Interpolation;
pub use mpr::{MprView, Slab, SlabMode};
pub use overlay::{
    Crosshair, EllipsoidOverlay, Marker, MaskStyle, PointOverlay, SegmentOverlay, Shapes,
};
pub use raycast::{
    ClipPlane, RayMode, RaycastView, TfChoice, TransferFunction, TransferFunctionPreset,
};
pub use renderer::{Frame, RenderTarget, Renderer, ViewKey};
pub use spec::{Preset, RenderMode, ViewName, ViewSpec};
pub use window::{WindowLevel, WindowPreset};

/// Re-exported so the app and margo-render agree on one wgpu.
pub use wgpu;
