//! The renderer: GPU resources of one scene (volume, masks, transfer functions, overlays) and
//! per-view uniforms; draws into a caller's render pass or headless into an RGBA image.

use std::collections::HashMap;

use margo_volume::{Mask, Volume, VolumeGeometry};

use crate::context::{block_on, open_headless_device};
use crate::gpu_types::{self, OverlayUniforms, ViewUniforms};
use crate::half::f16_bits_from_f32;
use crate::image::RgbaImage;
use crate::mpr::MprView;
use crate::overlay::{MaskStyle, Shapes};
use crate::raycast::{
    RaycastView, TF_FIRST_HU, TF_ROWS, TF_WIDTH, TransferFunction, TransferFunctionPreset,
};
use crate::screen_rect;
use crate::variant::{PipelineVariant, ViewKind};
use crate::{RenderError, shaders};
use margo_volume::nalgebra::Point3;

/// Format of the volume texture: HU stored as 16-bit floats (exact for |HU| <= 2048; above that
/// rounded to the nearest representable value, at most 1 HU off up to 4096). Core WebGPU,
/// filterable, needs no device feature, so it works on the device eframe creates.
pub const VOLUME_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R16Float;
pub use crate::offscreen::HEADLESS_FORMAT;

use crate::bricks::{brick_ranges, brick_voxels, chebyshev_distance};
use crate::compute_raycast::ComputeRaycast;
use crate::offscreen::{Offscreen, wait_for_gpu};

/// Identifies one view's uniforms (e.g. 0..3 for the app's panes).
pub type ViewKey = u64;
const HEADLESS_KEY: ViewKey = u64::MAX;

/// What one view shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Mpr(MprView),
    Raycast(RaycastView),
}

impl Frame {
    pub fn size_px(&self) -> (u32, u32) {
        match self {
            Frame::Mpr(v) => (v.width_px, v.height_px),
            Frame::Raycast(v) => (v.width_px, v.height_px),
        }
    }
}

/// The colour target the caller's render pass draws into (for `paint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenderTarget {
    pub format: wgpu::TextureFormat,
    pub sample_count: u32,
    /// The pass's depth attachment format, if it has one (depth is neither tested nor written).
    pub depth_format: Option<wgpu::TextureFormat>,
}

impl RenderTarget {
    pub fn color(format: wgpu::TextureFormat) -> Self {
        Self {
            format,
            sample_count: 1,
            depth_format: None,
        }
    }
}

/// What the ray caster derives from a transfer-function row, once per change rather than per
/// frame or per mask edit.
struct TfRow {
    /// `TransferFunction::visible_prefix` (brick occupancy).
    visible_prefix: Vec<u32>,
    /// `TransferFunction::visible_hu_interval` (the search loop's cheap test).
    visible_hu: (f64, f64),
}

impl TfRow {
    fn new(tf: &TransferFunction) -> Self {
        Self {
            visible_prefix: tf.visible_prefix(),
            visible_hu: tf.visible_hu_interval(),
        }
    }
}

struct ViewSlot {
    buffer: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    /// The uploaded uniforms (to re-derive the variant when the scene's overlays change).
    uniforms: ViewUniforms,
    variant: PipelineVariant,
}

struct GpuLabels {
    _texture: wgpu::Texture,
    view: wgpu::TextureView,
}

/// How headless frames (`render_to_rgba`, `render_and_wait`) are ray cast. Both give the same
/// pixels; they differ in speed by device (see `compute_raycast.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadlessRaycast {
    /// A full-screen fragment pass (the path `paint` always takes).
    Fragment,
    /// A compute pass writing the frame's pixels.
    Compute,
}

impl HeadlessRaycast {
    /// Compute where the device can write a storage texture from a 64-invocation workgroup,
    /// read a storage buffer and bind 4 groups (every Vulkan, Metal and D3D12 device; not
    /// WebGL2-class limits), else fragment.
    pub fn default_for(limits: &wgpu::Limits) -> Self {
        let invocations = crate::compute_raycast::TILE_PX * crate::compute_raycast::TILE_PX;
        if limits.max_storage_textures_per_shader_stage >= 1
            && limits.max_storage_buffers_per_shader_stage >= 1
            && limits.max_bind_groups >= crate::compute_raycast::BIND_GROUPS
            && limits.max_compute_invocations_per_workgroup >= invocations
            && limits.max_compute_workgroup_size_x >= invocations
        {
            Self::Compute
        } else {
            Self::Fragment
        }
    }
}

