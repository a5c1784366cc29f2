"""Example blurry/sharp pairs made from scikit-image's bundled colour photos (nothing is downloaded).

Blur: a straight motion-blur line kernel applied in linear light (DESIGN.md), 8-bit output. These are demo
inputs, not the training blur model (that one is a 6-DoF camera-shake simulation).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .io.color import linear_to_srgb, srgb_to_linear
from .io.images import write_image

#: scikit-image data functions with textured colour content, in the order used.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def line_kernel(length: float, angle_deg: float, size: int | None = None) -> np.ndarray:
    """Normalised motion-blur kernel: a line of ``length`` pixels at ``angle_deg``, supersampled (anti-aliased)."""
    size = size or int(np.ceil(length)) // 2 * 2 + 3
    k = np.zeros((size, size), np.float32)
    c = (size - 1) / 2
    t = np.linspace(-length / 2, length / 2, max(2, int(length * 8)))
    a = np.deg2rad(angle_deg)
    xs, ys = c + t * np.cos(a), c + t * np.sin(a)
    for x, y in zip(xs, ys):  # bilinear splat of each sample
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= x0 + dx < size and 0 <= y0 + dy < size:
                k[y0 + dy, x0 + dx] += wgt
    return k / k.sum()


def blur_linear_light(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve an sRGB image ``[H, W, 3]`` in linear light and re-encode to sRGB."""
    lin = srgb_to_linear(img.astype(np.float32))
    return linear_to_srgb(cv2.filter2D(lin, -1, kernel, borderType=cv2.BORDER_REFLECT))


def make_examples(out_dir: str | Path, seed: int = 0, max_side: int = 384) -> list[tuple[Path, Path]]:
    """Write ``blurry/<name>.png`` and ``sharp/<name>.png`` under ``out_dir``; return the (blurry, sharp) paths."""
    from skimage import data

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    pairs = []
    for name in PHOTOS:
        img = getattr(data, name)()[..., :3].astype(np.float32) / 255.0
        s = max_side / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(
                img, (round(img.shape[1] * s) // 4 * 4, round(img.shape[0] * s) // 4 * 4), interpolation=cv2.INTER_AREA
            )
        k = line_kernel(length=float(rng.uniform(9, 17)), angle_deg=float(rng.uniform(0, 180)))
        blurry = blur_linear_light(img, k)
        blurry = np.clip(blurry + rng.normal(0, 0.004, blurry.shape), 0, 1)
        b, t = out_dir / "blurry" / f"{name}.png", out_dir / "sharp" / f"{name}.png"
        write_image(t, img)
        write_image(b, blurry)
        pairs.append((b, t))
    return pairs
