"""``sharpsplat train-deblur2d``: train MIMO-UNet / MIMO-UNet+ as the paper does, on synthetic or real pairs.

Recipe (Cho et al., ICCV 2021; github chosj95/MIMO-UNet, main.py and train.py): random ``crop`` windows (256
there) with random horizontal flips (here also vertical flips and 90-degree turns, see
:func:`deblur2d.datasets.augment`), loss ``content + 0.1 * frequency`` (:mod:`deblur2d.losses`), Adam at lr
1e-4 without weight decay, batch 4, learning rate halved every ``lr_step`` steps (the official code: every 500
of 3000 epochs). Data default: synthetic phone-shake pairs
made on the fly (:mod:`deblur2d.blur_synthesis`); ``--train-pairs`` trains on a GoPro folder or RealBlur list.

Run folder ``--out``: ``checkpoint.pt`` (model, optimiser, scheduler, step, best score; written atomically every
``ckpt_every`` steps and at the end; a rerun resumes from it), ``last.safetensors`` and ``best.safetensors``
(half precision, by mean validation PSNR), ``val_history.jsonl`` (one line per validation) and
``metrics.json``. Validation runs on the fixed synthetic set (:func:`deblur2d.datasets.make_validation_set`).

Presets: ``--preset cpu`` reads ``configs/deblur2d-cpu.toml`` (any ``.toml`` path works too); flags given
after it override the file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .io.atomic import atomic_path, write_json_atomic
from .io.errors import UserError

log = logging.getLogger("sharpsplat.deblur2d.train")

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass
class TrainConfig:
    """Train MIMO-UNet (single-image deblurring) with the paper's losses on synthetic or real blurry/sharp pairs."""

    out: Path = Path("runs/deblur2d")
    """Run folder (checkpoints, weights, validation history)."""
    model: Literal["mimo-unet", "mimo-unet-plus"] = "mimo-unet"
    steps: int = 3000
    """Optimiser steps in all."""
    batch_size: int = 4
    crop: int = 256
    """Training window side in pixels (multiple of 4)."""
    lr: float = 1e-4
    """Adam learning rate (paper: 1e-4)."""
    lr_step: int = 100000
    """Halve the learning rate every this many steps (paper: every 500 epochs)."""
    lr_gamma: float = 0.5
    seed: int = 0
    train_pairs: Path | None = None
    """GoPro-layout folder or RealBlur-style list to train on; default: synthetic pairs."""
    photos: bool = True
    """Synthetic: use scikit-image's bundled photos (validation photos excluded) as sharp sources."""
    dead_leaves: int = 24
    """Synthetic: size of the dead-leaves image pool (0: none)."""
    sharp_dirs: list[Path] = field(default_factory=list)
    """Synthetic: extra folders of sharp images."""
    val_dir: Path = Path("runs/deblur2d-val")
    """Fixed validation set folder; written on first use, reused after."""
    val_per_level: int = 8
    """Validation pairs per blur level (part of the set's identity: a different value needs another --val-dir)."""
    val_size: int = 256
    """Side of the validation images in pixels (same remark)."""
    val_every: int = 200
    """Validate every this many steps (and at the end); 0: only at the end."""
    ckpt_every: int = 100
    log_every: int = 10
    zero_init_output: bool = True
    """Start as the identity (zero the three output convolutions); not in the paper, helps short runs."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["auto", "off", "bf16"] = "auto"
    """auto: bf16 autocast on CUDA, off on CPU."""
    threads: int | None = None
    """CPU threads for torch (default: torch's choice)."""
    num_workers: int = 0
    """Data-loading processes (0: in the training process)."""
    max_minutes: float | None = None
    """Stop (validate, save) once this much wall time has passed; a rerun continues."""
    progress: bool = True


PATH_FIELDS = {"out", "train_pairs", "val_dir"}


def load_preset(name: str) -> dict:
    """``configs/deblur2d-<name>.toml`` (or a path to a ``.toml``) -> dict of :class:`TrainConfig` fields."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    path = Path(name) if name.endswith(".toml") else CONFIG_DIR / f"deblur2d-{name}.toml"
    if not path.is_file():
        avail = ", ".join(sorted(p.stem.removeprefix("deblur2d-") for p in CONFIG_DIR.glob("deblur2d-*.toml")))
        raise UserError(f"--preset {name}: no such preset ({path}); available: {avail}")
    data = tomllib.loads(path.read_text())
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    bad = sorted(set(data) - names)
    if bad:
        raise UserError(f"{path}: unknown keys {', '.join(bad)}")
    for k in PATH_FIELDS & set(data):
        data[k] = Path(data[k])
    if "sharp_dirs" in data:
        data["sharp_dirs"] = [Path(p) for p in data["sharp_dirs"]]
    return data


def parse_args(argv: list[str]) -> TrainConfig:
    """Flags -> config: ``--preset NAME`` (anywhere) sets the defaults, every other flag overrides them."""
    import tyro

    argv = list(argv)
    preset = {}
    for i, a in enumerate(argv):
        if a == "--preset" or a.startswith("--preset="):
            name = a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv) else "")
            if not name:
                raise UserError("--preset: give a preset name (e.g. cpu, gpu) or a .toml path")
            del argv[i : i + (1 if "=" in a else 2)]
            preset = load_preset(name)
            break
    return tyro.cli(TrainConfig, default=TrainConfig(**preset), args=argv, prog="sharpsplat train-deblur2d",
                    description=TrainConfig.__doc__ + " Use --preset NAME first to load configs/deblur2d-NAME.toml.")


def build_dataset(cfg: TrainConfig):
    """The training dataset of ``cfg`` (see :mod:`deblur2d.datasets`)."""
    from .datasets import TRAIN_PHOTOS, PairedImages, SyntheticPairs, folder_images, skimage_photo

    if cfg.train_pairs is not None:
        return PairedImages(cfg.train_pairs, crop=cfg.crop, seed=cfg.seed)
    images = [skimage_photo(n) for n in TRAIN_PHOTOS] if cfg.photos else []
    for d in cfg.sharp_dirs:
        images += folder_images(d)
    return SyntheticPairs(images, crop=cfg.crop, seed=cfg.seed, dead_leaves_pool=cfg.dead_leaves)


def zero_output_layers(net: torch.nn.Module) -> None:
    """Zero the last convolution of each output head, so the network starts as the identity."""
    with torch.no_grad():
        for mod in (net.ConvsOut[0], net.ConvsOut[1], net.feat_extract[5]):
            for p in mod.parameters():
                p.zero_()


@torch.no_grad()
def validate(net: torch.nn.Module, val_root: Path, device: torch.device, levels: list[str]) -> dict:
    """Mean PSNR/SSIM of the network output (clamped to [0, 1]) and of the blurry input, per level.

    Returns ``{level: {"psnr", "ssim", "input_psnr", "input_ssim", "n"}, "mean_psnr": ...}``.
    """
    from .datasets import find_pairs, read_pair, to_tensor
    from .metrics import psnr, ssim

    was_training = net.training
    net.eval()
    out: dict = {}
    for level in levels:
        rows = []
        for bpath, spath in find_pairs(val_root / level):
            b, s = read_pair(bpath, spath)
            x = to_tensor(b)[None].to(device)
            y = net(x)[-1].float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
            rows.append((psnr(y, s), ssim(y, s), psnr(b, s), ssim(b, s)))
        r = np.array(rows, dtype=np.float64)
        out[level] = {"psnr": r[:, 0].mean(), "ssim": r[:, 1].mean(), "input_psnr": r[:, 2].mean(),
                      "input_ssim": r[:, 3].mean(), "n": len(rows)}
        out[level] = {k: (float(v) if k != "n" else v) for k, v in out[level].items()}
    out["mean_psnr"] = float(np.mean([out[lv]["psnr"] for lv in levels]))
    net.train(was_training)
    return out


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(name)


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training as configured; returns the final summary also written to ``metrics.json``."""
    from tqdm.auto import tqdm

    from .datasets import ValidationSpec, make_validation_set
    from .losses import mimo_loss
    from .metrics import psnr
    from .mimo_unet import build_model
    from .weights import save_weights

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    device = _resolve_device(cfg.device)
    amp = torch.bfloat16 if (cfg.amp == "bf16" or (cfg.amp == "auto" and device.type == "cuda")) else None
    torch.manual_seed(cfg.seed)
    net = build_model(cfg.model)
    if cfg.zero_init_output:
        zero_output_layers(net)
    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.lr_step), gamma=cfg.lr_gamma)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    step, best, elapsed_before = 0, -math.inf, 0.0
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["torch_rng"])
        step, best, elapsed_before = ck["step"], ck["best"], ck.get("elapsed_s", 0.0)
        log.info("resuming %s at step %d", ckpt_path, step)
    dataset = build_dataset(cfg)
    spec = ValidationSpec(per_level=cfg.val_per_level, size=cfg.val_size)
    val_root = make_validation_set(cfg.val_dir, spec)
    levels = list(spec.levels)
    amp_name = "bf16 autocast" if amp else "fp32"
    print(f"train-deblur2d: {cfg.model} on {device.type} ({amp_name}, {torch.get_num_threads()} threads), "
          f"{'pairs ' + str(cfg.train_pairs) if cfg.train_pairs else 'synthetic phone-shake pairs'}, "
          f"crop {cfg.crop}, batch {cfg.batch_size}, steps {step}->{cfg.steps}, run folder {out}", file=sys.stderr)

    def snapshot() -> dict:
        return {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "torch_rng": torch.get_rng_state(), "step": step, "best": best,
                "elapsed_s": elapsed_before + time.monotonic() - t0, "config": _jsonable(cfg)}

    def run_validation() -> dict:
        nonlocal best
        v = validate(net, val_root, device, levels)
        v["step"] = step
        with open(out / "val_history.jsonl", "a") as f:
            f.write(json.dumps(v) + "\n")
        if v["mean_psnr"] > best:
            best = v["mean_psnr"]
            save_weights(net, out / "best.safetensors", cfg.model, metadata={"step": step, "mean_psnr": best})
            write_json_atomic(out / "best_validation.json", v)
        msg = ", ".join(f"{lv} {v[lv]['psnr']:.2f} dB (input {v[lv]['input_psnr']:.2f})" for lv in levels)
        print(f"validation @ {step}: {msg}", file=sys.stderr)
        return v

    t0 = time.monotonic()
    loader = None
    if cfg.num_workers > 0:
        loader = iter(torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                                                  sampler=range(step * cfg.batch_size, cfg.steps * cfg.batch_size)))
    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, dynamic_ncols=True, desc="train-deblur2d")
    last_val: dict | None = None
    stopped_early = False
    ema_loss = ema_psnr = None
    while step < cfg.steps:
        if cfg.max_minutes is not None and time.monotonic() - t0 > 60 * cfg.max_minutes:
            stopped_early = True
            break
        if loader is not None:
            blurry, sharp = next(loader)
        else:
            items = [dataset[step * cfg.batch_size + j] for j in range(cfg.batch_size)]
            blurry, sharp = torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])
        blurry, sharp = blurry.to(device, non_blocking=True), sharp.to(device, non_blocking=True)
        with torch.autocast(device_type=device.type, dtype=amp, enabled=amp is not None):
            outputs = net(blurry)
        losses = mimo_loss(outputs, sharp)
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        opt.step()
        sched.step()
        step += 1
        with torch.no_grad():
            lv = float(losses["total"])
            pv = float(psnr(outputs[-1].detach().float().clamp(0, 1), sharp))
        ema_loss = lv if ema_loss is None else 0.9 * ema_loss + 0.1 * lv
        ema_psnr = pv if ema_psnr is None else 0.9 * ema_psnr + 0.1 * pv
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            bar.set_postfix(loss=f"{ema_loss:.4f}", psnr=f"{ema_psnr:.2f}", lr=f"{sched.get_last_lr()[0]:.1e}")
            if not cfg.progress:
                print(f"step {step}: loss {ema_loss:.4f} psnr {ema_psnr:.2f}", file=sys.stderr)
        if cfg.val_every and step % cfg.val_every == 0:
            last_val = run_validation()
        if step % cfg.ckpt_every == 0:
            _save_checkpoint(ckpt_path, snapshot())
    bar.close()
    if last_val is None or last_val["step"] != step:
        last_val = run_validation()
    save_weights(net, out / "last.safetensors", cfg.model, metadata={"step": step})
    _save_checkpoint(ckpt_path, snapshot())
    summary = {"step": step, "finished": step >= cfg.steps, "stopped_by_time_limit": stopped_early,
               "best_mean_psnr": best, "last_validation": last_val, "device": device.type,
               "precision": amp_name, "threads": torch.get_num_threads(),
               "wall_s_this_run": time.monotonic() - t0,
               "wall_s_total": elapsed_before + time.monotonic() - t0, "config": _jsonable(cfg)}
    write_json_atomic(out / "metrics.json", summary)
    return summary


def _jsonable(cfg: TrainConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def main(argv: list[str]) -> int:
    """Entry point of ``sharpsplat train-deblur2d``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cfg = parse_args(argv)
    s = train(cfg)
    v = s["last_validation"]
    print(json.dumps({"step": s["step"], "best_mean_psnr": s["best_mean_psnr"],
                      **{k: v[k] for k in v if isinstance(v[k], dict)}}, indent=2))
    return 0