/// GPU renderer of one CT volume with overlays. Create one per device; it owns its textures and
/// pipelines and keeps clones of the device and queue.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter_name: String,
    scene_layout: wgpu::BindGroupLayout,
    view_layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    mpr_module: wgpu::ShaderModule,
    raycast_module: wgpu::ShaderModule,
    /// The caller's colour target (`paint`); headless frames use `HEADLESS_FORMAT`.
    target: RenderTarget,
    /// Specialised pipelines, created when a view first needs them.
    pipelines: HashMap<(RenderTarget, PipelineVariant), wgpu::RenderPipeline>,
    sampler: wgpu::Sampler,
    volume: Option<(wgpu::Texture, wgpu::TextureView, VolumeGeometry)>,
    mask: GpuLabels,
    shell: GpuLabels,
    tf_texture: wgpu::Texture,
    tf_view: wgpu::TextureView,
    overlay_buffer: wgpu::Buffer,
    overlay_uniforms: OverlayUniforms,
    scene_bind_group: Option<wgpu::BindGroup>,
    /// What brick occupancy and ray casting need of each row of `tf_texture`.
    tf_rows: Vec<TfRow>,
    /// HU range seen by trilinear samples inside each brick, and the brick grid size.
    brick_ranges: Vec<[i16; 2]>,
    brick_dims: [usize; 3],
    /// Brick edge in voxels along i, j, k.
    brick_voxels: [usize; 3],
    /// Bricks near a shown mask (never skipped).
    brick_near_mask: Vec<bool>,
    occupancy: GpuLabels,
    /// The bytes of `occupancy`, for the compute pipelines' copy in a storage buffer.
    occupancy_bytes: Vec<u8>,
    /// That copy's bind group, made when a compute frame first needs it after a change.
    compute_bricks: Option<wgpu::BindGroup>,
    /// The shown mask, kept to mark bricks near it when a new volume arrives.
    mask_cpu: Option<Mask>,
    views: HashMap<ViewKey, ViewSlot>,
    offscreen: Option<Offscreen>,
    headless_raycast: HeadlessRaycast,
    /// Made when the first frame takes the compute path.
    compute: Option<ComputeRaycast>,
    /// `PipelineVariant::search_queue` of the views (see `set_search_queue`).
    search_queue: u32,
}

fn gpu_error(step: &'static str, e: wgpu::Error) -> RenderError {
    RenderError::Gpu {
        step,
        message: e.to_string(),
    }
}

/// Runs `f` inside validation and out-of-memory error scopes and turns a captured error into a
/// `RenderError` (wgpu would otherwise hand it to the device's uncaptured-error handler).
fn scoped<T>(
    device: &wgpu::Device,
    step: &'static str,
    f: impl FnOnce() -> T,
) -> Result<T, RenderError> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = f();
    let v = block_on(validation.pop());
    let o = block_on(oom.pop());
    match v.or(o) {
        Some(e) => Err(gpu_error(step, e)),
        None => Ok(out),
    }
}

/// Stages that read the scene: fragment shaders, and the compute ray caster
/// (`compute_raycast.rs`).
const SCENE_STAGES: wgpu::ShaderStages =
    wgpu::ShaderStages::FRAGMENT.union(wgpu::ShaderStages::COMPUTE);

fn texture_entry(
    binding: u32,
    filterable: bool,
    dim: wgpu::TextureViewDimension,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: SCENE_STAGES,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable },
            view_dimension: dim,
            multisampled: false,
        },
        count: None,
    }
}

