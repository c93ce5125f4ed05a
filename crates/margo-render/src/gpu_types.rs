//! `#[repr(C)]` mirrors of the WGSL uniform structs.
//!
//! KEEP IN SYNC with `shaders/common_scene.wgsl` (`ViewUniforms`, `OverlayUniforms`,
//! `GpuEllipsoid`, `GpuSegment`, `GpuPoint`): same field order; every field is a 16-byte vector
//! or a 4x4 matrix (column-major, like WGSL's `mat4x4<f32>`), so the C layout equals the WGSL
//! uniform layout. The size assertions below catch a field added on one side only; the naga test
//! (`tests/shaders.rs`) checks the WGSL sizes against the same constants.

use bytemuck::{Pod, Zeroable};
use margo_volume::nalgebra::Matrix4;

pub const MAX_ELLIPSOIDS: usize = 16;
pub const MAX_SEGMENTS: usize = 16;
pub const MAX_POINTS: usize = 32;

pub const SLAB_NONE: u32 = 0;
pub const SLAB_MIP: u32 = 1;
pub const SLAB_MINIP: u32 = 2;
pub const SLAB_MEAN: u32 = 3;
pub const RAY_COMPOSITE: u32 = 0;
pub const RAY_MIP: u32 = 1;

pub const FLAG_OVERLAYS: u32 = 1;
pub const FLAG_SRGB_TARGET: u32 = 2;
pub const FLAG_SHADING: u32 = 4;
pub const FLAG_CLIP_BOX: u32 = 8;
pub const FLAG_CLIP_PLANE: u32 = 16;

pub const OVERLAY_CROSSHAIR: u32 = 1;
pub const OVERLAY_MASK: u32 = 2;
pub const OVERLAY_SHELL: u32 = 4;

/// Column-major f32 matrix as WGSL expects (f64 maths stays on the CPU until here).
pub fn mat4_to_gpu(m: &Matrix4<f64>) -> [[f32; 4]; 4] {
    let mut out = [[0.0f32; 4]; 4];
    for (c, col) in out.iter_mut().enumerate() {
        for (r, v) in col.iter_mut().enumerate() {
            *v = m[(r, c)] as f32;
        }
    }
    out
}

pub fn vec4(x: f64, y: f64, z: f64, w: f64) -> [f32; 4] {
    [x as f32, y as f32, z as f32, w as f32]
}

/// Per-view uniforms (MPR and ray casting). See `ViewUniforms` in common_scene.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct ViewUniforms {
    pub texture_from_world: [[f32; 4]; 4],
    pub screen: [f32; 4],
    pub origin_world: [f32; 4],
    pub axis_x_world: [f32; 4],
    pub axis_y_world: [f32; 4],
    pub axis_z_world: [f32; 4],
    pub window: [f32; 4],
    pub modes: [u32; 4],
    pub clip_min: [f32; 4],
    pub clip_max: [f32; 4],
    pub clip_plane: [f32; 4],
    pub ray: [f32; 4],
    pub tf_range: [f32; 4],
    pub volume_dims: [f32; 4],
    pub brick_voxels: [f32; 4],
    pub tf_visible_hu: [f32; 4],
}
pub const VIEW_UNIFORMS_SIZE: usize = 64 + 15 * 16;
const _: () = assert!(std::mem::size_of::<ViewUniforms>() == VIEW_UNIFORMS_SIZE);

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct GpuEllipsoid {
    pub unit_from_world: [[f32; 4]; 4],
    pub color: [f32; 4],
    pub params: [f32; 4],
}
const _: () = assert!(std::mem::size_of::<GpuEllipsoid>() == 96);

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct GpuSegment {
    pub a: [f32; 4],
    pub b: [f32; 4],
    pub color: [f32; 4],
    pub params: [f32; 4],
}
const _: () = assert!(std::mem::size_of::<GpuSegment>() == 64);

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct GpuPoint {
    pub position: [f32; 4],
    pub color: [f32; 4],
}
const _: () = assert!(std::mem::size_of::<GpuPoint>() == 32);

/// Scene overlays. See `OverlayUniforms` in common_scene.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct OverlayUniforms {
    pub counts: [u32; 4],
    pub crosshair: [f32; 4],
    pub crosshair_color: [f32; 4],
    pub mask_color: [f32; 4],
    pub shell_color: [f32; 4],
    pub mask_texture_from_world: [[f32; 4]; 4],
    pub shell_texture_from_world: [[f32; 4]; 4],
    pub mask_dims: [f32; 4],
    pub shell_dims: [f32; 4],
    pub ellipsoids: [GpuEllipsoid; MAX_ELLIPSOIDS],
    pub segments: [GpuSegment; MAX_SEGMENTS],
    pub points: [GpuPoint; MAX_POINTS],
}
pub const OVERLAY_UNIFORMS_SIZE: usize =
    7 * 16 + 2 * 64 + MAX_ELLIPSOIDS * 96 + MAX_SEGMENTS * 64 + MAX_POINTS * 32;
const _: () = assert!(std::mem::size_of::<OverlayUniforms>() == OVERLAY_UNIFORMS_SIZE);

impl Default for OverlayUniforms {
    fn default() -> Self {
        Zeroable::zeroed()
    }
}
