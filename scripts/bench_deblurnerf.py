"""The Deblur-NeRF protocol on scenes in its layout: train on the blurry views, score the sharp held-out views.

    OMP_WAIT_POLICY=PASSIVE python scripts/bench_deblurnerf.py SCENE [SCENE ...] --preset cpu|gpu-quality \
        [--images images_4] [--out runs/bench_deblurnerf.json] [--work runs/bench_deblurnerf] [--budget-minutes M]

Protocol (Deblur-NeRF, BAD-Gaussians, DeblurGS, CoMoGaussian): a scene folder holds the blurry training views and
the sharp novel views in one image folder; the novel views are every N-th (``hold=N`` marker file; without one,
LLFF's every 8th). Training sees only the blurry views. The novel views are rendered at the benchmark resolution
(the image folder's, 600x400 for Deblur-NeRF's ``images_4/``; the training may run lower) and scored by PSNR /
SSIM against the sharp images, under two protocols, labelled in the table:

- ``given pose``: at the pose the dataset gives (what "novel view synthesis" means without help);
- ``test-time pose opt.``: after optimising each test view's pose with the scene frozen (``--test-pose-steps``),
  as several deblurring papers report (their camera-motion models shift the training poses slightly).

Presets: ``cpu`` = configs/deblurgs-cpu.toml (capacity fitted to a training budget, per-frame appearance),
``gpu-quality`` = configs/deblurgs-gpu-quality.toml. Prints a table per scene and the mean, with training time,
device and preset, and writes one JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PRESETS = {"cpu": "deblurgs-cpu", "gpu-quality": "deblurgs-gpu-quality"}
#: Means on the Deblur-NeRF real scenes reported by others (second-hand, from the CoMoGaussian paper's tables).
REFERENCE_DB = {"Deblurring-3DGS": 26.61, "BAGS": 26.70, "CoMoGaussian": 27.85, "DeblurGS (paper)": 26.28}


def set_field(cfg, dotted: str, value):
    """``dataclasses.replace`` along a dotted path of nested dataclasses (``gs.densify.max_gaussians``)."""
    head, _, rest = dotted.partition(".")
    if not hasattr(cfg, head):
        raise SystemExit(f"--set: {type(cfg).__name__} has no field {head!r}")
    return replace(cfg, **{head: set_field(getattr(cfg, head), rest, value) if rest else value})


def parse_sets(items: list[str]) -> list[tuple[str, object]]:
    """``FIELD=VALUE`` strings -> (dotted field, value); values are JSON (numbers, true/false, lists) or text."""
    out = []
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq:
            raise SystemExit(f"--set: expected FIELD=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.append((key, value))
    return out


def bench_scene(scene: Path, args: argparse.Namespace) -> dict:
    """Train on ``scene``'s blurry views and score its held-out sharp views; returns one result row."""
    from reconstruction.deblurgs.cli import load_preset, run, with_steps
    from reconstruction.evaluation.novel_views import evaluate_novel_views
    from reconstruction.io.scenes import read_scene

    cams = read_scene(scene, images=args.images)
    holdout = None
    if cams.test is None:
        holdout = 8
        cams = read_scene(scene, images=args.images, holdout=8)
    if cams.test is None or Path(cams.test.dir) != Path(cams.image_dir):
        raise SystemExit(f"{scene}: no held-out views in the image folder (hold=N marker or LLFF's every 8th)")
    out = args.work / scene.name
    targs = load_preset(PRESETS[args.preset])
    cfg = targs.config
    if args.steps:
        cfg = with_steps(cfg, args.steps)
    sets = parse_sets(getattr(args, "set", None) or [])
    budget_sets = {"gs.steps", "gs.densify.max_gaussians", "gs.densify.refine_stop_iter", "anneal_steps"}
    if not args.steps and any(k in budget_sets for k, _ in sets):
        raise SystemExit(f"--set {', '.join(k for k, _ in sets if k in budget_sets)}: the training budget chooses "
                         "this; give --steps N to set it yourself")  # fmt: skip
    for key, value in sets:
        cfg = set_field(cfg, key, value)
    targs = replace(targs, scene=scene, out=out, preset=PRESETS[args.preset], images=args.images, holdout=holdout,
                    device=args.device, progress=args.progress, evaluate=False, config=cfg, resume=False,
                    budget_minutes=0.0 if args.steps else (args.budget_minutes or targs.budget_minutes),
                    downscale=args.downscale or targs.downscale,
                    triangulate=getattr(args, "triangulate", True))  # fmt: skip
    t0 = time.perf_counter()
    m = run(targs)
    train_s = time.perf_counter() - t0
    gt = {
        "width": cams.width,
        "height": cams.height,
        "K": cams.K.tolist(),
        "frames": [{"file": f, "c2w_mid": c.tolist()} for f, c in zip(cams.files, cams.c2ws, strict=True)],
        "test": [{"file": f, "c2w": c.tolist()} for f, c in zip(cams.test.files, cams.test.c2ws, strict=True)],
    }
    t1 = time.perf_counter()
    nv = evaluate_novel_views(out, gt, cams.test.dir, pose_steps=args.test_pose_steps, out_dir=out / "novel",
                              device=args.device, width=cams.width)  # fmt: skip
    opt = nv.get("pose_optimised") or {}
    return {
        "scene": scene.name,
        "image_dir": str(cams.image_dir.name),
        "benchmark_resolution": [cams.width, cams.height],
        "train_resolution": m["resolution"],
        "train_views": len(cams.files),
        "test_views": nv["n"],
        "holdout": holdout or "hold=N marker",
        "start_points": "scene" if cams.points is not None else (
            f"triangulated from the poses ({m['start_points']} points)" if m.get("start_points")
            else "random"),
        "overrides": getattr(args, "set", None) or [],
        "given_pose": {"psnr": nv["given_pose"]["psnr"], "ssim": nv["given_pose"]["ssim"]},
        "pose_optimised": {"psnr": opt.get("psnr"), "ssim": opt.get("ssim"), "steps": args.test_pose_steps},
        "train_seconds": round(train_s, 1),
        "eval_seconds": round(time.perf_counter() - t1, 1),
        "steps": m["train"]["steps"],
        "n_gaussians": m["train"]["n_gaussians"],
        "device": m["device"],
        "preset": args.preset,
    }


