"""Training curves of the comparison: PSNR and loss against step per method, from the trainers' JSON-lines logs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .compare_spec import resolve_path

__all__ = ["read_train_log", "training_svg"]


def read_train_log(path: Path) -> dict[str, list[float]]:
    """JSON lines ``{"step", "loss", "psnr", ...}`` -> ``{"step": [...], "loss": [...], "psnr": [...]}`` (missing
    values as NaN; unreadable lines, e.g. a line being written, skipped)."""
    cols: dict[str, list[float]] = {"step": [], "loss": [], "psnr": []}
    for line in Path(path).read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(rec, dict) or "step" not in rec:
            continue
        for k in cols:
            v = rec.get(k)
            cols[k].append(float(v) if isinstance(v, int | float) else math.nan)
    return cols


def training_svg(base: Path, spec: dict[str, Any], colors: dict[str, str], notes: list[str]) -> str | None:
    from .plots import Series, color_for, hstack, line_plot

    logs = spec.get("train_logs") or {}
    psnr_s, loss_s = [], []
    for i, (name, f) in enumerate(logs.items()):
        p = resolve_path(base, f)
        if not p.is_file():
            notes.append(f"training log of {name} ({p}) not found; no curve")
            continue
        cols = read_train_log(p)
        if not cols["step"]:
            notes.append(f"training log of {name} ({p}) has no records")
            continue
        c = colors.get(name, color_for(len(colors) + i))
        psnr_s.append(Series(name, cols["step"], cols["psnr"], c))
        loss_s.append(Series(name, cols["step"], cols["loss"], c))
    if not psnr_s:
        return None
    a = line_plot(psnr_s, title="Training PSNR (on the blurry inputs)", xlabel="step", ylabel="PSNR (dB)")
    losses = np.concatenate([np.asarray(s.ys, float) for s in loss_s])
    losses = losses[np.isfinite(losses)]
    log_y = bool(losses.size and losses.min() > 0 and losses.max() / losses.min() > 20)
    b = line_plot(loss_s, title="Training loss", xlabel="step", ylabel="loss", log_y=log_y)
    return hstack([a, b])
