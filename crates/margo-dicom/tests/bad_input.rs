//! Bad input, built in temporary folders from copies of the shared data (inputs are never
//! modified): every case ends in a clear error or warning, never a panic.

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::open_file;
use margo_dicom::{DicomError, load_series, no_progress, open_ct, scan_folder};
use margo_volume::testdata::shared_path;

/// The LIDC slices in z order (file names are not in z order), most inferior first.
fn lidc_files_in_z_order(lidc: &Path) -> Vec<PathBuf> {
    let report = scan_folder(lidc).unwrap();
    report.series[0].files()
}

fn copy_into(dir: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| {
            let to = dir.join(f.file_name().unwrap());
            std::fs::copy(f, &to).unwrap();
            to
        })
        .collect()
}

/// Rewrites `file` in place (a temp copy) after `edit`.
fn edit_copy(file: &Path, edit: impl FnOnce(&mut dicom_object::DefaultDicomObject)) {
    let mut obj = open_file(file).unwrap();
    edit(&mut obj);
    obj.write_to_file(file).unwrap();
}

fn lidc(test: &str) -> Option<PathBuf> {
    shared_path("ct/lidc-idri-0001", test)
}

#[test]
fn truncated_slice_is_skipped_with_its_reason() {
    let Some(lidc) = lidc("truncated_slice_is_skipped_with_its_reason") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let z = lidc_files_in_z_order(&lidc);
    let copies = copy_into(tmp.path(), &z[..5]);
    // Truncate the top slice to half its size: the rest still forms a regular stack.
    let top = &copies[4];
    let len = std::fs::metadata(top).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(top)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let ct = open_ct(tmp.path()).unwrap();
    assert_eq!(ct.volume.dims(), [512, 512, 4]);
    assert_eq!(ct.meta.skipped.len(), 1);
    assert_eq!(ct.meta.skipped[0].path, *top);
    assert!(
        ct.meta.skipped[0].reason.contains("truncated"),
        "{:?}",
        ct.meta.skipped
    );

    // Truncated in the middle instead: the gap is refused, naming the neighbours.
    let tmp = tempfile::tempdir().unwrap();
    let copies = copy_into(tmp.path(), &z[..5]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&copies[2])
        .unwrap()
        .set_len(1000)
        .unwrap();
    match open_ct(tmp.path()) {
        Err(DicomError::InconsistentSpacing {
            first,
            second,
            gap_mm,
            expected_mm,
            ..
        }) => {
            assert_eq!((first, second), (copies[1].clone(), copies[3].clone()));
            assert!((gap_mm - 5.0).abs() < 1e-6 && (expected_mm - 2.5).abs() < 1e-6);
        }
        other => panic!("expected InconsistentSpacing, got {other:?}"),
    }
}

#[test]
fn wrong_pixel_data_length_is_a_named_error() {
    let Some(dir) = shared_path("dicom-variety", "wrong_pixel_data_length_is_a_named_error") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let copy = copy_into(tmp.path(), &[dir.join("ct-small-128_explicit-le.dcm")]).remove(0);
    // Claim 130 rows: the 128 x 128 pixel data is now too short (but the file is not).
    edit_copy(&copy, |o| {
        o.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(130u16),
        ));
    });
    match open_ct(tmp.path()) {
        Err(DicomError::PixelDataLength {
            path,
            expected_bytes,
            found_bytes,
            ..
        }) => {
            assert_eq!(path, copy);
            assert_eq!(expected_bytes, 130 * 128 * 2);
            assert_eq!(found_bytes, 128 * 128 * 2);
        }
        other => panic!("expected PixelDataLength, got {other:?}"),
    }
}

#[test]
fn missing_tags_are_named() {
    let Some(lidc) = lidc("missing_tags_are_named") else {
        return;
    };
    let z = lidc_files_in_z_order(&lidc);

    // No Rows: the file is skipped, the others load.
    let tmp = tempfile::tempdir().unwrap();
    let copies = copy_into(tmp.path(), &z[..3]);
    edit_copy(&copies[2], |o| {
        o.remove_element(tags::ROWS);
    });
    let ct = open_ct(tmp.path()).unwrap();
    assert_eq!(ct.volume.dims()[2], 2);
    assert!(
        ct.meta.skipped[0].reason.contains("Rows"),
        "{:?}",
        ct.meta.skipped
    );

    // No ImagePositionPatient on one slice of several: cannot sort.
    let tmp = tempfile::tempdir().unwrap();
    let copies = copy_into(tmp.path(), &z[..3]);
    edit_copy(&copies[1], |o| {
        o.remove_element(tags::IMAGE_POSITION_PATIENT);
    });
    match open_ct(tmp.path()) {
        Err(DicomError::CannotSort { path, .. }) => assert_eq!(path, copies[1]),
        other => panic!("expected CannotSort, got {other:?}"),
    }

    // No PixelData at all: caught by the scan's size check, reported as skipped.
    let tmp = tempfile::tempdir().unwrap();
    let copies = copy_into(tmp.path(), &z[..1]);
    edit_copy(&copies[0], |o| {
        o.remove_element(tags::PIXEL_DATA);
    });
    match open_ct(tmp.path()) {
        Err(DicomError::NoLoadableImages { skipped, .. }) => {
            assert_eq!(skipped[0].path, copies[0]);
            assert!(skipped[0].reason.contains("without pixel data"));
        }
        other => panic!("expected NoLoadableImages, got {other:?}"),
    }
}

