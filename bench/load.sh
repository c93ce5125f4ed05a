#!/usr/bin/env bash
# Loading benchmark: whole-process `margo info` against dcm2niix on the same data, same run.
#
#   cargo build --release -p margo && bash bench/load.sh [runs]
#
# Data (made once under $WORK, default /tmp/margo-bench-load; inputs are only read):
#   lidc      ../shared/ct/lidc-idri-0001 (133 slices, explicit VR LE)
#   lidc-x4   the same slices 4 times, stacked along z with new UIDs (532 slices; dcmodify)
#   lidc-jpll JPEG lossless SV1 copy (dcmtk `dcmcjpeg +e1`)
#   lidc-j2k  JPEG 2000 lossless copy (gdcm `gdcmconv --j2k`); also loaded with OpenJPEG
#             (MARGO_J2K_DECODER=openjpeg) for comparison with margo's own decoder
# Times are the median of N warm runs (page cache warm) of the whole process; peak RSS is the
# maximum resident set size reported by GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
SHARED=${MARGO_SHARED_DIR:-../shared}
LIDC="$SHARED/ct/lidc-idri-0001"
WORK=${WORK:-/tmp/margo-bench-load}
MARGO=${MARGO:-target/release/margo}
[ -x "$MARGO" ] || { echo "build first: cargo build --release -p margo" >&2; exit 1; }
[ -d "$LIDC" ] || { echo "missing $LIDC" >&2; exit 1; }
for tool in dcm2niix dcmcjpeg gdcmconv dcmodify /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt: dcm2niix dcmtk libgdcm-tools time)" >&2; exit 1; }
done

mkdir -p "$WORK"
if [ ! -f "$WORK/.ready" ]; then
  rm -rf "$WORK"/lidc-*
  mkdir -p "$WORK/lidc-x4" "$WORK/lidc-jpll" "$WORK/lidc-j2k"
  for f in "$LIDC"/*.dcm; do
    b=$(basename "$f" .dcm)
    dcmcjpeg +e1 "$f" "$WORK/lidc-jpll/$b.dcm"
    gdcmconv --j2k "$f" "$WORK/lidc-j2k/$b.dcm"
    # Copy c sits 133 x 2.5 mm above copy c-1, with its own series/instance UIDs.
    read -r x y z < <(dcmdump +P 0020,0032 "$f" | sed 's/.*\[\(.*\)\].*/\1/' | tr '\\' ' ')
    for c in 0 1 2 3; do
      out="$WORK/lidc-x4/${b}_$c.dcm"
      cp "$f" "$out"
      nz=$(awk -v z="$z" -v c="$c" 'BEGIN { printf "%.6f", z + c * 133 * 2.5 }')
      dcmodify -nb -q -m "(0020,0032)=$x\\$y\\$nz" \
        -m "(0020,000e)=1.2.826.0.1.3680043.8.498.4242.1" \
        -m "(0008,0018)=1.2.826.0.1.3680043.8.498.4242.2.$((10#$b)).$c" "$out"
    done
  done
  touch "$WORK/.ready"
fi

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# time_cmd NAME CMD...: prints NAME, median wall s, median CPU s (user + sys), peak RSS MiB.
# CPU time is less sensitive than wall time to other jobs on a shared machine.
time_cmd() {
  local name=$1; shift
  "$@" >/dev/null 2>&1 || { echo "$name: command failed: $*" >&2; return 1; }   # warm-up
  local walls=() cpus=() rss=0 stats
  stats=$(mktemp)
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -o "$stats" -f "%e %U %S %M" "$@" >/dev/null 2>&1
    local e u s m
    read -r e u s m < <(tail -1 "$stats")
    walls+=("$e")
    cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')")
    (( m > rss )) && rss=$m
  done
  rm -f "$stats"
  printf "%-30s wall %6s s   cpu %6s s   peak RSS %6.1f MiB\n" "$name" \
    "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)" \
    "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), machine: $(nproc) cores, $(uname -m), runs: $RUNS, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "margo: $($MARGO --version), dcm2niix: $(dcm2niix -v 2>&1 | grep -o 'v1\.[0-9.]*' | head -1)"
OUT="$WORK/nifti"; mkdir -p "$OUT"
for d in lidc lidc-x4 lidc-jpll lidc-j2k; do
  src="$WORK/$d"; [ "$d" = lidc ] && src="$LIDC"
  time_cmd "margo info $d" "$MARGO" info "$src"
  time_cmd "margo info --json $d" "$MARGO" info --json "$src"
  if [ "$d" = lidc-j2k ]; then
    # The same load with OpenJPEG (through dicom-pixeldata) instead of margo's own decoder.
    time_cmd "margo info $d (OpenJPEG)" env MARGO_J2K_DECODER=openjpeg "$MARGO" info "$src"
  fi
  # dcm2niix converts: it reads and also writes an uncompressed NIfTI (-z n), no BIDS sidecar
  # (-b n), overwriting its previous output (-w 1).
  time_cmd "dcm2niix $d" dcm2niix -z n -b n -w 1 -f "$d" -o "$OUT" "$src"
done
rm -rf "$OUT"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
