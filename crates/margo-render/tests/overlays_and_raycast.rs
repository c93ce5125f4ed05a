//! Overlays land where their geometry says (analytic checks, not self-comparison) and the ray
//! caster behaves: shading, clipping, step coarsening, determinism, 3D overlay surfaces.

mod common;

use margo_render::overlay::grow_mask;
use margo_render::{
    ClipPlane, Crosshair, EllipsoidOverlay, Frame, Marker, MaskStyle, MprView, PointOverlay,
    RaycastView, Renderer, RgbaImage, SegmentOverlay, Shapes, TransferFunctionPreset, WindowLevel,
};
use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{AnatomicalView, Mask, Volume, VolumeGeometry};

const RED: [f32; 4] = [1.0, 0.0, 0.0, 1.0];
const GREEN: [f32; 4] = [0.0, 1.0, 0.0, 1.0];
const BLUE: [f32; 4] = [0.0, 0.0, 1.0, 1.0];

fn air_volume() -> Volume<i16> {
    let g =
        VolumeGeometry::axis_aligned([48, 48, 40], [1.0, 1.0, 1.0], [-23.5, -23.5, -19.5]).unwrap();
    Volume::filled(g, -1000)
}

fn black_axial(size: u32, pixel_mm: f64, at: Point3<f64>) -> MprView {
    let mut v = MprView::anatomical(
        AnatomicalView::Axial,
        at,
        pixel_mm * f64::from(size),
        size,
        size,
    );
    v.window = WindowLevel::new(0.0, 200.0).unwrap();
    v.line_width_px = 1.0;
    v
}

fn render(r: &mut Renderer, v: &MprView) -> RgbaImage {
    r.render_to_rgba(&Frame::Mpr(v.clone())).unwrap()
}

/// Strongest colour channel among pixels within `radius` px of `(x, y)`.
fn near(img: &RgbaImage, x: f64, y: f64, channel: usize) -> u8 {
    let mut best = 0;
    for py in (y - 1.5) as i64..=(y + 1.5) as i64 {
        for px in (x - 1.5) as i64..=(x + 1.5) as i64 {
            if px >= 0 && py >= 0 && (px as u32) < img.width && (py as u32) < img.height {
                best = best.max(img.pixel(px as u32, py as u32)[channel]);
            }
        }
    }
    best
}

