"""The Gaussian scene model: parameters, initialisation, activation for rendering, checkpoints.

Parameters (``GaussianModel.params``, an ``nn.ParameterDict``; names as gsplat's ``simple_trainer`` so that a
densification strategy can replace them by name):

========== ============ ===========================================================
name       shape        meaning
========== ============ ===========================================================
means      [N, 3]       centres, world units
scales     [N, 3]       log of the standard deviations along the local axes
quats      [N, 4]       rotation (w, x, y, z), any norm; normalised when rendered
opacities  [N]          logit of opacity
sh0        [N, 1, 3]    degree-0 spherical-harmonics coefficient (DC colour)
shN        [N, K-1, 3]  higher SH coefficients, K = (sh_degree_max + 1)^2
========== ============ ===========================================================

Colour follows 3DGS / gsplat: ``rgb = max(SH(dir) + 0.5, 0)`` so a DC coefficient ``c`` renders as
``SH_C0 * c + 0.5`` (:func:`rgb_to_sh`). The active SH degree rises by one every ``sh_degree_interval``
steps up to ``sh_degree_max`` (3DGS: every 1000 iterations up to 3; Kerbl et al., "3D Gaussian Splatting
for Real-Time Radiance Field Rendering", SIGGRAPH 2023, and its reference code ``oneupSHdegree``).

Checkpoints (:func:`save_checkpoint` / :func:`load_checkpoint`) hold the model, optimiser states, strategy
state, step and anything extra in one ``torch.save`` dict, written atomically; reloading reproduces training
bit for bit on the CPU.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

from deblur2d.io.atomic import atomic_path

__all__ = [
    "SH_C0",
    "PARAM_NAMES",
    "GaussianModel",
    "num_sh_coeffs",
    "rgb_to_sh",
    "sh_to_rgb",
    "knn_scales",
    "save_checkpoint",
    "load_checkpoint",
]

#: Degree-0 real spherical-harmonics constant 1 / (2 sqrt(pi)).
SH_C0 = 0.28209479177387814
#: Parameter names, in the order they are stored and exported.
PARAM_NAMES = ("means", "scales", "quats", "opacities", "sh0", "shN")
CHECKPOINT_VERSION = 1


def num_sh_coeffs(degree: int) -> int:
    """Number of SH coefficients per colour channel up to ``degree``: ``(degree + 1)^2``."""
    return (degree + 1) ** 2


def rgb_to_sh(rgb: torch.Tensor) -> torch.Tensor:
    """Colour in [0, 1] -> DC coefficient that renders as that colour (``(rgb - 0.5) / SH_C0``)."""
    return (rgb - 0.5) / SH_C0


def sh_to_rgb(sh0: torch.Tensor) -> torch.Tensor:
    """DC coefficient -> view-independent colour (inverse of :func:`rgb_to_sh`, not clamped)."""
    return sh0 * SH_C0 + 0.5


def knn_scales(points: np.ndarray, k: int = 3, min_dist2: float = 1e-7) -> np.ndarray:
    """Initial isotropic scale per point: sqrt of the mean squared distance to its ``k`` nearest neighbours.

    As the 3DGS reference code (``distCUDA2``: mean of the 3 squared NN distances, clamped at 1e-7) and
    gsplat's ``simple_trainer`` (RMS of ``knn(points, 4)[:, 1:]``). Returns float64 ``[N]``, world units.
    With fewer than ``k + 1`` points the available neighbours are used; one point gets ``sqrt(min_dist2)``.
    """
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    if n <= 1:
        return np.full(n, math.sqrt(min_dist2))
    kk = min(k, n - 1)
    dist, _ = cKDTree(pts).query(pts, k=kk + 1)
    dist = np.asarray(dist).reshape(n, kk + 1)[:, 1:]
    return np.sqrt(np.maximum((dist**2).mean(axis=1), min_dist2))


def _colors_to_float(
    colors: np.ndarray | torch.Tensor | None, n: int, rng: np.random.Generator
) -> np.ndarray:
    if colors is None:
        return rng.random((n, 3))
    c = np.asarray(colors.detach().cpu() if isinstance(colors, torch.Tensor) else colors)
    if c.shape != (n, 3):
        raise ValueError(f"colors must have shape ({n}, 3), got {c.shape}")
    if np.issubdtype(c.dtype, np.integer):
        return c.astype(np.float64) / 255.0
    return c.astype(np.float64)


class GaussianModel(torch.nn.Module):
    """A set of 3D Gaussians with SH colour. See the module docstring for the parameters.

    Build with :meth:`from_points` (SfM points), :meth:`random_in_frusta` (no points) or :meth:`from_state`.
    """

    def __init__(
        self,
        means: torch.Tensor,
        scales: torch.Tensor,
        quats: torch.Tensor,
        opacities: torch.Tensor,
        sh0: torch.Tensor,
        shN: torch.Tensor,
        *,
        sh_degree_max: int = 3,
        sh_degree_interval: int = 1000,
    ) -> None:
        """Raw (unactivated) tensors as described in the module docstring; they are copied into Parameters."""
        super().__init__()
        if not 0 <= sh_degree_max <= 3:
            raise ValueError(f"sh_degree_max must be 0..3, got {sh_degree_max}")
        n = means.shape[0]
        k = num_sh_coeffs(sh_degree_max)
        expected = {
            "means": (n, 3),
            "scales": (n, 3),
            "quats": (n, 4),
            "opacities": (n,),
            "sh0": (n, 1, 3),
            "shN": (n, k - 1, 3),
        }
        given = dict(means=means, scales=scales, quats=quats, opacities=opacities, sh0=sh0, shN=shN)
        for name, shape in expected.items():
            if tuple(given[name].shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(given[name].shape)}")
        self.sh_degree_max = int(sh_degree_max)
        self.sh_degree_interval = int(sh_degree_interval)
        self.params = torch.nn.ParameterDict(
            {name: torch.nn.Parameter(given[name].detach().clone().float()) for name in PARAM_NAMES}
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_points(
        cls,
        points: np.ndarray | torch.Tensor,
        colors: np.ndarray | torch.Tensor | None = None,
        *,
        sh_degree_max: int = 3,
        sh_degree_interval: int = 1000,
        init_opacity: float = 0.1,
        init_scale: float = 1.0,
        seed: int = 0,
    ) -> GaussianModel:
        """Gaussians centred on ``points`` [N, 3] (world units) with ``colors`` [N, 3].

        ``colors`` in [0, 1] as floats or 0..255 as integers; random when None. Scales are isotropic,
        ``init_scale`` times :func:`knn_scales`; rotations are identity; opacity ``init_opacity`` (3DGS: 0.1);
        higher SH coefficients zero.
        """
        pts = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else points
        pts = np.asarray(pts, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
            raise ValueError(f"points must have shape (N>0, 3), got {pts.shape}")
        rng = np.random.default_rng(seed)
        n = len(pts)
        rgb = _colors_to_float(colors, n, rng)
        scale = knn_scales(pts) * init_scale
        k = num_sh_coeffs(sh_degree_max)
        quats = torch.zeros(n, 4)
        quats[:, 0] = 1.0
        return cls(
            means=torch.from_numpy(pts).float(),
            scales=torch.from_numpy(np.log(scale)).float()[:, None].repeat(1, 3),
            quats=quats,
            opacities=torch.full((n,), float(torch.logit(torch.tensor(init_opacity, dtype=torch.float64)))),
            sh0=rgb_to_sh(torch.from_numpy(rgb).float())[:, None, :],
            shN=torch.zeros(n, k - 1, 3),
            sh_degree_max=sh_degree_max,
            sh_degree_interval=sh_degree_interval,
        )

    @classmethod
    def random_in_frusta(
        cls,
        c2ws: np.ndarray | torch.Tensor,
        Ks: np.ndarray | torch.Tensor,
        width: int,
        height: int,
        n: int,
        depth_range: tuple[float, float],
        *,
        seed: int = 0,
        **kwargs: Any,
    ) -> GaussianModel:
        """``n`` random Gaussians inside the cameras' view frusta (when no SfM points exist).

        Each point picks a camera uniformly, a pixel uniformly in ``[0, width) x [0, height)`` and a depth
        (distance along the optical axis, world units) uniformly in ``depth_range``, then is unprojected with
        that camera's ``Ks`` [C, 3, 3] (or one [3, 3]) and camera-to-world ``c2ws`` [C, 4, 4] (OpenCV axes).
        Colours are uniform random; other settings (``kwargs``) as :meth:`from_points`.
        """
        c2w = np.asarray(c2ws.detach().cpu() if isinstance(c2ws, torch.Tensor) else c2ws, dtype=np.float64)
        K = np.asarray(Ks.detach().cpu() if isinstance(Ks, torch.Tensor) else Ks, dtype=np.float64)
        c2w = c2w.reshape(-1, 4, 4)
        K = np.broadcast_to(K.reshape(-1, 3, 3), (len(c2w), 3, 3))
        near, far = float(depth_range[0]), float(depth_range[1])
        if not 0 < near < far:
            raise ValueError(f"depth_range must satisfy 0 < near < far, got {depth_range}")
        rng = np.random.default_rng(seed)
        cam = rng.integers(0, len(c2w), size=n)
        uv = rng.random((n, 2)) * np.array([width, height], dtype=np.float64)
        z = rng.uniform(near, far, size=n)
        Kc = K[cam]
        x = (uv[:, 0] - Kc[:, 0, 2]) / Kc[:, 0, 0] * z
        y = (uv[:, 1] - Kc[:, 1, 2]) / Kc[:, 1, 1] * z
        p_cam = np.stack([x, y, z], axis=1)
        p_world = np.einsum("nij,nj->ni", c2w[cam, :3, :3], p_cam) + c2w[cam, :3, 3]
        return cls.from_points(p_world, rng.random((n, 3)), seed=seed, **kwargs)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.params["means"].shape[0])

    @property
    def num_gaussians(self) -> int:
        """Current number of Gaussians N."""
        return len(self)

    def __getitem__(self, name: str) -> torch.nn.Parameter:
        return self.params[name]

    def sh_degree_at(self, step: int) -> int:
        """Active SH degree at a training step: ``min(step // sh_degree_interval, sh_degree_max)``."""
        if self.sh_degree_interval <= 0:
            return self.sh_degree_max
        return min(int(step) // self.sh_degree_interval, self.sh_degree_max)

    def to_render_dict(self, sh_degree: int | None = None) -> dict[str, torch.Tensor]:
        """Activated mapping for :func:`reconstruction.splats.render.render` (differentiable w.r.t. ``params``).

        ``means`` [N, 3], ``quats`` [N, 4] unit, ``scales`` [N, 3] = exp(log-scales), ``opacities`` [N] =
        sigmoid(logits), ``colors`` [N, (d+1)^2, 3] SH coefficients up to degree ``d = sh_degree``
        (``sh_degree_max`` when None). Pass the same ``sh_degree`` to ``render``.
        """
        d = self.sh_degree_max if sh_degree is None else int(sh_degree)
        if not 0 <= d <= self.sh_degree_max:
            raise ValueError(f"sh_degree must be 0..{self.sh_degree_max}, got {d}")
        p = self.params
        colors = torch.cat([p["sh0"], p["shN"][:, : num_sh_coeffs(d) - 1]], dim=1)
        return {
            "means": p["means"],
            "quats": F.normalize(p["quats"], dim=-1),
            "scales": torch.exp(p["scales"]),
            "opacities": torch.sigmoid(p["opacities"]),
            "colors": colors,
        }

    def render(
        self,
        viewmats: torch.Tensor,
        Ks: torch.Tensor,
        width: int,
        height: int,
        *,
        step: int | None = None,
        sh_degree: int | None = None,
        **kwargs: Any,
    ):
        """Render with :func:`reconstruction.splats.render.render`; SH degree from ``sh_degree``, else ``step``
        (:meth:`sh_degree_at`), else the maximum. Returns ``(rgb [C,H,W,3], alpha [C,H,W,1], info)``."""
        from .render import render

        if sh_degree is None:
            sh_degree = self.sh_degree_max if step is None else self.sh_degree_at(step)
        splats = self.to_render_dict(sh_degree)
        return render(splats, viewmats, Ks, width, height, sh_degree=sh_degree, **kwargs)

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, Any]:
        """Plain dict (tensors cloned to CPU, settings) that :meth:`from_state` turns back into this model."""
        return {
            "params": {name: self.params[name].detach().cpu().clone() for name in PARAM_NAMES},
            "sh_degree_max": self.sh_degree_max,
            "sh_degree_interval": self.sh_degree_interval,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], device: torch.device | str | None = None) -> GaussianModel:
        """Inverse of :meth:`get_state`; values are restored exactly."""
        p = state["params"]
        model = cls(
            **{name: p[name] for name in PARAM_NAMES},
            sh_degree_max=int(state["sh_degree_max"]),
            sh_degree_interval=int(state["sh_degree_interval"]),
        )
        return model.to(device) if device is not None else model


def save_checkpoint(
    path: str | os.PathLike,
    model: GaussianModel,
    *,
    step: int,
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    strategy: Any | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{"version", "step", "model", "optimizers", "strategy", "extra"}`` with ``torch.save``,
    atomically.

    ``strategy`` is anything with ``state_dict()`` (e.g. :class:`reconstruction.splats.densify.DensifyStrategy`).
    ``extra`` holds whatever else a trainer needs to resume exactly (RNG states, config).
    """
    ckpt = {
        "version": CHECKPOINT_VERSION,
        "step": int(step),
        "model": model.get_state(),
        "optimizers": {k: opt.state_dict() for k, opt in (optimizers or {}).items()},
        "strategy": strategy.state_dict() if strategy is not None else None,
        "extra": dict(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` into a dict.

    ``GaussianModel.from_state(ckpt["model"])`` rebuilds the model; then load each optimiser's and the
    strategy's ``load_state_dict``."""
    ckpt = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: not a sharpsplat Gaussian checkpoint (version {CHECKPOINT_VERSION})")
    return ckpt
