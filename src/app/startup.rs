//! Screens before a case is shown: welcome (open a folder, recent folders, sample case),
//! loading progress with Cancel, the series picker, and the error banner.

use std::path::{Path, PathBuf};

use eframe::egui::{self, Color32, RichText};

use super::MargoApp;
use super::case::{SeriesChoice, SkippedFile};
use super::loader::LoadJob;
use super::recent::RecentFolders;

/// Errors stay visible, in red, until dismissed.
pub fn error_banner(app: &mut MargoApp, ui: &mut egui::Ui) {
    if app.errors.is_empty() {
        return;
    }
    let mut dismiss = None;
    egui::Panel::top("errors").show(ui, |ui| {
        for (n, e) in app.errors.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new("Error")
                        .color(Color32::from_rgb(255, 110, 100))
                        .strong(),
                );
                ui.label(RichText::new(e).color(Color32::from_rgb(255, 190, 180)));
                if ui.small_button("Dismiss").clicked() {
                    dismiss = Some(n);
                }
            });
        }
    });
    if let Some(n) = dismiss {
        app.errors.remove(n);
    }
}

/// Welcome screen; returns a folder to open.
pub fn welcome(
    ui: &mut egui::Ui,
    folder_input: &mut String,
    recent: &RecentFolders,
) -> Option<PathBuf> {
    let mut open = None;
    egui::CentralPanel::default().show(ui, |ui| {
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            ui.heading(RichText::new("Margo").size(32.0).strong());
            ui.label("CT viewer for planning percutaneous ablation of lung tumours");
            ui.label(
                RichText::new("Planning aid only: zone sizes come from vendor ex vivo and animal data, never a guarantee.")
                    .small()
                    .weak(),
            );
        });
        ui.add_space(16.0);
        ui.horizontal(|ui| {
            ui.label("DICOM folder:");
            let edit = ui.add(
                egui::TextEdit::singleline(folder_input)
                    .hint_text("/path/to/series (or drop a folder on the window)")
                    .desired_width(ui.available_width() - 150.0),
            );
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Open").clicked() || enter) && !folder_input.trim().is_empty() {
                open = Some(PathBuf::from(folder_input.trim()));
            }
        });
        if let Some(sample) = super::default_sample_folder()
            && ui.button("Open the bundled sample case").clicked()
        {
            open = Some(sample);
        }
        ui.add_space(8.0);
        ui.collapsing("Browse folders", |ui| {
            if let Some(p) = browse(ui, folder_input) {
                open = Some(p);
            }
        });
        ui.add_space(8.0);
        ui.label(RichText::new("Recent folders").strong());
        if recent.folders.is_empty() {
            ui.label(RichText::new("none yet").weak());
        }
        for f in &recent.folders {
            if ui.link(f.display().to_string()).clicked() {
                open = Some(f.clone());
            }
        }
    });
    open
}

/// A minimal folder browser: the sub-folders of the typed path, with "..".
fn browse(ui: &mut egui::Ui, folder_input: &mut String) -> Option<PathBuf> {
    let base = if folder_input.trim().is_empty() {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    } else {
        PathBuf::from(folder_input.trim())
    };
    let mut open = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new(base.display().to_string()).monospace());
        if ui.small_button("Open this folder").clicked() {
            open = Some(base.clone());
        }
    });
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&base)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    egui::ScrollArea::vertical()
        .max_height(160.0)
        .show(ui, |ui| {
            if let Some(parent) = base.parent()
                && ui.link("..").clicked()
            {
                *folder_input = parent.display().to_string();
            }
            for e in entries {
                let name = e.file_name().map(|n| n.to_string_lossy().to_string());
                if ui.link(name.unwrap_or_default()).clicked() {
                    *folder_input = e.display().to_string();
                }
            }
        });
    open
}

pub fn loading(ui: &mut egui::Ui, job: &mut LoadJob) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.add_space(40.0);
        ui.vertical_centered(|ui| {
            ui.heading(format!("{} {}", job.progress.stage, job.folder.display()));
            progress_bar(ui, job);
            if ui.button("Cancel").clicked() {
                job.cancel();
            }
        });
    });
}

fn progress_bar(ui: &mut egui::Ui, job: &LoadJob) {
    let p = &job.progress;
    if p.stage == "Scanning" {
        // The scan reports no per-file progress: a spinner and the number of files to read.
        ui.spinner();
        ui.label(if p.total > 0 {
            format!("scanning {} files…", p.total)
        } else {
            "listing files…".to_owned()
        });
        return;
    }
    let text = if p.total > 0 {
        format!("{} / {} files", p.done, p.total)
    } else {
        "…".to_owned()
    };
    ui.add(
        egui::ProgressBar::new(p.fraction())
            .desired_width(420.0)
            .text(text)
            .animate(p.total == 0),
    );
}

/// Several series: let the user choose (CT volumes with most slices first).
pub fn picker(
    ui: &mut egui::Ui,
    job: &mut LoadJob,
    series: &[SeriesChoice],
    skipped: &[SkippedFile],
) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading(format!("Series in {}", job.folder.display()));
        if job.progress.stage == "Loading" {
            progress_bar(ui, job);
            if ui.button("Cancel").clicked() {
                job.cancel();
            }
            return;
        }
        let mut order: Vec<usize> = (0..series.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(series[i].preference()));
        egui::Grid::new("series")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for h in ["", "Description", "Modality", "Dims", "Spacing (mm)"] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for i in order {
                    let s = &series[i];
                    if ui.button("Open").clicked() {
                        job.choose(i);
                    }
                    ui.label(&s.description);
                    ui.label(&s.modality);
                    ui.label(format!("{} x {} x {}", s.dims[0], s.dims[1], s.dims[2]));
                    ui.label(format!(
                        "{:.3} x {:.3} x {:.3}",
                        s.spacing_mm[0], s.spacing_mm[1], s.spacing_mm[2]
                    ));
                    ui.end_row();
                    for w in &s.warnings {
                        ui.label("");
                        ui.label(RichText::new(format!("! {w}")).color(Color32::YELLOW));
                        ui.end_row();
                    }
                }
            });
        skipped_list(ui, skipped);
        if ui.button("Cancel").clicked() {
            job.cancel();
        }
    });
}

pub fn skipped_list(ui: &mut egui::Ui, skipped: &[SkippedFile]) {
    if skipped.is_empty() {
        return;
    }
    ui.collapsing(format!("{} skipped files", skipped.len()), |ui| {
        egui::ScrollArea::vertical()
            .max_height(140.0)
            .show(ui, |ui| {
                for s in skipped {
                    let name = Path::new(&s.path)
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_else(|| s.path.clone());
                    ui.label(format!("{name}: {}", s.reason))
                        .on_hover_text(&s.path);
                }
            });
    });
}
