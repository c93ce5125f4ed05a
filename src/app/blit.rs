//! Draws a CPU-made view image (the cached reslice) with a minimal wgpu pipeline inside
//! egui's render pass: one opaque textured quad, no blending, no per-fragment colour math.
//! On a software rasteriser (lavapipe) egui's general pipeline (alpha blending, dithering,
//! vertex colours) costs ~6 ms per 640x400 view a frame; this is the layer that covers most
//! of the window (BENCHMARKS.md, desktop app frame time).

use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui::{self, ColorImage, Rect};
use eframe::egui_wgpu::{self, wgpu};

const SHADER: &str = r"
struct Out { @builtin(position) pos: vec4<f32>, @location(0) uv: vec2<f32> };

@vertex
fn vs(@builtin(vertex_index) i: u32) -> Out {
    // Two triangles covering the viewport (egui sets it to the view's rect).
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let uv = corners[i];
    var out: Out;
    out.pos = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@group(0) @binding(0) var image: texture_2d<f32>;
@group(0) @binding(1) var image_sampler: sampler;

@fragment
fn fs(in: Out) -> @location(0) vec4<f32> {
    return textureSample(image, image_sampler, in.uv);
}
";

/// Adds the callback drawing `image` (opaque, premultiplied RGBA) over `rect`; `generation`
/// changes whenever the image does, so it is uploaded only then.
pub fn add(
    painter: &egui::Painter,
    rect: Rect,
    slot: usize,
    image: Arc<ColorImage>,
    generation: u64,
    target_format: wgpu::TextureFormat,
) {
    painter.add(egui_wgpu::Callback::new_paint_callback(
        rect,
        BlitCallback {
            slot,
            image,
            generation,
            target_format,
        },
    ));
}

struct BlitCallback {
    slot: usize,
    image: Arc<ColorImage>,
    generation: u64,
    target_format: wgpu::TextureFormat,
}

struct SlotTexture {
    generation: u64,
    size: [usize; 2],
    texture: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

/// Lives in egui_wgpu's callback resources.
struct BlitResources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    slots: HashMap<usize, SlotTexture>,
}

impl BlitResources {
    fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("margo-blit"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("margo-blit"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("margo-blit"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("margo-blit"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        // As egui's TextureOptions::LINEAR: identical to nearest when the image is drawn 1:1.
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("margo-blit"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        Self {
            pipeline,
            layout,
            sampler,
            slots: HashMap::new(),
        }
    }

    fn upload(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, c: &BlitCallback) {
        let size = c.image.size;
        if size[0] == 0 || size[1] == 0 {
            return;
        }
        let stale = self
            .slots
            .get(&c.slot)
            .is_none_or(|s| s.generation != c.generation);
        if !stale {
            return;
        }
        let extent = wgpu::Extent3d {
            width: size[0] as u32,
            height: size[1] as u32,
            depth_or_array_layers: 1,
        };
        if self.slots.get(&c.slot).is_none_or(|s| s.size != size) {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("margo-blit"),
                size: extent,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("margo-blit"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::Sampler(&self.sampler),
                    },
                ],
            });
            self.slots.insert(
                c.slot,
                SlotTexture {
                    generation: u64::MAX,
                    size,
                    texture,
                    bind_group,
                },
            );
        }
        let Some(slot) = self.slots.get_mut(&c.slot) else {
            return;
        };
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &slot.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            c.image.as_raw(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * size[0] as u32),
                rows_per_image: Some(size[1] as u32),
            },
            extent,
        );
        slot.generation = c.generation;
    }
}

impl egui_wgpu::CallbackTrait for BlitCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if resources.get::<BlitResources>().is_none() {
            resources.insert(BlitResources::new(device, self.target_format));
        }
        if let Some(r) = resources.get_mut::<BlitResources>() {
            r.upload(device, queue, self);
        }
        Vec::new()
    }

    fn paint(
        &self,
        info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(r) = resources.get::<BlitResources>() else {
            return;
        };
        let Some(slot) = r.slots.get(&self.slot) else {
            return;
        };
        // egui rounds the viewport to whole pixels; the exact (fractional) rect keeps the
        // image registered with the overlays drawn in points, as egui's own image mesh does.
        // The scissor (egui's clip rect) still limits the pixels written.
        let ppp = info.pixels_per_point;
        let [w_px, h_px] = info.screen_size_px.map(|v| v as f32);
        let min_x = (info.viewport.min.x * ppp).clamp(0.0, w_px);
        let min_y = (info.viewport.min.y * ppp).clamp(0.0, h_px);
        let max_x = (info.viewport.max.x * ppp).clamp(min_x, w_px);
        let max_y = (info.viewport.max.y * ppp).clamp(min_y, h_px);
        if max_x - min_x < 1.0 || max_y - min_y < 1.0 {
            return;
        }
        pass.set_viewport(min_x, min_y, max_x - min_x, max_y - min_y, 0.0, 1.0);
        pass.set_pipeline(&r.pipeline);
        pass.set_bind_group(0, &slot.bind_group, &[]);
        pass.draw(0..6, 0..1);
    }
}
