//! Planning through the app: segment the nodule by clicking it, place a probe (tip, then
//! entry), check that zones and margin metrics appear and follow a dragged probe end; snapshots
//! of a view with overlays and of the metrics panel.

mod app_common;

use app_common::{NODULE_CENTRE, check_golden, chest_case, harness_with, settle};
use eframe::egui::{Event, Modifiers, PointerButton, Pos2, Vec2};
use egui_kittest::kittest::Queryable;
use margo::app::MargoApp;
use margo::app::state::Tool;
use margo_volume::nalgebra::Point3;

type H = egui_kittest::Harness<'static, MargoApp>;

fn screen_of(h: &H, slot: usize, p: &Point3<f64>) -> Pos2 {
    let v = h.state().viewer().unwrap();
    let g = v.grids[slot].as_ref().expect("slot drawn");
    let (x, y, _) = g.screen_from_world(p);
    v.rects[slot].unwrap().min + Vec2::new(x as f32, y as f32)
}

fn click(h: &mut H, pos: Pos2) {
    h.hover_at(pos);
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }
    h.run_steps(1);
    // Keep consecutive clicks from counting as double-clicks.
    h.run_steps(12);
}

#[test]
fn segment_place_probe_and_drag_updates_metrics() {
    // 2D views drawn by margo-render (mask and zone overlays on the GPU).
    let gpu = margo::app::AppOptions {
        mpr_on_gpu: Some(true),
        ..Default::default()
    };
    let mut h = harness_with(gpu, |app| app.show_case(chest_case()));
    settle(&mut h, 500);
    let nodule = Point3::from(NODULE_CENTRE);
    h.state_mut().viewer_mut().unwrap().state.crosshair_in_world = nodule;
    h.run_steps(2);

    // Segment: click the nodule in the axial view.
    h.state_mut().viewer_mut().unwrap().state.tool = Tool::Segment;
    let at = screen_of(&h, 0, &nodule);
    click(&mut h, at);
    settle(&mut h, 400);
    let seg = h.state().viewer().unwrap().plan.segmentation.clone();
    let seg = seg.unwrap_or_else(|| {
        panic!(
            "no segmentation: {:?}",
            h.state().viewer().unwrap().plan.status
        )
    });
    // 16 mm sphere: 2.14 ml analytically; the 2.5 x 2.5 x 5 mm grid is coarse.
    let analytic_ml = 4.0 / 3.0 * std::f64::consts::PI * 8.0f64.powi(3) / 1000.0;
    assert!(
        (seg.volume_ml - analytic_ml).abs() < 0.35 * analytic_ml,
        "{} ml vs {analytic_ml}",
        seg.volume_ml
    );

    // Probe: entry laterally and anterior (patient right, -x; -y) in the same slice, tip
    // 10 mm beyond the nodule centre along the shaft (MWA zones sit back from the tip).
    h.state_mut().viewer_mut().unwrap().state.tool = Tool::AddProbe;
    let shaft = margo_volume::nalgebra::Vector3::new(60.0, 40.0, 0.0).normalize();
    let tip = screen_of(&h, 0, &(nodule + shaft * 10.0));
    click(&mut h, tip);
    let entry = screen_of(
        &h,
        0,
        &(nodule + margo_volume::nalgebra::Vector3::new(-60.0, -40.0, 0.0)),
    );
    click(&mut h, entry);
    settle(&mut h, 400);
    let v = h.state().viewer().unwrap();
    assert_eq!(v.plan.probes.len(), 1, "{:?}", v.plan.status);
    assert!(!v.plan.zones.is_empty(), "{:?}", v.plan.status);
    let m = v
        .plan
        .metrics
        .clone()
        .expect("metrics after placing a probe");
    assert!(m.coverage_tumour_pct > 20.0, "{m:?}");
    assert_eq!(m.vic_ml.len(), 11);

    // Drag the tip 15 mm sideways (across the shaft): the zone leaves the tumour.
    let tip_now = screen_of(&h, 0, &v.plan.probes[0].tip);
    let px = v.grids[0].as_ref().unwrap().pixel_size_mm() as f32;
    h.hover_at(tip_now);
    h.run_steps(1);
    h.event(Event::PointerButton {
        pos: tip_now,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(1);
    let to = tip_now + Vec2::new(-shaft.y as f32, shaft.x as f32) * (15.0 / px);
    for n in 1..=6 {
        h.hover_at(tip_now + (to - tip_now) * (n as f32 / 6.0));
        h.run_steps(1);
    }
    h.event(Event::PointerButton {
        pos: to,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    settle(&mut h, 400);
    let v = h.state().viewer().unwrap();
    let moved = v.plan.probes[0].tip;
    let expected =
        nodule + shaft * 10.0 + margo_volume::nalgebra::Vector3::new(-shaft.y, shaft.x, 0.0) * 15.0;
    assert!(
        (moved - expected).norm() < 2.0 * px as f64,
        "tip {moved} expected {expected}"
    );
    let m2 = v.plan.metrics.clone().expect("metrics after the drag");
    assert!(
        m2.coverage_tumour_pct < m.coverage_tumour_pct && m2.min_margin_mm < m.min_margin_mm,
        "{m:?} -> {m2:?}"
    );

    // Snapshots: the whole window with overlays and metrics, and the axial view maximised.
    // Tall enough for the whole metrics panel (VIC curve, surface histogram, findings).
    h.set_size(Vec2::new(1280.0, 1250.0));
    settle(&mut h, 1);
    let image = h.render().expect("render");
    check_golden("plan_metrics_panel", &image);
    h.set_size(Vec2::new(1280.0, 800.0));
    h.state_mut().viewer_mut().unwrap().state.maximized = Some(0);
    settle(&mut h, 500);
    let image = h.render().expect("render");
    check_golden("plan_axial_overlays", &image);

    // "Export report" (after the snapshots: it changes the status texts): the HTML page and a
    // PNG of each view as shown, cropped from the window.
    let dir = std::env::temp_dir().join(format!("margo-app-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let v = h.state_mut().viewer_mut().unwrap();
        v.state.maximized = None;
        v.plan_path = dir.join("case.json").display().to_string();
    }
    // Tall enough that the side panel's buttons are on screen.
    h.set_size(Vec2::new(1280.0, 1250.0));
    settle(&mut h, 300);
    h.get_by_label("Export report").click();
    settle(&mut h, 5);
    let html_path = dir.join("case.report.html");
    let html = std::fs::read_to_string(&html_path).unwrap_or_else(|e| {
        panic!(
            "{e}: {:?} / {:?}",
            h.state().viewer().unwrap().plan.status,
            h.state().viewer().unwrap().screenshot_note
        )
    });
    assert!(html.contains("not a guarantee") && html.contains("Synthetic chest (test)"));
    for name in ["axial", "coronal", "sagittal", "3d"] {
        let file = dir.join("case.report_files").join(format!("{name}.png"));
        assert!(
            html.contains(&format!("src=\"case.report_files/{name}.png\"")),
            "{name}"
        );
        let img = image::open(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .to_rgba8();
        assert!(img.width() > 100 && img.height() > 100, "{name}");
        // A view, not a blank rectangle: many distinct grey levels.
        let mut levels: Vec<u8> = img.pixels().map(|p| p[1]).collect();
        levels.sort_unstable();
        levels.dedup();
        assert!(
            levels.len() > 20,
            "{name} looks blank ({} levels)",
            levels.len()
        );
    }
    // "Save plan" into a folder that does not exist yet (the default is ~/Documents/Margo).
    let nested = dir.join("not-yet").join("case.json");
    h.state_mut().viewer_mut().unwrap().plan_path = nested.display().to_string();
    settle(&mut h, 2);
    h.get_by_label("Save plan").click();
    settle(&mut h, 2);
    let saved = std::fs::read_to_string(&nested)
        .unwrap_or_else(|e| panic!("{e}: {:?}", h.state().viewer().unwrap().plan.status));
    assert!(saved.contains("\"probes\""), "{saved}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs the plan session's worker jobs to completion (no window needed).
fn finish(plan: &mut margo::app::plan_bridge::PlanSession) {
    let start = std::time::Instant::now();
    plan.poll();
    while plan.busy() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "planning worker hangs"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
        plan.poll();
    }
}

#[test]
fn open_plan_adopts_the_saved_mask_and_report_exports_html_with_views() {
    use margo::app::plan_bridge::PlanSession;
    let case = chest_case();
    let uid = case.info.series_uid.clone();
    let nodule = Point3::from(NODULE_CENTRE);
    let mut plan = PlanSession::new(case.volume.clone(), &uid);
    plan.segment(nodule);
    finish(&mut plan);
    let shaft = margo_volume::nalgebra::Vector3::new(60.0, 40.0, 0.0).normalize();
    plan.add_probe(nodule + shaft * 10.0, nodule - shaft * 70.0);
    plan.notes = "follow-up CT in 4 weeks <urgent>".into();
    finish(&mut plan);
    let seg = plan.segmentation.clone().expect("segmented");
    let metrics = plan.metrics.clone().expect("metrics");

    let dir = std::env::temp_dir().join(format!("margo-app-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("plan.json");
    plan.save(&saved).unwrap();

    // Unchanged file: the same mask, statistics, probes, notes and metrics come back.
    let mut back = PlanSession::new(case.volume.clone(), &uid);
    back.load(&saved).unwrap();
    finish(&mut back);
    let s2 = back.segmentation.clone().expect("adopted");
    assert_eq!(s2.mask.labels(), seg.mask.labels());
    assert_eq!(s2.volume_ml, seg.volume_ml);
    // (JSON numbers may come back one ulp off.)
    assert_eq!(back.probes.len(), 1);
    let (a, b) = (&back.probes[0], &plan.probes[0]);
    assert!((a.tip - b.tip).norm() < 1e-9 && (a.entry - b.entry).norm() < 1e-9);
    assert_eq!((a.device, a.setting), (b.device, b.setting));
    assert_eq!(back.notes, plan.notes);
    let m2 = back.metrics.clone().expect("metrics after open");
    assert!((m2.coverage_tumour_pct - metrics.coverage_tumour_pct).abs() < 1e-6);
    assert!((m2.min_margin_mm - metrics.min_margin_mm).abs() < 1e-6);
    assert_eq!(back.status, None);

    // An edited mask (one voxel less than a fresh segmentation gives) is used as saved, not
    // re-segmented from the seed.
    let mut file = margo_plan::planfile::PlanFile::load(&saved).unwrap();
    let mut mask = file
        .validate_against(&saved, &uid, case.volume.geometry())
        .unwrap();
    let d = mask.dims();
    let first = mask.labels().iter().position(|&l| l != 0).unwrap();
    mask.set(
        first % d[0],
        (first / d[0]) % d[1],
        first / (d[0] * d[1]),
        false,
    );
    file.segmentation.mask =
        margo_plan::planfile::SavedMask::from_mask(&mask, file.segmentation.mask.first_voxel);
    let edited = dir.join("edited.json");
    file.save(&edited).unwrap();
    let mut adopted = PlanSession::new(case.volume.clone(), &uid);
    adopted.load(&edited).unwrap();
    finish(&mut adopted);
    let s3 = adopted.segmentation.clone().expect("adopted");
    assert_eq!(s3.mask.labels(), mask.labels());
    assert_eq!(s3.mask.count(), seg.mask.count() - 1);
    assert!(
        adopted
            .status
            .as_deref()
            .unwrap_or("")
            .contains("saved nodule mask"),
        "{:?}",
        adopted.status
    );

    // Export: HTML page, its PNGs in NAME_files/, JSON beside it; no temporary files left.
    let report = back.report("Chest <b>bold</b>").unwrap();
    let html_path = dir.join("plan.report.html");
    let red = eframe::egui::ColorImage::new([4, 3], vec![eframe::egui::Color32::RED; 12]);
    let views = vec![("Axial".to_owned(), red.clone()), ("3D".to_owned(), red)];
    margo::app::capture::write_report(&html_path, &report, &views).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        html.contains("<img src=\"plan.report_files/axial.png\""),
        "{html}"
    );
    assert!(html.contains("<img src=\"plan.report_files/3d.png\""));
    assert!(html.contains("Chest &lt;b&gt;bold&lt;/b&gt;") && !html.contains("<b>bold"));
    assert!(html.contains("&lt;urgent&gt;") && html.contains("not a guarantee"));
    assert!(html.contains(&format!("{:.1}%", metrics.coverage_tumour_pct)));
    let files = dir.join("plan.report_files");
    for name in ["axial.png", "3d.png"] {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(files.join(name)).unwrap(),
        ));
        let info = decoder.read_info().unwrap();
        assert_eq!((info.info().width, info.info().height), (4, 3));
    }
    assert!(dir.join("plan.report.json").exists());
    for d in [&dir, &files] {
        for e in std::fs::read_dir(d).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "left behind {name}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn probe_eye_views_contain_the_shaft_and_cut_across_the_tip() {
    use margo::app::state::SlotContent;
    use margo_volume::nalgebra::Vector3;
    let mut h = harness_with(Default::default(), |app| app.show_case(chest_case()));
    settle(&mut h, 1);
    // An oblique shaft (not along any voxel axis), tip by the nodule.
    let nodule = Point3::from(NODULE_CENTRE);
    let tip = nodule + Vector3::new(3.0, 4.0, 5.0);
    let entry = nodule + Vector3::new(-60.0, -40.0, 30.0);
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .plan
        .add_probe(tip, entry);
    settle(&mut h, 1);
    // The side panel's button (in the collapsed "Views" section) switches slots 3 and 4 to
    // the probe's-eye planes.
    h.get_by_label("Views: slab, oblique, 3D").click();
    h.run_steps(2);
    h.get_by_label("P1 views").click();
    settle(&mut h, 1);
    let v = h.state().viewer().unwrap();
    assert_eq!(v.state.slots[2].content, SlotContent::ProbeAcross(0));
    assert_eq!(v.state.slots[3].content, SlotContent::ProbeAlong(0));
    let shaft = (tip - entry).normalize();
    let inside = |g: &margo_volume::SliceGrid, p: &Point3<f64>| {
        let (x, y, _) = g.screen_from_world(p);
        x >= 0.0 && y >= 0.0 && x < g.width() as f64 && y < g.height() as f64
    };

    // Along the shaft: tip, entry and the midpoint lie in the drawn plane; the view is centred
    // on the tip, the shaft runs straight up the screen from it towards the entry.
    let along = v.grids[3].as_ref().expect("along-shaft view drawn");
    let (tip_x, tip_y, _) = along.screen_from_world(&tip);
    assert!(
        inside(along, &tip),
        "tip off screen in the along-shaft view"
    );
    assert!(inside(along, &(tip - shaft * 20.0)), "shaft off screen");
    for p in [tip, entry, nalgebra_mid(&tip, &entry)] {
        let (x, y, depth_mm) = along.screen_from_world(&p);
        assert!(depth_mm.abs() < 1e-6, "{p} is {depth_mm} mm off the plane");
        assert!(
            (x - tip_x).abs() < 1e-6,
            "{p}: shaft not vertical on screen"
        );
        assert!(y <= tip_y + 1e-9, "{p} below the tip on screen");
    }
    assert!(along.normal_in_world().dot(&shaft).abs() < 1e-9);

    // Across the tip: the plane passes through the tip, perpendicular to the shaft.
    let across = v.grids[2].as_ref().expect("across-tip view drawn");
    let (_, _, depth_mm) = across.screen_from_world(&tip);
    assert!(depth_mm.abs() < 1e-6, "tip is {depth_mm} mm off the plane");
    assert!(inside(across, &tip));
    assert!((across.normal_in_world().dot(&shaft).abs() - 1.0).abs() < 1e-9);
    // The entry is far off the across plane (by the shaft length).
    let (_, _, entry_depth) = across.screen_from_world(&entry);
    assert!((entry_depth.abs() - (tip - entry).norm()).abs() < 1e-6);
}

fn nalgebra_mid(a: &Point3<f64>, b: &Point3<f64>) -> Point3<f64> {
    margo_volume::nalgebra::center(a, b)
}
