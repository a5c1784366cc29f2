"""DeblurGS trainer: Gaussians and per-frame in-exposure camera trajectories fitted jointly to blurry frames.

Method (Oh et al., "DeblurGS: Gaussian Splatting for Camera Motion Blur", arXiv 2404.11358; numbers from the
authors' code taekkii/deblurgs ``arguments/__init__.py`` and ``train.py``, 150k iterations there):

- each step takes a frame, renders ``S`` sub-frames along its Bezier trajectory
  (:class:`~reconstruction.deblurgs.trajectory.CameraTrajectories`; code: order 9, S = 21) and predicts the
  blurry frame as their mean **in linear light** (the Gaussians hold linear colour); the loss compares it
  with the observed frame linearised (``srgb_to_linear``): ``(1 - l) L1 + l (1 - SSIM)`` with ``l =
  ssim_lambda`` (default 0: the authors' code uses L1 only), plus ``lambda_t * mean_k ||I_{k+1} - I_k||^2``
  over adjacent sub-frames, ``lambda_t`` decaying log-linearly from 1e-4 to 1e-5 over training (code
  ``lambda_t_smooth_init/final``);
- warm-up: before ``motion_start_step`` (code ``curve_start_iter`` = 1000) the motion is frozen and one
  sub-frame (mid-exposure) is rendered: plain 3DGS;
- then joint optimisation with separate Adam learning rates for translation (``lr_trans`` x scene extent;
  code 1e-2) and rotation control points (``lr_rot``, radians; code 1e-3), both halving every
  ``motion_lr_half_steps`` (code ``curve_lr_half_iter`` = 15000), and the sub-frame positions
  (``lr_alignment``; code 3e-3, decayed to 1 % over training);
- Gaussian densification annealing: the growth threshold decays log-linearly from ``grow_grad2d_init``
  (code 4e-4) to ``densify.grow_grad2d`` (code 2e-4) over the first ``anneal_steps`` (code 25k of 150k);
  gradient statistics accumulate over all sub-frames of the step (each sub-frame counts as one view, its
  gradient scaled by the number of renders the loss averages, :meth:`DensifyStrategy.accumulate`).
  ``anneal=False`` keeps the threshold constant (plain densification).

Per-frame appearance (``appearance``; not in the paper): phones re-expose and re-balance white between frames,
and without a model the colour differences become floaters or blur. Frame ``i``'s predicted blurry frame, in
linear light, goes through a colour transform ``A_i x + b_i`` before the loss: ``"gain"``, per-channel gains
(``A_i`` diagonal, ``b_i = 0``: what a change of exposure time, ISO or white balance does to linear light), or
``"affine"``, a full 3x3 ``A_i`` and an offset. ``A_i = I + D_i`` and ``b_i`` start at the identity and
``lambda_appearance * (|D_i|^2 + |b_i|^2)`` pulls them back to it. Learned with the splats from
``appearance_start_step`` (row-wise Adam, like the motion) and re-solved in closed form every
``appearance_refit_every`` steps (gains: a ratio of means, which the blur leaves alone; affine: ridge least
squares). The colour gauge is fixed after every refit and at the end of training
(:meth:`DeblurGSTrainer.center_appearance`): the frames' gains get a geometric mean of 1, the shared part moved
into the splat colours, so the splats carry the average frame's appearance. Sharp frames, novel views, the PLY
and the report render that reference (identity) appearance.

The baseline "3DGS on blurry frames" is this trainer with ``motion=False`` (S = 1, motion frozen, the same
linear-light loss and schedule). Everything else (model, Gaussian optimisers and learning rates, densification,
checkpoints) is reused from :mod:`reconstruction.splats.train_3dgs`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblur2d.io.color import linear_to_srgb, srgb_to_linear
from deblur2d.metrics import psnr, ssim
from reconstruction.splats.densify import DensifyStrategy
from reconstruction.splats.gaussians import SH_C0, load_checkpoint
from reconstruction.splats.train_3dgs import (
    Train3DGSConfig,
    c2w_to_viewmat,
    camera_extent,
    init_model,
    make_optimizers,
    means_lr_at,
    restore_trainer_checkpoint,
    save_trainer_checkpoint,
)

from .trajectory import CameraTrajectories

__all__ = ["DeblurGSConfig", "DeblurGSTrainer", "RowAdam", "TrainLog", "annealed_threshold", "log_linear"]


@dataclass
class DeblurGSConfig:
    """DeblurGS settings; defaults follow the authors' code where it has one (module docstring)."""

    gs: Train3DGSConfig = field(default_factory=Train3DGSConfig)
    """Gaussian model, learning rates, densification, steps, seed (``gs.steps`` = training steps)."""
    motion: bool = True
    """Model camera motion; False = the "3DGS on blurry frames" baseline (S = 1, motion frozen)."""
    curve_order: int = 9
    """Bezier order n (n + 1 control points per frame)."""
    n_subframes: int = 21
    """Sub-frames rendered per blurry frame after warm-up."""
    alignment: bool = True
    """Learn the sub-frame positions (sorted, endpoints fixed)."""
    anchor_mid: bool = False
    """Keep the mid-exposure pose at the given pose (curve minus its mid value); off = the paper's free curve,
    needed to correct noisy poses. See :class:`CameraTrajectories`."""
    init_noise: float = 1e-3
    """Std of the initial control-point noise (radians; x scene extent for translation); authors: 1e-3. It breaks
    the symmetry: at zero deltas the mean of the sub-frames is blind, to first order, to spreading the curve."""
    motion_start_step: int = 1000
    """Warm-up steps with frozen motion and one sub-frame."""
    lr_trans: float = 1e-2
    """Adam LR of translation control points, x scene extent."""
    lr_rot: float = 1e-3
    """Adam LR of rotation control points (radians)."""
    lr_alignment: float = 3e-3
    """Adam LR of sub-frame positions (decays to 1 % at the last step)."""
    motion_lr_half_steps: int = 15_000
    """Motion LRs halve every this many steps after warm-up."""
    lambda_t_init: float = 1e-4
    """Temporal smoothness weight at step 0 (decays log-linearly to ``lambda_t_final``)."""
    lambda_t_final: float = 1e-5
    anneal: bool = True
    """Gaussian densification annealing on/off."""
    grow_grad2d_init: float = 4e-4
    """Annealed growth threshold at step 0; decays to ``gs.densify.grow_grad2d``."""
    anneal_steps: int = 25_000
    """Steps over which the threshold decays."""
    frames_per_step: int = 1
    """Blurry frames per step (their sub-frames share one render call)."""
    appearance: str = "none"
    """Per-frame colour model in linear light: none, gain (per-channel gains: exposure, white balance) or
    affine (3x3 + bias)."""
    appearance_start_step: int = 100
    """Steps before the appearance model is learned (the splats find the colours first)."""
    lr_appearance: float = 3e-2
    """Adam LR of the appearance parameters (row-wise: a frame's only move when it is rendered; each frame gets
    only ``steps / frames`` updates), decaying log-linearly to a tenth at the last step."""
    lambda_appearance: float = 1e-3
    """Weight of the pull towards identity, ``mean_frames(|A - I|^2 + |b|^2)``."""
    appearance_refit_every: int = 100
    """Every this many steps from ``appearance_start_step`` (0: never), each frame's transform is re-solved in
    closed form from its mid-exposure render to the frame (gains: ratio of means over unclipped pixels; affine:
    ridge least squares towards identity), then the gauge is centred: the splats otherwise soak up a frame's
    colour faster than its few row-wise Adam updates can take it."""


