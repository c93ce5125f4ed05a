// Shared declarations of every margo-render pipeline: the scene (volume, overlays) in group 0 and
// the per-view uniforms in group 1. margo-render prepends this file to each pipeline's WGSL.
//
// KEEP IN SYNC with crates/margo-render/src/gpu_types.rs (`ViewUniforms`, `OverlayUniforms`,
// `GpuEllipsoid`, `GpuSegment`, `GpuPoint`): same field order, all fields 16-byte vectors or
// matrices so that WGSL and #[repr(C)] layouts agree; sizes are asserted on the Rust side.

const MAX_ELLIPSOIDS: u32 = 16u;
const MAX_SEGMENTS: u32 = 16u;
const MAX_POINTS: u32 = 32u;

// SPEC_SLAB values (margo-render's gpu_types::SLAB_*).
const SLAB_NONE: u32 = 0u;
const SLAB_MIP: u32 = 1u;
const SLAB_MINIP: u32 = 2u;
const SLAB_MEAN: u32 = 3u;

// The modes.w bit flags (gpu_types::FLAG_*) are read on the CPU, which turns them into the
// SPEC_* constants below; the shaders do not test them.

// Pipeline specialisation (margo-render's `variant::PipelineVariant` sets these per view).
// A feature a view does not use is compiled out instead of being skipped by a branch on a
// uniform: a software rasteriser (llvmpipe/lavapipe) runs both sides of every branch for its SIMD
// lanes, so a disabled feature behind a uniform flag still costs its full price there, and on
// real GPUs the smaller shaders use fewer registers. The defaults are never used by margo-render
// (it always passes every constant); they make each module valid on its own (naga test).
override SPEC_SRGB_TARGET: bool = false;
override SPEC_LINEAR: bool = true;
override SPEC_OVERLAYS: bool = true;
override SPEC_MASK: bool = true;
override SPEC_SHELL: bool = true;
// Which analytic overlays exist in the scene (ellipsoids, segments, points, crosshair).
override SPEC_ELLIPSOIDS: bool = true;
override SPEC_SEGMENTS: bool = true;
override SPEC_POINTS: bool = true;
override SPEC_CROSSHAIR: bool = true;
// MPR slab combination (SLAB_*); SLAB_NONE also when the slab has a single sample.
override SPEC_SLAB: u32 = 0u;
// Ray casting.
override SPEC_RAY_MIP: bool = false;
override SPEC_SHADING: bool = true;
override SPEC_CLIP_BOX: bool = false;
override SPEC_CLIP_PLANE: bool = false;
override SPEC_JITTER: bool = false;
// Samples the ray caster's search collects before compositing them, 1..=8 (raycast.wgsl; the
// renderer always uses 8, a test compares with 1).
override SPEC_SEARCH_QUEUE: u32 = 8u;

// OverlayUniforms.counts.w bit flags.
const OVERLAY_CROSSHAIR: u32 = 1u;
const OVERLAY_MASK: u32 = 2u;
const OVERLAY_SHELL: u32 = 4u;

struct ViewUniforms {
    // World (LPS mm) -> normalised texture coordinates of the CT volume, (i + 0.5) / n.
    texture_from_world: mat4x4<f32>,
    // width_px, height_px, pixel_size_mm, line_width_px
    screen: vec4<f32>,
    // MPR: world position of the screen's top-left corner (screen (0, 0)).
    // Ray casting: the eye in world.
    origin_world: vec4<f32>,
    // World vector per screen pixel along +x (MPR: right * pixel size; rays: on the focal plane).
    axis_x_world: vec4<f32>,
    // World vector per screen pixel along +y (down the screen).
    axis_y_world: vec4<f32>,
    // MPR: unit plane normal (away from the viewer). Rays: eye -> focal plane centre.
    axis_z_world: vec4<f32>,
    // window centre HU, window width HU, slab thickness mm, slab sample count
    window: vec4<f32>,
    // x: slab mode / ray mode, y: 0 nearest / 1 linear, z: frame seed (0 = no jitter), w: flags
    modes: vec4<u32>,
    // Clip box in world (xyz min / max).
    clip_min: vec4<f32>,
    clip_max: vec4<f32>,
    // Clip plane: unit normal xyz, w = offset; points with dot(n, p) > w are removed.
    clip_plane: vec4<f32>,
    // step_mm, opacity reference length mm, ambient, shading strength
    ray: vec4<f32>,
    // Transfer-function HU range: hu at u = 0, hu at u = 1, texture v of the row, row index.
    tf_range: vec4<f32>,
    // Voxel counts of the volume (n_i, n_j, n_k, 0).
    volume_dims: vec4<f32>,
    // Ray casting: edge of an empty-space-skipping brick in voxels along i, j, k (margo-render's
    // bricks.rs); 0 for MPR.
    brick_voxels: vec4<f32>,
    // Ray casting: HU open interval (x, y) outside which the transfer function is transparent
    // (a cheap test before its texture is read).
    tf_visible_hu: vec4<f32>,
};

struct GpuEllipsoid {
    // World -> unit-sphere space of the ellipsoid.
    unit_from_world: mat4x4<f32>,
    // rgb, alpha of the 3D surface
    color: vec4<f32>,
    // x: union group id, y: MPR fill alpha
    params: vec4<f32>,
};

