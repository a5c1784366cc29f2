"""Synthetic blurry multi-view scenes with ground truth (``sharpsplat make-scene``).

Independent of the Gaussian renderer: scenes are ray-cast textured rectangles (``raycast``), laid out as a
room with boxes (``world``, ``textures``), filmed along a handheld path with in-exposure shake
(``camera_path``), blurred in linear light and written as a DESIGN.md scene folder (``generate``).

In: a preset name, a blur level and a seed. Out: a scene folder with ``images/`` (blurry 8-bit PNG),
``video.mp4``, ``gt/sharp/``, ``gt/test/``, ``gt/cameras.json`` (camera-to-world, OpenCV axes, ``K`` in pixels;
read it with :func:`reconstruction.io.gt_cameras.load_gt`) and optionally ``sparse/0`` with the true poses.
Sits below ``splats`` in the layering (tests/test_layering.py), so the truth never depends on the renderer it
judges.
"""

from .generate import blurry_linear, build_setup, make_scene, render_linear
from .presets import BLUR_LEVELS, PRESETS

__all__ = ["make_scene", "build_setup", "render_linear", "blurry_linear", "PRESETS", "BLUR_LEVELS"]