#[test]
fn gantry_tilt_and_duplicates_are_refused() {
    let Some(lidc) = lidc("gantry_tilt_and_duplicates_are_refused") else {
        return;
    };
    let z = lidc_files_in_z_order(&lidc);

    // Shift each slice in y by 0.5 mm per slice: a sheared stack (~11 degrees at 2.5 mm).
    let tmp = tempfile::tempdir().unwrap();
    let copies = copy_into(tmp.path(), &z[..4]);
    for (n, c) in copies.iter().enumerate() {
        edit_copy(c, |o| {
            let ipp: Vec<f64> = o
                .element(tags::IMAGE_POSITION_PATIENT)
                .unwrap()
                .to_multi_float64()
                .unwrap();
            let moved = format!("{}\\{}\\{}", ipp[0], ipp[1] + 0.5 * n as f64, ipp[2]);
            o.put(DataElement::new(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                PrimitiveValue::from(moved),
            ));
        });
    }
    match open_ct(tmp.path()) {
        Err(DicomError::GantryTilt {
            first,
            last,
            tilt_deg,
            ..
        }) => {
            assert_eq!(first, copies[0]);
            assert_eq!(last, copies[3]);
            assert!(
                (tilt_deg - 0.5f64.atan2(2.5).to_degrees()).abs() < 0.01,
                "{tilt_deg}"
            );
        }
        other => panic!("expected GantryTilt, got {other:?}"),
    }

    // The same position twice (a second acquisition copied in with a new SOP instance UID).
    let tmp = tempfile::tempdir().unwrap();
    let copies = copy_into(tmp.path(), &z[..2]);
    let dup = tmp.path().join("duplicate.dcm");
    std::fs::copy(&copies[0], &dup).unwrap();
    edit_copy(&dup, |o| {
        o.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4.5.6.7.8.9"),
        ));
    });
    match open_ct(tmp.path()) {
        Err(DicomError::DuplicateSlicePosition { first, second, .. }) => {
            let mut got = [first, second];
            got.sort();
            let mut want = [copies[0].clone(), dup];
            want.sort();
            assert_eq!(got, want);
        }
        other => panic!("expected DuplicateSlicePosition, got {other:?}"),
    }
}

#[test]
fn mixed_folder_loads_the_largest_ct_and_lists_the_rest() {
    let (Some(lidc), Some(variety)) = (
        lidc("mixed_folder_loads_the_largest_ct"),
        shared_path("dicom-variety", "mixed_folder_loads_the_largest_ct"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let z = lidc_files_in_z_order(&lidc);
    copy_into(tmp.path(), &z[..3]);
    let sub = tmp.path().join("other");
    std::fs::create_dir(&sub).unwrap();
    copy_into(
        &sub,
        &[
            variety.join("ct-small-128_explicit-le.dcm"),
            variety.join("ct-chest-ge-400x512_jpeg-lossless-p14-sv1.dcm"),
            variety.join("enhanced-mr-10frame_rle-lossless.dcm"),
        ],
    );
    std::fs::write(sub.join("notes.txt"), "not dicom").unwrap();
    std::fs::write(sub.join("empty.dcm"), b"").unwrap();
    let report = scan_folder(tmp.path()).unwrap();
    assert_eq!(report.series.len(), 4);
    assert_eq!(report.ignored.len(), 2);
    // Largest CT first, localizer last among CT, MR flagged.
    assert_eq!(report.series[0].dims, [512, 512, 3]);
    assert!(report.series.iter().any(|s| s.is_localizer));
    assert!(report.series.iter().any(|s| !s.is_ct && s.modality == "MR"));
    let ct = open_ct(tmp.path()).unwrap();
    assert_eq!(ct.volume.dims(), [512, 512, 3]);
}

#[test]
fn folder_without_ct() {
    let Some(variety) = shared_path("dicom-variety", "folder_without_ct") else {
        return;
    };
    // Nothing DICOM at all.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("readme.txt"), "hello").unwrap();
    match open_ct(tmp.path()) {
        Err(DicomError::NoLoadableImages { ignored: 1, .. }) => {}
        other => panic!("expected NoLoadableImages, got {other:?}"),
    }

    // One MR series only: loads, flagged non-CT.
    let tmp = tempfile::tempdir().unwrap();
    let mr = copy_into(
        tmp.path(),
        &[variety.join("enhanced-mr-10frame_explicit-be.dcm")],
    );
    let loaded = open_ct(tmp.path()).unwrap();
    assert!(!loaded.meta.is_ct);

    // Two MR series and no CT: refused, listing what was found.
    let second = tmp.path().join("second.dcm");
    std::fs::copy(&mr[0], &second).unwrap();
    edit_copy(&second, |o| {
        o.put(DataElement::new(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4.5.6.7.8.10"),
        ));
        o.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4.5.6.7.8.11"),
        ));
    });
    match open_ct(tmp.path()) {
        Err(DicomError::NoCtSeries { found, .. }) => assert!(found.contains("MR")),
        other => panic!("expected NoCtSeries, got {other:?}"),
    }
}