#[test]
fn mpr_overlays_follow_their_geometry() {
    let Some(mut r) = common::renderer("mpr_overlays_follow_their_geometry") else {
        return;
    };
    r.upload_volume(&air_volume()).unwrap();
    let c = Point3::new(0.0, 0.0, 0.0);
    // Sphere r = 10 mm; the axial plane 6 mm above its centre cuts a circle of 8 mm.
    r.set_shapes(&Shapes {
        ellipsoids: vec![EllipsoidOverlay::sphere(c, 10.0, 0, RED)],
        ..Default::default()
    })
    .unwrap();
    let v = black_axial(64, 0.5, c + Vector3::new(0.0, 0.0, 6.0));
    let img = render(&mut r, &v);
    for (dx, dy) in [
        (16.0, 0.0),
        (-16.0, 0.0),
        (0.0, 16.0),
        (0.0, -16.0),
        (11.3, 11.3),
    ] {
        assert!(
            near(&img, 32.0 + dx, 32.0 + dy, 0) > 100,
            "outline missing at ({dx}, {dy})"
        );
    }
    for (dx, dy) in [(0.0, 0.0), (8.0, 0.0), (24.0, 0.0), (0.0, 25.0)] {
        assert_eq!(
            near(&img, 32.0 + dx, 32.0 + dy, 0),
            0,
            "stray outline at ({dx}, {dy})"
        );
    }

    // A union of two spheres draws only its outer boundary; separate groups draw both circles.
    let a = EllipsoidOverlay::sphere(c + Vector3::new(-6.0, 0.0, 0.0), 10.0, 7, RED);
    let b = EllipsoidOverlay::sphere(c + Vector3::new(6.0, 0.0, 0.0), 10.0, 7, RED);
    r.set_shapes(&Shapes {
        ellipsoids: vec![a, b],
        ..Default::default()
    })
    .unwrap();
    let v = black_axial(64, 0.5, c);
    let img = render(&mut r, &v);
    // a's right edge at x = +4 mm lies inside b: no line there. Outer edges at +-16 mm are drawn.
    assert_eq!(near(&img, 32.0 + 8.0, 32.0, 0), 0);
    assert!(near(&img, 32.0 + 32.0 - 1.0, 32.0, 0) > 100 || near(&img, 63.0, 32.0, 0) > 100);
    assert!(near(&img, 32.0 - 6.0 * 2.0, 32.0 - 20.0, 0) > 100);
    r.set_shapes(&Shapes {
        ellipsoids: vec![a, EllipsoidOverlay { group: 8, ..b }],
        ..Default::default()
    })
    .unwrap();
    let img = render(&mut r, &v);
    assert!(near(&img, 32.0 + 8.0, 32.0, 0) > 100);

    // Segment with a filled tip, a point and a crosshair.
    let seg = SegmentOverlay {
        a_in_world: c + Vector3::new(-10.0, -5.0, 0.0),
        b_in_world: c + Vector3::new(10.0, 5.0, 0.0),
        color: GREEN,
        radius_mm: 1.0,
        marker_a: Marker::None,
        marker_b: Marker::Disc,
        marker_radius_mm: 2.0,
    };
    let shapes = Shapes {
        segments: vec![seg],
        points: vec![PointOverlay {
            position_in_world: c + Vector3::new(-8.0, 8.0, 0.0),
            radius_mm: 1.5,
            color: BLUE,
        }],
        crosshair: Some(Crosshair {
            position_in_world: c + Vector3::new(0.0, -10.0, 0.0),
            color: RED,
            gap_px: 4.0,
        }),
        ..Default::default()
    };
    r.set_shapes(&shapes).unwrap();
    let img = render(&mut r, &v);
    assert!(
        near(&img, 32.0 + 10.0, 32.0 + 5.0, 1) > 100,
        "segment midpoint"
    );
    assert!(img.pixel(32 + 20, 32 + 10)[1] > 200, "filled tip");
    assert_eq!(
        near(&img, 32.0 - 10.0, 32.0 + 10.0, 1),
        0,
        "nothing off the segment"
    );
    assert!(near(&img, 32.0 - 16.0, 32.0 + 16.0, 2) > 100, "point");
    assert!(
        near(&img, 32.0 + 20.0, 32.0 - 20.0, 0) > 100,
        "crosshair horizontal arm"
    );
    assert!(
        near(&img, 32.0, 32.0 - 20.0 + 12.0, 0) > 100,
        "crosshair vertical arm"
    );
    assert_eq!(img.pixel(32, 32 - 20)[0], 0, "crosshair gap");

    // Label mask: fill inside, full-colour outline at the edge; shell outline 3 mm further out.
    r.set_shapes(&Shapes::default()).unwrap();
    let g = air_volume().geometry().clone();
    let mask = Mask::from_fn(g.clone(), |i, j, k| {
        (20..28).contains(&i) && (20..28).contains(&j) && (16..24).contains(&k)
    });
    r.set_mask(Some((
        &mask,
        MaskStyle {
            color: [1.0, 1.0, 0.0, 1.0],
            fill_alpha: 0.25,
        },
    )))
    .unwrap();
    let shell = grow_mask(&mask, 3.0).unwrap();
    r.set_shell(Some((&shell, [0.0, 1.0, 1.0, 1.0]))).unwrap();
    // 1 mm pixels aligned with voxels: voxel i at x = i - 23.5.
    let v = MprView {
        pixel_size_mm: 1.0,
        ..black_axial(48, 1.0, Point3::new(0.0, 0.0, 0.5))
    };
    let img = render(&mut r, &v);
    assert_eq!(img.pixel(23, 23)[0], 64, "fill is 25 % yellow over black");
    assert_eq!(img.pixel(20, 23), [255, 255, 0, 255], "mask outline");
    assert_eq!(img.pixel(29, 23), [0, 0, 0, 255], "between mask and shell");
    assert_eq!(
        img.pixel(30, 23),
        [0, 255, 255, 255],
        "shell outline 3 mm out, right"
    );
    assert_eq!(
        img.pixel(17, 23),
        [0, 255, 255, 255],
        "shell outline 3 mm out"
    );
    assert_eq!(img.pixel(16, 23), [0, 0, 0, 255], "outside the shell");
    // Overlays off for this view.
    let img = render(
        &mut r,
        &MprView {
            show_overlays: false,
            ..v.clone()
        },
    );
    assert_eq!(img.pixel(20, 23), [0, 0, 0, 255]);
    // Re-sending the same mask with another style restyles it; a different mask replaces it.
    r.set_shell(None).unwrap();
    r.set_mask(Some((
        &mask,
        MaskStyle {
            color: [0.0, 0.0, 1.0, 1.0],
            fill_alpha: 0.5,
        },
    )))
    .unwrap();
    // 50 % of 255 is 127.5, a rounding tie: llvmpipe writes 128, NVIDIA 127.
    let half_blue = 127..=128;
    assert!(half_blue.contains(&render(&mut r, &v).pixel(23, 23)[2]));
    let moved = Mask::from_fn(g.clone(), |i, j, k| {
        (30..36).contains(&i) && (20..28).contains(&j) && (16..24).contains(&k)
    });
    r.set_mask(Some((
        &moved,
        MaskStyle {
            color: [0.0, 0.0, 1.0, 1.0],
            fill_alpha: 0.5,
        },
    )))
    .unwrap();
    let img = render(&mut r, &v);
    assert_eq!(img.pixel(23, 23), [0, 0, 0, 255]);
    assert!(half_blue.contains(&img.pixel(32, 23)[2]));
    r.set_mask(None).unwrap();
    assert_eq!(render(&mut r, &v).pixel(20, 23), [0, 0, 0, 255]);
}

