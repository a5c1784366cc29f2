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
- ``OUT/report/scene3d.html``: when the run has ``splats.ply``, its interactive 3D view (splats, cameras,
  exposure trajectories), one self-contained file that plays offline (:mod:`reconstruction.viewer.embed`);
- ``OUT/report.html``: the page; images are linked beside it (``report/...``, relative) unless ``embed``.

This module is the driver and the CLI; the spec is read by :mod:`.compare_spec`, frames are measured by
:mod:`.measures` and pictured by :mod:`.grids`, :mod:`.trajectories` and :mod:`.training_curves` draw the SVGs
(:mod:`.plots`), :mod:`.report` writes the page.
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

from deblur2d.io.errors import UserError

from .compare_spec import load_spec, resolve_inputs, spec_from_flags
from .grids import choose_crops, crop_score, grid_image, png_bytes
from .measures import comparison_size, sharpness, ssim32
from .training_curves import training_svg
from .trajectories import trajectory_section

__all__ = ["CompareArgs", "compare_run", "main", "markdown_table", "run"]


def _log(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


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
    scene3d: bool = True,
) -> dict[str, Any]:
    """Compare the methods of ``spec`` (default ``RUN/compare.json``; its relative paths are relative to ``run``)
    and write ``OUT/report/`` and ``OUT/report.html`` (``out`` default ``run``). Returns the metrics dict (as
    written to ``OUT/report/metrics.json``, plus ``"report"``: the path of report.html). ``scene3d``: when ``run``
    has ``splats.ply``, add its interactive 3D view (``report/scene3d.html``, :mod:`reconstruction.viewer.embed`)."""
    from deblur2d.io.atomic import atomic_dir, write_bytes_atomic
    from deblur2d.io.images import read_image
    from deblur2d.metrics import psnr
    from reconstruction.deblurgs.data import downscale_image

    from .plots import color_for
    from .report import render_report

    run = Path(run)
    spec = load_spec(run, None) if spec is None else spec
    out = Path(out) if out is not None else run
    report_dir = out / "report"
    if report_dir.exists() and any(report_dir.iterdir()) and not (report_dir / "metrics.json").is_file():
        raise UserError(f"{report_dir}: exists and is not a sharpsplat report (no metrics.json); choose another --out")
    t0 = time.perf_counter()
    files, methods, gt_dir, notes = resolve_inputs(run, spec)
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
                per[n]["ssim"].append(ssim32(im, ref) if min(th, tw) >= 11 else math.nan)
            per[n]["sharpness"].append(sharpness(im))
        if ref is not None:
            gt_sharp.append(sharpness(ref))
        if i in grid_idx:
            lst = [imgs[n] for n in names]
            boxes = choose_crops(crop_score(lst, ref), max(8, round(min(th, tw) / 5)), crops) if crops > 0 else []
            crop_boxes[fname] = [list(b) for b in boxes]
            named = []
            for n in names:
                tag = f"{per[n]['psnr'][-1]:.2f} dB" if ref is not None else f"sharpness {per[n]['sharpness'][-1]:.3g}"
                named.append((n, tag, imgs[n]))
            if ref is not None:
                named.append(("Ground truth", "", ref))
            grid, crop_img = grid_image(named, boxes)
            stem = Path(fname).stem
            if f"grid_{stem}.png" in assets:  # two frames with one stem (a.png, a.jpg)
                stem = f"{stem}_{i}"
            entry = {"file": fname, "grid": f"report/grid_{stem}.png"}
            assets[f"grid_{stem}.png"] = png_bytes(grid)
            if crop_img is not None:
                entry["crops"] = f"report/crops_{stem}.png"
                assets[f"crops_{stem}.png"] = png_bytes(crop_img)
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
    traj_svg, traj_summary = trajectory_section(run, spec, files, notes)
    train_svg = training_svg(run, spec, colors, notes)
    scene3d_html = _scene3d(run, notes) if scene3d else None
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
    if scene3d_html:
        assets["scene3d.html"] = scene3d_html.encode()
    html = render_report(metrics, assets, traj_svg=traj_svg, train_svg=train_svg, embed=embed, colors=colors,
                         scene3d=scene3d_html)  # fmt: skip
    with atomic_dir(report_dir) as tmp:
        for name, data in assets.items():
            write_bytes_atomic(tmp / name, data)
        write_bytes_atomic(tmp / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    write_bytes_atomic(out / "report.html", html.encode())
    metrics["report"] = str(out / "report.html")
    _log(f"report {out / 'report.html'} ({time.perf_counter() - t0:.1f} s)")
    return metrics


def _scene3d(run: Path, notes: list[str]) -> str | None:
    """The self-contained 3D view of ``run`` (None without ``splats.ply``, or with a note when it fails)."""
    if not (run / "splats.ply").is_file():
        return None
    from reconstruction.viewer.content import read_run
    from reconstruction.viewer.embed import EMBED_MAX_SPLATS, scene_html

    t = time.perf_counter()
    try:
        content = read_run(run, max_splats=EMBED_MAX_SPLATS)
        html = scene_html(content)
    except Exception as e:  # noqa: BLE001 - an optional view never costs the report
        notes.append(f"3D view left out ({type(e).__name__}: {str(e)[:160]})")
        return None
    n = 0 if content.splats is None else len(content.splats)
    _log(f"3D view: {n} Gaussians, {len(content.frames)} cameras -> report/scene3d.html ({len(html) / 1e6:.1f} MB, "
         f"{time.perf_counter() - t:.1f} s)")  # fmt: skip
    return html


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
    scene3d: bool = True
    """Add the run's interactive 3D view (report/scene3d.html, plays offline) when RUN has splats.ply."""
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
    return compare_run(base, spec, out, args.crops, max_grid_frames=args.max_grid_frames, embed=args.embed,
                       scene3d=args.scene3d)  # fmt: skip


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
