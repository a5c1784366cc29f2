"""``sharpsplat train-deblur2d``: train a MIMO-UNet-family network on synthetic or real blurry/sharp pairs.

Two recipes, chosen by flags (the presets in ``configs/deblur2d-*.toml`` set them):

- the paper's (Cho et al., ICCV 2021; github chosj95/MIMO-UNet, main.py and train.py): random ``crop``
  windows (256), flips, loss ``content + 0.1 * frequency`` (:mod:`deblur2d.losses`), Adam at lr 1e-4, batch 4,
  learning rate halved every ``lr_step`` steps (``--schedule step``);
- the short-schedule one behind the shipped weights (``--schedule cosine``): AdamW, a higher peak rate with
  linear warm-up then cosine decay to ``min_lr``, gradient-norm clipping, an exponential moving average (EMA)
  of the weights that is what gets validated and exported, a blur curriculum (the largest blur grows from
  ``curriculum_start`` to the full range over ``curriculum_steps``), bf16 autocast where the hardware has it.

Data default: synthetic phone-shake pairs made on the fly (:mod:`deblur2d.blur_synthesis`) by
``num_workers`` processes; with ``blur_on_device`` the workers only cut windows and draw shakes and the
training device renders the blur (:mod:`deblur2d.blur_torch`: homography warps with ``grid_sample``). The
fraction of time the network waited for data is measured and reported. ``--train-pairs`` trains on a GoPro
folder or RealBlur list.

Run folder ``--out``: ``checkpoint.pt`` (model, EMA, optimiser, scheduler, step, best score; written atomically
every ``ckpt_every`` steps and at the end; a rerun resumes from it), ``last.safetensors`` and
``best.safetensors`` (half precision, the EMA weights when EMA is on, by validation PSNR at ``select_level``;
the architecture is in the metadata), ``val_history.jsonl`` (one line per validation), ``train_log.jsonl``
and ``metrics.json``. Validation runs on the fixed synthetic set (:func:`deblur2d.datasets.make_validation_set`).

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
    """Train a MIMO-UNet-family network (single-image deblurring) on synthetic or real blurry/sharp pairs."""

    out: Path = Path("runs/deblur2d")
    """Run folder (checkpoints, weights, validation history)."""
    model: str = "mimo-unet"
    """mimo-unet, mimo-unet-plus, mimo-unet-compact, or mimo-unet-c<C>-b<N> (any width C and depth N)."""
    base_channels: int | None = None
    """Override the width (channels of the full-resolution stage; official 32)."""
    num_res: int | None = None
    """Override the depth (residual blocks per stage; official 8, MIMO-UNet+ 20)."""
    steps: int = 3000
    """Optimiser steps in all."""
    batch_size: int = 4
    crop: int = 256
    """Training window side in pixels (multiple of 4)."""
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-4
    """Learning rate (paper: 1e-4); the peak rate with --schedule cosine."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    schedule: Literal["step", "cosine"] = "step"
    """step: halve every lr_step steps (paper); cosine: linear warm-up then cosine decay to min_lr."""
    lr_step: int = 100000
    """--schedule step: multiply the rate by lr_gamma every this many steps (paper: every 500 epochs)."""
    lr_gamma: float = 0.5
    warmup_steps: int = 0
    """--schedule cosine: steps of linear warm-up from 0."""
    min_lr: float = 1e-5
    """--schedule cosine: rate at the last step."""
    grad_clip: float = 0.0
    """Clip the global gradient norm to this (0: off)."""
    ema: float = 0.0
    """Decay of the exponential moving average of the weights (0: off); validation and export use the EMA."""
    seed: int = 0
    train_pairs: Path | None = None
    """GoPro-layout folder or RealBlur-style list to train on; default: synthetic pairs."""
    photos: bool = True
    """Synthetic: use scikit-image's bundled photos (validation photos excluded) as sharp sources."""
    dead_leaves: int = 24
    """Synthetic: size of the dead-leaves image pool (0: none)."""
    sharp_dirs: list[Path] = field(default_factory=list)
    """Synthetic: extra folders of sharp images (read recursively)."""
    blur_min: float = 0.003
    """Synthetic: smallest blur, mean start-to-end displacement / frame width (log-uniform draw)."""
    blur_max: float = 0.09
    """Synthetic: largest blur (extreme = 0.075)."""
    curriculum_start: float = 0.0
    """Synthetic: largest blur at step 0, growing log-linearly to blur_max at curriculum_steps (0: off)."""
    curriculum_steps: int = 0
    reference: Literal["mean", "mid"] = "mean"
    """Synthetic: target pose, the blur's centroid (mean) or the mid-exposure frame (mid); see blur_synthesis."""
    keep_low_frequencies: float = 16.0
    """Synthetic: the blurry image keeps the sharp one's content below this Gaussian sigma (px; 0: off)."""
    blur_on_device: Literal["auto", "on", "off"] = "auto"
    """Render the blur on the training device (grid_sample) instead of in the data workers; auto: on CUDA."""
    val_dir: Path = Path("runs/deblur2d-val2")
    """Fixed validation set folder; written on first use, reused after."""
    val_per_level: int = 8
    """Validation pairs per blur level (part of the set's identity: a different value needs another --val-dir)."""
    val_size: int = 256
    """Side of the validation images in pixels (same remark)."""
    val_every: int = 200
    """Validate every this many steps (and at the end); 0: only at the end."""
    select_level: Literal["mean", "mild", "strong", "extreme"] = "mean"
    """Which validation PSNR picks best.safetensors: a level's, or the mean over levels."""
    ckpt_every: int = 100
    log_every: int = 10
    zero_init_output: bool = True
    """Start as the identity (zero the three output convolutions); not in the paper, helps short runs."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["auto", "off", "bf16"] = "auto"
    """auto: bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX), fp32 elsewhere."""
    channels_last: bool = True
    threads: int | None = None
    """CPU threads for torch (default: torch's choice)."""
    num_workers: int = 0
    """Data-loading processes (0: in the training process)."""
    max_minutes: float | None = None
    """Stop (validate, save) once this much wall time has passed in this run; a rerun continues."""
    stop_at: int | None = None
    """Stop (validate, save) at this step; the schedule still spans --steps and a rerun without it continues."""
    progress: bool = True
    sharp_fraction: float = 0.0
    """Synthetic: share of training pairs left unblurred (noise and JPEG only), so that the network learns to
    leave sharp content alone."""
    highlight_gain_max: float = 6.0
    """Synthetic: near-white pixels are boosted by a gain drawn in [1, this] before blurring (1: no boost)."""
    init_weights: str | None = None
    """Start a new run (no checkpoint in --out) from these weights (safetensors or official .pkl of the same
    architecture, loaded strictly into the network and its EMA) instead of from scratch; ignored on resume."""


PATH_FIELDS = {"out", "train_pairs", "val_dir", "init_weights"}


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


def shake_config(cfg: TrainConfig):
    """The training blur model of ``cfg`` (validation always uses the defaults of ``ShakeConfig``)."""
    from .blur_synthesis import ShakeConfig

    if not 0 < cfg.blur_min < cfg.blur_max:
        raise UserError(f"--blur-min {cfg.blur_min} / --blur-max {cfg.blur_max}: need 0 < min < max")
    if cfg.highlight_gain_max < 1.0:
        raise UserError(f"--highlight-gain-max {cfg.highlight_gain_max}: must be >= 1 (1: no highlight boost)")
    return ShakeConfig(blur_range=(cfg.blur_min, cfg.blur_max), reference=cfg.reference,
                       keep_low_frequencies=cfg.keep_low_frequencies,
                       highlight_gain=(1.0, cfg.highlight_gain_max))  # fmt: skip


class _DeviceBlurPairs(torch.utils.data.Dataset):
    """Items of a SyntheticPairs as raw draws (window + shake + noise levels) for :func:`blur_torch.blur_batch`."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        from .blur_torch import draw_raw

        rng, window = self.pairs.window(index)
        return draw_raw(rng, window, self.pairs.margin, self.pairs._blur_for(rng, index), self.pairs.cfg)


def build_dataset(cfg: TrainConfig):
    """The training dataset of ``cfg`` (see :mod:`deblur2d.datasets`)."""
    from .datasets import TRAIN_PHOTOS, PairedImages, SyntheticPairs, folder_images, skimage_photo

    if cfg.train_pairs is not None:
        return PairedImages(cfg.train_pairs, crop=cfg.crop, seed=cfg.seed)
    images = [skimage_photo(n) for n in TRAIN_PHOTOS] if cfg.photos else []
    for d in cfg.sharp_dirs:
        images += folder_images(d)
    curriculum = (cfg.curriculum_start, cfg.curriculum_steps) if cfg.curriculum_start > 0 else None
    return SyntheticPairs(images, crop=cfg.crop, seed=cfg.seed, dead_leaves_pool=cfg.dead_leaves,
                          cfg=shake_config(cfg), curriculum=curriculum, batch_size=cfg.batch_size,
                          sharp_fraction=cfg.sharp_fraction)  # fmt: skip


def zero_output_layers(net: torch.nn.Module) -> None:
    """Zero the last convolution of each output head, so the network starts as the identity."""
    with torch.no_grad():
        for mod in (net.ConvsOut[0], net.ConvsOut[1], net.feat_extract[5]):
            for p in mod.parameters():
                p.zero_()


@torch.no_grad()
def validate(net: torch.nn.Module, val_root: Path, device: torch.device, levels: list[str],
             amp: torch.dtype | None = None) -> dict:
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
            x = to_tensor(b)[None].to(device).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=amp, enabled=amp is not None):
                y = net(x)[-1]
            y = y.float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
            rows.append((psnr(y, s), ssim(y, s), psnr(b, s), ssim(b, s)))
        r = np.array(rows, dtype=np.float64)
        out[level] = {"psnr": r[:, 0].mean(), "ssim": r[:, 1].mean(), "input_psnr": r[:, 2].mean(),
                      "input_ssim": r[:, 3].mean(), "n": len(rows)}
        out[level] = {k: (float(v) if k != "n" else v) for k, v in out[level].items()}
    out["mean_psnr"] = float(np.mean([out[lv]["psnr"] for lv in levels]))
    net.train(was_training)
    return out


def _as_list(items: list) -> list:
    """Collate of the device-blur dataset (a module-level function: workers may be spawned, not forked)."""
    return items


def _trim_jsonl(path: Path, step: int) -> None:
    """Drop the rows of a JSON-lines log whose ``step`` is past ``step`` (atomic rewrite)."""
    if not path.is_file():
        return
    rows = [r for r in path.read_text().splitlines() if r.strip()]
    keep = [r for r in rows if json.loads(r).get("step", 0) <= step]
    if len(keep) != len(rows):
        from .io.atomic import write_bytes_atomic

        write_bytes_atomic(path, "".join(r + "\n" for r in keep).encode())


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(name)


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Learning-rate multiplier at ``step`` (0-based) for the configured schedule."""
    if cfg.schedule == "step":
        return cfg.lr_gamma ** (step // max(1, cfg.lr_step))
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    t = min(1.0, (step - cfg.warmup_steps) / span)
    lo = cfg.min_lr / cfg.lr
    return lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * t))


