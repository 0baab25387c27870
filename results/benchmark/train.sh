#!/usr/bin/env bash
# Trains every model of the benchmark (docs/results.md) on the data of simulate.sh, with the `cpu`
# preset, bfloat16 autocast and 2 threads, one run after another. Every model gets the same budget
# of generator steps: BASE steps of the universal BDN (shared), then TUNE steps of its own:
#   vanilla        the BDN continued on every DRF        (the vanilla universal model)
#   drf4/20/100    the BDN continued on one DRF only     (DRF-specific models)
#   unipet         SAN + style alignment + RALS critic   (UniPET; its critic pre-trained by "disc")
#   unipet-no-san  the same without the SAN              (ablation "w/o SAN")
#   unipet-no-rals the same with a critic on every voxel (ablation "w/o RALS")
#   unipet-align1  UniPET with the style alignment weighted 1 instead of 0.001 (a follow-up: does
#                  the SAN help once its loss matters? docs/results.md)
# Rerun to continue an interrupted run. Each finished run's configuration, log and model file are
# copied to results/benchmark/runs/ (a few MB in all) so evaluation does not need the training.
# Usage: results/benchmark/train.sh [WORK_DIR] (default /tmp/unipet-benchmark)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}  # UNIPET: another binary, e.g. a copy frozen for the runs
work=${1:-/tmp/unipet-benchmark}
BASE=${BASE:-1200}
TUNE=${TUNE:-600}
cd "$work"
config=cpu
# shellcheck source=results/benchmark/train_run.sh
. "$repo/results/benchmark/train_run.sh"
mkdir -p runs
base=runs/base/model_final.safetensors
run base bdn "$BASE"
run disc disc 200 --init "$base"
critic=runs/disc/critic_final.safetensors
run unipet unipet "$TUNE" --init "$base" --init-critic "$critic"
run vanilla bdn "$TUNE" --init "$base"
run unipet-no-san unipet "$TUNE" --init "$base" --init-critic "$critic" --set san=false
run unipet-no-rals unipet "$TUNE" --init "$base" --init-critic "$critic" --set rals=false
for drf in 4 20 100; do run "drf$drf" bdn "$TUNE" --init "$base" --drf "$drf"; done
run unipet-align1 unipet "$TUNE" --init "$base" --init-critic "$critic" --set lambda_align=1
echo "$(date -u +%FT%TZ) all runs done"
