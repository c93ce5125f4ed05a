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

/// Which screen coordinate one voxel-index axis follows on an axis-aligned plane.
#[derive(Clone, Copy)]
enum AxisSource {
    Column,
    Row,
    Constant,
}

/// One voxel axis sampled at one screen coordinate, or `None` outside the grid's cells.
#[derive(Clone, Copy)]
struct LinearTap {
    lo_offset: usize,
    hi_offset: usize,
    frac: f64,
}

/// Same values as [`reslice`], faster when every voxel-index axis varies with at most one of
/// the screen axes (the standard axial/coronal/sagittal views of a volume whose direction is a
/// signed permutation, any spacing). Falls back to [`reslice`] for any other plane.
pub fn reslice_fast<T: Voxel>(
    volume: &Volume<T>,
    grid: &SliceGrid,
    interpolation: Interpolation,
) -> Vec<Option<f32>> {
    reslice_separable(volume, grid, interpolation)
        .unwrap_or_else(|| reslice(volume, grid, interpolation))
}

/// The separable reslice, or `None` when some voxel axis depends on both screen axes.
///
/// Why the values are bit-identical to [`reslice`]: the index of pixel (px, py) along axis `a`
/// is `sum_b M[a][b] * (c[b] + r[b] * tx + d[b] * ty) + t[a]`. When `M[a][b]` is exactly zero
/// wherever `d[b]` is non-zero (an axis that follows the column), every term carrying `ty` is an
/// exact zero (`0 * x`, `x + 0`), so the index equals the one computed at (px, 0) to the last
/// bit; likewise for rows and constants. The per-pixel arithmetic after that (clamp, floor,
/// lerps in the same order) is the same as `Volume::sample_linear_index`.
pub fn reslice_separable<T: Voxel>(
    volume: &Volume<T>,
    grid: &SliceGrid,
    interpolation: Interpolation,
) -> Option<Vec<Option<f32>>> {
    let g = volume.geometry();
    let m = g.voxel_from_world();
    let (r, d) = (grid.right_in_world(), grid.down_in_world());
    let sources: [AxisSource; 3] = {
        let mut out = [AxisSource::Constant; 3];
        for (a, source) in out.iter_mut().enumerate() {
            let follows = |v: &Vector3<f64>| (0..3).any(|b| v[b] != 0.0 && m[(a, b)] != 0.0);
            *source = match (follows(&r), follows(&d)) {
                (true, true) => return None,
                (true, false) => AxisSource::Column,
                (false, true) => AxisSource::Row,
                (false, false) => AxisSource::Constant,
            };
        }
        out
    };
    if m.row(3).iter().ne([0.0, 0.0, 0.0, 1.0].iter()) {
        return None;
    }
    let dims = g.dims();
    let strides = [1, dims[0], dims[0] * dims[1]];
    let (w, h) = (grid.width(), grid.height());
    // Continuous index along axis `a` at the pixel that represents screen coordinate `n`.
    let index_at = |a: usize, n: usize| -> f64 {
        let p = match sources[a] {
            AxisSource::Column => grid.world_from_pixel(n, 0),
            AxisSource::Row => grid.world_from_pixel(0, n),
            AxisSource::Constant => grid.world_from_pixel(0, 0),
        };
        g.index_from_world(&p)[a]
    };
    let count = |a: usize| match sources[a] {
        AxisSource::Column => w,
        AxisSource::Row => h,
        AxisSource::Constant => 1,
    };
    let pick = |a: usize, px: usize, py: usize| match sources[a] {
        AxisSource::Column => px,
        AxisSource::Row => py,
        AxisSource::Constant => 0,
    };
    let voxels = volume.voxels();
    let mut out = vec![None; w * h];
    match interpolation {
        Interpolation::Nearest => {
            // Same rounding as VolumeGeometry::rounded_index_from_world.
            let taps: [Vec<Option<usize>>; 3] = std::array::from_fn(|a| {
                (0..count(a))
                    .map(|n| {
                        let r = (index_at(a, n) + 0.5).floor();
                        (r >= 0.0 && r < dims[a] as f64).then(|| r as usize * strides[a])
                    })
                    .collect()
            });
            out.par_chunks_mut(w).enumerate().for_each(|(py, row)| {
                for (px, value) in row.iter_mut().enumerate() {
                    let t: [Option<usize>; 3] = std::array::from_fn(|a| taps[a][pick(a, px, py)]);
                    if let [Some(i), Some(j), Some(k)] = t {
                        *value = Some(voxels[i + j + k].to_f32());
                    }
                }
            });
        }
        Interpolation::Linear => {
            // Same clamp, floor and fraction as Volume::sample_linear_index.
            let taps: [Vec<Option<LinearTap>>; 3] = std::array::from_fn(|a| {
                (0..count(a))
                    .map(|n| {
                        let index = index_at(a, n);
                        if !(index >= -0.5 && index <= dims[a] as f64 - 0.5) {
                            return None;
                        }
                        let c = index.clamp(0.0, (dims[a] - 1) as f64);
                        let f = c.floor();
                        let lo = f as usize;
                        let hi = (lo + 1).min(dims[a] - 1);
                        Some(LinearTap {
                            lo_offset: lo * strides[a],
                            hi_offset: hi * strides[a],
                            frac: c - f,
                        })
                    })
                    .collect()
            });
            out.par_chunks_mut(w).enumerate().for_each(|(py, row)| {
                for (px, value) in row.iter_mut().enumerate() {
                    let t: [Option<LinearTap>; 3] =
                        std::array::from_fn(|a| taps[a][pick(a, px, py)]);
                    let [Some(ti), Some(tj), Some(tk)] = t else {
                        continue;
                    };
                    let v = |i: usize, j: usize, k: usize| voxels[i + j + k].to_f32() as f64;
                    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
                    let (il, ih, jl, jh, kl, kh) = (
                        ti.lo_offset,
                        ti.hi_offset,
                        tj.lo_offset,
                        tj.hi_offset,
                        tk.lo_offset,
                        tk.hi_offset,
                    );
                    let c00 = lerp(v(il, jl, kl), v(ih, jl, kl), ti.frac);
                    let c10 = lerp(v(il, jh, kl), v(ih, jh, kl), ti.frac);
                    let c01 = lerp(v(il, jl, kh), v(ih, jl, kh), ti.frac);
                    let c11 = lerp(v(il, jh, kh), v(ih, jh, kh), ti.frac);
                    let c0 = lerp(c00, c10, tj.frac);
                    let c1 = lerp(c01, c11, tj.frac);
                    *value = Some(lerp(c0, c1, tk.frac) as f32);
                }
            });
        }
    }
    Some(out)
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

    /// Bitwise comparison (NaN-free data), `None` included.
    fn assert_same(a: &[Option<f32>], b: &[Option<f32>], what: &str) {
        assert_eq!(a.len(), b.len());
        for (n, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(
                x.map(f32::to_bits),
                y.map(f32::to_bits),
                "{what}: pixel {n}: {x:?} vs {y:?}"
            );
        }
    }

    #[test]
    fn separable_reslice_matches_reslice_bit_for_bit() {
        // Identity, flipped axes, and permuted + flipped directions; anisotropic spacing and an
        // odd origin so indices land between voxels and the planes overhang the volume.
        let directions = [
            Matrix3::identity(),
            Matrix3::new(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0),
            Matrix3::new(0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0, -1.0, 0.0),
            Matrix3::new(0.0, -1.0, 0.0, 0.0, 0.0, -1.0, -1.0, 0.0, 0.0),
        ];
        let mut checked = 0;
        for (n, direction) in directions.into_iter().enumerate() {
            let geom =
                VolumeGeometry::new([11, 7, 5], [0.7, 0.9, 2.5], [-3.1, 2.2, -4.3], direction)
                    .unwrap();
            let v = Volume::from_fn(geom, |i, j, k| {
                ((i * 37 + j * 101 + k * 13) % 200) as i16 - 100
            });
            let centre = v.geometry().center_in_world() + Vector3::new(0.31, -0.17, 0.43);
            for view in [
                AnatomicalView::Axial,
                AnatomicalView::Coronal,
                AnatomicalView::Sagittal,
            ] {
                for (fov, w, h) in [(30.0, 37, 29), (9.0, 16, 16), (7.7, 1, 3)] {
                    let grid = SliceGrid::anatomical(view, centre, fov, w, h).unwrap();
                    for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
                        let reference = reslice(&v, &grid, interpolation);
                        let fast = reslice_separable(&v, &grid, interpolation)
                            .expect("aligned plane is separable");
                        let what = format!("direction {n} {view:?} {w}x{h} {interpolation:?}");
                        assert_same(&fast, &reference, &what);
                        assert_same(&reslice_fast(&v, &grid, interpolation), &reference, &what);
                        // The big grid overhangs the volume: both inside and outside pixels.
                        if w == 37 {
                            assert!(reference.iter().any(Option::is_none), "{what}");
                            assert!(reference.iter().filter(|p| p.is_some()).count() > 20);
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 3 * 3 * 2);
    }

    #[test]
    fn oblique_planes_fall_back_to_reslice() {
        let geom = VolumeGeometry::axis_aligned([8, 8, 8], [1.0, 1.0, 2.0], [0.0; 3]).unwrap();
        let v = Volume::from_fn(geom, |i, j, k| (i + 3 * j + 7 * k) as i16);
        let grid = SliceGrid::new(
            Point3::new(3.5, 3.5, 7.0),
            Vector3::new(1.0, 0.2, 0.0),
            Vector3::new(0.0, 0.3, 1.0),
            0.5,
            20,
            20,
        )
        .unwrap();
        assert!(reslice_separable(&v, &grid, Interpolation::Linear).is_none());
        assert_same(
            &reslice_fast(&v, &grid, Interpolation::Linear),
            &reslice(&v, &grid, Interpolation::Linear),
            "oblique",
        );
    }
}
