"""Per-frame appearance model against ground truth: synthetic scenes whose frames change exposure and white
balance, trained with each appearance model, scored at the reference appearance against the sharp truth.

    OMP_WAIT_POLICY=PASSIVE python scripts/bench_appearance.py [--preset tiny] [--seeds 0 1] [--stops 0.4] \
        [--white-balance 0.07] [--steps 300] [--out runs/bench_appearance.json]

Per seed: one scene with the changes and the same scene without them (the ceiling); true poses and points,
motion off (so only the colour model differs); the PyTorch backend (bit-stable numbers). Prints JSON: PSNR of the
reference-appearance renders of the training views against ``gt/sharp``, per-frame training-fit spread, and the
largest error of the learned gains against the true ones (after both are centred to a geometric mean of 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run_one(scene: Path, mode: str, steps: int) -> dict:
    """Train ``scene`` with appearance ``mode``; returns PSNR vs truth, fit spread and gain errors."""
    import numpy as np
    import torch

    from deblur2d.metrics import psnr
    from reconstruction.deblurgs.cli import load_preset
    from reconstruction.deblurgs.data import downscale_image, load_scene, read_image
    from reconstruction.deblurgs.trainer import DeblurGSTrainer

    torch.manual_seed(0)
    sc = load_scene(scene, "gt", downscale=2)
    truth = torch.as_tensor(np.stack([downscale_image(read_image(scene / "gt" / "sharp" / f), 2) for f in sc.files]))
    base = load_preset("tiny").config
    cfg = dataclasses.replace(base, motion=False, appearance=mode, appearance_start_step=steps // 8,
                              appearance_refit_every=steps // 4,
                              gs=dataclasses.replace(base.gs, steps=steps, backend="torch"))  # fmt: skip
    tr = DeblurGSTrainer(cfg, sc.images, sc.K, sc.c2ws, points=sc.points, colors=sc.colors)
    t0 = time.perf_counter()
    tr.train(progress=False)
    fit = tr.training_fit()
    out = {"mode": mode, "psnr_vs_truth": float(psnr(tr.render_sharp(), truth)), "fit_mean": fit["mean"],
           "fit_std": fit["std"], "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    cams = json.loads((scene / "gt" / "cameras.json").read_text())["frames"]
    true = np.array([f.get("gain_rgb", [1.0, 1.0, 1.0]) for f in cams])
    learned = np.array([np.diag(a["A"]) for a in tr.appearance_json()])
    err = np.log(np.clip(learned, 1e-3, None)) - np.log(true)  # an affine diagonal can reach 0 or below
    err -= err.mean(0)  # both up to a shared reference
    out["gain_error_max_pct"] = float(100 * np.expm1(np.abs(err)).max())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--blur", default="mild")
    ap.add_argument("--stops", type=float, default=0.4, help="exposure spread (stops)")
    ap.add_argument("--white-balance", type=float, default=0.07, help="white-balance spread")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--modes", nargs="+", default=["none", "gain", "affine"])
    ap.add_argument("--work", type=Path, default=Path("runs/bench_appearance"))
    ap.add_argument("--out", type=Path, default=Path("runs/bench_appearance.json"))
    args = ap.parse_args(argv)

    from deblur2d.io.atomic import write_json_atomic
    from reconstruction.synthetic import make_scene

    rows = []
    for seed in args.seeds:
        for changes in (True, False):
            name = f"{args.preset}-{args.blur}-seed{seed}-{'exposure' if changes else 'steady'}"
            scene = args.work / name
            if not (scene / "gt" / "cameras.json").is_file():
                make_scene(scene, preset=args.preset, seed=seed, blur=args.blur, write_true_sparse=True,
                           overwrite=True, progress=False, exposure_stops=args.stops if changes else 0.0,
                           white_balance=args.white_balance if changes else 0.0)  # fmt: skip
            for mode in args.modes if changes else ["none"]:
                r = {"seed": seed, "scene": name, **run_one(scene, mode, args.steps)}
                print(json.dumps(r), file=sys.stderr)
                rows.append(r)
    summary = {}
    for mode in args.modes:
        vals = [r["psnr_vs_truth"] for r in rows if r["mode"] == mode and r["scene"].endswith("exposure")]
        summary[mode] = sum(vals) / len(vals)
    steady = [r["psnr_vs_truth"] for r in rows if r["scene"].endswith("steady")]
    summary["no changes (ceiling)"] = sum(steady) / len(steady)
    result = {"what": "reference-appearance renders vs sharp truth (dB), frames with exposure / white-balance "
                      "changes; mean over seeds", "mean_psnr": summary, "rows": rows, "argv": vars(args)}  # fmt: skip
    result["argv"] = {k: str(v) if isinstance(v, Path) else v for k, v in result["argv"].items()}
    write_json_atomic(args.out, result)
    print(json.dumps({"mean_psnr": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
