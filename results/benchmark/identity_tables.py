#!/usr/bin/env python3
"""The blend's DRF-1 knot (calibrate --blend-identity on) and the longer training at the low DRFs
(ship_eval.sh).

LOW is the report scoring, at the low DRFs, the step-2000 snapshot as shipped (step2000) and
recalibrated with the DRF-1 knot (step2000-identity), from one set of predictions; MAIN, when
given, the report scoring the 6000-step network with the DRF-1 knot (long-vanilla) at every DRF. Per DRF of LOW:
each blended method against the low-dose input, paired over subjects, with a 95% percentile
bootstrap (10000 resamples, seed 1), the subjects below the input and the worst; then the knot's
effect on the snapshot and the 4000 further steps' effect under the knot.
Usage: identity_tables.py LOW/metrics.csv [MAIN/metrics.csv]  (standard library only)
"""
import sys

from metrics_csv import bootstrap, load


def main(low_csv, main_csv=None):
    low, _, subjects, drfs = load(low_csv)
    interval = bootstrap()
    rows = {"step 2000, as shipped": lambda s, d: low[(s, d, "step2000+blend")],
            "step 2000, DRF-1 knot": lambda s, d: low[(s, d, "step2000-identity+blend")]}
    if main_csv:
        longer, _, main_subjects, _ = load(main_csv)
        assert subjects == main_subjects, "the two reports score different subjects"
        rows["step 6000, DRF-1 knot"] = lambda s, d: longer[(s, d, "long-vanilla+blend")]
    low_dose = lambda s, d: low[(s, d, "lowdose")]

    def paired(a, b, d):
        diff = [a(s, d) - b(s, d) for s in subjects]
        lo, hi = interval(diff)
        return f"{sum(diff) / len(diff):+.2f} [{lo:+.2f}, {hi:+.2f}]", diff

    print("| DRF | network + blend | − low dose (dB) | subjects below the input / worst − input (dB) |")
    print("| --- | --- | ---: | ---: |")
    for d in drfs:
        for label, f in rows.items():
            text, diff = paired(f, low_dose, d)
            worst = min(range(len(subjects)), key=lambda i: diff[i])
            print(f"| {d:g} | {label} | {text} | {sum(v < 0 for v in diff)} / {diff[worst]:+.2f} ({subjects[worst]}) |")
    print()
    print("| DRF | the DRF-1 knot, step 2000 (dB) |" + (" 4000 more steps, with the knot (dB) |" if main_csv else ""))
    print("| --- | ---: |" + (" ---: |" if main_csv else ""))
    for d in drfs:
        cells = [paired(rows["step 2000, DRF-1 knot"], rows["step 2000, as shipped"], d)[0]]
        if main_csv:
            cells.append(paired(rows["step 6000, DRF-1 knot"], rows["step 2000, DRF-1 knot"], d)[0])
        print(f"| {d:g} | " + " | ".join(cells) + " |")
    print(f"\n({len(subjects)} test subjects: {', '.join(subjects)})")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(*sys.argv[1:])
