//! Inverse reversible 5/3 wavelet (ISO/IEC 15444-1 F.3) in place on the tile's coefficients
//! (Mallat layout, origin 0): per level, rows first, then columns, as OpenJPEG and the standard
//! do. Integer lifting, so the result is exact. Arithmetic wraps like OpenJPEG's C on corrupt
//! input instead of panicking.

/// Reconstructs `tile` (row stride `stride`) from the resolution sizes `dims[0..]`.
pub(crate) fn inverse(
    tile: &mut [i32],
    stride: usize,
    dims: &[(usize, usize)],
    tmp: &mut Vec<i32>,
) {
    for r in 1..dims.len() {
        let (w, h) = dims[r];
        let (wl, hl) = dims[r - 1];
        if tmp.len() < 2 * w + h * w {
            tmp.resize(2 * w + h * w, 0);
        }
        if w > 1 {
            let (row_tmp, halves) = tmp.split_at_mut(w);
            for y in 0..h {
                let row = &mut tile[y * stride..y * stride + w];
                row_tmp.copy_from_slice(row);
                synthesise_row(&row_tmp[..wl], &row_tmp[wl..], row, &mut halves[..w]);
            }
        }
        if h > 1 {
            synthesise_columns(tile, stride, w, h, hl, tmp);
        }
    }
}

/// One row: `low` (ceil(n/2)) and `high` (floor(n/2), at least 1) coefficients into `out`
/// (n samples); `halves` (n values) holds the even and odd samples before they are interleaved.
/// The ends (mirrored neighbours) are done apart, so that the inner loops have no clamps and
/// vectorise.
fn synthesise_row(low: &[i32], high: &[i32], out: &mut [i32], halves: &mut [i32]) {
    let (nl, nh) = (low.len(), high.len());
    let (even, odd) = halves.split_at_mut(nl);
    let (even, odd) = (&mut even[..nl], &mut odd[..nh]);
    // Even samples: x[2i] = L[i] - floor((H[i-1] + H[i] + 2) / 4), H mirrored at the ends.
    let step = |l: i32, hp: i32, hn: i32| l.wrapping_sub(hp.wrapping_add(hn).wrapping_add(2) >> 2);
    even[0] = step(low[0], high[0], high[0]);
    for ((e, &l), h) in even[1..nh].iter_mut().zip(&low[1..nh]).zip(high.windows(2)) {
        *e = step(l, h[0], h[1]);
    }
    if nl > nh {
        even[nh] = step(low[nh], high[nh - 1], high[nh - 1]);
    }
    // Odd samples: x[2i+1] = H[i] + floor((x[2i] + x[2i+2]) / 2), x mirrored at the end.
    let last = if nl > nh { even[nh] } else { even[nh - 1] };
    for ((o, &hv), e) in odd.iter_mut().zip(high).zip(even.windows(2)) {
        *o = hv.wrapping_add(e[0].wrapping_add(e[1]) >> 1);
    }
    odd[nh - 1] = high[nh - 1].wrapping_add(even[nh - 1].wrapping_add(last) >> 1);
    for (pair, (&e, &o)) in out.chunks_exact_mut(2).zip(even.iter().zip(odd.iter())) {
        pair[0] = e;
        pair[1] = o;
    }
    if nl > nh {
        out[2 * nh] = even[nh];
    }
}

