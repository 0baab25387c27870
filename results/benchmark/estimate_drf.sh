#!/usr/bin/env bash
# Validation of the noise-level estimator (README "Noise level and calibration"): fits it on the
# benchmark's training set (train split: 24 subjects x 7 images, full doses as DRF 1) with
# `unipet calibrate --blend off` (no network runs; the estimator does not depend on the model's
# weights), then scores it on held-out subjects: the evaluation set's test split (8 subjects x 12
# images, 11 DRFs, five never in the training set) and its val split (4 subjects). Writes
# results/benchmark/estimate_drf.md. The data comes from simulate.sh, only read here.
# Usage: results/benchmark/estimate_drf.sh [WORK_DIR] [MODEL]   (defaults: /tmp/unipet-benchmark, the shipped model)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$root/build/unipet}
work=${1:-/tmp/unipet-benchmark}
model=${2:-$root/models/unipet-default.safetensors}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$unipet" calibrate --dataset "$work/train/dataset.json" -m "$model" -o "$scratch/estimator.safetensors" --blend off \
  > "$scratch/fit.txt"
table=$root/results/benchmark/estimate_drf.md
{
  echo "# Noise-level estimator: error per DRF on held-out subjects"
  echo
  echo "Made by \`results/benchmark/estimate_drf.sh $work\`. Fitted on $work/train (train split):"
  echo
  echo '```'
  cat "$scratch/fit.txt"
  echo '```'
  echo
  echo "Errors are |log2 estimate - log2 truth|; the effective DRF is DRF x N_ref / N_subject (N: the"
  echo "study's full-dose prompts, N_ref the median over the fit's subjects)."
  for split in test val; do
    echo
    echo "## $work/test, $split split"
    echo
    "$unipet" estimate-drf -m "$scratch/estimator.safetensors" --dataset "$work/test/dataset.json" --split $split
  done
} > "$scratch/table.md"
mv "$scratch/table.md" "$table"
cat "$table"
