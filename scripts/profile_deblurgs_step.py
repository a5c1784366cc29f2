"""Where the time of one DeblurGS step goes on the CPU, per rasterizer backend; prints one JSON object.

The synthetic demo scene (made once under ``--work``), the ``deblurgs-cpu-demo`` preset at ``--downscale``, true
mid-exposure poses with the scene's true sparse points. ``--warm-steps`` steps with the first backend bring the
model to a typical state (densified, motion on); the state is checkpointed and every backend then runs
``--steps`` steps from that same checkpoint, each phase timed:

* ``data``: choosing frames (``next_frames``) and their targets; ``render_forward``: the S sub-frame renders
  (``predict_blurry``); ``backward``: ``loss.backward()`` (rasterizer, trajectories, SH, loss); ``optimizer``:
  the Gaussians' Adam steps; ``motion``: trajectory and appearance row-Adam steps; ``densify``: densification
  (``step_post_backward``); ``other``: the rest of ``train_step`` (loss terms, PSNR of the step, bookkeeping).

    python scripts/profile_deblurgs_step.py --downscale 2 --backends torch,native
    python scripts/profile_deblurgs_step.py --downscale 1 --backends native
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timed(times: dict[str, float], key: str, fn):
    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            times[key] = times.get(key, 0.0) + time.perf_counter() - t0

    return wrapper


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("runs/profile_deblurgs"))
    ap.add_argument("--preset", default="deblurgs-cpu-demo")
    ap.add_argument("--downscale", type=int, default=2)
    ap.add_argument("--backends", default="torch,native")
    ap.add_argument("--warm-steps", type=int, default=150, help="steps before profiling (motion starts at 50)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch

    from reconstruction.deblurgs.cli import load_preset
    from reconstruction.deblurgs.data import load_scene
    from reconstruction.deblurgs.trainer import DeblurGSTrainer
    from reconstruction.synthetic import make_scene

    torch.set_num_threads(a.threads)
    scene = a.work / f"scene-demo-strong-s{a.seed}"
    if not (scene / "gt" / "cameras.json").is_file():
        make_scene(scene, preset="demo", seed=a.seed, blur="strong", write_true_sparse=True, overwrite=True,
                   progress=False)  # fmt: skip
    base = load_preset(a.preset)
    backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    sc = load_scene(scene, "gt", a.downscale, seed=a.seed)

    def trainer_for(backend: str) -> DeblurGSTrainer:
        gs = dataclasses.replace(base.config.gs, backend=backend, seed=a.seed)
        cfg = dataclasses.replace(base.config, gs=gs)
        return DeblurGSTrainer(cfg, sc.images, sc.K, sc.c2ws, points=sc.points, colors=sc.colors)

    ckpt = a.work / f"warm-{a.downscale}-{a.warm_steps}.pt"
    t0 = time.perf_counter()
    if not ckpt.is_file():
        tr = trainer_for(backends[-1])
        while tr.step < a.warm_steps:
            tr.train_step()
        tr.save_checkpoint(ckpt)
    warm_s = time.perf_counter() - t0

    out: dict = {"command": " ".join(sys.argv), "resolution": [sc.width, sc.height], "preset": a.preset,
                 "n_subframes": base.config.n_subframes, "warm_steps": a.warm_steps, "warm_seconds": warm_s,
                 "threads": a.threads, "torch": torch.__version__, "cpu_count": os.cpu_count(),
                 "machine": platform.machine(), "load_average_before": os.getloadavg()[0], "backends": {}}  # fmt: skip
    for backend in backends:
        tr = trainer_for(backend)
        tr.load_checkpoint(ckpt)
        per_step: list[dict[str, float]] = []
        times: dict[str, float] = {}
        tr.next_frames = _timed(times, "data", tr.next_frames)
        tr.predict_blurry = _timed(times, "render_forward", tr.predict_blurry)
        for opt in tr.optimizers.values():
            opt.step = _timed(times, "optimizer", opt.step)
        tr.strategy.step_post_backward = _timed(times, "densify", tr.strategy.step_post_backward)
        backward = torch.autograd.backward
        torch.autograd.backward = _timed(times, "backward", backward)
        tr.motion_opt.step = _timed(times, "motion", tr.motion_opt.step)
        tr.app_opt.step = _timed(times, "motion", tr.app_opt.step)
        try:
            for _ in range(a.steps + 2):
                times.clear()
                c0 = time.process_time()
                t0 = time.perf_counter()
                tr.train_step()
                total = time.perf_counter() - t0
                row = dict(times)
                row["other"] = total - sum(times.values())
                row["total"] = total
                row["cpu"] = time.process_time() - c0
                per_step.append(row)
        finally:
            torch.autograd.backward = backward
        rows = per_step[2:]  # the first two warm caches and, for native, the build
        keys = sorted({k for r in rows for k in r})
        out["backends"][backend] = {
            "ms_per_step": {k: round(1000 * statistics.median([r.get(k, 0.0) for r in rows]), 2) for k in keys},
            "n_gaussians": len(tr.model),
        }
    out["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