/// All columns at once, row by row (vectorises): low rows `0..hl`, high rows `hl..h`.
fn synthesise_columns(
    tile: &mut [i32],
    stride: usize,
    w: usize,
    h: usize,
    hl: usize,
    tmp: &mut [i32],
) {
    let nh = h - hl;
    // Even output rows into tmp (row 2i at tmp[2i * w..]).
    for i in 0..hl {
        let hp = hl + i.saturating_sub(1).min(nh - 1);
        let hn = hl + i.min(nh - 1);
        let (l, a, b) = (i * stride, hp * stride, hn * stride);
        let out = &mut tmp[2 * i * w..2 * i * w + w];
        for x in 0..w {
            let s = tile[a + x].wrapping_add(tile[b + x]).wrapping_add(2) >> 2;
            out[x] = tile[l + x].wrapping_sub(s);
        }
    }
    // Odd output rows.
    for i in 0..nh {
        let e0 = 2 * i * w;
        let e1 = if 2 * i + 2 < h { (2 * i + 2) * w } else { e0 };
        let hrow = (hl + i) * stride;
        for x in 0..w {
            let v = tile[hrow + x].wrapping_add(tmp[e0 + x].wrapping_add(tmp[e1 + x]) >> 1);
            tmp[(2 * i + 1) * w + x] = v;
        }
    }
    for y in 0..h {
        tile[y * stride..y * stride + w].copy_from_slice(&tmp[y * w..y * w + w]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forward reversible 5/3 on one signal (F.4.8.2), origin 0.
    fn forward_1d(x: &[i32]) -> (Vec<i32>, Vec<i32>) {
        let n = x.len();
        let at = |i: isize| -> i32 {
            // Symmetric extension.
            let mut i = i;
            let n = n as isize;
            if n == 1 {
                return x[0];
            }
            while i < 0 || i >= n {
                if i < 0 {
                    i = -i;
                }
                if i >= n {
                    i = 2 * (n - 1) - i;
                }
            }
            x[i as usize]
        };
        let nh = n / 2;
        let high: Vec<i32> = (0..nh as isize)
            .map(|i| at(2 * i + 1) - ((at(2 * i) + at(2 * i + 2)) >> 1))
            .collect();
        let hat = |i: isize| -> i32 {
            if nh == 0 {
                0
            } else {
                high[i.clamp(0, nh as isize - 1) as usize]
            }
        };
        let low: Vec<i32> = (0..n.div_ceil(2) as isize)
            .map(|i| at(2 * i) + ((hat(i - 1) + hat(i) + 2) >> 2))
            .collect();
        (low, high)
    }

    #[test]
    fn one_dimensional_round_trip_for_every_length() {
        for n in 2..40usize {
            let x: Vec<i32> = (0..n as i32).map(|i| (i * 7919 % 613) - 300).collect();
            let (low, high) = forward_1d(&x);
            let mut out = vec![0; n];
            synthesise_row(&low, &high, &mut out, &mut vec![0; n]);
            assert_eq!(out, x, "length {n}");
        }
    }

    #[test]
    fn two_dimensional_round_trip_with_odd_sizes() {
        for (w, h, levels) in [(13usize, 9usize, 3usize), (8, 8, 2), (1, 5, 2), (7, 1, 2)] {
            let orig: Vec<i32> = (0..(w * h) as i32)
                .map(|i| (i * 104729 % 4093) - 2000)
                .collect();
            // Forward: per level columns then rows (the inverse of rows-then-columns).
            let mut tile = orig.clone();
            let mut dims = vec![(w, h)];
            for _ in 0..levels {
                let (cw, ch) = *dims.last().unwrap();
                dims.push((cw.div_ceil(2), ch.div_ceil(2)));
            }
            for &(cw, ch) in &dims[..levels] {
                if ch > 1 {
                    for x in 0..cw {
                        let col: Vec<i32> = (0..ch).map(|y| tile[y * w + x]).collect();
                        let (lo, hi) = forward_1d(&col);
                        for (y, v) in lo.iter().chain(hi.iter()).enumerate() {
                            tile[y * w + x] = *v;
                        }
                    }
                }
                if cw > 1 {
                    for y in 0..ch {
                        let row: Vec<i32> = tile[y * w..y * w + cw].to_vec();
                        let (lo, hi) = forward_1d(&row);
                        for (x, v) in lo.iter().chain(hi.iter()).enumerate() {
                            tile[y * w + x] = *v;
                        }
                    }
                }
            }
            dims.reverse();
            let mut tmp = Vec::new();
            inverse(&mut tile, w, &dims, &mut tmp);
            assert_eq!(tile, orig, "{w}x{h}, {levels} levels");
        }
    }
}
