//! Headless tests of the desktop app (egui_kittest on wgpu; lavapipe in CI): layout
//! snapshots and the radiology interaction conventions.

mod app_common;

use app_common::{check_golden, chest_case, harness, harness_with, settle};
use eframe::egui::{self, Event, Modifiers, MouseWheelUnit, PointerButton, Pos2, Vec2};
use margo::app::state::{SlotContent, WINDOW_PRESETS};

fn wheel(
    h: &egui_kittest::Harness<'static, margo::app::MargoApp>,
    lines: f32,
    modifiers: Modifiers,
) {
    h.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, lines),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers,
    });
}

fn button(
    h: &egui_kittest::Harness<'static, margo::app::MargoApp>,
    pos: Pos2,
    button: PointerButton,
    pressed: bool,
) {
    h.event(Event::PointerButton {
        pos,
        button,
        pressed,
        modifiers: Modifiers::NONE,
    });
}

fn slot_center(h: &egui_kittest::Harness<'static, margo::app::MargoApp>, slot: usize) -> Pos2 {
    h.state().viewer().expect("a case is shown").rects[slot]
        .expect("slot is visible")
        .center()
}

#[test]
fn layout_2x2_shows_four_views_with_letters() {
    // The 2D views through margo-render's paint callback (the default on a real GPU).
    let gpu = margo::app::AppOptions {
        mpr_on_gpu: Some(true),
        ..Default::default()
    };
    let mut h = harness_with(gpu, |app| app.show_case(chest_case()));
    settle(&mut h, 500);
    let v = h.state().viewer().unwrap();
    assert!(v.all_views_drawn());
    assert!(v.rects.iter().all(Option::is_some));
    let image = h.render().expect("render");
    check_golden("layout_2x2_synthetic", &image);
}

#[test]
fn wheel_scrolls_slices_and_shift_is_faster() {
    let mut h = harness(|app| app.show_case(chest_case()));
    settle(&mut h, 500);
    let c = slot_center(&h, 0);
    h.hover_at(c);
    h.run_steps(1);
    let z0 = h.state().viewer().unwrap().state.crosshair_in_world.z;
    wheel(&h, 1.0, Modifiers::NONE);
    h.run_steps(1);
    let z1 = h.state().viewer().unwrap().state.crosshair_in_world.z;
    assert!(
        (z1 - z0 - 5.0).abs() < 1e-6,
        "one notch = one 5 mm slice: {z0} -> {z1}"
    );
    wheel(&h, -1.0, Modifiers::SHIFT);
    h.run_steps(1);
    let z2 = h.state().viewer().unwrap().state.crosshair_in_world.z;
    assert!(
        (z1 - z2 - 25.0).abs() < 1e-6,
        "Shift = 5 slices: {z1} -> {z2}"
    );
    // Ctrl+wheel zooms instead of scrolling.
    wheel(&h, 2.0, Modifiers::CTRL);
    h.run_steps(1);
    let v = h.state().viewer().unwrap();
    assert_eq!(v.state.crosshair_in_world.z, z2);
    assert!(v.state.slots[0].zoom > 1.0);
}

#[test]
fn right_drag_changes_window_level_and_keys_select_presets() {
    let mut h = harness(|app| app.show_case(chest_case()));
    settle(&mut h, 500);
    let before = h.state().viewer().unwrap().state.window;
    let c = slot_center(&h, 1);
    h.hover_at(c);
    button(&h, c, PointerButton::Secondary, true);
    h.run_steps(1);
    for n in 1..=10 {
        h.hover_at(c + Vec2::new(8.0 * n as f32, 3.0 * n as f32));
        h.run_steps(1);
    }
    button(
        &h,
        c + Vec2::new(80.0, 30.0),
        PointerButton::Secondary,
        false,
    );
    h.run_steps(1);
    let after = h.state().viewer().unwrap().state.window;
    assert!(after.width_hu > before.width_hu, "{before:?} -> {after:?}");
    assert!(
        after.center_hu < before.center_hu,
        "{before:?} -> {after:?}"
    );
    h.key_press(egui::Key::Num2);
    h.run_steps(1);
    assert_eq!(
        h.state().viewer().unwrap().state.window,
        WINDOW_PRESETS[1].1
    );
}

