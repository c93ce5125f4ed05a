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

/// Whether the external program `name` (an independent checker such as dciodvfy or dcm2niix)
/// is on the PATH. When it is not, prints a skip line naming `test` and how to install it and
/// returns `false`, or panics when `MARGO_REQUIRE_TOOLS=1` (CI installs them and sets it, so a
/// check can never silently stop running there).
pub fn external_tool(name: &str, test: &str, apt_package: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths)
            .any(|dir| std::fs::metadata(dir.join(name)).is_ok_and(|m| m.is_file()))
    });
    if !found {
        if std::env::var("MARGO_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{test}: {name} (apt {apt_package}) is missing and MARGO_REQUIRE_TOOLS=1");
        }
        eprintln!("{test}: skipped: {name} not installed (apt-get install {apt_package})");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_tool_finds_programs_on_the_path_only() {
        // `sh` exists on every machine the tests run on; the other name cannot.
        assert!(external_tool("sh", "external_tool_test", "dash"));
        if std::env::var("MARGO_REQUIRE_TOOLS").as_deref() != Ok("1") {
            assert!(!external_tool(
                "margo-no-such-tool-7f3a",
                "external_tool_test",
                "none"
            ));
        }
    }
}
