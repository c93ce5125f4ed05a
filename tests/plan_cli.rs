//! `margo plan` end to end on LIDC-IDRI-0001: the `--json` object's shape, save / load round
//! trip, rejection of bad plan files, `--list-devices`, and errors for bad arguments.

use std::path::{Path, PathBuf};
use std::process::Command;

use margo_volume::testdata::shared_path;

const SEED: &str = "56.2,86.2,-115.6";
const PROBE: &str = "tip=52.6,74.0,-115.6;entry=75,150,-115.6;device=amica;power=80;time=600";

fn margo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_margo"))
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("margo-plan-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let out = margo().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn fails_with(args: &[&str], needle: &str) {
    let out = margo().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(needle),
        "{args:?}: {err} should mention {needle:?}"
    );
}

#[test]
fn json_output_has_the_documented_shape_and_plans_round_trip() {
    let Some(dir) = shared_path("ct/lidc-idri-0001", "plan_cli") else {
        return;
    };
    let dir = dir.to_str().unwrap();
    let tmp = tmp_dir("roundtrip");
    let plan = tmp.join("plan.json");
    let v = run_json(&[
        "plan",
        dir,
        "--seed",
        SEED,
        "--probe",
        PROBE,
        "--save",
        plan.to_str().unwrap(),
        "--json",
    ]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = [
        "nodule",
        "zones",
        "coverage",
        "min_margin_mm",
        "vic_ml",
        "findings",
    ];
    expected.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, expected);
    let nodule = &v["nodule"];
    assert!((5.0..8.0).contains(&nodule["volume_ml"].as_f64().unwrap()));
    assert!((20.0..35.0).contains(&nodule["max_diameter_mm"].as_f64().unwrap()));
    assert_eq!(nodule["centroid_lps_mm"].as_array().unwrap().len(), 3);
    for k in ["tumour_pct", "margin5_pct", "margin10_pct"] {
        let c = v["coverage"][k].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&c), "{k} {c}");
    }
    assert_eq!(v["vic_ml"].as_array().unwrap().len(), 11);
    assert!(v["min_margin_mm"].as_f64().is_some());
    assert_eq!(v["zones"].as_array().unwrap().len(), 1);
    assert_eq!(v["zones"][0]["device"], "amica");
    for f in v["findings"].as_array().unwrap() {
        let mut k: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort();
        assert_eq!(k, ["kind", "message", "severity", "value"]);
    }
    // Loading the saved plan gives the same numbers.
    let w = run_json(&["plan", dir, "--load", plan.to_str().unwrap(), "--json"]);
    assert_eq!(v, w);
    // The plan file carries the series and the schema version.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["schema_version"], 1);
    assert_eq!(
        saved["series_uid"],
        "1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192"
    );
    // Report files.
    // `margo plan DIR --load PLAN --report PATH`, returning the report's text.
    let report_to = |report: &std::path::Path| {
        let out = margo()
            .args([
                "plan",
                dir,
                "--load",
                plan.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(report).unwrap()
    };
    let md = report_to(&tmp.join("report.md"));
    assert!(md.contains("not a guarantee") && md.contains("segmentation-eval"));
    assert!(tmp.join("report.json").exists());
    // The same report as a self-contained HTML page when the name ends in .html.
    let html = report_to(&tmp.join("report.html"));
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("not a guarantee") && html.contains("segmentation-eval"));
    assert!(html.contains("Coverage and margins") && !html.to_lowercase().contains("<script"));

    // Bad plan files are refused with the path and the problem.
    let text = std::fs::read_to_string(&plan).unwrap();
    let bad = |name: &str, content: String, needle: &str| {
        let p = tmp.join(name);
        std::fs::write(&p, content).unwrap();
        fails_with(&["plan", dir, "--load", p.to_str().unwrap()], needle);
        fails_with(&["plan", dir, "--load", p.to_str().unwrap()], name);
    };
    bad(
        "version.json",
        text.replace("\"schema_version\": 1", "\"schema_version\": 99"),
        "schema version 99",
    );
    bad(
        "device.json",
        text.replace("\"device\": \"amica\"", "\"device\": \"laser-9\""),
        "unknown device",
    );
    bad(
        "nan.json",
        text.replacen("52.6", "NaN", 1),
        "not valid JSON",
    );
    bad(
        "outside.json",
        text.replacen("-115.6", "-915.6", 1),
        "outside the volume",
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn list_devices_names_sources_and_the_heuristic() {
    let out = margo().args(["plan", "--list-devices"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "emprint",
        "amica",
        "cool-tip",
        "cryo-2.4mm",
        "ire-1.5cm",
        "ex vivo liver",
        "HEURISTIC",
        "Acta Med Okayama",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    let v = run_json(&["plan", "--list-devices", "--json"]);
    assert!(v["devices"].as_array().unwrap().len() >= 10);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let Some(dir) = shared_path("ct/lidc-idri-0001", "plan_cli") else {
        return;
    };
    let dir = dir.to_str().unwrap();
    fails_with(&["plan", dir, "--seed", "1,2"], "--seed");
    fails_with(
        &[
            "plan",
            dir,
            "--seed",
            SEED,
            "--probe",
            "tip=1,2,3;entry=1,2,3;device=amica",
        ],
        "outside the volume",
    );
    fails_with(
        &[
            "plan",
            dir,
            "--seed",
            SEED,
            "--probe",
            "tip=52,74,-115;entry=52,74,-115;device=custom;long=30;short=20;offset=-5",
        ],
        "same point",
    );
    fails_with(&["plan", dir, "--seed", "-150,-150,-300"], "seed");
    fails_with(
        &["plan", dir, "--seed", SEED, "--tissue-scale", "0"],
        "tissue-scale",
    );
    fails_with(
        &[
            "plan",
            Path::new("/nonexistent-margo").to_str().unwrap(),
            "--seed",
            SEED,
        ],
        "nonexistent-margo",
    );
}
