#!/usr/bin/env bash
# The long runs of issue 24: the chosen recipe trained to a plateau, and the fair comparisons at
# the same budget. Every run starts from the benchmark's shared universal BDN (train.sh's "base",
# 1200 steps, restored from the repo) and trains LONG more generator steps (default 6000: 7200 in
# all, 4x the first shipped model's 1800) on the same patch stream (seed 1), with the recipe
# docs/results.md chose: the cpu-balanced preset (sqrt mapping, L1 relative to the input's error,
# identity pairs, the lesion term), a quarter of the patches on hot voxels (hot_fraction=0.25) and
# a moving average of the weights (ema=0.999), which is what validation scores and the model files
# hold, because the raw weights swing by 1-2 dB of validation PSNR between checkpoints.
#   long-vanilla         the recipe as a universal BDN, SAN bypassed, no critic (the ship candidate)
#   long-drf4/20/100     the same on one DRF only (DRF-specific models)
#   long-disc            the critic pre-trained against the base in the recipe's mapping
#   long-unipet          SAN + style alignment + RALS critic, the same recipe
# in that order. Validation (the training set's val split, every DRF) every 300 steps gives the
# curves. Rerun to continue: an interrupted run resumes with --continue, also on a fresh machine
# once keep_run.sh has kept its checkpoint in results/benchmark/runs/NAME.
# Usage: results/benchmark/long.sh [WORK_DIR [RUN...]] (default /tmp/unipet-benchmark, all; needs
# simulate.sh's training set there)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}  # UNIPET: another binary, e.g. a copy frozen for the runs
work=${1:-/tmp/unipet-benchmark}
shift $(($# > 0 ? 1 : 0))
wanted=("${@:-long-vanilla long-drf4 long-drf20 long-drf100 long-disc long-unipet}")
wanted=(${wanted[*]})
LONG=${LONG:-6000}
cd "$work"
config=cpu
# shellcheck source=results/benchmark/train_run.sh
. "$repo/results/benchmark/train_run.sh"
run base bdn 1200
base=$PWD/runs/base/model_final.safetensors
config=cpu-balanced
recipe=(--set hot_fraction=0.25 --set ema=0.999)
from=(--init "$base" --set init_any_mapping=true)
for name in "${wanted[@]}"; do
  case $name in
    long-vanilla) run "$name" bdn "$LONG" "${from[@]}" "${recipe[@]}" ;;
    long-drf4 | long-drf20 | long-drf100) run "$name" bdn "$LONG" "${from[@]}" "${recipe[@]}" --drf "${name#long-drf}" ;;
    long-disc) run "$name" disc 200 "${from[@]}" ;;
    long-unipet) run "$name" unipet "$LONG" "${from[@]}" "${recipe[@]}" \
      --init-critic "$PWD/runs/long-disc/critic_final.safetensors" ;;
    *) echo "long.sh: $name: no such run" >&2; exit 1 ;;
  esac
done
echo "$(date -u +%FT%TZ) long runs done"
