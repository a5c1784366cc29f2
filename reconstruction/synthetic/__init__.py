"""Synthetic blurry multi-view scenes with ground truth (``sharpsplat make-scene``).

Independent of the Gaussian renderer: scenes are ray-cast textured rectangles (``raycast``), laid out as a
room with boxes (``world``, ``textures``), filmed along a handheld path with in-exposure shake
(``camera_path``), blurred in linear light and written as a DESIGN.md scene folder (``generate``).
"""

from .generate import blurry_linear, build_setup, load_gt, make_scene, render_linear
from .presets import BLUR_LEVELS, PRESETS

__all__ = ["make_scene", "load_gt", "build_setup", "render_linear", "blurry_linear", "PRESETS", "BLUR_LEVELS"]
