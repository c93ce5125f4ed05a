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
//!
//! # In the app (egui_wgpu paint callback)
//!
//! ```ignore
//! // Once, with eframe's wgpu render state:
//! let target = RenderTarget {
//!     format: render_state.target_format,
//!     sample_count: 1,          // eframe's NativeOptions::multisampling, if set
//!     depth_format: None,       // Some(..) if NativeOptions::depth_buffer > 0
//! };
//! let mut renderer = Renderer::new(&render_state.device, &render_state.queue, target)?;
//! renderer.upload_volume(&loaded.volume)?;
//! render_state.renderer.write().callback_resources.insert(renderer);
//!
//! // Per pane and frame: size the view to the pane in physical pixels, then
//! struct View { key: ViewKey, frame: Frame }
//! impl egui_wgpu::CallbackTrait for View {
//!     fn prepare(&self, _: &wgpu::Device, _: &wgpu::Queue, _: &egui_wgpu::ScreenDescriptor,
//!                _: &mut wgpu::CommandEncoder, res: &mut egui_wgpu::CallbackResources)
//!                -> Vec<wgpu::CommandBuffer> {
//!         let r: &mut Renderer = res.get_mut().unwrap();
//!         if let Err(e) = r.prepare(self.key, &self.frame) { /* show e in the pane */ }
//!         Vec::new()
//!     }
//!     fn paint(&self, _: egui::PaintCallbackInfo, pass: &mut wgpu::RenderPass<'static>,
//!              res: &egui_wgpu::CallbackResources) {
//!         let r: &Renderer = res.get().unwrap();
//!         let _ = r.paint(pass, self.key); // egui has set the viewport to the pane
//!     }
//! }
//! ```
//!
//! # Pipelines
//!
//! Each view draws with a pipeline specialised to what it uses (WGSL `override` constants: slab
//! mode, sampling, shading, clipping, which overlays exist; see `variant.rs`), created the first
//! time it is needed, so unused features cost nothing even on CPU rasterisers, which execute both
//! sides of every branch. Ray casting skips empty space with a per-transfer-function distance map
//! over ~5.6 mm bricks (`bricks.rs`).
//!
//! Orientation letters for a pane: [`MprView::edge_labels`]; scale bar: [`MprView::mm_per_pixel`];
//! picking: [`MprView::world_from_screen`] / [`MprView::screen_from_world`]. Interaction helpers:
//! [`MprView::zoom_about`], [`MprView::pan_px`], [`MprView::step_mm`], [`MprView::rotate_about`];
//! while dragging a 3D view set [`RaycastView::step_scale`] to [`raycast::INTERACTIVE_STEP_SCALE`].

mod bricks;
mod compute_raycast;
pub mod context;
pub mod error;
pub mod gpu_types;
pub mod half;
pub mod image;
pub mod mpr;
mod offscreen;
pub mod overlay;
pub mod raycast;
pub mod renderer;
mod screen_rect;
pub mod shaders;
pub mod spec;
mod variant;
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
pub use renderer::{Frame, HeadlessRaycast, RenderTarget, Renderer, ViewKey};
pub use spec::{Preset, RenderMode, ViewName, ViewSpec};
pub use window::{WindowLevel, WindowPreset};

/// Re-exported so the app and margo-render agree on one wgpu.
pub use wgpu;
