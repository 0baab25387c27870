#!/usr/bin/env bash
# The whole benchmark of docs/results.md in one command: data (simulate.sh), the models
# (train.sh), their scores and tables (evaluate.sh). Each step resumes where it stopped, so rerun
# after an interruption. On these 2 cores: about 30 min of simulation, 2.7 h of training, an hour of
# evaluation. Usage: results/benchmark/run.sh [WORK_DIR] (default /tmp/unipet-benchmark)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/tmp/unipet-benchmark}
"$here/simulate.sh" "$work"
"$here/train.sh" "$work"
"$here/evaluate.sh" "$work"