#[test]
fn click_moves_the_linked_crosshair_and_double_click_maximises() {
    let mut h = harness(|app| app.show_case(chest_case()));
    settle(&mut h, 500);
    let c = slot_center(&h, 0) + Vec2::new(-60.0, -20.0);
    h.hover_at(c);
    h.run_steps(1);
    button(&h, c, PointerButton::Primary, true);
    button(&h, c, PointerButton::Primary, false);
    h.run_steps(2);
    let v = h.state().viewer().unwrap();
    let p = v.state.crosshair_in_world;
    // Clicked left of centre in axial = patient right (-x), above = anterior (-y).
    let g = v.grids[0].clone().expect("axial grid drawn");
    let (x, y, d) = g.screen_from_world(&p);
    let r = v.rects[0].unwrap();
    assert!((x as f32 + r.min.x - c.x).abs() < 1.0 && (y as f32 + r.min.y - c.y).abs() < 1.0);
    assert!(d.abs() < 1e-6);
    assert!(p.x < 0.0 && p.y < 0.0, "{p}");
    // Double-click maximises the coronal view, again restores the grid.
    let cc = slot_center(&h, 1);
    h.hover_at(cc);
    // Half a second later, so this is not a triple-click with the click above.
    h.run_steps(15);
    for _ in 0..2 {
        button(&h, cc, PointerButton::Primary, true);
        h.run_steps(1);
        button(&h, cc, PointerButton::Primary, false);
        h.run_steps(1);
    }
    h.run_steps(2);
    assert_eq!(h.state().viewer().unwrap().state.maximized, Some(1));
    h.key_press(egui::Key::R);
    h.run_steps(1);
    let v = h.state().viewer().unwrap();
    assert_eq!(
        v.state.slots[1].content,
        SlotContent::Mpr(margo_volume::AnatomicalView::Coronal)
    );
    assert_eq!(
        v.state.crosshair_in_world,
        v.case.volume.geometry().center_in_world()
    );
}

#[test]
fn folder_without_ct_shows_an_error_in_the_window() {
    // A committed folder holding one text file; relative, so the message (and the golden)
    // is the same in every checkout.
    let folder = std::path::PathBuf::from("tests/golden/app/no_ct_folder");
    assert!(
        folder.join("README.txt").is_file(),
        "run from the package root"
    );
    let options = margo::app::AppOptions {
        folder: Some(folder),
        ..Default::default()
    };
    let mut h = harness_with(options, |_| {});
    settle(&mut h, 300);
    let app = h.state();
    assert!(matches!(app.phase, margo::app::Phase::Welcome));
    assert_eq!(app.errors.len(), 1, "{:?}", app.errors);
    assert!(app.errors[0].contains("no_ct_folder"), "{}", app.errors[0]);
    let image = h.render().expect("render");
    check_golden("error_no_ct", &image);
}

#[test]
fn measure_tool_gives_the_distance_in_mm() {
    let mut h = harness(|app| app.show_case(chest_case()));
    settle(&mut h, 1);
    h.state_mut().viewer_mut().unwrap().state.tool = margo::app::state::Tool::Measure;
    let a = slot_center(&h, 0) + Vec2::new(-50.0, 10.0);
    let b = a + Vec2::new(60.0, 80.0);
    h.hover_at(a);
    h.run_steps(1);
    button(&h, a, PointerButton::Primary, true);
    h.run_steps(1);
    for n in 1..=8 {
        h.hover_at(a + (b - a) * (n as f32 / 8.0));
        h.run_steps(1);
    }
    button(&h, b, PointerButton::Primary, false);
    h.run_steps(2);
    let v = h.state().viewer().unwrap();
    assert_eq!(v.state.measurements.len(), 1);
    let px = v.grids[0].as_ref().unwrap().pixel_size_mm();
    let expected = 100.0 * px; // a 60 x 80 point drag at 1 pixel per point
    let got = v.state.measurements[0].length_mm();
    assert!(
        (got - expected).abs() < 1.5 * px,
        "{got} mm vs {expected} mm"
    );
}

