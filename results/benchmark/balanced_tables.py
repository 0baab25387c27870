#!/usr/bin/python3
"""The tables of docs/results.md's "Training that helps at every dose" from the balanced report's
metrics.csv (evaluate.sh WORK balanced): per method and DRF, the PSNR gain over the untouched
low-dose input and over the best Gaussian filter (paired over the test subjects, 95% bootstrap
interval), the SSIM gain over the input, and the lesion SUVmax bias against the full dose; then
whether each method meets issue 20's bounds at every DRF.

Usage: balanced_tables.py BALANCED_METRICS_CSV > balanced.md
"""
import sys

import numpy as np

from tables import Metrics, drf_label, load, paired, table

BASELINES = ("lowdose", "gaussian")


def interval(r, fmt):
    return "–" if r is None else f"{fmt.format(r[0])} [{fmt.format(r[1])}, {fmt.format(r[2])}]"


def method_table(m, method):
    rows = []
    for drf in m.drfs:
        rows.append([
            drf_label(drf),
            f"{m.mean(method, drf, 'psnr'):.2f}",
            interval(paired(m, method, "lowdose", drf, "psnr"), "{:+.2f}"),
            interval(paired(m, method, "gaussian", drf, "psnr"), "{:+.2f}"),
            interval(paired(m, method, "lowdose", drf, "ssim"), "{:+.4f}"),
            f"{m.lesion_mean(method, drf, 'suv_max_bias_full'):+.1f}%",
        ])
    return table(method, ["DRF", "PSNR", "Δ low dose (dB)", "Δ Gaussian (dB)", "ΔSSIM vs low dose",
                          "lesion SUVmax bias vs full"], rows)


def bounds_row(m, method):
    """Issue 20's bounds: mean PSNR >= low dose and >= Gaussian at every DRF; lesion SUVmax bias
    within ±12% up to DRF 50 and ±15% at 75 and 100."""
    worst_low = min(m.mean(method, d, "psnr") - m.mean("lowdose", d, "psnr") for d in m.drfs)
    worst_gauss = min(m.mean(method, d, "psnr") - m.mean("gaussian", d, "psnr") for d in m.drfs)
    bias_ok = all(abs(m.lesion_mean(method, d, "suv_max_bias_full")) <= (12 if d <= 50 else 15) for d in m.drfs)
    worst_bias = max(m.lesion_mean(method, d, "suv_max_bias_full") for d in m.drfs)
    least_bias = min(m.lesion_mean(method, d, "suv_max_bias_full") for d in m.drfs)
    yes = lambda ok: "yes" if ok else "**no**"
    return [method, f"{worst_low:+.2f} ({yes(worst_low >= 0)})", f"{worst_gauss:+.2f} ({yes(worst_gauss >= 0)})",
            f"{least_bias:+.1f}% … {worst_bias:+.1f}% ({yes(bias_ok)})"]


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    m = Metrics(load(argv[1]))
    methods = [k for k in m.methods if k not in BASELINES]
    print("**Issue 20's bounds, every DRF** (smallest mean PSNR difference over the DRFs; lesion bias range)\n")
    print(table("bounds", ["method", "min Δ low dose (dB)", "min Δ Gaussian (dB)", "lesion SUVmax bias"],
                [bounds_row(m, k) for k in methods]))
    psnr_rows = [[drf_label(d)] + [f"{m.mean(k, d, 'psnr'):.2f}" for k in list(BASELINES) + methods] for d in m.drfs]
    print(table("PSNR (dB), mean over the test subjects", ["DRF"] + list(BASELINES) + methods, psnr_rows))
    for k in methods:
        print(method_table(m, k))


if __name__ == "__main__":
    main(sys.argv)
