"""What the benchmark's table scripts read from an evaluate report's metrics.csv, and their
bootstrap (standard library only; imported by paired_tables.py, blend_tuning_tables.py and
blend_limit_tables.py)."""
import csv
import math
import random


def body_psnr(path):
    """{(subject, drf, method): PSNR} over the body, from one metrics.csv; refuses a NaN."""
    psnr = {(r["subject"], float(r["drf"]), r["method"]): float(r["psnr"])
            for r in csv.DictReader(open(path)) if r["region"] == "body"}
    assert not any(math.isnan(v) for v in psnr.values()), f"{path}: a PSNR is NaN"
    return psnr


def lesion_suvmax_bias(path):
    """{(drf, method): [SUVmax bias against the full dose, per lesion]} from one metrics.csv."""
    bias = {}
    for r in csv.DictReader(open(path)):
        if r["region"].startswith("lesion") and r["suv_max_bias_full"] not in ("", "nan"):
            bias.setdefault((float(r["drf"]), r["method"]), []).append(float(r["suv_max_bias_full"]))
    return bias


def bootstrap(seed=1):
    """A function giving the 95% percentile interval of a list's mean (10000 resamples), all
    calls drawing from one generator seeded once, so a table's intervals are reproducible."""
    rng = random.Random(seed)

    def interval(d):
        means = sorted(sum(rng.choice(d) for _ in d) / len(d) for _ in range(10000))
        return means[249], means[9749]

    return interval


def load(path):
    """(body PSNR, lesion SUVmax biases, sorted subjects, sorted DRFs) of one metrics.csv."""
    psnr = body_psnr(path)
    return psnr, lesion_suvmax_bias(path), sorted({s for s, _, _ in psnr}), sorted({d for _, d, _ in psnr})


def mean_bias_text(bias, drf, method):
    """The mean lesion SUVmax bias of `method` at `drf` as "+1.2%", or "–" with no lesion."""
    b = bias.get((drf, method), [])
    return f"{100 * sum(b) / len(b):+.1f}%" if b else "–"
