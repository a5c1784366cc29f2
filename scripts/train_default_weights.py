"""Reproduce the shipped weights (``deblur2d/weights/mimo-unet-compact.safetensors``); one JSON result.

What it does: ``sharpsplat train-deblur2d --preset cpu`` (configs/deblur2d-cpu.toml: the compact MIMO-UNet,
synthetic phone-shake pairs from the sharp photos of ``--sharp-dirs``, scikit-image's bundled photos and a
dead-leaves pool, seed 0, the short-schedule recipe with EMA) into ``--out``, then compares the best EMA
checkpoint's validation PSNR/SSIM on the fixed synthetic validation set (runs/deblur2d-val2, seed 1234, 8 pairs
per blur level) with the blurry input. With ``--install`` and only if the network beats the input at every
blur level (in PSNR and SSIM; with ``--criterion psnr``, in PSNR only), it copies the weights to
``deblur2d/weights/<model>.safetensors`` and writes ``deblur2d/weights/MODEL_CARD.md``. ``--skip-training``
judges (and installs from) an existing run folder, finished or stopped by ``max_minutes``; the run resumes
from its ``checkpoint.pt`` when started again.

Examples::

    python scripts/train_default_weights.py --sharp-dirs ../shared/photos --install   # the shipped weights
    python scripts/train_default_weights.py --preset gpu --install                     # full MIMO-UNet on CUDA
    python scripts/train_default_weights.py --set steps=300 max_minutes=10             # any TrainConfig field

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


def _blur_line(cfg: dict) -> str:
    """The blur-size sentence of the card: range, curriculum, share of unblurred pairs."""
    line = f"Blur size log-uniform {100 * cfg['blur_min']:.1f}%-{100 * cfg['blur_max']:.1f}% of a 640 px frame width"
    if cfg.get("curriculum_start", 0) > 0:
        line += (f", the largest growing from {100 * cfg['curriculum_start']:.0f}% over the first "
                 f"{cfg['curriculum_steps']} steps")  # fmt: skip
    if cfg.get("sharp_fraction", 0) > 0:
        line += f"; {100 * cfg['sharp_fraction']:.0f}% of the pairs unblurred (noise and JPEG only)"
    return line + "."


def model_card(result: dict) -> str:
    """The Markdown model card of installed weights, from this script's JSON result."""
    cfg = result["config"]
    v = result["best_validation"]
    rows = "\n".join(
        f"| {lv} | {v[lv]['input_psnr']:.2f} | {v[lv]['psnr']:.2f} | {v[lv]['psnr'] - v[lv]['input_psnr']:+.2f} "
        f"| {v[lv]['input_ssim']:.4f} | {v[lv]['ssim']:.4f} |"
        for lv in result["levels"]
    )
    hist = "\n".join(f"| {h['step']} | " + " | ".join(f"{h[lv]['psnr'] - h[lv]['input_psnr']:+.2f}"
                                                    for lv in result["levels"]) + " |"
                     for h in result["history"])
    real = result.get("real_footage") or "not measured (scripts/bench_deblur2d_real.py)"
    origin = (f"Fine-tuned here from `{cfg['init_weights']}` (its own card or README says how that was trained)."
              if cfg.get("init_weights") else "Trained from scratch here, no pretrained weights.")
    return f"""# {result['model']}.safetensors: a compact MIMO-UNet trained by sharpsplat

Architecture: the MIMO-UNet family (Cho et al., ICCV 2021) at {cfg_arch(result)}: the official layout and key
names with fewer channels and residual blocks ({result['params_M']:.2f} M parameters; MIMO-UNet has 6.81 M).
float16 safetensors ({result['weights_bytes'] / 1e6:.2f} MB); the metadata records the architecture, so
`Restorer()` / `sharpsplat deblur` build it without flags. {origin}
Reproduce: `{result['command']}` (same seed and data; CPU timings vary; the run resumes from its checkpoint).

## Training
- Data: synthetic pairs made on the fly (deblur2d/blur_synthesis.py) from sharp sources: {result['sources']};
  blur is a random smooth rotation-dominant 6-DoF camera shake rendered as homographies, averaged in linear
  light, near-white pixels boosted by up to {cfg.get('highlight_gain_max', 6.0):g}x then clipped, shot + read noise,
  sRGB (gamma 2.2), JPEG 75-95; the target is the frame at the blur's centroid, and the blurry image keeps the
  target's low frequencies (no brightness bias). {_blur_line(cfg)}
- Loss: multi-scale content L1 + 0.1 x multi-scale FFT L1 (deblur2d/losses.py), as the paper.
- Optimiser: {cfg['optimizer']}, peak lr {cfg['lr']:g}, {cfg['warmup_steps']} warm-up steps then cosine to
  {cfg['min_lr']:g} over {cfg['steps']} steps; gradient-norm clipping {cfg['grad_clip']}; EMA {cfg['ema']}
  (these are the EMA weights); {"starts from the weights above" if cfg.get("init_weights") else
  "output convolutions zero-initialised (starts as the identity)"}.
- Batch {cfg['batch_size']}, random {cfg['crop']}x{cfg['crop']} crops, flips and 90-degree turns, seed {cfg['seed']}.
- Steps run: {result['step']} of {cfg['steps']} ({'finished' if result['finished'] else 'stopped, resumable'});
  shipped checkpoint: step {v['step']}, chosen by validation PSNR at {result['select_level']} blur.
- Device: {result['device']} ({result['cpu']}), {result['threads']} torch threads, {result['precision']};
  wall time {result['wall_s_total'] / 3600:.2f} h in all (the 2-core machine also ran benchmarks and tests
  beside it, at higher priority); the network waited for data {100 * result.get('data_wait_fraction', 0):.1f}% of
  the time; trained {result['date']}.
- {_trend(result)}

## Validation (fixed synthetic set runs/deblur2d-val2: seed 1234, {v[result['levels'][0]]['n']} pairs of 256x256
per level, held-out photos {', '.join(result['val_photos'])} and held-out dead-leaves images)
Blur levels: mean start-to-end displacement of 0.94% / 3.1% / 7.5% of the frame width (6 / 20 / 48 px at 640).
PSNR (dB, clamped to [0, 1]) and SSIM (Gaussian, sigma 1.5), mean over the pairs, EMA weights, bf16 where used.

| level | input PSNR | output PSNR | gain | input SSIM | output SSIM |
|---|---|---|---|---|---|
{rows}

Gain over the blurry input (dB) along the run:

| step | {' | '.join(result['levels'])} |
|---|{'---|' * len(result['levels'])}
{hist}

## Real footage (no ground truth)
{real}

## Limitations
- Trained only on synthetic camera shake over static photos: no moving objects, no defocus, no rolling shutter,
  no real ISP (denoising, sharpening, local tone mapping). The validation set is made by the same synthesis.
- A compact network trained for CPU hours: far below the official MIMO-UNet on GoPro (31.73 dB). For the best
  single-image results use the official checkpoints (`sharpsplat weights get MIMO-UNet`).
- The sharp photos are research benchmark images (Urban100, Sun-Hays 80, BSD68); their own terms apply.
"""