fn uniform_entry(binding: u32, stages: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: stages,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl Renderer {
    /// A renderer on an existing device (the app's, shared with egui), drawing into passes of
    /// `target`. Headless rendering on the same renderer also works (it adds RGBA8 pipelines).
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        target: RenderTarget,
    ) -> Result<Self, RenderError> {
        Self::build(
            device.clone(),
            queue.clone(),
            "shared device".into(),
            target,
        )
    }

    /// A renderer on its own device (CLI, tests, benchmarks), drawing RGBA8 frames.
    pub fn new_headless() -> Result<Self, RenderError> {
        let (device, queue, name) = open_headless_device()?;
        // Headless devices report errors through error scopes; keep stray ones from panicking.
        device.on_uncaptured_error(std::sync::Arc::new(|e: wgpu::Error| {
            eprintln!("margo-render: uncaptured GPU error: {e}");
        }));
        Self::build(device, queue, name, RenderTarget::color(HEADLESS_FORMAT))
    }

    /// How headless frames are ray cast from now on.
    pub fn set_headless_raycast(&mut self, path: HeadlessRaycast) {
        self.headless_raycast = path;
    }

    pub fn headless_raycast(&self) -> HeadlessRaycast {
        self.headless_raycast
    }

    /// How many samples the ray caster's search collects before compositing them (1..=8, default
    /// 8). Only tests change it: they check that the queue leaves frames unchanged. Views drawn
    /// from now on use it.
    #[doc(hidden)]
    pub fn set_search_queue(&mut self, samples: u32) -> Result<(), RenderError> {
        self.search_queue = samples.clamp(1, crate::variant::SEARCH_QUEUE);
        self.refresh_variants()
    }

    /// The adapter this renderer runs on ("llvmpipe (Vulkan)" on lavapipe).
    pub fn adapter_name(&self) -> &str {
        &self.adapter_name
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    fn build(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter_name: String,
        target: RenderTarget,
    ) -> Result<Self, RenderError> {
        let d = device.clone();
        scoped(&d, "creating pipelines", move || {
            let scene_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("margo scene"),
                entries: &[
                    texture_entry(0, true, wgpu::TextureViewDimension::D3),
                    wgpu::BindGroupLayoutEntry {
                        binding: 1,
                        visibility: SCENE_STAGES,
                        ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                        count: None,
                    },
                    texture_entry(2, true, wgpu::TextureViewDimension::D3),
                    texture_entry(3, true, wgpu::TextureViewDimension::D3),
                    texture_entry(4, true, wgpu::TextureViewDimension::D2),
                    uniform_entry(5, SCENE_STAGES),
                    texture_entry(6, true, wgpu::TextureViewDimension::D3),
                ],
            });
            let view_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("margo view"),
                entries: &[uniform_entry(
                    0,
                    wgpu::ShaderStages::VERTEX_FRAGMENT | wgpu::ShaderStages::COMPUTE,
                )],
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("margo"),
                bind_group_layouts: &[Some(&scene_layout), Some(&view_layout)],
                immediate_size: 0,
            });
            let mpr_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("mpr.wgsl"),
                source: wgpu::ShaderSource::Wgsl(shaders::MPR.into()),
            });
            let raycast_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("raycast.wgsl"),
                source: wgpu::ShaderSource::Wgsl(shaders::RAYCAST.into()),
            });
            let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
                label: Some("margo linear clamp"),
                address_mode_u: wgpu::AddressMode::ClampToEdge,
                address_mode_v: wgpu::AddressMode::ClampToEdge,
                address_mode_w: wgpu::AddressMode::ClampToEdge,
                mag_filter: wgpu::FilterMode::Linear,
                min_filter: wgpu::FilterMode::Linear,
                ..Default::default()
            });
            let mask = empty_labels(&device, &queue, "margo mask (empty)");
            let shell = empty_labels(&device, &queue, "margo shell (empty)");
            let tf_texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("margo transfer functions"),
                size: wgpu::Extent3d {
                    width: TF_WIDTH,
                    height: TF_ROWS,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba16Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let tf_view = tf_texture.create_view(&Default::default());
            let overlay_buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("margo overlays"),
                size: gpu_types::OVERLAY_UNIFORMS_SIZE as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let overlay_uniforms = OverlayUniforms::default();
            let occupancy = empty_occupancy(&device, &queue);
            queue.write_buffer(&overlay_buffer, 0, bytemuck::bytes_of(&overlay_uniforms));
            let headless_raycast = HeadlessRaycast::default_for(&device.limits());
            let r = Self {
                device,
                queue,
                adapter_name,
                scene_layout,
                view_layout,
                pipeline_layout,
                mpr_module,
                raycast_module,
                target,
                pipelines: HashMap::new(),
                sampler,
                volume: None,
                mask,
                shell,
                tf_texture,
                tf_view,
                overlay_buffer,
                overlay_uniforms,
                scene_bind_group: None,
                tf_rows: (0..TF_ROWS)
                    .map(|row| {
                        TfRow::new(
                            &TransferFunctionPreset::ALL
                                .get(row as usize)
                                .copied()
                                .unwrap_or(TransferFunctionPreset::LungAirways)
                                .transfer_function(),
                        )
                    })
                    .collect(),
                brick_ranges: Vec::new(),
                brick_dims: [0; 3],
                brick_voxels: [1; 3],
                brick_near_mask: Vec::new(),
                occupancy,
                occupancy_bytes: EMPTY_OCCUPANCY.to_vec(),
                compute_bricks: None,
                mask_cpu: None,
                views: HashMap::new(),
                offscreen: None,
                headless_raycast,
                compute: None,
                search_queue: crate::variant::SEARCH_QUEUE,
            };
            for preset in TransferFunctionPreset::ALL {
                r.write_tf_row(preset.row(), &preset.transfer_function());
            }
            r.write_tf_row(
                TF_ROWS - 1,
                &TransferFunctionPreset::LungAirways.transfer_function(),
            );
            r
        })
    }

    fn write_tf_row(&self, row: u32, tf: &TransferFunction) {
        let bytes: Vec<u8> = tf
            .texels()
            .iter()
            .flat_map(|t| t.iter().flat_map(|v| f16_bits_from_f32(*v).to_le_bytes()))
            .collect();
        self.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &self.tf_texture,
                mip_level: 0,
                origin: wgpu::Origin3d { x: 0, y: row, z: 0 },
                aspect: wgpu::TextureAspect::All,
            },
            &bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(TF_WIDTH * 8),
                rows_per_image: Some(1),
            },
            wgpu::Extent3d {
                width: TF_WIDTH,
                height: 1,
                depth_or_array_layers: 1,
            },
        );
    }

    /// Replaces the custom transfer function (`TfChoice::Custom`).
    pub fn set_custom_transfer_function(
        &mut self,
        tf: &TransferFunction,
    ) -> Result<(), RenderError> {
        tf.validate()?;
        self.write_tf_row(TF_ROWS - 1, tf);
        self.tf_rows[TF_ROWS as usize - 1] = TfRow::new(tf);
        self.update_occupancy()
    }

    /// The uploaded volume's geometry.
    pub fn volume_geometry(&self) -> Option<&VolumeGeometry> {
        self.volume.as_ref().map(|v| &v.2)
    }

    /// The 3D texture extent for a grid, or an error when it is empty or exceeds the device's
    /// 3D texture limit (checked before allocating, so a too-large volume never loses the device).
    fn checked_extent_3d(&self, dims: [usize; 3]) -> Result<wgpu::Extent3d, RenderError> {
        if dims.contains(&0) {
            return Err(RenderError::EmptyVolume { dims });
        }
        let max = self.device.limits().max_texture_dimension_3d;
        if dims.iter().any(|d| *d > max as usize) {
            return Err(RenderError::VolumeTooLarge {
                dims,
                max_dimension: max,
            });
        }
        Ok(wgpu::Extent3d {
            width: dims[0] as u32,
            height: dims[1] as u32,
            depth_or_array_layers: dims[2] as u32,
        })
    }

    /// Uploads the CT volume (HU) once; every view samples it. Replaces any previous volume.
    pub fn upload_volume(&mut self, volume: &Volume<i16>) -> Result<(), RenderError> {
        let dims = volume.dims();
        let size = self.checked_extent_3d(dims)?;
        let texture = scoped(&self.device, "allocating the volume texture", || {
            self.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("margo volume (HU, f16)"),
                size,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D3,
                format: VOLUME_FORMAT,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        })?;
        // Convert and upload a few slices at a time: no second full-size copy in memory.
        let slice_len = dims[0] * dims[1];
        let chunk_slices = (8 * 1024 * 1024 / (slice_len * 2)).clamp(1, dims[2]);
        let voxels = volume.voxels();
        let mut bytes = Vec::with_capacity(chunk_slices * slice_len * 2);
        scoped(&self.device, "uploading the volume", || {
            for k0 in (0..dims[2]).step_by(chunk_slices) {
                let k1 = (k0 + chunk_slices).min(dims[2]);
                bytes.clear();
                bytes.extend(
                    voxels[k0 * slice_len..k1 * slice_len]
                        .iter()
                        .flat_map(|v| f16_bits_from_f32(f32::from(*v)).to_le_bytes()),
                );
                self.queue.write_texture(
                    wgpu::TexelCopyTextureInfo {
                        texture: &texture,
                        mip_level: 0,
                        origin: wgpu::Origin3d {
                            x: 0,
                            y: 0,
                            z: k0 as u32,
                        },
                        aspect: wgpu::TextureAspect::All,
                    },
                    &bytes,
                    wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(dims[0] as u32 * 2),
                        rows_per_image: Some(dims[1] as u32),
                    },
                    wgpu::Extent3d {
                        depth_or_array_layers: (k1 - k0) as u32,
                        ..size
                    },
                );
            }
        })?;
        let view = texture.create_view(&Default::default());
        self.volume = Some((texture, view, volume.geometry().clone()));
        self.scene_bind_group = None;
        let spacing_mm: [f64; 3] = volume.geometry().spacing_mm().into();
        self.brick_voxels = brick_voxels(spacing_mm);
        let (ranges, brick_dims) = brick_ranges(volume, self.brick_voxels);
        self.brick_ranges = ranges;
        self.brick_dims = brick_dims;
        self.brick_near_mask = vec![false; self.brick_ranges.len()];
        if self.overlay_uniforms.counts[3] & gpu_types::OVERLAY_MASK != 0
            && let Some(mask) = self.mask_cpu.clone()
        {
            self.mark_bricks_near_mask(&mask);
        }
        self.update_occupancy()
    }

    fn upload_labels(&self, mask: &Mask, label: &'static str) -> Result<GpuLabels, RenderError> {
        let dims = mask.dims();
        let size = self.checked_extent_3d(dims)?;
        // Labels become 0 / 255 so that linear filtering crosses 0.5 halfway between voxels.
        let bytes: Vec<u8> = mask
            .labels()
            .iter()
            .map(|v| if *v != 0 { 255 } else { 0 })
            .collect();
        scoped(&self.device, "uploading a label mask", || {
            let format = wgpu::TextureFormat::R8Unorm;
            texture_3d_with_data(&self.device, &self.queue, label, size, format, 1, &bytes)
        })
    }

    /// Shows a label mask (fill + outline in MPR, surface in 3D), or hides it with `None`.
    pub fn set_mask(&mut self, mask: Option<(&Mask, MaskStyle)>) -> Result<(), RenderError> {
        let u = &mut self.overlay_uniforms;
        match mask {
            None => {
                u.counts[3] &= !gpu_types::OVERLAY_MASK;
                self.mask_cpu = None;
                self.brick_near_mask.iter_mut().for_each(|b| *b = false);
                self.update_occupancy()?;
            }
            // The same mask again (callers often re-send it each frame): only the style changes.
            Some((m, style)) if self.mask_cpu.as_ref() == Some(m) => {
                let c = style.color;
                u.mask_color = [c[0], c[1], c[2], style.fill_alpha.clamp(0.0, 1.0)];
                u.counts[3] |= gpu_types::OVERLAY_MASK;
            }
            Some((m, style)) => {
                let labels = self.upload_labels(m, "margo mask")?;
                self.mask = labels;
                let u = &mut self.overlay_uniforms;
                u.mask_texture_from_world =
                    gpu_types::mat4_to_gpu(&m.geometry().texture_from_world());
                let d = m.dims();
                u.mask_dims = gpu_types::vec4(d[0] as f64, d[1] as f64, d[2] as f64, 0.0);
                let c = style.color;
                u.mask_color = [c[0], c[1], c[2], style.fill_alpha.clamp(0.0, 1.0)];
                u.counts[3] |= gpu_types::OVERLAY_MASK;
                self.scene_bind_group = None;
                self.brick_near_mask.iter_mut().for_each(|b| *b = false);
                self.mark_bricks_near_mask(m);
                self.mask_cpu = Some(m.clone());
                self.update_occupancy()?;
            }
        }
        self.queue.write_buffer(
            &self.overlay_buffer,
            0,
            bytemuck::bytes_of(&self.overlay_uniforms),
        );
        self.refresh_variants()
    }

    /// Shows the outline of a grown mask (see `overlay::grow_mask`) in `color`, or hides it.
    pub fn set_shell(
        &mut self,
        shell: Option<(&Mask, crate::overlay::Rgba)>,
    ) -> Result<(), RenderError> {
        match shell {
            None => self.overlay_uniforms.counts[3] &= !gpu_types::OVERLAY_SHELL,
            Some((m, color)) => {
                let labels = self.upload_labels(m, "margo shell")?;
                self.shell = labels;
                let u = &mut self.overlay_uniforms;
                u.shell_texture_from_world =
                    gpu_types::mat4_to_gpu(&m.geometry().texture_from_world());
                let d = m.dims();
                u.shell_dims = gpu_types::vec4(d[0] as f64, d[1] as f64, d[2] as f64, 0.0);
                u.shell_color = color;
                u.counts[3] |= gpu_types::OVERLAY_SHELL;
                self.scene_bind_group = None;
            }
        }
        self.queue.write_buffer(
            &self.overlay_buffer,
            0,
            bytemuck::bytes_of(&self.overlay_uniforms),
        );
        self.refresh_variants()
    }

    /// Prepared views draw with the pipeline variant of the scene's current overlays (which
    /// shapes exist, mask and shell shown or not), as if they had been prepared again.
    fn refresh_variants(&mut self) -> Result<(), RenderError> {
        let overlay_counts = self.overlay_uniforms.counts;
        let mut needed = Vec::new();
        for (key, slot) in &mut self.views {
            slot.variant = PipelineVariant::of(slot.variant.kind, &slot.uniforms, overlay_counts)
                .with_search_queue(self.search_queue);
            if *key != HEADLESS_KEY {
                needed.push(slot.variant);
            }
        }
        for variant in needed {
            self.ensure_pipeline(self.target, variant)?;
        }
        Ok(())
    }

    /// Creates the pipeline of `variant` for `target` unless it exists.
    fn ensure_pipeline(
        &mut self,
        target: RenderTarget,
        variant: PipelineVariant,
    ) -> Result<(), RenderError> {
        if self.pipelines.contains_key(&(target, variant)) {
            return Ok(());
        }
        let module = match variant.kind {
            ViewKind::Mpr => &self.mpr_module,
            ViewKind::Raycast => &self.raycast_module,
        };
        let pipeline = scoped(&self.device, "creating a pipeline", || {
            make_pipeline(&self.device, &self.pipeline_layout, module, target, variant)
        })?;
        self.pipelines.insert((target, variant), pipeline);
        Ok(())
    }

    /// Replaces the analytic overlays (ellipsoids, segments, points, crosshair): one uniform
    /// upload, plus a pipeline compile the first time a kind of shape appears or goes (views
    /// compile in only the overlay code the scene needs; see `variant`).
    pub fn set_shapes(&mut self, shapes: &Shapes) -> Result<(), RenderError> {
        let mut u = self.overlay_uniforms;
        shapes.fill_uniforms(&mut u)?;
        self.overlay_uniforms = u;
        self.queue.write_buffer(
            &self.overlay_buffer,
            0,
            bytemuck::bytes_of(&self.overlay_uniforms),
        );
        self.refresh_variants()
    }

    /// Marks the volume bricks that a mask's voxels (with their filter footprint) touch.
    fn mark_bricks_near_mask(&mut self, mask: &Mask) {
        let Some((_, _, geometry)) = &self.volume else {
            return;
        };
        let nb = self.brick_dims;
        let mg = mask.geometry();
        let md = mask.dims();
        let e = self.brick_voxels.map(|b| b as f64);
        for k in 0..md[2] {
            for j in 0..md[1] {
                for i in 0..md[0] {
                    if !mask.contains(i, j, k) {
                        continue;
                    }
                    // The mask voxel's cell, grown by one mask voxel for linear filtering.
                    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
                    for corner in 0..8 {
                        let off = |bit: usize| if corner & bit != 0 { 1.5 } else { -1.5 };
                        let p = mg.world_from_index(&Point3::new(
                            i as f64 + off(1),
                            j as f64 + off(2),
                            k as f64 + off(4),
                        ));
                        let idx = geometry.index_from_world(&p);
                        for a in 0..3 {
                            lo[a] = lo[a].min(idx[a]);
                            hi[a] = hi[a].max(idx[a]);
                        }
                    }
                    let range = |a: usize| {
                        let first = (((lo[a] + 0.5) / e[a]).floor() - 1.0).max(0.0) as usize;
                        let last = (((hi[a] + 0.5) / e[a]).floor() + 1.0).min(nb[a] as f64 - 1.0);
                        (
                            first,
                            if last < 0.0 {
                                None
                            } else {
                                Some(last as usize)
                            },
                        )
                    };
                    let (ri, rj, rk) = (range(0), range(1), range(2));
                    let (Some(ie), Some(je), Some(ke)) = (ri.1, rj.1, rk.1) else {
                        continue;
                    };
                    for bk in rk.0..=ke {
                        for bj in rj.0..=je {
                            for bi in ri.0..=ie {
                                self.brick_near_mask[bi + nb[0] * (bj + nb[1] * bk)] = true;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Recomputes and uploads, per transfer function, each brick's distance to the nearest brick
    /// that function may show (see `bricks`).
    fn update_occupancy(&mut self) -> Result<(), RenderError> {
        if self.brick_ranges.is_empty() {
            return Ok(());
        }
        let last = TF_WIDTH as i64 - 1;
        let texel = |hu: f64| (hu - TF_FIRST_HU).clamp(0.0, last as f64);
        let distances: Vec<Vec<u8>> = self
            .tf_rows
            .iter()
            .map(|row| {
                let prefix = &row.visible_prefix;
                let visible: Vec<bool> = self
                    .brick_ranges
                    .iter()
                    .zip(&self.brick_near_mask)
                    .map(|([lo, hi], near)| {
                        // One texel of slack each side: linear filtering of the TF, f32 rounding.
                        let a = (texel(f64::from(*lo)).floor() as i64 - 1).clamp(0, last) as usize;
                        let b = (texel(f64::from(*hi)).ceil() as i64 + 1).clamp(0, last) as usize;
                        *near || prefix[b + 1] > prefix[a]
                    })
                    .collect();
                chebyshev_distance(&visible, self.brick_dims)
            })
            .collect();
        let bytes: Vec<u8> = (0..self.brick_ranges.len())
            .flat_map(|b| {
                std::array::from_fn::<u8, 4, _>(|row| distances.get(row).map_or(0, |d| d[b]))
            })
            .collect();
        let nb = self.brick_dims;
        let size = wgpu::Extent3d {
            width: nb[0] as u32,
            height: nb[1] as u32,
            depth_or_array_layers: nb[2] as u32,
        };
        let occupancy = scoped(&self.device, "uploading brick occupancy", || {
            let (label, format) = ("margo brick occupancy", wgpu::TextureFormat::Rgba8Unorm);
            texture_3d_with_data(&self.device, &self.queue, label, size, format, 4, &bytes)
        })?;
        self.occupancy = occupancy;
        self.occupancy_bytes = bytes;
        self.compute_bricks = None;
        self.scene_bind_group = None;
        Ok(())
    }

    fn scene_bind_group(&mut self) -> Result<wgpu::BindGroup, RenderError> {
        if let Some(bg) = &self.scene_bind_group {
            return Ok(bg.clone());
        }
        let (_, volume_view, _) = self.volume.as_ref().ok_or(RenderError::NoVolume)?;
        let bg = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("margo scene"),
            layout: &self.scene_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(volume_view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(&self.mask.view),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(&self.shell.view),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::TextureView(&self.tf_view),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: self.overlay_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 6,
                    resource: wgpu::BindingResource::TextureView(&self.occupancy.view),
                },
            ],
        });
        self.scene_bind_group = Some(bg.clone());
        Ok(bg)
    }

    fn uniforms_for(
        &self,
        frame: &Frame,
        target_format: wgpu::TextureFormat,
    ) -> Result<(ViewUniforms, ViewKind), RenderError> {
        let (_, _, geometry) = self.volume.as_ref().ok_or(RenderError::NoVolume)?;
        let (w, h) = frame.size_px();
        if w == 0 || h == 0 {
            return Err(RenderError::EmptyOutput {
                width: w,
                height: h,
            });
        }
        let max = self.device.limits().max_texture_dimension_2d;
        if w > max || h > max {
            return Err(RenderError::OutputTooLarge {
                width: w,
                height: h,
                max_dimension: max,
            });
        }
        let flags = if target_format.is_srgb() {
            gpu_types::FLAG_SRGB_TARGET
        } else {
            0
        };
        Ok(match frame {
            Frame::Mpr(v) => (v.uniforms(geometry, flags)?, ViewKind::Mpr),
            Frame::Raycast(v) => {
                let mut u = v.uniforms(geometry, flags)?;
                // Scene state the view cannot know: the brick size and the row's function.
                let e = self.brick_voxels;
                u.brick_voxels = gpu_types::vec4(e[0] as f64, e[1] as f64, e[2] as f64, 0.0);
                let row = (u.tf_range[3] as usize).min(self.tf_rows.len() - 1);
                let (lo, hi) = self.tf_rows[row].visible_hu;
                u.tf_visible_hu = gpu_types::vec4(lo, hi, 0.0, 0.0);
                (u, ViewKind::Raycast)
            }
        })
    }

    /// Uploads a view's uniforms; returns the pipeline variant that draws it (the caller makes
    /// sure that pipeline exists).
    fn write_view(
        &mut self,
        key: ViewKey,
        uniforms: &ViewUniforms,
        kind: ViewKind,
    ) -> PipelineVariant {
        let variant = PipelineVariant::of(kind, uniforms, self.overlay_uniforms.counts)
            .with_search_queue(self.search_queue);
        if !self.views.contains_key(&key) {
            let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("margo view uniforms"),
                size: gpu_types::VIEW_UNIFORMS_SIZE as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("margo view"),
                layout: &self.view_layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buffer.as_entire_binding(),
                }],
            });
            self.views.insert(
                key,
                ViewSlot {
                    buffer,
                    bind_group,
                    uniforms: *uniforms,
                    variant,
                },
            );
        }
        let slot = self.views.get_mut(&key).expect("inserted above");
        slot.uniforms = *uniforms;
        slot.variant = variant;
        self.queue
            .write_buffer(&slot.buffer, 0, bytemuck::bytes_of(uniforms));
        variant
    }

    /// Validates `frame` and uploads its uniforms for view `key`. Call outside any render pass
    /// (egui_wgpu: in `CallbackTrait::prepare`), then `paint` in the pass.
    pub fn prepare(&mut self, key: ViewKey, frame: &Frame) -> Result<(), RenderError> {
        if key == HEADLESS_KEY {
            return Err(RenderError::InvalidParameter {
                what: "view key",
                value: key.to_string(),
                reason: "u64::MAX is reserved for headless frames",
            });
        }
        let (uniforms, kind) = self.uniforms_for(frame, self.target.format)?;
        self.scene_bind_group()?;
        let variant = self.write_view(key, &uniforms, kind);
        self.ensure_pipeline(self.target, variant)
    }

    /// Draws prepared view `key` into the caller's pass, filling the pass's current viewport
    /// (egui_wgpu sets it to the callback rectangle). The viewport should have the frame's size
    /// in pixels, else the image is stretched.
    pub fn paint(&self, pass: &mut wgpu::RenderPass<'_>, key: ViewKey) -> Result<(), RenderError> {
        self.paint_with(pass, key, self.target)
    }

    /// `paint` into the rectangle `[x, y, width, height]` (framebuffer pixels) of the pass.
    pub fn paint_in_viewport(
        &self,
        pass: &mut wgpu::RenderPass<'_>,
        key: ViewKey,
        viewport_px: [f32; 4],
    ) -> Result<(), RenderError> {
        let [x, y, w, h] = viewport_px;
        if !(viewport_px.iter().all(|v| v.is_finite())
            && w > 0.0
            && h > 0.0
            && x >= 0.0
            && y >= 0.0)
        {
            return Err(RenderError::InvalidParameter {
                what: "viewport",
                value: format!("{viewport_px:?}"),
                reason: "must be finite, inside the target and not empty",
            });
        }
        pass.set_viewport(x, y, w, h, 0.0, 1.0);
        self.paint(pass, key)
    }

    fn paint_with(
        &self,
        pass: &mut wgpu::RenderPass<'_>,
        key: ViewKey,
        target: RenderTarget,
    ) -> Result<(), RenderError> {
        let slot = self
            .views
            .get(&key)
            .ok_or(RenderError::ViewNotPrepared { key })?;
        let scene = self
            .scene_bind_group
            .as_ref()
            .ok_or(RenderError::ViewNotPrepared { key })?;
        let pipeline = self
            .pipelines
            .get(&(target, slot.variant))
            .ok_or(RenderError::ViewNotPrepared { key })?;
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, scene, &[]);
        pass.set_bind_group(1, &slot.bind_group, &[]);
        pass.draw(0..3, 0..1);
        Ok(())
    }

    /// Makes the offscreen frame `width` x `height`, writable by the compute ray caster when
    /// `compute` (which must then exist).
    fn ensure_offscreen(
        &mut self,
        width: u32,
        height: u32,
        compute: bool,
    ) -> Result<(), RenderError> {
        let max = self.device.limits().max_texture_dimension_2d;
        if width > max || height > max {
            return Err(RenderError::OutputTooLarge {
                width,
                height,
                max_dimension: max,
            });
        }
        if self
            .offscreen
            .as_ref()
            .is_some_and(|o| o.fits(width, height, compute))
        {
            return Ok(());
        }
        let caster = self.compute.as_ref().filter(|_| compute);
        let off = scoped(&self.device, "allocating the offscreen frame", || {
            Offscreen::new(&self.device, width, height, caster)
        })?;
        self.offscreen = Some(off);
        Ok(())
    }

    /// Renders `frame` into the renderer's offscreen RGBA8 texture and waits for the GPU; with
    /// `read_back` the pixels are copied out. The offscreen texture is reused while the size stays.
    fn render_offscreen(
        &mut self,
        frame: &Frame,
        read_back: bool,
    ) -> Result<Option<RgbaImage>, RenderError> {
        let (width, height) = frame.size_px();
        let (uniforms, kind) = self.uniforms_for(frame, HEADLESS_FORMAT)?;
        // Rays that cannot meet the volume or an overlay draw the cleared background anyway.
        let scissor = match (kind, &self.volume) {
            (ViewKind::Raycast, Some((_, _, geometry))) => {
                screen_rect::ray_view_rect(&uniforms, geometry, &self.overlay_uniforms)
            }
            _ => None,
        };
        let compute =
            kind == ViewKind::Raycast && self.headless_raycast == HeadlessRaycast::Compute;
        self.scene_bind_group()?;
        let target = RenderTarget::color(HEADLESS_FORMAT);
        let variant = self.write_view(HEADLESS_KEY, &uniforms, kind);
        if compute {
            let device = &self.device;
            let (scene_layout, view_layout) = (&self.scene_layout, &self.view_layout);
            let slot = &mut self.compute;
            let (bricks, occupancy_bytes) = (&mut self.compute_bricks, &self.occupancy_bytes);
            scoped(device, "creating a compute pipeline", || {
                let caster = slot.get_or_insert_with(|| {
                    ComputeRaycast::new(device, scene_layout, view_layout, HEADLESS_FORMAT)
                });
                caster.ensure_pipeline(device, variant);
                if bricks.is_none() {
                    *bricks = Some(caster.bricks_bind_group(device, occupancy_bytes));
                }
            })?;
        } else {
            self.ensure_pipeline(target, variant)?;
        }
        // Keeps the frame while the size stays (a fragment-only frame is reallocated once when
        // the first compute frame of that size comes).
        self.ensure_offscreen(width, height, compute)?;
        let off = self.offscreen.as_ref().expect("allocated above");
        let device = self.device.clone();
        scoped(
            &device,
            "rendering a frame",
            || -> Result<(), RenderError> {
                let mut encoder =
                    self.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("margo headless"),
                        });
                {
                    let mut pass = off.clearing_pass(&mut encoder);
                    match scissor {
                        _ if compute => {}
                        Some([_, _, 0, _] | [_, _, _, 0]) => {}
                        Some([x, y, w, h]) => {
                            pass.set_scissor_rect(x, y, w, h);
                            self.paint_with(&mut pass, HEADLESS_KEY, target)?;
                        }
                        None => self.paint_with(&mut pass, HEADLESS_KEY, target)?,
                    }
                }
                if compute {
                    // The pass above cleared the frame; rays outside the rectangle meet nothing.
                    let rect = scissor.unwrap_or([0, 0, width, height]);
                    if rect[2] > 0 && rect[3] > 0 {
                        let not_prepared = || RenderError::ViewNotPrepared { key: HEADLESS_KEY };
                        let slot = self.views.get(&HEADLESS_KEY).ok_or_else(not_prepared)?;
                        let scene = self.scene_bind_group.as_ref().ok_or_else(not_prepared)?;
                        let caster = self.compute.as_ref().ok_or_else(not_prepared)?;
                        let output = off.compute_output().ok_or_else(not_prepared)?;
                        let bricks = self.compute_bricks.as_ref().ok_or_else(not_prepared)?;
                        caster
                            .encode(
                                &mut encoder,
                                &self.queue,
                                variant,
                                scene,
                                &slot.bind_group,
                                output,
                                bricks,
                                rect,
                            )
                            .ok_or_else(not_prepared)?;
                    }
                }
                if read_back {
                    off.encode_copy(&mut encoder);
                }
                self.queue.submit([encoder.finish()]);
                Ok(())
            },
        )??;
        if !read_back {
            wait_for_gpu(&self.device)?;
            return Ok(None);
        }
        off.read(&self.device).map(Some)
    }

    /// Renders `frame` headless and returns its pixels (RGBA8, top row first).
    pub fn render_to_rgba(&mut self, frame: &Frame) -> Result<RgbaImage, RenderError> {
        self.render_offscreen(frame, true)?
            .ok_or(RenderError::ReadBack {
                reason: "no image".into(),
            })
    }

    /// Renders `frame` headless and waits for the GPU without reading pixels back (benchmarks:
    /// what an on-screen frame costs).
    pub fn render_and_wait(&mut self, frame: &Frame) -> Result<(), RenderError> {
        self.render_offscreen(frame, false).map(|_| ())
    }
}