def table(rows: list[dict]) -> str:
    """Markdown table in the papers' format (PSNR / SSIM per scene and mean), both protocols side by side."""
    head = ("| scene | PSNR given pose | SSIM given pose | PSNR test-time pose opt. | SSIM test-time pose opt. | "
            "train time | device | preset |\n|---|---|---|---|---|---|---|---|")  # fmt: skip

    def fmt(v, d):
        return "-" if v is None else f"{v:.{d}f}"

    lines = [head]
    for r in rows:
        g, o = r["given_pose"], r["pose_optimised"]
        lines.append(
            f"| {r['scene']} | {fmt(g['psnr'], 2)} | {fmt(g['ssim'], 3)} | {fmt(o['psnr'], 2)} | "
            f"{fmt(o['ssim'], 3)} | {r['train_seconds'] / 60:.1f} min | {r['device']} | {r['preset']} |"
        )
    if len(rows) > 1:
        import numpy as np

        def mean(key, k):
            vals = [r[key][k] for r in rows if r[key][k] is not None]
            return float(np.mean(vals)) if vals else None

        lines.append(f"| **mean** | {fmt(mean('given_pose', 'psnr'), 2)} | {fmt(mean('given_pose', 'ssim'), 3)} | "
                     f"{fmt(mean('pose_optimised', 'psnr'), 2)} | {fmt(mean('pose_optimised', 'ssim'), 3)} | "
                     f"{sum(r['train_seconds'] for r in rows) / 60:.1f} min | {rows[0]['device']} | "
                     f"{rows[0]['preset']} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenes", nargs="+", type=Path, help="scene folders in the Deblur-NeRF layout")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--images", default=None, help="image folder (default: the one the poses name, e.g. images_4)")
    ap.add_argument("--out", type=Path, default=Path("runs/bench_deblurnerf.json"))
    ap.add_argument("--work", type=Path, default=Path("runs/bench_deblurnerf"), help="run folders")
    ap.add_argument("--budget-minutes", type=float, default=0.0, help="training budget (0: the preset's)")
    ap.add_argument("--steps", type=int, default=0, help="fixed steps instead of the budget (0: budget)")
    ap.add_argument("--downscale", type=int, default=0, help="training downscale (0: the preset's / the budget's)")
    ap.add_argument("--test-pose-steps", type=int, default=100)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a DeblurGS config field, dotted (repeatable: --set motion=false "
                         "--set gs.densify.max_gaussians=8000; steps and cap need --steps)")
    ap.add_argument("--no-triangulate", dest="triangulate", action="store_false",
                    help="scenes without points start from random Gaussians instead of points triangulated from poses")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)
    rows = [bench_scene(s, args) for s in args.scenes]
    md = table(rows)
    print(md)
    result = {
        "protocol": "Deblur-NeRF: train on blurry views, PSNR/SSIM on sharp held-out views at the benchmark "
                    "resolution; 'given_pose' and 'pose_optimised' (test-time pose optimisation, scene frozen)",
        "rows": rows,
        "table_markdown": md,
        "reference_means_db": REFERENCE_DB,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "argv": sys.argv[1:] if argv is None else argv,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"-> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