struct GpuSegment {
    // xyz, w = shaft radius mm (3D)
    a: vec4<f32>,
    // xyz, w = end marker radius mm
    b: vec4<f32>,
    color: vec4<f32>,
    // x: marker at a (0/1), y: marker at b (0/1)
    params: vec4<f32>,
};

struct GpuPoint {
    // xyz, w = radius mm
    position: vec4<f32>,
    color: vec4<f32>,
};

struct OverlayUniforms {
    // ellipsoid count, segment count, point count, OVERLAY_* flags
    counts: vec4<u32>,
    // world xyz, gap around the centre in px
    crosshair: vec4<f32>,
    crosshair_color: vec4<f32>,
    // rgb, fill alpha (MPR)
    mask_color: vec4<f32>,
    shell_color: vec4<f32>,
    mask_texture_from_world: mat4x4<f32>,
    shell_texture_from_world: mat4x4<f32>,
    mask_dims: vec4<f32>,
    shell_dims: vec4<f32>,
    ellipsoids: array<GpuEllipsoid, 16>,
    segments: array<GpuSegment, 16>,
    points: array<GpuPoint, 32>,
};

@group(0) @binding(0) var volume_hu: texture_3d<f32>;
@group(0) @binding(1) var linear_clamp: sampler;
@group(0) @binding(2) var mask_labels: texture_3d<f32>;
@group(0) @binding(3) var shell_labels: texture_3d<f32>;
@group(0) @binding(4) var transfer_function: texture_2d<f32>;
@group(0) @binding(5) var<uniform> overlays: OverlayUniforms;
// One texel per brick of 8^3 voxels; channel = transfer-function row; value * 255 = Chebyshev
// distance in bricks to the nearest brick that may be visible (its HU range meets a non-zero
// opacity, or a mask is near); 0 for such a brick (margo-render's bricks.rs).
@group(0) @binding(6) var brick_occupancy: texture_3d<f32>;
@group(1) @binding(0) var<uniform> view: ViewUniforms;

struct FullscreenOut {
    @builtin(position) position: vec4<f32>,
    // Continuous screen position in pixels of the view (pixel centres at +0.5), independent of
    // where the caller's viewport sits in its framebuffer.
    @location(0) screen_px: vec2<f32>,
};

// One triangle covering the viewport.
@vertex
fn vs_fullscreen(@builtin(vertex_index) index: u32) -> FullscreenOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: FullscreenOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.screen_px = uv * view.screen.xy;
    return out;
}

fn texture_from_world(p: vec3<f32>) -> vec3<f32> {
    return (view.texture_from_world * vec4<f32>(p, 1.0)).xyz;
}

fn inside_unit_box(t: vec3<f32>) -> bool {
    return all(t >= vec3<f32>(0.0)) && all(t <= vec3<f32>(1.0));
}

// HU at a texture coordinate. Nearest reads the texel whose cell holds the point, exactly like
// margo_volume's rounded index (floor(t * n)); linear uses the filtering sampler (clamp to edge,
// as margo_volume's trilinear sampling does within the half-voxel border).
fn sample_hu(t: vec3<f32>) -> f32 {
    if (!SPEC_LINEAR) {
        let dims = vec3<i32>(view.volume_dims.xyz);
        let index = clamp(vec3<i32>(floor(t * view.volume_dims.xyz)), vec3<i32>(0), dims - vec3<i32>(1));
        return textureLoad(volume_hu, index, 0).r;
    }
    return textureSampleLevel(volume_hu, linear_clamp, t, 0.0).r;
}

// margo_render::WindowLevel::grey_from_hu mirrors this.
fn grey_from_hu(hu: f32) -> f32 {
    let width = max(view.window.y, 1e-3);
    return clamp((hu - (view.window.x - 0.5 * width)) / width, 0.0, 1.0);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

// Our colours are display (sRGB-encoded) values. An sRGB render target would encode them a second
// time, so hand it linear values that encode back to what we mean.
fn to_target(c: vec4<f32>) -> vec4<f32> {
    if (SPEC_SRGB_TARGET) {
        return vec4<f32>(srgb_to_linear(c.rgb), c.a);
    }
    return c;
}

fn over(dst: vec3<f32>, src: vec4<f32>) -> vec3<f32> {
    return mix(dst, src.rgb, clamp(src.a, 0.0, 1.0));
}

// Label masks: a voxel is inside when its stored label is non-zero (nearest voxel, no blending).
fn label_at(labels: texture_3d<f32>, texture_from_world_m: mat4x4<f32>, dims: vec3<f32>, p: vec3<f32>) -> bool {
    let t = (texture_from_world_m * vec4<f32>(p, 1.0)).xyz;
    if (!inside_unit_box(t)) {
        return false;
    }
    let index = clamp(vec3<i32>(floor(t * dims)), vec3<i32>(0), vec3<i32>(dims) - vec3<i32>(1));
    return textureLoad(labels, index, 0).r > 0.5;
}

fn in_mask(p: vec3<f32>) -> bool {
    return label_at(mask_labels, overlays.mask_texture_from_world, overlays.mask_dims.xyz, p);
}

fn in_shell(p: vec3<f32>) -> bool {
    return label_at(shell_labels, overlays.shell_texture_from_world, overlays.shell_dims.xyz, p);
}
