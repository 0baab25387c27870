#!/usr/bin/env bash
# Calibrates and scores universal runs of long.sh on the benchmark's test subjects at all 11 DRFs
# (simulate.sh's test set, seed 2028: 8 test subjects, DRF 2-100, 3, 7, 15, 30 and 75 unseen).
# Each RUN's model_final gets the calibrations hot_blend.sh gave the hot-patch network: the noise
# estimator and a first blend on the training set's val split, then the banded blend with the step
# limit on the 16 tuning subjects of seed 2030, into runs/RUN/model_tuned16.safetensors (kept in
# results/benchmark/runs/RUN/ with the calibration tables). `unipet evaluate` then scores every
# RUN, alone and blended, against the untouched input, the best Gaussian and hot_blend.sh's
# calibrated hot-patch network (hot16, 1500 steps), in float32 (denoise's default), into one
# report, long_eval/report, whose cached predictions later calls reuse. No test subject is used to
# fit. Tables: results/benchmark/long_eval.md, the last RUN against hot16.
# Usage: results/benchmark/long_eval.sh WORK_DIR RUN [RUN...]  (needs simulate.sh's sets and the
# runs' model_final in WORK_DIR/runs; simulates the tune16 set when absent)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=$1
shift
[ $# -gt 0 ] || { echo "long_eval.sh: name at least one run" >&2; exit 1; }
[ -f "$work/tune16/data/dataset.json" ] || "$unipet" simulate --out "$work/tune16/data" \
  --name unipet-benchmark-tune16 --vary --subjects 16 --val 1 --test 0 --drf 2,3,4,100 --seed 2030 --threads 2
methods=(--method "hot16=$repo/results/benchmark/runs/balanced-hot/model_hot16.safetensors")
for name in "$@"; do
  run=$work/runs/$name kept=$repo/results/benchmark/runs/$name
  mkdir -p "$kept"
  if [ ! -f "$run/model_calibrated.safetensors" ]; then
    "$unipet" calibrate --dataset "$work/train/dataset.json" -m "$run/model_final.safetensors" \
      -o "$run/model_calibrated.safetensors" --precision bf16 --threads 2 | tee "$run/calibration.txt"
  fi
  if [ ! -f "$run/model_tuned16.safetensors" ]; then
    "$unipet" calibrate --dataset "$work/tune16/data/dataset.json" --estimator-split keep --blend-split val \
      --step-limit on -m "$run/model_calibrated.safetensors" -o "$run/model_tuned16.safetensors" \
      --precision fp32 --threads 2 | tee "$run/calibration_tuned16.txt"
  fi
  cp "$run"/{model_tuned16.safetensors,calibration.txt,calibration_tuned16.txt} "$kept/"
  methods+=(--method "$name=$run/model_tuned16.safetensors")
  last=$name
done
mkdir -p "$work/long_eval"
"$unipet" evaluate --dataset "$work/test/dataset.json" --split test --precision fp32 --threads 2 \
  --trained-drfs 2 4 10 20 50 100 --baseline lowdose gaussian --out "$work/long_eval/report" --show-drf 2 \
  "${methods[@]}"
{
  echo "# $last on the benchmark's test subjects at 11 DRFs (results/benchmark/long_eval.sh)"
  echo
  echo "**Paired differences** (paired_tables.py; mean [95% bootstrap interval] over the 8 test subjects)"
  echo
  python3 "$repo/results/benchmark/paired_tables.py" "$work/long_eval/report/metrics.csv" "$last+blend" hot16+blend
  echo
  echo "**The fitted blend** (calibration_tuned16.txt)"
  echo
  echo '```'
  cat "$work/runs/$last/calibration_tuned16.txt"
  echo '```'
  echo
  sed 's/^# /## /' "$work/long_eval/report/summary.md"
} > "$repo/results/benchmark/long_eval.md"
