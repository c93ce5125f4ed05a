//! The phantom against its own analytic truth and against anatomy: nodule volumes measured on
//! the voxel grid, HU statistics per tissue, orientation (LPS), determinism.

use std::sync::OnceLock;

use margo_phantom::{
    Lobe, NoduleKind, NoduleSpec, Phantom, PhantomConfig, Tissue, generate, voxel_sha256,
};
use margo_volume::nalgebra::{Point3, Vector3};

/// A noise-free phantom at a clinical-like spacing, smaller than the default for test speed.
fn noise_free() -> &'static Phantom {
    static P: OnceLock<Phantom> = OnceLock::new();
    P.get_or_init(|| {
        let config = PhantomConfig {
            seed: 7,
            dims: [400, 400, 100],
            spacing_mm: [0.85, 0.85, 2.5],
            centre_lps_mm: [0.0, 8.0, 20.0],
            noise_sd_hu: 0.0,
            ..PhantomConfig::default()
        };
        generate(&config).expect("generate noise-free phantom")
    })
}

fn noisy() -> &'static Phantom {
    static P: OnceLock<Phantom> = OnceLock::new();
    P.get_or_init(|| {
        let config = PhantomConfig {
            seed: 3,
            dims: [256, 256, 110],
            spacing_mm: [1.4, 1.4, 2.5],
            centre_lps_mm: [0.0, 8.0, 20.0],
            ..PhantomConfig::default()
        };
        generate(&config).expect("generate noisy phantom")
    })
}

fn world(p: &Phantom, ijk: [usize; 3]) -> Point3<f64> {
    p.volume.geometry().world_from_ijk(ijk)
}

/// Voxel indices within `radius_mm` of `centre`.
fn voxels_near(p: &Phantom, centre: &Point3<f64>, radius_mm: f64) -> Vec<[usize; 3]> {
    let g = p.volume.geometry();
    let c = g.index_from_world(centre);
    let sp = g.spacing_mm();
    let dims = g.dims();
    let mut out = Vec::new();
    let lo = |a: usize| ((c[a] - radius_mm / sp[a]).floor().max(0.0)) as usize;
    let hi = |a: usize| ((c[a] + radius_mm / sp[a]).ceil().min(dims[a] as f64 - 1.0)) as usize;
    for k in lo(2)..=hi(2) {
        for j in lo(1)..=hi(1) {
            for i in lo(0)..=hi(0) {
                if (world(p, [i, j, k]) - centre).norm() <= radius_mm {
                    out.push([i, j, k]);
                }
            }
        }
    }
    out
}

fn hu(p: &Phantom, ijk: [usize; 3]) -> f64 {
    p.volume.get(ijk[0], ijk[1], ijk[2]).expect("inside") as f64
}

