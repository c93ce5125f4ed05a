//! Markers at the patient's left, anterior and superior land on the correct screen side in every
//! view (MPR and 3D), for several acquisition orientations (direction matrices).

mod common;

use margo_render::{
    Frame, MprView, RayMode, RaycastView, Slab, SlabMode, TransferFunctionPreset, WindowLevel,
};
use margo_volume::nalgebra::{Matrix3, Point3, Rotation3, Unit, Vector3};
use margo_volume::{AnatomicalView, Volume, VolumeGeometry};

const N: usize = 33;
const R_MM: f64 = 10.0;

/// A cube of background with one bright ball `R_MM` from the centre in `direction` (LPS).
fn marker_volume(direction_matrix: Matrix3<f64>, marker: Vector3<f64>) -> Volume<i16> {
    let spacing = [0.9, 0.8, 1.1];
    // Put the grid's centre at the world origin whatever the direction matrix.
    let half = Vector3::new(spacing[0], spacing[1], spacing[2])
        .component_mul(&Vector3::repeat((N - 1) as f64 / 2.0));
    let origin = -(direction_matrix * half);
    let g = VolumeGeometry::new([N; 3], spacing, origin.into(), direction_matrix).unwrap();
    let target = Point3::from(marker * R_MM);
    let g2 = g.clone();
    Volume::from_fn(g, move |i, j, k| {
        if (g2.world_from_ijk([i, j, k]) - target).norm() <= 3.0 {
            1000
        } else {
            -1000
        }
    })
}

/// Centroid (x, y) of bright pixels relative to the image centre, in pixels.
fn bright_centroid(img: &margo_render::RgbaImage) -> [f64; 2] {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in 0..img.height {
        for x in 0..img.width {
            if img.pixel(x, y)[0] > 128 {
                sx += f64::from(x) + 0.5;
                sy += f64::from(y) + 0.5;
                n += 1.0;
            }
        }
    }
    assert!(n > 0.0, "marker not visible");
    [
        sx / n - f64::from(img.width) / 2.0,
        sy / n - f64::from(img.height) / 2.0,
    ]
}

fn acquisitions() -> Vec<(&'static str, Matrix3<f64>)> {
    vec![
        ("axial HFS", Matrix3::identity()),
        // Feet first: slices run inferior.
        (
            "axial FFS-like",
            Matrix3::new(-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
        ),
        // Sagittal acquisition: columns go posterior, rows inferior, slices along -x.
        (
            "sagittal",
            Matrix3::new(0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0),
        ),
        // Coronal acquisition.
        (
            "coronal",
            Matrix3::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0),
        ),
        (
            "oblique",
            *Rotation3::from_axis_angle(&Unit::new_normalize(Vector3::new(1.0, 1.0, 0.3)), 0.6)
                .matrix(),
        ),
    ]
}

/// Screen offset sign expected for a marker in each view: (x sign, y sign), 0 = on the centre line.
fn expected(view: AnatomicalView, marker: &str) -> [i32; 2] {
    match (view, marker) {
        (AnatomicalView::Axial, "left") => [1, 0],
        (AnatomicalView::Axial, "anterior") => [0, -1],
        (AnatomicalView::Axial, "superior") => [0, 0],
        (AnatomicalView::Coronal, "left") => [1, 0],
        (AnatomicalView::Coronal, "anterior") => [0, 0],
        (AnatomicalView::Coronal, "superior") => [0, -1],
        (AnatomicalView::Sagittal, "left") => [0, 0],
        (AnatomicalView::Sagittal, "anterior") => [-1, 0],
        (AnatomicalView::Sagittal, "superior") => [0, -1],
        _ => unreachable!(),
    }
}

fn check(c: [f64; 2], e: [i32; 2], what: &str) {
    // 10 mm at 0.5 mm/px = 20 px off centre; "on the centre line" = within 2 px.
    for a in 0..2 {
        match e[a] {
            0 => assert!(
                c[a].abs() < 2.0,
                "{what}: axis {a} offset {:.1} px, expected ~0",
                c[a]
            ),
            s => assert!(
                c[a] * f64::from(s) > 15.0,
                "{what}: axis {a} offset {:.1} px, expected sign {s}",
                c[a]
            ),
        }
    }
}

fn markers() -> [(&'static str, Vector3<f64>); 3] {
    [
        ("left", Vector3::x()),
        ("anterior", -Vector3::y()),
        ("superior", Vector3::z()),
    ]
}

#[test]
fn markers_show_on_the_radiological_side_in_every_mpr_view() {
    let Some(mut r) = common::renderer("markers_show_on_the_radiological_side_in_every_mpr_view")
    else {
        return;
    };
    for (acq, dir) in acquisitions() {
        for (name, m) in markers() {
            r.upload_volume(&marker_volume(dir, m)).unwrap();
            for view in AnatomicalView::ALL {
                let mut v = MprView::anatomical(view, Point3::origin(), 32.0, 64, 64);
                // A slab through the whole cube sees the marker wherever it is along the normal.
                v.slab = Some(Slab {
                    mode: SlabMode::Mip,
                    thickness_mm: 40.0,
                });
                v.window = WindowLevel::new(0.0, 200.0).unwrap();
                let img = r.render_to_rgba(&Frame::Mpr(v.clone())).unwrap();
                check(
                    bright_centroid(&img),
                    expected(view, name),
                    &format!("{acq}/{name}/{}", view.name()),
                );
                // The letters agree with where the marker went.
                let labels = v.edge_labels();
                let e = expected(view, name);
                let letter = name[..1].to_uppercase();
                if e[0] == 1 {
                    assert_eq!(labels.right, letter);
                }
                if e[0] == -1 {
                    assert_eq!(labels.left, letter);
                }
                if e[1] == -1 {
                    assert_eq!(labels.top, letter);
                }
            }
        }
    }
}

#[test]
fn markers_show_on_the_expected_side_in_3d() {
    let Some(mut r) = common::renderer("markers_show_on_the_expected_side_in_3d") else {
        return;
    };
    // (azimuth, elevation) -> expected signs per marker: like coronal, sagittal, axial.
    let cameras = [
        ((0.0, 0.0), AnatomicalView::Coronal),
        ((90.0, 0.0), AnatomicalView::Sagittal),
        ((0.0, -90.0), AnatomicalView::Axial),
    ];
    for (acq, dir) in acquisitions().into_iter().take(3) {
        for (name, m) in markers() {
            let vol = marker_volume(dir, m);
            r.upload_volume(&vol).unwrap();
            for ((az, el), like) in cameras {
                let mut v = RaycastView::new(vol.geometry(), TransferFunctionPreset::Bone, 64, 64);
                v.target_in_world = Point3::origin();
                v.azimuth_deg = az;
                v.elevation_deg = el;
                v.pixel_size_mm = 0.5;
                // Far eye: nearly orthographic, so the marker's offset is ~R_MM / 0.5 px.
                v.eye_distance_mm = Some(2000.0);
                v.mode = RayMode::Mip(WindowLevel::new(0.0, 200.0).unwrap());
                let img = r.render_to_rgba(&Frame::Raycast(v)).unwrap();
                check(
                    bright_centroid(&img),
                    expected(like, name),
                    &format!("3D {acq}/{name}/az {az} el {el}"),
                );
            }
        }
    }
}
