"""Frame measures of the comparison: the common resolution, no-reference sharpness, and SSIM in float32.

Images are float32 sRGB ``[H, W, 3]`` in [0, 1]; sizes are ``(h, w)`` in pixels.
"""

from __future__ import annotations

import numpy as np

from deblur2d.io.errors import UserError

__all__ = ["comparison_size", "luma", "sharpness", "ssim32"]


def comparison_size(sizes: dict[str, tuple[int, int]], where: str = "") -> tuple[tuple[int, int], dict[str, int]]:
    """Smallest ``(h, w)`` among ``sizes`` and each entry's integer downscale factor to it (``h // f == H`` and
    ``w // f == W``, as :func:`downscale_image` crops). UserError for a non-integer ratio."""
    target = min(sizes.values(), key=lambda s: (s[0] * s[1], s))
    th, tw = target
    factors = {}
    for name, (h, w) in sizes.items():
        f = max(1, h // th)
        if h // f != th or w // f != tw or w // tw != f:
            raise UserError(
                f"{name}{' ' + where if where else ''}: {w}x{h} is not an integer multiple of {tw}x{th} (the smallest "
                "size among methods and ground truth); give frames whose sizes differ by an integer factor"
            )
        factors[name] = f
    return target, factors


def luma(img: np.ndarray) -> np.ndarray:
    return (img[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def sharpness(img: np.ndarray) -> float:
    """No-reference sharpness: variance of the 3x3 Laplacian of luma (sRGB values in [0, 1]) x 1000."""
    import cv2

    lap = cv2.Laplacian(luma(img), cv2.CV_32F, ksize=1)
    return float(np.var(lap[1:-1, 1:-1]) * 1e3) if lap.shape[0] > 2 and lap.shape[1] > 2 else 0.0


def ssim32(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two ``[H, W, 3]`` images in float32 torch (5x faster than the float64 numpy path; same to ~1e-7)."""
    import torch

    from deblur2d.metrics import ssim

    with torch.no_grad():
        return float(
            ssim(
                torch.from_numpy(np.ascontiguousarray(a, np.float32)),
                torch.from_numpy(np.ascontiguousarray(b, np.float32)),
            )
        )
