#!/usr/bin/env bash
# The CPU profile end to end, as run for the README's "A CPU profile" table: a simulated dataset,
# then BDN, critic and UniPET with the `cpu` preset, bfloat16 autocast, 2 threads. Rerun to
# continue an interrupted run. Usage: results/cpu-profile/run.sh [WORK_DIR] (default /tmp/unipet-cpu)
set -euo pipefail
unipet=$(cd "$(dirname "$0")/../.." && pwd)/build/unipet
work=${1:-/tmp/unipet-cpu}
mkdir -p "$work" && cd "$work"
[ -f sim/dataset.json ] || "$unipet" simulate --out sim --subjects 10 --seed 1
data=sim/dataset.json
stage() {  # folder stage iterations [--init ...]
  local name=$1 kind=$2 its=$3
  shift 3
  if [ -f "runs/$name/model_final.safetensors" ] || [ -f "runs/$name/critic_final.safetensors" ]; then return 0; fi
  if [ -f "runs/$name/config.json" ]; then
    "$unipet" train --dataset "$data" --out "runs/$name" --continue --precision bf16 --threads 2
  else
    "$unipet" train --dataset "$data" --config cpu --precision bf16 --threads 2 --set validate_every=250 \
      --stage "$kind" --out "runs/$name" --set iterations="$its" "$@"
  fi
}
mkdir -p runs
stage bdn bdn 2000
stage disc disc 200 --init runs/bdn/model_final.safetensors
stage unipet unipet 1000 --init runs/bdn/model_final.safetensors --init-critic runs/disc/critic_final.safetensors
