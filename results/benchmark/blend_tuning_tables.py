#!/usr/bin/env python3
"""Two blends of one network, paired per DRF (blend_tuning.sh).

From one evaluate report's metrics.csv: NEW+blend against the low-dose input, the Gaussian, the
network alone (NEW) and OLD+blend, PSNR per subject paired over the subjects with a 95% percentile
bootstrap (10000 resamples of the subjects, seed 1); the subjects below the input and the worst
one; and the lesion SUVmax bias against the full dose (mean over the lesions) of each blend.
Usage: blend_tuning_tables.py REPORT/metrics.csv NEW OLD  (standard library only)
"""
import sys

from metrics_csv import bootstrap, load, mean_bias_text


def main(path, new, old):
    psnr, bias, subjects, drfs = load(path)
    interval = bootstrap()

    blend, old_blend = new + "+blend", old + "+blend"
    print(f"| DRF | {blend} PSNR (dB) | − low dose (dB) | − Gaussian (dB) | − {new} alone (dB) | − {old_blend} (dB) "
          f"| subjects below the input | worst subject − low dose (dB) | SUVmax bias {blend} | SUVmax bias {old_blend} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for d in drfs:
        b = [psnr[(s, d, blend)] for s in subjects]
        cells = [f"{d:g}", f"{sum(b) / len(b):.2f}"]
        others = [[psnr[(s, d, m)] for s in subjects] for m in ("lowdose", "gaussian", new, old_blend)]
        for other in others:
            diff = [x - y for x, y in zip(b, other)]
            lo, hi = interval(diff)
            cells.append(f"{sum(diff) / len(diff):+.2f} [{lo:+.2f}, {hi:+.2f}]")
        vs_input = [x - y for x, y in zip(b, others[0])]
        cells.append(f"{sum(v < 0 for v in vs_input)} of {len(subjects)}")
        worst = min(range(len(subjects)), key=lambda i: vs_input[i])
        cells.append(f"{vs_input[worst]:+.2f} ({subjects[worst]})")
        cells += [mean_bias_text(bias, d, blend), mean_bias_text(bias, d, old_blend)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
