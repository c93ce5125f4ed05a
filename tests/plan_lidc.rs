//! LIDC-IDRI-0001: the nodule segmentation against the four radiologists' contours, and the margin
//! metrics on the real nodule against brute-force references.
//!
//! Reader convention (stated, as SOURCE.md asks): each `edgeMap` outline is the first pixel just
//! outside the nodule, so a reader's nodule is the strict interior of the polygon with the outline
//! pixels excluded, and `inclusion=FALSE` rois cut holes (pylidc's default).

#[path = "plan_common/lidc_xml.rs"]
mod lidc_xml;

use margo_plan::{Ellipsoid, ProbeSpec, SegmentParams, TumourModel, ZoneOptions, ZoneRegion};
use margo_volume::nalgebra::{Point3, Vector3};
use margo_volume::testdata::shared_path;
use margo_volume::{Mask, Volume};

const NODULE_CENTRE: [f64; 3] = [56.2, 86.2, -115.6];

fn load() -> Option<(Volume<i16>, String)> {
    let dir = shared_path("ct/lidc-idri-0001", "plan_lidc")?;
    let series = margo_dicom::open_ct(&dir).expect("LIDC loads");
    let xml = std::fs::read_to_string(dir.join("annotations/069.xml")).expect("069.xml");
    Some((series.volume, xml))
}

fn on_full_grid(seg: &margo_plan::Segmentation, v: &Volume<i16>) -> Mask {
    let mut full = Mask::empty(v.geometry().clone());
    let f = seg.crop_first_voxel;
    for (i, j, k) in seg.mask.iter_set() {
        full.set(i + f[0], j + f[1], k + f[2], true);
    }
    full
}

#[test]
fn segmentation_agrees_with_each_reader_at_least_as_well_as_readers_agree() {
    let Some((volume, xml)) = load() else { return };
    // Pixel (col 316, row 367) is the nodule centre in the XML's own coordinates.
    let readers = lidc_xml::reader_rois(&xml, 316.0, 367.0, NODULE_CENTRE[2]).unwrap();
    assert_eq!(readers.len(), 4, "four radiologists marked the nodule");
    let masks: Vec<Mask> = readers
        .iter()
        .map(|r| lidc_xml::rasterise(r, volume.geometry()).unwrap())
        .collect();
    // SOURCE.md: with the outline excluded the readers' volumes span about 5.7-7.3 ml.
    for m in &masks {
        assert!(
            (5.5..=7.5).contains(&m.volume_ml()),
            "reader volume {}",
            m.volume_ml()
        );
    }
    let mut pairwise = Vec::new();
    for a in 0..4 {
        for b in a + 1..4 {
            pairwise.push(lidc_xml::dice(&masks[a], &masks[b]));
        }
    }
    pairwise.sort_by(f64::total_cmp);
    let median = 0.5 * (pairwise[2] + pairwise[3]);
    let seg = margo_plan::segment(&volume, NODULE_CENTRE, &SegmentParams::default()).unwrap();
    let full = on_full_grid(&seg, &volume);
    let dice: Vec<f64> = masks.iter().map(|m| lidc_xml::dice(&full, m)).collect();
    eprintln!(
        "LIDC-IDRI-0001: inter-reader Dice {pairwise:.3?} (median {median:.3}); ours vs readers \
         {dice:.3?}; volume {:.2} ml (mask {:.2} ml), longest {:.1} mm, threshold {} HU, opening {} mm",
        seg.stats.volume_ml,
        seg.stats.outline_volume_ml,
        seg.stats.max_diameter_mm,
        seg.threshold_used_hu,
        seg.opening_used_mm
    );
    for (r, d) in dice.iter().enumerate() {
        assert!(
            *d >= median,
            "reader {r}: Dice {d:.3} < inter-reader median {median:.3}"
        );
    }
    // The centroid is the one the readers' contours give (SOURCE.md: 56.2, 86.2, -115.6).
    let c = Point3::from(seg.stats.centroid_lps_mm);
    assert!((c - Point3::from(NODULE_CENTRE)).norm() < 2.5, "{c:?}");
}

