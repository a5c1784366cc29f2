"""``sharpsplat compare``: blurry input vs MIMO-UNet vs 3DGS-on-blurry vs DeblurGS, frame by frame; metrics and report.

Input: a spec (``RUN/compare.json``, written by the pipeline, or built from ``--method NAME=DIR`` flags)::

    {"files": [names in order], "methods": {name: dir}, "ground_truth": dir | null,
     "trajectories": file | null, "true_trajectories": file | null, "train_logs": {name: file}, "title", "notes"}

Paths are relative to the run folder (or absolute). A method whose folder is missing or lacks any frame is left
out with a note; it is an error only when no method is left. Every image is brought to the comparison
resolution, the smallest among the methods and the ground truth, by box-downscaling in linear light by an
integer factor (:func:`reconstruction.deblurgs.data.downscale_image`, which crops to a multiple of the factor).

Output, every file written atomically; the folder ``OUT/report/`` is replaced whole:

- ``OUT/report/metrics.json``: per method and frame PSNR (dB) and SSIM against the ground truth (when there is
  one) and a no-reference sharpness (variance of the Laplacian of luma, x 1e3; higher = more high-frequency
  content, which noise and ringing raise too), means, crop windows, trajectory summary, notes, and the means as a
  markdown table (``table_markdown``, as printed by the CLI);
- ``OUT/report/grid_<frame>.png`` (all methods side by side, labelled with their PSNR, crop windows outlined)
  and ``OUT/report/crops_<frame>.png`` (the same windows of every method, nearest-neighbour enlarged) for up to
  ``max_grid_frames`` evenly spaced frames;
- ``OUT/report/trajectories.svg``: per frame, the recovered in-exposure rotation as the path of the image centre
  (degrees of view angle, x right, y down, relative to the mid-exposure pose), the true one dashed;
- ``OUT/report/training.svg``: PSNR and loss vs step per method;
- ``OUT/report.html``: the page; images are linked beside it (``report/...``, relative) unless ``embed``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro

from deblur2d.errors import UserError
from reconstruction.image_files import list_images

__all__ = [
    "CompareArgs",
    "compare_run",
    "comparison_size",
    "sharpness",
    "choose_crops",
    "image_plane_path",
    "read_train_log",
    "markdown_table",
    "spec_from_flags",
    "main",
]

GRID_TILE_MIN = 256  # tiles narrower than this (px) are enlarged (nearest neighbour) in the grid PNGs
CROP_DISPLAY = 224  # crops are enlarged to about this many pixels
MAX_TRAJ_PANELS = 60


def _log(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def _resolve(base: Path, p: str | Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else base / p


# ----------------------------------------------------------------------------------------------- inputs


def load_spec(run: Path | None, spec_path: Path | None) -> dict[str, Any]:
    """Read a compare spec (default ``RUN/compare.json``); UserError naming the file when absent or invalid."""
    path = spec_path or (run / "compare.json" if run is not None else None)
    if path is None:
        raise UserError("give a RUN folder, --spec FILE or --method NAME=DIR flags")
    if not path.is_file():
        raise UserError(f"{path}: not found; pass --spec FILE or --method NAME=DIR (with --out DIR)")
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(spec, dict):
        raise UserError(f"{path}: expected a JSON object with 'methods'")
    return spec


def spec_from_flags(
    methods: list[str],
    gt: Path | None = None,
    trajectories: Path | None = None,
    true_trajectories: Path | None = None,
    train_logs: list[str] = (),
    title: str = "",
) -> dict[str, Any]:
    """A spec from ``NAME=DIR`` strings (paths made absolute, so they hold for any run folder)."""

    def pairs(items: list[str], flag: str) -> dict[str, str]:
        out = {}
        for item in items:
            name, sep, path = item.partition("=")
            if not sep or not name.strip() or not path.strip():
                raise UserError(f"{flag} {item!r}: expected NAME=PATH, e.g. {flag} 'DeblurGS=runs/a/deblurred'")
            out[name.strip()] = str(Path(path.strip()).resolve())
        return out

    spec: dict[str, Any] = {"methods": pairs(methods, "--method")}
    spec["ground_truth"] = str(gt.resolve()) if gt else None
    spec["trajectories"] = str(trajectories.resolve()) if trajectories else None
    spec["true_trajectories"] = str(true_trajectories.resolve()) if true_trajectories else None
    spec["train_logs"] = pairs(train_logs, "--train-log")
    if title:
        spec["title"] = title
    return spec


def _resolve_inputs(base: Path, spec: dict[str, Any]) -> tuple[list[str], dict[str, Path], Path | None, list[str]]:
    """(files, usable methods, ground-truth folder, notes). Methods with a missing folder or frame are left out."""
    methods_in = spec.get("methods") or {}
    if not isinstance(methods_in, dict) or not methods_in:
        raise UserError("no methods to compare: the spec's 'methods' is empty; give --method NAME=DIR")
    gt = spec.get("ground_truth")
    gt_dir = _resolve(base, gt) if gt else None
    if gt_dir is not None and not gt_dir.is_dir():
        raise UserError(f"ground truth {gt_dir}: not a folder; fix --gt (or 'ground_truth' in the spec) or drop it")
    files = spec.get("files")
    if files is None:  # from flags: the frames of the ground truth, else of the first method folder that exists
        src = gt_dir or next((d for d in (_resolve(base, v) for v in methods_in.values()) if d.is_dir()), None)
        files = list_images(src) if src is not None else []
        if src is not None and not files:
            raise UserError(f"{src}: no images (.png, .jpg, ...) to compare")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise UserError("spec 'files': expected a list of file names")
    notes: list[str] = []
    methods: dict[str, Path] = {}
    for name, d in methods_in.items():
        if not isinstance(d, str) or not d:
            raise UserError(f"method {name!r}: expected a folder path, got {d!r}")
        if name.strip().lower() in ("ground truth", "gt"):
            raise UserError(f"method name {name!r} is reserved; give the ground truth with --gt / 'ground_truth'")
        folder = _resolve(base, d)
        if not folder.is_dir():
            notes.append(f"{name} left out: folder {folder} not found")
            continue
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            notes.append(f"{name} left out: {folder} lacks {len(missing)} of {len(files)} frames (e.g. {missing[0]})")
            continue
        methods[name] = folder
    if not methods:
        raise UserError("nothing to compare: " + "; ".join(notes))
    if not files:
        raise UserError("no frames to compare: the spec's 'files' is empty")
    if gt_dir is not None:
        missing = [f for f in files if not (gt_dir / f).is_file()]
        if missing:
            raise UserError(f"ground truth {gt_dir}: lacks {len(missing)} of {len(files)} frames (e.g. {missing[0]})")
    return files, methods, gt_dir, notes


# ----------------------------------------------------------------------------------------------- images


def comparison_size(sizes: dict[str, tuple[int, int]], where: str = "") -> tuple[tuple[int, int], dict[str, int]]:
    """Smallest ``(h, w)`` among ``sizes`` and each entry's integer downscale factor to it (``h // f == H`` and
    ``w // f == W``, as :func:`downscale_image` crops). UserError for a non-integer ratio."""
    target = min(sizes.values(), key=lambda s: (s[0] * s[1], s))
    th, tw = target
    factors = {}
    for name, (h, w) in sizes.items():
        f = max(1, h // th)
        if h // f != th or w // f != tw or w // tw != f:
            raise UserError(
                f"{name}{' ' + where if where else ''}: {w}x{h} is not an integer multiple of {tw}x{th} (the smallest "
                "size among methods and ground truth); give frames whose sizes differ by an integer factor"
            )
        factors[name] = f
    return target, factors


def _luma(img: np.ndarray) -> np.ndarray:
    return (img[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def sharpness(img: np.ndarray) -> float:
    """No-reference sharpness: variance of the 3x3 Laplacian of luma (sRGB values in [0, 1]) x 1000."""
    import cv2

    lap = cv2.Laplacian(_luma(img), cv2.CV_32F, ksize=1)
    return float(np.var(lap[1:-1, 1:-1]) * 1e3) if lap.shape[0] > 2 and lap.shape[1] > 2 else 0.0


def _box_sums(m: np.ndarray, s: int) -> np.ndarray:
    """Sum of ``m [H, W]`` over every ``s x s`` window; ``[H - s + 1, W - s + 1]`` indexed by top-left corner."""
    c = np.zeros((m.shape[0] + 1, m.shape[1] + 1), np.float64)
    c[1:, 1:] = np.cumsum(np.cumsum(m, axis=0), axis=1)
    return c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]


def choose_crops(score: np.ndarray, size: int, k: int) -> list[tuple[int, int, int, int]]:
    """Up to ``k`` non-overlapping ``size x size`` windows ``(x, y, w, h)`` with the largest summed ``score``
    (greedy: best window first, then the best that does not overlap the chosen ones)."""
    h, w = score.shape
    size = max(1, min(size, h, w))
    sums = _box_sums(np.asarray(score, np.float64), size)
    boxes = []
    for _ in range(k):
        if not np.isfinite(sums).any():
            break
        y, x = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(sums), sums, -np.inf))), sums.shape)
        boxes.append((int(x), int(y), size, size))
        sums[max(0, y - size + 1) : y + size, max(0, x - size + 1) : x + size] = -np.inf
    return boxes


