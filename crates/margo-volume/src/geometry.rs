//! Placement of a voxel grid in patient space (LPS, mm).

use nalgebra::{Matrix3, Matrix4, Point3, Vector3};
use thiserror::Error;

/// Tolerance on unit length and orthogonality of the direction columns. DICOM writers round
/// direction cosines to ~6 decimals, so demand less than that but catch real shear.
const DIRECTION_TOLERANCE: f64 = 1e-4;

#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum GeometryError {
    #[error("volume dimensions must all be at least 1, got {dims:?}")]
    ZeroDimension { dims: [usize; 3] },
    #[error("volume of {dims:?} voxels is too large to address")]
    TooManyVoxels { dims: [usize; 3] },
    #[error("voxel spacing must be finite and positive, got {spacing_mm:?} mm")]
    InvalidSpacing { spacing_mm: [f64; 3] },
    #[error("origin must be finite, got {origin_mm:?}")]
    InvalidOrigin { origin_mm: [f64; 3] },
    #[error(
        "direction axes must be orthonormal (within {DIRECTION_TOLERANCE}); axis {axis} has \
         length {length}, largest dot product between axes is {max_dot}"
    )]
    NonOrthonormalDirection {
        axis: usize,
        length: f64,
        max_dot: f64,
    },
}

/// An axis-aligned box in world space (LPS mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aabb {
    pub min: Point3<f64>,
    pub max: Point3<f64>,
}

impl Aabb {
    pub fn from_points(points: impl IntoIterator<Item = Point3<f64>>) -> Option<Self> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let (min, max) = it.fold((first, first), |(lo, hi), p| (lo.inf(&p), hi.sup(&p)));
        Some(Self { min, max })
    }

    pub fn contains(&self, p: &Point3<f64>) -> bool {
        (0..3).all(|a| p[a] >= self.min[a] && p[a] <= self.max[a])
    }

    pub fn center(&self) -> Point3<f64> {
        nalgebra::center(&self.min, &self.max)
    }

    pub fn size_mm(&self) -> Vector3<f64> {
        self.max - self.min
    }
}

/// Where a `dims[0] x dims[1] x dims[2]` voxel grid sits in patient space.
///
/// Both transforms are computed once and cached; all accessors are cheap.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeGeometry {
    dims: [usize; 3],
    spacing_mm: Vector3<f64>,
    origin_in_world: Point3<f64>,
    direction: Matrix3<f64>,
    world_from_voxel: Matrix4<f64>,
    voxel_from_world: Matrix4<f64>,
}

impl VolumeGeometry {
    /// `direction`'s columns are the unit vectors of the i (column), j (row) and k (slice) axes
    /// in LPS. `origin_mm` is the centre of voxel (0, 0, 0).
    pub fn new(
        dims: [usize; 3],
        spacing_mm: [f64; 3],
        origin_mm: [f64; 3],
        direction: Matrix3<f64>,
    ) -> Result<Self, GeometryError> {
        if dims.contains(&0) {
            return Err(GeometryError::ZeroDimension { dims });
        }
        if dims
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .is_none_or(|n| n > isize::MAX as usize / 8)
        {
            return Err(GeometryError::TooManyVoxels { dims });
        }
        if spacing_mm.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(GeometryError::InvalidSpacing { spacing_mm });
        }
        if origin_mm.iter().any(|o| !o.is_finite()) {
            return Err(GeometryError::InvalidOrigin { origin_mm });
        }
        check_orthonormal(&direction)?;

        let spacing_mm = Vector3::from(spacing_mm);
        let origin_in_world = Point3::from(origin_mm);
        let scaled = direction * Matrix3::from_diagonal(&spacing_mm);
        let mut world_from_voxel = scaled.to_homogeneous();
        world_from_voxel
            .fixed_view_mut::<3, 1>(0, 3)
            .copy_from(&origin_in_world.coords);
        // Orthonormal D: inverse(D S) = S^-1 D^T, exact and cheap.
        let voxel_from_world_linear =
            Matrix3::from_diagonal(&spacing_mm.map(|s| 1.0 / s)) * direction.transpose();
        let mut voxel_from_world = voxel_from_world_linear.to_homogeneous();
        voxel_from_world
            .fixed_view_mut::<3, 1>(0, 3)
            .copy_from(&(-(voxel_from_world_linear * origin_in_world.coords)));

