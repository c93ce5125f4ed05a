//! The app's path: a renderer on a device it did not create, painting into the caller's render
//! pass (sRGB target, viewport offset inside a larger framebuffer) gives the same pixels as the
//! headless frame, and leaves the rest of the framebuffer alone.

mod common;

use margo_render::context::open_headless_device;
use margo_render::{Frame, MprView, RenderTarget, Renderer, WindowLevel};
use margo_volume::{AnatomicalView, Volume, VolumeGeometry};

const FB: (u32, u32) = (96, 64);

fn read_texture(device: &wgpu::Device, queue: &wgpu::Queue, texture: &wgpu::Texture) -> Vec<u8> {
    let bpr = (FB.0 * 4).div_ceil(256) * 256;
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: u64::from(bpr * FB.1),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&Default::default());
    enc.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(bpr),
                rows_per_image: Some(FB.1),
            },
        },
        wgpu::Extent3d {
            width: FB.0,
            height: FB.1,
            depth_or_array_layers: 1,
        },
    );
    queue.submit([enc.finish()]);
    buffer
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let data = buffer.slice(..).get_mapped_range().unwrap();
    (0..FB.1 as usize)
        .flat_map(|y| data[y * bpr as usize..][..FB.0 as usize * 4].to_vec())
        .collect()
}

#[test]
fn painting_into_a_caller_pass_matches_the_headless_frame() {
    let (device, queue, _) = match open_headless_device() {
        Ok(d) => d,
        Err(e) => {
            let name = "painting_into_a_caller_pass_matches_the_headless_frame";
            common::skip_without_adapter::<()>(name, e);
            return;
        }
    };
    let format = wgpu::TextureFormat::Rgba8UnormSrgb;
    let mut r = Renderer::new(&device, &queue, RenderTarget::color(format)).unwrap();
    let g = VolumeGeometry::axis_aligned([30, 20, 10], [1.0, 1.0, 2.0], [0.0; 3]).unwrap();
    r.upload_volume(&Volume::from_fn(g.clone(), |i, j, k| {
        (i as i16 - 15) * 60 + (j as i16) * 7 + k as i16
    }))
    .unwrap();
    let mut view = MprView::anatomical(AnatomicalView::Axial, g.center_in_world(), 36.0, 40, 30);
    view.window = WindowLevel::new(0.0, 2000.0).unwrap();
    let frame = Frame::Mpr(view);
    let expected = r.render_to_rgba(&frame).unwrap();
    r.prepare(7, &frame).unwrap();

    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size: wgpu::Extent3d {
            width: FB.0,
            height: FB.1,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let target = texture.create_view(&Default::default());
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: None,
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &target,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLUE),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        // egui hands out RenderPass<'static>.
        let mut pass = pass.forget_lifetime();
        r.paint_in_viewport(&mut pass, 7, [20.0, 10.0, 40.0, 30.0])
            .unwrap();
    }
    queue.submit([enc.finish()]);
    let fb = read_texture(&device, &queue, &texture);
    for y in 0..FB.1 {
        for x in 0..FB.0 {
            let px = &fb[((y * FB.0 + x) * 4) as usize..][..4];
            if (20..60).contains(&x) && (10..40).contains(&y) {
                let e = expected.pixel(x - 20, y - 10);
                for c in 0..3 {
                    assert!(px[c].abs_diff(e[c]) <= 1, "({x}, {y}): {px:?} vs {e:?}");
                }
            } else {
                assert_eq!(px, [0, 0, 255, 255], "outside the viewport at ({x}, {y})");
            }
        }
    }
    // The frame has real content (not all one grey).
    assert!(
        expected.pixels.chunks(4).any(|p| p[0] > 100)
            && expected.pixels.chunks(4).any(|p| p[0] < 50)
    );
}
