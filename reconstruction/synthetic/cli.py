"""``sharpsplat make-scene``: make a synthetic blurry multi-view scene with ground truth."""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

from deblur2d.io.errors import UserError

from .presets import describe


@dataclass
class Config:
    """Make a synthetic blurry multi-view scene with ground truth (DESIGN.md scene folder + video.mp4).

    Writes images/ (blurry frames), gt/sharp/, gt/test/, gt/cameras.json and video.mp4; no sparse/ unless
    --write-true-sparse (then the true poses and true 3D points as a COLMAP model in sparse/0).
    """

    out: Path
    """Scene folder to create (must be empty or absent unless --overwrite)."""
    preset: str = "demo"
    """tiny (128x96, 10 frames), demo (320x240, 24 frames) or bench (960x540, 40 frames)."""
    seed: int = 0
    """Random seed (>= 0): the same seed gives the same files."""
    blur: str = "strong"
    """none, mild, strong or extreme: 0, 0.94, 3.1, 7.5 % of the width (6 / 20 / 48 px at 640 wide)."""
    write_true_sparse: bool = False
    """Also write the true poses and 3D points as a COLMAP model in sparse/0 (for tests of later stages)."""
    overwrite: bool = False
    """Replace this generator's outputs in an existing non-empty --out."""
    exposure_stops: float = 0.0
    """Per-frame exposure changes: std of each frame's exposure in stops (0.3 = a phone re-exposing)."""
    white_balance: float = 0.0
    """Per-frame white-balance changes: std of each channel's log gain (0.05 = 5 %)."""


def main(argv: list[str]) -> int:
    """Parse ``argv`` and make the scene; prints the scene folder. Bad input raises :class:`UserError`."""
    cfg = tyro.cli(
        Config,
        args=argv,
        prog="sharpsplat make-scene",
        description=inspect.cleandoc(Config.__doc__ or "") + "\n\n" + describe(),
    )
    if cfg.seed < 0:
        raise UserError(f"--seed: must be >= 0, got {cfg.seed}")
    from .generate import make_scene

    out = make_scene(
        cfg.out,
        preset=cfg.preset,
        seed=cfg.seed,
        blur=cfg.blur,
        write_true_sparse=cfg.write_true_sparse,
        overwrite=cfg.overwrite,
        exposure_stops=cfg.exposure_stops,
        white_balance=cfg.white_balance,
    )
    print(out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
