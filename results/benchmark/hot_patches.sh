#!/usr/bin/env bash
# Hot patches: does centring a share of the patches on hot organs fix DRF 2? blend_tuning.sh
# found the balanced network itself 6.3 dB below the input on a high-count test subject at DRF 2,
# in the few voxels of a hot organ's edge, where it changes the input by many times the noise.
# Uniform body centres put few patches there. This run is the balanced run (balanced.sh: the
# cpu-balanced preset, 1500 steps from the shared base, seed 1) with one change, hot_fraction=0.25:
# a quarter of the patches centred on the subject's hottest 0.5% of body voxels. Both networks,
# alone (no blend), are scored by `unipet evaluate` on blend_tuning.sh's 8 test subjects (seed
# 2028) at DRF 2, 3, 4 and 100, in float32. The balanced network is taken from its calibrated file
# (the same network; evaluate scores the network alone), whose predictions blend_tuning.sh has
# cached when it ran in the same WORK_DIR. Tables: results/benchmark/hot_patches.md. Rerun to
# continue. Precision: the published run trained steps 0-500 in float32 (an AVX2 machine, where
# bfloat16 is slow) and 500-1500 in bfloat16 autocast (PRECISION=bf16, as the balanced run did
# throughout); the weights and optimizer state are float32 either way.
# Usage: results/benchmark/hot_patches.sh [WORK_DIR] (default /tmp/unipet-benchmark; needs
# simulate.sh's training set there and blend_tuning.sh's dose234/data, which it simulates if absent)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=${1:-/tmp/unipet-benchmark}
cd "$work"
config=cpu
# shellcheck source=results/benchmark/train_run.sh
. "$repo/results/benchmark/train_run.sh"
run base bdn 1200
config=cpu-balanced
run balanced-hot bdn 1500 --init "$PWD/runs/base/model_final.safetensors" --set init_any_mapping=true \
  --set hot_fraction=0.25
[ -f dose234/data/dataset.json ] || "$unipet" simulate --out dose234/data \
  --name unipet-benchmark-test-dose234 --vary --subjects 12 --split 0,0.333333333,0.666666667 \
  --drf 2,3,4,100 --seed 2028 --threads 2
mkdir -p hot_patches/report/predictions
if [ -d tune16/report/predictions/tuned16 ] && [ ! -d hot_patches/report/predictions/balanced ]; then
  cp -r tune16/report/predictions/tuned16 hot_patches/report/predictions/balanced
fi
"$unipet" evaluate --dataset "$work/dose234/data/dataset.json" --split test --precision fp32 --threads 2 \
  --trained-drfs 2 4 10 20 50 100 --baseline lowdose gaussian --out hot_patches/report --show-drf 2 \
  --method "balanced=$repo/results/benchmark/runs/balanced/model_tuned16.safetensors" \
  --method "balanced-hot=runs/balanced-hot/model_final.safetensors"
{
  echo "# Hot patches: the balanced network with hot_fraction=0.25, at DRF 2, 3, 4 and 100 (results/benchmark/hot_patches.sh)"
  echo
  echo "**Paired differences, the networks alone** (paired_tables.py; mean [95% bootstrap interval] over the 8 test subjects)"
  echo
  python3 "$repo/results/benchmark/paired_tables.py" hot_patches/report/metrics.csv balanced-hot balanced
  echo
  sed 's/^# /## /' hot_patches/report/summary.md
} > "$repo/results/benchmark/hot_patches.md"
