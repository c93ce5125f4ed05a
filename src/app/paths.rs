//! Where the app saves what the user asks it to save by default: plans, reports, screenshots
//! and view PNGs. `$MARGO_DOCUMENTS_DIR`, else `~/Documents/Margo` (kept across reboots, where a
//! radiologist looks for documents), else the temporary folder when no home folder is known.
//! The folder is created on the first save.

use std::path::PathBuf;

/// The default save folder for this user (see the module docs).
pub fn default_documents_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("MARGO_DOCUMENTS_DIR")
        .or_else(|| env("HOME").map(|h| h.join("Documents").join("Margo")))
        .unwrap_or_else(|| std::env::temp_dir().join("margo"))
}

/// A file name made of the current time in seconds, for screenshots: `{stem}-{secs}.png`.
pub fn timestamped_png(stem: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{stem}-{secs}.png")
}
