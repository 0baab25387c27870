#!/usr/bin/env bash
# The blend by intensity (README, "Noise level and calibration") on the doses where the balanced
# model lost to its input: the benchmark's evaluation set (simulate.sh's seed 2028: 4 tuning and
# 8 test subjects, each with its own scanner) simulated at DRF 2, 3, 4 and 100 only, which fits in
# one session on two cores. The balanced run's calibrated model keeps its noise-level estimator
# (fitted on the 24 training subjects, `--estimator-split keep`) and refits its blend, now per
# band of the network's level, on the 4 tuning subjects (`--blend-split val`); then `unipet
# evaluate` scores the network alone (balanced), the banded blend (balanced+blend), the low-dose
# input and the Gaussian (FWHM tuned on the same 4 subjects) on the 8 test subjects, in float32
# (bfloat16 runs as fast only where the CPU has AVX-512 BF16; on an AMD EPYC without it one image
# took 11 minutes instead of 21 s).
# The tables: results/benchmark/blend_bands.md. Rerun to continue.
# Usage: results/benchmark/blend_bands.sh [WORK_DIR] (default /tmp/unipet-benchmark)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=${1:-/tmp/unipet-benchmark}
mkdir -p "$work/dose234" && cd "$work/dose234"
[ -f data/dataset.json ] || "$unipet" simulate --out data --name unipet-benchmark-test-dose234 --vary \
  --subjects 12 --val 0.333333333 --test 0.666666667 --drf 2,3,4,100 --seed 2028 --threads 2
run=$repo/results/benchmark/runs/balanced
[ -f model_banded.safetensors ] || "$unipet" calibrate --dataset data/dataset.json --estimator-split keep \
  --blend-split val -m "$run/model_calibrated.safetensors" -o model_banded.safetensors --precision fp32 \
  --threads 2 | tee calibration_banded.txt
cp model_banded.safetensors "$run/model_banded.safetensors"
cp calibration_banded.txt "$run/calibration_banded.txt"
"$unipet" evaluate --dataset data/dataset.json --split test --precision fp32 --threads 2 \
  --trained-drfs 2 4 10 20 50 100 --baseline lowdose gaussian --out report --show-drf 2 \
  --method "balanced=model_banded.safetensors"
{
  echo "# The blend by intensity at DRF 2, 3, 4 and 100 (results/benchmark/blend_bands.sh)"
  echo
  echo "**Paired PSNR differences of balanced+blend** (blend_bands_tables.py; mean [95% bootstrap interval] over the 8 test subjects)"
  echo
  python3 "$repo/results/benchmark/blend_bands_tables.py" report/metrics.csv balanced
  echo
  echo "**The fitted blend** (calibration_banded.txt)"
  echo
  echo '```'
  cat calibration_banded.txt
  echo '```'
  echo
  sed 's/^# /## /' report/summary.md
} > "$repo/results/benchmark/blend_bands.md"
