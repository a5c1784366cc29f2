"""Training and evaluation data for MIMO-UNet: paired folders, RealBlur lists, on-the-fly synthetic pairs.

Every training dataset here is indexed by a sample number ``i`` (any non-negative int, no epochs): item ``i``
is a deterministic function of ``(seed, i)``, so step ``s`` of a run always sees samples ``s*B .. s*B+B-1``
and a resumed run sees exactly the data of an uninterrupted one. Items are ``(blurry, sharp)`` float32 tensors
``[3, crop, crop]`` in [0, 1], sRGB.

Layouts read:

- GoPro: ``ROOT/<seq>/blur/*.png`` with ``ROOT/<seq>/sharp/*.png`` (same file names), or ``ROOT/blur`` +
  ``ROOT/sharp`` directly (the layout of the saved validation set, one folder per blur level).
- RealBlur-style list: a text file, one pair per line, ``<sharp path> <blurry path>`` relative to the list's
  folder (RealBlur's ``*_train_list.txt`` / ``*_test_list.txt`` order: ground truth first).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .blur_synthesis import BLUR_LEVELS, ShakeConfig, margin_for, synthesize_blur
from .dead_leaves import dead_leaves
from .io.errors import UserError
from .io.images import is_image_file, read_image, write_image

#: scikit-image's bundled colour photos used as sharp training sources (nothing is downloaded).
TRAIN_PHOTOS = ("astronaut", "chelsea", "immunohistochemistry", "hubble_deep_field", "stereo_motorcycle", "retina")
#: Photos held out of training and used only in the validation set.
VAL_PHOTOS = ("rocket", "coffee")


def skimage_photo(name: str) -> np.ndarray:
    """A bundled scikit-image colour photo as float32 sRGB ``[H, W, 3]`` (left view for stereo pairs)."""
    import skimage.data

    img = getattr(skimage.data, name)()
    if isinstance(img, tuple):
        img = img[0]
    return np.ascontiguousarray(img[..., :3], dtype=np.float32) / 255.0


def folder_images(folder: str | os.PathLike) -> list[np.ndarray]:
    """All images of ``folder`` (recursive, sorted) as float32 sRGB arrays; UserError if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--sharp-dirs: {folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if is_image_file(p))
    if not files:
        raise UserError(f"--sharp-dirs: no images in {folder}")
    return [read_image(p)[0][..., :3].astype(np.float32) for p in files]


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """``[H, W, 3]`` float array -> ``[3, H, W]`` float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32).transpose(2, 0, 1))


def augment(rng: np.random.Generator, *imgs: np.ndarray) -> list[np.ndarray]:
    """The same random horizontal flip, vertical flip and 90-degree turn applied to every image."""
    hflip, vflip, turn = rng.random(3) < 0.5
    out = []
    for im in imgs:
        if hflip:
            im = im[:, ::-1]
        if vflip:
            im = im[::-1]
        if turn:
            im = im.transpose(1, 0, 2)
        out.append(np.ascontiguousarray(im))
    return out


def random_crop(rng: np.random.Generator, size: int, *imgs: np.ndarray) -> list[np.ndarray]:
    """The same random ``size`` x ``size`` window of every image (reflect-padded when an image is smaller)."""
    h, w = imgs[0].shape[:2]
    if h < size or w < size:
        ph, pw = max(0, size - h), max(0, size - w)
        imgs = tuple(np.pad(im, ((0, ph), (0, pw), (0, 0)), mode="reflect") for im in imgs)
        h, w = imgs[0].shape[:2]
    y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return [im[y : y + size, x : x + size] for im in imgs]


class SyntheticPairs(Dataset):
    """Blurry/sharp pairs made on the fly from sharp sources with :func:`synthesize_blur`.

    Sources: ``images`` (float32 sRGB arrays: photos, user folders) and, if ``dead_leaves_pool > 0``, that
    many dead-leaves images (made on first use, seeded). Each item picks a source (dead leaves with
    probability ``dead_leaves_fraction`` when both kinds exist), rescales it by a random factor in
    ``scale_range`` (never enlarging past 1, which would soften it), takes a random window of
    ``crop + 2 * margin`` with flips and a 90-degree turn, and blurs it.
    ``blur``: level name, fraction of the frame width, or None (random in ``cfg.blur_range``).
    ``curriculum = (start_max, steps)``: with ``blur=None``, the largest blur drawn grows log-linearly from
    ``start_max`` (fraction of the frame width) at step 0 to ``cfg.blur_range[1]`` at ``steps``; the step of item
    ``i`` is ``i // batch_size``, so the schedule is a function of the index and resumes exactly.
    ``sharp_fraction``: with ``blur=None``, this share of the pairs is not blurred at all (noise and JPEG only).
    ``length`` is only what ``len()`` reports; any index works.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        crop: int = 256,
        seed: int = 0,
        blur: float | str | None = None,
        cfg: ShakeConfig | None = None,
        dead_leaves_pool: int = 0,
        dead_leaves_fraction: float = 0.5,
        scale_range: tuple[float, float] = (0.5, 1.0),
        length: int = 10**9,
        curriculum: tuple[float, int] | None = None,
        batch_size: int = 1,
        sharp_fraction: float = 0.0,
    ):
        if crop % 4:
            raise UserError(f"--crop {crop}: must be a multiple of 4 (MIMO-UNet halves it twice)")
        if not images and dead_leaves_pool <= 0:
            raise UserError("no sharp sources: enable photos, dead leaves or give --sharp-dirs")
        self.images = images
        self.crop = crop
        self.seed = seed
        self.blur = blur
        self.cfg = cfg or ShakeConfig()
        self.margin = margin_for(crop, self.cfg)
        self.dead_leaves_pool = dead_leaves_pool
        self.dead_leaves_fraction = dead_leaves_fraction
        self.scale_range = scale_range
        self.length = length
        self.curriculum = curriculum
        self.batch_size = max(1, int(batch_size))
        if not 0.0 <= sharp_fraction < 1.0:
            raise UserError(f"--sharp-fraction {sharp_fraction}: must be in [0, 1)")
        self.sharp_fraction = float(sharp_fraction)
        self._leaves: list[np.ndarray] | None = None

    def max_blur(self, step: int) -> float:
        """Largest training blur (fraction of the frame width) drawn at ``step`` under the curriculum."""
        hi = self.cfg.blur_range[1]
        if not self.curriculum:
            return hi
        start, steps = self.curriculum
        f = min(1.0, step / max(1, steps))
        return float(np.exp(np.log(min(start, hi)) * (1 - f) + np.log(hi) * f))

    def _blur_for(self, rng: np.random.Generator, index: int) -> float | str | None:
        if self.sharp_fraction > 0 and self.blur is None and rng.random() < self.sharp_fraction:
            return 0.0  # an unblurred pair (noise and JPEG only): the network learns to leave sharp content alone
        if self.blur is not None or not self.curriculum:
            return self.blur
        lo, hi = self.cfg.blur_range[0], self.max_blur(index // self.batch_size)
        return float(np.exp(rng.uniform(np.log(lo), np.log(max(lo, hi)))))

    def leaves(self) -> list[np.ndarray]:
        """The dead-leaves pool (``dead_leaves_pool`` images of side ``1.5 * (crop + 2 margin)``), made once."""
        if self._leaves is None:
            side = int(1.5 * (self.crop + 2 * self.margin))
            self._leaves = [dead_leaves(side, side, np.random.default_rng([self.seed, 7, k])) for k in
                            range(self.dead_leaves_pool)]
        return self._leaves

    def __len__(self) -> int:
        return self.length

    def window(self, index: int) -> tuple[np.random.Generator, np.ndarray]:
        """The generator of item ``index`` and its sharp sRGB window with margin, ``[crop + 2m, crop + 2m, 3]``."""
        rng = np.random.default_rng([self.seed, int(index)])
        use_leaves = self.dead_leaves_pool > 0 and (not self.images or rng.random() < self.dead_leaves_fraction)
        pool = self.leaves() if use_leaves else self.images
        src = pool[int(rng.integers(len(pool)))]
        need = self.crop + 2 * self.margin
        h, w = src.shape[:2]
        lo = need / min(h, w)
        scale = min(1.0, max(lo, rng.uniform(*self.scale_range)))
        if scale != 1.0:
            src = cv2.resize(src, (max(need, round(w * scale)), max(need, round(h * scale))),
                             interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        (window,) = random_crop(rng, need, src)
        (window,) = augment(rng, window)
        return rng, window

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ``index`` as float32 sRGB arrays ``(blurry, sharp)``, ``[crop, crop, 3]`` each."""
        rng, window = self.window(index)
        blurry, sharp, _ = synthesize_blur(rng, window, self.margin, self._blur_for(rng, index), self.cfg)
        return blurry, sharp

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        blurry, sharp = self.sample(index)
        return to_tensor(blurry), to_tensor(sharp)


def find_pairs(path: str | os.PathLike) -> list[tuple[Path, Path]]:
    """``(blurry, sharp)`` file pairs of a GoPro-layout folder or a RealBlur-style list file, sorted.

    Raises UserError naming ``path`` if it holds no pairs or a listed file is missing.
    """
    path = Path(path)
    pairs: list[tuple[Path, Path]] = []
    if path.is_file():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise UserError(f"{path}:{n}: expected '<sharp path> <blurry path>', got {line!r}")
            sharp, blurry = (path.parent / parts[0]), (path.parent / parts[1])
            for p in (sharp, blurry):
                if not p.is_file():
                    raise UserError(f"{path}:{n}: file not found: {p}")
            pairs.append((blurry, sharp))
    elif path.is_dir():
        roots = [path] if (path / "blur").is_dir() else sorted(p for p in path.iterdir() if (p / "blur").is_dir())
        for root in roots:
            sharp_dir = root / "sharp"
            if not sharp_dir.is_dir():
                raise UserError(f"{root}: has blur/ but no sharp/ folder (GoPro layout: <seq>/blur, <seq>/sharp)")
            for b in sorted(p for p in (root / "blur").iterdir() if is_image_file(p)):
                s = sharp_dir / b.name
                if not s.is_file():
                    raise UserError(f"{b}: no sharp counterpart {s}")
                pairs.append((b, s))
    else:
        raise UserError(f"--pairs: {path} is neither a folder nor a pair-list file")
    if not pairs:
        raise UserError(f"--pairs: no blur/sharp pairs found in {path} (GoPro layout <seq>/blur + <seq>/sharp, "
                        "or a RealBlur-style list)")
    return pairs


def read_pair(blurry: Path, sharp: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one pair as float32 sRGB ``[H, W, 3]``; UserError if the sizes differ."""
    b, s = read_image(blurry)[0][..., :3].astype(np.float32), read_image(sharp)[0][..., :3].astype(np.float32)
    if b.shape != s.shape:
        raise UserError(f"{blurry}: size {b.shape[:2]} differs from its sharp image {sharp} {s.shape[:2]}")
    return b, s


class PairedImages(Dataset):
    """Random ``crop`` windows (with flips and turns) of real blurry/sharp pairs; item ``i`` from ``(seed, i)``.

    Images are read on demand (not cached), so large sets do not fill memory.
    """

    def __init__(self, path: str | os.PathLike, crop: int = 256, seed: int = 0, length: int = 10**9):
        self.pairs = find_pairs(path)
        self.crop, self.seed, self.length = crop, seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(index)])
        b, s = read_pair(*self.pairs[int(rng.integers(len(self.pairs)))])
        b, s = random_crop(rng, self.crop, b, s)
        b, s = augment(rng, b, s)
        return to_tensor(b), to_tensor(s)


