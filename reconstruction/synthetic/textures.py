"""Textures for synthetic scenes: scikit-image's bundled colour photos and procedural non-repeating patterns.

All textures are float32 ``[h, w, 3]`` in LINEAR light (converted once with ``deblur2d.io.color``), stored with a
mip pyramid (box-filtered 2x reductions in linear light) so that the ray caster can sample minified surfaces
without aliasing. Texture row 0 is the quad's ``v = 0`` edge, column 0 its ``u = 0`` edge.

Why these choices (FINDINGS.md): flat photos (retina, cell, moon) give SIFT few features and repeating
textures give wrong matches, so photos are filtered by gradient energy and no texture is used twice; the
procedural patterns are drawn once per surface from the scene's random generator, so none repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deblur2d.io.color import srgb_to_linear

# Colour photos shipped inside scikit-image (no download). ``chelsea`` and ``cat`` are the same photo, and
# the two stereo_motorcycle views nearly so: each appears once.
PHOTO_NAMES: tuple[str, ...] = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "stereo_motorcycle",
    "retina",
    "colorwheel",
)

#: Minimum gradient energy (mean absolute finite difference, in 8-bit steps per pixel, on the photo scaled
#: to 512 px on its long side) for a photo to be used. Measured: retina 2.2, colorwheel 1.6 (rejected);
#: rocket 8.1, astronaut 12.9, hubble 13.2, chelsea 14.5, coffee 14.9, motorcycle 15.9, ihc 18.2 (kept).
MIN_GRADIENT_ENERGY = 6.0


@dataclass
class Texture:
    """A texture with its mip pyramid; ``levels[0]`` is full resolution, each next level half the size."""

    name: str
    levels: list[np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        return self.levels[0].shape[:2]


def gradient_energy(img_srgb: np.ndarray) -> float:
    """Mean absolute horizontal + vertical difference of the luma, in 8-bit steps (``img`` in [0, 1])."""
    g = img_srgb[..., :3].mean(-1) * 255.0
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


def _to_float_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    img = img.astype(np.float32)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return np.ascontiguousarray(img[..., :3])


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    import cv2

    if img.shape[0] == h and img.shape[1] == w:
        return img
    interp = cv2.INTER_AREA if (h < img.shape[0] and w < img.shape[1]) else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


def load_photos() -> list[tuple[str, np.ndarray]]:
    """Bundled colour photos (sRGB float32) that pass the gradient-energy filter, in a fixed order."""
    import skimage.data

    out = []
    for name in PHOTO_NAMES:
        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):  # stereo_motorcycle -> (left, right, disparity): left view only
            img = img[0]
        img = _to_float_rgb(img)
        s = 512.0 / max(img.shape[:2])
        small = _resize(img, round(img.shape[0] * s), round(img.shape[1] * s))
        if gradient_energy(small) >= MIN_GRADIENT_ENERGY:
            out.append((name, img))
    return out


def crop_to_aspect(img: np.ndarray, aspect: float, rng: np.random.Generator) -> np.ndarray:
    """Largest crop of ``img`` with width / height = ``aspect`` at a random offset."""
    h, w = img.shape[:2]
    if w / h > aspect:
        cw, ch = max(1, round(h * aspect)), h
    else:
        cw, ch = w, max(1, round(w / aspect))
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    return img[y0 : y0 + ch, x0 : x0 + cw]


def _random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Saturated-ish random sRGB colours with varied brightness (HSV sampled, then converted)."""
    h = rng.random(n)
    s = rng.uniform(0.25, 0.95, n)
    v = rng.uniform(0.2, 1.0, n)
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))], 0)
    return table[i, np.arange(n)].astype(np.float32)


