//! LIDC-IDRI-0001 (real chest CT) through the public API.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};

use margo_dicom::{DicomError, LoadProgress, load_series, open_ct, scan_folder};
use margo_volume::testdata::shared_path;

#[test]
fn lidc_loads_with_dicom_geometry() {
    let Some(dir) = shared_path("ct/lidc-idri-0001", "lidc_loads_with_dicom_geometry") else {
        return;
    };
    let ct = open_ct(&dir).unwrap();
    let g = ct.volume.geometry();
    assert_eq!(g.dims(), [512, 512, 133]);
    let s = g.spacing_mm();
    assert!((s.x - 0.703125).abs() < 1e-9 && (s.y - 0.703125).abs() < 1e-9);
    assert!((s.z - 2.5).abs() < 1e-6, "slice spacing {}", s.z);
    let o = g.origin_in_world();
    // SOURCE.md: IPP x,y = -166.0, -171.699997; z runs from -340 to -10.
    assert!((o.x + 166.0).abs() < 1e-6 && (o.y + 171.699997).abs() < 1e-6);
    assert!((o.z + 340.0).abs() < 1e-6, "origin z {}", o.z);
    assert_eq!(*g.direction(), margo_volume::nalgebra::Matrix3::identity());
    let m = &ct.meta;
    assert_eq!(
        m.series_uid,
        "1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192"
    );
    assert_eq!(m.modality, "CT");
    assert!(m.is_ct);
    assert_eq!(m.pixel_padding_value, Some(-2000));
    assert_eq!(m.patient_position.as_deref(), Some("FFS"));
    assert_eq!(m.kernel.as_deref(), Some("STANDARD"));
    assert_eq!(m.window_presets.len(), 1);
    assert_eq!(m.window_presets[0].center, -600.0);
    assert_eq!(m.window_presets[0].width, 1600.0);
    assert_eq!(m.anonymisation.identity_removed, Some(true));
    assert_eq!(m.file_count, 133);
    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    // SOURCE.md: HU range -2048..3071 (stored -1024..4095, independently read with pydicom).
    let (lo, hi) = ct.volume.min_max().unwrap();
    assert_eq!((lo, hi), (-2048.0, 3071.0));
    // The nodule centre (SOURCE.md: 56.2, 86.2, -115.6 mm LPS) is soft tissue.
    let hu = ct
        .volume
        .sample_nearest_world(&margo_volume::nalgebra::Point3::new(56.2, 86.2, -115.0))
        .unwrap();
    assert!((-100..=200).contains(&hu), "nodule centre HU {hu}");
}

#[test]
fn lidc_scan_reports_progress_and_can_cancel() {
    let Some(dir) = shared_path(
        "ct/lidc-idri-0001",
        "lidc_scan_reports_progress_and_can_cancel",
    ) else {
        return;
    };
    let report = scan_folder(&dir).unwrap();
    assert_eq!(report.series.len(), 1);
    // The annotations XML and PNG are not DICOM: ignored, not skipped.
    assert!(report.skipped.is_empty());
    assert!(
        report
            .ignored
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "xml"))
    );
    let s = &report.series[0];
    assert_eq!(s.dims, [512, 512, 133]);

    let calls = AtomicUsize::new(0);
    let last = AtomicUsize::new(0);
    let loaded = load_series(s, &|p: LoadProgress| {
        calls.fetch_add(1, Ordering::Relaxed);
        last.fetch_max(p.slices_done, Ordering::Relaxed);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(loaded.volume.dims(), [512, 512, 133]);
    assert_eq!(calls.load(Ordering::Relaxed), 133);
    assert_eq!(last.load(Ordering::Relaxed), 133);

    let cancelled = load_series(s, &|p: LoadProgress| {
        if p.slices_done >= 10 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    assert!(
        matches!(cancelled, Err(DicomError::Cancelled)),
        "{cancelled:?}"
    );
}
