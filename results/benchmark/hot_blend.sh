#!/usr/bin/env bash
# The hot-patch network, calibrated the way the balanced one was, against the balanced one's
# best (blend_tuning.sh's tuned16). hot_patches.sh scored the networks alone: the hot one is +0.9
# dB over the balanced one at DRF 2 but still 1.2 dB below the input. Here it gets the same two
# calibrations: its noise-level estimator and a first blend on the training set's val split
# (balanced.sh's `unipet calibrate`), then the banded blend with the step limit refitted on the 16
# tuning subjects of seed 2030 (`--estimator-split keep --blend-split val --step-limit on`). Both
# calibrated networks are scored by `unipet evaluate` on the 8 test subjects of seed 2028 at DRF
# 2, 3, 4 and 100, in float32. No test subject is used to fit. Tables:
# results/benchmark/hot_blend.md. Rerun to continue.
# Usage: results/benchmark/hot_blend.sh [WORK_DIR] (default /tmp/unipet-benchmark; needs
# simulate.sh's training set and hot_patches.sh's finished run there; simulates the dose234 and
# tune16 sets when absent)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=${1:-/tmp/unipet-benchmark}
kept=$repo/results/benchmark/runs/balanced-hot
mkdir -p "$work/dose234" "$work/tune16" "$work/hot_blend"
[ -f "$work/dose234/data/dataset.json" ] || "$unipet" simulate --out "$work/dose234/data" \
  --name unipet-benchmark-test-dose234 --vary --subjects 12 --val 0.333333333 --test 0.666666667 \
  --drf 2,3,4,100 --seed 2028 --threads 2
[ -f "$work/tune16/data/dataset.json" ] || "$unipet" simulate --out "$work/tune16/data" \
  --name unipet-benchmark-tune16 --vary --subjects 16 --val 1 --test 0 --drf 2,3,4,100 --seed 2030 --threads 2
cd "$work/hot_blend"
[ -f model_calibrated.safetensors ] || "$unipet" calibrate --dataset "$work/train/dataset.json" \
  -m "$kept/model_final.safetensors" -o model_calibrated.safetensors --precision bf16 --threads 2 |
  tee calibration.txt
[ -f model_hot16.safetensors ] || "$unipet" calibrate --dataset "$work/tune16/data/dataset.json" \
  --estimator-split keep --blend-split val --step-limit on -m model_calibrated.safetensors \
  -o model_hot16.safetensors --precision fp32 --threads 2 | tee calibration_hot16.txt
cp model_hot16.safetensors calibration.txt calibration_hot16.txt "$kept/"
mkdir -p report/predictions
# The balanced network alone was scored by hot_patches.sh from the same file: its predictions are reused.
if [ -d "$work/hot_patches/report/predictions/balanced" ] && [ ! -d report/predictions/tuned16 ]; then
  cp -r "$work/hot_patches/report/predictions/balanced" report/predictions/tuned16
fi
"$unipet" evaluate --dataset "$work/dose234/data/dataset.json" --split test --precision fp32 --threads 2 \
  --trained-drfs 2 4 10 20 50 100 --baseline lowdose gaussian --out report --show-drf 2 \
  --method "hot16=model_hot16.safetensors" \
  --method "tuned16=$repo/results/benchmark/runs/balanced/model_tuned16.safetensors"
{
  echo "# The hot-patch network calibrated on 16 tuning subjects, at DRF 2, 3, 4 and 100 (results/benchmark/hot_blend.sh)"
  echo
  echo "**Paired differences** (blend_tuning_tables.py; mean [95% bootstrap interval] over the 8 test subjects)"
  echo
  python3 "$repo/results/benchmark/blend_tuning_tables.py" report/metrics.csv hot16 tuned16
  echo
  echo "**The fitted blend** (calibration_hot16.txt)"
  echo
  echo '```'
  cat calibration_hot16.txt
  echo '```'
  echo
  sed 's/^# /## /' report/summary.md
} > "$repo/results/benchmark/hot_blend.md"
