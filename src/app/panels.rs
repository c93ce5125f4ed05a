//! The top bar and the side panel: case information, tools, window/level, slab and oblique
//! settings, 3D presets, planning (segmentation, probes, metrics) and measurements.

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Bar, BarChart, Line, Plot, PlotPoints};

use super::state::{SlabMode, SlotContent, Tool, VolumePreset, WINDOW_PRESETS, WindowLevel};
use super::viewer::Viewer;
use super::{MargoApp, Phase};

pub fn top_bar(app: &mut MargoApp, ui: &mut egui::Ui) {
    egui::Panel::top("top").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Margo").strong());
            if ui.button("Open folder…").clicked() {
                app.phase = Phase::Welcome;
            }
            ui.menu_button("Recent", |ui| {
                let mut open = None;
                if app.recent.folders.is_empty() {
                    ui.label("none yet");
                }
                for f in &app.recent.folders {
                    if ui.button(f.display().to_string()).clicked() {
                        open = Some(f.clone());
                    }
                }
                if let Some(f) = open {
                    let ctx = ui.ctx().clone();
                    app.open_folder(&ctx, &f);
                }
            });
            if ui
                .button("Screenshot")
                .on_hover_text(format!(
                    "save the window as PNG in {}",
                    app.documents_dir.display()
                ))
                .clicked()
            {
                let path = app
                    .documents_dir
                    .join(super::paths::timestamped_png("margo-screenshot"));
                super::capture::save_window(ui.ctx(), path, None, app.screenshot_note.clone());
            }
            if let Some(note) = app.screenshot_note.lock().ok().and_then(|n| n.clone()) {
                ui.label(RichText::new(note).weak());
            }
            if let Phase::Viewing(v) = &app.phase {
                ui.separator();
                let info = &v.case.info;
                let d = v.case.volume.dims();
                ui.label(format!(
                    "{}  ·  {}  ·  {}×{}×{}",
                    if info.description.is_empty() {
                        "(no description)"
                    } else {
                        &info.description
                    },
                    info.modality,
                    d[0],
                    d[1],
                    d[2]
                ));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(RichText::new(&v.images.backend).weak());
                });
            }
        });
    });
}

pub fn side_panel(v: &mut Viewer, ui: &mut egui::Ui) {
    egui::Panel::right("side")
        .resizable(true)
        .default_size(300.0)
        .min_size(240.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                case_section(v, ui);
                tools_section(v, ui);
                window_section(v, ui);
                views_section(v, ui);
                plan_section(v, ui);
                measurements_section(v, ui);
            });
        });
}

fn case_section(v: &mut Viewer, ui: &mut egui::Ui) {
    let info = &v.case.info;
    let g = v.case.volume.geometry();
    let s = g.spacing_mm();
    egui::CollapsingHeader::new("Case")
        .default_open(false)
        .show(ui, |ui| {
            ui.label(format!("Folder: {}", info.folder.display()));
            ui.label(format!("Patient: {}", info.patient));
            ui.label(format!("Spacing: {:.3} × {:.3} × {:.3} mm", s.x, s.y, s.z));
            if !info.is_ct {
                ui.label(
                    RichText::new("Not CT: values are not HU, presets do not apply")
                        .color(Color32::YELLOW),
                );
            }
            for w in &info.warnings {
                ui.label(RichText::new(format!("! {w}")).color(Color32::YELLOW));
            }
            super::startup::skipped_list(ui, &info.skipped);
        });
    if !info.warnings.is_empty() {
        ui.label(
            RichText::new(format!(
                "! {} series warning(s), see Case",
                info.warnings.len()
            ))
            .color(Color32::YELLOW),
        );
    }
}

fn tools_section(v: &mut Viewer, ui: &mut egui::Ui) {
    ui.separator();
    ui.label(RichText::new("Tool").strong());
    ui.horizontal_wrapped(|ui| {
        for t in Tool::ALL {
            if ui.selectable_label(v.state.tool == t, t.label()).clicked() {
                v.state.tool = t;
                v.pending_tip = None;
            }
        }
    });
    let hint = match v.state.tool {
        Tool::Navigate => "Click: crosshair · drag probe ends",
        Tool::Measure => "Drag to measure a distance",
        Tool::Segment => "Click the nodule",
        Tool::AddProbe if v.pending_tip.is_some() => "Click the entry point (skin)",
        Tool::AddProbe => "Click the tip (target)",
        Tool::Rotate => "Drag to tilt the plane about the crosshair",
    };
    ui.label(RichText::new(hint).weak().small());
}

