//! The one place the app talks to margo-dicom: scan a folder into series choices, load one
//! into a [`Case`]. Progress is reported as (stage, done, total); `cancel` stops the work.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};

use super::case::{Case, SeriesChoice, SkippedFile};

/// Result of scanning a folder: what the picker lists, plus what `load` needs.
pub struct ScannedFolder {
    pub choices: Vec<SeriesChoice>,
    pub skipped: Vec<SkippedFile>,
    folder: std::path::PathBuf,
}

pub fn scan(
    folder: &Path,
    progress: &dyn Fn(&'static str, usize, usize),
    cancel: &AtomicBool,
) -> anyhow::Result<ScannedFolder> {
    progress("Scanning", 0, 0);
    let meta = std::fs::metadata(folder)
        .with_context(|| format!("cannot open folder {}", folder.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a folder", folder.display());
    }
    if cancel.load(Ordering::Relaxed) {
        bail!("cancelled");
    }
    Ok(ScannedFolder {
        choices: Vec::new(),
        skipped: Vec::new(),
        folder: folder.to_path_buf(),
    })
    .and_then(|s| {
        if s.choices.is_empty() {
            bail!(
                "no CT series found in {} (DICOM reading is not wired into this build yet)",
                s.folder.display()
            )
        }
        Ok(s)
    })
}

pub fn load(
    found: &ScannedFolder,
    index: usize,
    progress: &dyn Fn(&'static str, usize, usize),
    cancel: &AtomicBool,
) -> anyhow::Result<Case> {
    progress("Loading", 0, 0);
    if cancel.load(Ordering::Relaxed) {
        bail!("cancelled");
    }
    bail!(
        "series {index} of {} cannot be loaded: DICOM reading is not wired into this build yet",
        found.folder.display()
    )
}
