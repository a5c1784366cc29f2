"""Reading and writing images as the restorer sees them, keeping what it must give back.

``read_image`` returns float32 RGB in [0, 1], ``[H, W, 3]``, sRGB-encoded, upright (EXIF orientation applied),
plus an :class:`ImageInfo` recording the bit depth, the channel layout (grey, RGB, RGBA) and the alpha plane.
``write_image`` turns a restored RGB array back into the same layout and bit depth, written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .atomic import write_bytes_atomic
from .errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
_EXIF_ORIENTATION = 0x0112


@dataclass
class ImageInfo:
    """What ``write_image`` needs to return an image in the form it was given."""

    bit_depth: int = 8  # 8 or 16
    channels: int = 3  # 1 grey, 3 RGB, 4 RGBA
    alpha: np.ndarray | None = None  # [H, W] in the file's integer dtype, upright
    orientation: int = 1  # EXIF orientation that was applied (1 = none)


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _exif_orientation(path: Path) -> int:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except (UnidentifiedImageError, OSError, ValueError, TypeError):
        return 1


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip the stored pixel array ``[H, W, ...]`` so it displays upright (EXIF orientation 1-8)."""
    ops = {
        1: lambda x: x,
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: np.rot90(x, k=-1),
        7: lambda x: np.rot90(x, k=-1)[::-1],
        8: lambda x: np.rot90(x, k=1),
    }
    return np.ascontiguousarray(ops.get(orientation, ops[1])(a))


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, ImageInfo]:
    """Decode ``path`` -> (float32 RGB ``[H, W, 3]`` in [0, 1], info). Raises UserError naming the file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    if not is_image_file(path):
        raise UserError(f"{path}: unsupported image type {path.suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    raw = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        raise UserError(f"{path}: cannot decode image (corrupt or truncated file?)")
    if raw.dtype == np.uint8:
        depth, scale = 8, 255.0
    elif raw.dtype == np.uint16:
        depth, scale = 16, 65535.0
    else:
        raise UserError(f"{path}: unsupported pixel type {raw.dtype}; use 8- or 16-bit images")
    # IMREAD_UNCHANGED keeps bit depth and alpha but ignores EXIF orientation: apply it ourselves.
    orientation = _exif_orientation(path)
    raw = apply_orientation(raw, orientation)
    if raw.ndim == 2:
        raw = raw[..., None]
    ch = raw.shape[2]
    alpha = None
    if ch == 1:
        rgb = np.repeat(raw, 3, axis=2)
    elif ch == 2:  # grey + alpha
        rgb, alpha, ch = np.repeat(raw[..., :1], 3, axis=2), raw[..., 1].copy(), 4
    elif ch == 3:
        rgb = raw[..., ::-1]
    elif ch == 4:
        rgb, alpha = raw[..., 2::-1], raw[..., 3].copy()
    else:
        raise UserError(f"{path}: unsupported channel count {ch}")
    info = ImageInfo(bit_depth=depth, channels=1 if raw.shape[2] == 1 else ch, alpha=alpha, orientation=orientation)
    return (rgb.astype(np.float32) / scale), info


def to_integer(img: np.ndarray, bit_depth: int) -> np.ndarray:
    """float in [0, 1] -> uint8 / uint16 with rounding and clipping."""
    scale, dtype = (255.0, np.uint8) if bit_depth == 8 else (65535.0, np.uint16)
    return np.clip(np.rint(np.asarray(img, np.float32) * scale), 0, scale).astype(dtype)


def encode_image(rgb: np.ndarray, suffix: str, info: ImageInfo | None = None) -> bytes:
    """Encode float RGB ``[H, W, 3]`` in [0, 1] to file bytes in the layout and bit depth of ``info``."""
    info = info or ImageInfo()
    suffix = suffix.lower()
    depth = 8 if suffix in (".jpg", ".jpeg", ".bmp", ".webp") else info.bit_depth
    img = to_integer(rgb, depth)
    if info.channels == 1:
        out = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    else:
        out = img[..., ::-1]
        if info.channels == 4 and info.alpha is not None:
            alpha = info.alpha
            if alpha.dtype != out.dtype:  # bit depth changed by the container: rescale alpha
                alpha = to_integer(alpha.astype(np.float32) / np.iinfo(alpha.dtype).max, depth)
            out = np.dstack([out, alpha])
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(out), params)
    if not ok:
        raise UserError(f"cannot encode image as {suffix}")
    return buf.tobytes()


def write_image(path: str | os.PathLike, rgb: np.ndarray, info: ImageInfo | None = None) -> None:
    """Write float RGB ``[H, W, 3]`` in [0, 1] to ``path`` (format from its suffix), atomically."""
    path = Path(path)
    write_bytes_atomic(path, encode_image(rgb, path.suffix, info))
