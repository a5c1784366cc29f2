"""Plain 3D Gaussian Splatting on images with known poses: the baseline trainer and its reusable pieces.

Recipe of 3DGS (Kerbl et al., SIGGRAPH 2023) as in gsplat 1.5.3's ``examples/simple_trainer.py``:

- loss ``(1 - lambda) L1 + lambda (1 - SSIM)`` with lambda = 0.2 (3DGS paper Sec. 7.1, ``lambda_dssim``);
- Adam (eps 1e-15, 3DGS code) with learning rates: means 1.6e-4 x scene extent, decayed exponentially to
  1.6e-6 x extent at the last step (3DGS ``position_lr_init`` / ``position_lr_final``), log-scales 5e-3,
  quaternions 1e-3, logit opacities 5e-2, SH DC 2.5e-3, higher SH 2.5e-3 / 20 (gsplat ``simple_trainer``);
  with a batch of B views, gsplat's rule: lr x sqrt(B), eps / sqrt(B), betas 1 - B (1 - beta);
- SH degree raised every 1000 steps up to 3; densification by :class:`reconstruction.splats.densify.DensifyStrategy`;
- scene extent: 1.1 x the largest distance of a camera centre from their mean (3DGS ``getNerfppNorm``).

Order of one step (as gsplat): render a batch of views, loss, backward, Adam step, then densification.

Reusable pieces for other trainers (DeblurGS): :func:`camera_extent`, :func:`make_optimizers`,
:func:`means_lr_at`, :func:`photometric_loss`, :func:`init_model`; :class:`Trainer3DGS` ties them together.
Deterministic on the CPU for a given seed (and the same thread count); checkpoints resume exactly.

Command line (synthetic scenes, true poses from ``gt/cameras.json``)::

    python -m reconstruction.splats.train_3dgs cpu --scene scenes/tiny --out runs/tiny-3dgs [--config.steps 2000 ...]
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from deblur2d.io.errors import UserError
from deblur2d.metrics import psnr, ssim

from .densify import DensifyConfig, DensifyStrategy
from .gaussians import GaussianModel, load_checkpoint, save_checkpoint

__all__ = [
    "Train3DGSConfig",
    "PRESETS",
    "preset",
    "Trainer3DGS",
    "camera_extent",
    "make_optimizers",
    "means_lr_at",
    "photometric_loss",
    "init_model",
    "c2w_to_viewmat",
    "load_scene_with_gt_poses",
    "read_sparse_points",
    "main",
]


@dataclass
class Train3DGSConfig:
    """Settings of the plain 3DGS trainer (defaults: 3DGS / gsplat ``simple_trainer``, 30k steps)."""

    steps: int = 30_000
    """Training steps (each renders ``batch_size`` views)."""
    seed: int = 0
    """Seed of initialisation, view order and densification."""
    batch_size: int = 1
    """Views rendered per step (one batched render call)."""
    sh_degree: int = 3
    """Maximum SH degree."""
    sh_degree_interval: int = 1000
    """Raise the active SH degree by one every this many steps."""
    init_opacity: float = 0.1
    """Initial opacity of every Gaussian (3DGS 0.1)."""
    init_scale: float = 1.0
    """Multiplier of the nearest-neighbour initial scale."""
    init_num_points: int = 100_000
    """Number of random Gaussians when no points are given (gsplat init_num_pts)."""
    init_depth_range: tuple[float, float] = (0.5, 6.0)
    """Depth range of random initial Gaussians, in multiples of the scene extent."""
    ssim_lambda: float = 0.2
    """Weight of D-SSIM in the loss (3DGS lambda_dssim)."""
    lr_means: float = 1.6e-4
    """Initial learning rate of means, times the scene extent."""
    lr_means_final: float = 1.6e-6
    """Final learning rate of means (exponential decay over ``steps``), times the scene extent."""
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacities: float = 5e-2
    lr_sh0: float = 2.5e-3
    lr_shN: float = 2.5e-3 / 20
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Background colour composited behind the Gaussians."""
    backend: Literal["auto", "gsplat", "native", "torch"] = "auto"
    """Rasterizer backend (``auto``: gsplat on CUDA when it works; on the CPU the native C++ kernel when it
    builds, else PyTorch)."""
    scene_scale: float = 0.0
    """Scene extent in world units; 0 = from the cameras (:func:`camera_extent`)."""
    densify: DensifyConfig = field(default_factory=DensifyConfig)
    """Densification settings."""
    fused_adam: bool = True
    """Use the fused Adam kernel where this torch has one (same maths, different rounding)."""
    checkpoint_every: int = 0
    """Write a checkpoint every this many steps (0 = only at the end) when a run folder is given."""


