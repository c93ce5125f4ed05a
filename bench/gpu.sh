#!/usr/bin/env bash
# Rendering benchmark on a machine with a real GPU (the `run` device tool): the issue's
# 1920x1080 figures on a 512x512x532 volume (LIDC-IDRI-0001 4x), plus the standard cases.
# Nothing is built there: carry a stripped release binary and the data. Prepare here, once:
#
#   cargo build --release -p margo && bash bench/load.sh 1     # makes /tmp/margo-bench-load
#   printf '/.gpu-bench/\n/.gl/\n' >> .git/info/exclude
#   mkdir -p .gpu-bench && strip -o .gpu-bench/margo target/release/margo
#   xz -9 -T2 .gpu-bench/margo                                 # 20 MB -> 5.6 MB
#   cp -r /tmp/margo-bench-load/lidc-j2k .gpu-bench/           # optional, see below
#   (Vulkan loader: the `.gl` folder of debs described in ../.library/device/README.md)
#
# What travels is limited to 64 MiB: the tracked tree is ~20 MB, the compressed binary 5.6 MB
# and the JPEG 2000 copy of LIDC-IDRI-0001 (the issue's data) 23.5 MB. Without that copy the
# bundled phantom (sample-data/phantom-chest, 512x512x92) is used, repeated to 532 slices like
# LIDC; the table's first line says which series ran.
#
# then run `bash bench/gpu.sh` there with carry [".gpu-bench", ".gl"]; the table is also
# written to $OUT/gpu-bench.txt. Copy it into BENCHMARKS.md with the date and the device.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MARGO:-.gpu-bench/margo}
if [ -d .gpu-bench/lidc-j2k ]; then
  DATA=${MARGO_BENCH_DIR:-.gpu-bench/lidc-j2k}
else
  DATA=${MARGO_BENCH_DIR:-sample-data/phantom-chest}
fi
if [ ! -x "$BIN" ] && [ -f "$BIN.xz" ]; then
  xz -d -k "$BIN.xz" && chmod +x "$BIN"
fi
[ -x "$BIN" ] || { echo "missing $BIN (see the top of this script)" >&2; exit 1; }
[ -d "$DATA" ] || { echo "missing $DATA (see the top of this script)" >&2; exit 1; }
if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then
  export VK_DRIVER_FILES=$icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L || true
out=${OUT:-/tmp}/gpu-bench.txt
date -u | tee "$out"
# Ray casting takes the renderer's default path for the device (compute where it can); the
# fragment path, which H100/H200 run on their few graphics-capable units only, for comparison.
WGPU_BACKEND=vulkan "$BIN" bench render "$DATA" --full-hd --frames 400 --seconds 2 "$@" 2>&1 | tee -a "$out"
WGPU_BACKEND=vulkan "$BIN" bench render "$DATA" --only dvr --skip-large --raycast fragment \
  --frames 200 --seconds 2 "$@" 2>&1 | tee -a "$out"
