"""``report.html`` of ``sharpsplat compare``: one static page, CSS inline, no script, no network.

The page sits at ``OUT/report.html``; its PNGs are linked relative to it (``report/grid_*.png``), so the folder
opens from the file system and can be moved as a whole; with ``embed=True`` they are inlined as data URIs and the
HTML file alone is enough. The SVG plots are always inlined (they are text).
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import quote

__all__ = ["render_report"]

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1400px;
       padding: 0 16px; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; font-family: monospace; }
table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 3px 9px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
td.best { font-weight: bold; background: #eaf6ea; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
img.crops { image-rendering: pixelated; }
.notes li { color: #7a4a00; }
.muted { color: #666; font-size: 0.9em; }
figure { margin: 0 0 1.2em 0; }
svg { max-width: 100%; height: auto; }
iframe.scene3d { width: 100%; height: 560px; border: 1px solid #ddd; }
"""


def _fmt(v: Any, spec: str, none: str = "&ndash;") -> str:
    """``v`` formatted; ``none`` for None (JSON null: PSNR of identical images is infinite, pass "&infin;")."""
    if v is None:
        return none
    if isinstance(v, float) and not math.isfinite(v):
        return "&ndash;"
    return format(v, spec)


def _img_src(rel: str, assets: Mapping[str, bytes], embed: bool) -> str:
    name = rel.split("/", 1)[1] if rel.startswith("report/") else rel
    if embed and name in assets:
        return "data:image/png;base64," + base64.b64encode(assets[name]).decode("ascii")
    return quote(rel)  # file names with spaces, '#' or '?' stay one relative link


def _best(values: list[float | None], higher: bool = True) -> float | None:
    vals = [math.inf if v is None else v for v in values]
    vals = [v for v in vals if not (isinstance(v, float) and math.isnan(v))]
    return (max(vals) if higher else min(vals)) if vals else None


def _cell(v: float | None, spec: str, best: float | None, none: str = "&ndash;") -> str:
    is_best = best is not None and (math.inf if v is None else v) == best
    txt = _fmt(v, spec, none)
    return f'<td class="best">{txt}</td>' if is_best else f"<td>{txt}</td>"


