//! `Volume<T>`: a geometry plus contiguous voxels in i-fastest order.

use nalgebra::Point3;
use thiserror::Error;

use crate::geometry::VolumeGeometry;

#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum VolumeError {
    #[error("voxel buffer holds {actual} values but the geometry {dims:?} needs {expected}")]
    VoxelCountMismatch {
        dims: [usize; 3],
        expected: usize,
        actual: usize,
    },
}

/// A scalar voxel type that can be sampled as f32.
pub trait Voxel: Copy + Send + Sync + 'static {
    fn to_f32(self) -> f32;
}

macro_rules! impl_voxel {
    ($($t:ty),*) => {$(
        impl Voxel for $t {
            #[inline]
            fn to_f32(self) -> f32 {
                self as f32
            }
        }
    )*};
}
impl_voxel!(i8, u8, i16, u16, i32, u32, f32);

impl Voxel for bool {
    #[inline]
    fn to_f32(self) -> f32 {
        if self { 1.0 } else { 0.0 }
    }
}

/// A scalar volume. CT volumes are `Volume<i16>` holding Hounsfield units.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    geometry: VolumeGeometry,
    voxels: Vec<T>,
}

impl<T: Voxel> Volume<T> {
    pub fn new(geometry: VolumeGeometry, voxels: Vec<T>) -> Result<Self, VolumeError> {
        let expected = geometry.voxel_count();
        if voxels.len() != expected {
            return Err(VolumeError::VoxelCountMismatch {
                dims: geometry.dims(),
                expected,
                actual: voxels.len(),
            });
        }
        Ok(Self { geometry, voxels })
    }

    pub fn filled(geometry: VolumeGeometry, value: T) -> Self {
        let voxels = vec![value; geometry.voxel_count()];
        Self { geometry, voxels }
    }

    /// Builds a volume by evaluating `f(i, j, k)` for every voxel (in parallel over slices).
    pub fn from_fn(geometry: VolumeGeometry, f: impl Fn(usize, usize, usize) -> T + Sync) -> Self
    where
        T: Default,
    {
        use rayon::prelude::*;
        let [nx, ny, _] = geometry.dims();
        let mut voxels = vec![T::default(); geometry.voxel_count()];
        voxels
            .par_chunks_mut(nx * ny)
            .enumerate()
            .for_each(|(k, slice)| {
                for j in 0..ny {
                    for i in 0..nx {
                        slice[i + nx * j] = f(i, j, k);
                    }
                }
            });
        Self { geometry, voxels }
    }

    pub fn geometry(&self) -> &VolumeGeometry {
        &self.geometry
    }

    pub fn dims(&self) -> [usize; 3] {
        self.geometry.dims()
    }

    /// All voxels, i fastest, then j, then k.
    pub fn voxels(&self) -> &[T] {
        &self.voxels
    }

    pub fn voxels_mut(&mut self) -> &mut [T] {
        &mut self.voxels
    }

    pub fn into_voxels(self) -> Vec<T> {
        self.voxels
    }

    pub fn get(&self, i: usize, j: usize, k: usize) -> Option<T> {
        let [nx, ny, nz] = self.dims();
        (i < nx && j < ny && k < nz).then(|| self.voxels[self.geometry.linear_index(i, j, k)])
    }

    /// Sets a voxel; returns false (and changes nothing) outside the grid.
    pub fn set(&mut self, i: usize, j: usize, k: usize, value: T) -> bool {
        let [nx, ny, nz] = self.dims();
        if i < nx && j < ny && k < nz {
            let idx = self.geometry.linear_index(i, j, k);
            self.voxels[idx] = value;
            true
        } else {
            false
        }
    }

    /// One axial (constant-k) slice, rows of i.
    pub fn slice(&self, k: usize) -> Option<&[T]> {
        let n = self.dims()[0] * self.dims()[1];
        self.voxels.get(k * n..(k + 1) * n)
    }

