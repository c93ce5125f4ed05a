//! Locating the shared real-data folder (`../shared` beside the checkout) from tests.
//!
//! Tests that need real data call [`shared_path`]. It honours `MARGO_SHARED_DIR`, else looks for
//! `shared/` beside the workspace root. When the data is absent it prints a visible
//! "skipped: no shared data" line and returns `None`, unless `MARGO_REQUIRE_SHARED=1`, in which
//! case the absence is a test failure (CI sets it).

use std::path::PathBuf;

/// The shared data folder, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MARGO_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        // CARGO_MANIFEST_DIR is <workspace>/crates/margo-volume.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    dir.is_dir().then_some(dir)
}

/// `<shared>/<relative>` if it exists. Otherwise prints a skip line naming `test` and returns
/// `None`, or panics when `MARGO_REQUIRE_SHARED=1`.
pub fn shared_path(relative: &str, test: &str) -> Option<PathBuf> {
    let found = shared_dir()
        .map(|d| d.join(relative))
        .filter(|p| p.exists());
    if found.is_none() {
        if std::env::var("MARGO_REQUIRE_SHARED").as_deref() == Ok("1") {
            panic!("{test}: shared data '{relative}' is missing and MARGO_REQUIRE_SHARED=1");
        }
        eprintln!("{test}: skipped: no shared data ({relative})");
    }
    found
}
