#!/usr/bin/env bash
# The quick protocol of docs/results.md, "Training that helps at every dose": every run starts
# from the benchmark's shared universal BDN (train.sh's "base", 1200 steps) and trains BAL more
# steps (default 1500; with the base, 2700 of the 3600 allowed: twice the first default model's
# 1800) on all six training DRFs, as a universal BDN, on the same patch stream (seed 1):
#   balanced              the cpu-balanced preset: sqrt mapping (no clip), L1 relative to the
#                         input's error, 10% identity pairs, the lesion term
#   balanced-linear       the same with the reference's linear mapping (clip at 20 SUV)
#   balanced-unweighted   the same with plain L1 (dose_weighting=none)
#   balanced-no-identity  the same without identity pairs
#   balanced-no-lesion    the same without the lesion term
#   plain                 the cpu preset: the vanilla universal model trained as long
# in that order (the combination first). Each finished run is then calibrated (`unipet calibrate`:
# the noise-level estimator fitted on the train split, the blend on the val split) into
# runs/NAME/model_calibrated.safetensors. Rerun to continue; finished runs are kept in
# results/benchmark/runs/ like train.sh's. Needs train.sh's base run (restored from the repo).
# Usage: results/benchmark/balanced.sh [WORK_DIR [RUN...]] (default /tmp/unipet-benchmark, all)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}  # UNIPET: another binary, e.g. a copy frozen for the runs
work=${1:-/tmp/unipet-benchmark}
shift $(($# > 0 ? 1 : 0))
wanted=("${@:-balanced balanced-linear balanced-unweighted balanced-no-identity balanced-no-lesion plain}")
wanted=(${wanted[*]})
BAL=${BAL:-1500}
cd "$work"
config=cpu
# shellcheck source=results/benchmark/train_run.sh
. "$repo/results/benchmark/train_run.sh"
run base bdn 1200
base=$PWD/runs/base/model_final.safetensors
for name in "${wanted[@]}"; do
  config=cpu-balanced
  from=(--init "$base" --set init_any_mapping=true)
  case $name in
    balanced) run "$name" bdn "$BAL" "${from[@]}" ;;
    balanced-linear) run "$name" bdn "$BAL" "${from[@]}" --set intensity=linear ;;
    balanced-unweighted) run "$name" bdn "$BAL" "${from[@]}" --set dose_weighting=none ;;
    balanced-no-identity) run "$name" bdn "$BAL" "${from[@]}" --set identity_fraction=0 ;;
    balanced-no-lesion) run "$name" bdn "$BAL" "${from[@]}" --set lambda_lesion=0 ;;
    plain) config=cpu; run "$name" bdn "$BAL" --init "$base" ;;
    *) echo "balanced.sh: $name: no such run" >&2; exit 1 ;;
  esac
  calibrated=runs/$name/model_calibrated.safetensors kept=$repo/results/benchmark/runs/$name/model_calibrated.safetensors
  if [ ! -f "$calibrated" ] && [ -f "$kept" ]; then cp "$kept" "$calibrated"; fi
  if [ ! -f "$calibrated" ]; then
    "$unipet" calibrate --dataset "$data" -m "runs/$name/model_final.safetensors" -o "$calibrated" \
      --precision bf16 --threads 2 | tee "runs/$name/calibration.txt"
  fi
  cp "$calibrated" "$kept"
  if [ -f "runs/$name/calibration.txt" ]; then cp "runs/$name/calibration.txt" "$(dirname "$kept")/"; fi
done
echo "$(date -u +%FT%TZ) balanced runs done"
