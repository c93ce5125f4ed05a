//! Small voxel-grid tools on crops: exact Euclidean distance transform with anisotropic spacing,
//! ball morphology built on it, connected components and hole filling.
//!
//! All functions work on flat i-fastest buffers of a `[nx, ny, nz]` grid (the same layout as
//! `margo_volume::Volume`).

use std::collections::VecDeque;

/// Squared distance (mm^2) from each voxel centre to the nearest voxel centre where `feature` is
/// true; `f64::INFINITY` everywhere when there is no feature voxel. Exact: a two-sweep scan along
/// i, then Felzenszwalb & Huttenlocher's lower envelope of parabolas along j and k. Lines run in
/// parallel (rayon).
pub fn squared_edt_mm2(dims: [usize; 3], spacing_mm: [f64; 3], feature: &[bool]) -> Vec<f64> {
    use rayon::prelude::*;
    let [nx, ny, nz] = dims;
    debug_assert_eq!(feature.len(), nx * ny * nz);
    let mut d = vec![f64::INFINITY; nx * ny * nz];
    if d.is_empty() {
        return d;
    }
    let slab = nx * ny;
    // Along i: distance in voxels to the nearest feature in the row, two sweeps.
    let s0 = spacing_mm[0];
    d.par_chunks_mut(slab)
        .zip(feature.par_chunks(slab))
        .for_each(|(ds, fs)| {
            for (row, frow) in ds.chunks_mut(nx).zip(fs.chunks(nx)) {
                let mut last: Option<usize> = None;
                for i in 0..nx {
                    if frow[i] {
                        last = Some(i);
                    }
                    if let Some(l) = last {
                        row[i] = ((i - l) as f64 * s0).powi(2);
                    }
                }
                let mut next: Option<usize> = None;
                for i in (0..nx).rev() {
                    if frow[i] {
                        next = Some(i);
                    }
                    if let Some(n) = next {
                        row[i] = row[i].min(((n - i) as f64 * s0).powi(2));
                    }
                }
            }
        });
    // Along j, within each slab.
    let s1 = spacing_mm[1] * spacing_mm[1];
    d.par_chunks_mut(slab).for_each(|ds| {
        let mut line = vec![0.0; ny];
        let mut out = vec![0.0; ny];
        let mut v = vec![0usize; ny];
        let mut z = vec![0.0; ny + 1];
        for i in 0..nx {
            for j in 0..ny {
                line[j] = ds[i + nx * j];
            }
            dt_1d(&line, s1, &mut out, &mut v, &mut z);
            for j in 0..ny {
                ds[i + nx * j] = out[j];
            }
        }
    });
    // Along k: each task computes the lines of one j row, then they are scattered back.
    if nz > 1 {
        let s2 = spacing_mm[2] * spacing_mm[2];
        let rows: Vec<Vec<f64>> = (0..ny)
            .into_par_iter()
            .map(|j| {
                let mut line = vec![0.0; nz];
                let mut out = vec![0.0; nz];
                let mut v = vec![0usize; nz];
                let mut z = vec![0.0; nz + 1];
                let mut res = vec![0.0; nx * nz];
                for i in 0..nx {
                    for k in 0..nz {
                        line[k] = d[i + nx * j + slab * k];
                    }
                    dt_1d(&line, s2, &mut out, &mut v, &mut z);
                    res[i * nz..(i + 1) * nz].copy_from_slice(&out);
                }
                res
            })
            .collect();
        for (j, res) in rows.iter().enumerate() {
            for i in 0..nx {
                for k in 0..nz {
                    d[i + nx * j + slab * k] = res[i * nz + k];
                }
            }
        }
    }
    d
}

/// 1D squared distance transform of `f` with sample spacing^2 `s2`.
fn dt_1d(f: &[f64], s2: f64, out: &mut [f64], v: &mut [usize], z: &mut [f64]) {
    let n = f.len();
    // Indices of finite samples only; infinite ones contribute no parabola.
    let mut k: isize = -1;
    for q in 0..n {
        if !f[q].is_finite() {
            continue;
        }
        let qf = q as f64;
        loop {
            if k < 0 {
                k = 0;
                v[0] = q;
                z[0] = f64::NEG_INFINITY;
                z[1] = f64::INFINITY;
                break;
            }
            let p = v[k as usize];
            let pf = p as f64;
            // Intersection of parabolas from p and q, in index units.
            let s = ((f[q] + s2 * qf * qf) - (f[p] + s2 * pf * pf)) / (2.0 * s2 * (qf - pf));
            if s <= z[k as usize] {
                k -= 1;
                continue;
            }
            k += 1;
            v[k as usize] = q;
            z[k as usize] = s;
            z[k as usize + 1] = f64::INFINITY;
            break;
        }
    }
    if k < 0 {
        out.iter_mut().for_each(|o| *o = f64::INFINITY);
        return;
    }
    let mut j = 0usize;
    for (q, o) in out.iter_mut().enumerate() {
        let qf = q as f64;
        while z[j + 1] < qf {
            j += 1;
        }
        let p = v[j] as f64;
        *o = s2 * (qf - p) * (qf - p) + f[v[j]];
    }
}

