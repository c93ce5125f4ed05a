//! Loading off the UI thread: a worker scans the folder, reports progress, and loads the
//! chosen series; the UI polls messages each frame and can cancel at any time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::case::{Case, SeriesChoice, SkippedFile};
use super::dicom_bridge::{self, ScannedFolder};

/// Progress of the current step.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

impl Progress {
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f32 / self.total as f32).clamp(0.0, 1.0)
        }
    }
}

/// Messages from the worker to the UI.
#[derive(Debug)]
pub enum LoadEvent {
    Progress(Progress),
    /// More than one series: the UI shows the picker and calls [`LoadJob::choose`].
    Scanned {
        folder: PathBuf,
        series: Vec<SeriesChoice>,
        skipped: Vec<SkippedFile>,
    },
    Loaded(Box<Case>),
    Failed(String),
    Cancelled,
}

/// Called by the worker whenever it sends something (the UI asks for a repaint).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// A running load. Dropping it cancels the worker.
pub struct LoadJob {
    pub folder: PathBuf,
    cancel: Arc<AtomicBool>,
    events: Receiver<LoadEvent>,
    sender: Sender<LoadEvent>,
    scanned: Arc<Mutex<Option<ScannedFolder>>>,
    wake: Wake,
    pub progress: Progress,
}

impl LoadJob {
    /// Starts scanning `folder` on a worker thread. With one usable series it is loaded
    /// straight away; with several the worker stops at [`LoadEvent::Scanned`].
    pub fn start(folder: &Path, wake: Wake) -> Self {
        let (sender, events) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let scanned = Arc::new(Mutex::new(None));
        let job = Self {
            folder: folder.to_path_buf(),
            cancel: cancel.clone(),
            events,
            sender: sender.clone(),
            scanned: scanned.clone(),
            wake: wake.clone(),
            progress: Progress {
                stage: "Scanning",
                done: 0,
                total: 0,
            },
        };
        let folder = folder.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("margo-scan".into())
            .spawn(move || {
                let send = |e: LoadEvent| {
                    let _ = sender.send(e);
                    wake();
                };
                let progress = |stage: &'static str, done: usize, total: usize| {
                    send(LoadEvent::Progress(Progress { stage, done, total }));
                };
                match dicom_bridge::scan(&folder, &progress, &cancel) {
                    Err(_) if cancel.load(Ordering::Relaxed) => send(LoadEvent::Cancelled),
                    Err(e) => send(LoadEvent::Failed(format!("{e:#}"))),
                    Ok(found) => {
                        let choices = found.choices.clone();
                        let skipped = found.skipped.clone();
                        if choices.len() == 1 {
                            let result = dicom_bridge::load(&found, 0, &progress, &cancel);
                            send(match result {
                                Err(_) if cancel.load(Ordering::Relaxed) => LoadEvent::Cancelled,
                                Err(e) => LoadEvent::Failed(format!("{e:#}")),
                                Ok(case) => LoadEvent::Loaded(Box::new(case)),
                            });
                        } else {
                            if let Ok(mut slot) = scanned.lock() {
                                *slot = Some(found);
                            }
                            send(LoadEvent::Scanned {
                                folder,
                                series: choices,
                                skipped,
                            });
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            let _ = job.sender.send(LoadEvent::Failed(format!(
                "could not start the loader thread: {e}"
            )));
        }
        job
    }

    /// Loads series `index` of the scanned folder on a worker thread.
    pub fn choose(&mut self, index: usize) {
        let Some(found) = self.scanned.lock().ok().and_then(|mut s| s.take()) else {
            let _ = self
                .sender
                .send(LoadEvent::Failed("no scanned series to load".into()));
            return;
        };
        let sender = self.sender.clone();
        let cancel = self.cancel.clone();
        let wake = self.wake.clone();
        self.progress = Progress {
            stage: "Loading",
            done: 0,
            total: 0,
        };
        let spawned = std::thread::Builder::new()
            .name("margo-load".into())
            .spawn(move || {
                let send = |e: LoadEvent| {
                    let _ = sender.send(e);
                    wake();
                };
                let progress = |stage: &'static str, done: usize, total: usize| {
                    send(LoadEvent::Progress(Progress { stage, done, total }));
                };
                send(
                    match dicom_bridge::load(&found, index, &progress, &cancel) {
                        Err(_) if cancel.load(Ordering::Relaxed) => LoadEvent::Cancelled,
                        Err(e) => LoadEvent::Failed(format!("{e:#}")),
                        Ok(case) => LoadEvent::Loaded(Box::new(case)),
                    },
                );
            });
        if let Err(e) = spawned {
            let _ = self.sender.send(LoadEvent::Failed(format!(
                "could not start the loader thread: {e}"
            )));
        }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Next event, updating the progress shown; None when nothing new arrived.
    pub fn poll(&mut self) -> Option<LoadEvent> {
        let event = self.events.try_recv().ok()?;
        if let LoadEvent::Progress(p) = &event {
            self.progress = p.clone();
        }
        Some(event)
    }
}

impl Drop for LoadJob {
    fn drop(&mut self) {
        self.cancel();
    }
}
