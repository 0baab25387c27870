#!/usr/bin/env bash
# The blend fitted on more tuning subjects. blend_limit.sh fitted the banded blend and its step
# limit on the evaluation set's 4 tuning subjects; none of them had a hot organ the network gets
# wrong, so the fit left the limit loose and DRF 2 stayed below the input on 4 of 8 test subjects.
# Here a separate tuning set (seed 2030, 16 new subjects, each with its own scanner, `--vary`,
# every one in the val split) is simulated at the same doses, the balanced run's calibrated model
# keeps its noise-level estimator and refits the blend with the step limit on those 16
# (`--estimator-split keep --blend-split val`), and `unipet evaluate` scores it on blend_bands.sh's
# 8 test subjects (seed 2028) beside the 4-subject fit, in float32. No test subject is used to fit.
# The tables: results/benchmark/blend_tuning.md. Rerun to continue.
# Usage: results/benchmark/blend_tuning.sh [WORK_DIR] (default /tmp/unipet-benchmark)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=${1:-/tmp/unipet-benchmark}
mkdir -p "$work/dose234" "$work/tune16"
run=$repo/results/benchmark/runs/balanced
# The test subjects: exactly blend_bands.sh's evaluation set.
[ -f "$work/dose234/data/dataset.json" ] || "$unipet" simulate --out "$work/dose234/data" \
  --name unipet-benchmark-test-dose234 --vary --subjects 12 --val 0.333333333 --test 0.666666667 \
  --drf 2,3,4,100 --seed 2028 --threads 2
cd "$work/tune16"
[ -f data/dataset.json ] || "$unipet" simulate --out data --name unipet-benchmark-tune16 --vary \
  --subjects 16 --val 1 --test 0 --drf 2,3,4,100 --seed 2030 --threads 2
[ -f model_tuned16.safetensors ] || "$unipet" calibrate --dataset data/dataset.json --estimator-split keep \
  --blend-split val --step-limit on -m "$run/model_calibrated.safetensors" -o model_tuned16.safetensors \
  --precision fp32 --threads 2 | tee calibration_tuned16.txt
cp model_tuned16.safetensors "$run/model_tuned16.safetensors"
cp calibration_tuned16.txt "$run/calibration_tuned16.txt"
"$unipet" evaluate --dataset "$work/dose234/data/dataset.json" --split test --precision fp32 --threads 2 \
  --trained-drfs 2 4 10 20 50 100 --baseline lowdose gaussian --out report --show-drf 2 \
  --method "tuned16=model_tuned16.safetensors" --method "tuned4=$run/model_limited.safetensors"
{
  echo "# The blend fitted on 16 tuning subjects, at DRF 2, 3, 4 and 100 (results/benchmark/blend_tuning.sh)"
  echo
  echo "**Paired differences** (blend_tuning_tables.py; mean [95% bootstrap interval] over the 8 test subjects)"
  echo
  python3 "$repo/results/benchmark/blend_tuning_tables.py" report/metrics.csv tuned16 tuned4
  echo
  echo "**The fitted blend** (calibration_tuned16.txt)"
  echo
  echo '```'
  cat calibration_tuned16.txt
  echo '```'
  echo
  sed 's/^# /## /' report/summary.md
} > "$repo/results/benchmark/blend_tuning.md"
