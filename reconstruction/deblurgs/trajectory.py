"""Per-frame in-exposure camera trajectories: Bezier curves in se(3) as small deltas on the given pose.

DeblurGS (Oh et al., "DeblurGS: Gaussian Splatting for Camera Motion Blur", arXiv 2404.11358, Sec. 3.2;
authors' code taekkii/deblurgs ``scene/motion.py``, ``scene/bezier.py``) models the camera during the
exposure of each blurry frame as a Bezier curve in se(3) of order ``n`` (code default 9, i.e. 10 control
points) and renders ``S`` sub-frames along it (code default 21) at positions ``0 = t_0 <= ... <= t_{S-1} = 1``
whose interior values are learnable ("sub-frame alignment"; sorted, endpoints fixed).

Here the curve is stored as a *delta* on the given (SfM) pose, applied in the camera frame::

    c2w(t) = c2w_given @ se3_exp(B(t)),   B(t) = sum_j binom(n, j) t^j (1 - t)^(n - j) c_j,   c_j in R^6

with ``c_j = (rho_j, phi_j)`` in the order of :mod:`reconstruction.geometry.lie` (translation first, world units of the
camera frame; rotation as axis-angle, radians). Control points start at zero plus tiny noise, so the
curve starts as the given pose. Translation and rotation control points are separate tensors so that they
can have separate learning rates (code: ``curve_controlpoints_lr`` 1e-2, ``curve_rotation_lr`` 1e-3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from reconstruction.geometry.lie import se3_exp, se3_inverse

__all__ = ["bernstein_basis", "bezier", "bezier_derivative", "CameraTrajectories"]


def bernstein_basis(t: torch.Tensor, order: int) -> torch.Tensor:
    """Bernstein polynomials ``b_{j,n}(t) = C(n, j) t^j (1 - t)^(n - j)``: ``t [..., S]`` -> ``[..., S, n + 1]``.

    Rows sum to 1 (partition of unity); differentiable in ``t``.
    """
    n = int(order)
    if n < 0:
        raise ValueError(f"Bezier order must be >= 0, got {order}")
    j = torch.arange(n + 1, dtype=t.dtype, device=t.device)
    coef = torch.tensor([math.comb(n, int(k)) for k in range(n + 1)], dtype=t.dtype, device=t.device)
    tt = t[..., None]
    return coef * tt.pow(j) * (1.0 - tt).pow(n - j)


def bezier(ctrl: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Evaluate Bezier curves: control points ``ctrl [..., n + 1, D]`` at ``t [..., S]`` -> ``[..., S, D]``.

    ``B(0) = ctrl[..., 0, :]`` and ``B(1) = ctrl[..., -1, :]``.
    """
    basis = bernstein_basis(t, ctrl.shape[-2] - 1)  # [..., S, n+1]
    return basis @ ctrl


