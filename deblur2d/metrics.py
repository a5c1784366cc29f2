"""Image quality metrics shared by training losses and evaluation: PSNR and SSIM.

Layouts (both functions, both arguments the same shape):

- ``[H, W, C]`` (3-D): one channels-last image, as images are held in memory and as renders come out.
- ``[B, C, H, W]`` (4-D): a channels-first batch, as networks take them. A batch of renders ``[B, H, W, 3]``
  must be permuted first (``x.permute(0, 3, 1, 2)``): a 4-D input is always read as channels-first.

Inputs may be torch tensors (results stay differentiable tensors, usable in losses) or numpy arrays
(results are Python floats). Values are expected in ``[0, max_val]``; nothing is clipped.

SSIM follows Wang, Bovik, Sheikh and Simoncelli, "Image quality assessment: from error visibility to
structural similarity", IEEE TIP 13(4), 2004: an 11x11 circular-symmetric Gaussian window with sigma 1.5, K1 =
0.01, K2 = 0.03, population (not sample) covariances, and the SSIM map taken only where the window fits inside
the image ("valid" filtering). This equals ``skimage.metrics.structural_similarity(a, b,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=max_val, channel_axis=-1)``: the
mean over channels of each channel's mean SSIM. (The original 3DGS code zero-pads instead, which lowers values
near the borders.)
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim", "gaussian_window_1d"]

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03


def _as_tensor(x) -> tuple[torch.Tensor, bool]:
    if isinstance(x, torch.Tensor):
        return x, True
    return torch.as_tensor(np.asarray(x, dtype=np.float64)), False


def psnr(a, b, max_val: float = 1.0):
    """Peak signal-to-noise ratio in dB, ``10 log10(max_val^2 / MSE)`` with the MSE over all elements.

    Any shape (``a`` and ``b`` equal). For a batch, this is the PSNR of the pooled MSE, not the mean of
    per-image PSNRs: call it per image for the usual benchmark average. Identical inputs give ``inf``.
    Returns a 0-d tensor for torch inputs (differentiable), a float for numpy inputs.
    """
    ta, is_torch = _as_tensor(a)
    tb, _ = _as_tensor(b)
    if ta.shape != tb.shape:
        raise ValueError(f"psnr: shapes differ: {tuple(ta.shape)} vs {tuple(tb.shape)}")
    if not is_torch:
        mse = float(torch.mean((ta - tb) ** 2))
        return math.inf if mse == 0.0 else 10.0 * math.log10(max_val**2 / mse)
    mse = torch.mean((ta - tb.to(ta.dtype)) ** 2)
    return 10.0 * torch.log10(max_val**2 / mse)


def gaussian_window_1d(
    size: int = _SSIM_WINDOW, sigma: float = _SSIM_SIGMA, dtype=torch.float32, device=None
) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps (odd), centred; the 2-D SSIM window is its outer product."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    w = torch.exp(-(x**2) / (2.0 * sigma**2))
    return (w / w.sum()).to(dtype=dtype, device=device)


def _to_bchw(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 3:
        return x.permute(2, 0, 1).unsqueeze(0)
    if x.ndim == 4:
        return x
    raise ValueError(f"ssim: expected [H, W, C] or [B, C, H, W], got shape {tuple(x.shape)}")


def ssim(
    a,
    b,
    max_val: float = 1.0,
    reduction: Literal["mean", "none"] = "mean",
):
    """Mean structural similarity (Wang et al. 2004) of two images or batches, in [-1, 1] (1 when equal).

    ``a``, ``b``: ``[H, W, C]`` or ``[B, C, H, W]`` (see the module docstring), both at least 11x11 pixels.
    ``reduction="mean"`` gives one value (mean over batch, channels and valid pixels); ``"none"`` gives one
    value per image, shape ``[B]`` (``[1]`` for a 3-D input). Torch inputs give differentiable tensors (use
    ``1 - ssim`` as the D-SSIM loss), numpy inputs give floats (or a numpy array for ``"none"``).
    """
    ta, is_torch = _as_tensor(a)
    tb, _ = _as_tensor(b)
    if ta.shape != tb.shape:
        raise ValueError(f"ssim: shapes differ: {tuple(ta.shape)} vs {tuple(tb.shape)}")
    x = _to_bchw(ta)
    y = _to_bchw(tb.to(ta.dtype))
    if not x.is_floating_point():
        x, y = x.float(), y.float()
    bsz, ch, h, w = x.shape
    if h < _SSIM_WINDOW or w < _SSIM_WINDOW:
        raise ValueError(f"ssim: images must be at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels, got {h}x{w}")

    g = gaussian_window_1d(dtype=x.dtype, device=x.device)
    # Separable "valid" filtering: rows then columns, every channel on its own (groups).
    # The five statistics are stacked along the channel axis so each pass is one conv call.
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # [B, 5C, H, W]
    n = stack.shape[1]
    kh = g.view(1, 1, -1, 1).expand(n, 1, -1, 1)
    kw = g.view(1, 1, 1, -1).expand(n, 1, 1, -1)
    filt = F.conv2d(F.conv2d(stack, kw, groups=n), kh, groups=n)
    mu_x, mu_y, e_xx, e_yy, e_xy = filt.split(ch, dim=1)

    c1 = (_SSIM_K1 * max_val) ** 2
    c2 = (_SSIM_K2 * max_val) ** 2
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = e_xx - mu_xx
    var_y = e_yy - mu_yy
    cov = e_xy - mu_xy
    smap = ((2.0 * mu_xy + c1) * (2.0 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2))
    per_image = smap.mean(dim=(1, 2, 3))
    out = per_image.mean() if reduction == "mean" else per_image
    if is_torch:
        return out
    return float(out) if reduction == "mean" else out.numpy()
