//! The one place the app talks to margo-dicom: scan a folder into series choices, load one
//! into a [`Case`]. Progress is reported as (stage, done, total); `cancel` stops the work.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use margo_dicom::{LoadProgress, ScanReport};

use super::case::{Case, CaseInfo, SeriesChoice, SkippedFile};

/// A planning tool must say when the HU it shows are not the scanner's (case panel and
/// series picker).
const LOSSY_WARNING: &str =
    "lossy-compressed images: HU values are approximate; do not rely on fine densities";

/// Result of scanning a folder: what the picker lists, plus what `load` needs.
pub struct ScannedFolder {
    pub choices: Vec<SeriesChoice>,
    pub skipped: Vec<SkippedFile>,
    report: ScanReport,
}

fn skipped_of(report: &ScanReport) -> Vec<SkippedFile> {
    report
        .skipped
        .iter()
        .map(|s| SkippedFile {
            path: s.path.display().to_string(),
            reason: s.reason.clone(),
        })
        .collect()
}

/// Regular files under `folder`, recursively (symbolic links are not followed; unreadable
/// folders are left out; at most 32 levels deep). Stops early when `cancel` is set.
pub fn count_files(folder: &Path, cancel: &AtomicBool) -> usize {
    let mut count = 0;
    let mut pending = vec![(folder.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = pending.pop() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_file() => count += 1,
                Ok(t) if t.is_dir() && depth < 32 => pending.push((entry.path(), depth + 1)),
                _ => {}
            }
        }
    }
    count
}

