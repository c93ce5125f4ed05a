//! Rendered-frame regression goldens of LIDC-IDRI-0001 (real chest CT, 25 mm nodule in the
//! posterior left lung at LPS (56.2, 86.2, -115.6)): the three planes through the nodule, an
//! oblique, a 20 mm MIP slab, DVR lung and bone, and overlays in 2D and 3D. Frames are built with
//! `margo_render::ViewSpec`, exactly like `margo render`, labels included. Tolerance: see
//! tests/golden/support.rs (the one place it is defined).

#[path = "golden/support.rs"]
mod support;

use margo_render::overlay::grow_mask;
use margo_render::{
    Crosshair, EllipsoidOverlay, Marker, MaskStyle, PointOverlay, Preset, RenderMode, Renderer,
    SegmentOverlay, Shapes, TransferFunctionPreset, ViewName, ViewSpec, WindowPreset,
};
use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::{Mask, Volume};
use support::{Rgb, check_golden};

const NODULE: [f64; 3] = [56.2, 86.2, -115.6];
const SIZE: u32 = 256;

fn load() -> Option<margo_dicom::LoadedSeries> {
    let dir = margo_volume::testdata::shared_path("ct/lidc-idri-0001", "render_golden")?;
    Some(margo_dicom::open_ct(&dir).expect("LIDC-IDRI-0001 loads"))
}

fn render(r: &mut Renderer, volume: &Volume<i16>, spec: &ViewSpec) -> Rgb {
    let frame = spec.frame(volume.geometry()).unwrap();
    let mut image = r.render_to_rgba(&frame).unwrap();
    spec.annotate(&frame, &mut image);
    Rgb::from_rgba(image.width, image.height, &image.pixels)
}

fn mpr(view: ViewName) -> ViewSpec {
    let mut s = ViewSpec::new(view, SIZE, SIZE);
    s.at = Some(Point3::from(NODULE));
    s.fov_mm = Some(340.0);
    s.preset = Some(Preset::Window(WindowPreset::Lung));
    s
}

fn dvr(preset: TransferFunctionPreset) -> ViewSpec {
    let mut s = ViewSpec::new(ViewName::Coronal, SIZE, SIZE);
    s.mode = RenderMode::Dvr;
    s.preset = Some(Preset::Dvr(preset));
    s
}

/// Nodule mask: voxels above -400 HU within 14 mm of the nodule centre (a crude stand-in for the
/// plan's segmentation; enough to exercise fill, outline and the 3D surface).
fn nodule_mask(volume: &Volume<i16>) -> Mask {
    let g = volume.geometry().clone();
    let c = Point3::from(NODULE);
    let g2 = g.clone();
    Mask::from_fn(g, move |i, j, k| {
        (g2.world_from_ijk([i, j, k]) - c).norm() <= 14.0
            && volume.get(i, j, k).is_some_and(|v| v > -400)
    })
}

fn plan_like_shapes() -> Shapes {
    let c = Point3::from(NODULE);
    // A probe from the posterior-lateral chest wall to just past the nodule centre.
    let entry = c + Vector3::new(45.0, 60.0, 10.0);
    let dir = (c - entry).normalize();
    let tip = c + dir * 8.0;
    // Ablation zone: union of two overlapping ellipsoids along the shaft.
    let axis = dir * 22.0;
    let side_a = dir.cross(&Vector3::z()).normalize() * 16.0;
    let side_b = dir.cross(&side_a).normalize() * 16.0;
    let zone = |centre: Point3<f64>| EllipsoidOverlay {
        center_in_world: centre,
        semi_axes_mm: [axis, side_a, side_b],
        group: 1,
        color: [1.0, 0.55, 0.0, 0.35],
        fill_alpha: 0.12,
    };
    Shapes {
        ellipsoids: vec![zone(tip - dir * 12.0), zone(tip - dir * 2.0)],
        segments: vec![SegmentOverlay {
            a_in_world: entry,
            b_in_world: tip,
            color: [0.2, 1.0, 0.2, 1.0],
            radius_mm: 1.0,
            marker_a: Marker::Ring,
            marker_b: Marker::Disc,
            marker_radius_mm: 2.0,
        }],
        points: vec![PointOverlay {
            position_in_world: entry,
            radius_mm: 2.5,
            color: [0.3, 0.6, 1.0, 1.0],
        }],
        crosshair: Some(Crosshair {
            position_in_world: c,
            color: [0.0, 0.8, 1.0, 0.8],
            gap_px: 12.0,
        }),
    }
}

