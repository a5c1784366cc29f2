"""The in-exposure camera paths of the comparison: per frame, the recovered rotation as the path of the image
centre (degrees of view angle, x right, y down, relative to the mid-exposure pose), the true one dashed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from deblur2d.io.errors import UserError

from .compare_spec import resolve_path

__all__ = ["MAX_TRAJ_PANELS", "image_plane_path", "trajectory_section"]

MAX_TRAJ_PANELS = 60


def image_plane_path(c2w_sub: np.ndarray, c2w_mid: np.ndarray) -> np.ndarray:
    """Rotation-only path of the image centre during the exposure: for each pose of ``c2w_sub [S, 4, 4]``, the
    direction (degrees of view angle; x right, y down) at which that pose sees the scene point on the optical
    axis of ``c2w_mid``. This is the rotational blur trace at the image centre; it depends only on the rotation
    relative to the mid pose, so it is the same in any world frame. ``[S, 2]``."""
    sub = np.asarray(c2w_sub, np.float64).reshape(-1, 4, 4)
    r_mid = np.asarray(c2w_mid, np.float64).reshape(4, 4)[:3, :3]
    rel = np.swapaxes(sub[:, :3, :3], -1, -2) @ r_mid  # sub-from-mid rotation (camera frames)
    d = rel[:, :, 2]  # mid's optical axis seen from each sub-frame camera
    return np.degrees(np.stack([np.arctan2(d[:, 0], d[:, 2]), np.arctan2(d[:, 1], d[:, 2])], axis=1))


def _path_length(p: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0


def _frames_by_file(obj: dict, files: list[str], what: str, notes: list[str]) -> dict[str, dict]:
    frames = obj.get("frames") or []
    names = obj.get("files") or [f.get("file") for f in frames]
    if names and all(isinstance(n, str) for n in names) and len(names) == len(frames):
        return dict(zip(names, frames))
    if len(frames) == len(files):
        return dict(zip(files, frames))
    notes.append(f"{what}: {len(frames)} frames for {len(files)} files and no file names; not drawn")
    return {}


def trajectory_section(
    base: Path, spec: dict[str, Any], files: list[str], notes: list[str]
) -> tuple[str | None, dict[str, Any] | None]:
    """(SVG small multiples, summary) of the estimated (and true) in-exposure paths; (None, None) without them."""
    from .plots import Panel, Path2D, path_panels

    est_file = spec.get("trajectories")
    if not est_file:
        return None, None
    est_path = resolve_path(base, est_file)
    if not est_path.is_file():
        notes.append(f"trajectories {est_path} not found; no trajectory plot")
        return None, None
    try:
        est = _frames_by_file(json.loads(est_path.read_text()), files, str(est_path), notes)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise UserError(f"{est_path}: not a trajectories JSON ({e})") from None
    true: dict[str, dict] = {}
    if spec.get("true_trajectories"):
        tp = resolve_path(base, spec["true_trajectories"])
        if tp.is_file():
            try:
                true = _frames_by_file(json.loads(tp.read_text()), files, str(tp), notes)
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
                raise UserError(f"{tp}: not a cameras JSON ({e})") from None
        else:
            notes.append(f"true trajectories {tp} not found; only the estimates are drawn")
    shown = [f for f in files if f in est]
    if not shown:
        return None, None
    if len(shown) > MAX_TRAJ_PANELS:
        idx = np.unique(np.rint(np.linspace(0, len(shown) - 1, MAX_TRAJ_PANELS)).astype(int))
        notes.append(f"trajectory plot shows {len(idx)} of {len(shown)} frames, evenly spaced")
        shown = [shown[i] for i in idx]
    panels, per_frame = [], []
    for name in shown:
        fr = est[name]
        try:
            if "c2w_samples" in fr:
                sub = np.asarray(fr["c2w_samples"], np.float64)
                t = np.linspace(0.0, 1.0, len(sub))
            else:
                sub = np.asarray(fr["c2w_sub"], np.float64)
                t = np.asarray(fr.get("positions") or np.linspace(0.0, 1.0, len(sub)), np.float64)
            mid = np.asarray(fr.get("c2w_mid", sub[len(sub) // 2]), np.float64)
            p_est = image_plane_path(sub, mid)
        except (KeyError, ValueError, TypeError) as e:
            raise UserError(f"{est_path}: frame {name}: needs c2w_sub [S x 4x4] and c2w_mid ({e})") from None
        paths = [Path2D(p_est, "#D55E00", False, "DeblurGS estimate")]
        row: dict[str, Any] = {"file": name, "length_deg": _path_length(p_est)}
        if name in true and "c2w_sub" in true[name]:
            tsub = np.asarray(true[name]["c2w_sub"], np.float64)
            tmid = np.asarray(true[name].get("c2w_mid", tsub[len(tsub) // 2]), np.float64)
            p_true = image_plane_path(tsub, tmid)
            tt = np.linspace(0.0, 1.0, len(p_true))
            errs = []
            for tq in (t, 1.0 - t):  # a blur does not tell the direction of time: take the better one
                q = np.stack([np.interp(tq, tt, p_true[:, 0]), np.interp(tq, tt, p_true[:, 1])], axis=1)
                errs.append(float(np.linalg.norm(q - p_est, axis=1).mean()))
            rev = errs[1] < errs[0]
            paths.append(Path2D(p_true[::-1] if rev else p_true, "#333333", True, "true"))
            row.update(true_length_deg=_path_length(p_true), error_deg=min(errs), reversed=bool(rev))
        panels.append(Panel(name, paths))
        per_frame.append(row)
    legend = [("estimate (dot: start)", "#D55E00", False)] + ([("true", "#333333", True)] if true else [])
    svg = path_panels(panels, unit="deg", legend=legend, panel_size=160 if len(panels) <= 8 else 120)
    summary: dict[str, Any] = {
        "frames": per_frame,
        "mean_length_deg": float(np.mean([r["length_deg"] for r in per_frame])),
    }
    errs = [r["error_deg"] for r in per_frame if "error_deg" in r]
    if errs:
        summary["mean_error_deg"] = float(np.mean(errs))
        summary["mean_true_length_deg"] = float(np.mean([r["true_length_deg"] for r in per_frame if "error_deg" in r]))
    return svg, summary
