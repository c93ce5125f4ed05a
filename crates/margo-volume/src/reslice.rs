//! CPU reslicing of an arbitrary plane: the reference the GPU MPR is tested against.
//!
//! A [`SliceGrid`] is a rectangle of square pixels in world space. Pixel `(px, py)` (column,
//! row; rows go down the screen) has its centre at
//! `center + ((px + 0.5) - width / 2) * pixel_size * right + ((py + 0.5) - height / 2) * pixel_size * down`.
//! The GPU renderer uses exactly this mapping.

use nalgebra::{Point3, Vector3};
use rayon::prelude::*;
use thiserror::Error;

use crate::anatomy::{AnatomicalView, ScreenAxes};
use crate::volume::{Volume, Voxel};

#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SliceGridError {
    #[error("output size must be at least 1x1, got {width}x{height}")]
    EmptyOutput { width: usize, height: usize },
    #[error("pixel size must be finite and positive, got {pixel_size_mm} mm")]
    InvalidPixelSize { pixel_size_mm: f64 },
    #[error("plane centre must be finite, got {center:?}")]
    InvalidCenter { center: [f64; 3] },
    #[error("plane axes must be finite, non-zero and not parallel: right {right:?}, down {down:?}")]
    DegenerateAxes { right: [f64; 3], down: [f64; 3] },
}

/// How to read the volume between voxel centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Interpolation {
    Nearest,
    #[default]
    Linear,
}

/// A plane of `width x height` square pixels in world space.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceGrid {
    center_in_world: Point3<f64>,
    right_in_world: Vector3<f64>,
    down_in_world: Vector3<f64>,
    pixel_size_mm: f64,
    width: usize,
    height: usize,
}

impl SliceGrid {
    /// `right` and `down` need not be unit or exactly orthogonal: `down` is re-orthogonalised
    /// against `right` (so an oblique plane keeps `right` exactly) and both are normalised.
    pub fn new(
        center_in_world: Point3<f64>,
        right: Vector3<f64>,
        down: Vector3<f64>,
        pixel_size_mm: f64,
        width: usize,
        height: usize,
    ) -> Result<Self, SliceGridError> {
        if width == 0 || height == 0 {
            return Err(SliceGridError::EmptyOutput { width, height });
        }
        if !(pixel_size_mm.is_finite() && pixel_size_mm > 0.0) {
            return Err(SliceGridError::InvalidPixelSize { pixel_size_mm });
        }
        if center_in_world.iter().any(|c| !c.is_finite()) {
            return Err(SliceGridError::InvalidCenter {
                center: center_in_world.coords.into(),
            });
        }
        let degenerate = || SliceGridError::DegenerateAxes {
            right: right.into(),
            down: down.into(),
        };
        let right_unit = right.try_normalize(1e-12).ok_or_else(degenerate)?;
        let down_ortho = down - right_unit * right_unit.dot(&down);
        // Require the axes to be clearly non-parallel (more than ~0.06 degrees apart).
        let ortho_norm = down_ortho.norm();
        if !ortho_norm.is_finite() || ortho_norm <= 1e-3 * down.norm() {
            return Err(degenerate());
        }
        let down_unit = down_ortho.try_normalize(1e-12).ok_or_else(degenerate)?;
        Ok(Self {
            center_in_world,
            right_in_world: right_unit,
            down_in_world: down_unit,
            pixel_size_mm,
            width,
            height,
        })
    }

    /// A standard view through `center_in_world` whose width spans `fov_width_mm`.
    pub fn anatomical(
        view: AnatomicalView,
        center_in_world: Point3<f64>,
        fov_width_mm: f64,
        width: usize,
        height: usize,
    ) -> Result<Self, SliceGridError> {
        let ScreenAxes {
            right_in_world,
            down_in_world,
        } = view.screen_axes();
        let pixel_size_mm = fov_width_mm / width.max(1) as f64;
        Self::new(
            center_in_world,
            right_in_world,
            down_in_world,
            pixel_size_mm,
            width,
            height,
        )
    }

    pub fn center_in_world(&self) -> Point3<f64> {
        self.center_in_world
    }
    pub fn right_in_world(&self) -> Vector3<f64> {
        self.right_in_world
    }
    pub fn down_in_world(&self) -> Vector3<f64> {
        self.down_in_world
    }
    /// Unit normal, pointing away from the viewer (right x down).
    pub fn normal_in_world(&self) -> Vector3<f64> {
        self.right_in_world.cross(&self.down_in_world)
    }
    pub fn pixel_size_mm(&self) -> f64 {
        self.pixel_size_mm
    }
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }

    /// World position of a continuous screen position in pixels (pixel centres at +0.5).
    pub fn world_from_screen(&self, x_px: f64, y_px: f64) -> Point3<f64> {
        let s = self.pixel_size_mm;
        self.center_in_world
            + self.right_in_world * ((x_px - self.width as f64 / 2.0) * s)
            + self.down_in_world * ((y_px - self.height as f64 / 2.0) * s)
    }

    /// Centre of pixel (px, py) in world.
    pub fn world_from_pixel(&self, px: usize, py: usize) -> Point3<f64> {
        self.world_from_screen(px as f64 + 0.5, py as f64 + 0.5)
    }

    /// Screen position in pixels of the projection of a world point onto the plane, and its
    /// signed distance from the plane in mm (positive away from the viewer).
    pub fn screen_from_world(&self, point_in_world: &Point3<f64>) -> (f64, f64, f64) {
        let d = point_in_world - self.center_in_world;
        let s = self.pixel_size_mm;
        (
            d.dot(&self.right_in_world) / s + self.width as f64 / 2.0,
            d.dot(&self.down_in_world) / s + self.height as f64 / 2.0,
            d.dot(&self.normal_in_world()),
        )
    }

    /// The same plane moved along its normal by `offset_mm`.
    pub fn shifted(&self, offset_mm: f64) -> Self {
        let mut out = self.clone();
        out.center_in_world += self.normal_in_world() * offset_mm;
        out
    }
}