fn window_section(v: &mut Viewer, ui: &mut egui::Ui) {
    ui.separator();
    ui.label(RichText::new("Window / level").strong());
    ui.horizontal_wrapped(|ui| {
        for (n, (name, wl)) in WINDOW_PRESETS.iter().enumerate() {
            if ui
                .selectable_label(v.state.window == *wl, format!("{} {name}", n + 1))
                .clicked()
            {
                v.state.window = *wl;
            }
        }
        for (name, c, w) in &v.case.info.header_windows {
            if ui
                .button(name)
                .on_hover_text("from the DICOM header")
                .clicked()
            {
                v.state.window = WindowLevel::new(*c, *w);
            }
        }
    });
    let mut c = v.state.window.center_hu;
    let mut w = v.state.window.width_hu;
    ui.add(egui::Slider::new(&mut w, 1.0..=4000.0).text("W"));
    ui.add(egui::Slider::new(&mut c, -1200.0..=2000.0).text("L"));
    if c != v.state.window.center_hu || w != v.state.window.width_hu {
        v.state.window = WindowLevel::new(c, w);
    }
}

fn views_section(v: &mut Viewer, ui: &mut egui::Ui) {
    ui.separator();
    egui::CollapsingHeader::new("Views: slab, oblique, 3D")
        .default_open(false)
        .show(ui, |ui| {
            for slot in 0..4 {
                let content = v.state.slots[slot].content;
                if content == SlotContent::ThreeD {
                    continue;
                }
                ui.horizontal(|ui| {
                    ui.label(content.title());
                    let s = &mut v.state.slots[slot];
                    egui::ComboBox::from_id_salt(("slab", slot))
                        .selected_text(s.slab.label())
                        .show_ui(ui, |ui| {
                            for m in SlabMode::ALL {
                                ui.selectable_value(&mut s.slab, m, m.label());
                            }
                        });
                    if s.slab != SlabMode::Thin {
                        ui.add(
                            egui::DragValue::new(&mut s.slab_thickness_mm)
                                .range(1.0..=100.0)
                                .suffix(" mm"),
                        );
                    }
                    if s.rotation != margo_volume::nalgebra::Rotation3::identity()
                        && ui.small_button("Unrotate").clicked()
                    {
                        s.rotation = margo_volume::nalgebra::Rotation3::identity();
                    }
                });
            }
            ui.horizontal(|ui| {
                ui.label("3D");
                for p in VolumePreset::ALL {
                    ui.selectable_value(&mut v.state.camera.preset, p, p.label());
                }
            });
            ui.checkbox(&mut v.state.show_crosshair, "Crosshair lines");
            if !v.plan.probes.is_empty() {
                ui.label("Probe's-eye views (slots 3 and 4):");
                ui.horizontal_wrapped(|ui| {
                    for n in 0..v.plan.probes.len() {
                        if ui.button(format!("P{} views", n + 1)).clicked() {
                            v.state.slots[2] =
                                super::state::SlotState::new(SlotContent::ProbeAcross(n));
                            v.state.slots[3] =
                                super::state::SlotState::new(SlotContent::ProbeAlong(n));
                        }
                    }
                    if ui.button("Standard").clicked() {
                        v.state.slots[2] = super::state::SlotState::new(SlotContent::Mpr(
                            margo_volume::AnatomicalView::Sagittal,
                        ));
                        v.state.slots[3] = super::state::SlotState::new(SlotContent::ThreeD);
                    }
                });
            }
            ui.label(
                RichText::new(
                    "Wheel: slice (Shift ×5) · Ctrl+wheel: zoom · right/Ctrl+left drag: W/L · \
                     middle drag: pan · 1-4: presets · R: reset · double-click: maximise",
                )
                .small()
                .weak(),
            );
        });
}

