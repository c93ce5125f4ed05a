//! The headless frame: an RGBA8 texture that views are drawn into (by a fragment pass or the
//! compute ray caster), the buffer its pixels are copied to, and the read-back into an
//! [`RgbaImage`]. Kept while the size and the drawing path stay the same.

use crate::RenderError;
use crate::compute_raycast::ComputeRaycast;
use crate::image::RgbaImage;

/// Format of headless frames.
pub const HEADLESS_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

pub(crate) struct Offscreen {
    width: u32,
    height: u32,
    padded_bytes_per_row: u32,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    readback: wgpu::Buffer,
    /// The compute ray caster's output binding of `texture`, when allocated for that path.
    compute_output: Option<wgpu::BindGroup>,
}

impl Offscreen {
    /// A `width` x `height` frame, writable by `compute` when given (call inside an error scope;
    /// the caller checks the size against the device's limits).
    pub(crate) fn new(
        device: &wgpu::Device,
        width: u32,
        height: u32,
        compute: Option<&ComputeRaycast>,
    ) -> Self {
        let padded_bytes_per_row = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("margo offscreen"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: HEADLESS_FORMAT,
            // Storage only where used: WebGL2-class devices have no storage textures.
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::COPY_SRC
                | if compute.is_some() {
                    wgpu::TextureUsages::STORAGE_BINDING
                } else {
                    wgpu::TextureUsages::empty()
                },
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        let compute_output = compute.map(|c| c.output_bind_group(device, &view));
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("margo readback"),
            size: u64::from(padded_bytes_per_row) * u64::from(height),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            width,
            height,
            padded_bytes_per_row,
            texture,
            view,
            readback,
            compute_output,
        }
    }

    /// Whether this frame serves a `width` x `height` frame, drawn by the compute ray caster
    /// when `compute`. A frame allocated for compute also takes fragment passes, so MPR and
    /// compute-cast 3D frames of one size alternate without reallocating.
    pub(crate) fn fits(&self, width: u32, height: u32, compute: bool) -> bool {
        self.width == width && self.height == height && (self.compute_output.is_some() || !compute)
    }

    pub(crate) fn compute_output(&self) -> Option<&wgpu::BindGroup> {
        self.compute_output.as_ref()
    }

    /// A pass over the whole frame that first clears it to black.
    pub(crate) fn clearing_pass<'e>(
        &self,
        encoder: &'e mut wgpu::CommandEncoder,
    ) -> wgpu::RenderPass<'e> {
        encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("margo headless"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &self.view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        })
    }

    /// Records the copy of the frame into the read-back buffer.
    pub(crate) fn encode_copy(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &self.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &self.readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(self.padded_bytes_per_row),
                    rows_per_image: Some(self.height),
                },
            },
            wgpu::Extent3d {
                width: self.width,
                height: self.height,
                depth_or_array_layers: 1,
            },
        );
    }

    /// Waits for the submitted work, then returns the pixels copied by `encode_copy` (top row
    /// first, rows unpadded).
    pub(crate) fn read(&self, device: &wgpu::Device) -> Result<RgbaImage, RenderError> {
        let slice = self.readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        wait_for_gpu(device)?;
        let read_back = |reason: String| RenderError::ReadBack { reason };
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(read_back(e.to_string())),
            Err(_) => {
                return Err(read_back(
                    "the map callback never ran (device lost?)".into(),
                ));
            }
        }
        let mut image = RgbaImage::new(self.width, self.height);
        {
            let data = slice
                .get_mapped_range()
                .map_err(|e| read_back(e.to_string()))?;
            let row = self.width as usize * 4;
            for y in 0..self.height as usize {
                let src = y * self.padded_bytes_per_row as usize;
                image.pixels[y * row..(y + 1) * row].copy_from_slice(&data[src..src + row]);
            }
        }
        self.readback.unmap();
        Ok(image)
    }
}

/// Blocks until the device has finished the submitted work.
pub(crate) fn wait_for_gpu(device: &wgpu::Device) -> Result<(), RenderError> {
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map(|_| ())
        .map_err(|e| RenderError::ReadBack {
            reason: e.to_string(),
        })
}