#[test]
fn folder_with_several_series_shows_the_picker_then_loads_the_choice() {
    let Some(dir) = margo_volume::testdata::shared_path("dicom-variety", "app_series_picker")
    else {
        return;
    };
    let options = margo::app::AppOptions {
        folder: Some(dir),
        ..Default::default()
    };
    let mut h = harness_with(options, |_| {});
    settle(&mut h, 1);
    let (count, first_ct) = match &h.state().phase {
        margo::app::Phase::Picking { series, .. } => {
            (series.len(), series.iter().position(|s| s.modality == "CT"))
        }
        _ => panic!("expected the series picker, errors: {:?}", h.state().errors),
    };
    assert!(count > 1);
    let first_ct = first_ct.expect("a CT series in dicom-variety");
    if let margo::app::Phase::Picking { job, .. } = &mut h.state_mut().phase {
        job.choose(first_ct);
    }
    settle(&mut h, 1);
    // dicom-variety holds one slice in many encodings under one series UID: margo-dicom may
    // refuse the stack (duplicate positions). Either way the window shows the outcome.
    match h.state().viewer() {
        Some(v) => assert_eq!(v.case.info.modality, "CT"),
        None => {
            let app = h.state();
            assert!(matches!(app.phase, margo::app::Phase::Welcome));
            assert_eq!(app.errors.len(), 1, "{:?}", app.errors);
            assert!(app.errors[0].contains("dicom-variety"), "{}", app.errors[0]);
        }
    }
}

#[test]
fn layout_2x2_on_the_bundled_sample_case() {
    let sample = std::path::PathBuf::from("sample-data/phantom-chest");
    assert!(
        sample.is_dir(),
        "the bundled sample case is part of the repository"
    );
    let options = margo::app::AppOptions {
        folder: Some(sample),
        ..Default::default()
    };
    let mut h = harness_with(options, |_| {});
    settle(&mut h, 1);
    let v = h
        .state()
        .viewer()
        .unwrap_or_else(|| panic!("sample not shown: {:?}", h.state().errors));
    assert!(v.case.info.is_ct);
    assert!(v.all_views_drawn());
    let image = h.render().expect("render");
    check_golden("layout_2x2_sample", &image);
}

#[test]
fn dropping_a_folder_or_a_file_on_the_window_loads_that_folder() {
    // Absolute, as a native window reports dropped paths.
    let sample = std::env::current_dir()
        .expect("current dir")
        .join("sample-data/phantom-chest");
    assert!(
        sample.is_dir(),
        "the bundled sample case is part of the repository"
    );
    let file = std::fs::read_dir(&sample)
        .expect("read sample-data")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_file())
        .expect("a file in the sample case");
    for (dropped, expected_folder) in [(sample.clone(), sample.clone()), (file, sample.clone())] {
        let mut h = harness(|_| {});
        h.run_steps(2);
        assert!(matches!(h.state().phase, margo::app::Phase::Welcome));
        h.input_mut()
            .dropped_files
            .push(std::sync::Arc::new(DroppedPath(dropped.clone())));
        h.step();
        // The drop started loading (the worker may already have finished).
        match &h.state().phase {
            margo::app::Phase::Loading(job) => assert_eq!(job.folder, expected_folder),
            margo::app::Phase::Viewing(_) => {}
            _ => panic!(
                "dropping {} did not start loading: {:?}",
                dropped.display(),
                h.state().errors
            ),
        }
        settle(&mut h, 1);
        let v = h
            .state()
            .viewer()
            .unwrap_or_else(|| panic!("dropped case not shown: {:?}", h.state().errors));
        assert_eq!(v.case.info.folder, expected_folder);
        assert!(v.case.info.is_ct);
    }
}

/// A file or folder dropped on the window, as egui-winit hands it to egui.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}