/// A sampled 3D texture of `format` (`bytes_per_texel` bytes each) holding `bytes`, rows and
/// slices tightly packed.
fn texture_3d_with_data(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    label: &'static str,
    size: wgpu::Extent3d,
    format: wgpu::TextureFormat,
    bytes_per_texel: u32,
    bytes: &[u8],
) -> GpuLabels {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D3,
        format,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    queue.write_texture(
        texture.as_image_copy(),
        bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(size.width * bytes_per_texel),
            rows_per_image: Some(size.height),
        },
        size,
    );
    let view = texture.create_view(&Default::default());
    GpuLabels {
        _texture: texture,
        view,
    }
}

const ONE_TEXEL: wgpu::Extent3d = wgpu::Extent3d {
    width: 1,
    height: 1,
    depth_or_array_layers: 1,
};

/// Before any volume: one brick, visible (distance 0) in every row.
const EMPTY_OCCUPANCY: [u8; 4] = [0; 4];

fn empty_occupancy(device: &wgpu::Device, queue: &wgpu::Queue) -> GpuLabels {
    let format = wgpu::TextureFormat::Rgba8Unorm;
    texture_3d_with_data(
        device,
        queue,
        "margo brick occupancy (none)",
        ONE_TEXEL,
        format,
        4,
        &EMPTY_OCCUPANCY,
    )
}