        Ok(Self {
            dims,
            spacing_mm,
            origin_in_world,
            direction,
            world_from_voxel,
            voxel_from_world,
        })
    }

    /// Axis-aligned LPS geometry (identity direction), handy for tests and synthetic volumes.
    pub fn axis_aligned(
        dims: [usize; 3],
        spacing_mm: [f64; 3],
        origin_mm: [f64; 3],
    ) -> Result<Self, GeometryError> {
        Self::new(dims, spacing_mm, origin_mm, Matrix3::identity())
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    pub fn voxel_count(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    pub fn spacing_mm(&self) -> Vector3<f64> {
        self.spacing_mm
    }

    /// Volume of one voxel in mm^3.
    pub fn voxel_volume_mm3(&self) -> f64 {
        self.spacing_mm.product()
    }

    /// Centre of voxel (0, 0, 0) in LPS mm.
    pub fn origin_in_world(&self) -> Point3<f64> {
        self.origin_in_world
    }

    /// Columns: unit vectors of the i, j, k axes in LPS.
    pub fn direction(&self) -> &Matrix3<f64> {
        &self.direction
    }

    /// Unit vector of one voxel axis (0 = i, 1 = j, 2 = k) in LPS.
    pub fn axis_in_world(&self, axis: usize) -> Vector3<f64> {
        self.direction.column(axis).into_owned()
    }

    pub fn world_from_voxel(&self) -> &Matrix4<f64> {
        &self.world_from_voxel
    }

    pub fn voxel_from_world(&self) -> &Matrix4<f64> {
        &self.voxel_from_world
    }

    /// Continuous voxel index (voxel centres at integers) -> world point.
    pub fn world_from_index(&self, index: &Point3<f64>) -> Point3<f64> {
        self.world_from_voxel.transform_point(index)
    }

    /// World point -> continuous voxel index (voxel centres at integers).
    pub fn index_from_world(&self, point_in_world: &Point3<f64>) -> Point3<f64> {
        self.voxel_from_world.transform_point(point_in_world)
    }

    /// The voxel whose cell contains the world point, or `None` outside the grid. Cells extend
    /// half a voxel each side of the centre; ties round up (like the GPU's nearest filter).
    pub fn rounded_index_from_world(&self, point_in_world: &Point3<f64>) -> Option<[usize; 3]> {
        let c = self.index_from_world(point_in_world);
        let mut out = [0usize; 3];
        for a in 0..3 {
            let r = (c[a] + 0.5).floor();
            if !(r >= 0.0 && r < self.dims[a] as f64) {
                return None;
            }
            out[a] = r as usize;
        }
        Some(out)
    }

    /// World point of an integer voxel centre.
    pub fn world_from_ijk(&self, ijk: [usize; 3]) -> Point3<f64> {
        self.world_from_index(&Point3::new(ijk[0] as f64, ijk[1] as f64, ijk[2] as f64))
    }

    /// Voxel-space vector (index units) -> world vector (mm).
    pub fn world_vector_from_voxel(&self, v: &Vector3<f64>) -> Vector3<f64> {
        self.world_from_voxel.fixed_view::<3, 3>(0, 0) * v
    }

    /// World vector (mm) -> voxel-space vector (index units).
    pub fn voxel_vector_from_world(&self, v: &Vector3<f64>) -> Vector3<f64> {
        self.voxel_from_world.fixed_view::<3, 3>(0, 0) * v
    }

    /// True when the continuous index lies inside the grid's cells (half a voxel past the edge
    /// centres).
    pub fn contains_index(&self, index: &Point3<f64>) -> bool {
        (0..3).all(|a| index[a] >= -0.5 && index[a] <= self.dims[a] as f64 - 0.5)
    }

    pub fn contains_world(&self, point_in_world: &Point3<f64>) -> bool {
        self.contains_index(&self.index_from_world(point_in_world))
    }

    /// The eight corners of the grid's extent (half a voxel past the edge centres), in world.
    pub fn corners_in_world(&self) -> [Point3<f64>; 8] {
        let lo = -0.5;
        let hi = |a: usize| self.dims[a] as f64 - 0.5;
        std::array::from_fn(|n| {
            let idx = Point3::new(
                if n & 1 == 0 { lo } else { hi(0) },
                if n & 2 == 0 { lo } else { hi(1) },
                if n & 4 == 0 { lo } else { hi(2) },
            );
            self.world_from_index(&idx)
        })
    }

    /// World-space axis-aligned bounds of the grid's extent.
    pub fn world_bounds(&self) -> Aabb {
        Aabb::from_points(self.corners_in_world()).expect("eight corners")
    }

    /// Centre of the grid's extent in world.
    pub fn center_in_world(&self) -> Point3<f64> {
        let c = self.dims.map(|n| (n as f64 - 1.0) / 2.0);
        self.world_from_index(&Point3::from(c))
    }

    /// Physical extent along each voxel axis in mm (n * spacing).
    pub fn extent_mm(&self) -> Vector3<f64> {
        Vector3::new(
            self.dims[0] as f64 * self.spacing_mm[0],
            self.dims[1] as f64 * self.spacing_mm[1],
            self.dims[2] as f64 * self.spacing_mm[2],
        )
    }

    /// Continuous voxel index -> normalised texture coordinate, `(i + 0.5) / n`.
    pub fn texture_from_index(&self, index: &Point3<f64>) -> Point3<f64> {
        Point3::new(
            (index[0] + 0.5) / self.dims[0] as f64,
            (index[1] + 0.5) / self.dims[1] as f64,
            (index[2] + 0.5) / self.dims[2] as f64,
        )
    }

    /// Normalised texture coordinate -> continuous voxel index, `t * n - 0.5`.
    pub fn index_from_texture(&self, texture: &Point3<f64>) -> Point3<f64> {
        Point3::new(
            texture[0] * self.dims[0] as f64 - 0.5,
            texture[1] * self.dims[1] as f64 - 0.5,
            texture[2] * self.dims[2] as f64 - 0.5,
        )
    }

    /// `voxel_from_texture` as a homogeneous matrix.
    pub fn voxel_from_texture(&self) -> Matrix4<f64> {
        let n = Vector3::new(
            self.dims[0] as f64,
            self.dims[1] as f64,
            self.dims[2] as f64,
        );
        let mut m = Matrix4::from_diagonal(&n.push(1.0));
        m.fixed_view_mut::<3, 1>(0, 3).fill(-0.5);
        m
    }

    /// `texture_from_world`: what a shader needs to turn a world point into a texture lookup.
    pub fn texture_from_world(&self) -> Matrix4<f64> {
        let n = Vector3::new(
            self.dims[0] as f64,
            self.dims[1] as f64,
            self.dims[2] as f64,
        );
        let mut texture_from_voxel = Matrix4::from_diagonal(&n.map(|x| 1.0 / x).push(1.0));
        texture_from_voxel
            .fixed_view_mut::<3, 1>(0, 3)
            .copy_from(&n.map(|x| 0.5 / x));
        texture_from_voxel * self.voxel_from_world
    }

    /// `world_from_texture`.
    pub fn world_from_texture(&self) -> Matrix4<f64> {
        self.world_from_voxel * self.voxel_from_texture()
    }

    /// Linear offset of voxel (i, j, k) in i-fastest order. Caller guarantees bounds.
    #[inline]
    pub fn linear_index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// True when `other` has the same dims and places every voxel within `tolerance_mm` of
    /// where this one does (checked at the eight corner centres, which bounds every voxel since
    /// both maps are affine).
    pub fn is_congruent(&self, other: &VolumeGeometry, tolerance_mm: f64) -> bool {
        if self.dims != other.dims {
            return false;
        }
        let hi = self.dims.map(|n| n - 1);
        (0..8).all(|n| {
            let ijk = [
                if n & 1 == 0 { 0 } else { hi[0] },
                if n & 2 == 0 { 0 } else { hi[1] },
                if n & 4 == 0 { 0 } else { hi[2] },
            ];
            (self.world_from_ijk(ijk) - other.world_from_ijk(ijk)).norm() <= tolerance_mm
        })
    }

    /// The same placement with other dims/spacing, e.g. for a crop. `first_voxel` is the index
    /// (in this grid) of the new grid's voxel (0, 0, 0).
    pub fn sub_grid(
        &self,
        first_voxel: [usize; 3],
        dims: [usize; 3],
    ) -> Result<VolumeGeometry, GeometryError> {
        let origin = self.world_from_ijk(first_voxel);
        VolumeGeometry::new(
            dims,
            self.spacing_mm.into(),
            origin.coords.into(),
            self.direction,
        )
    }
}

fn check_orthonormal(direction: &Matrix3<f64>) -> Result<(), GeometryError> {
    let mut max_dot: f64 = 0.0;
    for a in 0..3 {
        for b in (a + 1)..3 {
            max_dot = max_dot.max(direction.column(a).dot(&direction.column(b)).abs());
        }
    }
    for axis in 0..3 {
        let length = direction.column(axis).norm();
        if !length.is_finite()
            || (length - 1.0).abs() > DIRECTION_TOLERANCE
            || !max_dot.is_finite()
            || max_dot > DIRECTION_TOLERANCE
        {
            return Err(GeometryError::NonOrthonormalDirection {
                axis,
                length,
                max_dot,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All 48 signed axis permutations (the 3x3 signed permutation matrices).
    pub(crate) fn signed_permutations() -> Vec<Matrix3<f64>> {
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let mut out = Vec::new();
        for p in perms {
            for signs in 0..8 {
                let mut m = Matrix3::zeros();
                for (col, &row) in p.iter().enumerate() {
                    m[(row, col)] = if signs & (1 << col) == 0 { 1.0 } else { -1.0 };
                }
                out.push(m);
            }
        }
        out
    }

    fn geometries() -> Vec<VolumeGeometry> {
        signed_permutations()
            .into_iter()
            .map(|d| {
                VolumeGeometry::new([7, 11, 5], [0.7, 1.3, 2.5], [-120.0, 35.5, 300.25], d).unwrap()
            })
            .collect()
    }

    #[test]
    fn there_are_48_distinct_signed_permutations() {
        let all = signed_permutations();
        assert_eq!(all.len(), 48);
        for (a, m) in all.iter().enumerate() {
            assert!((m.determinant().abs() - 1.0).abs() < 1e-12);
            for n in &all[a + 1..] {
                assert_ne!(m, n);
            }
        }
    }

    #[test]
    fn world_voxel_round_trip_for_all_orientations() {
        for g in geometries() {
            for ijk in [[0, 0, 0], [6, 10, 4], [3, 7, 2]] {
                let p = g.world_from_ijk(ijk);
                let back = g.index_from_world(&p);
                for a in 0..3 {
                    assert!((back[a] - ijk[a] as f64).abs() < 1e-9);
                }
                assert_eq!(g.rounded_index_from_world(&p), Some(ijk));
            }
            let product = g.world_from_voxel() * g.voxel_from_world();
            assert!((product - Matrix4::identity()).abs().max() < 1e-12);
        }
    }

    #[test]
    fn origin_is_centre_of_first_voxel_and_steps_follow_direction_and_spacing() {
        for g in geometries() {
            assert!((g.world_from_ijk([0, 0, 0]) - g.origin_in_world()).norm() < 1e-12);
            for axis in 0..3 {
                let mut ijk = [0, 0, 0];
                ijk[axis] = 1;
                let step = g.world_from_ijk(ijk) - g.origin_in_world();
                let expected = g.axis_in_world(axis) * g.spacing_mm()[axis];
                assert!((step - expected).norm() < 1e-12);
            }
        }
    }

    #[test]
    fn bounds_reach_half_a_voxel_past_edge_centres() {
        for g in geometries() {
            let b = g.world_bounds();
            // The bounds' size along each world axis is the extent of whichever voxel axis maps
            // there.
            let size = b.size_mm();
            let extent = g.extent_mm();
            for axis in 0..3 {
                let world_axis = g.axis_in_world(axis).iamax();
                assert!((size[world_axis] - extent[axis]).abs() < 1e-9);
            }
            for ijk in [[0, 0, 0], [6, 10, 4]] {
                assert!(b.contains(&g.world_from_ijk(ijk)));
            }
            // A point just beyond the first voxel's cell is outside.
            let outside = g.world_from_index(&Point3::new(-0.51, 0.0, 0.0));
            assert!(!g.contains_world(&outside));
            assert_eq!(g.rounded_index_from_world(&outside), None);
            let inside = g.world_from_index(&Point3::new(-0.49, 0.0, 0.0));
            assert_eq!(g.rounded_index_from_world(&inside), Some([0, 0, 0]));
        }
    }

    #[test]
    fn known_patient_sides_map_to_known_indices() {
        // A point 10 mm to the patient's left (+x), posterior (+y) and superior (+z) of the
        // centre must land at an index whose step along the axis pointing left/posterior/
        // superior is positive.
        for g in geometries() {
            let c = g.center_in_world();
            let ci = g.index_from_world(&c);
            for (world_axis, _side) in [(0, "left"), (1, "posterior"), (2, "superior")] {
                let mut offset = Vector3::zeros();
                offset[world_axis] = 10.0;
                let moved = g.index_from_world(&(c + offset));
                let delta = moved - ci;
                // Exactly one voxel axis moves, by 10 mm / spacing, with the sign of that axis's
                // LPS component.
                let voxel_axis = (0..3)
                    .find(|&a| g.axis_in_world(a)[world_axis].abs() > 0.5)
                    .unwrap();
                let sign = g.axis_in_world(voxel_axis)[world_axis];
                let expected = sign * 10.0 / g.spacing_mm()[voxel_axis];
                assert!((delta[voxel_axis] - expected).abs() < 1e-9);
                for other in (0..3).filter(|&a| a != voxel_axis) {
                    assert!(delta[other].abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn texture_coordinates_are_half_voxel_offset() {
        for g in geometries() {
            let t = g.texture_from_index(&Point3::new(0.0, 0.0, 0.0));
            assert!((t[0] - 0.5 / 7.0).abs() < 1e-12);
            assert!((t[1] - 0.5 / 11.0).abs() < 1e-12);
            assert!((t[2] - 0.5 / 5.0).abs() < 1e-12);
            let p = g.world_from_ijk([6, 3, 4]);
            let via_matrix = g.texture_from_world().transform_point(&p);
            let via_index = g.texture_from_index(&g.index_from_world(&p));
            assert!((via_matrix - via_index).norm() < 1e-12);
            assert!((g.world_from_texture().transform_point(&via_matrix) - p).norm() < 1e-9);
            // Texture 0 and 1 are the outer faces of the grid.
            let corner = g
                .world_from_texture()
                .transform_point(&Point3::new(0.0, 0.0, 0.0));
            assert!((corner - g.corners_in_world()[0]).norm() < 1e-9);
        }
    }

    #[test]
    fn vectors_transform_without_translation() {
        for g in geometries() {
            let v = Vector3::new(1.0, -2.0, 0.5);
            let w = g.world_vector_from_voxel(&v);
            assert!((g.voxel_vector_from_world(&w) - v).norm() < 1e-12);
            let a = g.world_from_index(&Point3::new(1.0, 1.0, 1.0));
            let b = g.world_from_index(&Point3::new(2.0, -1.0, 1.5));
            assert!((w - (b - a)).norm() < 1e-9);
        }
    }

    #[test]
    fn congruence_uses_tolerance_and_dims() {
        let a = VolumeGeometry::axis_aligned([4, 4, 4], [1.0; 3], [0.0; 3]).unwrap();
        let b = VolumeGeometry::axis_aligned([4, 4, 4], [1.0; 3], [0.0, 0.0, 0.01]).unwrap();
        let c = VolumeGeometry::axis_aligned([4, 4, 5], [1.0; 3], [0.0; 3]).unwrap();
        assert!(a.is_congruent(&b, 0.02));
        assert!(!a.is_congruent(&b, 0.005));
        assert!(!a.is_congruent(&c, 1.0));
    }

    #[test]
    fn rejects_bad_input() {
        let id = Matrix3::identity();
        assert!(matches!(
            VolumeGeometry::new([0, 1, 1], [1.0; 3], [0.0; 3], id),
            Err(GeometryError::ZeroDimension { .. })
        ));
        assert!(matches!(
            VolumeGeometry::new([1, 1, 1], [1.0, 0.0, 1.0], [0.0; 3], id),
            Err(GeometryError::InvalidSpacing { .. })
        ));
        assert!(matches!(
            VolumeGeometry::new([1, 1, 1], [1.0, f64::NAN, 1.0], [0.0; 3], id),
            Err(GeometryError::InvalidSpacing { .. })
        ));
        assert!(matches!(
            VolumeGeometry::new([1, 1, 1], [1.0; 3], [f64::INFINITY, 0.0, 0.0], id),
            Err(GeometryError::InvalidOrigin { .. })
        ));
        let mut sheared = id;
        sheared[(0, 2)] = 0.2;
        assert!(matches!(
            VolumeGeometry::new([1, 1, 1], [1.0; 3], [0.0; 3], sheared),
            Err(GeometryError::NonOrthonormalDirection { .. })
        ));
        assert!(matches!(
            VolumeGeometry::new([usize::MAX, 2, 2], [1.0; 3], [0.0; 3], id),
            Err(GeometryError::TooManyVoxels { .. })
        ));
    }

    #[test]
    fn sub_grid_keeps_placement() {
        let g = geometries().swap_remove(13);
        let s = g.sub_grid([2, 3, 1], [3, 3, 3]).unwrap();
        assert!((s.world_from_ijk([0, 0, 0]) - g.world_from_ijk([2, 3, 1])).norm() < 1e-9);
        assert!((s.world_from_ijk([2, 1, 2]) - g.world_from_ijk([4, 4, 3])).norm() < 1e-9);
    }
}
