"""Scene presets and blur levels of ``sharpsplat make-scene``."""

from __future__ import annotations

from dataclasses import dataclass

from deblur2d.blur_synthesis import BLUR_LEVELS as _LEVELS_2D
from deblur2d.io.errors import UserError


@dataclass(frozen=True)
class Preset:
    """Size of a synthetic scene. ``focal_factor``: focal length in pixels / image width."""

    name: str
    width: int
    height: int
    num_frames: int
    num_test: int
    num_boxes: int
    max_texture: int  # longest side of any texture, texels
    fps: float = 10.0
    focal_factor: float = 0.8  # 0.8 W: 64 deg horizontal field of view, a phone's main camera
    purpose: str = ""


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", 128, 96, 10, 3, 4, 256, purpose="unit tests, a few seconds"),
    "demo": Preset("demo", 320, 240, 24, 6, 6, 1024, purpose="CPU demo, under a minute"),
    "bench": Preset("bench", 960, 540, 40, 10, 7, 2048, purpose="GPU benchmarks, minutes on a CPU"),
    "sfm": Preset("sfm", 640, 480, 20, 1, 6, 2048, purpose="SfM benchmark (scripts/bench_sfm.py), FINDINGS' size"),
}

#: Blur level -> mean displacement of scene points between exposure start and end, as a fraction of the
#: image width; the same levels as deblur2d's 2-D blur synthesis (one definition, there), plus "none".
BLUR_LEVELS: dict[str, float] = {"none": 0.0, **_LEVELS_2D}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`UserError` naming ``--preset`` otherwise."""
    if name not in PRESETS:
        raise UserError(f"--preset: unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def get_blur_fraction(level: str) -> float:
    """Blur level name -> fraction of the image width; :class:`UserError` naming ``--blur`` otherwise."""
    if level not in BLUR_LEVELS:
        raise UserError(f"--blur: unknown level {level!r}; choose one of: {', '.join(BLUR_LEVELS)}")
    return BLUR_LEVELS[level]


def describe() -> str:
    """Human-readable table of presets and blur levels (used in ``--help``)."""
    lines = ["presets:"]
    for p in PRESETS.values():
        lines.append(
            f"  {p.name:<6} {p.width}x{p.height}, {p.num_frames} frames + {p.num_test} test views, "
            f"{p.fps:g} fps ({p.purpose})"
        )
    lines.append("")
    lines.append("blur levels (mean start-to-end displacement, % of width; px at 640 / 320 / 960 wide):")
    for name, f in BLUR_LEVELS.items():
        lines.append(f"  {name:<8} {100 * f:.2f}%  ({640 * f:.0f} / {320 * f:.0f} / {960 * f:.0f} px)")
    return "\n".join(lines)
