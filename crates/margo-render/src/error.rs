//! The renderer's errors: one enum, variants named after the step that failed.

use margo_volume::SliceGridError;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RenderError {
    #[error(
        "no GPU adapter found (backends {backends}); on Linux without a GPU install Mesa's lavapipe (mesa-vulkan-drivers) and set WGPU_BACKEND=vulkan: {source}"
    )]
    RequestAdapter {
        backends: String,
        #[source]
        source: wgpu::RequestAdapterError,
    },
    #[error("could not open the GPU device on adapter '{adapter}': {source}")]
    RequestDevice {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },
    #[error("output size must be at least 1x1, got {width}x{height}")]
    EmptyOutput { width: u32, height: u32 },
    #[error(
        "output {width}x{height} exceeds the device's 2D texture limit of {max_dimension} pixels per side"
    )]
    OutputTooLarge {
        width: u32,
        height: u32,
        max_dimension: u32,
    },
    #[error("invalid view plane: {0}")]
    InvalidPlane(#[from] SliceGridError),
    #[error(
        "the plane through {center_mm:?} with normal {normal:?} (slab {slab_mm} mm) does not cut the volume"
    )]
    PlaneOutsideVolume {
        center_mm: [f64; 3],
        normal: [f64; 3],
        slab_mm: f64,
    },
    #[error("invalid {what}: {value} ({reason})")]
    InvalidParameter {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(
        "volume {dims:?} exceeds the device's 3D texture limit of {max_dimension} voxels per side"
    )]
    VolumeTooLarge {
        dims: [usize; 3],
        max_dimension: u32,
    },
    #[error("empty volume {dims:?}")]
    EmptyVolume { dims: [usize; 3] },
    #[error("no volume uploaded: call Renderer::upload_volume first")]
    NoVolume,
    #[error("view {key} was not prepared: call Renderer::prepare before paint")]
    ViewNotPrepared { key: u64 },
    #[error("too many {what}: {count}, at most {max}")]
    TooManyOverlays {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("GPU error while {step}: {message}")]
    Gpu { step: &'static str, message: String },
    #[error("reading the frame back from the GPU failed: {reason}")]
    ReadBack { reason: String },
}
