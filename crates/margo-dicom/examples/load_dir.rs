//! Times scan + load of a folder a few times (a quick check; `margo bench load` is the
//! benchmark): `cargo run --release -p margo-dicom --example load_dir -- <DIR> [runs]`.
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: load_dir <DIR> [runs]"));
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    for _ in 0..runs {
        let t0 = Instant::now();
        let report = margo_dicom::scan_folder(&dir).unwrap();
        let t1 = Instant::now();
        let series = margo_dicom::choose_ct(&report).unwrap();
        let loaded = margo_dicom::load_series(series, &margo_dicom::no_progress).unwrap();
        let t2 = Instant::now();
        println!(
            "{:?}: scan {:.1} ms, load {:.1} ms",
            loaded.volume.dims(),
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3
        );
    }
}