/// Reads every header under `folder` (recursively). Fails when nothing loadable is found.
/// When exactly one series is a volume (not a localizer), `choices` holds only that one so
/// the caller loads it without asking.
pub fn scan(
    folder: &Path,
    progress: &(dyn Fn(&'static str, usize, usize) + Sync),
    cancel: &AtomicBool,
) -> anyhow::Result<ScannedFolder> {
    progress("Scanning", 0, 0);
    let meta = std::fs::metadata(folder)
        .with_context(|| format!("cannot open folder {}", folder.display()))?;
    if !meta.is_dir() && !meta.is_file() {
        bail!("{} is not a folder", folder.display());
    }
    // margo-dicom's scan reports no progress; the file count at least tells the user how big
    // the job is (the UI shows a spinner with it while the headers are read).
    let file_count = if meta.is_file() {
        1
    } else {
        count_files(folder, cancel)
    };
    progress("Scanning", 0, file_count);
    let report = margo_dicom::scan_folder(folder)
        .with_context(|| format!("scanning {}", folder.display()))?;
    if cancel.load(Ordering::Relaxed) {
        bail!("cancelled");
    }
    // No image at all: margo-dicom's error names the folder and the skipped files.
    if report.series.is_empty()
        && let Err(e) = margo_dicom::choose_ct(&report)
    {
        return Err(e.into());
    }
    let volumes: Vec<usize> = (0..report.series.len())
        .filter(|&i| !report.series[i].is_localizer && report.series[i].problem.is_none())
        .collect();
    let indices: Vec<usize> = if volumes.len() == 1 {
        volumes
    } else {
        (0..report.series.len()).collect()
    };
    let choices = indices
        .iter()
        .map(|&i| {
            let s = &report.series[i];
            let mut warnings = s.warnings.clone();
            if s.is_localizer {
                warnings.push("localizer / scout".into());
            }
            if let Some(p) = &s.problem {
                warnings.push(p.clone());
            }
            // Lossy re-encodes usually get their own series UID: the picker must tell them
            // apart from the original before the user loads one.
            if s.meta().lossy_compressed {
                warnings.push(LOSSY_WARNING.into());
            }
            SeriesChoice {
                index: i,
                description: s.description.clone(),
                modality: s.modality.clone(),
                dims: s.dims,
                spacing_mm: s.spacing_mm,
                warnings,
            }
        })
        .collect();
    Ok(ScannedFolder {
        choices,
        skipped: skipped_of(&report),
        report,
    })
}

/// Loads choice `index` (an index into `found.choices`).
pub fn load(
    found: &ScannedFolder,
    index: usize,
    progress: &(dyn Fn(&'static str, usize, usize) + Sync),
    cancel: &AtomicBool,
) -> anyhow::Result<Case> {
    let choice = found
        .choices
        .get(index)
        .with_context(|| format!("no series number {index}"))?;
    let series = found
        .report
        .series
        .get(choice.index)
        .with_context(|| format!("no series number {}", choice.index))?;
    progress("Loading", 0, series.slice_count);
    // margo-dicom calls this from its decoding threads.
    let report_progress = |p: LoadProgress| {
        progress("Loading", p.slices_done, p.slices_total);
        if cancel.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let loaded = margo_dicom::load_series(series, &report_progress).with_context(|| {
        format!(
            "loading series {} from {}",
            series.series_uid,
            found.report.root.display()
        )
    })?;
    if cancel.load(Ordering::Relaxed) {
        bail!("cancelled");
    }
    let meta = loaded.meta;
    let mut skipped = found.skipped.clone();
    skipped.extend(meta.skipped.iter().map(|s| SkippedFile {
        path: s.path.display().to_string(),
        reason: s.reason.clone(),
    }));
    Ok(Case {
        volume: Arc::new(loaded.volume),
        info: CaseInfo {
            folder: found.report.root.clone(),
            series_uid: meta.series_uid.clone(),
            description: meta.description.clone(),
            modality: meta.modality.clone(),
            is_ct: meta.is_ct,
            patient: meta.anonymisation.summary(),
            header_windows: meta
                .window_presets
                .iter()
                .map(|w| {
                    let name = w
                        .explanation
                        .clone()
                        .filter(|e| !e.trim().is_empty())
                        .unwrap_or_else(|| format!("Header {:.0}/{:.0}", w.center, w.width));
                    (name, w.center, w.width)
                })
                .collect(),
            warnings: {
                let mut w = meta.warnings.clone();
                if meta.lossy_compressed {
                    w.push(LOSSY_WARNING.into());
                }
                w
            },
            skipped,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_files_walks_subfolders() {
        let dir = std::env::temp_dir().join(format!("margo-count-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        for f in ["1.dcm", "a/2.dcm", "a/b/3", "a/b/4.txt"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let cancel = AtomicBool::new(false);
        assert_eq!(count_files(&dir, &cancel), 4);
        cancel.store(true, Ordering::Relaxed);
        assert_eq!(count_files(&dir, &cancel), 0);
        assert_eq!(
            count_files(&dir.join("missing"), &AtomicBool::new(false)),
            0
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scan_reports_the_file_count_before_reading_headers() {
        let dir = std::env::temp_dir().join(format!("margo-scan-count-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["notes.txt", "other.txt"] {
            std::fs::write(dir.join(f), b"not dicom").unwrap();
        }
        let seen = std::sync::Mutex::new(Vec::new());
        let progress = |stage: &'static str, done: usize, total: usize| {
            seen.lock().unwrap().push((stage, done, total));
        };
        // No DICOM here: the scan fails, but only after saying how many files it reads.
        assert!(scan(&dir, &progress, &AtomicBool::new(false)).is_err());
        assert!(
            seen.lock().unwrap().contains(&("Scanning", 0, 2)),
            "{:?}",
            seen.lock().unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lossy_series_says_its_hu_are_approximate() {
        let test = "a_lossy_series_says_its_hu_are_approximate";
        let Some(dir) = margo_volume::testdata::shared_path("dicom-variety", test) else {
            return;
        };
        let quiet = |_: &'static str, _: usize, _: usize| {};
        let cancel = AtomicBool::new(false);
        let lossy = |w: &Vec<String>| w.iter().any(|w| w == LOSSY_WARNING);
        // (case panel, series picker)
        let warned = |file: &str| {
            let found = scan(&dir.join(file), &quiet, &cancel).unwrap();
            let case = load(&found, 0, &quiet, &cancel).unwrap();
            (
                lossy(&case.info.warnings),
                lossy(&found.choices[0].warnings),
            )
        };
        assert_eq!(warned("ct-chest-ge_jpeg-baseline-p1.dcm"), (true, true));
        assert_eq!(
            warned("ct-chest-ge_jpeg-lossless-p14-sv1.dcm"),
            (false, false)
        );
        // Lossless transfer syntax, but LossyImageCompression = 01 in the header (an image
        // decompressed after lossy compression), in a folder with its original: the picker
        // lists both and marks only the lossy one.
        let mixed = std::env::temp_dir().join(format!("margo-lossy-picker-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&mixed);
        std::fs::create_dir_all(&mixed).unwrap();
        let original = dir.join("ct-chest-ge_explicit-vr-le.dcm");
        let copy = mixed.join("decompressed.dcm");
        std::fs::copy(&original, mixed.join("original.dcm")).unwrap();
        std::fs::copy(&original, &copy).unwrap();
        if !margo_volume::testdata::external_tool("dcmodify", test, "dcmtk") {
            return;
        }
        let status = std::process::Command::new("dcmodify")
            .args(["-nb", "-q", "-i", "(0028,2110)=01", "-gse", "-gin"])
            .arg(&copy)
            .status()
            .unwrap();
        assert!(status.success());
        let found = scan(&mixed, &quiet, &cancel).unwrap();
        let mut marks: Vec<bool> = found.choices.iter().map(|c| lossy(&c.warnings)).collect();
        marks.sort();
        assert_eq!(marks, [false, true], "{:?}", found.choices);
        std::fs::remove_dir_all(&mixed).unwrap();
    }
}
