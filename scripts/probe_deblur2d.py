"""Why short MIMO-UNet runs barely learn, measured: overfit one batch, then short probes of the training recipe.

    python scripts/probe_deblur2d.py overfit --steps 300                       # can the pipeline fit 8 pairs?
    python scripts/probe_deblur2d.py recipe --steps 500 --sharp-dirs ../shared/photos   # data/recipe probes
    python scripts/probe_deblur2d.py sweep --minutes 8 --sharp-dirs ../shared/photos    # width/depth sweep

``overfit``: one fixed batch (8 pairs, 128 crops, strong blur), the compact network, AdamW + the project's loss;
prints the PSNR on that batch against the steps (a pipeline that can learn goes far above the input).
``recipe``: the same network and budget under training-data variants (see VARIANTS), each validated on the
fixed validation set (runs/deblur2d-val2); the table is the gain over the blurry input per blur level.
``sweep``: compute-matched: each (width, depth) gets the same wall-clock budget, converted to a step count
from its own measured seconds per step on this machine (measured before training, so other load on the
machine changes the wall time, not the budget), then the same recipe; ranked by validation PSNR at strong.
Every result is one JSON on stdout and in ``--out``/<mode>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from deblur2d.train import TrainConfig, train  # noqa: E402

#: Recipe probes: TrainConfig overrides on top of the short-schedule recipe (RECIPE).
VARIANTS: dict[str, dict] = {
    "old-data": {"reference": "mid", "keep_low_frequencies": 0.0, "blur_max": 0.09},
    "centroid": {"reference": "mean", "keep_low_frequencies": 0.0, "blur_max": 0.09},
    "centroid+no-bias": {"reference": "mean", "keep_low_frequencies": 16.0, "blur_max": 0.09},
    "centroid+no-bias+curriculum": {"reference": "mean", "keep_low_frequencies": 16.0, "blur_max": 0.08,
                                    "curriculum_start": 0.02},
}
RECIPE = {"optimizer": "adamw", "schedule": "cosine", "lr": 1e-3, "warmup_steps": 50, "min_lr": 1e-5,
          "grad_clip": 0.5, "ema": 0.995, "batch_size": 8, "crop": 128, "num_workers": 1, "progress": False,
          "select_level": "strong"}


def overfit(args) -> dict:
    from deblur2d.datasets import SyntheticPairs, skimage_photo
    from deblur2d.hardware import auto_precision
    from deblur2d.losses import mimo_loss
    from deblur2d.metrics import psnr
    from deblur2d.mimo_unet import build_model
    from deblur2d.train import zero_output_layers

    torch.manual_seed(args.seed)
    ds = SyntheticPairs([skimage_photo("astronaut"), skimage_photo("chelsea")], crop=128, seed=args.seed,
                        blur="strong")
    items = [ds[i] for i in range(8)]
    x = torch.stack([a for a, _ in items]).contiguous(memory_format=torch.channels_last)
    y = torch.stack([b for _, b in items])
    net = build_model(args.model)
    zero_output_layers(net)
    net.to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr)
    amp = auto_precision(torch.device("cpu"))
    curve = [{"step": 0, "psnr": float(psnr(x, y))}]
    t0 = time.monotonic()
    for step in range(1, args.steps + 1):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp == torch.bfloat16):
            out = net(x)
        loss = mimo_loss(out, y)["total"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()
        if step % max(1, args.steps // 10) == 0 or step == args.steps:
            with torch.no_grad():
                p = float(psnr(net(x)[-1].float().clamp(0, 1), y))
            curve.append({"step": step, "psnr": p, "loss": float(loss.detach())})
            print(f"overfit step {step}: batch PSNR {p:.2f} dB (input {curve[0]['psnr']:.2f})", file=sys.stderr)
    return {"mode": "overfit", "model": args.model, "input_psnr": curve[0]["psnr"], "curve": curve,
            "final_gain_db": curve[-1]["psnr"] - curve[0]["psnr"], "wall_s": time.monotonic() - t0,
            "precision": str(amp), "threads": torch.get_num_threads()}


def _gains(run: Path) -> list[dict]:
    rows = []
    for line in (run / "val_history.jsonl").read_text().splitlines():
        v = json.loads(line)
        lv = [k for k in v if isinstance(v[k], dict)]
        rows.append({"step": v["step"], **{k: round(v[k]["psnr"] - v[k]["input_psnr"], 3) for k in lv},
                     **{f"{k}_ssim_gain": round(v[k]["ssim"] - v[k]["input_ssim"], 4) for k in lv}})
    return rows


def _config(args, out: Path, **over) -> TrainConfig:
    base = {**RECIPE, "out": out, "seed": args.seed, "sharp_dirs": [Path(p) for p in args.sharp_dirs],
            "val_every": args.val_every, "ckpt_every": 100, "log_every": 50}
    base.update(over)
    return TrainConfig(**base)


def recipe(args) -> dict:
    results = {}
    names = args.variants or list(VARIANTS)
    for name in names:
        out = Path(args.out) / f"recipe-{name}"
        cfg = _config(args, out, model=args.model, steps=args.steps,
                      curriculum_steps=int(0.8 * args.steps), **VARIANTS[name])
        print(f"== recipe probe {name}: {VARIANTS[name]}", file=sys.stderr)
        s = train(cfg)
        results[name] = {"overrides": VARIANTS[name], "validation": _gains(out),
                         "seconds_per_step": s["seconds_per_step_this_run"],
                         "data_wait_fraction": s["data_wait_fraction_this_run"]}
    return {"mode": "recipe", "model": args.model, "steps": args.steps, "recipe": RECIPE, "results": results}


def seconds_per_step(arch: tuple[int, int], batch: int, crop: int, repeats: int = 4) -> float:
    """Median wall time of one training step (forward, loss, backward, AdamW) of a random batch."""
    from deblur2d.hardware import auto_precision
    from deblur2d.losses import mimo_loss
    from deblur2d.mimo_unet import MIMOUNet

    net = MIMOUNet(*arch).to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, crop, crop).contiguous(memory_format=torch.channels_last)
    amp = auto_precision(torch.device("cpu")) == torch.bfloat16
    times = []
    for i in range(repeats + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = net(x)
        loss = mimo_loss(out, x)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t)
    return float(np.median(times))


def sweep(args) -> dict:
    archs = [tuple(int(v) for v in a.split("x")) for a in args.archs]
    best_variant = VARIANTS[args.variant]
    rows = []
    for c, n in archs:
        sps = seconds_per_step((c, n), RECIPE["batch_size"], RECIPE["crop"])
        steps = max(50, int(args.minutes * 60 / sps))
        out = Path(args.out) / f"sweep-c{c}-b{n}"
        print(f"== sweep c{c} b{n}: {sps:.3f} s/step measured -> {steps} steps for {args.minutes} min", file=sys.stderr)
        cfg = _config(args, out, model=f"mimo-unet-c{c}-b{n}", steps=steps,
                      curriculum_steps=int(0.8 * steps), val_every=max(25, steps // 4), **best_variant)
        s = train(cfg)
        gains = _gains(out)
        rows.append({"base_channels": c, "num_res": n,
                     "params_M": round(sum(p.numel() for p in __import__("deblur2d.mimo_unet", fromlist=["x"])
                                           .MIMOUNet(c, n).parameters()) / 1e6, 3),
                     "seconds_per_step_idle": sps, "steps": steps,
                     "wall_s": s["wall_s_this_run"], "final": gains[-1], "best_strong": max(g["strong"] for g in gains),
                     "validation": gains})
    rows.sort(key=lambda r: -r["final"]["strong"])
    return {"mode": "sweep", "minutes_each": args.minutes, "variant": args.variant, "recipe": RECIPE,
            "ranking_by_final_strong_gain": [f"c{r['base_channels']}-b{r['num_res']}" for r in rows], "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["overfit", "recipe", "sweep"])
    ap.add_argument("--model", default="mimo-unet-compact")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sharp-dirs", nargs="*", default=[])
    ap.add_argument("--variants", nargs="*", default=None, help=f"recipe probes to run (default all: {list(VARIANTS)})")
    ap.add_argument("--variant", default="centroid+no-bias+curriculum", help="sweep: the data recipe")
    ap.add_argument("--archs", nargs="*", default=["16x4", "24x4", "32x2", "16x8"], help="sweep: CxN pairs")
    ap.add_argument("--minutes", type=float, default=8.0, help="sweep: budget per configuration")
    ap.add_argument("--val-every", type=int, default=125)
    ap.add_argument("--out", default="runs/probes")
    args = ap.parse_args()
    torch.set_num_threads(2)
    result = {"overfit": overfit, "recipe": recipe, "sweep": sweep}[args.mode](args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from deblur2d.io.atomic import write_json_atomic

    write_json_atomic(out / f"{args.mode}.json", result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