class TrainLog:
    """Training curve as JSON lines ``{"step", "loss", "psnr", "n_gaussians", "subframes", "seconds"}``
    (``psnr``: dB of the predicted blurry frame vs the observed one, sRGB; ``seconds`` since this (re)start).

    On resume, lines past ``resume_step`` (written after the last checkpoint, before an interruption) and a torn
    last line are dropped, so the file always matches the state training continues from."""

    def __init__(self, path: Path, resume_step: int = 0) -> None:
        self.path = Path(path)
        keep: list[str] = []
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    if int(json.loads(line)["step"]) <= resume_step:
                        keep.append(line)
                except (ValueError, KeyError, TypeError):
                    break
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".partial")
        tmp.write_text("".join(k + "\n" for k in keep))
        os.replace(tmp, self.path)

    def write(self, **row: float) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}) + "\n")


def log_linear(step: int, start: float, end: float, steps: int) -> float:
    """``start * (end / start) ** min(step / steps, 1)`` (3DGS ``get_expon_lr_func`` without delay)."""
    if steps <= 0 or start <= 0 or end <= 0:
        return end
    t = min(max(step / steps, 0.0), 1.0)
    return float(math.exp(math.log(start) * (1.0 - t) + math.log(end) * t))


def annealed_threshold(step: int, cfg: DeblurGSConfig) -> float:
    """Densification growth threshold at ``step``: annealed (log-linear) or the constant final value."""
    final = cfg.gs.densify.grow_grad2d
    if not cfg.anneal:
        return float(final)
    return log_linear(step, cfg.grow_grad2d_init, final, cfg.anneal_steps)


