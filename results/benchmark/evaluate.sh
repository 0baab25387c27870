#!/usr/bin/env bash
# Scores the benchmark's models (train.sh) on its test subjects (simulate.sh) with `unipet
# evaluate`, in bfloat16 as they were trained, with the low-dose input and the Gaussian filter
# (FWHM tuned per DRF on the 4 tuning subjects) as baselines:
#   reports/main      UniPET, the vanilla universal model and the two ablations at all 11 DRFs
#   reports/specific  the DRF-specific models against UniPET and the vanilla model at the 6
#                     training DRFs (UniPET's and the vanilla model's predictions from reports/main)
#   reports/followup  UniPET with λ_align = 1 against UniPET and the vanilla model at all 11 DRFs
#   reports/balanced  the quick protocol's runs (balanced.sh) that exist, each with and without
#                     its calibrated blend (RUN/model_calibrated.safetensors, balanced.sh), at all 11
#                     DRFs, with the first shipped UniPET's predictions from reports/main when that
#                     report exists; its tables: results/benchmark/balanced.md
# then writes the tables of docs/results.md (results/benchmark/tables.md). Rerun to continue:
# predictions already made by the same model are reused.
# Usage: results/benchmark/evaluate.sh [WORK_DIR [REPORT...]] (default /tmp/unipet-benchmark,
# every report)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
work=${1:-/tmp/unipet-benchmark}
shift $(($# > 0 ? 1 : 0))
reports=("${@:-main specific followup balanced}")
reports=(${reports[*]})
for r in "${reports[@]}"; do
  case $r in main | specific | followup | balanced) ;; *) echo "evaluate.sh: $r: no such report (main, specific, followup, balanced)" >&2; exit 1 ;; esac
done
models=$repo/results/benchmark/runs
cd "$work"
data=test/dataset.json
common=(--dataset "$data" --split test --precision bf16 --threads 2 --trained-drfs 2 4 10 20 50 100)
wanted() { [[ " ${reports[*]} " == *" $1 "* ]]; }
mkdir -p reports
wanted main && "$unipet" evaluate "${common[@]}" --baseline lowdose gaussian --out reports/main \
  --show-drf 50 \
  --method "UniPET=$models/unipet/model_final.safetensors" \
  --method "vanilla=$models/vanilla/model_final.safetensors" \
  --method "UniPET-noSAN=$models/unipet-no-san/model_final.safetensors" \
  --method "UniPET-noRALS=$models/unipet-no-rals/model_final.safetensors"
wanted specific && "$unipet" evaluate "${common[@]}" --baseline lowdose gaussian --out reports/specific \
  --drf 2 4 10 20 50 100 --show-drf 20 \
  --method UniPET=reports/main/predictions/UniPET \
  --method "DRF-4=$models/drf4/model_final.safetensors" \
  --method "DRF-20=$models/drf20/model_final.safetensors" \
  --method "DRF-100=$models/drf100/model_final.safetensors" \
  --method vanilla=reports/main/predictions/vanilla
wanted followup && "$unipet" evaluate "${common[@]}" --baseline lowdose --out reports/followup \
  --show-drf 50 \
  --method UniPET=reports/main/predictions/UniPET \
  --method "UniPET-align1=$models/unipet-align1/model_final.safetensors" \
  --method vanilla=reports/main/predictions/vanilla
if wanted balanced; then
  balanced=()
  if [ -d reports/main/predictions/UniPET ]; then balanced+=(--method UniPET=reports/main/predictions/UniPET); fi
  for name in balanced balanced-linear balanced-unweighted balanced-no-identity balanced-no-lesion plain; do
    # The calibrated copy (calibrate.sh) when there is one: scored as NAME and NAME+blend.
    for file in model_calibrated.safetensors model_final.safetensors; do
      if [ -f "$models/$name/$file" ]; then
        balanced+=(--method "$name=$models/$name/$file")
        break
      fi
    done
  done
  "$unipet" evaluate "${common[@]}" --baseline lowdose gaussian --out reports/balanced --show-drf 4 "${balanced[@]}"
  /usr/bin/python3 "$repo/results/benchmark/balanced_tables.py" reports/balanced/metrics.csv \
    > "$repo/results/benchmark/balanced.md"
  if [ ${#reports[@]} -eq 1 ]; then exit 0; fi  # the other reports' tables need their own reports
fi
/usr/bin/python3 "$repo/results/benchmark/tables.py" reports/main/metrics.csv reports/specific/metrics.csv \
  "$data" "$models" reports/followup/metrics.csv > "$repo/results/benchmark/tables.md"
