#!/usr/bin/python3
"""Validation curves of training runs as one SVG: for each run, the validation PSNR gain over the
low-dose input (dB) per DRF against the step, from the run's log.jsonl (the lines with
"validation"). A curve still rising at its last point is a run that has not converged.

Usage: curves.py OUT.svg RUN_DIR [RUN_DIR ...]    (a RUN_DIR holds log.jsonl; its name is the title)
"""
import html
import json
import os
import sys

PANEL_W, PANEL_H, MARGIN = 360, 270, 48
COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]


def curves(log_path):
    """{drf: [(step, gain_db), ...]} from the validation lines of a log."""
    out = {}
    with open(log_path) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            v = entry.get("validation")
            if not v:
                continue
            for drf, psnr in v["psnr"].items():
                out.setdefault(drf, []).append((entry["step"], psnr - v["input"]["psnr"][drf]))
    return {drf: sorted(points) for drf, points in out.items()}


def panel(x0, title, data, lo, hi, max_step):
    parts = [f'<text x="{x0 + PANEL_W / 2}" y="18" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>']
    left, top, w, h = x0 + MARGIN, 30, PANEL_W - MARGIN - 10, PANEL_H - 95
    sx = lambda step: left + w * step / max_step
    sy = lambda gain: top + h * (hi - gain) / (hi - lo)
    parts.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    tick = 1 if hi - lo <= 8 else 2
    g = tick * int(lo / tick)
    while g <= hi:
        if g >= lo:
            parts.append(f'<line x1="{left}" x2="{left + w}" y1="{sy(g):.1f}" y2="{sy(g):.1f}" stroke="{"#444" if g == 0 else "#ddd"}"/>')
            parts.append(f'<text x="{left - 4}" y="{sy(g) + 4:.1f}" text-anchor="end" font-size="11">{g:+d}</text>')
        g += tick
    parts.append(f'<text x="{left + w / 2}" y="{top + h + 30}" text-anchor="middle" font-size="11">step (max {max_step})</text>')
    for i, drf in enumerate(sorted(data, key=float)):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{sx(s):.1f},{sy(g):.1f}" for s, g in data[drf])
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        last_s, last_g = data[drf][-1]
        parts.append(f'<text x="{sx(last_s) + 2:.1f}" y="{sy(last_g) + 4:.1f}" font-size="10" fill="{colour}">{drf}</text>')
    return parts


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    runs = [(os.path.basename(os.path.normpath(d)), curves(os.path.join(d, "log.jsonl"))) for d in argv[2:]]
    runs = [(name, data) for name, data in runs if data]
    if not runs:
        sys.exit("curves.py: no validation lines in the logs given")
    gains = [g for _, data in runs for points in data.values() for _, g in points]
    lo, hi = min(0, int(min(gains)) - 1), int(max(gains)) + 1
    max_step = max(s for _, data in runs for points in data.values() for s, _ in points)
    width = PANEL_W * len(runs)
    body = []
    for k, (name, data) in enumerate(runs):
        body += panel(k * PANEL_W, name, data, lo, hi, max_step)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {PANEL_H}" width="{width}" height="{PANEL_H}" '
           f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>'
           f'<text x="4" y="{PANEL_H - 6}" font-size="11">validation PSNR gain over the low-dose input (dB), per DRF</text>'
           + "".join(body) + "</svg>\n")
    tmp = argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(svg)
    os.replace(tmp, argv[1])


if __name__ == "__main__":
    main(sys.argv)