def bezier_derivative(ctrl: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``dB/dt`` at ``t``: the order ``n - 1`` curve of control points ``n (c_{j+1} - c_j)``; ``[..., S, D]``."""
    n = ctrl.shape[-2] - 1
    if n == 0:
        return torch.zeros(*t.shape, ctrl.shape[-1], dtype=ctrl.dtype, device=ctrl.device)
    return bezier(n * (ctrl[..., 1:, :] - ctrl[..., :-1, :]), t)


class CameraTrajectories(torch.nn.Module):
    """Bezier trajectories in se(3) of ``V`` frames around given camera-to-world poses ``c2w [V, 4, 4]``.

    Parameters: ``ctrl_trans [V, n + 1, 3]`` (world units), ``ctrl_rot [V, n + 1, 3]`` (radians),
    ``nu [V, S - 2]`` interior sub-frame positions (initialised evenly spaced). ``anchor_mid``: subtract the
    curve's value at mid-exposure (:meth:`mid_positions`) so that the mid-exposure pose stays the given pose
    (a departure from the paper: it removes the drift of each frame's curve, and of the whole scene, along
    the curve-shift direction, which the blur does not constrain well in short runs; leave it off when the
    given poses are noisy and must be corrected). ``init_noise`` is the standard
    deviation of the initial control-point noise: radians for rotation, ``init_noise * trans_scale`` world
    units for translation.
    """

    def __init__(
        self,
        c2w: torch.Tensor,
        order: int = 9,
        n_subframes: int = 21,
        *,
        init_noise: float = 1e-5,
        trans_scale: float = 1.0,
        seed: int = 0,
        anchor_mid: bool = False,
    ) -> None:
        super().__init__()
        if n_subframes < 1:
            raise ValueError(f"n_subframes must be >= 1, got {n_subframes}")
        c2w = torch.as_tensor(c2w, dtype=torch.float32).reshape(-1, 4, 4)
        v, p = c2w.shape[0], int(order) + 1
        self.order = int(order)
        self.n_subframes = int(n_subframes)
        self.anchor_mid = bool(anchor_mid)
        self.register_buffer("c2w_base", c2w.clone())
        g = torch.Generator().manual_seed(int(seed))
        self.ctrl_trans = torch.nn.Parameter(torch.randn(v, p, 3, generator=g) * init_noise * trans_scale)
        self.ctrl_rot = torch.nn.Parameter(torch.randn(v, p, 3, generator=g) * init_noise)
        s = self.n_subframes
        interior = torch.linspace(0.0, 1.0, max(s, 2))[1:-1] if s > 2 else torch.zeros(0)
        self.nu = torch.nn.Parameter(interior[None].repeat(v, 1).contiguous())

    def __len__(self) -> int:
        return int(self.c2w_base.shape[0])

    def positions(self, idx: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Sub-frame positions ``[B, S]`` in [0, 1]: ``sort(cat(0, clamp(nu, 0, 1), 1))`` (S = 1: ``[0.5]``)."""
        idx_t = torch.as_tensor(idx, dtype=torch.long, device=self.nu.device)
        b = idx_t.numel()
        if self.n_subframes == 1:
            return torch.full((b, 1), 0.5, device=self.nu.device)
        zero = torch.zeros(b, 1, device=self.nu.device)
        t = torch.cat([zero, self.nu[idx_t].clamp(0.0, 1.0), zero + 1.0], dim=1)
        return t.sort(dim=1).values

    def mid_positions(self, idx: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Mid-exposure position ``[B]``: the median sub-frame position (sub-frames are equal time slices)."""
        t = self.positions(idx)
        s = t.shape[1]
        return t[:, s // 2] if s % 2 else 0.5 * (t[:, s // 2 - 1] + t[:, s // 2])

    def deltas(self, idx: Sequence[int] | torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """se(3) deltas ``[B, S, 6]`` (rho, phi) of frames ``idx`` at positions ``t [B, S]``."""
        idx_t = torch.as_tensor(idx, dtype=torch.long, device=self.nu.device)
        ctrl = torch.cat([self.ctrl_trans[idx_t], self.ctrl_rot[idx_t]], dim=-1)  # [B, P, 6]
        out = bezier(ctrl, t)
        if self.anchor_mid:  # the curve is shifted (in se(3)) so that mid-exposure is the given pose
            out = out - bezier(ctrl, self.mid_positions(idx_t)[:, None])
        return out

    def c2w(self, idx: Sequence[int] | torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """Camera-to-world poses ``[B, S, 4, 4]`` along the curves (``t`` default: :meth:`positions`)."""
        idx_t = torch.as_tensor(idx, dtype=torch.long, device=self.nu.device)
        if t is None:
            t = self.positions(idx_t)
        delta = se3_exp(self.deltas(idx_t, t))
        return self.c2w_base[idx_t][:, None] @ delta

    def viewmats(self, idx: Sequence[int] | torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """World-to-camera viewmats ``[B, S, 4, 4]`` (inverse of :meth:`c2w`); differentiable."""
        return se3_inverse(self.c2w(idx, t))

    def set_trainable(self, motion: bool, alignment: bool) -> None:
        """Switch gradients of the control points (``motion``) and of the positions (``alignment``)."""
        self.ctrl_trans.requires_grad_(motion)
        self.ctrl_rot.requires_grad_(motion)
        self.nu.requires_grad_(alignment)

    @torch.no_grad()
    def to_json(self, n_samples: int = 0) -> dict:
        """JSON-able trajectories: per frame the base pose, control points, positions and the sub-frame c2w
        at those positions (plus ``n_samples`` evenly spaced samples when > 0). Units: world, radians."""
        idx = torch.arange(len(self), device=self.nu.device)
        t = self.positions(idx)
        poses = self.c2w(idx, t)
        mid = self.c2w(idx, self.mid_positions(idx)[:, None])[:, 0]
        frames = []
        for i in range(len(self)):
            fr = {
                "c2w_given": self.c2w_base[i].tolist(),
                "c2w_mid": mid[i].tolist(),
                "positions": t[i].tolist(),
                "ctrl_trans": self.ctrl_trans[i].tolist(),
                "ctrl_rot": self.ctrl_rot[i].tolist(),
                "c2w_sub": poses[i].tolist(),
            }
            frames.append(fr)
        out = {
            "order": self.order,
            "n_subframes": self.n_subframes,
            "delta": "c2w = c2w_given @ se3_exp(B(t))",
            "frames": frames,
        }
        if n_samples > 0:
            ts = torch.linspace(0.0, 1.0, n_samples, device=self.nu.device)[None].repeat(len(self), 1)
            samples = self.c2w(idx, ts)
            for i, fr in enumerate(frames):
                fr["c2w_samples"] = samples[i].tolist()
        return out