fn bone_ball() -> Volume<i16> {
    let g =
        VolumeGeometry::axis_aligned([40, 40, 40], [1.0, 1.0, 1.0], [-19.5, -19.5, -19.5]).unwrap();
    let g2 = g.clone();
    Volume::from_fn(g, move |i, j, k| {
        if g2.world_from_ijk([i, j, k]).coords.norm() <= 10.0 {
            1000
        } else {
            -1000
        }
    })
}

fn lum(p: [u8; 4]) -> u32 {
    u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])
}

/// A 48x48 bone-preset view of `bone_ball` centred on the ball, 1 mm pixels.
fn ball_view(vol: &margo_volume::Volume<i16>) -> RaycastView {
    let mut v = RaycastView::new(vol.geometry(), TransferFunctionPreset::Bone, 48, 48);
    v.target_in_world = Point3::origin();
    v.pixel_size_mm = 1.0;
    v
}

#[test]
fn ray_casting_shades_clips_and_is_deterministic() {
    let Some(mut r) = common::renderer("ray_casting_shades_clips_and_is_deterministic") else {
        return;
    };
    let vol = bone_ball();
    r.upload_volume(&vol).unwrap();
    let v = ball_view(&vol);
    let frame = |v: &RaycastView| Frame::Raycast(v.clone());
    let img = r.render_to_rgba(&frame(&v)).unwrap();
    assert!(
        lum(img.pixel(24, 24)) > 300,
        "ball centre lit: {:?}",
        img.pixel(24, 24)
    );
    assert_eq!(img.pixel(2, 2), [0, 0, 0, 255], "background");
    // Shading: the rim (surface seen edge-on) is darker than the centre.
    assert!(lum(img.pixel(24 + 9, 24)) < lum(img.pixel(24, 24)));
    assert_eq!(r.render_to_rgba(&frame(&v)).unwrap(), img, "deterministic");
    // Coarser steps still find the ball.
    let coarse = RaycastView {
        step_scale: 4.0,
        ..v.clone()
    };
    assert!(lum(r.render_to_rgba(&frame(&coarse)).unwrap().pixel(24, 24)) > 300);
    // Jittered start positions still find it too.
    let jitter = RaycastView {
        deterministic: false,
        frame_seed: 3,
        ..v.clone()
    };
    assert!(lum(r.render_to_rgba(&frame(&jitter)).unwrap().pixel(24, 24)) > 300);
    // Clip plane removing the patient's left (+x): from the front, the image's right goes dark.
    let clipped = RaycastView {
        clip_plane: Some(ClipPlane {
            point_in_world: Point3::new(2.0, 0.0, 0.0),
            normal: Vector3::x(),
        }),
        ..v.clone()
    };
    let img_c = r.render_to_rgba(&frame(&clipped)).unwrap();
    assert!(lum(img_c.pixel(24 - 5, 24)) > 300);
    assert_eq!(img_c.pixel(24 + 5, 24), [0, 0, 0, 255]);
    // Clip box keeping only the superior part: the lower half of the image goes dark.
    let boxed = RaycastView {
        clip_box: Some(margo_volume::Aabb {
            min: Point3::new(-30.0, -30.0, 2.0),
            max: Point3::new(30.0, 30.0, 30.0),
        }),
        ..v.clone()
    };
    let img_b = r.render_to_rgba(&frame(&boxed)).unwrap();
    assert!(lum(img_b.pixel(24, 24 - 5)) > 300);
    assert_eq!(img_b.pixel(24, 24 + 5), [0, 0, 0, 255]);

    // 3D overlays: a point in front of the ball (anterior, towards the camera) hides its centre.
    r.set_shapes(&Shapes {
        points: vec![PointOverlay {
            position_in_world: Point3::new(0.0, -15.0, 0.0),
            radius_mm: 3.0,
            color: GREEN,
        }],
        ..Default::default()
    })
    .unwrap();
    let img_p = r.render_to_rgba(&frame(&v)).unwrap();
    let px = img_p.pixel(24, 24);
    assert!(px[1] > 150 && px[0] < 60, "point in front: {px:?}");
    // Same point behind the ball (posterior) is hidden by the opaque bone.
    r.set_shapes(&Shapes {
        points: vec![PointOverlay {
            position_in_world: Point3::new(0.0, 15.0, 0.0),
            radius_mm: 3.0,
            color: GREEN,
        }],
        ..Default::default()
    })
    .unwrap();
    let px = r.render_to_rgba(&frame(&v)).unwrap().pixel(24, 24);
    assert!(
        i32::from(px[1]) <= i32::from(px[0]) + 10,
        "point behind the bone must not show: {px:?}"
    );
}

