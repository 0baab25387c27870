#!/usr/bin/env bash
# The ship candidate of issue 24, long.sh's long-vanilla (6000 steps), calibrated and scored on
# the benchmark's 8 test subjects at all 11 DRFs, and the blend's DRF-1 knot (calibrate
# --blend-identity on) measured on the shipped step-2000 snapshot at DRF 2 and 3:
#  1. the 6000-step network's test predictions (float32, denoise's default), made first: the
#     cache is stamped with the network alone, so its calibrated copy reuses them;
#  2. calibrated on the 16 tuning subjects of seed 2030 (banded blend, step limit, full doses as
#     DRF-1 blend inputs) with the noise-level estimator of the snapshot (long_eval.sh's, fitted on
#     the training set; it reads images, not the network) -> model_identity16.safetensors;
#  3. the snapshot recalibrated the same way (its own estimator kept) -> its model_identity16;
#  4. ship_eval/low_drf: the snapshot as shipped and recalibrated, at DRF 2 and 3 (one set of
#     predictions: a copy under the second name is trusted, the network being the same);
#  5. ship_eval/report: the 6000-step network against the input and the best Gaussian, 11 DRFs.
# Tables: results/benchmark/ship_eval.md. No test subject is used to fit.
# Usage: results/benchmark/ship_eval.sh WORK_DIR (needs simulate.sh's test set there; simulates
# the tuning set when absent)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=$1
kept=$repo/results/benchmark/runs
snapshot=$kept/long-vanilla-step2000/model_tuned16.safetensors
run=$work/runs/long-vanilla
mkdir -p "$run" "$work/ship_eval"
[ -f "$run/model_final.safetensors" ] || cp "$kept/long-vanilla/model_final.safetensors" "$run/"
tune=$work/tune16/data/dataset.json
[ -f "$tune" ] || "$unipet" simulate --out "$work/tune16/data" --name unipet-benchmark-tune16 --vary \
  --subjects 16 --val 1 --test 0 --drf 2,3,4,100 --seed 2030 --threads 2
common=(--dataset "$work/test/dataset.json" --split test --precision fp32 --threads 2
  --trained-drfs 2 4 10 20 50 100 --show-drf 2)
"$unipet" evaluate "${common[@]}" --baseline lowdose --out "$work/ship_eval/report" \
  --method "long-vanilla=$run/model_final.safetensors"
calibrate() {  # MODEL RUN_DIR ESTIMATOR_OPTION...: the tune16 calibration with the DRF-1 knot
  local model=$1 dir=$2 name
  name=$(basename "$dir")
  shift 2
  mkdir -p "$dir" "$kept/$name"
  [ -f "$dir/model_identity16.safetensors" ] || "$unipet" calibrate --dataset "$tune" "$@" --blend-split val \
    --step-limit on --blend-identity on -m "$model" -o "$dir/model_identity16.safetensors" --precision fp32 \
    --threads 2 | tee "$dir/calibration_identity16.txt"
  cp "$dir/model_identity16.safetensors" "$dir/calibration_identity16.txt" "$kept/$name/"
}
calibrate "$run/model_final.safetensors" "$run" --estimator-from "$snapshot"
calibrate "$snapshot" "$work/runs/long-vanilla-step2000" --estimator-split keep
low=$work/ship_eval/low_drf
"$unipet" evaluate "${common[@]}" --drf 2 3 --baseline lowdose --out "$low" --method "step2000=$snapshot"
[ -d "$low/predictions/step2000-identity" ] || cp -a "$low/predictions/step2000" "$low/predictions/step2000-identity"
"$unipet" evaluate "${common[@]}" --drf 2 3 --baseline lowdose --out "$low" --method "step2000=$snapshot" \
  --method "step2000-identity=$work/runs/long-vanilla-step2000/model_identity16.safetensors"
"$unipet" evaluate "${common[@]}" --baseline lowdose gaussian --out "$work/ship_eval/report" \
  --method "long-vanilla=$run/model_identity16.safetensors"
{
  echo "# long-vanilla (6000 steps) on the benchmark's test subjects at 11 DRFs (results/benchmark/ship_eval.sh)"
  echo
  echo "**Paired differences**, the identity-knot blend (paired_tables.py; mean [95% bootstrap interval] over the 8 test subjects; the last columns: the network alone)"
  echo
  python3 "$repo/results/benchmark/paired_tables.py" "$work/ship_eval/report/metrics.csv" long-vanilla+blend long-vanilla
  echo
  echo "**The DRF-1 knot and the longer training at DRF 2 and 3** (identity_tables.py)"
  echo
  python3 "$repo/results/benchmark/identity_tables.py" "$low/metrics.csv" "$work/ship_eval/report/metrics.csv"
  for dir in "$run" "$work/runs/long-vanilla-step2000"; do
    echo
    echo "**The fitted blend with the DRF-1 knot, $(basename "$dir")** (calibration_identity16.txt)"
    echo
    echo '```'
    cat "$dir/calibration_identity16.txt"
    echo '```'
  done
  echo
  sed 's/^# /## /' "$work/ship_eval/report/summary.md"
} > "$repo/results/benchmark/ship_eval.md"
