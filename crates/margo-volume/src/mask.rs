//! Binary label masks on a volume's grid.

use crate::geometry::VolumeGeometry;
use crate::volume::{Volume, VolumeError};

/// A binary mask on a grid: one byte per voxel, 0 = outside, anything else = inside. Bytes (not
/// bits) so that it uploads to the GPU as an R8 texture as is and writes in parallel.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    labels: Volume<u8>,
}

impl Mask {
    pub fn empty(geometry: VolumeGeometry) -> Self {
        Self {
            labels: Volume::filled(geometry, 0),
        }
    }

    pub fn from_labels(geometry: VolumeGeometry, labels: Vec<u8>) -> Result<Self, VolumeError> {
        Ok(Self {
            labels: Volume::new(geometry, labels)?,
        })
    }

    /// Builds a mask from a per-voxel predicate (evaluated in parallel).
    pub fn from_fn(
        geometry: VolumeGeometry,
        f: impl Fn(usize, usize, usize) -> bool + Sync,
    ) -> Self {
        Self {
            labels: Volume::from_fn(geometry, |i, j, k| u8::from(f(i, j, k))),
        }
    }

    pub fn geometry(&self) -> &VolumeGeometry {
        self.labels.geometry()
    }

    pub fn dims(&self) -> [usize; 3] {
        self.labels.dims()
    }

    /// Raw labels, i fastest.
    pub fn labels(&self) -> &[u8] {
        self.labels.voxels()
    }

    pub fn labels_mut(&mut self) -> &mut [u8] {
        self.labels.voxels_mut()
    }

    pub fn as_volume(&self) -> &Volume<u8> {
        &self.labels
    }

    /// False outside the grid.
    pub fn contains(&self, i: usize, j: usize, k: usize) -> bool {
        self.labels.get(i, j, k).is_some_and(|v| v != 0)
    }

    /// Sets a voxel; ignored outside the grid.
    pub fn set(&mut self, i: usize, j: usize, k: usize, inside: bool) {
        self.labels.set(i, j, k, u8::from(inside));
    }

    pub fn count(&self) -> usize {
        self.labels.voxels().iter().filter(|&&v| v != 0).count()
    }

    pub fn volume_mm3(&self) -> f64 {
        self.count() as f64 * self.geometry().voxel_volume_mm3()
    }

    pub fn volume_ml(&self) -> f64 {
        self.volume_mm3() / 1000.0
    }

    /// Inclusive voxel bounding box `(min, max)` of the set voxels, or None when empty.
    pub fn bounding_box(&self) -> Option<([usize; 3], [usize; 3])> {
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut any = false;
        for (i, j, k) in self.iter_set() {
            any = true;
            for (a, v) in [i, j, k].into_iter().enumerate() {
                lo[a] = lo[a].min(v);
                hi[a] = hi[a].max(v);
            }
        }
        any.then_some((lo, hi))
    }

    /// Indices of the set voxels, i fastest.
    pub fn iter_set(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let [nx, ny, _] = self.dims();
        self.labels
            .voxels()
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .map(move |(n, _)| (n % nx, (n / nx) % ny, n / (nx * ny)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_volume_and_bounds() {
        let g = VolumeGeometry::axis_aligned([10, 8, 6], [0.5, 0.5, 2.0], [0.0; 3]).unwrap();
        let m = Mask::from_fn(g, |i, j, k| {
            (2..5).contains(&i) && (1..3).contains(&j) && k == 4
        });
        assert_eq!(m.count(), 6);
        assert!((m.volume_mm3() - 6.0 * 0.5).abs() < 1e-12);
        assert_eq!(m.bounding_box(), Some(([2, 1, 4], [4, 2, 4])));
        assert!(m.contains(3, 2, 4));
        assert!(!m.contains(3, 2, 5));
        assert!(!m.contains(30, 2, 4));
        assert_eq!(m.iter_set().next(), Some((2, 1, 4)));
        let empty = Mask::empty(m.geometry().clone());
        assert_eq!(empty.bounding_box(), None);
    }
}