#[test]
fn unreadable_and_garbage_files_are_skipped_not_fatal() {
    let Some(variety) = shared_path("dicom-variety", "unreadable_and_garbage_files") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    copy_into(tmp.path(), &[variety.join("ct-small-128_explicit-le.dcm")]);
    // A Part 10 preamble and magic followed by garbage.
    let mut garbage = vec![0u8; 128];
    garbage.extend_from_slice(b"DICM");
    garbage.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
    std::fs::write(tmp.path().join("garbage.dcm"), garbage).unwrap();
    // Random bytes without a preamble: not DICOM, ignored.
    std::fs::write(tmp.path().join("random.bin"), [0xFFu8; 300]).unwrap();
    // An unreadable sub-folder (only effective when not running as root).
    let locked = tmp.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o000);
    let report = scan_folder(tmp.path()).unwrap();
    set_mode(&locked, 0o755);
    assert_eq!(report.series.len(), 1);
    let garbage = report
        .skipped
        .iter()
        .find(|s| s.path.ends_with("garbage.dcm"))
        .expect("garbage.dcm reported");
    assert!(garbage.reason.contains("garbage.dcm"), "{}", garbage.reason);
    assert!(report.ignored.iter().any(|p| p.ends_with("random.bin")));
    let loaded = load_series(&report.series[0], &no_progress).unwrap();
    assert_eq!(loaded.volume.dims(), [128, 128, 1]);
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

#[test]
fn every_truncation_of_a_file_fails_cleanly() {
    let Some(variety) = shared_path("dicom-variety", "every_truncation_of_a_file_fails_cleanly")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "ct-small-128_explicit-le.dcm",
        "enhanced-mr-10frame_rle-lossless.dcm",
        "wg04-ct2_j2k-lossless.dcm",
        "ct-lumbar-siemens_acr-nema2_no-preamble-no-meta_implicit-le.dcm",
    ] {
        let bytes = std::fs::read(variety.join(name)).unwrap();
        let path = tmp.path().join(name);
        // Cut points through the header, the pixel data and near the end.
        let n = bytes.len();
        for cut in [
            0,
            3,
            100,
            131,
            132,
            140,
            400,
            1000,
            n / 3,
            n / 2,
            n - 100,
            n - 1,
        ] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let report = scan_folder(tmp.path()).unwrap();
            for s in &report.series {
                // Must either load or fail with an error; never panic.
                let _ = load_series(s, &no_progress);
            }
        }
    }
}

#[test]
fn loading_does_not_modify_inputs() {
    let Some(lidc) = lidc("loading_does_not_modify_inputs") else {
        return;
    };
    let snapshot = |dir: &Path| -> Vec<(PathBuf, u64, std::time::SystemTime, u64)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let m = std::fs::metadata(&p).unwrap();
                let bytes = std::fs::read(&p).unwrap();
                // FNV-1a: enough to see any change.
                let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
                });
                (p, m.len(), m.modified().unwrap(), hash)
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&lidc);
    open_ct(&lidc).unwrap();
    assert_eq!(before, snapshot(&lidc));
    if let Some(variety) = shared_path("dicom-variety", "loading_does_not_modify_inputs") {
        let before = snapshot(&variety);
        let report = scan_folder(&variety).unwrap();
        for s in &report.series {
            let _ = load_series(s, &no_progress);
        }
        assert_eq!(before, snapshot(&variety));
    }
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    let Some(variety) = shared_path("dicom-variety", "absurd_dimensions_are_refused") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let copy = copy_into(tmp.path(), &[variety.join("wg04-ct2_j2k-lossless.dcm")]).remove(0);
    // A compressed file can claim any size without being short: 8192 x 8192 (the largest
    // matrix the scan accepts) x 1000 frames.
    edit_copy(&copy, |o| {
        o.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(8192u16),
        ));
        o.put(DataElement::new(
            tags::COLUMNS,
            VR::US,
            PrimitiveValue::from(8192u16),
        ));
        o.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from("1000"),
        ));
        // No plane geometry: the frames form an (unplaced) stack, so loading is attempted.
        o.remove_element(tags::IMAGE_POSITION_PATIENT);
        o.remove_element(tags::IMAGE_ORIENTATION_PATIENT);
    });
    let report = scan_folder(tmp.path()).unwrap();
    match load_series(&report.series[0], &no_progress) {
        Err(DicomError::AllocateVolume { dims }) => assert_eq!(dims[0], 8192),
        other => panic!(
            "expected AllocateVolume, got {:?}",
            other.map(|l| l.volume.dims())
        ),
    }
}