def _tiny_preset() -> Train3DGSConfig:
    # Small enough for tests on a 2-core CPU (tuned on the `tiny` synthetic scene, 128x96, 10 views, true
    # sparse points): 120 steps of 2 views (batched renders halve the per-view cost of the PyTorch backend),
    # learning rates of colour, scale, opacity and position raised 2-4x over the 30k-step values, initial
    # opacity 0.3, SH degree 0 (the synthetic scenes are Lambertian), refinement every 10 steps, at most
    # 4000 Gaussians.
    return Train3DGSConfig(
        steps=120,
        batch_size=2,
        sh_degree=0,
        init_opacity=0.3,
        init_num_points=3000,
        lr_means=4e-4,
        lr_means_final=1.6e-5,
        lr_scales=1e-2,
        lr_opacities=0.1,
        lr_sh0=1e-2,
        densify=DensifyConfig(
            refine_start_iter=10,
            refine_stop_iter=90,
            refine_every=10,
            reset_every=0,
            max_gaussians=4000,
        ),
    )


def _cpu_preset() -> Train3DGSConfig:
    # A laptop-CPU run: 3000 steps, the 3DGS schedule compressed 10x, at most 60k Gaussians.
    return Train3DGSConfig(
        steps=3000,
        sh_degree_interval=500,
        init_num_points=20_000,
        densify=DensifyConfig(
            refine_start_iter=100,
            refine_stop_iter=2000,
            refine_every=50,
            reset_every=1000,
            max_gaussians=60_000,
        ),
    )


#: Named presets: ``"default"`` (3DGS, 30k steps, GPU), ``"cpu"`` (3k steps), ``"tiny"`` (tests, 120 steps).
PRESETS: dict[str, tuple[str, Any]] = {
    "default": ("3DGS defaults, 30k steps (GPU)", Train3DGSConfig),
    "cpu": ("3k steps, compressed densification schedule, capped at 60k Gaussians", _cpu_preset),
    "tiny": ("120 steps of 2 views, SH degree 0, at most 4000 Gaussians: tests, smoke runs", _tiny_preset),
}


