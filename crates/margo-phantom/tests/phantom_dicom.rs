//! The DICOM series the phantom writes, checked by independent readers: dciodvfy (dicom3tools)
//! for IOD conformance, dcm2niix for geometry, dcmtk's dcmdjpls for the JPEG-LS stream, and
//! dicom-object for the tags. External tools that are absent are skipped with a visible line.

use std::path::{Path, PathBuf};
use std::process::Command;

use dicom_dictionary_std::tags;
use margo_phantom::dicom_out::{SeriesOptions, TransferSyntax, write_series};
use margo_phantom::{Lobe, NoduleKind, NoduleSpec, Phantom, PhantomConfig, generate};

fn phantom() -> Phantom {
    let config = PhantomConfig {
        seed: 21,
        dims: [128, 112, 12],
        spacing_mm: [2.8, 3.0, 5.0],
        centre_lps_mm: [0.0, 8.0, 10.0],
        nodules: vec![NoduleSpec {
            kind: NoduleKind::Solid,
            diameter_mm: 20.0,
            lobe: Lobe::Rll,
        }],
        ..PhantomConfig::default()
    };
    generate(&config).expect("generate")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("margo-phantom-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The independent checker `name` is installed (else a visible skip, or a failure under
/// MARGO_REQUIRE_TOOLS=1 as in CI).
fn tool(name: &str, test: &str) -> bool {
    let apt = match name {
        "dciodvfy" => "dicom3tools",
        "dcm2niix" => "dcm2niix",
        _ => "dcmtk",
    };
    margo_volume::testdata::external_tool(name, test, apt)
}

fn write(p: &Phantom, dir: &Path, ts: TransferSyntax) -> Vec<PathBuf> {
    let options = SeriesOptions {
        transfer_syntax: ts,
        ..SeriesOptions::default()
    };
    write_series(p, dir, &options).expect("write series")
}

#[test]
fn tags_geometry_and_determinism() {
    let p = phantom();
    let dir = temp_dir("tags");
    let files = write(&p, &dir, TransferSyntax::ExplicitVrLittleEndian);
    assert_eq!(files.len(), 12);
    let g = p.volume.geometry();
    let mut frame_uids = std::collections::BTreeSet::new();
    let mut sop_uids = std::collections::BTreeSet::new();
    for (k, f) in files.iter().enumerate() {
        let obj = dicom_object::open_file(f).expect("read back");
        let s = |tag| {
            obj.element(tag)
                .unwrap()
                .to_str()
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(s(tags::PATIENT_NAME), "ANON^PHANTOM");
        assert_eq!(s(tags::PATIENT_IDENTITY_REMOVED), "YES");
        assert_eq!(s(tags::MODALITY), "CT");
        assert_eq!(s(tags::SOP_CLASS_UID), "1.2.840.10008.5.1.4.1.1.2");
        assert_eq!(s(tags::IMAGE_ORIENTATION_PATIENT), "1\\0\\0\\0\\1\\0");
        assert_eq!(s(tags::PIXEL_SPACING), "3\\2.8", "row spacing first");
        assert_eq!(s(tags::RESCALE_INTERCEPT), "-1024");
        let ipp: Vec<f64> = obj
            .element(tags::IMAGE_POSITION_PATIENT)
            .unwrap()
            .to_multi_float64()
            .unwrap();
        let expected = g.world_from_ijk([0, 0, k]);
        for a in 0..3 {
            assert!(
                (ipp[a] - expected[a]).abs() < 1e-4,
                "IPP {ipp:?} vs {expected:?}"
            );
        }
        assert_eq!(
            obj.element(tags::ROWS).unwrap().to_int::<u16>().unwrap(),
            112
        );
        assert_eq!(
            obj.element(tags::COLUMNS).unwrap().to_int::<u16>().unwrap(),
            128
        );
        frame_uids.insert(s(tags::FRAME_OF_REFERENCE_UID));
        let sop = s(tags::SOP_INSTANCE_UID);
        assert!(
            sop.len() <= 64
                && sop.starts_with("2.25.")
                && sop.bytes().all(|b| b == b'.' || b.is_ascii_digit())
        );
        sop_uids.insert(sop);
        // Stored value + intercept is the HU of the volume.
        let bytes = obj.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
        let hu: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|b| (u16::from_le_bytes([b[0], b[1]]) as i32 - 1024) as i16)
            .collect();
        assert_eq!(hu.as_slice(), p.volume.slice(k).unwrap());
    }
    assert_eq!(frame_uids.len(), 1);
    assert_eq!(sop_uids.len(), 12);
    // Same phantom, same bytes.
    let again = temp_dir("tags-again");
    let files2 = write(&p, &again, TransferSyntax::ExplicitVrLittleEndian);
    for (a, b) in files.iter().zip(&files2) {
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 12);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&again).unwrap();
}

#[test]
fn dciodvfy_reports_no_errors() {
    if !tool("dciodvfy", "dciodvfy_reports_no_errors") {
        return;
    }
    let p = phantom();
    for ts in [
        TransferSyntax::ExplicitVrLittleEndian,
        TransferSyntax::JpegLsLossless,
    ] {
        if !ts.available() {
            eprintln!("dciodvfy_reports_no_errors: {ts:?} not built; skipped");
            continue;
        }
        let dir = temp_dir(&format!("dciodvfy-{ts:?}"));
        let files = write(&p, &dir, ts);
        for f in [&files[0], &files[6]] {
            let out = Command::new("dciodvfy")
                .arg(f)
                .output()
                .expect("run dciodvfy");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("Error")).collect();
            assert!(errors.is_empty(), "{ts:?} {}: {errors:#?}", f.display());
            assert!(
                text.contains("CTImage"),
                "dciodvfy did not recognise a CT image: {text}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Reads a NIfTI-1 header: dims, pixdim and the sform rows.
fn nifti_header(path: &Path) -> ([usize; 3], [f64; 3], [[f64; 4]; 3]) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        i32::from_le_bytes(b[0..4].try_into().unwrap()),
        348,
        "little-endian NIfTI-1"
    );
    let i16_at = |o: usize| i16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let f32_at = |o: usize| f32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as f64;
    let dims = [i16_at(42), i16_at(44), i16_at(46)];
    let pixdim = [f32_at(80), f32_at(84), f32_at(88)];
    let srow = |o: usize| [f32_at(o), f32_at(o + 4), f32_at(o + 8), f32_at(o + 12)];
    (dims, pixdim, [srow(280), srow(296), srow(312)])
}

#[test]
fn dcm2niix_reads_the_same_geometry() {
    if !tool("dcm2niix", "dcm2niix_reads_the_same_geometry") {
        return;
    }
    let p = phantom();
    let dir = temp_dir("dcm2niix");
    write(&p, &dir, TransferSyntax::ExplicitVrLittleEndian);
    let out = temp_dir("dcm2niix-out");
    std::fs::create_dir_all(&out).unwrap();
    let status = Command::new("dcm2niix")
        .args(["-z", "n", "-b", "n", "-f", "phantom", "-o"])
        .arg(&out)
        .arg(&dir)
        .output()
        .expect("run dcm2niix");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let (dims, pixdim, sform) = nifti_header(&out.join("phantom.nii"));
    let g = p.volume.geometry();
    let sp = g.spacing_mm();
    let mut ours: Vec<[f64; 3]> = Vec::new();
    let mut theirs: Vec<[f64; 3]> = Vec::new();
    let d = g.dims();
    assert_eq!(dims, d);
    for a in 0..3 {
        assert!(
            (pixdim[a] - sp[a]).abs() < 1e-4,
            "pixdim {pixdim:?} vs {sp:?}"
        );
    }
    for n in 0..8 {
        let ijk = [0, 1, 2].map(|a| if n & (1 << a) == 0 { 0 } else { d[a] - 1 });
        let w = g.world_from_ijk(ijk);
        ours.push([w.x, w.y, w.z]);
        let v = ijk.map(|x| x as f64);
        let ras: [f64; 3] = std::array::from_fn(|r| {
            sform[r][0] * v[0] + sform[r][1] * v[1] + sform[r][2] * v[2] + sform[r][3]
        });
        // NIfTI is RAS: x and y flip sign against LPS.
        theirs.push([-ras[0], -ras[1], ras[2]]);
    }
    // dcm2niix may flip the row order; the grid's corners (as a set) must agree.
    for o in &ours {
        assert!(
            theirs
                .iter()
                .any(|t| (0..3).all(|a| (t[a] - o[a]).abs() < 1e-3)),
            "corner {o:?} not among dcm2niix corners {theirs:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn jpeg_ls_decodes_losslessly_with_dcmtk() {
    if !TransferSyntax::JpegLsLossless.available() {
        eprintln!("jpeg_ls_decodes_losslessly_with_dcmtk: skipped: built without jpeg-ls");
        return;
    }
    let p = phantom();
    let dir = temp_dir("jpegls");
    let files = write(&p, &dir, TransferSyntax::JpegLsLossless);
    let raw_size: u64 = (128 * 112 * 2) as u64;
    assert!(
        std::fs::metadata(&files[5]).unwrap().len() < raw_size,
        "JPEG-LS did not compress"
    );
    if !tool("dcmdjpls", "jpeg_ls_decodes_losslessly_with_dcmtk") {
        return;
    }
    for (k, f) in files.iter().enumerate() {
        let decoded = dir.join(format!("decoded{k}.dcm"));
        let out = Command::new("dcmdjpls")
            .arg(f)
            .arg(&decoded)
            .output()
            .expect("run dcmdjpls");
        assert!(
            out.status.success(),
            "dcmdjpls {}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let obj = dicom_object::open_file(&decoded).expect("read decoded");
        let bytes = obj.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
        let hu: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|b| (u16::from_le_bytes([b[0], b[1]]) as i32 - 1024) as i16)
            .collect();
        assert_eq!(
            hu.as_slice(),
            p.volume.slice(k).unwrap(),
            "slice {k} differs after JPEG-LS"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