fn plan_section(v: &mut Viewer, ui: &mut egui::Ui) {
    ui.separator();
    ui.label(RichText::new("Plan").strong());
    if let Some(s) = &v.plan.status {
        ui.label(RichText::new(s).color(Color32::from_rgb(255, 170, 120)));
    }
    if v.plan.busy() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("computing…");
        });
    }
    // Segmentation.
    match &v.plan.segmentation {
        None => {
            ui.label(
                RichText::new("No nodule segmented: choose “Segment nodule” and click it.").weak(),
            );
        }
        Some(seg) => {
            egui::Grid::new("seg").num_columns(2).show(ui, |ui| {
                ui.label("Volume");
                ui.label(format!("{:.2} ml", seg.volume_ml));
                ui.end_row();
                ui.label("Longest diameter");
                ui.label(format!(
                    "{:.1} mm (axial {:.1} mm)",
                    seg.max_diameter_mm, seg.axial_diameter_mm
                ));
                ui.end_row();
                ui.label("Equivalent diameter");
                ui.label(format!("{:.1} mm", seg.equivalent_diameter_mm));
                ui.end_row();
            });
        }
    }
    let mut params = v.plan.segment_params.clone();
    egui::CollapsingHeader::new("Segmentation parameters").show(ui, |ui| {
        let mut auto = params.threshold_hu.is_none();
        ui.checkbox(
            &mut auto,
            "adaptive threshold (from the seed's neighbourhood)",
        );
        if auto {
            params.threshold_hu = None;
        } else {
            let mut t = params.threshold_hu.unwrap_or(-500.0);
            ui.add(egui::Slider::new(&mut t, -900.0..=0.0).text("threshold HU"));
            params.threshold_hu = Some(t);
        }
        ui.add(egui::Slider::new(&mut params.max_radius_mm, 5.0..=60.0).text("max radius mm"));
        let mut open = params.opening_radius_mm.unwrap_or(1.0);
        let mut auto_open = params.opening_radius_mm.is_none();
        ui.checkbox(&mut auto_open, "automatic opening radius");
        if !auto_open {
            ui.add(egui::Slider::new(&mut open, 0.0..=3.0).text("opening mm"));
            params.opening_radius_mm = Some(open);
        } else {
            params.opening_radius_mm = None;
        }
        ui.checkbox(
            &mut params.remove_chest_wall,
            "remove chest wall (juxtapleural)",
        );
    });
    if params != v.plan.segment_params && !v.plan.busy() {
        v.plan.segment_params = params;
        if let Some(seed) = v.plan.segmentation.as_ref().map(|s| s.seed_in_world) {
            v.plan.segment(seed);
        }
    }

    // Probes.
    let mut remove = None;
    let mut changed = false;
    for n in 0..v.plan.probes.len() {
        ui.push_id(("probe", n), |ui| {
            ui.horizontal(|ui| {
                let p = &v.plan.probes[n];
                ui.label(RichText::new(format!("P{}", n + 1)).strong());
                ui.label(format!("{:.0} mm", (p.tip - p.entry).norm()));
                if ui.small_button("x").on_hover_text("remove probe").clicked() {
                    remove = Some(n);
                }
            });
            if v.plan.devices.is_empty() {
                return;
            }
            let devices = v.plan.devices.clone();
            let p = &mut v.plan.probes[n];
            let dev = &devices[p.device.min(devices.len() - 1)];
            egui::ComboBox::from_id_salt("device")
                .selected_text(format!("{} · {}", dev.modality, dev.name))
                .show_ui(ui, |ui| {
                    for (i, d) in devices.iter().enumerate() {
                        if ui
                            .selectable_label(p.device == i, format!("{} · {}", d.modality, d.name))
                            .clicked()
                        {
                            p.device = i;
                            p.setting = 0;
                            changed = true;
                        }
                    }
                });
            let dev = &devices[p.device.min(devices.len() - 1)];
            if !dev.settings.is_empty() {
                let cur = p.setting.min(dev.settings.len() - 1);
                egui::ComboBox::from_id_salt("setting")
                    .selected_text(dev.settings[cur].0.clone())
                    .show_ui(ui, |ui| {
                        for (i, s) in dev.settings.iter().enumerate() {
                            if ui.selectable_label(cur == i, &s.0).clicked() {
                                p.setting = i;
                                changed = true;
                            }
                        }
                    });
                let (_, source, evidence) = &dev.settings[cur];
                ui.label(
                    RichText::new(format!("{evidence}: {source}"))
                        .small()
                        .weak(),
                );
            }
        });
    }
    if let Some(n) = remove {
        v.plan.remove_probe(n);
    }
    if !v.plan.probes.is_empty() {
        let mut f = v.plan.tissue_scale;
        ui.add(egui::Slider::new(&mut f, 0.5..=1.2).text("tissue factor"))
            .on_hover_text(v.plan.tissue_source());
        if f != v.plan.tissue_scale {
            v.plan.tissue_scale = f;
            changed = true;
        }
    }
    if changed {
        v.plan.recompute();
    }
    metrics_panel(v, ui);
    plan_files(v, ui);
}

