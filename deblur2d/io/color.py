"""The one pair of colour transfer functions used across sharpsplat.

Blur is formed in linear light (DESIGN.md): ``blurry = linear_to_srgb(mean_k(srgb_to_linear(sharp_k)))``.
Both functions accept numpy arrays or torch tensors of any shape, values in [0, 1].

``gamma=2.2`` (default) is a pure power law; ``gamma=None`` selects the exact piecewise sRGB curve
(IEC 61966-2-1).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

try:  # torch is a hard dependency of the project, but keep this module importable without it
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]

ArrayT = TypeVar("ArrayT")

DEFAULT_GAMMA = 2.2


def _lib(x):
    if torch is not None and isinstance(x, torch.Tensor):
        return torch
    return np


def srgb_to_linear(x: ArrayT, gamma: float | None = DEFAULT_GAMMA) -> ArrayT:
    """sRGB-encoded values in [0, 1] -> linear light in [0, 1]. Negative inputs are clamped to 0."""
    lib = _lib(x)
    x = lib.clip(x, 0.0, None)
    if gamma is not None:
        return x**gamma
    return lib.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: ArrayT, gamma: float | None = DEFAULT_GAMMA) -> ArrayT:
    """Linear light in [0, 1] -> sRGB-encoded values in [0, 1]. Negative inputs are clamped to 0."""
    lib = _lib(x)
    x = lib.clip(x, 0.0, None)
    if gamma is not None:
        if lib is torch:  # floor keeps the gradient of x**(1/gamma) finite at 0; the mask keeps f(0) = 0
            return x.clamp_min(1e-12) ** (1.0 / gamma) * (x > 0)
        return x ** (1.0 / gamma)
    return lib.where(x <= 0.0031308, x * 12.92, 1.055 * lib.clip(x, 0.0031308, None) ** (1 / 2.4) - 0.055)
