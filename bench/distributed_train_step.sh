#!/usr/bin/env bash
# Data-parallel step time on one machine: one process against N processes of one thread each
# (`unipet train --nproc N`), at the same global batch, and the gradient bytes all-reduced per
# step. The paper network (width 64, 8 blocks, SAN 256 x 4: 2.75 M parameters) on 32³ patches,
# float32, so the messages have the real model's size while a step stays a few seconds.
#   bench/distributed_train_step.sh [STAGE (bdn|unipet)] [STEPS] [N]
# Step time: log.jsonl's seconds from the first logged step to the last, divided by the steps
# between them (the first step, with its allocations, is left out); the all-reduce time is
# log.jsonl's allreduce_seconds (rank 0's wall time in the gradient all-reduces, including any
# wait for the slower rank).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
unipet=${UNIPET:-$root/build/unipet}
stage=${1:-bdn}
steps=${2:-8}
n=${3:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$unipet" simulate --out "$work/sim" --subjects 3 --drf 4,20 --seed 1 --matrix 64 --slices 48 --threads "$n" >/dev/null

seconds_per_step() {  # run folder
  python3 - "$1/log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l or '"critic"' in l]
print(f"{(rows[-1]['seconds'] - rows[0]['seconds']) / (rows[-1]['step'] - rows[0]['step']):.3f}")
PY
}
allreduce() {  # run folder: MB per step, and mean seconds in the all-reduces (first step left out)
  python3 - "$1/log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if "allreduce_bytes" in r]
t = [r["allreduce_seconds"] for r in rows[1:]]
print(f"{rows[-1]['allreduce_bytes'] / 1e6:.2f} MB per step, {sum(t) / len(t):.3f} s per step in the all-reduces")
PY
}
train() {  # name, then arguments
  local name=$1
  shift
  "$unipet" train --dataset "$work/sim/dataset.json" --out "$work/$name" --stage "$stage" \
    --set patch=32 --set iterations="$steps" --set log_every=1 --set validate_every=0 \
    --set checkpoint_every=100000 "$@" > "$work/$name.txt" 2>&1 || { cat "$work/$name.txt"; exit 1; }
}

train one "--threads=$n" --set batch="$n"
train ranks --nproc "$n" --threads 1 --set batch=1
train single --threads 1 --set batch=1
one=$(seconds_per_step "$work/one")
ranks=$(seconds_per_step "$work/ranks")
single=$(seconds_per_step "$work/single")
echo "stage $stage, paper network, 32³ patches, global batch $n, $(nproc) cores, $steps steps"
grep -o "all-reduce: .*" "$work/ranks.txt" | head -1
echo "measured: $(allreduce "$work/ranks")"
printf "%-42s %8s s/step\n" "1 process x $n threads, batch $n" "$one" \
  "$n processes x 1 thread, batch 1 each" "$ranks" "1 process x 1 thread, batch 1 (one rank's work)" "$single"
python3 -c "import sys; n=sys.argv[1]; o,r,s=map(float,sys.argv[2:]); print(f'{n} ranks against 1 process: {o/r:.2f}x the speed; a rank against one process alone: {100*(r/s-1):+.1f}% step time')" "$n" "$one" "$ranks" "$single"