def train_architecture(cfg: TrainConfig):
    """The :class:`deblur2d.mimo_unet.Arch` that ``cfg`` trains (name plus width/depth overrides)."""
    from .mimo_unet import Arch, parse_arch

    try:
        arch = parse_arch(cfg.model)
    except ValueError as e:
        raise UserError(f"--model: {e}") from None
    return Arch(cfg.base_channels or arch.base_channels, cfg.num_res or arch.num_res, arch.dropout)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training as configured; returns the final summary also written to ``metrics.json``."""
    import copy

    from tqdm.auto import tqdm

    from .datasets import ValidationSpec, make_validation_set
    from .hardware import auto_precision
    from .losses import mimo_loss
    from .metrics import psnr
    from .mimo_unet import model_name_of
    from .weights import save_weights

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if cfg.ema and not 0 < cfg.ema < 1:
        raise UserError(f"--ema {cfg.ema}: use a decay in (0, 1), e.g. 0.995, or 0 for none")
    device = _resolve_device(cfg.device)
    if cfg.amp == "bf16":
        amp = torch.bfloat16
    elif cfg.amp == "auto":
        amp = auto_precision(device)
        amp = None if amp == torch.float32 else torch.bfloat16
    else:
        amp = None
    arch = train_architecture(cfg)
    name = model_name_of(arch)
    torch.manual_seed(cfg.seed)
    net = arch.build()
    if cfg.zero_init_output:
        zero_output_layers(net)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    net.to(device, memory_format=fmt).train()
    ema_net = copy.deepcopy(net).eval().requires_grad_(False) if cfg.ema else None
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    step, best, elapsed_before = 0, -math.inf, 0.0
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        from .mimo_unet import arch_from_state_dict

        old = arch_from_state_dict(ck["model"])
        if (old.base_channels, old.num_res) != (arch.base_channels, arch.num_res):
            raise UserError(f"{ckpt_path}: a checkpoint of another network ({old.describe()}; this run trains "
                            f"{arch.describe()}); use another --out or remove the checkpoint")
        if "lr_lambdas" not in ck["scheduler"]:
            raise UserError(f"{ckpt_path}: written by an older training recipe (step schedule state); "
                            "use another --out or remove the checkpoint")
        net.load_state_dict(ck["model"])
        if ema_net is not None:
            ema_net.load_state_dict(ck.get("ema") or ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        for log_name in ("val_history.jsonl", "train_log.jsonl"):  # rows after the checkpoint are redone: drop
            _trim_jsonl(out / log_name, ck["step"])
        torch.set_rng_state(ck["torch_rng"])
        step, best, elapsed_before = ck["step"], ck["best"], ck.get("elapsed_s", 0.0)
        log.info("resuming %s at step %d", ckpt_path, step)
    elif cfg.init_weights:
        from .weights import load_weights

        load_weights(net, cfg.init_weights, name)
        net.to(device, memory_format=fmt)
        if ema_net is not None:
            ema_net.load_state_dict(net.state_dict())
        print(f"train-deblur2d: starting from {cfg.init_weights}", file=sys.stderr)
    dataset = build_dataset(cfg)
    on_device = cfg.train_pairs is None and (cfg.blur_on_device == "on" or
                                              (cfg.blur_on_device == "auto" and device.type == "cuda"))
    if on_device:
        dataset = _DeviceBlurPairs(dataset)
    spec = ValidationSpec(per_level=cfg.val_per_level, size=cfg.val_size)
    val_root = make_validation_set(cfg.val_dir, spec)
    levels = list(spec.levels)
    amp_name = "bf16 autocast" if amp else "fp32"
    print(f"train-deblur2d: {name} ({arch.describe()}, {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M "
          f"parameters) on {device.type} ({amp_name}, {torch.get_num_threads()} threads), "
          f"{'pairs ' + str(cfg.train_pairs) if cfg.train_pairs else 'synthetic phone-shake pairs'}"
          f"{' blurred on the device' if on_device else ''}, {cfg.num_workers} data workers, crop {cfg.crop}, "
          f"batch {cfg.batch_size}, {cfg.schedule} schedule, EMA {cfg.ema or 'off'}, steps {step}->{cfg.steps}, "
          f"run folder {out}", file=sys.stderr)
    eval_net = ema_net if ema_net is not None else net

    def snapshot() -> dict:
        return {"model": net.state_dict(), "ema": None if ema_net is None else ema_net.state_dict(),
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "arch": [arch.base_channels, arch.num_res], "torch_rng": torch.get_rng_state(), "step": step,
                "best": best, "elapsed_s": elapsed_before + time.monotonic() - t0, "config": _jsonable(cfg)}

    def meta(**extra) -> dict:
        return {"base_channels": arch.base_channels, "num_res": arch.num_res, "step": step,
                "ema": cfg.ema or "off", **extra}

    def run_validation() -> dict:
        nonlocal best
        v = validate(eval_net, val_root, device, levels, amp)
        v["step"] = step
        v["wall_s"] = elapsed_before + time.monotonic() - t0
        with open(out / "val_history.jsonl", "a") as f:
            f.write(json.dumps(v) + "\n")
        score = v["mean_psnr"] if cfg.select_level == "mean" else v[cfg.select_level]["psnr"]
        if score > best:
            best = score
            save_weights(eval_net, out / "best.safetensors", name, metadata=meta(score=f"{score:.4f}"))
            write_json_atomic(out / "best_validation.json", v)
        msg = ", ".join(f"{lv} {v[lv]['psnr']:.2f} dB ({v[lv]['psnr'] - v[lv]['input_psnr']:+.2f})" for lv in levels)
        print(f"validation @ {step}: {msg}", file=sys.stderr)
        return v

    t0 = time.monotonic()
    loader = None
    collate = _as_list if on_device else None
    if cfg.num_workers > 0:
        loader = iter(torch.utils.data.DataLoader(
            dataset, batch_size=cfg.batch_size, num_workers=cfg.num_workers, collate_fn=collate,
            sampler=range(step * cfg.batch_size, cfg.steps * cfg.batch_size), prefetch_factor=4,
            pin_memory=device.type == "cuda"))
    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, dynamic_ncols=True, desc="train-deblur2d")
    last_val: dict | None = None
    stopped_early = False
    ema_loss = ema_psnr = None
    wait_s = 0.0
    t_loop = time.monotonic()
    steps_this_run = 0
    log_f = open(out / "train_log.jsonl", "a")
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed * 1_000_003 + step)
    while step < cfg.steps:
        if (cfg.max_minutes is not None and time.monotonic() - t0 > 60 * cfg.max_minutes) or (
                cfg.stop_at is not None and step >= cfg.stop_at):
            stopped_early = True
            break
        tw = time.monotonic()
        if loader is not None:
            batch = next(loader)
        elif on_device:
            batch = [dataset[step * cfg.batch_size + j] for j in range(cfg.batch_size)]
        else:
            items = [dataset[step * cfg.batch_size + j] for j in range(cfg.batch_size)]
            batch = torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])
        if on_device:
            from .blur_torch import blur_batch

            blurry, sharp = blur_batch(batch, dataset.pairs.margin, dataset.pairs.cfg, device, generator=gen)
        else:
            blurry, sharp = batch
            blurry, sharp = blurry.to(device, non_blocking=True), sharp.to(device, non_blocking=True)
        wait_s += time.monotonic() - tw
        blurry = blurry.contiguous(memory_format=fmt)
        with torch.autocast(device_type=device.type, dtype=amp, enabled=amp is not None):
            outputs = net(blurry)
        losses = mimo_loss(outputs, sharp)
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)) if cfg.grad_clip else 0.0
        opt.step()
        sched.step()
        step += 1
        steps_this_run += 1
        if ema_net is not None:
            d = min(cfg.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, p in zip(ema_net.parameters(), net.parameters()):
                    pe.lerp_(p.detach(), 1 - d)
        with torch.no_grad():
            lv = float(losses["total"])
            pv = float(psnr(outputs[-1].detach().float().clamp(0, 1), sharp))
        ema_loss = lv if ema_loss is None else 0.9 * ema_loss + 0.1 * lv
        ema_psnr = pv if ema_psnr is None else 0.9 * ema_psnr + 0.1 * pv
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            frac = wait_s / max(1e-9, time.monotonic() - t_loop)
            bar.set_postfix(loss=f"{ema_loss:.4f}", psnr=f"{ema_psnr:.2f}", lr=f"{sched.get_last_lr()[0]:.1e}",
                            wait=f"{100 * frac:.1f}%")
            log_f.write(json.dumps({"step": step, "loss": ema_loss, "psnr": ema_psnr, "lr": sched.get_last_lr()[0],
                                    "grad_norm": gnorm, "data_wait_fraction": frac,
                                    "wall_s": elapsed_before + time.monotonic() - t0}) + "\n")
            log_f.flush()
            if not cfg.progress:
                print(f"step {step}: loss {ema_loss:.4f} psnr {ema_psnr:.2f} data wait {100 * frac:.1f}%",
                      file=sys.stderr)
        if cfg.val_every and step % cfg.val_every == 0:
            last_val = run_validation()
        if step % cfg.ckpt_every == 0:
            _save_checkpoint(ckpt_path, snapshot())
    bar.close()
    log_f.close()
    loop_s = time.monotonic() - t_loop
    if last_val is None or last_val["step"] != step:
        last_val = run_validation()
    save_weights(eval_net, out / "last.safetensors", name, metadata=meta())
    _save_checkpoint(ckpt_path, snapshot())
    summary = {"step": step, "finished": step >= cfg.steps, "stopped_early": stopped_early,
               "model": name, "base_channels": arch.base_channels, "num_res": arch.num_res,
               "best_score": best, "select_level": cfg.select_level, "last_validation": last_val,
               "device": device.type, "precision": amp_name, "threads": torch.get_num_threads(),
               "steps_this_run": steps_this_run,
               "seconds_per_step_this_run": loop_s / max(1, steps_this_run),
               "data_wait_fraction_this_run": wait_s / max(1e-9, loop_s),
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
    print(json.dumps({"step": s["step"], "best_score": s["best_score"],
                      **{k: v[k] for k in v if isinstance(v[k], dict)}}, indent=2))
    return 0
