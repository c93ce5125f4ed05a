//! Find, sort, decode and validate DICOM CT series into margo volumes.
//!
//! ```no_run
//! let ct = margo_dicom::open_ct(std::path::Path::new("../shared/ct/lidc-idri-0001")).unwrap();
//! println!("{:?} {}", ct.volume.dims(), ct.meta.description);
//! ```
//!
//! The app scans first ([`scan_folder`]: headers only, fast), shows the [`SeriesSummary`]s,
//! then loads one ([`load_series`]) with a progress callback that can cancel.
//!
//! Geometry follows margo-volume: LPS mm, origin at the centre of voxel (0,0,0), direction
//! columns = DICOM row cosines, column cosines, and their cross product (the slice normal);
//! slices are sorted by ImagePositionPatient projected on that normal. Irregular stacks
//! (uneven spacing, gantry tilt, duplicate positions) are refused with an error naming files.

mod attrs;
mod decode;
mod error;
mod fast;
mod header;
mod j2k;
mod jpeg_lossless;
mod lengths;
mod load;
mod meta;
mod pixels;
mod read;
mod scan;
mod series;
mod ts;

pub use error::DicomError;
pub use load::{
    LoadProgress, LoadedSeries, choose_ct, load_series, no_progress, open_ct,
    open_ct_with_progress, skipped_files,
};
pub use meta::{Anonymisation, SeriesMeta, SkippedFile, WindowPreset};
pub use scan::{ScanReport, scan_files, scan_folder};
pub use series::SeriesSummary;
pub use ts::transfer_syntax_name;
