#!/usr/bin/env bash
# The benchmark's data (docs/results.md): 24 training and 4 validation subjects at the six training
# DRFs; then an independent evaluation set at those and five DRFs never trained on: 4 subjects on
# which the Gaussian baseline's FWHM is tuned and 8 test subjects. Every subject is drawn with
# its own scanner, counts, corrections, reconstruction and anatomy (`--vary`). Fixed seeds; rerun to
# resume. The evaluation set's seed, 2028, is the first from 2027 whose draws put every TOF setting
# (non-TOF twice) in the test split and a non-TOF subject among the tuning ones (2027's had no
# non-TOF test subject); it was chosen from the scanner draws alone, before any model was scored. Usage: results/benchmark/simulate.sh [WORK_DIR] (default /tmp/unipet-benchmark)
set -euo pipefail
unipet=${UNIPET:-$(cd "$(dirname "$0")/../.." && pwd)/build/unipet}
work=${1:-/tmp/unipet-benchmark}
mkdir -p "$work" && cd "$work"
[ -f train/dataset.json ] || "$unipet" simulate --out train --name unipet-benchmark-train --vary \
  --subjects 28 --val 0.142857143 --test 0 --drf 2,4,10,20,50,100 --seed 2026 --threads 2
[ -f test/dataset.json ] || "$unipet" simulate --out test --name unipet-benchmark-test --vary \
  --subjects 12 --val 0.333333333 --test 0.666666667 --drf 2,3,4,7,10,15,20,30,50,75,100 --seed 2028 --threads 2
