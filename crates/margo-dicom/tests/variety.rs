//! Every file of ../shared/dicom-variety, with its expected outcome. References are the
//! uncompressed file of each group (bit-identical for lossless encodings) and the stored-value
//! ranges that pydicom + pylibjpeg decoded (MANIFEST.md), mapped through each file's rescale.

use std::path::{Path, PathBuf};

use margo_dicom::{DicomError, LoadedSeries, load_series, no_progress, scan_files, scan_folder};
use margo_volume::testdata::shared_path;

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Same voxels as the reference file.
    Identical(&'static str),
    /// Lossy: HU within `max_abs` of the reference everywhere, mean |diff| within `mean_abs`.
    Close {
        reference: &'static str,
        max_abs: i32,
        mean_abs: f64,
    },
    /// Loads; no other file to compare with (range checked below).
    Loads,
    /// Refused with a named UnsupportedTransferSyntax error.
    Unsupported,
}

use Expect::*;

/// (file, expectation, stored-value range from MANIFEST.md when it gives one).
type Row = (&'static str, Expect, Option<(i32, i32)>);

const TABLE: &[Row] = &[
    (
        "ct-chest-ge-400x512_jpeg-lossless-p14-sv1.dcm",
        Loads,
        Some((-196, 406)),
    ),
    (
        "ct-chest-ge_deflated-explicit-le.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    (
        "ct-chest-ge_explicit-vr-be.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    ("ct-chest-ge_explicit-vr-le.dcm", Loads, Some((-2000, 2402))),
    (
        "ct-chest-ge_implicit-vr-le.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    (
        "ct-chest-ge_j2k-lossless.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    (
        "ct-chest-ge_j2k-lossy.dcm",
        Close {
            reference: CHEST,
            max_abs: 5,
            mean_abs: 5.0,
        },
        Some((-2003, 2401)),
    ),
    // dcmcjpeg rewrote the rescale (slope 32.1216): compare in HU. MANIFEST: max 64. Its mean
    // (17.5) did not reproduce: pydicom 3 + pylibjpeg-libjpeg here gives 19.5 (19.7 for us).
    (
        "ct-chest-ge_jpeg-baseline-p1.dcm",
        Close {
            reference: CHEST,
            max_abs: 65,
            mean_abs: 20.0,
        },
        Some((30, 168)),
    ),
    // 12-bit DCT JPEG: jpeg-decoder implements 8-bit DCT only.
    ("ct-chest-ge_jpeg-extended-p2-4.dcm", Unsupported, None),
    (
        "ct-chest-ge_jpeg-lossless-p14-sv1.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    (
        "ct-chest-ge_jpeg-lossless-p14.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    (
        "ct-chest-ge_jpeg-progressive-p10-12-retired.dcm",
        Unsupported,
        None,
    ),
    (
        "ct-chest-ge_jpeg-spectral-p6-8-retired.dcm",
        Unsupported,
        None,
    ),
    (
        "ct-chest-ge_jpegls-lossless.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    (
        "ct-chest-ge_jpegls-near-lossless.dcm",
        Close {
            reference: CHEST,
            max_abs: 1,
            mean_abs: 1.0,
        },
        Some((-2001, 2401)),
    ),
    (
        "ct-chest-ge_rle-lossless.dcm",
        Identical(CHEST),
        Some((-2000, 2402)),
    ),
    ("ct-head-picker_explicit-le.dcm", Loads, Some((-1057, 1440))),
    (
        "ct-lumbar-siemens_acr-nema2_no-preamble-no-meta_implicit-le.dcm",
        Loads,
        Some((75, 2156)),
    ),
    // One stray byte before the first element: recovered, same pixels as CT_small.
    (
        "ct-small-128_MALFORMED_no-meta_stray-leading-byte.dcm",
        Identical(SMALL),
        Some((128, 2191)),
    ),
    ("ct-small-128_explicit-le.dcm", Loads, Some((128, 2191))),
    (
        "enhanced-ct-2frame_explicit-le_supplemental-palette.dcm",
        Loads,
        Some((0, 1196)),
    ),
    (
        "enhanced-ct-2frame_jpeg-extended_fragmented-no-bot.dcm",
        Unsupported,
        None,
    ),
    ("enhanced-mr-10frame_explicit-be.dcm", Loads, Some((0, 467))),
    (
        "enhanced-mr-10frame_jpegls-lossless.dcm",
        Identical(EMRI),
        Some((0, 467)),
    ),
    (
        "enhanced-mr-10frame_rle-lossless.dcm",
        Identical(EMRI),
        Some((0, 467)),
    ),
    (
        "wg04-ct1_j2k-lossless.dcm",
        Identical(CT1),
        Some((-2000, 2278)),
    ),
    (
        "wg04-ct1_j2k-lossy.dcm",
        Close {
            reference: CT1,
            max_abs: 352,
            mean_abs: 50.0,
        },
        Some((-2315, 2409)),
    ),
    (
        "wg04-ct1_jpeg-lossless-p14-sv1.dcm",
        Identical(CT1),
        Some((-2000, 2278)),
    ),
    (
        "wg04-ct1_jpegls-lossless.dcm",
        Identical(CT1),
        Some((-2000, 2278)),
    ),
    (
        "wg04-ct1_jpegls-near-lossless.dcm",
        Close {
            reference: CT1,
            max_abs: 4,
            mean_abs: 4.0,
        },
        Some((-2004, 2278)),
    ),
    (
        "wg04-ct1_rle-lossless.dcm",
        Identical(CT1),
        Some((-2000, 2278)),
    ),
    (
        "wg04-ct1_uncompressed-explicit-le.dcm",
        Loads,
        Some((-2000, 2278)),
    ),
    (
        "wg04-ct2_j2k-lossless.dcm",
        Identical(CT2),
        Some((-2048, 1433)),
    ),
    (
        "wg04-ct2_j2k-lossy.dcm",
        Close {
            reference: CT2,
            max_abs: 402,
            mean_abs: 50.0,
        },
        Some((-2386, 1542)),
    ),
    (
        "wg04-ct2_jpeg-lossless-p14-sv1.dcm",
        Identical(CT2),
        Some((-2048, 1433)),
    ),
    (
        "wg04-ct2_jpegls-lossless.dcm",
        Identical(CT2),
        Some((-2048, 1433)),
    ),
    (
        "wg04-ct2_jpegls-near-lossless.dcm",
        Close {
            reference: CT2,
            max_abs: 4,
            mean_abs: 4.0,
        },
        Some((-2052, 1434)),
    ),
    (
        "wg04-ct2_rle-lossless.dcm",
        Identical(CT2),
        Some((-2048, 1433)),
    ),
    (
        "wg04-ct2_uncompressed-explicit-le.dcm",
        Loads,
        Some((-2048, 1433)),
    ),
];

const CHEST: &str = "ct-chest-ge_explicit-vr-le.dcm";
const SMALL: &str = "ct-small-128_explicit-le.dcm";
const EMRI: &str = "enhanced-mr-10frame_explicit-be.dcm";
const CT1: &str = "wg04-ct1_uncompressed-explicit-le.dcm";
const CT2: &str = "wg04-ct2_uncompressed-explicit-le.dcm";

fn load_one(path: &Path) -> Result<LoadedSeries, DicomError> {
    let report = scan_files(&[path.to_path_buf()]);
    assert!(
        report.skipped.is_empty(),
        "{}: {:?}",
        path.display(),
        report.skipped
    );
    assert_eq!(report.series.len(), 1, "{}", path.display());
    load_series(&report.series[0], &no_progress)
}

fn stored_to_hu(stored: i32, l: &LoadedSeries) -> i32 {
    (stored as f64 * l.meta.rescale_slope + l.meta.rescale_intercept).round() as i32
}

#[test]
fn every_variety_file_has_its_expected_outcome() {
    let Some(dir) = shared_path(
        "dicom-variety",
        "every_variety_file_has_its_expected_outcome",
    ) else {
        return;
    };
    // The table covers the whole folder.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".dcm"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = TABLE.iter().map(|(f, ..)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);

    let mut failures = Vec::new();
    for &(file, expect, stored_range) in TABLE {
        let path = dir.join(file);
        let result = load_one(&path);
        let outcome = match (expect, &result) {
            (Unsupported, Err(DicomError::UnsupportedTransferSyntax { ts_uid, .. })) => {
                assert!(ts_uid.starts_with("1.2.840.10008.1.2.4."));
                Ok(())
            }
            (Unsupported, other) => Err(format!(
                "expected unsupported, got {:?}",
                other.as_ref().map(|l| l.volume.dims())
            )),
            (_, Err(e)) => Err(format!("failed to load: {e}")),
            (Loads, Ok(_)) => Ok(()),
            (Identical(reference), Ok(l)) => {
                let r = load_one(&dir.join(reference)).unwrap();
                if r.volume.geometry() != l.volume.geometry() {
                    Err(format!("geometry differs from {reference}"))
                } else if r.volume.voxels() != l.volume.voxels() {
                    Err(format!("voxels differ from {reference}"))
                } else {
                    Ok(())
                }
            }
            (
                Close {
                    reference,
                    max_abs,
                    mean_abs,
                },
                Ok(l),
            ) => {
                let r = load_one(&dir.join(reference)).unwrap();
                let diffs: Vec<i32> = r
                    .volume
                    .voxels()
                    .iter()
                    .zip(l.volume.voxels())
                    .map(|(a, b)| (*a as i32 - *b as i32).abs())
                    .collect();
                let max = diffs.iter().copied().max().unwrap();
                let mean = diffs.iter().map(|d| *d as f64).sum::<f64>() / diffs.len() as f64;
                assert!(l.meta.lossy_compressed, "{file}: lossy flag");
                if r.volume.dims() != l.volume.dims() || max > max_abs || mean > mean_abs {
                    Err(format!(
                        "HU differ from {reference}: max {max}, mean {mean:.2}"
                    ))
                } else {
                    Ok(())
                }
            }
        };
        // HU range = the MANIFEST's stored range through this file's rescale.
        let outcome = outcome.and_then(|()| match (&result, stored_range) {
            (Ok(l), Some((lo, hi))) => {
                let (min, max) = l.volume.min_max().unwrap();
                let want = (stored_to_hu(lo, l), stored_to_hu(hi, l));
                if (min as i32, max as i32) == want {
                    Ok(())
                } else {
                    Err(format!("HU range {min}..{max}, expected {want:?}"))
                }
            }
            _ => Ok(()),
        });
        if let Err(e) = outcome {
            failures.push(format!("{file}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn enhanced_ct_takes_geometry_and_rescale_from_functional_groups() {
    let Some(dir) = shared_path("dicom-variety", "enhanced_ct_takes_geometry_and_rescale") else {
        return;
    };
    let l = load_one(&dir.join("enhanced-ct-2frame_explicit-le_supplemental-palette.dcm")).unwrap();
    let g = l.volume.geometry();
    assert_eq!(g.dims(), [512, 512, 2]);
    // Shared groups: IOP -1,0,0,0,1,0, PixelSpacing 0.388672, rescale -1024 / 1.
    // Per-frame IPP: frame 0 at z=-159, frame 1 at z=-149. Normal = row x col = (0,0,-1), so
    // sorting along the normal puts frame 1 (z=-149) first, 10 mm apart.
    let d = g.direction();
    assert_eq!(d.column(0).as_slice(), &[-1.0, 0.0, 0.0]);
    assert_eq!(d.column(1).as_slice(), &[0.0, 1.0, 0.0]);
    assert_eq!(d.column(2).as_slice(), &[0.0, 0.0, -1.0]);
    let o = g.origin_in_world();
    assert_eq!((o.x, o.y, o.z), (99.5, -301.5, -149.0));
    let s = g.spacing_mm();
    assert!((s.x - 0.388672).abs() < 1e-9 && (s.z - 10.0).abs() < 1e-9);
    assert_eq!(l.meta.rescale_intercept, -1024.0);
    assert_eq!(l.meta.window_presets[0].center, 49.0);
    assert!(l.meta.is_ct);
}

#[test]
fn localizer_and_non_ct_are_flagged() {
    let Some(dir) = shared_path("dicom-variety", "localizer_and_non_ct_are_flagged") else {
        return;
    };
    let scout = load_one(&dir.join("ct-chest-ge-400x512_jpeg-lossless-p14-sv1.dcm")).unwrap();
    assert!(scout.meta.is_localizer);
    // 400 rows x 512 columns: i runs along columns.
    assert_eq!(scout.volume.dims(), [512, 400, 1]);
    let mr = load_one(&dir.join("enhanced-mr-10frame_explicit-be.dcm")).unwrap();
    assert!(!mr.meta.is_ct);
    assert_eq!(mr.meta.modality, "MR");
    assert_eq!(mr.volume.dims(), [64, 64, 10]);
    assert!(mr.meta.warnings.iter().any(|w| w.contains("not CT")));
}

#[test]
fn whole_variety_folder_scans_without_panic_and_reports_duplicates() {
    let Some(dir) = shared_path("dicom-variety", "whole_variety_folder_scans") else {
        return;
    };
    let report = scan_folder(&dir).unwrap();
    // The same SOP instance re-encoded many times: one kept per group, the rest reported.
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.reason.contains("SOPInstanceUID"))
    );
    let loaded: Vec<PathBuf> = report
        .series
        .iter()
        .filter(|s| load_series(s, &no_progress).is_ok())
        .map(|s| s.files()[0].clone())
        .collect();
    assert!(!loaded.is_empty());
    // The scout never joins an axial series.
    assert!(
        report
            .series
            .iter()
            .all(|s| !s.is_localizer || s.slice_count == 1)
    );
}

#[test]
fn the_best_copy_of_an_image_stored_twice_is_read() {
    let test = "the_best_copy_of_an_image_stored_twice_is_read";
    let Some(dir) = shared_path("dicom-variety", test) else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("margo-copies-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let copy = |name: &str, to: &str| {
        let path = tmp.join(to);
        std::fs::copy(dir.join(name), &path).unwrap();
        path
    };
    // Same SOP instance, JPEG 2000 first by path: the uncompressed copy is read.
    let j2k = copy("ct-chest-ge_j2k-lossless.dcm", "a_j2k.dcm");
    let native = copy("ct-chest-ge_explicit-vr-le.dcm", "b_native.dcm");
    let report = scan_folder(&tmp).unwrap();
    assert_eq!(report.series.len(), 1);
    assert_eq!(report.series[0].files(), std::slice::from_ref(&native));
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].path, j2k);
    assert!(
        report.skipped[0].reason.contains("b_native.dcm")
            && report.skipped[0].reason.contains("exact"),
        "{}",
        report.skipped[0].reason
    );
    std::fs::remove_file(&j2k).unwrap();
    // A lossy copy carrying the original's SOP Instance UID (conformant tools give lossy copies
    // a new UID; some do not): the exact copy wins even when the lossy one sorts first.
    if margo_volume::testdata::external_tool("dcmodify", test, "dcmtk") {
        let lossy = copy("ct-chest-ge_jpeg-baseline-p1.dcm", "0_lossy.dcm");
        let uid = "1.2.840.113619.2.30.1.1762295590.1623.978668950.109";
        let status = std::process::Command::new("dcmodify")
            .args(["-nb", "-m", &format!("(0008,0018)={uid}")])
            .arg(&lossy)
            .status()
            .unwrap();
        assert!(status.success());
        let report = scan_folder(&tmp).unwrap();
        assert_eq!(report.series.len(), 1);
        assert_eq!(report.series[0].files(), [native]);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].path, lossy);
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
