//! `margo render` end to end: the binary's PNG equals the golden frame built through the library
//! (same tolerance, tests/golden/support.rs), and bad arguments fail cleanly without output.

#[path = "golden/support.rs"]
mod support;

use std::process::Command;

fn margo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_margo"))
}

#[test]
fn cli_axial_frame_matches_the_golden() {
    let Some(dir) = margo_volume::testdata::shared_path(
        "ct/lidc-idri-0001",
        "cli_axial_frame_matches_the_golden",
    ) else {
        return;
    };
    if support::renderer("cli_axial_frame_matches_the_golden").is_none() {
        return;
    }
    let out_dir = support::diff_dir().join("cli");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("axial.png");
    let _ = std::fs::remove_file(&out);
    let status = margo()
        .arg("render")
        .arg(&dir)
        .args([
            "--view",
            "axial",
            "--at",
            "56.2,86.2,-115.6",
            "--fov",
            "340",
            "--preset",
            "lung",
        ])
        .args(["--size", "256x256", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let image = support::read_png(&out);
    support::check_golden("lidc_axial_nodule", &image);
}

#[test]
fn cli_rejects_bad_arguments_without_writing() {
    let Some(dir) = margo_volume::testdata::shared_path(
        "ct/lidc-idri-0001",
        "cli_rejects_bad_arguments_without_writing",
    ) else {
        return;
    };
    let out_dir = support::diff_dir().join("cli");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("never.png");
    let _ = std::fs::remove_file(&out);
    let cases: [&[&str]; 7] = [
        &["--view", "oblique"],
        &["--view", "axial", "--normal", "0,0,1"],
        &["--view", "axial", "--size", "0x10"],
        &["--view", "axial", "--window", "40"],
        &["--view", "axial", "--preset", "dvr-bone"],
        &["--view", "axial", "--slab", "10"],
        &["--view", "axial", "--at", "0,0,5000"],
    ];
    for args in cases {
        let output = margo()
            .arg("render")
            .arg(&dir)
            .args(args)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} wrote a file");
    }
}
