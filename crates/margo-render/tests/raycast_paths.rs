//! Headless ray casting has two paths, a compute pass and a fragment pass (the one `paint` uses
//! in the app). They run the same per-pixel WGSL function, so every frame must come out the
//! same both ways: presets, MIP, clipping, jitter, coarse steps, overlays and the label mask,
//! on odd frame sizes (partial compute tiles) and with the volume covering only part of the
//! frame (the rectangle that rays can meet anything in). Each frame must also be the same with
//! the search compositing each sample as soon as it finds it (a queue of one) as with the
//! queue of eight the renderer uses.

mod common;

use margo_render::{
    ClipPlane, EllipsoidOverlay, Frame, HeadlessRaycast, Marker, MaskStyle, MprView, PointOverlay,
    RayMode, RaycastView, Renderer, RgbaImage, SegmentOverlay, Shapes, TfChoice,
    TransferFunctionPreset, WindowLevel,
};
use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{Aabb, AnatomicalView, Mask, Volume, VolumeGeometry};

/// A chest-like block: noisy lung (-850 HU), a soft-tissue nodule, a bone rod and a vessel-like
/// tube, on anisotropic voxels.
fn scene_volume() -> Volume<i16> {
    let g = VolumeGeometry::axis_aligned([40, 36, 30], [1.0, 1.2, 1.5], [-19.5, -21.0, -21.75])
        .unwrap();
    let g2 = g.clone();
    Volume::from_fn(g, move |i, j, k| {
        let p = g2.world_from_ijk([i, j, k]);
        let noise = (common::noise(i, j, k) * 120.0) as i16;
        if (p - Point3::new(4.0, 2.0, 0.0)).norm() < 6.0 {
            30 + noise / 4
        } else if (p.x + 12.0).abs() < 3.0 && (p.y - 8.0).abs() < 3.0 {
            700
        } else if (p.y + 6.0).hypot(p.z - 5.0) < 2.5 {
            250
        } else {
            -850 + noise
        }
    })
}

/// The pixels whose colour differs by more than one level in some channel, as
/// (x, y, pixel of `a`, pixel of `b`).
fn pixels_apart(a: &RgbaImage, b: &RgbaImage) -> Vec<(u32, u32, [u8; 4], [u8; 4])> {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let mut off = Vec::new();
    for y in 0..a.height {
        for x in 0..a.width {
            let (pa, pb) = (a.pixel(x, y), b.pixel(x, y));
            if (0..4).any(|c| pa[c].abs_diff(pb[c]) > 1) {
                off.push((x, y, pa, pb));
            }
        }
    }
    off
}

fn render_both(r: &mut Renderer, v: &RaycastView) -> (RgbaImage, RgbaImage) {
    r.set_headless_raycast(HeadlessRaycast::Compute);
    let compute = r.render_to_rgba(&Frame::Raycast(v.clone())).unwrap();
    r.set_headless_raycast(HeadlessRaycast::Fragment);
    let fragment = r.render_to_rgba(&Frame::Raycast(v.clone())).unwrap();
    (compute, fragment)
}

fn lit_pixels(img: &RgbaImage) -> usize {
    img.pixels
        .chunks(4)
        .filter(|p| p[..3].iter().any(|&c| c > 8))
        .count()
}

