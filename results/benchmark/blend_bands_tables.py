#!/usr/bin/env python3
"""The blend's paired PSNR differences per DRF from an evaluate report's metrics.csv (blend_bands.sh).

evaluate pairs its first method with every other; this table pairs METHOD+blend with the low-dose
input, the Gaussian and the network alone, over the subjects, with a 95% percentile bootstrap
(10000 resamples of the subjects, seed 1), and counts the subjects whose PSNR is below the input's.
Usage: blend_bands_tables.py REPORT/metrics.csv METHOD  (standard library only)
"""
import csv
import random
import sys


def main(path, method):
    rows = [r for r in csv.DictReader(open(path)) if r["region"] == "body"]
    psnr = {(r["subject"], float(r["drf"]), r["method"]): float(r["psnr"]) for r in rows}
    subjects = sorted({r["subject"] for r in rows})
    drfs = sorted({float(r["drf"]) for r in rows})
    blend = method + "+blend"
    rng = random.Random(1)

    def interval(d):
        means = sorted(sum(rng.choice(d) for _ in d) / len(d) for _ in range(10000))
        return means[249], means[9749]

    print(f"| DRF | {blend} PSNR (dB) | − low dose (dB) | − Gaussian (dB) | − {method} (dB) | subjects below the input |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for d in drfs:
        b = [psnr[(s, d, blend)] for s in subjects]
        cells = [f"{d:g}", f"{sum(b) / len(b):.2f}"]
        for other in ("lowdose", "gaussian", method):
            diff = [psnr[(s, d, blend)] - psnr[(s, d, other)] for s in subjects]
            lo, hi = interval(diff)
            cells.append(f"{sum(diff) / len(diff):+.2f} [{lo:+.2f}, {hi:+.2f}]")
        below = sum(psnr[(s, d, blend)] < psnr[(s, d, "lowdose")] for s in subjects)
        cells.append(f"{below} of {len(subjects)}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