#[test]
fn lidc_frames_match_their_goldens() {
    let Some(loaded) = load() else { return };
    let Some(mut r) = support::renderer("lidc_frames_match_their_goldens") else {
        return;
    };
    let volume = &loaded.volume;
    r.upload_volume(volume).unwrap();

    let mut frames: Vec<(&str, ViewSpec)> = vec![
        ("lidc_axial_nodule", mpr(ViewName::Axial)),
        ("lidc_coronal_nodule", mpr(ViewName::Coronal)),
        ("lidc_sagittal_nodule", mpr(ViewName::Sagittal)),
    ];
    let mut oblique = mpr(ViewName::Oblique);
    oblique.normal = Some(Vector3::new(0.5, 0.3, 1.0));
    oblique.up = Some(Vector3::new(0.0, -1.0, 0.2));
    oblique.fov_mm = Some(200.0);
    frames.push(("lidc_oblique_nodule", oblique));
    let mut mip = mpr(ViewName::Axial);
    mip.mode = RenderMode::Mip;
    mip.slab_mm = Some(20.0);
    frames.push(("lidc_axial_mip20", mip));
    frames.push(("lidc_dvr_lung", dvr(TransferFunctionPreset::LungAirways)));
    frames.push(("lidc_dvr_bone", dvr(TransferFunctionPreset::Bone)));
    for (name, spec) in &frames {
        check_golden(name, &render(&mut r, volume, spec));
    }

    // Overlays: nodule mask (fill + outline), 5 mm shell, a probe with an ablation-zone union,
    // an entry point and the crosshair; in 2D (mediastinal window, zoomed) and in 3D.
    let mask = nodule_mask(volume);
    r.set_mask(Some((
        &mask,
        MaskStyle {
            color: [1.0, 0.2, 0.2, 1.0],
            fill_alpha: 0.3,
        },
    )))
    .unwrap();
    let shell = grow_mask(&mask, 5.0).unwrap();
    r.set_shell(Some((&shell, [1.0, 1.0, 0.3, 1.0]))).unwrap();
    r.set_shapes(&plan_like_shapes()).unwrap();
    let mut ov = mpr(ViewName::Axial);
    ov.fov_mm = Some(120.0);
    ov.preset = Some(Preset::Window(WindowPreset::Mediastinum));
    check_golden("lidc_overlays_axial", &render(&mut r, volume, &ov));
    let mut ov3 = dvr(TransferFunctionPreset::LungAirways);
    ov3.at = Some(Point3::from(NODULE));
    ov3.fov_mm = Some(160.0);
    ov3.azimuth_deg = Some(150.0);
    ov3.elevation_deg = Some(10.0);
    check_golden("lidc_overlays_dvr", &render(&mut r, volume, &ov3));
}

#[test]
fn golden_comparison_catches_a_mirrored_frame() {
    // The tolerance must not hide an orientation error: a left-right flip of the axial golden
    // differs in far more pixels than allowed.
    let path = support::golden_dir().join("lidc_axial_nodule.png");
    if !path.exists() {
        eprintln!("golden_comparison_catches_a_mirrored_frame: skipped: no golden yet");
        return;
    }
    let g = support::read_png(&path);
    let mut flipped = Rgb {
        width: g.width,
        height: g.height,
        pixels: g.pixels.clone(),
    };
    for y in 0..g.height as usize {
        for x in 0..g.width as usize {
            let s = (y * g.width as usize + (g.width as usize - 1 - x)) * 3;
            let d = (y * g.width as usize + x) * 3;
            flipped.pixels[d..d + 3].copy_from_slice(&g.pixels[s..s + 3]);
        }
    }
    let (differing, _) = support::compare(&flipped, &g);
    let allowed =
        (support::TOLERANCE.max_differing_fraction * (g.width * g.height) as f64) as usize;
    assert!(differing > 10 * allowed, "{differing} differing pixels");
    let (same, _) = support::compare(&g, &g);
    assert_eq!(same, 0);
}