#[test]
fn compute_and_fragment_ray_casting_give_the_same_frames() {
    let test = "compute_and_fragment_ray_casting_give_the_same_frames";
    let Some(mut r) = common::renderer(test) else {
        return;
    };
    let volume = scene_volume();
    r.upload_volume(&volume).unwrap();
    let geometry = volume.geometry();
    // 61 x 47: neither side a multiple of the compute tile.
    let base = {
        let mut v = RaycastView::new(geometry, TransferFunctionPreset::LungAirways, 61, 47);
        v.azimuth_deg = 30.0;
        v.elevation_deg = 20.0;
        v
    };
    let mut views = vec![("lung".to_string(), base.clone())];
    for preset in [
        TransferFunctionPreset::Bone,
        TransferFunctionPreset::VesselsSoftTissue,
    ] {
        views.push((
            format!("{preset:?}"),
            RaycastView {
                mode: RayMode::Composite(TfChoice::Preset(preset)),
                ..base.clone()
            },
        ));
    }
    views.extend([
        (
            "mip".into(),
            RaycastView {
                mode: RayMode::Mip(WindowLevel::new(40.0, 400.0).unwrap()),
                ..base.clone()
            },
        ),
        (
            "interactive step, jittered".into(),
            RaycastView {
                step_scale: 4.0,
                deterministic: false,
                frame_seed: 7,
                ..base.clone()
            },
        ),
        (
            "clip plane and box".into(),
            RaycastView {
                clip_plane: Some(ClipPlane {
                    point_in_world: Point3::new(2.0, 0.0, 0.0),
                    normal: Vector3::x(),
                }),
                clip_box: Some(Aabb {
                    min: Point3::new(-30.0, -30.0, -5.0),
                    max: Point3::new(30.0, 30.0, 30.0),
                }),
                ..base.clone()
            },
        ),
        (
            // 26 rows of compute tiles, not a multiple of the 16 classes in which the compute
            // pass takes them (`tile_row` in raycast.wgsl): every pixel is still drawn once.
            "tall".into(),
            RaycastView {
                width_px: 37,
                height_px: 203,
                ..base.clone()
            },
        ),
        (
            // The volume fills only part of this frame: the compute pass covers a rectangle.
            "zoomed out".into(),
            RaycastView {
                pixel_size_mm: base.pixel_size_mm * 3.0,
                ..base.clone()
            },
        ),
    ]);

    let check = |r: &mut Renderer, name: &str, v: &RaycastView| {
        let (compute, fragment) = render_both(r, v);
        // The search queues samples before compositing them (for SIMD lanes' sake); the queue
        // must not change a single pixel against compositing each sample as soon as it is found.
        r.set_headless_raycast(HeadlessRaycast::Compute);
        r.set_search_queue(1).unwrap();
        let one_at_a_time = r.render_to_rgba(&Frame::Raycast(v.clone())).unwrap();
        r.set_search_queue(8).unwrap();
        assert!(
            one_at_a_time == compute,
            "{name}: {} pixels differ between search queues of 1 and 8",
            one_at_a_time
                .pixels
                .chunks(4)
                .zip(compute.pixels.chunks(4))
                .filter(|(a, b)| a != b)
                .count()
        );
        assert!(
            lit_pixels(&fragment) > 50,
            "{name}: the frame shows something"
        );
        let off = pixels_apart(&compute, &fragment);
        // Within one level, except where a ray grazes an analytic surface: there a last-bit
        // difference between a driver's compute and fragment compilations (FMA contraction)
        // can decide hit or miss. NVIDIA H200: 1 pixel of 2867, at a probe shaft's edge;
        // lavapipe compiles both alike (0 pixels).
        assert!(
            off.len() <= 3,
            "{name}: {} pixels differ by more than one level, e.g. (x, y, compute, fragment) {:?}",
            off.len(),
            &off[..off.len().min(6)]
        );
    };
    for (name, v) in &views {
        check(&mut r, name, v);
    }

    // An MPR frame of the same size before and after compute frames: the offscreen frame they
    // share is cleared and drawn the same way.
    let mpr = Frame::Mpr(MprView::anatomical(
        AnatomicalView::Axial,
        geometry.center_in_world(),
        60.0,
        base.width_px,
        base.height_px,
    ));
    r.set_headless_raycast(HeadlessRaycast::Fragment);
    let mpr_before = r.render_to_rgba(&mpr).unwrap();
    assert!(
        lit_pixels(&mpr_before) > 50,
        "the MPR frame shows the volume"
    );
    r.set_headless_raycast(HeadlessRaycast::Compute);
    r.render_to_rgba(&Frame::Raycast(base.clone())).unwrap();
    assert_eq!(
        r.render_to_rgba(&mpr).unwrap(),
        mpr_before,
        "MPR after a compute frame"
    );

    // Overlays: analytic surfaces and the label mask, in front of and inside the volume.
    let nodule = Mask::from_fn(geometry.clone(), |i, j, k| {
        let p = geometry.world_from_ijk([i, j, k]);
        (p - Point3::new(4.0, 2.0, 0.0)).norm() < 6.0
    });
    r.set_mask(Some((
        &nodule,
        MaskStyle {
            color: [1.0, 1.0, 0.0, 1.0],
            fill_alpha: 0.3,
        },
    )))
    .unwrap();
    r.set_shapes(&Shapes {
        ellipsoids: vec![EllipsoidOverlay {
            center_in_world: Point3::new(4.0, 2.0, 0.0),
            semi_axes_mm: [
                Vector3::new(9.0, 0.0, 0.0),
                Vector3::new(0.0, 7.0, 0.0),
                Vector3::new(0.0, 0.0, 8.0),
            ],
            group: 0,
            color: [1.0, 0.5, 0.0, 0.35],
            fill_alpha: 0.2,
        }],
        segments: vec![SegmentOverlay {
            a_in_world: Point3::new(-40.0, -30.0, 10.0),
            b_in_world: Point3::new(4.0, 2.0, 0.0),
            color: [0.2, 0.6, 1.0, 1.0],
            radius_mm: 1.0,
            marker_a: Marker::Ring,
            marker_b: Marker::Disc,
            marker_radius_mm: 2.0,
        }],
        points: vec![PointOverlay {
            position_in_world: Point3::new(-8.0, -25.0, 0.0),
            radius_mm: 2.0,
            color: [0.0, 1.0, 0.0, 1.0],
        }],
        ..Default::default()
    })
    .unwrap();
    for (name, v) in &views {
        check(&mut r, &format!("{name} with overlays"), v);
    }
}
