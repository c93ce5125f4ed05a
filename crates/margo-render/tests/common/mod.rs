//! Shared helpers of the GPU tests.
#![allow(dead_code)]

use margo_render::{RenderError, Renderer};

/// A headless renderer, or `None` with a visible skip line when the machine has no GPU adapter
/// at all (CI has lavapipe, so there the tests run). `MARGO_REQUIRE_GPU=1` makes absence a failure.
pub fn renderer(test: &str) -> Option<Renderer> {
    match Renderer::new_headless() {
        Ok(r) => Some(r),
        Err(e) => skip_without_adapter(test, e),
    }
}

/// The skip line for `e` when it says the machine has no GPU adapter (a failure under
/// `MARGO_REQUIRE_GPU=1`); any other error fails the test.
pub fn skip_without_adapter<T>(test: &str, e: RenderError) -> Option<T> {
    match e {
        RenderError::RequestAdapter { .. } => {
            if std::env::var("MARGO_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("{test}: no GPU adapter and MARGO_REQUIRE_GPU=1: {e}");
            }
            eprintln!("{test}: skipped: no GPU adapter ({e})");
            None
        }
        e => panic!("{test}: could not open the GPU device: {e}"),
    }
}

/// Deterministic hash noise in [0, 1).
pub fn noise(i: usize, j: usize, k: usize) -> f64 {
    let mut h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (k as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Debug aid: writes a binary PPM (convert with ImageMagick).
pub fn dump_ppm(img: &margo_render::RgbaImage, path: &str) {
    let mut out = format!("P6 {} {} 255\n", img.width, img.height).into_bytes();
    for p in img.pixels.chunks(4) {
        out.extend_from_slice(&p[..3]);
    }
    std::fs::write(path, out).unwrap();
}
