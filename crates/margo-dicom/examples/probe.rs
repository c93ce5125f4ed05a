//! Prints what margo-dicom makes of each file or folder given on the command line.
use std::path::PathBuf;

fn main() {
    for arg in std::env::args().skip(1) {
        let path = PathBuf::from(&arg);
        let report = margo_dicom::scan_files(std::slice::from_ref(&path));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(s) = report.series.first() {
            match margo_dicom::load_series(s, &margo_dicom::no_progress) {
                Ok(l) => {
                    let (lo, hi) = l.volume.min_max().unwrap();
                    println!(
                        "{name}: OK {:?} {} ct={} range {lo}..{hi} sp {:?} warn {:?}",
                        l.volume.dims(),
                        l.meta.modality,
                        l.meta.is_ct,
                        s.spacing_mm,
                        l.meta.warnings
                    );
                }
                Err(e) => println!("{name}: ERR {e}"),
            }
        } else {
            println!(
                "{name}: no series; skipped {:?} ignored {:?}",
                report.skipped, report.ignored
            );
        }
    }
}
