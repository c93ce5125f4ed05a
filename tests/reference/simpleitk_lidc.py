#!/usr/bin/env python3
"""Independent reference for LIDC-IDRI-0001: what SimpleITK's ImageSeriesReader makes of it.

Run once (not a test dependency):
    pip install SimpleITK numpy
    python3 tests/reference/simpleitk_lidc.py ../shared/ct/lidc-idri-0001 > tests/reference/simpleitk_lidc.json

Writes dims, spacing, origin (LPS mm, centre of voxel 0), direction (the i, j, k axis unit
vectors, i.e. the columns of ITK's direction matrix), HU min/max/mean and the SHA-256 of the
voxels as int16 little endian in i-fastest order (ITK's buffer order). `tests/dicom_info.rs`
compares `margo info --json` with this file.
"""
import hashlib
import json
import sys

import numpy as np
import SimpleITK as sitk


def main() -> None:
    folder = sys.argv[1]
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(folder)
    if len(series) != 1:
        sys.exit(f"expected one series in {folder}, found {series}")
    # GDCM sorts the files by position along the slice normal.
    files = reader.GetGDCMSeriesFileNames(folder, series[0])
    reader.SetFileNames(files)
    reader.SetOutputPixelType(sitk.sitkInt16)
    image = reader.Execute()

    # GetArrayViewFromImage is indexed [k, j, i]; C order flattens it i-fastest.
    voxels = np.ascontiguousarray(sitk.GetArrayViewFromImage(image)).astype("<i2")
    d = image.GetDirection()  # row-major 3x3: column c is axis c
    direction = [[d[0 + c], d[3 + c], d[6 + c]] for c in range(3)]
    out = {
        "tool": f"SimpleITK {sitk.Version_VersionString()} ImageSeriesReader (GDCM)",
        "series_uid": series[0],
        "dims": list(image.GetSize()),
        "spacing_mm": list(image.GetSpacing()),
        "origin_lps_mm": list(image.GetOrigin()),
        "direction": direction,
        "hu_min": int(voxels.min()),
        "hu_max": int(voxels.max()),
        "hu_mean": float(voxels.astype(np.float64).mean()),
        "voxel_sha256": hashlib.sha256(voxels.tobytes()).hexdigest(),
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