/// Dense-sampling distance from `p` to an ellipsoid surface (independent of Eberly's method).
fn sampled_distance(e: &Ellipsoid, p: &Point3<f64>) -> f64 {
    let n = 240;
    let h = e.half_lengths_mm;
    let mut best = (f64::INFINITY, 0.0, 0.0);
    for a in 0..=n {
        let th = std::f64::consts::PI * a as f64 / n as f64;
        for b in 0..2 * n {
            let ph = std::f64::consts::PI * b as f64 / n as f64;
            let q = e.world_from_local(&Vector3::new(
                h[0] * th.cos(),
                h[1] * th.sin() * ph.cos(),
                h[2] * th.sin() * ph.sin(),
            ));
            let d = (q - p).norm();
            if d < best.0 {
                best = (d, th, ph);
            }
        }
    }
    // Refine around the best sample.
    let (mut d0, mut t0, mut f0) = best;
    let mut step = std::f64::consts::PI / n as f64;
    for _ in 0..30 {
        for (dt, df) in [(step, 0.0), (-step, 0.0), (0.0, step), (0.0, -step)] {
            let (t, f) = (t0 + dt, f0 + df);
            let q = e.world_from_local(&Vector3::new(
                h[0] * t.cos(),
                h[1] * t.sin() * f.cos(),
                h[2] * t.sin() * f.sin(),
            ));
            let d = (q - p).norm();
            if d < d0 {
                (d0, t0, f0) = (d, t, f);
            }
        }
        step *= 0.7;
    }
    d0
}

#[test]
fn metrics_on_the_real_nodule_match_brute_force() {
    let Some((volume, _)) = load() else { return };
    let seg = margo_plan::segment(&volume, NODULE_CENTRE, &SegmentParams::default()).unwrap();
    let model = TumourModel::new(&seg.mask).unwrap();
    let probe =
        ProbeSpec::parse("tip=52.6,74.0,-115.6;entry=75,150,-115.6;device=amica;power=80;time=600")
            .unwrap();
    let zones =
        margo_plan::build_zones(std::slice::from_ref(&probe), &ZoneOptions::default()).unwrap();
    let e = zones.shapes[0].ellipsoid;
    for shift in [0.0, 4.0] {
        let mut moved = e;
        moved.centre_lps_mm[0] += shift;
        let region = ZoneRegion::new(vec![moved], 0.0);
        let m = model.evaluate(&region);
        // Coverage: 6x6x6 sub-samples in every tumour voxel.
        let g = seg.mask.geometry();
        let sp = g.spacing_mm();
        let (mut hit, mut total) = (0usize, 0usize);
        for (i, j, k) in seg.mask.iter_set() {
            let c = g.world_from_ijk([i, j, k]);
            for a in 0..6 {
                for b in 0..6 {
                    for cc in 0..6 {
                        let off = Vector3::new(
                            ((a as f64 + 0.5) / 6.0 - 0.5) * sp[0],
                            ((b as f64 + 0.5) / 6.0 - 0.5) * sp[1],
                            ((cc as f64 + 0.5) / 6.0 - 0.5) * sp[2],
                        );
                        total += 1;
                        hit += usize::from(moved.contains(&(c + off)));
                    }
                }
            }
        }
        let brute_cov = 100.0 * hit as f64 / total as f64;
        assert!(
            (m.coverage_pct[0] - brute_cov).abs() < 0.5,
            "shift {shift}: {} vs {brute_cov}",
            m.coverage_pct[0]
        );
        // Margin: the 40 surface points nearest to the reported weakest margin, plus a spread
        // sample, against dense sampling.
        let surface = model.surface_points();
        let mut by_margin: Vec<(f64, Point3<f64>)> = surface
            .iter()
            .map(|s| {
                let p = Point3::from(s.lps_mm);
                (region.depth_mm(&p), p)
            })
            .collect();
        by_margin.sort_by(|a, b| a.0.total_cmp(&b.0));
        let brute_min = by_margin
            .iter()
            .take(40)
            .chain(by_margin.iter().step_by(by_margin.len() / 20 + 1))
            .map(|(_, p)| {
                let d = sampled_distance(&moved, p);
                if moved.contains(p) { d } else { -d }
            })
            .fold(f64::INFINITY, f64::min);
        assert!(
            (m.min_margin_mm - brute_min).abs() < 0.1,
            "shift {shift}: {} vs {brute_min}",
            m.min_margin_mm
        );
        eprintln!(
            "shift {shift} mm: coverage {:.2}% (brute {brute_cov:.2}%), min margin {:.3} mm (brute {brute_min:.3} mm)",
            m.coverage_pct[0], m.min_margin_mm
        );
    }
    // The full pipeline's findings on this plan.
    let m = model.evaluate(&zones.region);
    let findings = margo_plan::findings::check_plan(
        &volume,
        &[probe],
        &zones,
        &seg.stats,
        Some(&seg.mask),
        Some(&m),
    );
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    assert!(
        kinds.contains(&"aerated_lung_length") && kinds.contains(&"pleural_punctures"),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&"bone_on_path"),
        "this posterior path avoids the ribs: {kinds:?}"
    );
}