#[test]
fn isolated_nodule_volumes_match_analytic_truth() {
    let p = noise_free();
    let hu_table = p.truth.config.hu;
    let lung = hu_table.lung as f64;
    let sp = p.volume.geometry().spacing_mm();
    let voxel_mm3 = p.volume.geometry().voxel_volume_mm3();
    let mut checked = 0;
    for (n, shape) in p.truth.nodules.iter().zip(&p.truth.nodule_shapes) {
        if !n.kind.is_isolated() {
            continue;
        }
        let centre = Point3::from(n.centre_lps_mm);
        // Trees keep 3 mm clear of isolated nodules, so this shell holds only lung and nodule.
        let roi = voxels_near(p, &centre, shape.bounding_radius_mm() + 2.5);
        let truth_mm3 = n.volume_ml * 1000.0;
        // (1) Partial-volume fraction: with linear mixing, the sum of fractions is the volume.
        // Part-solid nodules mix two levels, so use the lesion's outer (ground-glass) contrast
        // only for ground glass and solid ones.
        let object = match n.kind {
            NoduleKind::GroundGlass => hu_table.nodule_ground_glass as f64,
            NoduleKind::PartSolid => f64::NAN,
            _ => hu_table.nodule_solid as f64,
        };
        let surface_mm2 = 4.0 * std::f64::consts::PI * (n.diameter_mm / 2.0).powi(2);
        if object.is_finite() {
            let fraction_mm3: f64 = roi
                .iter()
                .map(|&v| ((hu(p, v) - lung) / (object - lung)).clamp(0.0, 1.0))
                .sum::<f64>()
                * voxel_mm3;
            // Supersampling 4^3 in nodule boxes: per-voxel fraction error <= 1/128 on average
            // over the boundary band, plus HU rounding (0.5 HU of ~900).
            let boundary_voxels = surface_mm2 * (sp.norm()) / voxel_mm3;
            let tol = (boundary_voxels * voxel_mm3 / 64.0).max(0.01 * truth_mm3);
            assert!(
                (fraction_mm3 - truth_mm3).abs() <= tol,
                "{:?}: fraction volume {fraction_mm3:.1} mm3 vs truth {truth_mm3:.1} (tol {tol:.1})",
                n.kind
            );
        }
        // (2) Half-way threshold count, as a planner would segment: error bounded by the
        // partial-volume band (a quarter voxel thickness over the surface is generous).
        let (low, high) = match n.kind {
            NoduleKind::GroundGlass | NoduleKind::PartSolid => {
                (lung, hu_table.nodule_ground_glass as f64)
            }
            _ => (lung, hu_table.nodule_solid as f64),
        };
        let threshold = 0.5 * (low + high);
        let count = roi.iter().filter(|&&v| hu(p, v) > threshold).count();
        let threshold_mm3 = count as f64 * voxel_mm3;
        let band_tol = 0.25 * surface_mm2 * (sp[0] + sp[1] + sp[2]) / 3.0;
        assert!(
            (threshold_mm3 - truth_mm3).abs() <= band_tol,
            "{:?}: threshold volume {threshold_mm3:.1} vs {truth_mm3:.1} (tol {band_tol:.1})",
            n.kind
        );
        if n.kind == NoduleKind::PartSolid {
            let solid_threshold =
                0.5 * (hu_table.nodule_ground_glass + hu_table.nodule_solid) as f64;
            let solid =
                roi.iter().filter(|&&v| hu(p, v) > solid_threshold).count() as f64 * voxel_mm3;
            let solid_truth = n.solid_volume_ml * 1000.0;
            let core_surface = std::f64::consts::PI * n.solid_core_diameter_mm.unwrap().powi(2);
            let tol = 0.25 * core_surface * (sp[0] + sp[1] + sp[2]) / 3.0;
            assert!(
                (solid - solid_truth).abs() <= tol,
                "solid core {solid:.1} vs {solid_truth:.1}"
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 5,
        "expected the five isolated kinds, checked {checked}"
    );
}

#[test]
fn nodule_masks_match_truth_volumes() {
    let p = noise_free();
    let sp = p.volume.geometry().spacing_mm();
    for (index, n) in p.truth.nodules.iter().enumerate() {
        let mask = p.nodule_mask(index).expect("nodule in grid");
        let truth_mm3 = n.volume_ml * 1000.0;
        let surface_mm2 = std::f64::consts::PI * n.max_diameter_mm.powi(2);
        let tol = 0.25 * surface_mm2 * (sp[0] + sp[1] + sp[2]) / 3.0;
        assert!(
            (mask.volume_mm3() - truth_mm3).abs() <= tol,
            "{:?}: mask {:.1} mm3 vs truth {truth_mm3:.1}",
            n.kind,
            mask.volume_mm3()
        );
        // The mask sits where the nodule is in the phantom's own grid.
        let (lo, hi) = mask.bounding_box().expect("non-empty");
        let centre_index = [0, 1, 2].map(|a| (lo[a] + hi[a]) as f64 / 2.0);
        let centre = mask
            .geometry()
            .world_from_index(&Point3::from(centre_index));
        assert!((centre - Point3::from(n.centre_lps_mm)).norm() < n.max_diameter_mm / 2.0);
    }
    assert!(p.nodule_mask(99).is_none());
}

#[test]
fn juxtapleural_and_juxtavascular_nodules_touch_their_structures() {
    let p = noise_free();
    let thorax = &p.scene.thorax;
    for (n, shape) in p.truth.nodules.iter().zip(&p.truth.nodule_shapes) {
        let c = Point3::from(n.centre_lps_mm);
        let r = n.diameter_mm / 2.0;
        match n.kind {
            NoduleKind::Juxtapleural => {
                // The centre sits 0.8 r inside the costal pleura: the cavity boundary cuts the
                // sphere, so part of it lies in the chest wall.
                let outward =
                    Vector3::new(c.x, c.y - thorax.cavity.centre_xy_mm[1], 0.0).normalize();
                let beyond = c + outward * (0.95 * r);
                assert!(
                    thorax.cavity_sdf(&beyond) > 0.0,
                    "nodule does not reach the pleura"
                );
                assert!(
                    thorax.cavity_sdf(&c) < 0.0,
                    "nodule centre is not in the lung"
                );
                assert!(shape.contains(&beyond));
            }
            NoduleKind::Juxtavascular => {
                let touching = p.truth.vessels.iter().flat_map(|t| &t.segments).any(|s| {
                    let cap = s.capsule();
                    cap.sdf(&c, 0.0) < r && cap.max_radius_mm() >= 1.0
                });
                assert!(
                    touching,
                    "no vessel of radius >= 1 mm touches the juxtavascular nodule"
                );
            }
            _ => {}
        }
        assert_eq!(
            p.scene.thorax.lobe(&c),
            n.lobe,
            "{:?} not in its lobe",
            n.kind
        );
    }
}

#[test]
fn tissue_hu_statistics_match_configuration() {
    let p = noisy();
    let table = p.truth.config.hu;
    let sd = p.truth.config.noise_sd_hu as f64;
    // Configured values sit in published ranges for contrast-enhanced chest CT.
    let ranges: [(&str, f32, f32, f32); 8] = [
        ("lung", table.lung, -920.0, -700.0),
        ("fat", table.fat, -150.0, -60.0),
        ("muscle", table.muscle, 30.0, 70.0),
        ("mediastinal fat", table.mediastinal_fat, -150.0, -60.0),
        ("blood pool", table.blood_pool, 100.0, 350.0),
        ("liver", table.liver, 50.0, 130.0),
        ("cortical bone", table.cortical_bone, 500.0, 1900.0),
        ("ground glass", table.nodule_ground_glass, -750.0, -300.0),
    ];
    for (name, v, lo, hi) in ranges {
        assert!((lo..=hi).contains(&v), "{name} HU {v} outside {lo}..{hi}");
    }
    let g = p.volume.geometry();
    let dims = g.dims();
    let half_diag = 0.5 * g.spacing_mm().norm();
    for tissue in [
        Tissue::Lung,
        Tissue::Fat,
        Tissue::Muscle,
        Tissue::MediastinalFat,
        Tissue::BloodPool,
        Tissue::Liver,
        Tissue::CancellousBone,
    ] {
        let mut values = Vec::new();
        for k in (0..dims[2]).step_by(3) {
            for j in (0..dims[1]).step_by(2) {
                for i in (0..dims[0]).step_by(2) {
                    let w = world(p, [i, j, k]);
                    let (t, margin) = p.scene.sample(&w);
                    // A uniform voxel (no partial volume); noise is added independently of tissue.
                    if t == tissue && margin > half_diag {
                        values.push(hu(p, [i, j, k]));
                    }
                }
            }
        }
        assert!(
            values.len() > 200,
            "{tissue:?}: only {} voxels",
            values.len()
        );
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let expected = tissue.hu(&table) as f64;
        assert!(
            (mean - expected).abs() < 1.5,
            "{tissue:?}: mean {mean:.2} vs {expected}"
        );
        assert!(
            (var.sqrt() - sd).abs() < 0.12 * sd,
            "{tissue:?}: sd {:.2} vs configured {sd}",
            var.sqrt()
        );
    }
}

#[test]
fn orientation_is_lps_heart_left_spine_posterior_apex_superior() {
    let p = noisy();
    let g = p.volume.geometry();
    let dims = g.dims();
    // Heart level: the contrast-filled blood pool (150..260 HU) lies mostly at +x (patient left).
    let heart_centre = Point3::from(p.truth.anatomy.heart.centre_lps_mm);
    let k = g
        .rounded_index_from_world(&heart_centre)
        .expect("heart in volume")[2];
    let (mut left, mut right) = (0usize, 0usize);
    for j in 0..dims[1] {
        for i in 0..dims[0] {
            let v = hu(p, [i, j, k]);
            if (150.0..260.0).contains(&v) {
                if world(p, [i, j, k]).x > 0.0 {
                    left += 1;
                } else {
                    right += 1;
                }
            }
        }
    }
    assert!(
        left > 3 * right,
        "blood pool voxels: left {left}, right {right}"
    );
    // Spine: bone (> 300 HU) near the midline lies posterior (+y) of the body centre.
    let (mut posterior, mut anterior) = (0usize, 0usize);
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let w = world(p, [i, j, k]);
                if w.x.abs() < 10.0 && hu(p, [i, j, k]) > 300.0 {
                    if w.y > 8.0 {
                        posterior += 1;
                    } else {
                        anterior += 1;
                    }
                }
            }
        }
    }
    assert!(
        posterior > 3 * anterior,
        "midline bone: posterior {posterior}, anterior {anterior}"
    );
    // Superior is +z: lung (-950..-700 HU) fills the slab just below the apex, and the upper
    // abdomen (liver 60..120 HU, patient right = -x) the lowest slab.
    let count = |k: usize, f: &dyn Fn(f64, &Point3<f64>) -> bool| {
        let mut c = 0;
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                if f(hu(p, [i, j, k]), &world(p, [i, j, k])) {
                    c += 1;
                }
            }
        }
        c
    };
    let is_lung = |v: f64, _: &Point3<f64>| (-950.0..-700.0).contains(&v);
    let k_top = g
        .rounded_index_from_world(&Point3::new(0.0, 8.0, 130.0))
        .unwrap()[2];
    let k_bottom = 0;
    assert!(count(k_top, &is_lung) > 5 * count(k_bottom, &is_lung) + 100);
    // Below the diaphragm the liver (patient right, -x) is brighter than spleen and stomach.
    let mean_soft = |k: usize, right: bool| {
        let (mut sum, mut n) = (0.0, 0usize);
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let w = world(p, [i, j, k]);
                let v = hu(p, [i, j, k]);
                let side = if right { -w.x } else { w.x };
                if (40.0..100.0).contains(&side) && w.y.abs() < 40.0 && (20.0..160.0).contains(&v) {
                    sum += v;
                    n += 1;
                }
            }
        }
        sum / n.max(1) as f64
    };
    let (right_mean, left_mean) = (mean_soft(k_bottom, true), mean_soft(k_bottom, false));
    assert!(
        right_mean > left_mean + 15.0,
        "abdomen right {right_mean:.1} HU, left {left_mean:.1}"
    );
    // The right dome is higher than the left: at a height between the two domes, the right
    // lung base has given way to liver while the left still has lung.
    let k_mid = g
        .rounded_index_from_world(&Point3::new(0.0, 8.0, -52.0))
        .unwrap()[2];
    let lung_right = count(k_mid, &|v, w| is_lung(v, w) && w.x < -60.0);
    let lung_left = count(k_mid, &|v, w| is_lung(v, w) && w.x > 60.0);
    assert!(
        lung_left > lung_right,
        "at z=-52: lung left {lung_left}, right {lung_right}"
    );
}

