"""Folders of frames for SfM: which files are images, their size, and a box-downscaled copy of a folder.

Used by the SfM front end, the scene readers (:mod:`.scenes`) and the comparison; imports nothing of
``reconstruction``.
"""

from __future__ import annotations

from pathlib import Path

from deblur2d.io.atomic import atomic_dir
from deblur2d.io.errors import UserError

__all__ = ["IMAGE_EXTENSIONS", "downscale_folder", "image_size", "list_images"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def list_images(folder: str | Path) -> list[str]:
    """Image file names directly in ``folder`` (sorted; hidden and partial files ignored); [] if no folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) in pixels, read from the file header only; UserError when the file is not a readable
    image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, UnidentifiedImageError) as e:
        raise UserError(f"{path}: cannot read image ({e}); replace or remove it") from None


def downscale_folder(src: str | Path, dst: str | Path, factor: int) -> tuple[int, int]:
    """Box-downscale every image of ``src`` by the integer ``factor`` into ``dst`` (same names, written as one
    folder atomically; images cropped at the bottom/right to a multiple of ``factor``). Returns the full size
    (width, height) of the first image."""
    import cv2

    src, dst = Path(src), Path(dst)
    size = None
    with atomic_dir(dst) as tmp:
        for name in list_images(src):
            img = cv2.imread(str(src / name), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise UserError(f"{src / name}: cannot read image")
            h, w = img.shape[:2]
            size = size or (w, h)
            hc, wc = h // factor * factor, w // factor * factor
            small = cv2.resize(img[:hc, :wc], (wc // factor, hc // factor), interpolation=cv2.INTER_AREA)
            if not cv2.imwrite(str(tmp / name), small):
                raise UserError(f"{dst / name}: cannot write image")
    return size
