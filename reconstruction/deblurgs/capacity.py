"""Capacity that fits the scene: training resolution, Gaussian cap and steps from the frame size, the number of
sub-frames and a time budget (the ``cpu`` preset; ``budget_minutes`` of ``reconstruction.deblurgs.cli.TrainArgs``).

The rule (a cost model with one measured constant):

- resolution: the smallest integer downscale that brings the long side to at most ``max_long_side`` (640 px: the
  native CPU rasterizer made twice the old 320 px affordable, issue 14);
- cost of a step ~ ``SECONDS_PER_PX_SUBFRAME x pixels x sub-frames`` (rendering and its backward dominate, 95%;
  measured on this project's idle 2-core CPU with scripts/profile_deblurgs_step.py: 65 ms per step at 320x240
  with 5 sub-frames and 5.8k Gaussians, native rasterizer; the constant allows 0.12 s, since real scenes carry
  2-7x more Gaussians, and the PyTorch backend took 511 ms). An estimate: warm-up steps render one sub-frame;
- steps: as many as the budget holds, within ``[min_steps, max_steps]``;
- Gaussian cap: one per ``PX_PER_GAUSSIAN`` training pixels (the real 314x176 frames filled a 12k cap by step 200
  of 800), within ``[min_gaussians, max_gaussians]``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = ["Capacity", "MAX_LONG_SIDE", "PX_PER_GAUSSIAN", "SECONDS_PER_PX_SUBFRAME", "fit_capacity",
           "training_downscale"]  # fmt: skip

#: Longest training side (px) the rule allows on the CPU (module docstring).
MAX_LONG_SIDE = 640

#: Seconds per training pixel per rendered sub-frame for one step (0.12 s / (320 * 240 * 5), see above).
SECONDS_PER_PX_SUBFRAME = 0.12 / (320 * 240 * 5)
#: Training pixels per Gaussian of the cap.
PX_PER_GAUSSIAN = 4.0


def training_downscale(width: int, height: int, max_long_side: int = MAX_LONG_SIDE) -> int:
    """The smallest integer downscale that brings the long side of ``width`` x ``height`` to ``max_long_side``."""
    return max(1, math.ceil(max(width, height) / max_long_side))


@dataclass
class Capacity:
    """What :func:`fit_capacity` chose, and its estimate of the training time (seconds)."""

    downscale: int
    width: int
    height: int
    steps: int
    max_gaussians: int
    seconds_per_step: float
    seconds_estimate: float

    def line(self) -> str:
        return (
            f"capacity for the budget: {self.width}x{self.height} (downscale {self.downscale}), {self.steps} steps, "
            f"up to {self.max_gaussians} Gaussians, about {self.seconds_per_step:.2f} s/step, "
            f"{self.seconds_estimate / 60:.1f} min estimated"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def fit_capacity(
    width: int,
    height: int,
    budget_s: float,
    n_subframes: int,
    motion_start_step: int,
    *,
    max_long_side: int = MAX_LONG_SIDE,
    min_steps: int = 300,
    max_steps: int = 5000,
    min_gaussians: int = 4000,
    max_gaussians: int = 40000,
    seconds_per_px_subframe: float = SECONDS_PER_PX_SUBFRAME,
) -> Capacity:
    """Training downscale, steps and Gaussian cap for frames of ``width`` x ``height`` px in ``budget_s`` seconds
    of training with ``n_subframes`` sub-frames after ``motion_start_step`` warm-up steps (module docstring)."""
    if budget_s <= 0:
        raise ValueError("budget_s must be positive")
    d = training_downscale(width, height, max_long_side)
    w, h = width // d, height // d
    px = w * h
    t_full = seconds_per_px_subframe * px * max(n_subframes, 1)
    t_warm = seconds_per_px_subframe * px
    warm = min(motion_start_step, min_steps)
    steps = warm + (budget_s - warm * t_warm) / t_full
    steps = int(min(max(steps, min_steps), max_steps))
    cap = int(min(max(px / PX_PER_GAUSSIAN, min_gaussians), max_gaussians))
    est = min(steps, motion_start_step) * t_warm + max(steps - motion_start_step, 0) * t_full
    return Capacity(d, w, h, steps, cap, round(t_full, 3), round(est, 1))
