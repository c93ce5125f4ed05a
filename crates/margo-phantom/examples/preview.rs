//! Writes PNG previews of a phantom (axial, coronal, sagittal; lung and soft-tissue windows)
//! in radiological orientation, for looking at the generator's output.
//!
//! `cargo run -p margo-phantom --example preview -- OUT_DIR [SEED] [NX NY NZ DX DY DZ]`

use std::io::BufWriter;

use margo_phantom::{PhantomConfig, generate};
use margo_volume::Volume;

fn window(hu: i16, level: f32, width: f32) -> u8 {
    (((hu as f32 - (level - width / 2.0)) / width).clamp(0.0, 1.0) * 255.0) as u8
}

fn write_png(path: &std::path::Path, w: usize, h: usize, px: &[u8]) {
    let f = std::fs::File::create(path).expect("create png");
    let mut enc = png::Encoder::new(BufWriter::new(f), w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(px).unwrap();
}

/// Axial at slice k: screen x = i (patient right on the left), screen y = j (anterior up).
fn axial(v: &Volume<i16>, k: usize, level: f32, width: f32) -> (usize, usize, Vec<u8>) {
    let [nx, ny, _] = v.dims();
    let s = v.slice(k).unwrap();
    (nx, ny, s.iter().map(|&h| window(h, level, width)).collect())
}

/// Coronal at row j: screen x = i, screen y = superior up (k descending). Rows repeated to
/// keep the aspect ratio.
fn coronal(v: &Volume<i16>, j: usize, level: f32, width: f32) -> (usize, usize, Vec<u8>) {
    let [nx, _, nz] = v.dims();
    let sp = v.geometry().spacing_mm();
    let rep = (sp[2] / sp[0]).round().max(1.0) as usize;
    let mut px = Vec::new();
    for k in (0..nz).rev() {
        for _ in 0..rep {
            for i in 0..nx {
                px.push(window(v.get(i, j, k).unwrap(), level, width));
            }
        }
    }
    (nx, nz * rep, px)
}

/// Sagittal at column i: viewed from the patient's left: screen x = anterior on the left (j).
fn sagittal(v: &Volume<i16>, i: usize, level: f32, width: f32) -> (usize, usize, Vec<u8>) {
    let [_, ny, nz] = v.dims();
    let sp = v.geometry().spacing_mm();
    let rep = (sp[2] / sp[1]).round().max(1.0) as usize;
    let mut px = Vec::new();
    for k in (0..nz).rev() {
        for _ in 0..rep {
            for j in 0..ny {
                px.push(window(v.get(i, j, k).unwrap(), level, width));
            }
        }
    }
    (ny, nz * rep, px)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or("target/phantom-preview".into()),
    );
    std::fs::create_dir_all(&out).unwrap();
    let mut config = PhantomConfig::default();
    if let Some(s) = args.get(2) {
        config.seed = s.parse().unwrap();
    }
    if args.len() >= 9 {
        let n: Vec<usize> = args[3..6].iter().map(|a| a.parse().unwrap()).collect();
        let s: Vec<f64> = args[6..9].iter().map(|a| a.parse().unwrap()).collect();
        config.dims = [n[0], n[1], n[2]];
        config.spacing_mm = [s[0], s[1], s[2]];
    }
    let t0 = std::time::Instant::now();
    let p = generate(&config).unwrap();
    eprintln!(
        "generated {:?} in {:.2} s",
        config.dims,
        t0.elapsed().as_secs_f64()
    );
    let g = p.volume.geometry().clone();
    let [nx, ny, nz] = g.dims();
    let mut ks: Vec<(String, usize)> = vec![];
    for z in [120.0, 62.0, 30.0, 0.0, -30.0, -70.0] {
        let k = g.rounded_index_from_world(&margo_volume::nalgebra::Point3::new(0.0, 8.0, z));
        if let Some([_, _, k]) = k {
            ks.push((format!("axial_z{z}"), k));
        }
    }
    for (i, n) in p.truth.nodules.iter().enumerate() {
        let c = margo_volume::nalgebra::Point3::from(n.centre_lps_mm);
        if let Some([_, _, k]) = g.rounded_index_from_world(&c) {
            ks.push((format!("axial_nodule{i}_{}", n.kind.name()), k));
        }
    }
    for (name, k) in &ks {
        let (w, h, px) = axial(&p.volume, *k, -600.0, 1500.0);
        write_png(&out.join(format!("{name}_lung.png")), w, h, &px);
    }
    for (name, k) in ks.iter().take(4) {
        let (w, h, px) = axial(&p.volume, *k, 40.0, 400.0);
        write_png(&out.join(format!("{name}_soft.png")), w, h, &px);
    }
    let (w, h, px) = coronal(&p.volume, ny / 2, -600.0, 1500.0);
    write_png(&out.join("coronal_lung.png"), w, h, &px);
    let (w, h, px) = coronal(&p.volume, ny * 3 / 4, 300.0, 1500.0);
    write_png(&out.join("coronal_posterior_bone.png"), w, h, &px);
    let (w, h, px) = sagittal(&p.volume, nx * 2 / 3, -600.0, 1500.0);
    write_png(&out.join("sagittal_left_lung.png"), w, h, &px);
    let (w, h, px) = sagittal(&p.volume, nx / 2, 40.0, 400.0);
    write_png(&out.join("sagittal_mid_soft.png"), w, h, &px);
    let _ = nz;
    for (i, n) in p.truth.nodules.iter().enumerate() {
        eprintln!(
            "nodule {i}: {:?} {:?} centre {:?} d {:.1} mm",
            n.kind, n.lobe, n.centre_lps_mm, n.diameter_mm
        );
    }
    let segs: usize = p.truth.vessels.iter().map(|t| t.segments.len()).sum();
    let asegs: usize = p.truth.airways.iter().map(|t| t.segments.len()).sum();
    eprintln!("vessel segments {segs}, airway segments {asegs}");
    for t in &p.truth.vessels {
        eprint!("{}:{} ", t.name, t.segments.len());
    }
    eprintln!();
}
