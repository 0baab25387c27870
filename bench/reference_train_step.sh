#!/usr/bin/env bash
# The authors' UniPET training iteration next to unipet's, in one run, alternating so both see the
# same machine load: bench/reference_train_step.sh REFERENCE_REPO [ROUNDS]
# REFERENCE_REPO is a checkout of github.com/Yaziwel/UniPET; needs python3 with torch (Debian's
# python3-torch) and a built unipet_bench. Prints each timing and the median ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:?usage: bench/reference_train_step.sh REFERENCE_REPO [ROUNDS]}
rounds=${2:-2}
bench=${BUILD_DIR:-build}/unipet_bench
# The first python3 that has torch (a pyenv python3 on PATH may not; Debian's /usr/bin/python3 does).
python=${PYTHON:-}
for candidate in python3 /usr/bin/python3; do
  [ -n "$python" ] && break
  "$candidate" -c 'import torch' 2>/dev/null && python=$candidate
done
[ -n "$python" ] || { echo "reference_train_step.sh: no python3 with torch (apt-get install python3-torch)" >&2; exit 1; }
ref=() ours_f32=() ours_bf16=()
for ((r = 1; r <= rounds; r++)); do
  line=$("$python" bench/reference_train_step.py "$repo" --patch 32 --batch 2 --iterations 3)
  echo "$line"
  ref+=("$(sed -nE 's/.*: ([0-9.]+) s\/it.*/\1/p' <<<"$line")")
  for bf16 in 0 1; do
    ms=$("$bench" --benchmark_filter="TrainStep/profile:1/stage:2/bf16:$bf16/" --benchmark_format=csv 2>/dev/null |
      awk -F, '/BM_TrainStep/ {print $3}')
    echo "unipet 32^3 x2 unipet $([ $bf16 = 1 ] && echo bf16 || echo fp32): $(awk -v m="$ms" 'BEGIN{printf "%.3f", m/1000}') s/it"
    if [ $bf16 = 1 ]; then ours_bf16+=("$ms"); else ours_f32+=("$ms"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
r=$(median "${ref[@]}"); f=$(median "${ours_f32[@]}"); b=$(median "${ours_bf16[@]}")
awk -v r="$r" -v f="$f" -v b="$b" 'BEGIN {
  printf "median: reference %.3f s/it, unipet fp32 %.3f s/it (%.2fx faster), unipet bf16 %.3f s/it (%.2fx faster)\n",
    r, f/1000, r/(f/1000), b/1000, r/(b/1000) }'
