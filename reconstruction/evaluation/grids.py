"""Pictures of the comparison: where to zoom (crop windows), image grids with labels, crop montages, PNG bytes.

Images in are float32 sRGB ``[H, W, 3]`` in [0, 1]; pictures out are uint8 RGB; windows are ``(x, y, w, h)`` px.
"""

from __future__ import annotations

import math

import numpy as np

from .measures import luma

__all__ = ["CROP_COLORS", "CROP_DISPLAY", "GRID_TILE_MIN", "choose_crops", "crop_score", "grid_image", "png_bytes"]

GRID_TILE_MIN = 256  # tiles narrower than this (px) are enlarged (nearest neighbour) in the grid PNGs
CROP_DISPLAY = 224  # crops are enlarged to about this many pixels


def _box_sums(m: np.ndarray, s: int) -> np.ndarray:
    """Sum of ``m [H, W]`` over every ``s x s`` window; ``[H - s + 1, W - s + 1]`` indexed by top-left corner."""
    c = np.zeros((m.shape[0] + 1, m.shape[1] + 1), np.float64)
    c[1:, 1:] = np.cumsum(np.cumsum(m, axis=0), axis=1)
    return c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]


def choose_crops(score: np.ndarray, size: int, k: int) -> list[tuple[int, int, int, int]]:
    """Up to ``k`` non-overlapping ``size x size`` windows ``(x, y, w, h)`` with the largest summed ``score``
    (greedy: best window first, then the best that does not overlap the chosen ones)."""
    h, w = score.shape
    size = max(1, min(size, h, w))
    sums = _box_sums(np.asarray(score, np.float64), size)
    boxes = []
    for _ in range(k):
        if not np.isfinite(sums).any():
            break
        y, x = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(sums), sums, -np.inf))), sums.shape)
        boxes.append((int(x), int(y), size, size))
        sums[max(0, y - size + 1) : y + size, max(0, x - size + 1) : x + size] = -np.inf
    return boxes


def crop_score(imgs: list[np.ndarray], gt: np.ndarray | None) -> np.ndarray:
    """Where to look: disagreement between methods (per-pixel variance of luma across them), plus the ground
    truth's detail (squared luma gradient) when there is one; each part normalised to mean 1."""
    lum = np.stack([luma(i) for i in imgs])
    parts = [lum.var(axis=0)] if len(imgs) > 1 else []
    if gt is not None:
        gy, gx = np.gradient(luma(gt))
        parts.append(gx**2 + gy**2)
    if not parts:
        gy, gx = np.gradient(lum[0])
        parts.append(gx**2 + gy**2)
    return sum(p / max(float(p.mean()), 1e-12) for p in parts)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def label(tile: np.ndarray, text: str, color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """``tile`` (uint8 RGB) with a black bar above holding ``text`` (shrunk to fit)."""
    import cv2

    w = tile.shape[1]
    scale, thick = 0.55, 1
    while scale > 0.3 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] > w - 6:
        scale -= 0.05
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    bar = np.zeros((th + base + 8, w, 3), np.uint8)
    cv2.putText(bar, text, (3, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def enlarge(img: np.ndarray, z: int) -> np.ndarray:
    return img if z <= 1 else np.repeat(np.repeat(img, z, axis=0), z, axis=1)


CROP_COLORS = [(255, 64, 64), (64, 200, 255), (255, 220, 0), (120, 255, 120), (255, 120, 255)]


def montage(tiles: list[np.ndarray], cols: int, gap: int = 4) -> np.ndarray:
    rows = math.ceil(len(tiles) / cols)
    th = max(t.shape[0] for t in tiles)
    tw = max(t.shape[1] for t in tiles)
    out = np.full((rows * th + (rows + 1) * gap, cols * tw + (cols + 1) * gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        out[y : y + t.shape[0], x : x + t.shape[1]] = t
    return out


def grid_image(
    named: list[tuple[str, str, np.ndarray]], boxes: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, np.ndarray | None]:
    """``named``: (name, tag, image) per tile. Returns (grid of tiles labelled "name  tag" with the crop windows
    outlined, crops montage with a row per window and a column per image, or None without windows)."""
    import cv2

    w = named[0][2].shape[1]
    z = max(1, math.ceil(GRID_TILE_MIN / w))
    tiles = []
    for name, tag, img in named:
        t = enlarge(_to_u8(img), z).copy()
        for j, (x, y, s, _) in enumerate(boxes):
            thick = max(2, round(w * z / 320))  # visible when the page shows the grid scaled down
            cv2.rectangle(t, (x * z, y * z), ((x + s) * z - 1, (y + s) * z - 1), CROP_COLORS[j % 5], thick)
        tiles.append(label(t, f"{name}  {tag}" if tag else name))
    n = len(tiles)
    grid = montage(tiles, n if n <= 3 else math.ceil(n / 2))
    crop_tiles = []
    for j, (x, y, s, _) in enumerate(boxes):
        zc = max(1, CROP_DISPLAY // s)
        for name, _, img in named:
            c = enlarge(_to_u8(img[y : y + s, x : x + s]), zc)
            crop_tiles.append(label(c, f"{j + 1}: {name}", CROP_COLORS[j % 5]))
    crops = montage(crop_tiles, len(named)) if crop_tiles else None
    return grid, crops


def png_bytes(img_u8: np.ndarray) -> bytes:
    from deblur2d.io.images import encode_image

    return encode_image(img_u8.astype(np.float32) / 255.0, ".png")
