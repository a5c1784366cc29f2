"""Procedural sharp images with natural-image statistics: the dead-leaves model.

Opaque random shapes (discs, rotated rectangles, triangles and ellipses) fall one after another onto the
canvas, each new one occluding what lies below (drawn here front to back, which is equivalent). Radii follow
the scale-invariant power law ``p(r) ~ r^-3`` on
``[r_min, r_max]`` (Lee, Mumford and Huang, "Occlusion models for natural images", IJCV 2001), which gives the
``1/f^2`` power spectrum of natural images. Each shape carries a texture: flat colour, linear gradient,
sinusoidal stripes or smooth noise. Edges are anti-aliased. Images are sRGB float32 ``[H, W, 3]`` in [0, 1].

Same seed (or ``numpy.random.Generator`` state) -> same image.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Fractions of each texture kind: flat, gradient, stripes, noise.
TEXTURE_WEIGHTS = (0.4, 0.2, 0.2, 0.2)


def sample_radii(rng: np.random.Generator, n: int, r_min: float, r_max: float) -> np.ndarray:
    """``n`` radii (pixels) from ``p(r) ~ r^-3`` on ``[r_min, r_max]`` (inverse-CDF sampling)."""
    u = rng.random(n)
    a, b = r_min**-2.0, r_max**-2.0
    return (a - u * (a - b)) ** -0.5


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    c1 = _colour(rng)
    kind = rng.choice(4, p=TEXTURE_WEIGHTS)
    if kind == 0:
        return np.broadcast_to(c1, (h, w, 3))
    c2 = np.clip(c1 + rng.normal(0.0, 0.25, 3), 0, 1).astype(np.float32)
    if kind == 3:  # smooth noise: a coarse random grid resized (bicubic), mixed between the two colours
        gh, gw = max(2, h // int(rng.integers(3, 12))), max(2, w // int(rng.integers(3, 12)))
        t = cv2.resize(rng.random((gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang = rng.uniform(0, np.pi)
        proj = xx * np.cos(ang) + yy * np.sin(ang)
        if kind == 1:  # linear gradient across the box
            t = (proj - proj.min()) / max(float(np.ptp(proj)), 1.0)
        else:  # stripes, period 3..30 px
            t = 0.5 + 0.5 * np.sin(2 * np.pi * proj / rng.uniform(3.0, 30.0) + rng.uniform(0, 2 * np.pi))
    t = np.clip(t, 0, 1)[..., None]
    return c1 * (1 - t) + c2 * t


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A random colour with natural-image-like saturation: a grey level plus a modest chroma offset."""
    return np.clip(rng.random() + rng.uniform(0.0, 0.6) * (rng.random(3) - 0.5), 0.0, 1.0).astype(np.float32)


def dead_leaves(
    height: int,
    width: int,
    seed: int | np.random.Generator = 0,
    num_shapes: int = 2000,
    r_min: float | None = None,
    r_max: float | None = None,
) -> np.ndarray:
    """A dead-leaves image ``[height, width, 3]`` float32 sRGB in [0, 1].

    Shapes are drawn front to back (each new one lies behind the ones drawn so far and shows only where they
    leave gaps), which is the same model as painting back to front but stops early: the loop ends once the
    canvas is covered, and shapes that would be hidden cost nothing. ``r_min`` defaults to ``max(2, min(H,
    W) / 96)`` px, ``r_max`` to half the larger side. Any gap left after ``num_shapes`` shapes shows a smooth
    noise background.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    r_min = float(r_min or max(2.0, min(height, width) / 96.0))
    r_max = float(r_max or max(height, width) / 2)
    img = np.zeros((height, width, 3), np.float32)
    cover = np.zeros((height, width, 1), np.float32)  # opacity accumulated in front of each pixel
    radii = sample_radii(rng, num_shapes, r_min, r_max)
    for i, r in enumerate(radii):
        cx, cy = rng.uniform(-r, width + r), rng.uniform(-r, height + r)
        kind = int(rng.integers(4))
        shape_params = rng.random(8)
        x0, y0 = max(0, int(np.floor(cx - r)) - 1), max(0, int(np.floor(cy - r)) - 1)
        x1, y1 = min(width, int(np.ceil(cx + r)) + 2), min(height, int(np.ceil(cy + r)) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        free = 1.0 - cover[y0:y1, x0:x1]
        if free.max() < 1e-3:
            continue
        bw, bh = x1 - x0, y1 - y0
        mask = np.zeros((bh, bw), np.uint8)
        shift = 4  # sub-pixel vertex precision for the cv2 drawing calls
        s = float(1 << shift)
        c = (int(round((cx - x0) * s)), int(round((cy - y0) * s)))
        if kind == 0:
            cv2.circle(mask, c, int(round(r * s)), 255, -1, cv2.LINE_AA, shift)
        elif kind == 3:
            axes = (int(round(r * s)), int(round(r * (0.3 + 0.7 * shape_params[0]) * s)))
            cv2.ellipse(mask, c, axes, float(180 * shape_params[1]), 0, 360, 255, -1, cv2.LINE_AA, shift)
        else:
            n_vert = 4 if kind == 1 else 3
            ang = 2 * np.pi * shape_params[2] + np.arange(n_vert) * 2 * np.pi / n_vert
            if kind == 2:
                ang = ang + shape_params[3:6] - 0.5
                rad = r * (0.5 + 0.5 * shape_params[5:8])
            else:
                rad = r * np.array([1.0, 0.3 + 0.7 * shape_params[3]] * 2)
            pts = np.stack([cx - x0 + rad * np.cos(ang), cy - y0 + rad * np.sin(ang)], axis=1)
            cv2.fillPoly(mask, [np.round(pts * s).astype(np.int32)], 255, cv2.LINE_AA, shift)
        alpha = (mask.astype(np.float32) / 255.0)[..., None] * free
        if not alpha.any():
            continue
        img[y0:y1, x0:x1] += alpha * _texture(rng, bh, bw)
        cover[y0:y1, x0:x1] += alpha
        if i % 64 == 63 and cover.min() > 0.999:
            break
    if cover.min() < 0.999:
        img += (1.0 - cover) * _texture(rng, height, width)
    return np.clip(img, 0.0, 1.0)
