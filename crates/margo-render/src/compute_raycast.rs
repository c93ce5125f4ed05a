//! Headless ray casting in a compute pass: `cs_raycast` in raycast.wgsl runs the same per-pixel
//! function as the fragment pipeline (`fs_raycast`) and stores its colour straight into the
//! offscreen frame.
//!
//! Why a second path: GPUs built for compute run fragment shaders on a few graphics-capable units
//! only (an NVIDIA H100 or H200 has two such TPCs among 66), so a full-screen ray-casting
//! fragment pass uses a small part of the chip there, while a compute pass uses all of it. On
//! desktop GPUs both paths cost about the same. The app draws MPR into egui's pass with fragment
//! pipelines; its 3D view and the CLI read frames back, so they can take either path
//! ([`crate::renderer::HeadlessRaycast`]).
//!
//! Workgroups take the tile rows in an interleaved order (`tile_row` in raycast.wgsl): lavapipe
//! gives each thread one contiguous run of workgroups, and with rows in frame order the thread
//! that got the cheap band of the frame idled for ~20% of every DVR frame.

use std::collections::HashMap;

use crate::variant::PipelineVariant;

/// Pixels a side of the tile one workgroup covers (`TILE` in raycast.wgsl, 64 invocations).
pub(crate) const TILE_PX: u32 = 8;
/// Bind groups of the compute pipelines: scene, view, output frame, bricks.
pub(crate) const BIND_GROUPS: u32 = 4;

/// Compute pipelines of the ray caster, one per variant, and what binds the output frame and
/// the brick occupancy buffer.
pub(crate) struct ComputeRaycast {
    /// raycast.wgsl with bricks_buffer.wgsl (`shaders::RAYCAST_COMPUTE`).
    module: wgpu::ShaderModule,
    output_layout: wgpu::BindGroupLayout,
    /// Group 3: the brick occupancy as a storage buffer.
    bricks_layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    pipelines: HashMap<PipelineVariant, wgpu::ComputePipeline>,
    /// `dispatch_rect` of the shader: the rectangle's corner and size in frame pixels.
    rect_buffer: wgpu::Buffer,
}

impl ComputeRaycast {
    /// Layouts for groups 0 (scene) and 1 (view) are the render pipelines' own; group 2 holds the
    /// output frame and the dispatch rectangle.
    pub(crate) fn new(
        device: &wgpu::Device,
        scene_layout: &wgpu::BindGroupLayout,
        view_layout: &wgpu::BindGroupLayout,
        format: wgpu::TextureFormat,
    ) -> Self {
        let output_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("margo compute ray casting output"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::StorageTexture {
                        access: wgpu::StorageTextureAccess::WriteOnly,
                        format,
                        view_dimension: wgpu::TextureViewDimension::D2,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let bricks_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("margo compute ray casting bricks"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: true },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("margo compute ray casting"),
            bind_group_layouts: &[
                Some(scene_layout),
                Some(view_layout),
                Some(&output_layout),
                Some(&bricks_layout),
            ],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("raycast.wgsl (compute)"),
            source: wgpu::ShaderSource::Wgsl(crate::shaders::RAYCAST_COMPUTE.into()),
        });
        let rect_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("margo dispatch rectangle"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            module,
            output_layout,
            bricks_layout,
            pipeline_layout,
            pipelines: HashMap::new(),
            rect_buffer,
        }
    }

    /// The bind group that writes into `frame` (a view of the offscreen texture).
    pub(crate) fn output_bind_group(
        &self,
        device: &wgpu::Device,
        frame: &wgpu::TextureView,
    ) -> wgpu::BindGroup {
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("margo compute ray casting output"),
            layout: &self.output_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(frame),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: self.rect_buffer.as_entire_binding(),
                },
            ],
        })
    }

    /// A bind group of the brick occupancy (`bricks_buffer.wgsl`'s `brick_distances`) in a new
    /// storage buffer, which the bind group keeps alive: the same bytes as the renderer's
    /// occupancy texture.
    pub(crate) fn bricks_bind_group(
        &self,
        device: &wgpu::Device,
        occupancy_bytes: &[u8],
    ) -> wgpu::BindGroup {
        let buffer = wgpu::util::DeviceExt::create_buffer_init(
            device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("margo brick occupancy (buffer)"),
                contents: occupancy_bytes,
                usage: wgpu::BufferUsages::STORAGE,
            },
        );
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("margo compute ray casting bricks"),
            layout: &self.bricks_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: buffer.as_entire_binding(),
            }],
        })
    }

    /// Creates the compute pipeline of `variant` unless it exists (call inside an error scope).
    pub(crate) fn ensure_pipeline(&mut self, device: &wgpu::Device, variant: PipelineVariant) {
        if self.pipelines.contains_key(&variant) {
            return;
        }
        let constants = variant.constants();
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("cs_raycast"),
            layout: Some(&self.pipeline_layout),
            module: &self.module,
            entry_point: Some("cs_raycast"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                ..Default::default()
            },
            cache: None,
        });
        self.pipelines.insert(variant, pipeline);
    }

    /// Records the ray casting of the frame rectangle `rect_px` = [x, y, width, height] (not
    /// empty) with the pipeline of `variant` (made by `ensure_pipeline`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        queue: &wgpu::Queue,
        variant: PipelineVariant,
        scene: &wgpu::BindGroup,
        view: &wgpu::BindGroup,
        output: &wgpu::BindGroup,
        bricks: &wgpu::BindGroup,
        rect_px: [u32; 4],
    ) -> Option<()> {
        let pipeline = self.pipelines.get(&variant)?;
        queue.write_buffer(&self.rect_buffer, 0, bytemuck::cast_slice(&rect_px));
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("margo compute ray casting"),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, scene, &[]);
        pass.set_bind_group(1, view, &[]);
        pass.set_bind_group(2, output, &[]);
        pass.set_bind_group(3, bricks, &[]);
        pass.dispatch_workgroups(
            rect_px[2].div_ceil(TILE_PX),
            rect_px[3].div_ceil(TILE_PX),
            1,
        );
        Some(())
    }
}
