#!/usr/bin/env python3
"""One method against another, paired per DRF, from one evaluate report (hot_patches.sh).

NEW against the low-dose input, the Gaussian and OLD: PSNR per subject, paired over the subjects,
with a 95% percentile bootstrap (10000 resamples of the subjects, seed 1); the subjects below the
input and the worst one, for NEW and for OLD; and the lesion SUVmax bias against the full dose
(mean over the lesions) of each.
Usage: paired_tables.py REPORT/metrics.csv NEW OLD  (standard library only)
"""
import sys

from metrics_csv import bootstrap, load, mean_bias_text


def main(path, new, old):
    psnr, bias, subjects, drfs = load(path)
    interval = bootstrap()

    def below_and_worst(d, m):
        vs_input = [psnr[(s, d, m)] - psnr[(s, d, "lowdose")] for s in subjects]
        worst = min(range(len(subjects)), key=lambda i: vs_input[i])
        return f"{sum(v < 0 for v in vs_input)} / {vs_input[worst]:+.2f} ({subjects[worst]})"

    print(f"| DRF | {new} PSNR (dB) | − low dose (dB) | − Gaussian (dB) | − {old} (dB) "
          f"| {new}: subjects below the input / worst − input (dB) | {old}: the same "
          f"| SUVmax bias {new} | SUVmax bias {old} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for d in drfs:
        n = [psnr[(s, d, new)] for s in subjects]
        cells = [f"{d:g}", f"{sum(n) / len(n):.2f}"]
        for m in ("lowdose", "gaussian", old):
            diff = [x - psnr[(s, d, m)] for x, s in zip(n, subjects)]
            lo, hi = interval(diff)
            cells.append(f"{sum(diff) / len(diff):+.2f} [{lo:+.2f}, {hi:+.2f}]")
        cells += [below_and_worst(d, new), below_and_worst(d, old), mean_bias_text(bias, d, new), mean_bias_text(bias, d, old)]
        print("| " + " | ".join(cells) + " |")
    print(f"\n({len(subjects)} test subjects: {', '.join(subjects)})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