fn small(seed: u64) -> PhantomConfig {
    PhantomConfig {
        seed,
        dims: [96, 96, 24],
        spacing_mm: [3.6, 3.6, 10.0],
        nodules: vec![NoduleSpec {
            kind: NoduleKind::Solid,
            diameter_mm: 20.0,
            lobe: Lobe::Rll,
        }],
        ..PhantomConfig::default()
    }
}

#[test]
fn same_seed_same_voxels_other_seed_other_voxels() {
    let a = generate(&small(11)).unwrap();
    let b = generate(&small(11)).unwrap();
    let c = generate(&small(12)).unwrap();
    assert_eq!(a.truth.voxel_sha256, b.truth.voxel_sha256);
    assert_eq!(a.truth.voxel_sha256, voxel_sha256(&a.volume));
    assert_eq!(a.volume.voxels(), b.volume.voxels());
    assert_eq!(a.truth.nodules, b.truth.nodules);
    assert_ne!(a.truth.voxel_sha256, c.truth.voxel_sha256);
    assert_ne!(
        a.truth.nodules[0].centre_lps_mm,
        c.truth.nodules[0].centre_lps_mm
    );
    // Thread count does not change the result.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let single = pool.install(|| generate(&small(11)).unwrap());
    assert_eq!(single.truth.voxel_sha256, a.truth.voxel_sha256);
}

