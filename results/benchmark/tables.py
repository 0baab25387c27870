#!/usr/bin/python3
"""The tables of docs/results.md from `unipet evaluate`'s metrics.csv files.

Usage: tables.py MAIN_METRICS_CSV SPECIFIC_METRICS_CSV [TEST_DATASET_JSON [RUNS_DIR [FOLLOWUP_METRICS_CSV]]]
       > tables.md

Whole-image metrics are means over the test subjects (region "body"); lesion biases are means
over every lesion of every test subject; paired differences are means over subjects with a 95%
percentile bootstrap interval over subjects (10 000 resamples, fixed seed), the same kind of
interval `unipet evaluate` reports.
"""
import csv
import json
import math
import os
import sys

import numpy as np

TRAINED = [2, 4, 10, 20, 50, 100]


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(text):
    return float(text) if text not in ("", None) else float("nan")


def drf_label(drf):
    text = f"{drf:g}"
    return text if drf in TRAINED else text + "*"


class Metrics:
    def __init__(self, rows):
        self.body = {}  # (method, drf) -> {subject: row}
        self.lesions = {}  # (method, drf) -> [rows]
        for r in rows:
            key = (r["method"], float(r["drf"]))
            if r["region"] == "body":
                self.body.setdefault(key, {})[r["subject"]] = r
            else:
                self.lesions.setdefault(key, []).append(r)
        self.methods = list(dict.fromkeys(m for m, _ in self.body))
        self.drfs = sorted({d for _, d in self.body})

    def per_subject(self, method, drf, column):
        rows = self.body.get((method, drf), {})
        return {s: num(r[column]) for s, r in rows.items()}

    def mean(self, method, drf, column):
        values = [v for v in self.per_subject(method, drf, column).values() if np.isfinite(v)]
        return np.mean(values) if values else float("nan")

    def lesion_mean(self, method, drf, column):
        values = [num(r[column]) for r in self.lesions.get((method, drf), [])]
        values = [v for v in values if np.isfinite(v)]
        return 100 * np.mean(values) if values else float("nan")


