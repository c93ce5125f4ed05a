//! The fast path against OpenJPEG (through dicom-pixeldata) and against uncompressed
//! references, on real CT codestreams; and its behaviour on damaged streams.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::open_file;
use dicom_pixeldata::PixelDecoder;
use margo_volume::testdata::shared_path;

use super::block::Isa;
use super::{Fallback, Scratch, decode_into};

/// Frame 0 of a single-frame file: (codestream, rows, cols).
fn codestream(path: &Path) -> (Vec<u8>, usize, usize) {
    let obj = open_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = usize::from(obj.element(tags::ROWS).unwrap().to_int::<u16>().unwrap());
    let cols = usize::from(obj.element(tags::COLUMNS).unwrap().to_int::<u16>().unwrap());
    let fragments = obj
        .element(tags::PIXEL_DATA)
        .unwrap()
        .fragments()
        .expect("encapsulated pixel data");
    (fragments.iter().flatten().copied().collect(), rows, cols)
}

/// OpenJPEG's samples for frame 0, as 16-bit words.
fn openjpeg_samples(path: &Path) -> Vec<u16> {
    let obj = open_file(path).unwrap();
    let decoded = obj.decode_pixel_data_frame(0).unwrap();
    decoded
        .data()
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// A scratch whose tier-1 uses the passes built for the baseline instruction set, even on a
/// CPU with BMI2 (where the default takes the BMI2 build).
fn portable_scratch() -> Scratch {
    let mut scratch = Scratch::default();
    scratch.block.max_build = Isa::Baseline;
    scratch
}

/// A scratch whose tier-1 uses the BMI2 passes even on a CPU with AVX-512BW (where the
/// default takes the AVX-512 build).
fn bmi2_scratch() -> Scratch {
    let mut scratch = Scratch::default();
    scratch.block.max_build = Isa::Bmi2;
    scratch
}

/// Decodes frame 0 with the fast path; when it takes the stream, checks it equals OpenJPEG
/// (and that the three instruction-set builds of tier-1 give the same samples).
fn fast_equals_openjpeg(path: &Path) -> Result<Vec<u16>, Fallback> {
    let (stream, rows, cols) = codestream(path);
    let mut out = vec![0u16; rows * cols];
    decode_into(&stream, rows, cols, &mut out, &mut Scratch::default())?;
    for (name, mut scratch) in [("baseline", portable_scratch()), ("BMI2", bmi2_scratch())] {
        let mut other = vec![0u16; rows * cols];
        decode_into(&stream, rows, cols, &mut other, &mut scratch)?;
        assert!(
            out == other,
            "{}: the default and {name} builds of tier-1 differ",
            path.display()
        );
    }
    let reference = openjpeg_samples(path);
    let differing = out.iter().zip(&reference).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing,
        0,
        "{}: {differing} samples differ from OpenJPEG",
        path.display()
    );
    Ok(out)
}