class RowAdam:
    """Adam that updates only the rows (frames) listed at each step ("lazy" Adam, as ``torch.optim.SparseAdam``).

    The trajectories of frames not rendered in a step get zero gradient; plain Adam would keep moving them with
    their stale momentum (at the full learning rate, since ``m / sqrt(v)`` stays near 1), a random drift of
    every frame's motion. Here each frame row has its own moments and step count (betas 0.9 / 0.999).
    ``groups``: name -> (parameter ``[V, ...]``, lr).
    """

    def __init__(
        self,
        params: dict[str, torch.nn.Parameter],
        lrs: dict[str, float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-15,
    ) -> None:
        self.params, self.lrs, self.betas, self.eps = params, dict(lrs), betas, eps
        self.m = {k: torch.zeros_like(p) for k, p in params.items()}
        self.v = {k: torch.zeros_like(p) for k, p in params.items()}
        self.t = {k: torch.zeros(p.shape[0], dtype=torch.long) for k, p in params.items()}

    @torch.no_grad()
    def step(self, rows: torch.Tensor) -> None:
        """Update rows ``rows`` (long, unique) of every parameter with a gradient."""
        b1, b2 = self.betas
        for k, p in self.params.items():
            if p.grad is None or not p.requires_grad or p.shape[1:].numel() == 0:
                continue
            g = p.grad[rows]
            self.t[k][rows.cpu()] += 1
            t = self.t[k][rows.cpu()].to(p.dtype).to(p.device).reshape(-1, *([1] * (p.ndim - 1)))
            m = self.m[k][rows].mul_(b1).add_(g, alpha=1 - b1)
            v = self.v[k][rows].mul_(b2).addcmul_(g, g, value=1 - b2)
            self.m[k][rows], self.v[k][rows] = m, v
            step = self.lrs[k] * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + self.eps)
            p[rows] -= step

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "m": {k: v.clone() for k, v in self.m.items()},
            "v": {k: v.clone() for k, v in self.v.items()},
            "t": {k: v.clone() for k, v in self.t.items()},
            "lrs": dict(self.lrs),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("m", "v", "t"):
            for k, v in state[key].items():
                getattr(self, key)[k] = v.clone().to(self.params[k].device if key != "t" else "cpu")
        self.lrs = dict(state["lrs"])


