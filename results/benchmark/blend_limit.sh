#!/usr/bin/env bash
# The blend's step limit (README, "Noise level and calibration"): the same evaluation set as
# blend_bands.sh (seed 2028, DRF 2, 3, 4 and 100; 4 tuning and 8 test subjects) and the same
# balanced network, its blend refitted on the 4 tuning subjects with `--step-limit on` (the
# network's change to a voxel cut at k times its robust SD, k chosen per dose), then scored by
# `unipet evaluate` on the 8 test subjects in float32: the network alone (balanced), the blend with
# the limit (balanced+blend), the low-dose input and the Gaussian. blend_limit_tables.py sets it
# beside blend_bands.sh's banded blend without the limit (the same test images, the same network).
# The tables: results/benchmark/blend_limit.md. Needs blend_bands.sh's data and report; rerun to
# continue.
# Usage: results/benchmark/blend_limit.sh [WORK_DIR] (default /tmp/unipet-benchmark)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=${1:-/tmp/unipet-benchmark}
cd "$work/dose234"
[ -f data/dataset.json ] && [ -f report/metrics.csv ] || { echo "blend_limit.sh: run blend_bands.sh first" >&2; exit 1; }
run=$repo/results/benchmark/runs/balanced
[ -f model_limited.safetensors ] || "$unipet" calibrate --dataset data/dataset.json --estimator-split keep \
  --blend-split val --step-limit on -m "$run/model_calibrated.safetensors" -o model_limited.safetensors \
  --precision fp32 --threads 2 | tee calibration_limited.txt
cp model_limited.safetensors "$run/model_limited.safetensors"
cp calibration_limited.txt "$run/calibration_limited.txt"
"$unipet" evaluate --dataset data/dataset.json --split test --precision fp32 --threads 2 \
  --trained-drfs 2 4 10 20 50 100 --baseline lowdose gaussian --out report_limited --show-drf 2 \
  --method "balanced=model_limited.safetensors"
{
  echo "# The blend's step limit at DRF 2, 3, 4 and 100 (results/benchmark/blend_limit.sh)"
  echo
  echo "**Paired PSNR differences** (blend_limit_tables.py; mean [95% bootstrap interval] over the 8 test subjects)"
  echo
  python3 "$repo/results/benchmark/blend_limit_tables.py" report_limited/metrics.csv report/metrics.csv
  echo
  echo "**The fitted blend** (calibration_limited.txt)"
  echo
  echo '```'
  cat calibration_limited.txt
  echo '```'
  echo
  sed 's/^# /## /' report_limited/summary.md
} > "$repo/results/benchmark/blend_limit.md"
