# Sourced by train.sh and balanced.sh (not run alone): `run NAME STAGE STEPS [options...]` trains
# runs/NAME in the current folder unless it is finished, restoring a run finished in an earlier
# session from results/benchmark/runs/NAME (a fresh machine need not train it again), continuing
# an interrupted one (also one kept there by keep_run.sh, on a fresh machine), and copying the
# finished run's config, log and model file back there.
# Needs: repo, unipet, config (a preset of `unipet train --config`). PRECISION (default bf16, what
# every published run used) is fp32 on a CPU without AVX-512 BF16, where bfloat16 convolutions
# take a slow path (about 30 times slower on an AVX2 EPYC).
data=train/dataset.json
precision=${PRECISION:-bf16}
run() {  # name stage iterations [options...]
  local name=$1 stage=$2 its=$3
  shift 3
  local done=runs/$name/model_final.safetensors
  [ "$stage" = disc ] && done=runs/$name/critic_final.safetensors
  local kept=$repo/results/benchmark/$done
  if [ ! -f "$done" ] && [ -f "$kept" ]; then  # finished in an earlier session, on another machine
    mkdir -p "runs/$name"
    cp "$kept" "$(dirname "$kept")"/{config.json,log.jsonl} "runs/$name/"
  fi
  local kept_run=$repo/results/benchmark/runs/$name
  if [ ! -f "$done" ] && [ ! -f "runs/$name/config.json" ] && [ -f "$kept_run/checkpoint_latest.pt" ]; then
    # interrupted in an earlier session and kept with keep_run.sh: resumed from its checkpoint
    mkdir -p "runs/$name"
    cp "$kept_run"/{config.json,log.jsonl,checkpoint_latest.pt} "runs/$name/"
  fi
  if [ ! -f "$done" ]; then
    echo "$(date -u +%FT%TZ) $name: $stage, $its steps"
    if [ -f "runs/$name/config.json" ]; then
      "$unipet" train --dataset "$data" --out "runs/$name" --continue --precision "$precision" --threads 2
    else
      "$unipet" train --dataset "$data" --config "$config" --precision "$precision" --threads 2 --set validate_every=300 \
        --stage "$stage" --out "runs/$name" --set iterations="$its" "$@"
    fi
  fi
  mkdir -p "$repo/results/benchmark/runs/$name"
  cp runs/"$name"/{config.json,log.jsonl} "$done" "$repo/results/benchmark/runs/$name/"
}
mkdir -p runs
