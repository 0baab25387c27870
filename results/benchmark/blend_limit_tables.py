#!/usr/bin/env python3
"""The step-limited blend's paired PSNR differences per DRF (blend_limit.sh).

Pairs balanced+blend of the step-limit report with the low-dose input, the Gaussian, the network
alone and the banded blend without the limit (balanced+blend of blend_bands.sh's report: the same
test images through the same network), over the subjects, with a 95% percentile bootstrap (10000
resamples of the subjects, seed 1); counts the subjects below the input and gives the worst one.
Usage: blend_limit_tables.py LIMITED/metrics.csv BANDED/metrics.csv  (standard library only)
"""
import sys

from metrics_csv import body_psnr, bootstrap


def main(limited_path, banded_path):
    psnr = body_psnr(limited_path)
    banded = body_psnr(banded_path)
    subjects = sorted({s for s, _, _ in psnr})
    drfs = sorted({d for _, d, _ in psnr})
    interval = bootstrap()

    print("| DRF | limited blend PSNR (dB) | − low dose (dB) | − Gaussian (dB) | − network alone (dB) "
          "| − banded blend, no limit (dB) | subjects below the input | worst subject − low dose (dB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for d in drfs:
        b = [psnr[(s, d, "balanced+blend")] for s in subjects]
        cells = [f"{d:g}", f"{sum(b) / len(b):.2f}"]
        others = [psnr[(s, d, "lowdose")] for s in subjects], [psnr[(s, d, "gaussian")] for s in subjects], \
            [psnr[(s, d, "balanced")] for s in subjects], [banded[(s, d, "balanced+blend")] for s in subjects]
        for other in others:
            diff = [x - y for x, y in zip(b, other)]
            lo, hi = interval(diff)
            cells.append(f"{sum(diff) / len(diff):+.2f} [{lo:+.2f}, {hi:+.2f}]")
        vs_input = [x - y for x, y in zip(b, others[0])]
        cells.append(f"{sum(v < 0 for v in vs_input)} of {len(subjects)}")
        worst = min(range(len(subjects)), key=lambda i: vs_input[i])
        cells.append(f"{vs_input[worst]:+.2f} ({subjects[worst]})")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