def _t(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().float()
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


class DeblurGSTrainer:
    """Joint fit of Gaussians and trajectories to blurry frames.

    ``images`` ``[V, H, W, 3]`` float32 sRGB (observed, blurry); ``c2ws`` ``[V, 4, 4]`` given poses; ``K``
    ``[3, 3]`` pixels; ``points`` / ``colors`` (uint8 or [0, 1] sRGB) optional initial cloud.
    """

    def __init__(
        self,
        cfg: DeblurGSConfig,
        images: np.ndarray | torch.Tensor,
        K: np.ndarray | torch.Tensor,
        c2ws: np.ndarray | torch.Tensor,
        *,
        points: np.ndarray | None = None,
        colors: np.ndarray | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.cfg = cfg
        g = cfg.gs
        self.device = torch.device(device)
        imgs = _t(images)
        if imgs.ndim != 4 or imgs.shape[-1] != 3:
            raise ValueError(f"images must be [V, H, W, 3], got {tuple(imgs.shape)}")
        self.images = imgs.to(self.device)
        self.targets_linear = srgb_to_linear(self.images)
        self.height, self.width = int(imgs.shape[1]), int(imgs.shape[2])
        c2w64 = torch.as_tensor(np.asarray(c2ws.cpu() if isinstance(c2ws, torch.Tensor) else c2ws, np.float64))
        c2w64 = c2w64.reshape(-1, 4, 4)
        if len(c2w64) != len(imgs):
            raise ValueError(f"{len(c2w64)} poses for {len(imgs)} images")
        self.K = _t(K).reshape(3, 3).to(self.device)
        scale = g.scene_scale or camera_extent(c2w64)
        if scale <= 1e-8:
            scale = 1.0
        self.scene_scale = float(scale)
        torch.manual_seed(g.seed)
        cols = None
        if points is not None and colors is not None:
            c = np.asarray(colors, dtype=np.float64)
            c = c / 255.0 if np.asarray(colors).dtype == np.uint8 else c
            cols = srgb_to_linear(c)  # the Gaussians hold linear colour
        self.model = init_model(g, c2w64.float(), self.K.cpu(), self.width, self.height, self.scene_scale, points, cols)
        self.model.to(self.device)
        self.optimizers = make_optimizers(self.model, g, self.scene_scale)
        s = cfg.n_subframes if cfg.motion else 1
        self.traj = CameraTrajectories(
            c2w64.float(),
            cfg.curve_order,
            s,
            init_noise=cfg.init_noise,
            trans_scale=self.scene_scale,
            seed=g.seed,
            anchor_mid=cfg.anchor_mid,
        ).to(self.device)
        self.traj.set_trainable(False, False)
        if cfg.appearance not in ("none", "gain", "affine"):
            raise ValueError(f"appearance must be none, gain or affine, got {cfg.appearance!r}")
        # [V, 12]: A - I (row-major 3x3) and b, per frame; zeros = the reference appearance
        self.app = torch.nn.Parameter(torch.zeros(len(imgs), 12, device=self.device))
        self.app_opt = RowAdam({"appearance": self.app}, {"appearance": cfg.lr_appearance})
        self.step = 0
        self.motion_opt = self._make_motion_opt()
        self.strategy = DensifyStrategy(
            g.densify, scene_scale=self.scene_scale, grow_grad2d_schedule=lambda st: annealed_threshold(st, cfg)
        )
        self.generator = torch.Generator().manual_seed(g.seed)
        self._queue: list[int] = []
        self.step = 0
        self.background = torch.tensor(g.background, dtype=torch.float32, device=self.device)
        self.last: dict[str, float] = {}

    # ------------------------------------------------------------------ pieces
    def _make_motion_opt(self) -> RowAdam:
        params = {"trans": self.traj.ctrl_trans, "rot": self.traj.ctrl_rot, "alignment": self.traj.nu}
        return RowAdam(params, self.motion_lrs(self.step))

    @property
    def n_views(self) -> int:
        return int(self.images.shape[0])

    def motion_active(self, step: int | None = None) -> bool:
        """Whether camera motion is optimised (and S sub-frames rendered) at ``step``."""
        st = self.step if step is None else step
        return self.cfg.motion and st >= self.cfg.motion_start_step

    def motion_lrs(self, step: int) -> dict[str, float]:
        """Learning rates of the motion groups at ``step`` (module docstring)."""
        c = self.cfg
        k = max(step - c.motion_start_step, 0) / max(c.motion_lr_half_steps, 1)
        decay = 0.5**k
        return {
            "trans": c.lr_trans * self.scene_scale * decay,
            "rot": c.lr_rot * decay,
            "alignment": log_linear(step, c.lr_alignment, c.lr_alignment * 0.01, c.gs.steps),
        }

    def appearance_active(self, step: int | None = None) -> bool:
        """Whether the per-frame appearance model is applied and learned at ``step``."""
        st = self.step if step is None else step
        return self.cfg.appearance != "none" and st >= self.cfg.appearance_start_step

    def appearance_params(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A [B, 3, 3], b [B, 3])`` of frames ``idx`` (identity + learned deltas; diagonal for ``gain``)."""
        d = self.app[idx]
        delta = d[:, :9].reshape(-1, 3, 3)
        if self.cfg.appearance == "gain":  # exposure and white balance: per-channel gains, no offset
            return torch.eye(3, device=delta.device) + delta * torch.eye(3, device=delta.device), d[:, 9:] * 0.0
        return torch.eye(3, device=delta.device) + delta, d[:, 9:]

    def apply_appearance(self, linear: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Frames ``idx``' colour transforms on linear images ``[B, H, W, 3]``."""
        A, b = self.appearance_params(idx)
        return torch.einsum("bij,bhwj->bhwi", A, linear) + b[:, None, None, :]

    @torch.no_grad()
    def refit_appearance(self, ridge: float = 1e-3) -> None:
        """Solve every frame's ``A, b`` (module docstring) from its mid-exposure render to the observed frame in
        linear light: ``gain``, per-channel ratios of means over pixels unclipped in both (``b = 0``);
        ``affine``, least squares pulled towards identity by ``ridge`` (per pixel)."""
        eye = torch.eye(3, device=self.device)
        for i in range(self.n_views):
            x = self.predict_blurry([i], 1)[0][0].reshape(-1, 3).clamp(0, 1)
            y = self.targets_linear[i].reshape(-1, 3)
            n = float(x.shape[0])
            if self.cfg.appearance == "gain":
                # ratio of means over unclipped pixels: exposure/white balance scale linear light, and a ratio
                # of means is blind to the blur (a regression slope would shrink towards 0 with it)
                ok = ((y < 0.98) & (x < 0.98)).all(1)
                xs, ys = (x[ok], y[ok]) if int(ok.sum()) > 100 else (x, y)
                gain = (ys.mean(0) + ridge) / (xs.mean(0) + ridge)
                A, b = torch.diag(gain), torch.zeros(3, device=self.device)
            else:
                X = torch.cat([x, torch.ones_like(x[:, :1])], 1)  # [N, 4]
                W0 = torch.cat([eye, torch.zeros(1, 3, device=self.device)], 0)  # [4, 3]
                W = torch.linalg.solve(X.T @ X / n + ridge * torch.eye(4, device=self.device), X.T @ y / n + ridge * W0)
                A, b = W[:3].T, W[3]
            self.app.data[i, :9] = (A - eye).reshape(-1)
            self.app.data[i, 9:] = b

    @torch.no_grad()
    def center_appearance(self) -> None:
        """Fix the colour gauge of the appearance model (module docstring): the splat colours and every frame's
        transform can change together without changing any prediction (``A_i x = (A_i G^-1)(G x)``), and left
        free that shared part drifts (real frames: the reference renders turned green). Re-centre so that the
        frames' per-channel gains have a geometric mean of 1, with the shared gain ``G`` moved into the splat
        colours (every SH coefficient and the DC's 0.5 offset: an exact re-parametrisation but for the
        background), and remove the frames' mean crosstalk and mean offset (a projection). The reference
        appearance is then that of the average frame, as the synthetic generator defines it."""
        if self.cfg.appearance == "none" or self.n_views == 0:
            return
        eye = torch.eye(3, device=self.device)
        A, b = self.appearance_params(torch.arange(self.n_views, device=self.device))
        gain = A.diagonal(dim1=1, dim2=2).clamp_min(1e-3).log().mean(0).exp()  # [3] shared gain G
        A = A / gain[None, None, :]  # A_i G^-1
        off = (1.0 - eye) * A
        A = A - (1.0 - eye) * off.mean(0, keepdim=True)
        b = b - b.mean(0, keepdim=True)
        self.app.data[:, :9] = (A - eye).reshape(self.n_views, 9)
        self.app.data[:, 9:] = b
        p = self.model.params
        p["sh0"].data.mul_(gain).add_((gain - 1.0) * 0.5 / SH_C0)  # G (SH_C0 c + 0.5) = SH_C0 c' + 0.5
        p["shN"].data.mul_(gain)

    def appearance_json(self) -> list[dict[str, Any]]:
        """Per frame ``{"A": 3x3, "b": [3]}`` (linear light; identity when the model is off)."""
        with torch.no_grad():
            A, b = self.appearance_params(torch.arange(self.n_views, device=self.device))
        return [{"A": a.cpu().double().tolist(), "b": v.cpu().double().tolist()} for a, v in zip(A, b, strict=True)]

    def lambda_t(self, step: int) -> float:
        """Temporal smoothness weight at ``step``."""
        return log_linear(step, self.cfg.lambda_t_init, self.cfg.lambda_t_final, self.cfg.gs.steps)

    def next_frames(self) -> list[int]:
        """Next ``frames_per_step`` frame indices: seeded random permutations, concatenated."""
        out = []
        while len(out) < max(self.cfg.frames_per_step, 1):
            if not self._queue:
                self._queue = torch.randperm(self.n_views, generator=self.generator).tolist()
            out.append(self._queue.pop(0))
        return out

    def render_linear(self, viewmats: torch.Tensor, sh_degree: int | None = None, step: int | None = None):
        """Render ``viewmats [C, 4, 4]`` with the shared K: ``(rgb_linear [C, H, W, 3], alpha, info)``."""
        c = viewmats.shape[0]
        return self.model.render(
            viewmats,
            self.K.expand(c, 3, 3),
            self.width,
            self.height,
            step=self.step if step is None and sh_degree is None else step,
            sh_degree=sh_degree,
            backgrounds=self.background.expand(c, 3),
            backend=self.cfg.gs.backend,
        )

    def predict_blurry(self, idx: Sequence[int], n_sub: int | None = None) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Predicted blurry frames in linear light ``[B, H, W, 3]`` = mean of the sub-frame renders
        ``[B, S, H, W, 3]`` (also returned), and the render ``info`` (C = B x S cameras).

        ``n_sub = 1`` renders only the mid-exposure pose (warm-up, baseline)."""
        idx_t = torch.as_tensor(list(idx), dtype=torch.long, device=self.device)
        if n_sub == 1:
            t = self.traj.mid_positions(idx_t)[:, None]
        else:
            t = self.traj.positions(idx_t)
        vm = self.traj.viewmats(idx_t, t)  # [B, S, 4, 4]
        b, s = vm.shape[:2]
        rgb, _alpha, info = self.render_linear(vm.reshape(b * s, 4, 4))
        subs = rgb.reshape(b, s, self.height, self.width, 3)
        return subs.mean(dim=1), subs, info

    # ------------------------------------------------------------------ one step
    def train_step(self) -> dict[str, float]:
        """One optimisation step at ``self.step`` (then increments it); returns loss, PSNR, counts."""
        step, c = self.step, self.cfg
        active = self.motion_active(step)
        self.traj.set_trainable(active, active and c.alignment)
        idx = self.next_frames()
        b = len(idx)
        lr = means_lr_at(step, c.gs, self.scene_scale) * math.sqrt(b)
        for group in self.optimizers["means"].param_groups:
            group["lr"] = lr
        self.motion_opt.lrs = self.motion_lrs(step)
        app_on = self.appearance_active(step)
        every = c.appearance_refit_every
        if app_on and every > 0 and (step - c.appearance_start_step) % every == 0:
            self.refit_appearance()  # before this step's render: centring changes the splat colours
            self.center_appearance()
        pred, subs, info = self.predict_blurry(idx, None if active else 1)
        idx_t = torch.as_tensor(idx, device=self.device)
        target = self.targets_linear[idx_t]
        self.strategy.retain(info)
        if app_on:
            pred = self.apply_appearance(pred, idx_t)
        l1 = (pred - target).abs().mean()
        loss = l1
        if c.gs.ssim_lambda > 0:
            s = ssim(pred.permute(0, 3, 1, 2), target.permute(0, 3, 1, 2))
            loss = (1.0 - c.gs.ssim_lambda) * l1 + c.gs.ssim_lambda * (1.0 - s)
        if app_on and c.lambda_appearance > 0:
            loss = loss + c.lambda_appearance * self.app[idx_t].pow(2).sum(-1).mean()
        if subs.shape[1] > 1 and c.lambda_t_init > 0:
            smooth = (subs[:, 1:] - subs[:, :-1]).pow(2).mean()
            loss = loss + self.lambda_t(step) * smooth
        loss.backward()
        for opt in self.optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        if active:
            self.motion_opt.step(torch.as_tensor(sorted(set(idx)), dtype=torch.long, device=self.device))
        self.motion_opt.zero_grad()
        if app_on:
            self.app_opt.lrs["appearance"] = log_linear(step, c.lr_appearance, c.lr_appearance * 0.1, c.gs.steps)
            self.app_opt.step(torch.as_tensor(sorted(set(idx)), dtype=torch.long, device=self.device))
        self.app_opt.zero_grad()
        dens = self.strategy.step_post_backward(
            self.model.params, self.optimizers, step, info, n_views=float(subs.shape[0] * subs.shape[1])
        )
        self.step += 1
        with torch.no_grad():
            p = float(psnr(linear_to_srgb(pred.detach().clamp(0, 1)), self.images[torch.as_tensor(idx)]))
        self.last = {
            "loss": float(loss.detach()),
            "psnr": p,
            "n": float(len(self.model)),
            "threshold": self.strategy.grow_threshold(step),
            **dens,
        }
        return self.last

    def train(
        self,
        steps: int | None = None,
        *,
        progress: bool = True,
        run_dir: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        log_every: int = 10,
        callback: Callable[[DeblurGSTrainer], None] | None = None,
        callback_every: int = 100,
    ) -> dict[str, Any]:
        """Train until ``steps`` (default ``gs.steps``), resuming from ``self.step``; checkpoints to
        ``run_dir/checkpoint.pt`` every ``checkpoint_every`` (default ``gs.checkpoint_every``) steps and at the
        end, and appends a line to ``run_dir/train_log.jsonl`` every ``log_every`` steps (:class:`TrainLog`).
        ``callback(self)`` runs every ``callback_every`` steps and after the last (e.g. a live viewer).
        Returns ``{"steps", "seconds", "loss", "psnr", "n_gaussians"}``."""
        from tqdm import tqdm

        total = self.cfg.gs.steps if steps is None else int(steps)
        every = self.cfg.gs.checkpoint_every if checkpoint_every is None else int(checkpoint_every)
        t0, start = time.perf_counter(), self.step
        log = TrainLog(Path(run_dir) / "train_log.jsonl", resume_step=start) if run_dir is not None else None
        bar = tqdm(total=total, initial=start, disable=not progress, unit="step", dynamic_ncols=True)
        try:
            while self.step < total:
                out = self.train_step()
                bar.update(1)
                if log is not None and (self.step % log_every == 0 or self.step == total):
                    log.write(
                        step=self.step,
                        loss=out["loss"],
                        psnr=out["psnr"],
                        n_gaussians=len(self.model),
                        subframes=self.traj.n_subframes if self.motion_active(self.step - 1) else 1,
                        seconds=time.perf_counter() - t0,
                    )
                if self.step % 10 == 0 or self.step == total:
                    bar.set_postfix(
                        loss=f"{out['loss']:.4f}",
                        psnr=f"{out['psnr']:.2f}",
                        n=len(self.model),
                        S=self.traj.n_subframes if self.motion_active() else 1,
                    )
                if run_dir is not None and every > 0 and self.step % every == 0 and self.step < total:
                    self.save_checkpoint(Path(run_dir) / "checkpoint.pt")
                if callback is not None and (self.step % max(1, callback_every) == 0 or self.step == total):
                    callback(self)
        finally:
            bar.close()
        if self.appearance_active(self.step - 1) and self.step > start:
            self.center_appearance()  # outputs render the reference appearance of a centred gauge
        if run_dir is not None and self.step > start:
            self.save_checkpoint(Path(run_dir) / "checkpoint.pt")
        secs = time.perf_counter() - t0
        return {
            "steps": self.step,
            "seconds": secs,
            "steps_per_s": (self.step - start) / max(secs, 1e-9),
            "loss": self.last.get("loss", float("nan")),
            "psnr": self.last.get("psnr", float("nan")),
            "n_gaussians": len(self.model),
        }

    # ------------------------------------------------------------------ outputs
    @torch.no_grad()
    def training_fit(self) -> dict[str, Any]:
        """How well each training frame is explained: PSNR (dB, sRGB) of the predicted blurry frame (the
        exposure's sub-frames once motion is on, then the frame's appearance transform) against the observed
        one. Returns ``{"per_frame_psnr": [V], "mean", "std", "min", "max"}``; a wide spread on real footage
        points at what the model lacks (exposure changes, moving objects)."""
        n_sub = None if self.motion_active(max(self.step - 1, 0)) else 1
        vals = []
        for i in range(self.n_views):
            idx_t = torch.tensor([i], device=self.device)
            pred = self.predict_blurry([i], n_sub)[0]
            if self.appearance_active(max(self.step - 1, 0)):
                pred = self.apply_appearance(pred, idx_t)
            vals.append(float(psnr(linear_to_srgb(pred.clamp(0, 1)), self.images[i : i + 1].to(self.device))))
        v = np.asarray(vals)
        return {"per_frame_psnr": vals, "mean": float(v.mean()), "std": float(v.std()),
                "min": float(v.min()), "max": float(v.max())}  # fmt: skip

    @torch.no_grad()
    def render_sharp(self, idx: Sequence[int] | None = None) -> torch.Tensor:
        """Sharp training frames ``[B, H, W, 3]`` sRGB in [0, 1]: rendered at the mid-exposure pose."""
        idx = list(range(self.n_views)) if idx is None else list(idx)
        out = []
        for i in idx:
            t = self.traj.mid_positions([i])[:, None]
            vm = self.traj.viewmats([i], t)[:, 0]
            rgb, _, _ = self.render_linear(vm, sh_degree=self.model.sh_degree_max)
            out.append(linear_to_srgb(rgb[0].clamp(0, 1)))
        return torch.stack(out)

    @torch.no_grad()
    def render_c2w(self, c2w: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Novel views from camera-to-world poses ``[C, 4, 4]`` -> sRGB ``[C, H, W, 3]``."""
        vm = c2w_to_viewmat(torch.as_tensor(np.asarray(c2w), dtype=torch.float64).reshape(-1, 4, 4)).float()
        out = [
            linear_to_srgb(
                self.render_linear(v[None].to(self.device), sh_degree=self.model.sh_degree_max)[0][0].clamp(0, 1)
            )
            for v in vm
        ]
        return torch.stack(out)

    # ------------------------------------------------------------------ persistence
    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Model, all optimisers, trajectories, strategy, step, frame order and RNG states, atomically."""
        extra = {
            "traj": {k: v.detach().cpu() for k, v in self.traj.state_dict().items()},
            "motion_opt": self.motion_opt.state_dict(),
            "appearance": self.app.detach().cpu(),
            "appearance_opt": self.app_opt.state_dict(),
        }
        return save_trainer_checkpoint(self, path, extra)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a checkpoint of this trainer (same frames and config); training continues exactly."""
        ckpt = load_checkpoint(path)
        restore_trainer_checkpoint(self, ckpt, self.cfg.gs)
        self.traj.load_state_dict(ckpt["extra"]["traj"])
        self.motion_opt = self._make_motion_opt()
        self.motion_opt.load_state_dict(ckpt["extra"]["motion_opt"])
        if "appearance" in ckpt["extra"]:  # checkpoints from before the appearance model: identity
            with torch.no_grad():
                self.app.copy_(ckpt["extra"]["appearance"].to(self.device))
            self.app_opt.load_state_dict(ckpt["extra"]["appearance_opt"])

    def export_ply(self, path: str | os.PathLike) -> Path:
        """Write the scene as a 3DGS PLY with sRGB-encoded colours (the model holds linear light; viewers
        expect sRGB: see :func:`reconstruction.splats.ply.linear_sh_to_srgb`)."""
        from reconstruction.splats.ply import save_ply

        return save_ply(path, self.model, linear_colors=True)