def _last_wait(out: Path, summary: dict) -> float:
    """Fraction of time the network waited for data: the training log's last value (a run that only validated
    has none of its own)."""
    log = out / "train_log.jsonl"
    rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()] if log.is_file() else []
    return float(rows[-1]["data_wait_fraction"]) if rows else float(summary.get("data_wait_fraction_this_run", 0.0))


def _trend(result: dict) -> str:
    h = result["history"]
    if len(h) < 2:
        return ""
    a, b = h[-2], h[-1]
    d = {lv: (b[lv]["psnr"] - b[lv]["input_psnr"]) - (a[lv]["psnr"] - a[lv]["input_psnr"]) for lv in result["levels"]}
    still = "still improving" if max(d.values()) > 0 else "no longer improving"
    return (f"At the last validations ({a['step']} -> {b['step']} steps) it was {still}: "
            + ", ".join(f"{lv} {d[lv]:+.2f} dB" for lv in result["levels"]) + ".")


def cfg_arch(result: dict) -> str:
    return f"{result['base_channels']} base channels, {result['num_res']} residual blocks per stage"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu", help="configs/deblur2d-<preset>.toml (default: cpu)")
    ap.add_argument("--out", default="runs/deblur2d-default", help="run folder")
    ap.add_argument("--sharp-dirs", nargs="*", default=[], help="folders of sharp photos to train on")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="override TrainConfig fields")
    ap.add_argument("--install", action="store_true", help="install the weights if they beat the input everywhere")
    ap.add_argument("--criterion", choices=["psnr+ssim", "psnr"], default="psnr+ssim",
                    help="what must beat the blurry input at every level for --install (default: both)")
    ap.add_argument("--skip-training", action="store_true", help="judge the run in --out as it is, do not train")
    ap.add_argument("--real-report", default=None,
                    help="JSON of scripts/bench_deblur2d_real.py for these weights, summarised in the model card")
    args = ap.parse_args()

    flags = ["--preset", args.preset, "--out", args.out, "--no-progress"]
    for d in args.sharp_dirs:
        flags += ["--sharp-dirs", d]
    for kv in args.set:
        k, _, val = kv.partition("=")
        flags += [f"--{k.replace('_', '-')}", val]
    cfg = parse_args(flags)
    if cfg.device == "cpu" and cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if args.skip_training:
        if not (out / "metrics.json").is_file():
            print(f"--skip-training: no run in {out} (metrics.json missing)", file=sys.stderr)
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
    from deblur2d.mimo_unet import MIMOUNet

    history = list({h["step"]: h for h in (json.loads(x) for x in (out / "val_history.jsonl").read_text()
                                                     .splitlines() if x.strip())}.values())  # last row per step
    sources = [f"{len(TRAIN_PHOTOS)} scikit-image photos ({', '.join(TRAIN_PHOTOS)})"] if summary["config"].get(
        "photos", True) else []
    sources += [f"the photos under {d}" for d in summary["config"].get("sharp_dirs", [])]
    sources += [f"{summary['config']['dead_leaves']} dead-leaves images"]
    real = None
    if args.real_report:
        rep = json.loads(Path(args.real_report).read_text())
        real = "\n".join(
            f"- {Path(src).name}: {r['frames']} frames at {r['size'][1]}x{r['size'][0]}: mean colour drift in linear "
            f"light (low-passed output minus input) R/G/B {', '.join(f'{x:+.4f}' for x in r['mean']['drift_mean_rgb'])}"
            f", mean |drift| {r['mean']['drift_abs_mean']:.4f}; mean gradient x{r['mean']['gradient_ratio']:.3f}"
            for src, r in rep["sources"].items())
    result = {
        **{k: summary[k] for k in ("step", "finished", "stopped_early", "device", "precision", "threads",
                                   "wall_s_total", "config", "model", "base_channels", "num_res", "select_level")},
        "data_wait_fraction": _last_wait(out, summary),
        "params_M": sum(p.numel() for p in MIMOUNet(summary["base_channels"], summary["num_res"]).parameters()) / 1e6,
        "levels": levels,
        "best_validation": best,
        "last_validation": summary["last_validation"],
        "history": history,
        "criterion": args.criterion,
        "improves_every_level": improved,
        "sources": "; ".join(sources),
        "val_photos": list(VAL_PHOTOS),
        "real_footage": real,
        "command": "python scripts/train_default_weights.py " + " ".join(
            (["--sharp-dirs", *args.sharp_dirs] if args.sharp_dirs else []) + ["--install"]),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "weights_bytes": (out / "best.safetensors").stat().st_size,
        "installed": False,
    }
    if args.install and improved:
        WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
        dest = WEIGHTS_DIR / f"{summary['model']}.safetensors"
        tmp = dest.with_name(f".{dest.stem}.partial.safetensors")
        shutil.copyfile(out / "best.safetensors", tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        result["installed"] = True
        from deblur2d.weights import DEFAULT_MODEL

        card = "MODEL_CARD.md" if summary["model"] == DEFAULT_MODEL else f"MODEL_CARD-{summary['model']}.md"
        write_bytes_atomic(WEIGHTS_DIR / card, model_card(result).encode())
    elif args.install:
        print(f"not installing: the network does not beat the blurry input at every level ({args.criterion})",
              file=sys.stderr)
    write_json_atomic(out / "train_default_weights.json", result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
