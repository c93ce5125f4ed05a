//! `margo phantom` end to end: arguments in, a readable series and truth.json out; bad
//! arguments give an error message, never a panic.

use std::path::PathBuf;
use std::process::Command;

fn margo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_margo"))
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("margo-phantom-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn one_nodule_series_with_truth() {
    let dir = temp_dir("one");
    let out = margo()
        .args(["phantom", "--out"])
        .arg(&dir)
        .args([
            "--seed",
            "4",
            "--nodule",
            "juxtavascular",
            "--diameter",
            "12",
            "--lobe",
            "rll",
            "--size",
            "160x144x24",
            "--spacing",
            "2.2,2.4,4",
            "--centre-z",
            "10",
        ])
        .output()
        .expect("run margo phantom");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("juxtavascular"), "{stdout}");
    let dcm = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "dcm"))
        .count();
    assert_eq!(dcm, 24);
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let nodules = truth["nodules"].as_array().unwrap();
    assert_eq!(nodules.len(), 1);
    assert_eq!(nodules[0]["kind"], "juxtavascular");
    assert_eq!(nodules[0]["lobe"], "RLL");
    assert!((nodules[0]["diameter_mm"].as_f64().unwrap() - 12.0).abs() < 1e-3);
    let loaded = margo_dicom::open_ct(&dir).expect("margo-dicom reads it");
    assert_eq!(loaded.volume.dims(), [160, 144, 24]);
    assert_eq!(
        margo_phantom::voxel_sha256(&loaded.volume),
        truth["voxel_sha256"].as_str().unwrap()
    );
    // A shorter series into the same folder would leave stale slices: refused.
    let again = margo()
        .args(["phantom", "--out"])
        .arg(&dir)
        .args([
            "--size",
            "160x144x12",
            "--spacing",
            "2.2,2.4,8",
            "--nodule",
            "solid",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("mix two"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_are_errors() {
    let dir = temp_dir("bad");
    for args in [
        vec!["--size", "512x512"],
        vec!["--size", "axbxc"],
        vec!["--spacing", "0.7,0.7,-1"],
        vec!["--nodule", "solid", "--diameter", "90"],
    ] {
        let out = margo()
            .args(["phantom", "--out"])
            .arg(&dir)
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