def preset(name: str) -> Train3DGSConfig:
    """A fresh config for preset ``name`` (see :data:`PRESETS`)."""
    if name not in PRESETS:
        raise UserError(f"unknown 3DGS preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name][1]()


# ---------------------------------------------------------------------------------------------- pieces
def c2w_to_viewmat(c2w: torch.Tensor) -> torch.Tensor:
    """Camera-to-world ``[..., 4, 4]`` -> world-to-camera viewmats (rigid inverse, same axes)."""
    R = c2w[..., :3, :3]
    t = c2w[..., :3, 3:]
    out = torch.zeros_like(c2w)
    out[..., :3, :3] = R.transpose(-1, -2)
    out[..., :3, 3:] = -R.transpose(-1, -2) @ t
    out[..., 3, 3] = 1.0
    return out


def camera_extent(c2ws: torch.Tensor | np.ndarray) -> float:
    """Scene extent: 1.1 x the largest distance of a camera centre from the mean centre (3DGS getNerfppNorm).

    ``c2ws`` [V, 4, 4]. Returns 0 when all centres coincide (the caller must then choose a scale).
    """
    c = np.asarray(c2ws.detach().cpu() if isinstance(c2ws, torch.Tensor) else c2ws, dtype=np.float64)
    centres = c.reshape(-1, 4, 4)[:, :3, 3]
    return float(1.1 * np.linalg.norm(centres - centres.mean(axis=0), axis=1).max())


def means_lr_at(step: int, cfg: Train3DGSConfig, scene_scale: float) -> float:
    """Learning rate of means at ``step``: log-linear from ``lr_means`` to ``lr_means_final`` (x extent).

    Equals 3DGS ``get_expon_lr_func`` without delay and gsplat's ``ExponentialLR(gamma=0.01 ** (1/steps))``.
    """
    t = min(max(step / max(cfg.steps, 1), 0.0), 1.0)
    return cfg.lr_means * (cfg.lr_means_final / cfg.lr_means) ** t * scene_scale


def make_optimizers(
    model: GaussianModel, cfg: Train3DGSConfig, scene_scale: float
) -> dict[str, torch.optim.Adam]:
    """One Adam per parameter (the layout :class:`DensifyStrategy` edits); learning rates: module doc."""
    b = max(int(cfg.batch_size), 1)
    lrs = {
        "means": cfg.lr_means * scene_scale,
        "scales": cfg.lr_scales,
        "quats": cfg.lr_quats,
        "opacities": cfg.lr_opacities,
        "sh0": cfg.lr_sh0,
        "shN": cfg.lr_shN,
    }
    out = {}
    for name, lr in lrs.items():
        kwargs: dict[str, Any] = dict(
            eps=1e-15 / math.sqrt(b), betas=(1.0 - b * (1.0 - 0.9), 1.0 - b * (1.0 - 0.999))
        )
        groups = [{"params": [model.params[name]], "lr": lr * math.sqrt(b), "name": name}]
        opt = None
        if cfg.fused_adam:
            try:  # one kernel per step: about 9x faster than the per-tensor loop on a CPU (torch >= 2.4)
                opt = torch.optim.Adam(groups, fused=True, **kwargs)
            except (RuntimeError, TypeError, ValueError):
                opt = None
        out[name] = opt or torch.optim.Adam(groups, **kwargs)
    return out


def photometric_loss(
    render: torch.Tensor, target: torch.Tensor, ssim_lambda: float = 0.2
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """3DGS loss ``(1 - lambda) L1 + lambda (1 - SSIM)`` of renders vs targets ``[C, H, W, 3]`` in [0, 1].

    Returns ``(loss, {"l1", "ssim"})`` (the parts detached, for logging).
    """
    l1 = (render - target).abs().mean()
    s = ssim(render.permute(0, 3, 1, 2), target.permute(0, 3, 1, 2))
    loss = (1.0 - ssim_lambda) * l1 + ssim_lambda * (1.0 - s)
    return loss, {"l1": l1.detach(), "ssim": s.detach()}


def init_model(
    cfg: Train3DGSConfig,
    c2ws: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    scene_scale: float,
    points: np.ndarray | torch.Tensor | None = None,
    colors: np.ndarray | torch.Tensor | None = None,
) -> GaussianModel:
    """Model from SfM ``points`` (and ``colors``) when given, else ``cfg.init_num_points`` random Gaussians in
    the cameras' frusta at depths ``cfg.init_depth_range`` x ``scene_scale``."""
    common = dict(
        sh_degree_max=cfg.sh_degree,
        sh_degree_interval=cfg.sh_degree_interval,
        init_opacity=cfg.init_opacity,
        init_scale=cfg.init_scale,
        seed=cfg.seed,
    )
    if points is not None and len(points) > 0:
        return GaussianModel.from_points(points, colors, **common)
    lo, hi = cfg.init_depth_range
    return GaussianModel.random_in_frusta(
        c2ws, Ks, width, height, cfg.init_num_points, (lo * scene_scale, hi * scene_scale), **common
    )


def _as_float_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().float()
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


# ---------------------------------------------------------------------------------------------- trainer
def save_trainer_checkpoint(trainer: Any, path: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write what every Gaussian trainer must keep to resume exactly (model, optimisers, strategy, step, view
    order, RNG states, scene scale, config) plus a trainer's own ``extra`` entries, atomically.

    ``trainer`` has ``model``, ``optimizers``, ``strategy``, ``step``, ``generator``, ``_queue``, ``scene_scale``
    and a dataclass ``cfg`` (Trainer3DGS, DeblurGSTrainer)."""
    base = {
        "generator": trainer.generator.get_state(),
        "queue": list(trainer._queue),
        "torch_rng": torch.get_rng_state(),
        "scene_scale": trainer.scene_scale,
        "config": asdict(trainer.cfg),
    }
    return save_checkpoint(
        path,
        trainer.model,
        step=trainer.step,
        optimizers=trainer.optimizers,
        strategy=trainer.strategy,
        extra={**base, **(extra or {})},
    )


def restore_trainer_checkpoint(trainer: Any, ckpt: dict, gs_cfg: Train3DGSConfig) -> None:
    """Inverse of :func:`save_trainer_checkpoint` for the shared part; ``ckpt["extra"]`` keeps the rest."""
    trainer.model = GaussianModel.from_state(ckpt["model"], device=trainer.device)
    extra = ckpt["extra"]
    trainer.scene_scale = float(extra["scene_scale"])
    trainer.optimizers = make_optimizers(trainer.model, gs_cfg, trainer.scene_scale)
    for name, opt in trainer.optimizers.items():
        opt.load_state_dict(ckpt["optimizers"][name])
    trainer.strategy.load_state_dict(ckpt["strategy"], device=trainer.device)
    trainer.generator.set_state(extra["generator"])
    trainer._queue = [int(i) for i in extra["queue"]]
    torch.set_rng_state(extra["torch_rng"])
    trainer.step = int(ckpt["step"])


class Trainer3DGS:
    """Plain 3DGS on V posed images.

    ``images``: V arrays ``[H, W, 3]`` float32 sRGB in [0, 1] (a ``[V, H, W, 3]`` array or tensor works too).
    Poses: ``c2ws`` [V, 4, 4] camera-to-world or ``viewmats`` [V, 4, 4] world-to-camera (OpenCV axes).
    ``Ks``: [3, 3] shared or [V, 3, 3] pixels. ``points`` [P, 3] / ``colors`` [P, 3]: optional initial cloud.
    """

    def __init__(
        self,
        cfg: Train3DGSConfig,
        images: Sequence[np.ndarray] | np.ndarray | torch.Tensor,
        Ks: np.ndarray | torch.Tensor,
        *,
        c2ws: np.ndarray | torch.Tensor | None = None,
        viewmats: np.ndarray | torch.Tensor | None = None,
        points: np.ndarray | torch.Tensor | None = None,
        colors: np.ndarray | torch.Tensor | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        if isinstance(images, torch.Tensor | np.ndarray):
            imgs = _as_float_tensor(images)
        else:
            imgs = torch.stack([_as_float_tensor(im) for im in images])
        if imgs.ndim != 4 or imgs.shape[-1] != 3:
            raise ValueError(f"images must be [V, H, W, 3], got {tuple(imgs.shape)}")
        self.images = imgs.to(self.device)
        n_views, self.height, self.width = imgs.shape[0], imgs.shape[1], imgs.shape[2]
        if (c2ws is None) == (viewmats is None):
            raise ValueError("give exactly one of c2ws or viewmats")
        if c2ws is not None:  # inverted in float64, then stored in float32
            c2w64 = torch.as_tensor(np.asarray(c2ws.cpu() if isinstance(c2ws, torch.Tensor) else c2ws,
                                               dtype=np.float64)).reshape(-1, 4, 4)  # fmt: skip
            c2w, vm = c2w64.float(), c2w_to_viewmat(c2w64).float()
        else:
            vm64 = torch.as_tensor(np.asarray(viewmats.cpu() if isinstance(viewmats, torch.Tensor) else viewmats,
                                              dtype=np.float64)).reshape(-1, 4, 4)  # fmt: skip
            c2w, vm = torch.linalg.inv(vm64).float(), vm64.float()
        if len(vm) != n_views:
            raise ValueError(f"{len(vm)} poses for {n_views} images")
        K = _as_float_tensor(Ks)
        K = K.reshape(1, 3, 3).expand(n_views, 3, 3) if K.ndim == 2 else K.reshape(-1, 3, 3)
        if len(K) != n_views:
            raise ValueError(f"{len(K)} intrinsics for {n_views} images")
        self.viewmats, self.Ks, self.c2ws = vm.to(self.device), K.contiguous().to(self.device), c2w

        scale = cfg.scene_scale or camera_extent(c2w)
        if scale <= 1e-8:  # cameras coincide (pure rotation): fall back to the distance of the points
            if points is not None and len(points) > 0:
                p = np.asarray(points.cpu() if isinstance(points, torch.Tensor) else points, dtype=np.float64)
                scale = float(np.median(np.linalg.norm(p - c2w[0, :3, 3].numpy(), axis=1)))
            else:
                scale = 1.0
        self.scene_scale = float(scale)

        torch.manual_seed(cfg.seed)
        self.model = init_model(cfg, c2w, K, self.width, self.height, self.scene_scale, points, colors)
        self.model.to(self.device)
        self.optimizers = make_optimizers(self.model, cfg, self.scene_scale)
        self.strategy = DensifyStrategy(cfg.densify, scene_scale=self.scene_scale)
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(cfg.seed)
        self._queue: list[int] = []
        self.step = 0
        self.background = torch.tensor(cfg.background, dtype=torch.float32, device=self.device)
        self.last: dict[str, float] = {}

    @property
    def n_views(self) -> int:
        return int(self.images.shape[0])

    # ------------------------------------------------------------------ one step
    def next_views(self) -> list[int]:
        """Next ``batch_size`` view indices: random permutations (epochs) concatenated, seeded."""
        out = []
        while len(out) < self.cfg.batch_size:
            if not self._queue:
                self._queue = torch.randperm(self.n_views, generator=self.generator).tolist()
            out.append(self._queue.pop(0))
        return out

    def render(self, idx: Sequence[int], sh_degree: int | None = None, **kwargs: Any):
        """Render training views ``idx`` at the current step's SH degree (or ``sh_degree``)."""
        idx_t = torch.as_tensor(list(idx), dtype=torch.long, device=self.device)
        c = len(idx_t)
        return self.model.render(
            self.viewmats[idx_t],
            self.Ks[idx_t],
            self.width,
            self.height,
            step=self.step,
            sh_degree=sh_degree,
            backgrounds=self.background.expand(c, 3),
            backend=self.cfg.backend,
            **kwargs,
        )

    def train_step(self) -> dict[str, float]:
        """One optimisation step at ``self.step`` (then increments it); returns loss, PSNR, counts."""
        step = self.step
        idx = self.next_views()
        lr = means_lr_at(step, self.cfg, self.scene_scale) * math.sqrt(max(self.cfg.batch_size, 1))
        for group in self.optimizers["means"].param_groups:
            group["lr"] = lr
        rgb, _alpha, info = self.render(idx)
        target = self.images[torch.as_tensor(idx, device=self.device)]
        self.strategy.retain(info)
        loss, parts = photometric_loss(rgb, target, self.cfg.ssim_lambda)
        loss.backward()
        for opt in self.optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        dens = self.strategy.step_post_backward(self.model.params, self.optimizers, step, info)
        self.step += 1
        with torch.no_grad():
            p = float(psnr(rgb.detach().clamp(0, 1), target))
        self.last = {"loss": float(loss.detach()), "psnr": p, "n": float(len(self.model)), **dens}
        return self.last

    # ------------------------------------------------------------------ loop
    def train(
        self,
        steps: int | None = None,
        *,
        progress: bool = True,
        run_dir: str | os.PathLike | None = None,
    ) -> dict[str, Any]:
        """Train until ``steps`` (default ``cfg.steps``) steps are done, resuming from ``self.step``.

        With ``run_dir``, checkpoints go to ``run_dir/checkpoint.pt`` every ``cfg.checkpoint_every`` steps and
        at the end. Returns ``{"steps", "seconds", "loss", "psnr", "n_gaussians"}`` (last step's values).
        """
        from tqdm import tqdm

        total = self.cfg.steps if steps is None else int(steps)
        t0 = time.perf_counter()
        start = self.step
        bar = tqdm(total=total, initial=start, disable=not progress, unit="step", dynamic_ncols=True)
        try:
            while self.step < total:
                out = self.train_step()
                bar.update(1)
                if self.step % 10 == 0 or self.step == total:
                    bar.set_postfix(loss=f"{out['loss']:.4f}", psnr=f"{out['psnr']:.2f}", n=len(self.model))
                every = self.cfg.checkpoint_every
                if run_dir is not None and every > 0 and self.step % every == 0 and self.step < total:
                    self.save_checkpoint(Path(run_dir) / "checkpoint.pt")
        finally:
            bar.close()
        if run_dir is not None and self.step > start:
            self.save_checkpoint(Path(run_dir) / "checkpoint.pt")
        return {
            "steps": self.step,
            "seconds": time.perf_counter() - t0,
            "loss": self.last.get("loss", float("nan")),
            "psnr": self.last.get("psnr", float("nan")),
            "n_gaussians": len(self.model),
        }

    @torch.no_grad()
    def evaluate(self, sh_degree: int | None = None) -> dict[str, Any]:
        """PSNR / SSIM of every training view rendered at the current SH degree; means and per-view lists."""
        psnrs, ssims = [], []
        for i in range(self.n_views):
            rgb, _, _ = self.render([i], sh_degree=sh_degree)
            out = rgb[0].clamp(0, 1)
            psnrs.append(float(psnr(out, self.images[i])))
            ssims.append(float(ssim(out, self.images[i])))
        return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "psnr_per_view": psnrs,
                "ssim_per_view": ssims}  # fmt: skip

    # ------------------------------------------------------------------ persistence
    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Model, optimisers, strategy, step, view order and RNG states, atomically."""
        return save_trainer_checkpoint(self, path)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a checkpoint of this trainer (same images and cameras); training continues exactly."""
        restore_trainer_checkpoint(self, load_checkpoint(path), self.cfg)

    def export_ply(self, path: str | os.PathLike) -> Path:
        """Write the current scene as a 3DGS PLY."""
        from .ply import save_ply

        return save_ply(path, self.model)


# ---------------------------------------------------------------------------------------------- CLI
@dataclass
class Train3DGSArgs:
    """Train plain 3DGS on a synthetic scene with its true mid-exposure poses (gt/cameras.json)."""

    scene: Path = Path("scene")
    """Scene folder with images/ and gt/cameras.json."""
    out: Path = Path("runs/3dgs")
    """Run folder: checkpoint.pt, splats.ply, metrics.json."""
    images: Literal["images", "sharp"] = "images"
    """Train on the captured (blurry) frames or on the sharp ground truth gt/sharp/."""
    init: Literal["auto", "random"] = "auto"
    """Initial Gaussians: ``auto`` uses sparse/0's 3D points when the scene has them (make-scene
    --write-true-sparse, or SfM), else random in the cameras' frusta."""
    resume: bool = True
    """Resume from out/checkpoint.pt when it exists."""
    progress: bool = True
    config: Train3DGSConfig = field(default_factory=Train3DGSConfig)


def load_scene_with_gt_poses(scene: Path, which: str = "images") -> dict[str, Any]:
    """Images (float32 [V, H, W, 3]), c2ws [V, 4, 4] (c2w_mid) and K [3, 3] of a synthetic scene folder."""
    import imageio.v3 as iio

    from reconstruction.io.gt_cameras import load_gt

    if not (scene / "gt" / "cameras.json").is_file():
        raise UserError(f"{scene}: no gt/cameras.json; this trainer needs a synthetic scene with true poses")
    gt = load_gt(scene)
    folder = scene / ("images" if which == "images" else "gt/sharp")
    imgs = []
    for name in gt["files"]:
        im = np.asarray(iio.imread(folder / name))
        scale = 65535.0 if im.dtype == np.uint16 else 255.0 if im.dtype == np.uint8 else 1.0
        imgs.append((im[..., :3].astype(np.float32) / scale).astype(np.float32))
    return {"images": np.stack(imgs), "c2ws": gt["c2w_mid"], "K": gt["K"]}


def read_sparse_points(scene: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """3D points [P, 3] and colours uint8 [P, 3] of ``scene/sparse/0`` (COLMAP, read by pycolmap), or None."""
    model = scene / "sparse" / "0"
    if not (model / "points3D.bin").is_file() and not (model / "points3D.txt").is_file():
        return None
    import pycolmap

    rec = pycolmap.Reconstruction(str(model))
    if len(rec.points3D) == 0:
        return None
    pts = np.array([p.xyz for p in rec.points3D.values()], dtype=np.float64)
    cols = np.array([p.color for p in rec.points3D.values()], dtype=np.uint8)
    return pts, cols


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m reconstruction.splats.train_3dgs PRESET --scene DIR --out DIR [--config.* ...]``."""
    import tyro

    from deblur2d.io.atomic import write_json_atomic

    from .ply import save_ply

    configs = {name: (desc, Train3DGSArgs(config=factory())) for name, (desc, factory) in PRESETS.items()}
    args = tyro.extras.overridable_config_cli(configs, args=argv, prog="sharpsplat train-3dgs")
    data = load_scene_with_gt_poses(args.scene, args.images)
    sparse = read_sparse_points(args.scene) if args.init == "auto" else None
    pts, cols = sparse if sparse is not None else (None, None)
    init_msg = f"{len(pts)} sparse points" if pts is not None else f"{args.config.init_num_points} random"
    print(f"init: {init_msg} Gaussians", file=sys.stderr)
    trainer = Trainer3DGS(args.config, data["images"], data["K"], c2ws=data["c2ws"], points=pts, colors=cols)
    ckpt = args.out / "checkpoint.pt"
    if args.resume and ckpt.is_file():
        trainer.load_checkpoint(ckpt)
        print(f"resumed from {ckpt} at step {trainer.step}", file=sys.stderr)
    summary = trainer.train(progress=args.progress, run_dir=args.out)
    metrics = {**summary, **trainer.evaluate(), "scene_scale": trainer.scene_scale,
               "config": asdict(replace(args.config))}  # fmt: skip
    save_ply(args.out / "splats.ply", trainer.model)
    write_json_atomic(args.out / "metrics.json", metrics)
    print(
        f"PSNR {metrics['psnr']:.2f} dB over {trainer.n_views} training views, "
        f"{len(trainer.model)} Gaussians, {summary['seconds']:.1f} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
