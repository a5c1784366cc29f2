"""deblur2d: single-image motion deblurring with MIMO-UNet (Cho et al., ICCV 2021).

Stands alone: knows nothing of 3D. ``from deblur2d import MIMOUNet, MIMOUNetPlus, Restorer``.
Attributes are imported lazily so that light users (the CLI's help, colour functions) do not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "MIMOUNet",
    "MIMOUNetPlus",
    "Restorer",
    "build_model",
    "load_weights",
    "save_weights",
    "read_image",
    "write_image",
    "srgb_to_linear",
    "linear_to_srgb",
]

_WHERE = {
    "MIMOUNet": "mimo_unet",
    "MIMOUNetPlus": "mimo_unet",
    "build_model": "mimo_unet",
    "Restorer": "restorer",
    "load_weights": "weights",
    "save_weights": "weights",
    "read_image": "io.images",
    "write_image": "io.images",
    "srgb_to_linear": "io.color",
    "linear_to_srgb": "io.color",
}

if TYPE_CHECKING:  # pragma: no cover
    from .io.color import linear_to_srgb, srgb_to_linear
    from .io.images import read_image, write_image
    from .mimo_unet import MIMOUNet, MIMOUNetPlus, build_model
    from .restorer import Restorer
    from .weights import load_weights, save_weights


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'deblur2d' has no attribute {name!r}")