    /// Mutable slices, one per k, for filling in parallel.
    pub fn slices_mut(&mut self) -> std::slice::ChunksMut<'_, T> {
        let n = self.dims()[0] * self.dims()[1];
        self.voxels.chunks_mut(n)
    }

    /// Nearest-neighbour sample at a world point; `None` outside the grid's cells.
    pub fn sample_nearest_world(&self, point_in_world: &Point3<f64>) -> Option<T> {
        let [i, j, k] = self.geometry.rounded_index_from_world(point_in_world)?;
        Some(self.voxels[self.geometry.linear_index(i, j, k)])
    }

    /// Trilinear sample at a world point; `None` outside the grid's cells. Between the outer
    /// voxel centres and the grid face the edge value is held (clamp-to-edge, as the GPU does).
    pub fn sample_linear_world(&self, point_in_world: &Point3<f64>) -> Option<f32> {
        let index = self.geometry.index_from_world(point_in_world);
        self.sample_linear_index(&index)
    }

    /// Trilinear sample at a continuous index (voxel centres at integers).
    pub fn sample_linear_index(&self, index: &Point3<f64>) -> Option<f32> {
        if !self.geometry.contains_index(index) {
            return None;
        }
        let dims = self.dims();
        let mut lo = [0usize; 3];
        let mut hi = [0usize; 3];
        let mut frac = [0f64; 3];
        for a in 0..3 {
            let c = index[a].clamp(0.0, (dims[a] - 1) as f64);
            let f = c.floor();
            lo[a] = f as usize;
            hi[a] = (lo[a] + 1).min(dims[a] - 1);
            frac[a] = c - f;
        }
        let v = |i: usize, j: usize, k: usize| {
            self.voxels[self.geometry.linear_index(i, j, k)].to_f32() as f64
        };
        let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
        let c00 = lerp(v(lo[0], lo[1], lo[2]), v(hi[0], lo[1], lo[2]), frac[0]);
        let c10 = lerp(v(lo[0], hi[1], lo[2]), v(hi[0], hi[1], lo[2]), frac[0]);
        let c01 = lerp(v(lo[0], lo[1], hi[2]), v(hi[0], lo[1], hi[2]), frac[0]);
        let c11 = lerp(v(lo[0], hi[1], hi[2]), v(hi[0], hi[1], hi[2]), frac[0]);
        let c0 = lerp(c00, c10, frac[1]);
        let c1 = lerp(c01, c11, frac[1]);
        Some(lerp(c0, c1, frac[2]) as f32)
    }

    /// Minimum and maximum voxel value (as f32), or None for an empty volume.
    pub fn min_max(&self) -> Option<(f32, f32)> {
        use rayon::prelude::*;
        self.voxels
            .par_iter()
            .map(|v| {
                let x = v.to_f32();
                (x, x)
            })
            .reduce_with(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Matrix3;

    fn ramp() -> Volume<i16> {
        // value = i + 10 j + 100 k: trilinear interpolation of a linear function is exact.
        let g = VolumeGeometry::new(
            [4, 5, 3],
            [0.5, 2.0, 3.0],
            [10.0, -20.0, 5.0],
            Matrix3::new(0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        )
        .unwrap();
        Volume::from_fn(g, |i, j, k| (i + 10 * j + 100 * k) as i16)
    }

    #[test]
    fn rejects_wrong_buffer_length() {
        let g = VolumeGeometry::axis_aligned([2, 2, 2], [1.0; 3], [0.0; 3]).unwrap();
        assert!(matches!(
            Volume::new(g, vec![0i16; 7]),
            Err(VolumeError::VoxelCountMismatch {
                expected: 8,
                actual: 7,
                ..
            })
        ));
    }

    #[test]
    fn layout_is_i_fastest() {
        let v = ramp();
        assert_eq!(v.voxels()[1], 1);
        assert_eq!(v.voxels()[4], 10);
        assert_eq!(v.voxels()[20], 100);
        assert_eq!(v.get(3, 4, 2), Some(3 + 40 + 200));
        assert_eq!(v.get(4, 0, 0), None);
        assert_eq!(v.slice(1).unwrap()[0], 100);
    }

    #[test]
    fn trilinear_is_exact_on_linear_field() {
        let v = ramp();
        let g = v.geometry().clone();
        for idx in [
            Point3::new(0.25, 1.5, 0.75),
            Point3::new(2.9, 3.1, 1.99),
            Point3::new(1.0, 2.0, 1.0),
        ] {
            let p = g.world_from_index(&idx);
            let expected = idx[0] + 10.0 * idx[1] + 100.0 * idx[2];
            let got = v.sample_linear_world(&p).unwrap() as f64;
            assert!(
                (got - expected).abs() < 1e-3,
                "{idx:?}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn clamps_to_edge_inside_half_voxel_border_and_none_outside() {
        let v = ramp();
        let g = v.geometry().clone();
        let edge = g.world_from_index(&Point3::new(-0.4, 0.0, 0.0));
        assert_eq!(v.sample_linear_world(&edge), Some(0.0));
        let outside = g.world_from_index(&Point3::new(-0.6, 0.0, 0.0));
        assert_eq!(v.sample_linear_world(&outside), None);
        assert_eq!(v.sample_nearest_world(&outside), None);
        let near = g.world_from_index(&Point3::new(1.4, 2.6, 0.0));
        assert_eq!(v.sample_nearest_world(&near), Some(31));
    }

    #[test]
    fn min_max() {
        assert_eq!(ramp().min_max(), Some((0.0, 3.0 + 40.0 + 200.0)));
    }
}
