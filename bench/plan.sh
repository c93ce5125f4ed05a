#!/usr/bin/env bash
# Planning benchmark: margo's segmentation and margin metrics on LIDC-IDRI-0001's nodule with one
# MWA probe, and a QAM-style numpy/scipy distance-transform pipeline on the same crop, in one run.
# Usage: bench/plan.sh [CT_DIR]   (needs python3 with numpy and scipy: pip install numpy scipy)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-../shared/ct/lidc-idri-0001}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cargo build --release -p margo --quiet
date -u
./target/release/margo bench plan "$DIR" --runs 30 --export "$OUT"
python3 bench/plan_scipy.py "$OUT" 30
