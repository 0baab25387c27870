#!/usr/bin/env bash
# Keeps an unfinished training run across sessions: copies WORK_DIR/runs/NAME's config, log and
# latest checkpoint (a few MB) to results/benchmark/runs/NAME/, to commit. train_run.sh's `run`
# resumes from there with --continue when the work folder lacks the run (a fresh machine).
# Usage: results/benchmark/keep_run.sh WORK_DIR NAME
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
from=$1/runs/$2
to=$repo/results/benchmark/runs/$2
[ -f "$from/checkpoint_latest.pt" ] || { echo "keep_run.sh: $from has no checkpoint_latest.pt" >&2; exit 1; }
mkdir -p "$to"
cp "$from"/{config.json,log.jsonl,checkpoint_latest.pt} "$to/"
echo "kept $2's latest checkpoint in $to (resuming trims the log to the checkpoint's step)"
