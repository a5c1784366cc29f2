"""What costs the most on a Deblur-NeRF-style scene: initialisation, capacity, steps, resolution or the exposure
model? One factor changes at a time against a base run, on a synthetic forward-facing capture laid out as a
Deblur-NeRF download (blurry views and sharp held-out views interleaved, ``hold=N``, ``poses_bounds.npy``, no
points), scored by the Deblur-NeRF protocol of ``scripts/bench_deblurnerf.py`` on the sharp held-out views.

    OMP_WAIT_POLICY=PASSIVE python scripts/ablate_deblurnerf.py [--preset demo] [--blur strong] [--seed 0] \
        [--steps 1000] [--cap 16000] [--work runs/ablate_deblurnerf] [--out runs/ablate_deblurnerf.json]

Variants: ``base`` (points triangulated from the given poses, cap, steps, full resolution, exposure trajectories),
``init: random`` (no points: random Gaussians), ``capacity x1/2`` and ``x2`` (Gaussian cap), ``steps x1/2`` and
``x2`` (the densification and annealing schedules scale with the steps), ``resolution x1/2`` (training at half
size; scored at full size), ``exposure trajectories off`` (no camera motion during the exposure, one pose per
frame: 3DGS on the blurry views). Prints a table and writes JSON after every variant; a rerun skips variants done
with the same settings and drops rows whose settings are no longer those asked for.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_deblurnerf", ROOT / "scripts" / "bench_deblurnerf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def variants(steps: int, cap: int, test_pose_steps: int = 50) -> dict[str, dict]:
    """Variant name -> settings (steps, downscale, triangulate, extra ``--set`` overrides, test-time pose steps)."""
    base = {"steps": steps, "downscale": 1, "triangulate": True, "set": [f"gs.densify.max_gaussians={cap}"],
            "test_pose_steps": test_pose_steps}  # fmt: skip
    return {
        "base": base,
        "init: random": {**base, "triangulate": False},
        "capacity x1/2": {**base, "set": [f"gs.densify.max_gaussians={cap // 2}"]},
        "capacity x2": {**base, "set": [f"gs.densify.max_gaussians={cap * 2}"]},
        "steps x1/2": {**base, "steps": steps // 2},
        "steps x2": {**base, "steps": steps * 2},
        "resolution x1/2": {**base, "downscale": 2},
        "exposure trajectories off": {**base, "set": base["set"] + ["motion=false"]},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="demo", help="synthetic scene preset (make-scene)")
    ap.add_argument("--blur", default="strong")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1000, help="base run's training steps")
    ap.add_argument("--cap", type=int, default=16000, help="base run's Gaussian cap")
    ap.add_argument("--only", nargs="*", default=None, help="run only these variants")
    ap.add_argument("--test-pose-steps", type=int, default=50)
    ap.add_argument("--work", type=Path, default=Path("runs/ablate_deblurnerf"))
    ap.add_argument("--out", type=Path, default=Path("runs/ablate_deblurnerf.json"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)

    from deblur2d.io.atomic import write_json_atomic
    from reconstruction.synthetic import make_scene
    from reconstruction.synthetic.layouts import write_deblurnerf_layout

    bench = _bench_module()
    tag = f"{args.preset}-{args.blur}-seed{args.seed}"
    synth = args.work / f"synth-{tag}"
    scene = args.work / f"scene-{tag}"
    if not (synth / "gt" / "cameras.json").is_file():
        print(f"scene: making {synth}", file=sys.stderr)
        make_scene(synth, preset=args.preset, seed=args.seed, blur=args.blur, overwrite=True,
                   progress=args.progress)  # fmt: skip
    if not scene.is_dir():
        write_deblurnerf_layout(synth, scene)
    print(f"scene: {scene} (Deblur-NeRF layout of {synth.name})", file=sys.stderr)

    done = json.loads(args.out.read_text()) if args.out.is_file() else {}
    table = variants(args.steps, args.cap, args.test_pose_steps)
    rows: dict[str, dict] = done.get("rows", {}) if done.get("scene_tag") == tag else {}
    rows = {k: r for k, r in rows.items() if k in table and r.get("settings") == table[k]}  # stale rows dropped
    for name, v in table.items():
        if args.only and name not in args.only:
            continue
        if name in rows and rows[name].get("settings") == v:
            print(f"{name}: done before, skipped", file=sys.stderr)
            continue
        print(f"--- {name}: {v}", file=sys.stderr)
        folder = name.replace(" ", "_").replace("/", "-").replace(":", "")
        ns = argparse.Namespace(preset="cpu", images=None, budget_minutes=0.0, steps=v["steps"],
                                downscale=v["downscale"], test_pose_steps=v["test_pose_steps"], device=args.device,
                                progress=args.progress, set=v["set"], triangulate=v["triangulate"],
                                work=args.work / "runs" / tag / folder)  # fmt: skip
        t0 = time.perf_counter()
        row = bench.bench_scene(scene, ns)
        row.update(settings=v, wall_seconds=round(time.perf_counter() - t0, 1))
        rows[name] = row
        write_json_atomic(args.out, {
            "what": "one factor at a time against 'base' on a synthetic Deblur-NeRF-layout scene; held-out views "
                    "scored at the given pose and after test-time pose optimisation (scene frozen)",
            "scene_tag": tag, "scene": str(scene), "rows": rows,
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "argv": sys.argv[1:] if argv is None else argv})  # fmt: skip
    base = rows.get("base")
    print("| variant | PSNR given pose | d vs base | SSIM given pose | PSNR test-time pose opt. | d vs base | "
          "train s | Gaussians |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for name in table:
        r = rows.get(name)
        if r is None:
            continue
        g, o = r["given_pose"], r["pose_optimised"]
        dg = g["psnr"] - base["given_pose"]["psnr"] if base else float("nan")
        do = (o["psnr"] or float("nan")) - (base["pose_optimised"]["psnr"] or float("nan")) if base else float("nan")
        print(f"| {name} | {g['psnr']:.2f} | {dg:+.2f} | {g['ssim']:.3f} | {o['psnr'] or float('nan'):.2f} | "
              f"{do:+.2f} | {r['train_seconds']:.0f} | {r['n_gaussians']} |")  # fmt: skip
    print(f"-> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