/// Corrupted bytes anywhere (header lengths, VRs, transfer syntax, pixel data, encapsulated
/// fragments) in every file of the variety folder: scanning and loading end in a result or an
/// error, never a panic. Deterministic: each mutation is named by file and seed.
#[test]
fn corrupted_bytes_in_every_variety_file_never_panic() {
    let Some(variety) = shared_path(
        "dicom-variety",
        "corrupted_bytes_in_every_variety_file_never_panic",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&variety)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{} files", names.len());
    // xorshift64*: a fixed sequence, so a failure names a reproducible mutation.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for file in &names {
        let bytes = std::fs::read(file).unwrap();
        let n = bytes.len();
        for seed in 0..10u32 {
            let mut b = bytes.clone();
            // Half the mutations hit the first 2 KiB (meta and dataset header: lengths, VRs,
            // UIDs), the others anywhere (pixel data, fragments, trailing elements).
            let region = if seed % 2 == 0 { n.min(2048) } else { n };
            let flips = 1 + (next() % 8) as usize;
            for _ in 0..flips {
                let at = (next() % region as u64) as usize;
                b[at] ^= 1 << (next() % 8);
            }
            let path = tmp.path().join("mutated.dcm");
            std::fs::write(&path, &b).unwrap();
            let outcome = std::panic::catch_unwind(|| {
                if let Ok(report) = scan_folder(tmp.path()) {
                    for s in &report.series {
                        let _ = load_series(s, &no_progress);
                    }
                }
            });
            assert!(
                outcome.is_ok(),
                "{} mutated with seed {seed} ({flips} bit flips) panicked",
                file.display()
            );
        }
    }
}

/// A length field flipped to ~4 GiB is refused from the element headers, before the parser
/// reserves and zero-fills that much memory (it did: seconds and gigabytes per such file).
#[test]
fn a_corrupted_length_is_refused_before_anything_is_allocated() {
    let Some(variety) = shared_path(
        "dicom-variety",
        "a_corrupted_length_is_refused_before_anything_is_allocated",
    ) else {
        return;
    };
    let mut bytes = std::fs::read(variety.join("ct-small-128_explicit-le.dcm")).unwrap();
    // Modality (0008,0060) CS: make it an OB element of 0xFFFFFF00 bytes.
    let at = bytes
        .windows(6)
        .position(|w| w == [0x08, 0x00, 0x60, 0x00, b'C', b'S'])
        .expect("Modality element");
    bytes.splice(at + 4..at + 8, [b'O', b'B', 0, 0, 0x00, 0xFF, 0xFF, 0xFF]);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x.dcm"), &bytes).unwrap();
    let report = scan_folder(tmp.path()).unwrap();
    assert!(report.series.is_empty());
    let reason = &report.skipped[0].reason;
    assert!(
        reason.contains("(0008,0060)") && reason.contains("corrupted length"),
        "{reason}"
    );
}

/// A compressed slice whose header claims a 40000 x 40000 matrix is refused at scan time (its
/// decoder used to reserve 3 GB for the frame before failing).
#[test]
fn an_absurd_matrix_size_is_refused_at_scan_time() {
    let Some(variety) = shared_path(
        "dicom-variety",
        "an_absurd_matrix_size_is_refused_at_scan_time",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("a.dcm");
    std::fs::copy(variety.join("wg04-ct1_j2k-lossless.dcm"), &copy).unwrap();
    edit_copy(&copy, |obj| {
        for tag in [tags::ROWS, tags::COLUMNS] {
            obj.put(DataElement::new(
                tag,
                VR::US,
                PrimitiveValue::from(40000u16),
            ));
        }
    });
    let report = scan_folder(tmp.path()).unwrap();
    assert!(report.series.is_empty());
    let reason = &report.skipped[0].reason;
    assert!(
        reason.contains("40000 x 40000") && reason.contains("8192"),
        "{reason}"
    );
}