# -- the fixed validation set --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationSpec:
    """What the fixed validation set holds; stored in its ``meta.json`` and checked on reuse."""

    seed: int = 1234
    per_level: int = 8
    """Pairs per blur level: half crops of the held-out photos, half held-out dead-leaves images."""
    size: int = 256
    levels: tuple[str, ...] = tuple(BLUR_LEVELS)
    version: int = 2
    """2: targets at the blur's centroid and no brightness bias (ShakeConfig defaults since 2026-12-06)."""


def make_validation_set(root: str | os.PathLike, spec: ValidationSpec | None = None) -> Path:
    """Write the validation set once (``root/<level>/blur|sharp/NNN.png``, 8-bit PNG) and return ``root``.

    If ``root/meta.json`` already describes the same spec the files are reused untouched, so every run
    validates on the same pixels. Sharp sources: :data:`VAL_PHOTOS` (never used in training) and dead-leaves
    images from a seed stream training does not use. Blur at exactly each level's displacement.
    """
    spec = spec or ValidationSpec()
    root = Path(root)
    meta_path = root / "meta.json"
    meta = {**asdict(spec), "levels": list(spec.levels), "blur_levels": {k: BLUR_LEVELS[k] for k in spec.levels}}
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old == meta:
            return root
        raise UserError(f"{root} holds a different validation set ({meta_path}); remove it or pick another --val-dir")
    photos = [skimage_photo(n) for n in VAL_PHOTOS]
    for li, level in enumerate(spec.levels):
        ds = SyntheticPairs(photos, crop=spec.size, seed=spec.seed + 1000 * li, blur=level, scale_range=(0.6, 1.0))
        for k in range(spec.per_level):
            if k % 2:  # dead leaves from a seed stream disjoint from training's ([seed, 7, k])
                need = spec.size + 2 * ds.margin
                rng = np.random.default_rng([spec.seed, 99, li, k])
                src = dead_leaves(need, need, rng)
                blurry, sharp, _ = synthesize_blur(rng, src, ds.margin, level, ds.cfg)
            else:
                blurry, sharp = ds.sample(k)
            write_image(root / level / "blur" / f"{k:03d}.png", blurry)
            write_image(root / level / "sharp" / f"{k:03d}.png", sharp)
    from .io.atomic import write_json_atomic

    write_json_atomic(meta_path, meta)
    return root
