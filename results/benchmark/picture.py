#!/usr/bin/python3
"""A PNG of some of an HTML report's pictures side by side, for the README and docs/results.md.

Usage: picture.py REPORT/index.html OUT.png "caption 1" "caption 2" ... [--columns N] [--width PX] [--title T]

Each caption selects the report's first figure whose caption contains it; the figures are laid
out in rows of N (default: all in one row) under their captions and rendered with headless
chromium (Debian's `chromium`), so the PNG shows exactly what the report shows.
"""
import base64
import html
import os
import re
import subprocess
import sys
import tempfile


def figures(page):
    """(markup, caption) of each figure: the report writes <figure><img src="data:..."> or an
    inline <svg>...</svg>, then <figcaption>text</figcaption></figure>."""
    pattern = re.compile(r'<figure>\s*(<img[^>]*>|<svg.*?</svg>)\s*<figcaption>([^<]*)</figcaption>', re.S)
    return [(markup, html.unescape(caption)) for markup, caption in pattern.findall(page)]


def shown_height(markup, width):
    """Height in px of a figure shown `width` px wide: from a PNG's IHDR chunk or an SVG's viewBox."""
    if markup.startswith("<svg"):
        box = re.search(r'viewBox="([-\d.]+) ([-\d.]+) ([\d.]+) ([\d.]+)"', markup)
        return float(box.group(4)) * width / float(box.group(3))
    src = re.search(r'src="data:image/png;base64,([^"]+)"', markup).group(1)
    png = base64.b64decode(src[:64] + "==")
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return h * width / w


def main():
    args = sys.argv[1:]
    columns, title, width = None, "", 300
    if "--columns" in args:
        i = args.index("--columns")
        columns = int(args[i + 1])
        del args[i:i + 2]
    if "--width" in args:
        i = args.index("--width")
        width = int(args[i + 1])
        del args[i:i + 2]
    if "--title" in args:
        i = args.index("--title")
        title = args[i + 1]
        del args[i:i + 2]
    report, out, wanted = args[0], args[1], args[2:]
    found = figures(open(report).read())
    chosen = []
    for text in wanted:
        match = next((f for f in found if text in f[1]), None)
        if match is None:
            sys.exit(f"{report}: no figure whose caption contains '{text}' (captions: {[c for _, c in found]})")
        chosen.append(match)
    columns = columns or len(chosen)
    cells = "".join(f'<figure>{markup}<figcaption>{html.escape(caption)}</figcaption></figure>'
                    for markup, caption in chosen)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 8px; background: white; font: 13px sans-serif; }}
h1 {{ font-size: 15px; margin: 0 0 6px 0; }}
.grid {{ display: grid; grid-template-columns: repeat({columns}, max-content); gap: 6px; }}
figure {{ margin: 0; width: {width}px; }} img, svg {{ display: block; width: {width}px; height: auto; }}
figcaption {{ margin-top: 2px; }}
</style></head><body>{f"<h1>{html.escape(title)}</h1>" if title else ""}<div class="grid">{cells}</div></body></html>"""
    rows = (len(chosen) + columns - 1) // columns
    with tempfile.TemporaryDirectory() as tmp:
        page_path = os.path.join(tmp, "picture.html")
        with open(page_path, "w") as f:
            f.write(page)
        # Columns of `width` px figures; each row as tall as its tallest figure plus a caption line.
        page_width = 16 + columns * (width + 6)
        height = (30 if title else 8) + 8 + round(sum(
            max(shown_height(m, width) for m, _ in chosen[r * columns:(r + 1) * columns]) + 42 for r in range(rows)))
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={page_width},{height}", f"--screenshot={os.path.abspath(out)}",
                        "file://" + page_path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