def dead_leaves(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Dead-leaves pattern (sRGB): occluding discs and rectangles with power-law sizes and random colours.

    Scale-invariant, corner- and edge-rich, and never periodic: a good surface for SIFT. Shapes are drawn
    in random order until the canvas is covered about 2.5 times; radii follow ``p(r) ~ r^-3`` between 1/80
    and 1/6 of the short side (the classic dead-leaves exponent, Lee, Mumford and Huang, IJCV 2001), so the
    pattern keeps features at the scales seen on screen whatever the texture resolution.
    """
    img = np.empty((h, w, 3), np.float32)
    img[:] = _random_colours(rng, 1)[0]
    r_min = max(1.5, min(h, w) / 80.0)
    r_max = max(2 * r_min, min(h, w) / 6.0)
    # Expected area per shape under r^-3 on [r_min, r_max]:
    # pi * 2 r_min^2 ln(r_max / r_min) / (1 - (r_min / r_max)^2)
    mean_area = np.pi * 2 * r_min**2 * np.log(r_max / r_min) / (1 - (r_min / r_max) ** 2)
    n = int(min(200_000, 2.5 * h * w / mean_area))
    u = rng.random(n)
    r = 1.0 / np.sqrt(1 / r_min**2 - u * (1 / r_min**2 - 1 / r_max**2))  # inverse CDF of r^-3
    cx, cy = rng.uniform(-r_max, w + r_max, n), rng.uniform(-r_max, h + r_max, n)
    rect = rng.random(n) < 0.4
    aspect = rng.uniform(0.5, 2.0, n)
    cols = _random_colours(rng, n)
    for k in range(n):
        rx, ry = r[k] * np.sqrt(aspect[k]), r[k] / np.sqrt(aspect[k])
        x0, x1 = max(0, int(cx[k] - rx)), min(w, int(cx[k] + rx) + 1)
        y0, y1 = max(0, int(cy[k] - ry)), min(h, int(cy[k] + ry) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        if rect[k]:
            img[y0:y1, x0:x1] = cols[k]
        else:
            yy = (np.arange(y0, y1)[:, None] + 0.5 - cy[k]) / ry
            xx = (np.arange(x0, x1)[None, :] + 0.5 - cx[k]) / rx
            m = yy * yy + xx * xx <= 1.0
            img[y0:y1, x0:x1][m] = cols[k]
    return img


def fractal_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth noise (amplitude ~ 1/f^1.8, sRGB) mapped through a random colour ramp, plus 1/f grain.

    Made by filtering white noise in the Fourier domain on a canvas twice the size and cropping a quarter,
    so the result is not periodic across its edges.
    """
    ph, pw = 2 * h, 2 * w
    fy = np.fft.fftfreq(ph)[:, None]
    fx = np.fft.rfftfreq(pw)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    out = []
    for beta in (1.8, 1.0):
        spec = np.fft.rfft2(rng.standard_normal((ph, pw))) / f**beta
        spec[0, 0] = 0
        field = np.fft.irfft2(spec, s=(ph, pw))[:h, :w]
        out.append((field - field.mean()) / (field.std() + 1e-12))
    base, grain = out
    stops = np.sort(rng.uniform(-2.5, 2.5, 6))
    cols = _random_colours(rng, 6)
    img = np.stack([np.interp(base, stops, cols[:, c]) for c in range(3)], -1)
    img = img * (1.0 + 0.1 * grain[..., None])
    # Contour bands: sharp, non-repeating edges along the noise's level sets give corners for SIFT.
    band = (np.floor(base * 2.0) % 2).astype(np.float32)
    img = img * (0.8 + 0.2 * band[..., None])
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def build_mips(linear: np.ndarray, min_size: int = 4) -> list[np.ndarray]:
    """Mip pyramid by 2x2 box filtering in linear light (odd edges: last row/column dropped)."""
    levels = [np.ascontiguousarray(linear, dtype=np.float32)]
    while min(levels[-1].shape[:2]) >= 2 * min_size:
        a = levels[-1]
        h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
        a = a[:h, :w]
        levels.append(0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]))
    return levels


def make_texture(name: str, srgb: np.ndarray) -> Texture:
    """sRGB float image -> linear :class:`Texture` with mips."""
    return Texture(name=name, levels=build_mips(srgb_to_linear(np.clip(srgb, 0.0, 1.0)).astype(np.float32)))