#[test]
fn invalid_configurations_are_errors_not_panics() {
    let mut c = small(1);
    c.dims = [0, 10, 10];
    assert!(generate(&c).is_err());
    let mut c = small(1);
    c.spacing_mm = [f64::NAN, 1.0, 1.0];
    assert!(generate(&c).is_err());
    let mut c = small(1);
    c.dims = [4096, 4096, 4096];
    assert!(
        generate(&c)
            .unwrap_err()
            .to_string()
            .contains("600 million")
    );
    let mut c = small(1);
    c.nodules[0].diameter_mm = 500.0;
    assert!(generate(&c).is_err());
    // A slab that misses the lungs cannot hold a lung nodule: a clear placement error.
    let mut c = small(1);
    c.dims = [96, 96, 4];
    c.centre_lps_mm = [0.0, 8.0, 400.0];
    let err = generate(&c).unwrap_err().to_string();
    assert!(err.contains("could not place"), "{err}");
}

#[test]
fn truth_json_round_trips() {
    let p = generate(&small(5)).unwrap();
    let dir = std::env::temp_dir().join(format!("margo-phantom-truth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = p.write_truth(&dir).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let n = &v["nodules"][0];
    assert_eq!(n["kind"], "solid");
    assert_eq!(n["lobe"], "RLL");
    assert!((n["diameter_mm"].as_f64().unwrap() - 20.0).abs() < 1e-3);
    let vol = n["volume_ml"].as_f64().unwrap();
    assert!((vol - std::f64::consts::PI / 6.0 * 8.0).abs() < 1e-3);
    assert_eq!(n["centre_lps_mm"].as_array().unwrap().len(), 3);
    assert!(v["vessels"].as_array().unwrap().len() >= 4);
    assert!(
        v["vessels"][0]["segments"][0]["radius_start_mm"]
            .as_f64()
            .unwrap()
            > 3.0
    );
    assert_eq!(v["ribs"].as_array().unwrap().len(), 24);
    assert_eq!(v["voxel_sha256"], p.truth.voxel_sha256);
    assert_eq!(v["synthetic"], true);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_nodule_that_fits_nowhere_is_an_error_naming_it() {
    // A 60 mm nodule (the largest allowed) in a 40 mm thick stack cannot fit between the
    // stack's ends.
    let mut config = small(5);
    config.dims[2] = 4;
    config.nodules[0].diameter_mm = 60.0;
    match generate(&config) {
        Err(margo_phantom::PhantomError::NodulePlacement {
            diameter_mm, lobe, ..
        }) => {
            assert_eq!(diameter_mm, 60.0);
            assert_eq!(lobe, config.nodules[0].lobe.name());
        }
        other => panic!("expected a placement error, got {:?}", other.map(|_| ())),
    }
}
