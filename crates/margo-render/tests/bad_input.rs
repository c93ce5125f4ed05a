//! Bad input to the renderer API gives an error, never a panic or a lost device: after every
//! error a valid frame still renders.
#![allow(clippy::vec_init_then_push)]

mod common;

use margo_render::overlay::grow_mask;
use margo_render::{
    EllipsoidOverlay, Frame, HeadlessRaycast, MprView, RaycastView, RenderError, Shapes, Slab,
    SlabMode, TransferFunctionPreset, WindowLevel,
};
use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{AnatomicalView, Mask, Volume, VolumeGeometry};

fn small_volume() -> Volume<i16> {
    let g = VolumeGeometry::axis_aligned([16, 16, 8], [1.0, 1.0, 2.0], [0.0; 3]).unwrap();
    Volume::from_fn(g, |i, j, k| (i * 10 + j * 5 + k) as i16)
}

#[test]
fn bad_views_and_volumes_are_errors_and_the_device_survives() {
    let Some(mut r) = common::renderer("bad_views_and_volumes_are_errors_and_the_device_survives")
    else {
        return;
    };
    let vol = small_volume();
    let c = vol.geometry().center_in_world();
    let good = MprView::anatomical(AnatomicalView::Axial, c, 16.0, 16, 16);

    // Nothing uploaded yet.
    assert!(matches!(
        r.render_to_rgba(&Frame::Mpr(good.clone())),
        Err(RenderError::NoVolume)
    ));
    r.upload_volume(&vol).unwrap();
    let ok = |r: &mut margo_render::Renderer| r.render_to_rgba(&Frame::Mpr(good.clone())).unwrap();
    let reference = ok(&mut r);

    let mut bad: Vec<(&str, MprView)> = Vec::new();
    bad.push((
        "zero width",
        MprView {
            width_px: 0,
            ..good.clone()
        },
    ));
    bad.push((
        "zero height",
        MprView {
            height_px: 0,
            ..good.clone()
        },
    ));
    bad.push((
        "huge output",
        MprView {
            width_px: 1 << 20,
            ..good.clone()
        },
    ));
    bad.push((
        "plane outside",
        MprView {
            center_in_world: c + Vector3::new(0.0, 0.0, 500.0),
            ..good.clone()
        },
    ));
    bad.push((
        "parallel axes",
        MprView {
            down_in_world: good.right_in_world * 2.0,
            ..good.clone()
        },
    ));
    bad.push((
        "zero axis",
        MprView {
            right_in_world: Vector3::zeros(),
            ..good.clone()
        },
    ));
    bad.push((
        "NaN centre",
        MprView {
            center_in_world: Point3::new(f64::NAN, 0.0, 0.0),
            ..good.clone()
        },
    ));
    bad.push((
        "zero pixel",
        MprView {
            pixel_size_mm: 0.0,
            ..good.clone()
        },
    ));
    bad.push((
        "NaN window",
        MprView {
            window: WindowLevel {
                center_hu: 0.0,
                width_hu: f64::NAN,
            },
            ..good.clone()
        },
    ));
    bad.push((
        "negative slab",
        MprView {
            slab: Some(Slab {
                mode: SlabMode::Mip,
                thickness_mm: -3.0,
            }),
            ..good.clone()
        },
    ));
    bad.push((
        "zero slab step",
        MprView {
            slab: Some(Slab {
                mode: SlabMode::Mean,
                thickness_mm: 3.0,
            }),
            slab_step_mm: Some(0.0),
            ..good.clone()
        },
    ));
    for (what, v) in bad {
        let e = r.render_to_rgba(&Frame::Mpr(v.clone()));
        assert!(e.is_err(), "{what} rendered");
        assert!(r.prepare(1, &Frame::Mpr(v)).is_err(), "{what} prepared");
        eprintln!("{what}: {}", e.unwrap_err());
        assert_eq!(ok(&mut r), reference, "after {what}");
    }
    assert!(MprView::oblique(c, Vector3::zeros(), Vector3::y(), 10.0, 8, 8).is_err());
    assert!(MprView::oblique(c, Vector3::z(), Vector3::z() * 3.0, 10.0, 8, 8).is_err());
    assert!(
        MprView::oblique(
            c,
            Vector3::new(f64::INFINITY, 0.0, 0.0),
            Vector3::y(),
            10.0,
            8,
            8
        )
        .is_err()
    );
    assert!(WindowLevel::new(0.0, 0.0).is_err());

    let mut rc = RaycastView::new(vol.geometry(), TransferFunctionPreset::Bone, 16, 16);
    rc.azimuth_deg = f64::NAN;
    assert!(r.render_to_rgba(&Frame::Raycast(rc.clone())).is_err());
    rc.azimuth_deg = 0.0;
    rc.width_px = 0;
    assert!(r.render_to_rgba(&Frame::Raycast(rc.clone())).is_err());
    rc.width_px = 16;
    rc.step_mm = Some(-1.0);
    assert!(r.render_to_rgba(&Frame::Raycast(rc.clone())).is_err());
    rc.step_mm = None;
    // A frame wider than the device's 2D texture limit, on both ray-casting paths.
    let max_2d = r.device().limits().max_texture_dimension_2d;
    for path in [HeadlessRaycast::Compute, HeadlessRaycast::Fragment] {
        r.set_headless_raycast(path);
        let wide = RaycastView {
            width_px: max_2d + 1,
            height_px: 1,
            ..rc.clone()
        };
        let e = r.render_to_rgba(&Frame::Raycast(wide));
        assert!(
            matches!(e, Err(RenderError::OutputTooLarge { .. })),
            "{path:?}: {e:?}"
        );
        assert!(r.render_to_rgba(&Frame::Raycast(rc.clone())).is_ok());
    }

    // Too many or degenerate overlays.
    let sphere = EllipsoidOverlay::sphere(c, 3.0, 0, [1.0, 0.0, 0.0, 1.0]);
    let shapes = Shapes {
        ellipsoids: vec![sphere; 17],
        ..Default::default()
    };
    assert!(matches!(
        r.set_shapes(&shapes),
        Err(RenderError::TooManyOverlays { .. })
    ));
    let flat = EllipsoidOverlay {
        semi_axes_mm: [Vector3::x(), Vector3::x(), Vector3::z()],
        ..sphere
    };
    assert!(
        r.set_shapes(&Shapes {
            ellipsoids: vec![flat],
            ..Default::default()
        })
        .is_err()
    );
    assert!(grow_mask(&Mask::empty(vol.geometry().clone()), -1.0).is_err());
    assert_eq!(ok(&mut r), reference, "after bad overlays");

    // A volume wider than the device's 3D texture limit.
    let max = r.device().limits().max_texture_dimension_3d as usize;
    let wide = VolumeGeometry::axis_aligned([max + 1, 1, 1], [1.0; 3], [0.0; 3]).unwrap();
    let e = r.upload_volume(&Volume::filled(wide, 0i16));
    assert!(
        matches!(e, Err(RenderError::VolumeTooLarge { .. })),
        "{e:?}"
    );
    // The previous volume is still there.
    assert_eq!(ok(&mut r), reference, "after a too-large volume");

    // Painting a view that was never prepared.
    let mut enc = r.device().create_command_encoder(&Default::default());
    let tex = r.device().create_texture(&margo_render_test_target());
    let view = tex.create_view(&Default::default());
    {
        let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: None,
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
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
        });
        assert!(matches!(
            r.paint(&mut pass, 42),
            Err(RenderError::ViewNotPrepared { key: 42 })
        ));
    }
    r.queue().submit([enc.finish()]);
    assert_eq!(ok(&mut r), reference, "at the end");
}

fn margo_render_test_target() -> wgpu::TextureDescriptor<'static> {
    wgpu::TextureDescriptor {
        label: None,
        size: wgpu::Extent3d {
            width: 8,
            height: 8,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        view_formats: &[],
    }
}