def _crop_score(imgs: list[np.ndarray], gt: np.ndarray | None) -> np.ndarray:
    """Where to look: disagreement between methods (per-pixel variance of luma across them), plus the ground
    truth's detail (squared luma gradient) when there is one; each part normalised to mean 1."""
    lum = np.stack([_luma(i) for i in imgs])
    parts = [lum.var(axis=0)] if len(imgs) > 1 else []
    if gt is not None:
        gy, gx = np.gradient(_luma(gt))
        parts.append(gx**2 + gy**2)
    if not parts:
        gy, gx = np.gradient(lum[0])
        parts.append(gx**2 + gy**2)
    return sum(p / max(float(p.mean()), 1e-12) for p in parts)


def _ssim32(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two ``[H, W, 3]`` images in float32 torch (5x faster than the float64 numpy path; same to ~1e-7)."""
    import torch

    from deblur2d.metrics import ssim

    with torch.no_grad():
        return float(
            ssim(
                torch.from_numpy(np.ascontiguousarray(a, np.float32)),
                torch.from_numpy(np.ascontiguousarray(b, np.float32)),
            )
        )


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _label(tile: np.ndarray, text: str, color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """``tile`` (uint8 RGB) with a black bar above holding ``text`` (shrunk to fit)."""
    import cv2

    w = tile.shape[1]
    scale, thick = 0.55, 1
    while scale > 0.3 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] > w - 6:
        scale -= 0.05
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    bar = np.zeros((th + base + 8, w, 3), np.uint8)
    cv2.putText(bar, text, (3, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def _enlarge(img: np.ndarray, z: int) -> np.ndarray:
    return img if z <= 1 else np.repeat(np.repeat(img, z, axis=0), z, axis=1)


CROP_COLORS = [(255, 64, 64), (64, 200, 255), (255, 220, 0), (120, 255, 120), (255, 120, 255)]


def _montage(tiles: list[np.ndarray], cols: int, gap: int = 4) -> np.ndarray:
    rows = math.ceil(len(tiles) / cols)
    th = max(t.shape[0] for t in tiles)
    tw = max(t.shape[1] for t in tiles)
    out = np.full((rows * th + (rows + 1) * gap, cols * tw + (cols + 1) * gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        out[y : y + t.shape[0], x : x + t.shape[1]] = t
    return out


def _grid_image(
    named: list[tuple[str, str, np.ndarray]], boxes: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, np.ndarray | None]:
    """``named``: (name, tag, image) per tile. Returns (grid of tiles labelled "name  tag" with the crop windows
    outlined, crops montage with a row per window and a column per image, or None without windows)."""
    import cv2

    w = named[0][2].shape[1]
    z = max(1, math.ceil(GRID_TILE_MIN / w))
    tiles = []
    for name, tag, img in named:
        t = _enlarge(_to_u8(img), z).copy()
        for j, (x, y, s, _) in enumerate(boxes):
            thick = max(2, round(w * z / 320))  # visible when the page shows the grid scaled down
            cv2.rectangle(t, (x * z, y * z), ((x + s) * z - 1, (y + s) * z - 1), CROP_COLORS[j % 5], thick)
        tiles.append(_label(t, f"{name}  {tag}" if tag else name))
    n = len(tiles)
    grid = _montage(tiles, n if n <= 3 else math.ceil(n / 2))
    crop_tiles = []
    for j, (x, y, s, _) in enumerate(boxes):
        zc = max(1, CROP_DISPLAY // s)
        for name, _, img in named:
            c = _enlarge(_to_u8(img[y : y + s, x : x + s]), zc)
            crop_tiles.append(_label(c, f"{j + 1}: {name}", CROP_COLORS[j % 5]))
    crops = _montage(crop_tiles, len(named)) if crop_tiles else None
    return grid, crops


def _png_bytes(img_u8: np.ndarray) -> bytes:
    from deblur2d.image_io import encode_image

    return encode_image(img_u8.astype(np.float32) / 255.0, ".png")


# ----------------------------------------------------------------------------------------------- trajectories


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


def _trajectory_section(
    base: Path, spec: dict[str, Any], files: list[str], notes: list[str]
) -> tuple[str | None, dict[str, Any] | None]:
    """(SVG small multiples, summary) of the estimated (and true) in-exposure paths; (None, None) without them."""
    from .svg_plots import Panel, Path2D, path_panels

    est_file = spec.get("trajectories")
    if not est_file:
        return None, None
    est_path = _resolve(base, est_file)
    if not est_path.is_file():
        notes.append(f"trajectories {est_path} not found; no trajectory plot")
        return None, None
    try:
        est = _frames_by_file(json.loads(est_path.read_text()), files, str(est_path), notes)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise UserError(f"{est_path}: not a trajectories JSON ({e})") from None
    true: dict[str, dict] = {}
    if spec.get("true_trajectories"):
        tp = _resolve(base, spec["true_trajectories"])
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


# ----------------------------------------------------------------------------------------------- training logs


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


def _training_svg(base: Path, spec: dict[str, Any], colors: dict[str, str], notes: list[str]) -> str | None:
    from .svg_plots import Series, color_for, hstack, line_plot

    logs = spec.get("train_logs") or {}
    psnr_s, loss_s = [], []
    for i, (name, f) in enumerate(logs.items()):
        p = _resolve(base, f)
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


# ----------------------------------------------------------------------------------------------- main driver


def _clean(x: Any) -> Any:
    """JSON-safe copy: non-finite floats become null."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _mean(v: list[float]) -> float:
    return float(np.mean(v)) if v else math.nan


def _grid_frames(n: int, k: int) -> list[int]:
    if k <= 0:
        return []
    return [int(i) for i in np.unique(np.rint(np.linspace(0, n - 1, min(k, n))).astype(int))]


def compare_run(
    run: Path,
    spec: dict | None = None,
    out: Path | None = None,
    crops: int = 2,
    *,
    max_grid_frames: int = 6,
    embed: bool = False,
) -> dict[str, Any]:
    """Compare the methods of ``spec`` (default ``RUN/compare.json``; its relative paths are relative to ``run``)
    and write ``OUT/report/`` and ``OUT/report.html`` (``out`` default ``run``). Returns the metrics dict (as
    written to ``OUT/report/metrics.json``, plus ``"report"``: the path of report.html)."""
    from deblur2d.atomic import atomic_dir, write_bytes_atomic
    from deblur2d.image_io import read_image
    from deblur2d.metrics import psnr

    from .deblurgs.data import downscale_image
    from .report import render_report
    from .svg_plots import color_for

    run = Path(run)
    spec = load_spec(run, None) if spec is None else spec
    out = Path(out) if out is not None else run
    report_dir = out / "report"
    if report_dir.exists() and any(report_dir.iterdir()) and not (report_dir / "metrics.json").is_file():
        raise UserError(f"{report_dir}: exists and is not a sharpsplat report (no metrics.json); choose another --out")
    t0 = time.perf_counter()
    files, methods, gt_dir, notes = _resolve_inputs(run, spec)
    given_notes = spec.get("notes") or []
    notes = [str(n) for n in ([given_notes] if isinstance(given_notes, str) else given_notes)] + notes
    names = list(methods)
    colors = {n: color_for(i) for i, n in enumerate(spec.get("methods") or names)}
    has_gt = gt_dir is not None
    grid_idx = set(_grid_frames(len(files), max_grid_frames))
    reference = f"ground truth {gt_dir}" if has_gt else "none (no-reference sharpness only)"
    _log(f"{len(files)} frames, methods: {', '.join(names)}; reference: {reference}")

    per: dict[str, dict[str, list]] = {n: {"psnr": [], "ssim": [], "sharpness": []} for n in names}
    gt_sharp: list[float] = []
    sources: dict[str, list[int]] = {}
    comp_sizes: set[tuple[int, int]] = set()
    crop_boxes: dict[str, list[list[int]]] = {}
    grids: list[dict[str, Any]] = []
    assets: dict[str, bytes] = {}
    for i, fname in enumerate(files):
        imgs = {n: read_image(methods[n] / fname)[0] for n in names}
        if has_gt:
            imgs["ground truth"] = read_image(gt_dir / fname)[0]
        sizes = {n: im.shape[:2] for n, im in imgs.items()}
        (th, tw), factors = comparison_size(sizes, f"({fname})")
        comp_sizes.add((tw, th))
        for n, (h, w) in sizes.items():
            sources.setdefault(n, [w, h])
        imgs = {n: downscale_image(im, factors[n])[:th, :tw] for n, im in imgs.items()}
        ref = imgs.get("ground truth")
        for n in names:
            im = imgs[n]
            if ref is not None:
                per[n]["psnr"].append(float(psnr(im, ref)))
                per[n]["ssim"].append(_ssim32(im, ref) if min(th, tw) >= 11 else math.nan)
            per[n]["sharpness"].append(sharpness(im))
        if ref is not None:
            gt_sharp.append(sharpness(ref))
        if i in grid_idx:
            lst = [imgs[n] for n in names]
            boxes = choose_crops(_crop_score(lst, ref), max(8, round(min(th, tw) / 5)), crops) if crops > 0 else []
            crop_boxes[fname] = [list(b) for b in boxes]
            named = []
            for n in names:
                tag = f"{per[n]['psnr'][-1]:.2f} dB" if ref is not None else f"sharpness {per[n]['sharpness'][-1]:.3g}"
                named.append((n, tag, imgs[n]))
            if ref is not None:
                named.append(("Ground truth", "", ref))
            grid, crop_img = _grid_image(named, boxes)
            stem = Path(fname).stem
            if f"grid_{stem}.png" in assets:  # two frames with one stem (a.png, a.jpg)
                stem = f"{stem}_{i}"
            entry = {"file": fname, "grid": f"report/grid_{stem}.png"}
            assets[f"grid_{stem}.png"] = _png_bytes(grid)
            if crop_img is not None:
                entry["crops"] = f"report/crops_{stem}.png"
                assets[f"crops_{stem}.png"] = _png_bytes(crop_img)
            grids.append(entry)
        if (i + 1) % 10 == 0 or i + 1 == len(files):
            _log(f"frame {i + 1}/{len(files)} ({time.perf_counter() - t0:.1f} s)")

    if len(comp_sizes) > 1:
        notes.append(f"frames differ in size; compared at {', '.join(f'{w}x{h}' for w, h in sorted(comp_sizes))}")
    res_w, res_h = sorted(comp_sizes)[0]
    method_rows: dict[str, Any] = {}
    for n in names:
        fw, fh = sources[n]
        method_rows[n] = {
            "dir": str(methods[n]),
            "source_resolution": [fw, fh],
            "downscale": fw // res_w,
            "psnr": _mean(per[n]["psnr"]) if has_gt else None,
            "ssim": _mean(per[n]["ssim"]) if has_gt else None,
            "sharpness": _mean(per[n]["sharpness"]),
            "per_frame": per[n] if has_gt else {"sharpness": per[n]["sharpness"]},
        }
    traj_svg, traj_summary = _trajectory_section(run, spec, files, notes)
    train_svg = _training_svg(run, spec, colors, notes)
    metrics: dict[str, Any] = {
        "title": spec.get("title") or "sharpsplat comparison",
        "files": files,
        "resolution": [res_w, res_h],
        "reference": "ground truth" if has_gt else "none",
        "metric_notes": {
            "psnr": "dB vs the ground truth at the comparison resolution, sRGB in [0, 1]",
            "ssim": "Wang et al. 2004, Gaussian 11x11 sigma 1.5, valid window, mean over RGB",
            "sharpness": "no-reference: variance of the 3x3 Laplacian of luma x 1e3 (higher = more high-frequency "
            "content; noise and ringing raise it too)",
        },
        "methods": method_rows,
        "ground_truth": {
            "dir": str(gt_dir),
            "source_resolution": sources["ground truth"],
            "downscale": sources["ground truth"][0] // res_w,
            "sharpness": _mean(gt_sharp),
            "per_frame": {"sharpness": gt_sharp},
        }
        if has_gt
        else None,
        "crops": crop_boxes,
        "grids": grids,
        "trajectories": traj_summary,
        "notes": notes,
        "seconds": time.perf_counter() - t0,
    }
    metrics = _clean(metrics)
    metrics["table_markdown"] = markdown_table(metrics)
    if traj_svg:
        assets["trajectories.svg"] = traj_svg.encode()
    if train_svg:
        assets["training.svg"] = train_svg.encode()
    html = render_report(metrics, assets, traj_svg=traj_svg, train_svg=train_svg, embed=embed, colors=colors)
    with atomic_dir(report_dir) as tmp:
        for name, data in assets.items():
            write_bytes_atomic(tmp / name, data)
        write_bytes_atomic(tmp / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    write_bytes_atomic(out / "report.html", html.encode())
    metrics["report"] = str(out / "report.html")
    _log(f"report {out / 'report.html'} ({time.perf_counter() - t0:.1f} s)")
    return metrics


def markdown_table(metrics: dict[str, Any]) -> str:
    """The per-method means as a markdown table (PSNR/SSIM with ground truth; sharpness always)."""
    has_gt = metrics.get("reference") == "ground truth"
    w, h = metrics["resolution"]
    head = ["Method", "PSNR (dB)", "SSIM"] if has_gt else ["Method"]
    head += ["Sharpness (no-ref.)", "Source size"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def fmt(v, spec):
        return "inf" if v is None else format(v, spec)

    for name, m in metrics["methods"].items():
        row = [name] + ([fmt(m["psnr"], ".2f"), fmt(m["ssim"], ".4f")] if has_gt else [])
        row += [fmt(m["sharpness"], ".3g"), "x".join(map(str, m["source_resolution"]))]
        lines.append("| " + " | ".join(row) + " |")
    if has_gt:
        g = metrics["ground_truth"]
        row = ["Ground truth", "", "", fmt(g["sharpness"], ".3g"), "x".join(map(str, g["source_resolution"]))]
        lines.append("| " + " | ".join(row) + " |")
    lines.append(f"\n{len(metrics['files'])} frames compared at {w}x{h}.")
    return "\n".join(lines)


@dataclass
class CompareArgs:
    """Compare single-image and 3D deblurring frame by frame: PSNR/SSIM table, image grids, crops, report.html."""

    run: Annotated[Path | None, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")] = None
    """Run folder with compare.json (written by `sharpsplat reconstruct`); paths in it are relative to it."""
    spec: Path | None = None
    """Compare spec JSON to use instead of RUN/compare.json (relative paths: relative to RUN, else to its folder)."""
    method: Annotated[tuple[str, ...], tyro.conf.UseAppendAction, tyro.conf.arg(metavar="NAME=DIR")] = ()
    """A method to compare, repeatable: its name and a folder of frames (same file names in every folder)."""
    gt: Path | None = None
    """Folder of ground-truth sharp frames (same file names), with --method."""
    trajectories: Path | None = None
    """DeblurGS trajectories.json, with --method."""
    true_trajectories: Path | None = None
    """Ground-truth cameras.json (frames[].c2w_sub), with --method."""
    train_log: Annotated[tuple[str, ...], tyro.conf.UseAppendAction, tyro.conf.arg(metavar="NAME=FILE")] = ()
    """A training log (JSON lines with step, loss, psnr), repeatable, with --method."""
    out: Path | None = None
    """Output folder for report.html and report/ (default: RUN; required without RUN)."""
    max_grid_frames: int = 6
    """Image grids and crops for at most this many frames, evenly spaced (metrics cover every frame)."""
    crops: int = 2
    """Zoomed crop windows per grid frame."""
    embed: bool = False
    """Embed the PNGs in report.html as data URIs (one file to send) instead of linking report/*.png."""
    title: str = ""
    """Report title (default: the spec's, else "sharpsplat comparison")."""


def run(args: CompareArgs) -> dict[str, Any]:
    if args.max_grid_frames < 0 or args.crops < 0:
        raise UserError("--max-grid-frames and --crops must be >= 0")
    if args.run is not None and not args.run.is_dir():
        raise UserError(f"{args.run}: run folder not found")
    if args.method:
        if args.spec is not None:
            raise UserError("give either --spec or --method flags, not both")
        spec = spec_from_flags(
            list(args.method), args.gt, args.trajectories, args.true_trajectories, list(args.train_log), args.title
        )
        base = args.run or Path.cwd()
    else:
        if args.gt or args.trajectories or args.true_trajectories or args.train_log:
            raise UserError("--gt, --trajectories, --true-trajectories and --train-log go with --method flags")
        spec = load_spec(args.run, args.spec)
        base = args.run or args.spec.parent
        if args.title:
            spec["title"] = args.title
    out = args.out or args.run
    if out is None:
        raise UserError("--out DIR is required without a RUN folder")
    return compare_run(base, spec, out, args.crops, max_grid_frames=args.max_grid_frames, embed=args.embed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sharpsplat compare``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = tyro.cli(CompareArgs, args=argv, prog="sharpsplat compare")
    metrics = run(args)
    print(markdown_table(metrics))
    print(f"report: {metrics['report']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