#[test]
fn a_custom_transfer_function_is_what_the_ray_caster_shows() {
    let Some(mut r) = common::renderer("a_custom_transfer_function_is_what_the_ray_caster_shows")
    else {
        return;
    };
    let vol = bone_ball();
    r.upload_volume(&vol).unwrap();
    let mut v = ball_view(&vol);
    v.mode = margo_render::RayMode::Composite(margo_render::TfChoice::Custom);
    let tf = |lo: f64, hi: f64| margo_render::TransferFunction {
        points: vec![
            margo_render::raycast::TfPoint {
                hu: lo - 1.0,
                rgb: [1.0, 0.8, 0.2],
                alpha: 0.0,
            },
            margo_render::raycast::TfPoint {
                hu: lo,
                rgb: [1.0, 0.8, 0.2],
                alpha: 0.8,
            },
            margo_render::raycast::TfPoint {
                hu: hi,
                rgb: [1.0, 0.8, 0.2],
                alpha: 0.8,
            },
            margo_render::raycast::TfPoint {
                hu: hi + 1.0,
                rgb: [1.0, 0.8, 0.2],
                alpha: 0.0,
            },
        ],
    };
    // Opaque only around the ball's 1000 HU: the ball shows (the custom row's default is the
    // lung preset, which shows nothing at 1000 HU).
    r.set_custom_transfer_function(&tf(900.0, 1100.0)).unwrap();
    let lit = r.render_to_rgba(&Frame::Raycast(v.clone())).unwrap();
    assert!(lum(lit.pixel(24, 24)) > 300, "{:?}", lit.pixel(24, 24));
    assert_eq!(lit.pixel(2, 2), [0, 0, 0, 255]);
    // Opaque only above anything in the volume: nothing shows.
    r.set_custom_transfer_function(&tf(2000.0, 2500.0)).unwrap();
    let dark = r.render_to_rgba(&Frame::Raycast(v)).unwrap();
    assert_eq!(dark.pixel(24, 24), [0, 0, 0, 255]);
}
