#!/usr/bin/env bash
# The shipped model's whole-body speed (issue 24), in one run of one machine: the 192 x 192 x 400
# phantom of bench/whole_body.h denoised
#   1. by the authors' pipeline (merge_patch, float32) with their paper-size UniPET,
#   2. by the authors' pipeline with the shipped model's network,
#   3. by unipet's sliding window with the shipped model, bfloat16, background tiles skipped,
#   4. by the command itself, `unipet denoise` with the shipped model (reading, the noise estimate
#      and blend of a calibrated model, writing), bfloat16, timed with /usr/bin/time,
# all on 2 threads. Step 1 takes about 17 minutes on 2 cores; REFERENCE=no leaves it out.
# Usage: bench/whole_body_shipped.sh [BUILD_DIR] (default build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/unipet_bench" --write-whole-body="$tmp/wb.nii.gz"
filter='WholeBodyDenoise/mode:(0/bf16:0/threads:2/shipped:1|2/bf16:1/threads:2/shipped:1)'
[ "${REFERENCE:-yes}" = no ] || filter='WholeBodyDenoise/mode:(0/bf16:0/threads:2/shipped:[01]|2/bf16:1/threads:2/shipped:1)'
"$build/unipet_bench" --benchmark_filter="$filter"
/usr/bin/time -v "$build/unipet" denoise -i "$tmp/wb.nii.gz" -o "$tmp/out.nii.gz" --precision bf16 --threads 2 \
  2> "$tmp/time.txt"
grep -E 'Elapsed|Maximum resident' "$tmp/time.txt"
