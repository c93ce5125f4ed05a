//! Segmentation against the bundled synthetic chest (sample-data/phantom-chest, made by
//! margo-phantom with analytic nodule volumes in truth.json: an independent reference, 0.7 x 0.7
//! x 3 mm voxels with noise and partial volume).
//!
//! Part-solid nodules are left out on purpose: the adaptive threshold segments the solid core and
//! the partial-volume weighting counts ground glass as a fraction, so their volume is
//! underestimated (a known limitation, stated in the report).

use std::path::PathBuf;

use margo_plan::SegmentParams;

#[test]
fn phantom_nodule_volumes_match_truth() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data/phantom-chest");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let series = margo_dicom::open_ct(&dir).unwrap();
    let mut checked = 0;
    for n in truth["nodules"].as_array().unwrap() {
        let kind = n["kind"].as_str().unwrap();
        let tolerance = match kind {
            "solid" | "lobulated" | "ellipsoid" => 0.05,
            "juxtapleural" | "ground-glass" => 0.10,
            // A vessel stub of about the opening radius stays attached.
            "juxtavascular" => 0.20,
            _ => continue,
        };
        let c: Vec<f64> = n["centre_lps_mm"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let seg = margo_plan::segment(
            &series.volume,
            [c[0], c[1], c[2]],
            &SegmentParams::default(),
        )
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let truth_ml = n["volume_ml"].as_f64().unwrap();
        let err = (seg.stats.volume_ml - truth_ml) / truth_ml;
        eprintln!(
            "{kind:14} truth {truth_ml:.3} ml, segmented {:.3} ml ({:+.1}%)",
            seg.stats.volume_ml,
            100.0 * err
        );
        assert!(
            err.abs() <= tolerance,
            "{kind}: {:.3} ml vs {truth_ml:.3} ml",
            seg.stats.volume_ml
        );
        checked += 1;
    }
    assert!(
        checked >= 5,
        "the sample case should hold at least five such nodules"
    );
}