/// Stored values of an uncompressed 16-bit little-endian file (read by our reader, which
/// accepts the WG04 files' quirky meta group).
fn native_samples(path: &Path) -> Vec<u16> {
    let file = crate::read::read_file(path, crate::read::ReadExtent::All)
        .unwrap()
        .unwrap();
    let bytes = file
        .obj()
        .element(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap();
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

#[test]
fn variety_j2k_lossless_takes_the_fast_path_and_equals_the_uncompressed_reference() {
    let test = "variety_j2k_lossless_takes_the_fast_path_and_equals_the_uncompressed_reference";
    let Some(dir) = shared_path("dicom-variety", test) else {
        return;
    };
    for (j2k, reference) in [
        (
            "ct-chest-ge_j2k-lossless.dcm",
            "ct-chest-ge_explicit-vr-le.dcm",
        ),
        (
            "wg04-ct1_j2k-lossless.dcm",
            "wg04-ct1_uncompressed-explicit-le.dcm",
        ),
        (
            "wg04-ct2_j2k-lossless.dcm",
            "wg04-ct2_uncompressed-explicit-le.dcm",
        ),
    ] {
        let fast = fast_equals_openjpeg(&dir.join(j2k))
            .unwrap_or_else(|f| panic!("{j2k}: fast path declined: {}", f.0));
        assert!(
            fast == native_samples(&dir.join(reference)),
            "{j2k} differs from {reference}"
        );
    }
}

#[test]
fn variety_j2k_lossy_falls_back_or_equals_openjpeg() {
    let test = "variety_j2k_lossy_falls_back_or_equals_openjpeg";
    let Some(dir) = shared_path("dicom-variety", test) else {
        return;
    };
    for name in [
        "ct-chest-ge_j2k-lossy.dcm",
        "wg04-ct1_j2k-lossy.dcm",
        "wg04-ct2_j2k-lossy.dcm",
    ] {
        // Irreversible (9/7) or truncated reversible streams: OpenJPEG decodes them.
        match fast_equals_openjpeg(&dir.join(name)) {
            Err(Fallback(reason)) => eprintln!("{name}: falls back: {reason}"),
            Ok(_) => eprintln!("{name}: fast path, equal to OpenJPEG"),
        }
    }
}

/// LIDC-IDRI-0001 slices compressed by gdcm (`gdcmconv --j2k`, OpenJPEG's encoder, as the
/// loading benchmark does): the fast path must give the uncompressed stored values exactly.
#[test]
fn lidc_slices_compressed_by_gdcmconv_decode_exactly() {
    let test = "lidc_slices_compressed_by_gdcmconv_decode_exactly";
    let Some(dir) = shared_path("ct/lidc-idri-0001", test) else {
        return;
    };
    if !margo_volume::testdata::external_tool("gdcmconv", test, "libgdcm-tools") {
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 100,
        "{}: {} files",
        dir.display(),
        files.len()
    );
    let tmp = tempfile::tempdir().unwrap();
    // Every 9th slice: apex to base, air, lung, soft tissue and bone.
    for (i, src) in files.iter().enumerate().step_by(9) {
        let j2k = tmp.path().join(format!("{i}.dcm"));
        let status = std::process::Command::new("gdcmconv")
            .arg("--j2k")
            .arg(src)
            .arg(&j2k)
            .status()
            .unwrap();
        assert!(status.success(), "gdcmconv --j2k {}", src.display());
        let fast = fast_equals_openjpeg(&j2k)
            .unwrap_or_else(|f| panic!("{}: fast path declined: {}", src.display(), f.0));
        assert!(
            fast == native_samples(src),
            "{}: decoded J2K differs from the uncompressed slice",
            src.display()
        );
    }
}

/// Odd-sized images: code-blocks whose last stripe has 1 to 3 rows and stripe rows that end
/// inside a 16-column group (the LIDC and variety files, 512 x 512 with 64 x 64 code-blocks,
/// have neither). Crops of an LIDC slice, compressed by `gdcmimg` + `gdcmconv --j2k` in the
/// test, must decode to the cropped stored values in every instruction-set build of tier-1.
#[test]
fn odd_sized_crops_compressed_by_gdcmconv_decode_exactly() {
    let test = "odd_sized_crops_compressed_by_gdcmconv_decode_exactly";
    let Some(src) = shared_path("ct/lidc-idri-0001/000060.dcm", test) else {
        return;
    };
    for tool in ["gdcmimg", "gdcmconv"] {
        if !margo_volume::testdata::external_tool(tool, test, "libgdcm-tools") {
            return;
        }
    }
    let slice = native_samples(&src);
    assert_eq!(slice.len(), 512 * 512, "{}", src.display());
    let tmp = tempfile::tempdir().unwrap();
    // (columns, rows, first column, first row): lung and mediastinum, a thin strip, a small
    // image (gdcmconv refuses much smaller ones).
    for (cols, rows, x0, y0) in [(301, 187, 101, 163), (97, 35, 200, 240), (37, 19, 250, 250)] {
        let crop: Vec<u16> = (y0..y0 + rows)
            .flat_map(|y| slice[y * 512 + x0..y * 512 + x0 + cols].iter().copied())
            .collect();
        let raw = tmp.path().join(format!("{cols}x{rows}.raw"));
        std::fs::write(
            &raw,
            crop.iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let plain = tmp.path().join(format!("{cols}x{rows}.dcm"));
        let j2k = tmp.path().join(format!("{cols}x{rows}_j2k.dcm"));
        let size = format!("{cols},{rows}");
        let status = std::process::Command::new("gdcmimg")
            .args(["--size", &size, "--depth", "16", "--sign", "1", "-i"])
            .arg(&raw)
            .arg("-o")
            .arg(&plain)
            .status()
            .unwrap();
        assert!(status.success(), "gdcmimg {}", raw.display());
        let status = std::process::Command::new("gdcmconv")
            .arg("--j2k")
            .arg(&plain)
            .arg(&j2k)
            .status()
            .unwrap();
        assert!(status.success(), "gdcmconv --j2k {}", plain.display());
        let fast = fast_equals_openjpeg(&j2k)
            .unwrap_or_else(|f| panic!("{cols} x {rows}: fast path declined: {}", f.0));
        assert!(
            fast == crop,
            "{cols} x {rows}: decoded J2K differs from the crop"
        );
    }
}

/// Truncated and bit-flipped streams: no panic, and never a silent partial result for a
/// truncated one (it falls back, so OpenJPEG names the error); with each instruction-set
/// build of tier-1.
#[test]
fn damaged_streams_fall_back_or_decode_without_panicking() {
    let test = "damaged_streams_fall_back_or_decode_without_panicking";
    let Some(path) = shared_path("dicom-variety/wg04-ct2_j2k-lossless.dcm", test) else {
        return;
    };
    let (stream, rows, cols) = codestream(&path);
    let mut out = vec![0u16; rows * cols];
    let mut cuts = 0;
    let mut flips = 0;
    for mut scratch in [Scratch::default(), portable_scratch(), bmi2_scratch()] {
        for len in (0..stream.len() - 64).step_by(stream.len() / 97) {
            let r = decode_into(&stream[..len], rows, cols, &mut out, &mut scratch);
            assert!(r.is_err(), "stream cut to {len} bytes decoded");
            cuts += 1;
        }
        for pos in (0..stream.len()).step_by(stream.len() / 211) {
            for bit in [0x01u8, 0x80, 0xFF] {
                let mut damaged = stream.clone();
                damaged[pos] ^= bit;
                let _ = decode_into(&damaged, rows, cols, &mut out, &mut scratch);
                flips += 1;
            }
        }
        // Header fields set to extremes.
        for pos in 0..160.min(stream.len()) {
            for v in [0x00u8, 0xFF] {
                let mut damaged = stream.clone();
                damaged[pos] = v;
                let _ = decode_into(&damaged, rows, cols, &mut out, &mut scratch);
            }
        }
    }
    assert!(cuts > 180 && flips > 1200);
}

/// Not a test: single-thread timing of raw codestreams in `MARGO_J2K_BENCH_DIR` (*.j2k, e.g.
/// the pixel data of bench/load.sh's lidc-j2k copy extracted with `gdcmraw`), e.g.
/// `MARGO_J2K_BENCH_DIR=dir cargo test --release -p margo-dicom --lib j2k_timing -- --ignored
/// --nocapture`. Each slice is decoded alternately with the default (AVX-512 where the CPU has
/// it), BMI2 and baseline builds of tier-1, `MARGO_J2K_BENCH_REPS` times (default 5); per build it prints the sum over slices of
/// each slice's fastest time, divided by the slice count: the other jobs of a shared machine
/// (which only ever add time) mostly drop out.
#[test]
#[ignore]
fn j2k_timing() {
    let Ok(dir) = std::env::var("MARGO_J2K_BENCH_DIR") else {
        return;
    };
    let reps: usize = std::env::var("MARGO_J2K_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mut streams: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "j2k"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    streams.sort();
    let mut out = vec![0u16; 512 * 512];
    let mut builds = [
        ("default", Scratch::default()),
        ("BMI2", bmi2_scratch()),
        ("baseline", portable_scratch()),
    ];
    let mut fastest = vec![[f64::MAX; 3]; streams.len()];
    for _ in 0..reps {
        for (s, best) in streams.iter().zip(&mut fastest) {
            for (b, (_, scratch)) in builds.iter_mut().enumerate() {
                let t = std::time::Instant::now();
                decode_into(s, 512, 512, &mut out, scratch).unwrap();
                best[b] = best[b].min(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    for (b, (name, _)) in builds.iter().enumerate() {
        let sum: f64 = fastest.iter().map(|f| f[b]).sum();
        eprintln!(
            "{name} tier-1 build: {:.2} ms per slice ({} slices, fastest of {reps} each)",
            sum / streams.len() as f64,
            streams.len()
        );
    }
}