/// Erosion by a ball of radius `r_mm`: voxels whose centre is farther than `r_mm` from every
/// outside voxel centre. Beyond the grid counts as set (the crop border does not erode).
pub fn erode(dims: [usize; 3], spacing_mm: [f64; 3], mask: &[bool], r_mm: f64) -> Vec<bool> {
    let inv: Vec<bool> = mask.iter().map(|&m| !m).collect();
    let d = squared_edt_mm2(dims, spacing_mm, &inv);
    d.iter().map(|&x| x > r_mm * r_mm).collect()
}

/// Dilation by a ball of radius `r_mm`.
pub fn dilate(dims: [usize; 3], spacing_mm: [f64; 3], mask: &[bool], r_mm: f64) -> Vec<bool> {
    let d = squared_edt_mm2(dims, spacing_mm, mask);
    d.iter().map(|&x| x <= r_mm * r_mm).collect()
}

/// Opening (erode then dilate): removes parts thinner than `2 r_mm`.
pub fn open(dims: [usize; 3], spacing_mm: [f64; 3], mask: &[bool], r_mm: f64) -> Vec<bool> {
    dilate(dims, spacing_mm, &erode(dims, spacing_mm, mask, r_mm), r_mm)
}

/// Closing (dilate then erode): fills gaps narrower than `2 r_mm`.
pub fn close(dims: [usize; 3], spacing_mm: [f64; 3], mask: &[bool], r_mm: f64) -> Vec<bool> {
    erode(
        dims,
        spacing_mm,
        &dilate(dims, spacing_mm, mask, r_mm),
        r_mm,
    )
}

/// The 6-connected component of `mask` that contains `start` (empty if `start` is not set).
pub fn component_of(dims: [usize; 3], mask: &[bool], start: [usize; 3]) -> Vec<bool> {
    let [nx, ny, nz] = dims;
    let mut out = vec![false; mask.len()];
    let s = start[0] + nx * (start[1] + ny * start[2]);
    if start.iter().zip(dims).any(|(&a, n)| a >= n) || !mask[s] {
        return out;
    }
    let mut queue = VecDeque::from([s]);
    out[s] = true;
    while let Some(idx) = queue.pop_front() {
        let i = idx % nx;
        let j = (idx / nx) % ny;
        let k = idx / (nx * ny);
        let mut visit = |n: usize| {
            if mask[n] && !out[n] {
                out[n] = true;
                queue.push_back(n);
            }
        };
        if i > 0 {
            visit(idx - 1);
        }
        if i + 1 < nx {
            visit(idx + 1);
        }
        if j > 0 {
            visit(idx - nx);
        }
        if j + 1 < ny {
            visit(idx + nx);
        }
        if k > 0 {
            visit(idx - nx * ny);
        }
        if k + 1 < nz {
            visit(idx + nx * ny);
        }
    }
    out
}

/// Fills the holes of `mask`: background voxels not 6-connected to the grid's border.
pub fn fill_holes_3d(dims: [usize; 3], mask: &[bool]) -> Vec<bool> {
    let [nx, ny, nz] = dims;
    let mut outside = vec![false; mask.len()];
    let mut queue = VecDeque::new();
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                // A single slice (nz == 1) is a 2D image: only its edges are border.
                let border = i == 0
                    || j == 0
                    || i + 1 == nx
                    || j + 1 == ny
                    || (nz > 1 && (k == 0 || k + 1 == nz));
                let idx = i + nx * (j + ny * k);
                if border && !mask[idx] {
                    outside[idx] = true;
                    queue.push_back(idx);
                }
            }
        }
    }
    while let Some(idx) = queue.pop_front() {
        let i = idx % nx;
        let j = (idx / nx) % ny;
        let k = idx / (nx * ny);
        let neighbours = [
            (i > 0).then(|| idx - 1),
            (i + 1 < nx).then(|| idx + 1),
            (j > 0).then(|| idx - nx),
            (j + 1 < ny).then(|| idx + nx),
            (k > 0).then(|| idx - nx * ny),
            (k + 1 < nz).then(|| idx + nx * ny),
        ];
        for n in neighbours.into_iter().flatten() {
            if !mask[n] && !outside[n] {
                outside[n] = true;
                queue.push_back(n);
            }
        }
    }
    outside.iter().map(|&o| !o).collect()
}

