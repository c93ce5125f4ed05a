//! Recently opened folders, persisted as a small JSON file under the user's config folder
//! (`$MARGO_CONFIG_DIR`, else `$XDG_CONFIG_HOME/margo`, else `~/.config/margo`). Written
//! atomically (temp file in the same folder, then rename) so a crash never leaves half a file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub const MAX_RECENT: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentFolders {
    pub folders: Vec<PathBuf>,
}

impl RecentFolders {
    /// Where the list lives, or None when no config folder can be found.
    pub fn default_path() -> Option<PathBuf> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(dir) = env("MARGO_CONFIG_DIR") {
            return Some(dir.join("recent.json"));
        }
        let base = env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config")))?;
        Some(base.join("margo").join("recent.json"))
    }

    /// Reads the list; a missing or unreadable file gives an empty list (recent folders are
    /// a convenience, never a reason to fail start-up).
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            .unwrap_or_default()
    }

    /// Moves `folder` to the front, without duplicates, keeping at most [`MAX_RECENT`].
    pub fn push(&mut self, folder: &Path) {
        let folder = folder
            .canonicalize()
            .unwrap_or_else(|_| folder.to_path_buf());
        self.folders.retain(|f| f != &folder);
        self.folders.insert(0, folder);
        self.folders.truncate(MAX_RECENT);
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self).context("serialising recent folders")?;
        write_atomically(path, &json)
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path` (creating the
/// folder first).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating folder {}", dir.display()))?;
    }
    margo_volume::atomic::write_atomic(path, bytes)
        .with_context(|| format!("saving {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_dedups_and_round_trips() {
        let dir = std::env::temp_dir().join(format!("margo-recent-{}", std::process::id()));
        let path = dir.join("sub").join("recent.json");
        let mut r = RecentFolders::default();
        for i in 0..15 {
            r.push(Path::new(&format!("/nonexistent/{i}")));
        }
        r.push(Path::new("/nonexistent/3"));
        assert_eq!(r.folders.len(), MAX_RECENT);
        assert_eq!(r.folders[0], Path::new("/nonexistent/3"));
        assert_eq!(r.folders.iter().filter(|f| f.ends_with("3")).count(), 1);
        r.save(&path).unwrap();
        assert_eq!(RecentFolders::load(&path), r);
        // Garbage on disk reads as empty, never an error.
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(RecentFolders::load(&path), RecentFolders::default());
        // No temp file left behind.
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
