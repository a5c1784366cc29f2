"""Reproduce the shipped MIMO-UNet weights (``deblur2d/weights/mimo-unet.safetensors``); one JSON result.

What it does: ``sharpsplat train-deblur2d --preset cpu`` (configs/deblur2d-cpu.toml: synthetic phone-shake
pairs from scikit-image's bundled photos and a dead-leaves pool, seed 0, MIMO-UNet, 128 crops, batch 4, Adam,
one CPU thread, wall-clock limit) into ``--out``, then compares the best checkpoint's validation PSNR/SSIM on
the fixed synthetic validation set (runs/deblur2d-val, seed 1234, 8 pairs per blur level) with the blurry
input. With ``--install`` and only if the network beats the input at every blur level (in PSNR and SSIM; with
``--criterion psnr``, in PSNR only), it copies the weights to ``deblur2d/weights/mimo-unet.safetensors`` and
writes ``deblur2d/weights/MODEL_CARD.md``. ``--skip-training`` judges (and installs from) an existing run folder.

Examples::

    python scripts/train_default_weights.py --install                     # what produced the shipped weights
    python scripts/train_default_weights.py --preset gpu --install        # the same on a CUDA GPU
    python scripts/train_default_weights.py --set steps=300 max_minutes=10   # any TrainConfig field

The JSON (stdout and ``<out>/train_default_weights.json``): config, steps, device, wall time, validation per
level (network and input), whether it improved at every level, whether weights were installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see reconstruction/cli.py

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from deblur2d.io.atomic import write_bytes_atomic, write_json_atomic  # noqa: E402
from deblur2d.train import parse_args, train  # noqa: E402
from deblur2d.weights import WEIGHTS_DIR  # noqa: E402


def model_card(result: dict) -> str:
    """The Markdown model card of installed weights, from this script's JSON result."""
    cfg = result["config"]
    v = result["best_validation"]
    rows = "\n".join(
        f"| {lv} | {v[lv]['input_psnr']:.2f} | {v[lv]['psnr']:.2f} | {v[lv]['psnr'] - v[lv]['input_psnr']:+.2f} "
        f"| {v[lv]['input_ssim']:.4f} | {v[lv]['ssim']:.4f} |"
        for lv in result["levels"]
    )
    return f"""# mimo-unet.safetensors: MIMO-UNet trained by sharpsplat

Architecture: MIMO-UNet (Cho et al., ICCV 2021), the small one (8 residual blocks per stage), official layout;
float16 safetensors ({result['weights_bytes'] / 1e6:.1f} MB). Trained from scratch here (no pretrained weights);
reproduce with `python scripts/train_default_weights.py --install` (same seed, same data; CPU timings vary).

This is a short CPU run, not the paper's 3000-epoch GoPro training: expect far less than the official weights
(GoPro 31.7 dB). Pass the official checkpoint with `--weights` when you have it.

## Training
- Data: synthetic pairs made on the fly (deblur2d/blur_synthesis.py): sharp sources are scikit-image's bundled
  photos {', '.join(result['train_photos'])} and a pool of {cfg['dead_leaves']} dead-leaves images; blur is a
  random smooth rotation-dominant 6-DoF camera shake rendered as homographies, averaged in linear light,
  highlights boosted then clipped, shot + read noise, sRGB (gamma 2.2), JPEG 75-95; blur size log-uniform
  0.3%-9% of a 640 px frame width.
- Loss: multi-scale content L1 + 0.1 x multi-scale FFT L1 (deblur2d/losses.py). Adam, lr {cfg['lr']:g} halved
  every {cfg['lr_step']} steps; output convolutions zero-initialised (starts as the identity; not in the paper).
- Steps: {result['step']} run; these weights are its best validation checkpoint, step {v['step']};
  batch {cfg['batch_size']}, random {cfg['crop']}x{cfg['crop']} crops, flips and 90-degree turns, seed {cfg['seed']}.
- Device: {result['device']} ({result['cpu']}), {result['threads']} torch thread(s), {result['precision']}, machine
  shared with other jobs; wall time {result['wall_s_total'] / 60:.1f} min; trained {result['date']}.

## Validation (fixed synthetic set, runs/deblur2d-val: seed 1234, {v[result['levels'][0]]['n']} pairs of 256x256
per level, held-out photos {', '.join(result['val_photos'])} and held-out dead-leaves images)
Blur levels: mean start-to-end displacement of 0.94% / 3.1% / 7.5% of the frame width (6 / 20 / 48 px at 640).
PSNR (dB, float, clamped to [0, 1]) and SSIM (Gaussian, sigma 1.5), mean over the pairs.

| level | input PSNR | output PSNR | gain | input SSIM | output SSIM |
|---|---|---|---|---|---|
{rows}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu", help="configs/deblur2d-<preset>.toml (default: cpu)")
    ap.add_argument("--out", default="runs/deblur2d-default", help="run folder")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="override TrainConfig fields")
    ap.add_argument("--install", action="store_true", help="install the weights if they beat the input everywhere")
    ap.add_argument("--criterion", choices=["psnr+ssim", "psnr"], default="psnr+ssim",
                    help="what must beat the blurry input at every level for --install (default: both)")
    ap.add_argument("--skip-training", action="store_true", help="judge the finished run in --out, do not train")
    args = ap.parse_args()

    flags = ["--preset", args.preset, "--out", args.out, "--no-progress"]
    for kv in args.set:
        k, _, val = kv.partition("=")
        flags += [f"--{k.replace('_', '-')}", val]
    cfg = parse_args(flags)
    if cfg.device == "cpu" and cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if args.skip_training:
        if not (out / "metrics.json").is_file():
            print(f"--skip-training: no finished run in {out} (metrics.json missing)", file=sys.stderr)
            return 2
        summary = json.loads((out / "metrics.json").read_text())
    else:
        summary = train(cfg)
    best = json.loads((out / "best_validation.json").read_text())
    levels = [k for k in best if isinstance(best[k], dict)]
    improved = all(
        best[lv]["psnr"] > best[lv]["input_psnr"]
        and (args.criterion == "psnr" or best[lv]["ssim"] > best[lv]["input_ssim"])
        for lv in levels
    )
    from deblur2d.datasets import TRAIN_PHOTOS, VAL_PHOTOS

    result = {
        **{k: summary[k] for k in ("step", "finished", "stopped_by_time_limit", "device", "precision", "threads",
                                   "wall_s_total", "config")},
        "levels": levels,
        "best_validation": best,
        "last_validation": summary["last_validation"],
        "criterion": args.criterion,
        "improves_every_level": improved,
        "train_photos": list(TRAIN_PHOTOS),
        "val_photos": list(VAL_PHOTOS),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "weights_bytes": (out / "best.safetensors").stat().st_size,
        "installed": False,
    }
    if args.install and improved:
        if cfg.model != "mimo-unet":
            print(f"not installing: model {cfg.model} is not the default", file=sys.stderr)
        else:
            WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
            dest = WEIGHTS_DIR / "mimo-unet.safetensors"
            tmp = dest.with_name(".mimo-unet.partial.safetensors")
            shutil.copyfile(out / "best.safetensors", tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
            result["installed"] = True
            write_bytes_atomic(WEIGHTS_DIR / "MODEL_CARD.md", model_card(result).encode())
    elif args.install:
        print(f"not installing: the network does not beat the blurry input at every level ({args.criterion})",
              file=sys.stderr)
    write_json_atomic(out / "train_default_weights.json", result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
