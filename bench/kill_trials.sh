#!/usr/bin/env bash
# kill -9 at random moments (README, "Bad input and safe output"): `unipet evaluate` and a folder
# `unipet denoise`, each killed TRIALS times at a random moment of its run and then rerun to the
# end, must give exactly what an uninterrupted run gives (metrics.csv byte for byte; every
# denoised image byte for byte). Not part of the test suite (it takes minutes).
# Usage: bench/kill_trials.sh [WORK_DIR] [TRIALS]   (default /tmp/unipet-kill, 20)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
unipet=${UNIPET:-$repo/build/unipet}
model=${MODEL:-$repo/results/cpu-profile/unipet/model_final.safetensors}
work=${1:-/tmp/unipet-kill}
trials=${2:-20}
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$unipet" simulate --out data --subjects 3 --drf 4,20 --matrix 48 --slices 24 --angles 48 --subsets 8 \
  --iterations 2 --split 0,0,1 --seed 11 --threads 2 >/dev/null
mkdir -p scans
for s in data/sim000*; do cp "$s/drf_4.nii.gz" "scans/$(basename "$s").nii.gz"; done

evaluate() {
  "$unipet" evaluate --dataset data/dataset.json --split test --threads 2 --tile 32 --baseline lowdose \
    --method "m=$model" --out "$1" >/dev/null 2>&1
}
denoise() {
  "$unipet" denoise -i scans -o "$1" -m "$model" --threads 2 --tile 32 --suv-factor 0.0004 >/dev/null 2>&1
}
# Each run's images (predictions included) and tables, without the parts that record when or how
# long (sidecars, HTML).
fingerprint() {
  (cd "$1" && find . -type f \( -name 'metrics.csv' -o -name '*.nii.gz' \) -print0 |
     sort -z | xargs -0 sha256sum)
}

# One kind of run: the uninterrupted reference, then TRIALS kills at a uniform moment in [0, its
# duration] followed by a rerun (several reruns if a rerun is killed too: it never is here).
trial_kind() {
  local kind=$1
  local start end duration
  start=$(date +%s.%N)
  "$kind" "ref-$kind"
  end=$(date +%s.%N)
  duration=$(python3 -c "print($end - $start)")
  fingerprint "ref-$kind" > "ref-$kind.sha"
  local same=0 killed=0
  for t in $(seq 1 "$trials"); do
    local out="$kind-$t"
    local delay
    delay=$(python3 -c "import random; random.seed($t); print(round(random.uniform(0, $duration), 2))")
    ("$kind" "$out") &
    local pid=$!
    sleep "$delay"
    # The command itself (the subshell's child), then the subshell.
    if pkill -9 -P "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    wait "$pid" 2>/dev/null || true
    "$kind" "$out" || "$kind" "$out" || true
    if fingerprint "$out" | cmp -s - "ref-$kind.sha"; then
      same=$((same + 1))
    else
      echo "$kind trial $t (killed after $delay s): differs from the uninterrupted run" >&2
    fi
  done
  echo "$kind: uninterrupted run $(printf %.1f "$duration") s; $killed of $trials trials killed mid-run;" \
    "$same of $trials identical to the uninterrupted run after a rerun"
  [ "$same" -eq "$trials" ]
}

status=0
trial_kind evaluate || status=1
trial_kind denoise || status=1
exit $status