/// Fills holes slice by slice (constant k, 4-connected background not reaching the slice border).
pub fn fill_holes_axial(dims: [usize; 3], mask: &[bool]) -> Vec<bool> {
    use rayon::prelude::*;
    let [nx, ny, _] = dims;
    let mut out = mask.to_vec();
    out.par_chunks_mut(nx * ny).for_each(|slice| {
        let filled = fill_holes_3d([nx, ny, 1], slice);
        slice.copy_from_slice(&filled);
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edt_matches_brute_force_with_anisotropic_spacing() {
        let dims = [9, 7, 5];
        let sp = [0.7, 1.1, 2.5];
        let n = 9 * 7 * 5;
        let mut feat = vec![false; n];
        for idx in [3usize, 40, 200, 301] {
            feat[idx] = true;
        }
        let d = squared_edt_mm2(dims, sp, &feat);
        for (idx, &got) in d.iter().enumerate() {
            let (i, j, k) = (idx % 9, (idx / 9) % 7, idx / 63);
            let mut best = f64::INFINITY;
            for (f, &is) in feat.iter().enumerate() {
                if is {
                    let (a, b, c) = (f % 9, (f / 9) % 7, f / 63);
                    let dd = ((i as f64 - a as f64) * sp[0]).powi(2)
                        + ((j as f64 - b as f64) * sp[1]).powi(2)
                        + ((k as f64 - c as f64) * sp[2]).powi(2);
                    best = best.min(dd);
                }
            }
            assert!((got - best).abs() < 1e-9, "{idx}: {got} vs {best}");
        }
        assert!(
            squared_edt_mm2(dims, sp, &vec![false; n])
                .iter()
                .all(|x| x.is_infinite())
        );
    }

    #[test]
    fn opening_cuts_thin_bridges_and_holes_fill() {
        let dims = [30, 10, 10];
        let sp = [1.0; 3];
        // Two 8 mm cubes joined by a 1-voxel bridge.
        let mask: Vec<bool> = (0..3000)
            .map(|idx| {
                let (i, j, k) = (idx % 30, (idx / 30) % 10, idx / 300);
                let cube = (1..9).contains(&j) && (1..9).contains(&k);
                (cube && ((1..9).contains(&i) || (20..28).contains(&i)))
                    || (j == 5 && k == 5 && i < 25)
            })
            .collect();
        let opened = open(dims, sp, &mask, 1.5);
        let comp = component_of(dims, &opened, [4, 4, 4]);
        assert!(comp[4 + 30 * (4 + 10 * 4)]);
        assert!(!comp[24 + 30 * (4 + 10 * 4)], "bridge must be cut");
        // A hollow box fills.
        let hollow: Vec<bool> = (0..1000)
            .map(|idx| {
                let (i, j, k) = (idx % 10, (idx / 10) % 10, idx / 100);
                let inb = (2..8).contains(&i) && (2..8).contains(&j) && (2..8).contains(&k);
                let core = (3..7).contains(&i) && (3..7).contains(&j) && (3..7).contains(&k);
                inb && !core
            })
            .collect();
        // Slice by slice: a ring in one slice fills; the same ring in 3D does not (open ends).
        let ring: Vec<bool> = (0..300)
            .map(|idx| {
                let (i, j) = (idx % 10, (idx / 10) % 10);
                (2..8).contains(&i)
                    && (2..8).contains(&j)
                    && !((3..7).contains(&i) && (3..7).contains(&j))
            })
            .collect();
        let axial = fill_holes_axial([10, 10, 3], &ring);
        assert!(axial[5 + 10 * 5 + 100]);
        assert_eq!(axial.iter().filter(|&&x| x).count(), 3 * 36);
        assert!(!fill_holes_3d([10, 10, 3], &ring)[5 + 10 * 5 + 100]);
        let filled = fill_holes_3d([10, 10, 10], &hollow);
        assert!(filled[5 + 10 * (5 + 10 * 5)]);
        assert!(!filled[0]);
        assert_eq!(filled.iter().filter(|&&x| x).count(), 216);
    }
}
