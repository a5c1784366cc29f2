"""Small dependency-free SVG plots for reports: line plots with axes and legends, and small multiples of 2-D paths.

Every function returns an SVG document as a string (``xmlns`` set, so it is valid XML on its own and can also be
inlined in HTML). Each data series is exactly one ``<polyline>`` (legends and axes use ``<line>``/``<rect>``), so
a reader can count series. Non-finite points are dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

import numpy as np

__all__ = ["PALETTE", "Series", "Path2D", "Panel", "nice_ticks", "line_plot", "path_panels", "hstack", "color_for"]

#: Colour-blind-friendly categorical palette (Okabe-Ito, black last).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def color_for(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass
class Series:
    """One line of a :func:`line_plot`."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = "#0072B2"
    dashed: bool = False


@dataclass
class Path2D:
    """One path of a :class:`Panel`: points ``[N, 2]`` (x right, y down, data units); a dot marks the start."""

    points: np.ndarray
    color: str = "#0072B2"
    dashed: bool = False
    label: str = ""


@dataclass
class Panel:
    title: str
    paths: list[Path2D] = field(default_factory=list)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2, 5 x 10^k steps) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    mag = 10.0 ** math.floor(math.log10((hi - lo) / max(n, 1)))

    def count(step: float) -> int:
        return math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1

    step = min((m * mag for m in (1, 2, 5, 10)), key=lambda st: abs(count(st) - n))
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 * step:
        ticks.append(round(v / step) * step)
        v += step
    return ticks


def _svg_open(width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
    ]


def _points_attr(px: np.ndarray, py: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py))


