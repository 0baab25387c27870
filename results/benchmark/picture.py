#!/usr/bin/python3
"""A PNG of some of an HTML report's pictures side by side, for the README and docs/results.md.

Usage: picture.py REPORT/index.html OUT.png "caption 1" "caption 2" ... [--columns N] [--title T]

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
    # The report writes <figure><img src="data:..."><figcaption>text</figcaption></figure>.
    pattern = re.compile(r'<figure>\s*<img[^>]*src="(data:image/png;base64,[^"]+)"[^>]*>\s*<figcaption>([^<]*)</figcaption>', re.S)
    return [(src, html.unescape(caption)) for src, caption in pattern.findall(page)]


def shown_height(src, width=300):
    """Height in px of a data-URI PNG shown `width` px wide (from its IHDR chunk)."""
    png = base64.b64decode(src.split(",", 1)[1][:64] + "==")
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return h * width / w


def main():
    args = sys.argv[1:]
    columns, title = None, ""
    if "--columns" in args:
        i = args.index("--columns")
        columns = int(args[i + 1])
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
    cells = "".join(f'<figure><img src="{src}"><figcaption>{html.escape(caption)}</figcaption></figure>'
                    for src, caption in chosen)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 8px; background: white; font: 13px sans-serif; }}
h1 {{ font-size: 15px; margin: 0 0 6px 0; }}
.grid {{ display: grid; grid-template-columns: repeat({columns}, max-content); gap: 6px; }}
figure {{ margin: 0; }} img {{ display: block; width: 300px; }} figcaption {{ margin-top: 2px; }}
</style></head><body>{f"<h1>{html.escape(title)}</h1>" if title else ""}<div class="grid">{cells}</div></body></html>"""
    rows = (len(chosen) + columns - 1) // columns
    with tempfile.TemporaryDirectory() as tmp:
        page_path = os.path.join(tmp, "picture.html")
        with open(page_path, "w") as f:
            f.write(page)
        # Columns of 300 px images; each row as tall as its tallest image plus a caption line.
        width = 16 + columns * 306
        height = (30 if title else 8) + 8 + round(sum(
            max(shown_height(src) for src, _ in chosen[r * columns:(r + 1) * columns]) + 26 for r in range(rows)))
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={width},{height}", f"--screenshot={os.path.abspath(out)}",
                        "file://" + page_path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
