#!/usr/bin/env python3
"""QAM-style margin pipeline with numpy/scipy on the same tight crop as `margo bench plan`.

Reference for BENCHMARKS.md only (never a test dependency). Reads what
`margo bench plan --export DIR` wrote: the tumour mask (u8, i fastest) on its crop, the crop's
geometry, the MWA zone (ellipsoid) and margo's exact metrics. Per probe move, like QAM
(artorg-unibe-ch/qam) on voxel masks, it:
  1. voxelises the zone on the crop grid (voxel centres inside the ellipsoid),
  2. computes the signed Euclidean distance map of the zone (scipy distance_transform_edt with the
     voxel spacing, inside and outside),
  3. reads it at the tumour's surface voxels (tumour voxels with a 6-neighbour outside) and takes
     the minimum as the minimal margin; coverage = tumour voxels inside the voxelised zone.
It prints the median time per move and the difference to margo's exact margin.
"""
import json
import sys
import time

import numpy as np
from scipy import ndimage


def main(out_dir: str, runs: int = 20) -> None:
    meta = json.load(open(f"{out_dir}/plan_bench.json"))
    nx, ny, nz = meta["dims_ijk"]
    sp = np.array(meta["spacing_mm"])
    origin = np.array(meta["origin_lps_mm"])
    direction = np.array(meta["direction_columns"]).T  # columns = i, j, k axes
    mask = np.fromfile(f"{out_dir}/tumour_mask_u8_ifastest.raw", dtype=np.uint8)
    tumour = mask.reshape((nz, ny, nx)).transpose(2, 1, 0) != 0  # index [i, j, k]

    # Tight crop: the tumour's bounding box, padded by 15 mm so the distance map sees the zone
    # boundary all around the tumour (margins up to 15 mm are exact to the voxel grid).
    lo = np.array([np.nonzero(tumour.any(axis=tuple(b for b in range(3) if b != a)))[0].min() for a in range(3)])
    hi = np.array([np.nonzero(tumour.any(axis=tuple(b for b in range(3) if b != a)))[0].max() for a in range(3)])
    tumour = tumour[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1]
    origin = origin + direction @ (lo * sp)
    pad = np.ceil(15.0 / sp).astype(int)
    tumour = np.pad(tumour, [(p, p) for p in pad])
    origin = origin - direction @ (pad * sp)
    ii, jj, kk = np.meshgrid(*[np.arange(n) for n in tumour.shape], indexing="ij")
    world = (direction @ np.stack([ii.ravel() * sp[0], jj.ravel() * sp[1], kk.ravel() * sp[2]])).T + origin

    e = meta["ellipsoid"]
    centre = np.array(e["centre_lps_mm"])
    axes = np.array(e["axes_lps"])
    half = np.array(e["half_lengths_mm"])
    surface = tumour & ~ndimage.binary_erosion(tumour, structure=ndimage.generate_binary_structure(3, 1))

    def one_move(shift):
        local = (world - (centre + shift)) @ axes.T / half
        zone = (np.sum(local * local, axis=1) <= 1.0).reshape(tumour.shape)
        outside = ndimage.distance_transform_edt(~zone, sampling=sp)
        inside = ndimage.distance_transform_edt(zone, sampling=sp)
        signed = np.where(zone, inside, -outside)  # positive inside, like margo
        margin = signed[surface].min()
        coverage = 100.0 * np.count_nonzero(zone & tumour) / np.count_nonzero(tumour)
        return margin, coverage

    margin, coverage = one_move(np.zeros(3))
    times = []
    for n in range(runs):
        t = time.perf_counter()
        one_move(np.array([0.1 * (n % 4), 0.0, 0.0]))
        times.append(time.perf_counter() - t)
    times.sort()
    exact = meta["exact"]
    print(f"scipy QAM-style per probe move: median {1e3 * times[len(times) // 2]:.2f} ms "
          f"(min {1e3 * times[0]:.2f}) on a {tumour.shape} crop; numpy {np.__version__}, "
          f"scipy {__import__('scipy').__version__}")
    print(f"scipy margin {margin:.3f} mm vs margo exact {exact['min_margin_mm']:.3f} mm "
          f"(difference {margin - exact['min_margin_mm']:+.3f} mm); coverage {coverage:.2f}% vs "
          f"{exact['coverage_pct']:.2f}%")
    print(f"margo per probe move (same run): median {exact['per_move_median_ms']:.3f} ms")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
