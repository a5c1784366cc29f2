"""Baseline: how many frames of synthetic blurry scenes pycolmap registers with nothing done to the frames.

For each blur level and seed: make a scene (default preset ``demo``), measure its blur (mean start-to-end
displacement of scene points, px), run the pinned SfM of ``reconstruction.sfm`` on ``images/`` as they are,
and record frames registered, 3D points, focal error and relative-rotation error against the true poses
(mean over all pairs of registered frames of the angle of ``R_est_rel @ R_true_rel^T``: independent of the
similarity ambiguity, so no alignment is needed). This is the number the SfM issue must beat.

Usage: ``python scripts/bench_synthetic.py [--preset demo] [--seeds 0 1 2] [--levels none mild strong extreme]
[--matcher exhaustive] [--out results.json] [--work DIR]``. Prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deblur2d.io.atomic import write_json_atomic  # noqa: E402
from reconstruction.io.gt_cameras import load_gt  # noqa: E402
from reconstruction.sfm.colmap import SfMOptions, run_sfm  # noqa: E402
from reconstruction.synthetic import BLUR_LEVELS, make_scene  # noqa: E402


def relative_rotation_error_deg(rec, gt: dict) -> float | None:
    """Mean angle (degrees) between estimated and true relative rotations over all registered pairs."""
    rots_est, rots_true = [], []
    for img in rec.images.values():
        if not img.has_pose:
            continue
        rots_est.append(img.cam_from_world().rotation.matrix())
        rots_true.append(gt["c2w_mid"][gt["files"].index(img.name)][:3, :3].T)
    if len(rots_est) < 2:
        return None
    re, rt = np.array(rots_est), np.array(rots_true)
    errs = []
    for i in range(len(re)):
        for j in range(i + 1, len(re)):
            d = (re[i] @ re[j].T) @ (rt[i] @ rt[j].T).T
            errs.append(np.degrees(np.arccos(np.clip((np.trace(d) - 1) / 2, -1, 1))))
    return float(np.mean(errs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--levels", nargs="+", default=list(BLUR_LEVELS))
    ap.add_argument("--matcher", default="exhaustive", choices=["exhaustive", "sequential"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument("--work", type=Path, default=None, help="keep scenes here (default: a temporary folder)")
    args = ap.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_synthetic_"))
    runs = []
    for level in args.levels:
        for seed in args.seeds:
            scene = work / f"{args.preset}_{level}_s{seed}"
            t0 = time.perf_counter()
            make_scene(scene, preset=args.preset, seed=seed, blur=level, overwrite=True, progress=False)
            t_make = time.perf_counter() - t0
            gt = load_gt(scene)
            res = run_sfm(
                scene / "images",
                scene / "sfm",
                SfMOptions(matcher=args.matcher, num_threads=args.threads, seed=seed),
            )
            rot = (
                relative_rotation_error_deg(res.reconstruction, gt)
                if res.reconstruction is not None
                else None
            )
            run = {
                "level": level,
                "seed": seed,
                "blur_px_mean": gt["raw"]["blur_px_mean"],
                "blur_px_min": float(gt["blur_px"].min()),
                "blur_px_max": float(gt["blur_px"].max()),
                "blur_px_target": gt["raw"]["blur_px_target"],
                "num_sub_frames": gt["raw"]["num_sub_frames"],
                "frames": len(gt["files"]),
                "registered": res.num_registered,
                "points3D": res.num_points3D,
                "models": res.num_models,
                "focal_px": res.focal_px,
                "focal_true_px": float(gt["K"][0, 0]),
                "rel_rot_err_deg": rot,
                "make_s": round(t_make, 2),
                "sfm_s": {k: round(v, 2) for k, v in res.seconds.items()},
            }
            runs.append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
            if args.work is None:
                shutil.rmtree(scene, ignore_errors=True)

    summary = {}
    for level in args.levels:
        rs = [r for r in runs if r["level"] == level]
        summary[level] = {
            "blur_px_mean": float(np.mean([r["blur_px_mean"] for r in rs])),
            "registered": [r["registered"] for r in rs],
            "frames": rs[0]["frames"],
            "make_s_mean": float(np.mean([r["make_s"] for r in rs])),
        }
    result = {
        "benchmark": "bench_synthetic",
        "preset": args.preset,
        "matcher": args.matcher,
        "seeds": args.seeds,
        "sfm": "pycolmap SIFT (4 octaves, 8192 features), one SIMPLE_RADIAL camera, incremental mapping, "
        "largest model; frames used as they are",
        "machine": f"{platform.machine()} {platform.system()}, {args.threads} threads",
        "summary": summary,
        "runs": runs,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        write_json_atomic(args.out, result)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
