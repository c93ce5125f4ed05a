//! `margo info` end to end: LIDC-IDRI-0001 against SimpleITK's reading of the same files
//! (tests/reference/simpleitk_lidc.json, made by tests/reference/simpleitk_lidc.py), the JSON
//! schema, and the exit codes.

use std::path::Path;
use std::process::Command;

use margo_volume::testdata::shared_path;
use serde_json::Value;

fn margo_info(dir: &Path, json: bool) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_margo"));
    cmd.arg("info").arg(dir);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/simpleitk_lidc.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(inner) => inner.iter().map(|y| y.as_f64().unwrap()).collect(),
            None => vec![x.as_f64().unwrap()],
        })
        .collect()
}

#[test]
fn lidc_info_json_matches_simpleitk() {
    let Some(dir) = shared_path("ct/lidc-idri-0001", "lidc_info_json_matches_simpleitk") else {
        return;
    };
    let (code, stdout, stderr) = margo_info(&dir, true);
    assert_eq!(code, 0, "{stderr}");
    let info: Value = serde_json::from_str(&stdout).unwrap();
    let series = info["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    let s = &series[0];
    let r = reference();

    assert_eq!(s["series_uid"], r["series_uid"]);
    assert_eq!(s["dims"], r["dims"]);
    for key in ["spacing_mm", "origin_lps_mm", "direction"] {
        let (a, b) = (floats(&s[key]), floats(&r[key]));
        assert_eq!(a.len(), b.len(), "{key}");
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6, "{key}: margo {a:?}, SimpleITK {b:?}");
        }
    }
    assert_eq!(
        s["voxel_sha256"], r["voxel_sha256"],
        "voxels differ from SimpleITK"
    );
    assert_eq!(s["hu_min"], r["hu_min"]);
    assert_eq!(s["hu_max"], r["hu_max"]);
    let mean = (s["hu_mean"].as_f64().unwrap() - r["hu_mean"].as_f64().unwrap()).abs();
    assert!(mean < 1e-6);

    // The schema: every key present with its type.
    assert_eq!(s["modality"], "CT");
    assert!(s["description"].is_string());
    assert!(s["warnings"].is_array());
    assert_eq!(s["skipped"], Value::Array(vec![]));
}

#[test]
fn info_table_and_exit_codes() {
    // No DICOM at all: exit 2, reasons on stderr, an empty series list on stdout.
    let tmp = std::env::temp_dir().join(format!("margo-info-test-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("notes.txt"), "not dicom").unwrap();
    let (code, stdout, stderr) = margo_info(&tmp, true);
    assert_eq!(code, 2);
    assert_eq!(stdout.trim(), r#"{"series":[]}"#);
    assert!(stderr.contains("no DICOM image series"), "{stderr}");
    let (code, _, stderr) = margo_info(&tmp.join("missing"), false);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read folder"), "{stderr}");
    std::fs::remove_dir_all(&tmp).unwrap();

    // Only unsupported files: exit 2 with the named error.
    if let Some(variety) = shared_path("dicom-variety", "info_table_and_exit_codes") {
        let file = variety.join("ct-chest-ge_jpeg-spectral-p6-8-retired.dcm");
        let (code, stdout, stderr) = margo_info(&file, true);
        assert_eq!(code, 2);
        assert_eq!(stdout.trim(), r#"{"series":[]}"#);
        assert!(stderr.contains("unsupported transfer syntax"), "{stderr}");
    }
    if let Some(dir) = shared_path("ct/lidc-idri-0001", "info_table_and_exit_codes") {
        let (code, stdout, _) = margo_info(&dir, false);
        assert_eq!(code, 0);
        assert!(stdout.contains("512 x 512 x 133"), "{stdout}");
        assert!(
            stdout.contains("0.703125 x 0.703125 x 2.500000 mm"),
            "{stdout}"
        );
    }
}