/// Coverage, margins, VIC curve, surface histogram, findings.
pub fn metrics_panel(v: &mut Viewer, ui: &mut egui::Ui) {
    let Some(m) = v.plan.metrics.clone() else {
        return;
    };
    ui.separator();
    ui.label(RichText::new("Margins").strong());
    let margin_color = if m.min_margin_mm >= 5.0 {
        Color32::from_rgb(90, 220, 110)
    } else if m.min_margin_mm >= 0.0 {
        Color32::from_rgb(255, 200, 60)
    } else {
        Color32::from_rgb(255, 90, 80)
    };
    egui::Grid::new("metrics").num_columns(2).show(ui, |ui| {
        for (name, val) in [
            ("Tumour covered", m.coverage_tumour_pct),
            ("Tumour + 5 mm", m.coverage_margin5_pct),
            ("Tumour + 10 mm", m.coverage_margin10_pct),
        ] {
            ui.label(name);
            ui.label(format!("{val:.1} %"));
            ui.end_row();
        }
        ui.label("Minimal margin");
        ui.label(
            RichText::new(format!("{:.1} mm", m.min_margin_mm))
                .color(margin_color)
                .strong(),
        );
        ui.end_row();
    });
    let short = if m.meets_rule {
        "Margin >= 5 mm everywhere"
    } else {
        "Margin rule (>= 5 mm) not met"
    };
    ui.label(RichText::new(short).color(margin_color).strong())
        .on_hover_text(&m.verdict);
    if let Some(p) = m.weakest_in_world
        && ui.button("Go to weakest margin").clicked()
    {
        v.state.crosshair_in_world = p;
    }
    ui.label("Uncovered volume VIC_k (ml) vs k (mm)");
    let pts: PlotPoints = m
        .vic_ml
        .iter()
        .enumerate()
        .map(|(k, y)| [k as f64, *y])
        .collect();
    Plot::new("vic")
        .height(110.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .include_y(0.0)
        .show(ui, |p| p.line(Line::new("VIC", pts)));
    ui.label("Tumour surface by margin");
    let colors = [
        Color32::from_rgb(255, 90, 80),
        Color32::from_rgb(255, 200, 60),
        Color32::from_rgb(90, 220, 110),
    ];
    let bars: Vec<Bar> = m
        .surface_pct
        .iter()
        .enumerate()
        .map(|(i, pct)| Bar::new(i as f64, *pct).width(0.7).fill(colors[i]))
        .collect();
    Plot::new("surface")
        .height(90.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(100.0)
        .x_axis_formatter(|mark, _| {
            match mark.value.round() as i64 {
                0 => "< 0 mm",
                1 => "0-5 mm",
                2 => ">= 5 mm",
                _ => "",
            }
            .to_owned()
        })
        .show(ui, |p| p.bar_chart(BarChart::new("surface %", bars)));
    if !m.findings.is_empty() {
        ui.label(RichText::new("Findings").strong());
        for f in &m.findings {
            let c = match f.severity.as_str() {
                "blocked" | "error" => Color32::from_rgb(255, 90, 80),
                "warning" | "warn" => Color32::from_rgb(255, 200, 60),
                _ => Color32::from_gray(200),
            };
            ui.label(RichText::new(format!("{}: {}", f.severity, f.message)).color(c))
                .on_hover_text(&f.source);
        }
    }
    ui.label(
        RichText::new("Zones from vendor ex vivo / animal data: a planning aid, not a guarantee.")
            .small()
            .weak(),
    );
}

fn plan_files(v: &mut Viewer, ui: &mut egui::Ui) {
    if !v.plan.engine_available() {
        return;
    }
    ui.horizontal(|ui| {
        let label = ui.label("Plan file");
        ui.text_edit_singleline(&mut v.plan_path)
            .labelled_by(label.id);
    });
    ui.horizontal(|ui| {
        if ui.button("Save plan").clicked() {
            let path = std::path::PathBuf::from(&v.plan_path);
            v.plan.status = Some(match v.plan.save(&path) {
                Ok(()) => format!("saved {}", path.display()),
                Err(e) => format!("{e:#}"),
            });
        }
        if ui.button("Open plan").clicked() {
            let path = std::path::PathBuf::from(&v.plan_path);
            if let Err(e) = v.plan.load(&path) {
                v.plan.status = Some(format!("{e:#}"));
            }
        }
        if ui
            .button("Export report")
            .on_hover_text("HTML report with PNGs of the views as shown (and the JSON report)")
            .clicked()
        {
            let path = std::path::PathBuf::from(&v.plan_path).with_extension("report.html");
            match v.plan.report(&v.case.info.description) {
                Ok(report) => {
                    // The views as shown now, cropped from the next frame of the window.
                    let views = (0..4)
                        .filter_map(|slot| {
                            let rect = v.rects[slot]?;
                            Some((v.state.slots[slot].content.title(), rect))
                        })
                        .collect();
                    super::capture::export_report(
                        ui.ctx(),
                        report,
                        path.clone(),
                        views,
                        v.screenshot_note.clone(),
                    );
                    v.plan.status = Some(format!("exporting {} (see top bar)", path.display()));
                }
                Err(e) => v.plan.status = Some(format!("{e:#}")),
            }
        }
    });
}

fn measurements_section(v: &mut Viewer, ui: &mut egui::Ui) {
    if v.state.measurements.is_empty() {
        return;
    }
    ui.separator();
    ui.label(RichText::new("Measurements").strong());
    let mut remove = None;
    for (n, m) in v.state.measurements.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(format!("{:.1} mm", m.length_mm()));
            if ui.small_button("x").clicked() {
                remove = Some(n);
            }
        });
    }
    if let Some(n) = remove {
        v.state.measurements.remove(n);
    }
}