def _summary_table(m: dict[str, Any], colors: Mapping[str, str]) -> str:
    has_gt = m["reference"] == "ground truth"
    rows = m["methods"]
    head = ["Method"] + (["PSNR (dB)", "SSIM"] if has_gt else []) + ["Sharpness (no-ref.)", "Source size", "Downscale"]
    out = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    best_p = _best([r["psnr"] for r in rows.values()]) if has_gt else None
    best_s = _best([r["ssim"] for r in rows.values()]) if has_gt else None
    for name, r in rows.items():
        sw = f'<span class="swatch" style="background:{colors.get(name, "#888")}"></span>'
        cells = [f"<td>{sw}{escape(name)}</td>"]
        if has_gt:
            cells += [_cell(r["psnr"], ".2f", best_p, "&infin;"), _cell(r["ssim"], ".4f", best_s)]
        cells += [f"<td>{_fmt(r['sharpness'], '.3g')}</td>", f"<td>{'x'.join(map(str, r['source_resolution']))}</td>"]
        cells.append(f"<td>&times;{r['downscale']}</td>" if r["downscale"] > 1 else "<td>&ndash;</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    g = m.get("ground_truth")
    if g:
        sz = "x".join(map(str, g["source_resolution"]))
        ds = f"&times;{g['downscale']}" if g.get("downscale", 1) > 1 else "&ndash;"
        out.append(
            "<tr><td>Ground truth</td><td></td><td></td>"
            f"<td>{_fmt(g['sharpness'], '.3g')}</td><td>{sz}</td><td>{ds}</td></tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _per_frame_table(m: dict[str, Any]) -> str:
    has_gt = m["reference"] == "ground truth"
    names = list(m["methods"])
    key, spec = ("psnr", ".2f") if has_gt else ("sharpness", ".3g")
    sub = " PSNR (dB) / SSIM" if has_gt else " sharpness"
    head = "<th>Frame</th>" + "".join(f"<th>{escape(n)}{sub}</th>" for n in names)
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for i, f in enumerate(m["files"]):
        vals = [m["methods"][n]["per_frame"][key][i] for n in names]
        best = _best(vals) if has_gt else None  # sharpness is no quality score: nothing is "best"
        cells = [f"<td>{escape(f)}</td>"]
        for n, v in zip(names, vals):
            txt = _fmt(v, spec, "&infin;" if has_gt else "&ndash;")
            if has_gt:
                txt += f" / {_fmt(m['methods'][n]['per_frame']['ssim'][i], '.3f')}"
            is_best = best is not None and (math.inf if v is None else v) == best
            cells.append(f'<td class="best">{txt}</td>' if is_best else f"<td>{txt}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def render_report(
    metrics: dict[str, Any],
    assets: Mapping[str, bytes],
    *,
    traj_svg: str | None = None,
    train_svg: str | None = None,
    embed: bool = False,
    colors: Mapping[str, str] | None = None,
    scene3d: str | None = None,
) -> str:
    """The HTML page for ``metrics`` (the dict of :func:`reconstruction.evaluation.compare.compare_run`).
    ``assets``: file name in ``report/`` -> bytes (PNG); used for data URIs when ``embed``. ``scene3d``: the
    run's 3D view page, shown in a frame (``report/scene3d.html``; inline when ``embed``)."""
    m = metrics
    colors = colors or {}
    w, h = m["resolution"]
    has_gt = m["reference"] == "ground truth"
    title = escape(m.get("title") or "sharpsplat comparison")
    scale = ", ".join(
        f"{escape(n)} {'x'.join(map(str, r['source_resolution']))}"
        + (f" (&divide;{r['downscale']})" if r["downscale"] > 1 else "")
        for n, r in m["methods"].items()
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>{len(m['files'])} frames compared at <b>{w}&times;{h}</b> pixels (the smallest size among the methods"
        f"{' and the ground truth' if has_gt else ''}; larger frames box-downscaled in linear light by an integer "
        f"factor). Sources: {scale}.</p>",
    ]
    if has_gt:
        parts.append(
            "<p>PSNR and SSIM against the ground-truth sharp frames (sRGB, [0, 1]); best per column in bold. "
            "Sharpness is a no-reference measure (variance of the Laplacian of luma &times;10<sup>3</sup>): more "
            "high-frequency content, which noise and ringing raise too.</p>"
        )
    else:
        parts.append(
            "<p><b>No ground truth:</b> no PSNR or SSIM. The only number is a <b>no-reference sharpness</b> "
            "(variance of the Laplacian of luma &times;10<sup>3</sup>): higher means more high-frequency content, "
            "which noise and ringing raise too, so it is not a quality score; judge with the images.</p>"
        )
    if m.get("notes"):
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in m["notes"]) + "</ul>")
    parts += ["<h2>Summary (mean over frames)</h2>", _summary_table(m, colors)]
    many = len(m["files"]) > 20
    parts.append(f"<details{'' if many else ' open'}><summary>Per frame</summary>{_per_frame_table(m)}</details>")

    if scene3d:
        parts.append("<h2>3D view</h2>")
        parts.append(
            '<p class="muted">The DeblurGS splats with the training cameras (blue, the blurry frame on each) and '
            "each frame's camera motion during the exposure (orange: recovered; grey: true, on synthetic scenes), "
            "magnified 10&times;. Drag to orbit, scroll to zoom, click a camera to look through it; the scene tree "
            "(top right of the view) switches layers: the 3DGS-on-blurry baseline, SfM points, the novel path. It "
            "plays offline (viser's client is inside the page); <code>sharpsplat view RUN</code> has more.</p>"
        )
        frame = 'class="scene3d" title="3D view of the run" loading="lazy"'
        if embed:
            parts.append(f'<iframe {frame} srcdoc="{escape(scene3d, quote=True)}"></iframe>')
        else:
            parts.append(f'<iframe {frame} src="report/scene3d.html"></iframe>')
            parts.append('<p class="muted"><a href="report/scene3d.html">Open the 3D view on its own</a>.</p>')
    if m.get("grids"):
        parts.append("<h2>Frames</h2>")
        parts.append(
            f'<p class="muted">{len(m["grids"])} of {len(m["files"])} frames, evenly spaced. Left to right: '
            + ", ".join(escape(n) for n in m["methods"])
            + (", ground truth" if has_gt else "")
            + ". Coloured boxes: the zoomed windows below each grid (chosen where the methods differ most"
            + (" and the ground truth has most detail" if has_gt else "")
            + "), enlarged without interpolation.</p>"
        )
        for g in m["grids"]:
            src = _img_src(g["grid"], assets, embed)
            parts.append(f"<figure><h3>{escape(g['file'])}</h3>")
            img = f'<img class="grid" src="{escape(src)}" alt="{escape(g["file"])}: all methods side by side">'
            parts.append(img if embed else f'<a href="{escape(src)}">{img}</a>')
            if g.get("crops"):
                csrc = _img_src(g["crops"], assets, embed)
                parts.append(f'<br><img class="crops" src="{escape(csrc)}" alt="{escape(g["file"])}: zoomed crops">')
            parts.append("</figure>")

    if traj_svg:
        t = m.get("trajectories") or {}
        parts.append("<h2>Camera motion during each exposure (DeblurGS)</h2>")
        txt = (
            "Per frame, the path of the image centre during the exposure caused by the recovered camera rotation, "
            "relative to the mid-exposure pose: degrees of view angle, x right, y down (the rotational blur "
            "trace at the image centre; translation, whose effect depends on depth, is not drawn). The dot marks "
            "the start. All panels share one scale."
        )
        if "mean_error_deg" in t:
            txt += (
                " Dashed: the true path, drawn in the time direction that fits better (a blur looks the same "
                f"played backwards). Mean distance between them: {t['mean_error_deg']:.3f}&deg;; mean path length "
                f"{t['mean_length_deg']:.3f}&deg; recovered vs {t['mean_true_length_deg']:.3f}&deg; true."
            )
        else:
            txt += f" Mean path length {t.get('mean_length_deg', 0):.3f}&deg;."
        parts.append(f'<p class="muted">{txt}</p>')
        parts.append(f"<div>{traj_svg}</div>")
    if train_svg:
        parts.append("<h2>Training curves</h2>")
        parts.append('<p class="muted">PSNR of the renders against the training (blurry) frames, and the loss.</p>')
        parts.append(f"<div>{train_svg}</div>")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    parts.append(
        f'<p class="muted">Made by <code>sharpsplat compare</code> on {stamp}. Numbers: '
        '<a href="report/metrics.json">report/metrics.json</a>.'
        + (" Images embedded in this file." if embed else " Images in report/ beside this file.")
        + "</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
