//! Nodule segmentation, ablation-zone models, margin metrics, trajectory checks, plan files.
//!
//! Depends on `margo-volume` only: no GPU, no UI. All positions are LPS millimetres.
//!
//! Flow: [`segment::segment`] a nodule from a seed -> [`metrics::TumourModel::new`] once ->
//! [`zones::build_zones`] from the probes -> [`metrics::TumourModel::evaluate`] for coverage and
//! margins (fast enough to run on every probe move) -> [`findings`] for trajectory and selection
//! risks -> [`planfile`] to save/load -> [`report`] for JSON/Markdown/HTML.
//!
//! Medical honesty: zone sizes come from vendors' ex vivo liver data, animal studies and phantoms
//! (each row says which). A plan is a planning aid, never a guarantee of the zone a device makes.

pub mod devices;
pub mod ellipsoid;
pub mod findings;
pub mod grid;
pub mod metrics;
pub mod planfile;
pub mod probe;
pub mod region;
pub mod report;
pub mod segment;
pub mod zones;

pub use devices::{Device, DeviceSetting, Evidence, Modality, TissueScale, catalog, find_device};
pub use ellipsoid::Ellipsoid;
pub use findings::{Finding, Severity};
pub use metrics::{MarginMetrics, TumourModel};
pub use probe::ProbeSpec;
pub use region::ZoneRegion;
pub use segment::{SegmentParams, Segmentation, segment};
pub use zones::{PlannedZones, ZoneOptions, ZoneShape, build_zones};

/// Shown with every plan and report.
pub const DISCLAIMER: &str = "Planning aid for trained operators and teaching, not a guarantee. \
Zone sizes come from vendors' ex vivo liver data, animal studies and phantoms, not from human \
lung; the real ablation zone depends on tissue, perfusion, nearby vessels and airways, and device. \
Margins and risks are computed on this plan's geometry only.";