/// Samples the volume at every pixel centre of the grid, row by row (`width` values per row).
/// `None` where the pixel centre falls outside the volume's grid.
pub fn reslice<T: Voxel>(
    volume: &Volume<T>,
    grid: &SliceGrid,
    interpolation: Interpolation,
) -> Vec<Option<f32>> {
    let g = volume.geometry();
    let mut out = vec![None; grid.width * grid.height];
    out.par_chunks_mut(grid.width)
        .enumerate()
        .for_each(|(py, row)| {
            for (px, value) in row.iter_mut().enumerate() {
                let p = grid.world_from_pixel(px, py);
                *value = match interpolation {
                    Interpolation::Nearest => volume.sample_nearest_world(&p).map(Voxel::to_f32),
                    Interpolation::Linear => volume.sample_linear_index(&g.index_from_world(&p)),
                };
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::VolumeGeometry;
    use nalgebra::Matrix3;

    #[test]
    fn pixel_centres_are_symmetric_about_the_plane_centre() {
        let g = SliceGrid::new(
            Point3::new(1.0, 2.0, 3.0),
            Vector3::x(),
            Vector3::y(),
            0.5,
            4,
            2,
        )
        .unwrap();
        let a = g.world_from_pixel(0, 0);
        let b = g.world_from_pixel(3, 1);
        assert!((nalgebra::center(&a, &b) - g.center_in_world()).norm() < 1e-12);
        assert!((a - Point3::new(1.0 - 0.75, 2.0 - 0.25, 3.0)).norm() < 1e-12);
        let (x, y, d) = g.screen_from_world(&b);
        assert!((x - 3.5).abs() < 1e-12 && (y - 1.5).abs() < 1e-12 && d.abs() < 1e-12);
    }

    #[test]
    fn rejects_degenerate_planes() {
        let c = Point3::origin();
        assert!(SliceGrid::new(c, Vector3::x(), Vector3::y(), 1.0, 0, 5).is_err());
        assert!(SliceGrid::new(c, Vector3::x(), Vector3::y(), 0.0, 5, 5).is_err());
        assert!(SliceGrid::new(c, Vector3::zeros(), Vector3::y(), 1.0, 5, 5).is_err());
        assert!(SliceGrid::new(c, Vector3::x(), Vector3::x() * 2.0, 1.0, 5, 5).is_err());
        assert!(
            SliceGrid::new(c, Vector3::x(), Vector3::new(f64::NAN, 1.0, 0.0), 1.0, 5, 5).is_err()
        );
        assert!(
            SliceGrid::new(
                Point3::new(f64::NAN, 0.0, 0.0),
                Vector3::x(),
                Vector3::y(),
                1.0,
                5,
                5
            )
            .is_err()
        );
    }

    #[test]
    fn axial_reslice_through_voxel_centres_returns_the_voxels() {
        let geom = VolumeGeometry::axis_aligned([6, 4, 3], [1.0, 1.0, 2.0], [0.0; 3]).unwrap();
        let v = Volume::from_fn(geom, |i, j, k| (i + 10 * j + 100 * k) as i16);
        // Plane through slice k = 1 (z = 2 mm), covering the volume exactly with 1 mm pixels.
        let grid =
            SliceGrid::anatomical(AnatomicalView::Axial, Point3::new(2.5, 1.5, 2.0), 6.0, 6, 4)
                .unwrap();
        for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
            let img = reslice(&v, &grid, interpolation);
            for py in 0..4 {
                for px in 0..6 {
                    assert_eq!(img[px + 6 * py], Some((px + 10 * py + 100) as f32));
                }
            }
        }
    }

    #[test]
    fn outside_pixels_are_none_and_rotated_volumes_resample_consistently() {
        // The same physical ramp f(x, y, z) = x + 2y + 3z stored in a rotated grid must reslice
        // to the same values as in an axis-aligned grid.
        let f = |p: Point3<f64>| (p.x + 2.0 * p.y + 3.0 * p.z) as f32;
        let rot = Matrix3::new(0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0);
        let geom =
            VolumeGeometry::new([9, 9, 9], [1.0, 1.5, 0.75], [-4.0, -6.0, -3.0], rot).unwrap();
        let g2 = geom.clone();
        let v = Volume::from_fn(geom, move |i, j, k| f(g2.world_from_ijk([i, j, k])));
        let grid = SliceGrid::new(
            v.geometry().center_in_world(),
            Vector3::new(1.0, 1.0, 0.0),
            Vector3::new(0.0, 0.3, 1.0),
            0.4,
            40,
            40,
        )
        .unwrap();
        let img = reslice(&v, &grid, Interpolation::Linear);
        let mut inside = 0;
        for py in 0..40 {
            for px in 0..40 {
                let p = grid.world_from_pixel(px, py);
                match img[px + 40 * py] {
                    Some(val) => {
                        inside += 1;
                        // Interior of the grid (not in the clamped half-voxel border): exact.
                        let idx = v.geometry().index_from_world(&p);
                        if (0..3).all(|a| idx[a] >= 0.0 && idx[a] <= 8.0) {
                            assert!((val - f(p)).abs() < 1e-3, "{val} vs {}", f(p));
                        }
                    }
                    None => assert!(!v.geometry().contains_world(&p)),
                }
            }
        }
        assert!(inside > 100);
    }
}
