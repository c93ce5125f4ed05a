//! Margo's foundation: voxel grids placed in DICOM patient space.
//!
//! World space is LPS millimetres (+x patient left, +y posterior, +z superior). A voxel index
//! `(i, j, k)` is (column, row, slice); the origin is the centre of voxel `(0, 0, 0)` (ITK
//! convention) and `world_from_voxel = T(origin) * D * S(spacing)`, where the columns of `D` are
//! the unit directions of the i, j and k axes. Transforms are kept in f64; the GPU boundary
//! converts to f32.

pub mod anatomy;
pub mod atomic;
pub mod geometry;
pub mod mask;
pub mod reslice;
pub mod testdata;
pub mod volume;

pub use anatomy::{AnatomicalView, ScreenAxes, orientation_label};
pub use geometry::{Aabb, GeometryError, VolumeGeometry};
pub use mask::Mask;
pub use reslice::{Interpolation, SliceGrid, SliceGridError};
pub use volume::{Volume, VolumeError, Voxel};

/// Re-exported so that downstream crates use the same nalgebra version.
pub use nalgebra;
