//! The bundled sample case never drifts from the generator, and margo-dicom reads it (and any
//! phantom series) back voxel for voxel with the generator's geometry.

use std::path::{Path, PathBuf};

use margo_phantom::dicom_out::{SeriesOptions, TransferSyntax, write_series};
use margo_phantom::{Lobe, NoduleKind, NoduleSpec, PhantomConfig, Truth, generate, voxel_sha256};

/// Recorded in sample-data/phantom-chest/README.md; regenerate the case and update both when
/// the generator changes on purpose.
const SAMPLE_SHA256: &str = "a0eadd2b2fb4e19ec795587142f5077edc504fcac174400006cc9276a463611a";

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/phantom-chest")
}

fn sample_truth() -> Truth {
    let text = std::fs::read_to_string(sample_dir().join("truth.json")).expect("sample truth.json");
    serde_json::from_str(&text).expect("parse truth.json")
}

#[test]
fn sample_case_regenerates_to_the_same_voxels() {
    let truth = sample_truth();
    assert_eq!(
        truth.voxel_sha256, SAMPLE_SHA256,
        "truth.json and the recorded checksum disagree"
    );
    assert!(truth.synthetic);
    let regenerated = generate(&truth.config).expect("regenerate the sample");
    assert_eq!(
        regenerated.truth.voxel_sha256, SAMPLE_SHA256,
        "the generator no longer reproduces sample-data/phantom-chest; regenerate it with the \
         command in its README and update SAMPLE_SHA256"
    );
    assert_eq!(regenerated.truth.nodules.len(), truth.nodules.len());
    for (a, b) in regenerated.truth.nodules.iter().zip(&truth.nodules) {
        for axis in 0..3 {
            assert!((a.centre_lps_mm[axis] - b.centre_lps_mm[axis]).abs() < 1e-3);
        }
    }
}

#[test]
fn margo_dicom_loads_the_sample_case_exactly() {
    let truth = sample_truth();
    let loaded = margo_dicom::open_ct(&sample_dir()).expect("open the sample case");
    assert_eq!(voxel_sha256(&loaded.volume), SAMPLE_SHA256);
    let expected = truth.config.geometry().expect("geometry");
    assert!(
        loaded.volume.geometry().is_congruent(&expected, 1e-3),
        "loaded geometry {:?} vs generator {:?}",
        loaded.volume.geometry(),
        expected
    );
}

#[test]
fn margo_dicom_reads_phantom_series_back_exactly() {
    let config = PhantomConfig {
        seed: 9,
        dims: [160, 144, 20],
        spacing_mm: [2.2, 2.4, 4.0],
        centre_lps_mm: [0.0, 8.0, 30.0],
        nodules: vec![NoduleSpec {
            kind: NoduleKind::Juxtapleural,
            diameter_mm: 16.0,
            lobe: Lobe::Lll,
        }],
        ..PhantomConfig::default()
    };
    let phantom = generate(&config).expect("generate");
    for ts in [
        TransferSyntax::ExplicitVrLittleEndian,
        TransferSyntax::JpegLsLossless,
    ] {
        if !ts.available() {
            eprintln!("margo_dicom_reads_phantom_series_back_exactly: {ts:?} not built; skipped");
            continue;
        }
        let dir =
            std::env::temp_dir().join(format!("margo-phantom-rt-{ts:?}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = SeriesOptions {
            transfer_syntax: ts,
            ..SeriesOptions::default()
        };
        write_series(&phantom, &dir, &options).expect("write");
        let loaded = margo_dicom::open_ct(&dir).expect("margo-dicom reads the phantom");
        assert!(
            loaded
                .volume
                .geometry()
                .is_congruent(phantom.volume.geometry(), 1e-3),
            "{ts:?}: geometry {:?} vs {:?}",
            loaded.volume.geometry(),
            phantom.volume.geometry()
        );
        assert_eq!(
            loaded.volume.voxels(),
            phantom.volume.voxels(),
            "{ts:?}: voxels differ"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