def bootstrap(differences, resamples=10000, seed=2026):
    d = np.asarray(differences, dtype=float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    return d.mean(), np.percentile(means, 2.5), np.percentile(means, 97.5)


def paired(m, a, b, drf, column):
    x, y = m.per_subject(a, drf, column), m.per_subject(b, drf, column)
    subjects = sorted(set(x) & set(y))
    return bootstrap([x[s] - y[s] for s in subjects]) if subjects else None


def table(title, header, rows):
    out = [f"**{title}**", "", "| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def metric_table(m, title, column, fmt, methods, lesion=False, best=max):
    rows = []
    for drf in m.drfs:
        values = [(m.lesion_mean if lesion else m.mean)(k, drf, column) for k in methods]
        finite = [v for v in values if np.isfinite(v)]
        top = best(finite) if finite else None
        cells = []
        for v in values:
            text = fmt.format(v) if np.isfinite(v) else "–"
            cells.append(f"**{text}**" if top is not None and np.isfinite(v) and fmt.format(v) == fmt.format(top) else text)
        rows.append([drf_label(drf)] + cells)
    return table(title, ["DRF"] + methods, rows)


def average_rows(m, column, methods, groups):
    rows = []
    for name, drfs in groups:
        drfs = [d for d in drfs if d in m.drfs]
        rows.append([name] + [f"{np.mean([m.mean(k, d, column) for d in drfs]):.2f}" for k in methods])
    return rows


def paired_table(m, title, pairs, column, fmt):
    header = ["DRF"] + [f"{a} − {b}" for a, b in pairs]
    rows = []
    for drf in m.drfs:
        cells = []
        for a, b in pairs:
            r = paired(m, a, b, drf, column)
            cells.append("–" if r is None else (fmt.format(r[0]) + " [" + fmt.format(r[1]) + ", " + fmt.format(r[2]) + "]"))
        rows.append([drf_label(drf)] + cells)
    return table(title, header, rows)


# `unipet simulate --vary`'s ranges (include/unipet/sim/simulate.h, Variation) around the default
# scanner; a setting outside the central half of its range is marked †.
NOMINAL_PROMPTS = 2e8


def central(value, low, high):
    quarter = (high - low) / 4
    return low + quarter <= value <= high - quarter


def settings_table(path):
    dataset = json.load(open(path))
    rows = []
    for s in dataset["subjects"]:
        if s["split"] != "test":
            continue
        i = s["info"]
        mark = lambda text, ok: text if ok else text + " †"
        counts = i["prompts_per_study"]
        rows.append([
            s["id"],
            mark(f"{counts / 1e6:.0f} M", central(math.log(counts / NOMINAL_PROMPTS), -math.log(4), math.log(4))),
            mark(f"{i['psf_fwhm_mm']:.1f}", central(i["psf_fwhm_mm"], 3.5, 6.0)),
            mark(f"{i['voxel_mm']:.2f}", central(i["voxel_mm"], 4 * 0.85, 4 * 1.15)),
            "non-TOF" if i["tof_fwhm_ps"] == 0 else f"{i['tof_fwhm_ps']:.0f} ps",
            mark(f"{i['osem_iterations']:.0f} × {i['osem_subsets']:.0f}", i["osem_iterations"] == 3),
            mark(f"{i['post_filter_fwhm_mm']:.1f}", central(i["post_filter_fwhm_mm"], 2.0, 7.0)),
            mark(f"{i['scatter_fraction']:.2f}", central(i["scatter_fraction"], 0.25, 0.45)),
            mark(f"{i['randoms_fraction']:.2f}", central(i["randoms_fraction"], 0.10, 0.35)),
            f"{i['weight_kg']:.0f}", f"{i['lesions']:.0f}"])
    return table("The test subjects' scanners († outside the central half of the training range)",
                 ["subject", "prompts (full dose)", "resolution (mm)", "voxel (mm)", "TOF", "OSEM it × subsets",
                  "post-filter (mm)", "scatter fraction", "randoms fraction", "weight (kg)", "lesions"], rows)


RUNS = [("base", "universal BDN (shared)"), ("disc", "critic pre-training"), ("unipet", "UniPET"),
        ("vanilla", "vanilla universal"), ("unipet-no-san", "UniPET w/o SAN"), ("unipet-no-rals", "UniPET w/o RALS"),
        ("drf4", "DRF-specific 4"), ("drf20", "DRF-specific 20"), ("drf100", "DRF-specific 100"),
        ("unipet-align1", "UniPET, λ_align = 1 (follow-up)")]


def walltime_table(runs_dir):
    rows = []
    for name, label in RUNS:
        path = os.path.join(runs_dir, name, "log.jsonl")
        if not os.path.exists(path):
            continue
        steps = [json.loads(line) for line in open(path) if line.strip()]
        steps = [e for e in steps if "stage" in e and "seconds" in e]
        if not steps:
            continue
        last = steps[-1]
        validation = [json.loads(line) for line in open(path) if '"validation"' in line]
        psnr = f"{validation[-1]['validation']['psnr_mean']:.2f}" if validation else "–"
        # The median logged speed: a run paused or slowed for a while (other jobs share the
        # machine) still gets the time it needs when it has the cores.
        rates = [(b["step"] - a["step"]) / (b["seconds"] - a["seconds"]) for a, b in zip(steps, steps[1:])
                 if b["seconds"] > a["seconds"] and b["step"] > a["step"]]
        speed = float(np.median(rates)) if rates else last["step"] / last["seconds"]
        rows.append([label, last["stage"], str(last["step"]), f"{last['seconds'] / 60:.0f}",
                     f"{last['step'] / speed / 60:.0f}", f"{speed:.2f}", psnr])
    return table("Training runs (2 cores, bfloat16). Wall: as it happened, with simulations, evaluations and "
                 "builds sharing the machine; at median speed: steps ÷ the median speed between log lines. Validation PSNR: "
                 "the 4 validation subjects' crops at the last step",
                 ["run", "stage", "steps", "wall (min)", "at median speed (min)", "steps/s", "validation PSNR (dB)"],
                 rows)


def key_rows(m):
    """The two tables of docs/results.md's "Results" section, as they appear there."""
    minus = lambda text: text.replace("-", "−")
    out = ["**Key rows, as in docs/results.md (mean over the test subjects)**", "",
           "| DRF | " + " | ".join(drf_label(d) for d in m.drfs) + " |", "| --- |" + " ---: |" * len(m.drfs)]

    def group(rows, column, fmt, lesion=False, best=max):  # bold: the best of the rows shown
        get = lambda k, d: (m.lesion_mean if lesion else m.mean)(k, d, column)
        for label, k in rows:
            cells = []
            for d in m.drfs:
                top = fmt.format(best([get(other, d) for _, other in rows]))
                text = fmt.format(get(k, d))
                cells.append(f"**{minus(text)}**" if text == top else minus(text))
            out.append(f"| {label} | " + " | ".join(cells) + " |")

    group([("PSNR low dose", "lowdose"), ("PSNR Gaussian (FWHM tuned per DRF)", "gaussian"),
           ("PSNR vanilla universal", "vanilla"), ("PSNR UniPET w/o SAN", "UniPET-noSAN"),
           ("PSNR UniPET w/o RALS", "UniPET-noRALS"), ("PSNR UniPET", "UniPET")], "psnr", "{:.2f}")
    group([("PSNR clipped to [0, 20], low dose", "lowdose"), ("PSNR clipped, Gaussian", "gaussian"),
           ("PSNR clipped, vanilla universal", "vanilla"), ("PSNR clipped, UniPET", "UniPET")], "psnr_clipped", "{:.2f}")
    group([("SSIM low dose", "lowdose"), ("SSIM Gaussian", "gaussian"), ("SSIM UniPET", "UniPET")], "ssim", "{:.3f}")
    group([("lesion SUVmax bias vs full, low dose", "lowdose"), ("lesion SUVmax bias vs full, Gaussian", "gaussian"),
           ("lesion SUVmax bias vs full, UniPET", "UniPET")], "suv_max_bias_full", "{:+.1f}%", lesion=True,
          best=lambda v: min(v, key=abs))
    out.append("| liver CoV, UniPET (low dose) | " + " | ".join(
        f"{m.mean('UniPET', d, 'liver_cov'):.3f} ({m.mean('lowdose', d, 'liver_cov'):.3f})" for d in m.drfs) + " |")
    pairs = [("UniPET", "vanilla", "psnr"), ("UniPET", "UniPET-noSAN", "psnr"), ("UniPET", "UniPET-noRALS", "psnr"),
             ("UniPET", "gaussian", "psnr"), ("UniPET", "gaussian", "psnr_clipped")]
    out += ["", "| DRF | UniPET − vanilla | UniPET − w/o SAN | UniPET − w/o RALS | UniPET − Gaussian | "
            "UniPET − Gaussian, clipped |", "| --- |" + " ---: |" * len(pairs)]
    for d in m.drfs:
        cells = [minus(f"{r[0]:+.2f} [{r[1]:+.2f}, {r[2]:+.2f}]") for r in (paired(m, a, b, d, c) for a, b, c in pairs)]
        out.append(f"| {drf_label(d)} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def followup_tables(m):
    """UniPET with its style alignment weighted 1 (reports/followup) against the shipped UniPET."""
    methods = [k for k in ["UniPET-align1", "UniPET", "vanilla", "lowdose"] if k in m.methods]
    unseen = [d for d in m.drfs if d not in TRAINED]
    pairs = [(a, b) for a, b in [("UniPET-align1", "UniPET"), ("UniPET-align1", "vanilla")]
             if a in methods and b in methods]
    summary = []
    if "UniPET-align1" in methods and "UniPET" in methods:
        minus = lambda text: text.replace("-", "−")
        both = lambda col, fmt, lesion=False: minus(
            fmt.format((m.lesion_mean if lesion else m.mean)("UniPET-align1", d, col)) + " (" +
            fmt.format((m.lesion_mean if lesion else m.mean)("UniPET", d, col)) + ")")
        rows = []
        for d in m.drfs:
            p, c = (paired(m, "UniPET-align1", "UniPET", d, col) for col in ("psnr", "psnr_clipped"))
            rows.append([drf_label(d), minus(f"{p[0]:+.2f} [{p[1]:+.2f}, {p[2]:+.2f}]"),
                         minus(f"{c[0]:+.2f} [{c[1]:+.2f}, {c[2]:+.2f}]"), both("ssim", "{:.3f}"),
                         both("suv_max_bias_full", "{:+.1f}%", True), both("suv_mean_bias_true", "{:+.1f}%", True),
                         both("liver_cov", "{:.3f}")])
        summary.append(table("Follow-up, as in docs/results.md: λ_align = 1 against the shipped UniPET (its value in "
                             "parentheses)", ["DRF", "ΔPSNR (dB)", "ΔPSNR clipped (dB)", "SSIM", "lesion SUVmax vs full",
                                          "lesion SUVmean vs truth", "liver CoV"], rows))
    return summary + [metric_table(m, "Follow-up, UniPET with λ_align = 1: PSNR (dB)", "psnr", "{:.2f}", methods),
            table("Follow-up: PSNR averaged over DRFs (dB)", ["DRFs"] + methods,
                  average_rows(m, "psnr", methods, [("trained (2–100)", TRAINED), ("unseen (3–75)", unseen),
                                                    ("all 11", m.drfs)])),
            paired_table(m, "Follow-up: paired PSNR differences (dB, mean [95% bootstrap interval])", pairs, "psnr",
                         "{:+.2f}"),
            paired_table(m, "Follow-up: paired differences of PSNR on clipped images (dB)", pairs, "psnr_clipped",
                         "{:+.2f}"),
            metric_table(m, "Follow-up: SSIM (body)", "ssim", "{:.4f}", methods),
            metric_table(m, "Follow-up: lesion SUVmax bias against the full dose (%)", "suv_max_bias_full", "{:+.1f}",
                         methods, lesion=True, best=lambda v: min(v, key=abs)),
            metric_table(m, "Follow-up: lesion SUVmean bias against the true activity (%)", "suv_mean_bias_true",
                         "{:+.1f}", methods, lesion=True, best=lambda v: min(v, key=abs)),
            metric_table(m, "Follow-up: liver coefficient of variation", "liver_cov", "{:.3f}", methods, best=min)]


def main():
    main_m = Metrics(load(sys.argv[1]))
    spec_m = Metrics(load(sys.argv[2])) if os.path.exists(sys.argv[2]) else None  # not scored yet
    out = ["<!-- Generated by results/benchmark/tables.py from reports/main, reports/specific and reports/followup; do not edit. -->", "",
           "DRFs marked * were never seen in training. Best value per row in bold.", ""]
    methods = [k for k in ["UniPET", "vanilla", "UniPET-noSAN", "UniPET-noRALS", "gaussian", "lowdose"] if k in main_m.methods]
    if all(k in main_m.methods for k in ["UniPET", "vanilla", "UniPET-noSAN", "UniPET-noRALS", "gaussian", "lowdose"]):
        out.append(key_rows(main_m))
    out.append(metric_table(main_m, "PSNR (dB, SUV range 20, body)", "psnr", "{:.2f}", methods))
    unseen = [d for d in main_m.drfs if d not in TRAINED]
    out.append(table("PSNR averaged over DRFs (dB)", ["DRFs"] + methods,
                     average_rows(main_m, "psnr", methods, [("trained (2–100)", TRAINED), ("unseen (3–75)", unseen),
                                                             ("all 11", main_m.drfs)])))
    out.append(metric_table(main_m, "PSNR on images clipped to [0, 20] SUV (dB, body): the network's own scale",
                            "psnr_clipped", "{:.2f}", methods))
    out.append(table("PSNR on clipped images averaged over DRFs (dB)", ["DRFs"] + methods,
                     average_rows(main_m, "psnr_clipped", methods, [("trained (2–100)", TRAINED),
                                                                     ("unseen (3–75)", unseen), ("all 11", main_m.drfs)])))
    out.append(metric_table(main_m, "SSIM (body)", "ssim", "{:.4f}", methods))
    out.append(metric_table(main_m, "NRMSE (body)", "nrmse", "{:.4f}", methods, best=min))
    out.append(metric_table(main_m, "Lesion SUVmax bias against the full dose (%, mean over lesions)",
                            "suv_max_bias_full", "{:+.1f}", methods, lesion=True, best=lambda v: min(v, key=abs)))
    out.append(metric_table(main_m, "Lesion SUVmean bias against the true activity (%, mean over lesions)",
                            "suv_mean_bias_true", "{:+.1f}", methods, lesion=True, best=lambda v: min(v, key=abs)))
    out.append(metric_table(main_m, "Liver coefficient of variation (full dose: see the text)", "liver_cov", "{:.3f}",
                            methods, best=min))
    pairs = [(a, b) for a, b in [("UniPET", "vanilla"), ("UniPET", "gaussian"), ("UniPET", "UniPET-noSAN"),
                                 ("UniPET", "UniPET-noRALS"), ("vanilla", "gaussian")] if a in methods and b in methods]
    out.append(paired_table(main_m, "Paired PSNR differences (dB, mean over the test subjects [95% bootstrap interval])",
                            pairs, "psnr", "{:+.2f}"))
    out.append(paired_table(main_m, "Paired differences of PSNR on clipped images (dB, mean [95% bootstrap interval])",
                            pairs, "psnr_clipped", "{:+.2f}"))
    out.append(paired_table(main_m, "Paired SSIM differences (mean [95% bootstrap interval])", pairs, "ssim", "{:+.4f}"))
    spec_methods = [k for k in ["UniPET", "DRF-4", "DRF-20", "DRF-100", "vanilla", "gaussian", "lowdose"]
                    if spec_m and k in spec_m.methods]
    if spec_m:
        out.append(metric_table(spec_m, "DRF-specific models: PSNR (dB) at the training DRFs", "psnr", "{:.2f}",
                                spec_methods))
        out.append(metric_table(spec_m, "DRF-specific models: PSNR on clipped images (dB) at the training DRFs",
                                "psnr_clipped", "{:.2f}", spec_methods))
        out.append(metric_table(spec_m, "DRF-specific models: SSIM at the training DRFs", "ssim", "{:.4f}", spec_methods))
        out.append(metric_table(spec_m, "DRF-specific models: lesion SUVmax bias against the full dose (%)",
                                "suv_max_bias_full", "{:+.1f}", spec_methods, lesion=True,
                                best=lambda v: min(v, key=abs)))
        out.append(metric_table(spec_m, "DRF-specific models: liver coefficient of variation", "liver_cov", "{:.3f}",
                                spec_methods, best=min))
    rows = []
    for name, drf in [("DRF-4", 4.0), ("DRF-20", 20.0), ("DRF-100", 100.0)]:
        if not spec_m or name not in spec_m.methods:
            continue
        p = paired(spec_m, "UniPET", name, drf, "psnr")
        c = paired(spec_m, "UniPET", name, drf, "psnr_clipped")
        s = paired(spec_m, "UniPET", name, drf, "ssim")
        rows.append([f"{drf:g}", f"{spec_m.mean(name, drf, 'psnr'):.2f}", f"{spec_m.mean('UniPET', drf, 'psnr'):.2f}",
                     f"{p[0]:+.2f} [{p[1]:+.2f}, {p[2]:+.2f}]", f"{c[0]:+.2f} [{c[1]:+.2f}, {c[2]:+.2f}]",
                     f"{s[0]:+.4f} [{s[1]:+.4f}, {s[2]:+.4f}]"])
    if rows:
        out.append(table("UniPET against the DRF-specific model at that model's DRF (mean [95% bootstrap interval])",
                         ["DRF", "DRF-specific PSNR", "UniPET PSNR", "ΔPSNR UniPET − specific", "ΔPSNR clipped",
                          "ΔSSIM"], rows))
    if len(sys.argv) > 5 and os.path.exists(sys.argv[5]):
        out += followup_tables(Metrics(load(sys.argv[5])))
    if len(sys.argv) > 3 and os.path.exists(sys.argv[3]):
        out.append(settings_table(sys.argv[3]))
    if len(sys.argv) > 4:
        out.append(walltime_table(sys.argv[4]))
    print("\n".join(o for o in out if o))


if __name__ == "__main__":
    main()