def line_plot(
    series: Sequence[Series],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    width: int = 460,
    height: int = 300,
    log_y: bool = False,
) -> str:
    """A line plot of ``series`` with ticks, axis labels and a legend. ``log_y``: logarithmic y axis (only
    positive values are drawn)."""
    left, right, top, bottom = 58, 12, 26 if title else 10, 40
    legend_h = 15 * len(series)
    pw, ph = width - left - right, height - top - bottom
    clean = []
    for s in series:
        x = np.asarray(s.xs, np.float64)
        y = np.asarray(s.ys, np.float64)
        ok = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
        clean.append((s, x[ok], np.log10(y[ok]) if log_y else y[ok]))
    allx = np.concatenate([c[1] for c in clean]) if clean else np.zeros(0)
    ally = np.concatenate([c[2] for c in clean]) if clean else np.zeros(0)
    out = _svg_open(width, height + legend_h)
    if title:
        out.append(f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    if allx.size:
        x0, x1 = float(allx.min()), float(allx.max())
        y0, y1 = float(ally.min()), float(ally.max())
        if x1 == x0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if y1 == y0:
            y0, y1 = y0 - 0.5, y1 + 0.5
        pad = 0.05 * (y1 - y0)
        y0, y1 = y0 - pad, y1 + pad

        def sx(v):
            return left + (np.asarray(v) - x0) / (x1 - x0) * pw

        def sy(v):
            return top + ph - (np.asarray(v) - y0) / (y1 - y0) * ph

        for t in nice_ticks(x0, x1):
            X = float(sx(t))
            out.append(f'<line x1="{X:.1f}" y1="{top + ph}" x2="{X:.1f}" y2="{top + ph + 4}" stroke="#888"/>')
            out.append(f'<text x="{X:.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
        if log_y:
            yt = [float(k) for k in range(math.ceil(y0), math.floor(y1) + 1)] or nice_ticks(y0, y1)
        else:
            yt = nice_ticks(y0, y1)
        for t in yt:
            Y = float(sy(t))
            lab = _fmt(10.0**t) if log_y else _fmt(t)
            out.append(f'<line x1="{left}" y1="{Y:.1f}" x2="{left + pw}" y2="{Y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 4}" y="{Y + 4:.1f}" text-anchor="end">{lab}</text>')
        for s, x, y in clean:
            dash = ' stroke-dasharray="5,3"' if s.dashed else ""
            out.append(
                f'<polyline fill="none" stroke="{s.color}" stroke-width="1.6"{dash} '
                f'points="{_points_attr(sx(x), sy(y))}"><title>{escape(s.name)}</title></polyline>'
            )
    else:
        out.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph / 2:.0f}" text-anchor="middle">no data</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph + 32}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(
        f'<text x="14" y="{top + ph / 2:.0f}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2:.0f})">'
        f"{escape(ylabel + (' (log scale)' if log_y else ''))}</text>"
    )
    for i, (s, _, _) in enumerate(clean):
        Y = height + 15 * i + 4
        dash = ' stroke-dasharray="5,3"' if s.dashed else ""
        out.append(f'<line x1="{left}" y1="{Y}" x2="{left + 22}" y2="{Y}" stroke="{s.color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + 28}" y="{Y + 4}">{escape(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def path_panels(
    panels: Sequence[Panel],
    *,
    half_range: float | None = None,
    unit: str = "",
    panel_size: int = 120,
    cols: int = 8,
    legend: Sequence[tuple[str, str, bool]] = (),
) -> str:
    """Small multiples: one square panel per :class:`Panel`, all with the same scale (data ``[-half_range,
    half_range]`` on both axes around 0, y down; default: the largest coordinate over all panels). A
    cross marks the origin, a dot each path's start. ``legend``: ``(label, colour, dashed)`` entries."""
    if half_range is None:
        m = [np.nanmax(np.abs(p.points)) for pan in panels for p in pan.paths if np.size(p.points)]
        m = [v for v in m if np.isfinite(v)]
        half_range = max(m) * 1.1 if m and max(m) > 0 else 1.0
    cols = max(1, min(cols, len(panels) or 1))
    rows = max(1, math.ceil(len(panels) / cols))
    title_h, gap = 14, 6
    legend_h = 36  # two lines: the entries, then the scale
    note = f"each panel spans \u00b1{_fmt(half_range)} {unit} around the origin (+)".strip()
    entries_w = sum(34 + 7 * len(label) for label, _, _ in legend)
    width = max(cols * (panel_size + gap) + gap, entries_w + 2 * gap, 7 * len(note) + 2 * gap)
    height = rows * (panel_size + title_h + gap) + gap + legend_h
    out = _svg_open(width, height)
    scale = (panel_size / 2 - 4) / half_range
    for k, pan in enumerate(panels):
        r, c = divmod(k, cols)
        x0 = gap + c * (panel_size + gap)
        y0 = gap + r * (panel_size + title_h + gap) + title_h
        cx, cy = x0 + panel_size / 2, y0 + panel_size / 2
        out.append(f'<g><text x="{cx:.0f}" y="{y0 - 3}" text-anchor="middle" font-size="10">{escape(pan.title)}</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{panel_size}" height="{panel_size}" fill="#fafafa" stroke="#bbb"/>')
        out.append(f'<line x1="{cx - 4:.1f}" y1="{cy:.1f}" x2="{cx + 4:.1f}" y2="{cy:.1f}" stroke="#999"/>')
        out.append(f'<line x1="{cx:.1f}" y1="{cy - 4:.1f}" x2="{cx:.1f}" y2="{cy + 4:.1f}" stroke="#999"/>')
        for p in pan.paths:
            pts = np.asarray(p.points, np.float64).reshape(-1, 2)
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            if not len(pts):
                continue
            px, py = cx + pts[:, 0] * scale, cy + pts[:, 1] * scale
            dash = ' stroke-dasharray="3,2"' if p.dashed else ""
            tip = f"<title>{escape(p.label)}</title>" if p.label else ""
            out.append(
                f'<polyline fill="none" stroke="{p.color}" stroke-width="1.5"{dash} '
                f'points="{_points_attr(px, py)}">{tip}</polyline>'
            )
            out.append(f'<circle cx="{px[0]:.1f}" cy="{py[0]:.1f}" r="2.2" fill="{p.color}"/>')
        out.append("</g>")
    ly = height - legend_h + 10
    x = gap
    for label, color, dashed in legend:
        dash = ' stroke-dasharray="3,2"' if dashed else ""
        out.append(f'<line x1="{x}" y1="{ly}" x2="{x + 20}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 24}" y="{ly + 4}">{escape(label)}</text>')
        x += 34 + 7 * len(label)
    out.append(f'<text x="{gap}" y="{ly + 22}" fill="#555">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _size(doc: str) -> tuple[int, int]:
    w = re.search(r'width="(\d+)"', doc)
    h = re.search(r'height="(\d+)"', doc)
    if not (w and h):
        raise ValueError("hstack: every document needs integer width and height")
    return int(w.group(1)), int(h.group(1))


def hstack(docs: Sequence[str]) -> str:
    """Place SVG documents (from this module) side by side in one document (nested ``<svg>`` elements)."""
    sizes = [_size(d) for d in docs]
    out = _svg_open(sum(w for w, _ in sizes), max(h for _, h in sizes))
    x = 0
    for d, (w, _) in zip(docs, sizes):
        out.append(d.replace("<svg ", f'<svg x="{x}" y="0" ', 1))
        x += w
    out.append("</svg>")
    return "\n".join(out)