fn empty_labels(device: &wgpu::Device, queue: &wgpu::Queue, label: &'static str) -> GpuLabels {
    texture_3d_with_data(
        device,
        queue,
        label,
        ONE_TEXEL,
        wgpu::TextureFormat::R8Unorm,
        1,
        &[0],
    )
}

/// The pipeline of one variant for one colour target (fragment constants from the variant).
fn make_pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    target: RenderTarget,
    variant: PipelineVariant,
) -> wgpu::RenderPipeline {
    let constants = variant.constants();
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(variant.entry_point()),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_fullscreen"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: target.depth_format.map(|format| wgpu::DepthStencilState {
            format,
            depth_write_enabled: Some(false),
            depth_compare: Some(wgpu::CompareFunction::Always),
            stencil: Default::default(),
            bias: Default::default(),
        }),
        multisample: wgpu::MultisampleState {
            count: target.sample_count.max(1),
            ..Default::default()
        },
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some(variant.entry_point()),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                ..Default::default()
            },
            targets: &[Some(wgpu::ColorTargetState {
                format: target.format,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_ray_casting_is_the_default_only_where_the_device_has_what_it_binds() {
        assert_eq!(
            HeadlessRaycast::default_for(&wgpu::Limits::default()),
            HeadlessRaycast::Compute
        );
        let lacking = [
            ("WebGL2-class", wgpu::Limits::downlevel_webgl2_defaults()),
            (
                "no storage textures",
                wgpu::Limits {
                    max_storage_textures_per_shader_stage: 0,
                    ..Default::default()
                },
            ),
            (
                "no storage buffers",
                wgpu::Limits {
                    max_storage_buffers_per_shader_stage: 0,
                    ..Default::default()
                },
            ),
            (
                "3 bind groups",
                wgpu::Limits {
                    max_bind_groups: 3,
                    ..Default::default()
                },
            ),
        ];
        for (name, limits) in lacking {
            assert_eq!(
                HeadlessRaycast::default_for(&limits),
                HeadlessRaycast::Fragment,
                "{name}"
            );
        }
    }
}
