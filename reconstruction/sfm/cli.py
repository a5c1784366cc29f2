"""``sharpsplat sfm INPUT --out SCENE [flags]``: frames, optional MIMO-UNet pre-restoration, COLMAP SfM.

Writes a scene folder (DESIGN.md): ``images/`` (chosen frames at the working size), ``frames.json``,
``restored/`` (when restoring), ``sparse/0`` (COLMAP binary model with a PINHOLE camera, for ``images/``),
``sfm_report.json`` and SfM scratch files in ``colmap/``. One line per stage on stderr; a rerun reuses what is
finished. Prints the scene folder on stdout.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from .colmap import SfMOptions
from .frames import FrameOptions
from .front_end import FrontEndOptions, sfm_scene
from .restore import DEFAULT_RESTORE

__all__ = ["SfMArgs", "main", "options_from_args"]


@dataclass
class SfMArgs:
    """Frames from a video or an image folder, optional MIMO-UNet pre-restoration, then COLMAP SfM (pycolmap):
    a scene folder with images/, sparse/0 (PINHOLE camera) and sfm_report.json."""

    input: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="INPUT")]
    """A video (.mp4, .mov, ...) or a folder of frames (never modified)."""
    out: Annotated[Path, tyro.conf.arg(metavar="SCENE")]
    """Scene folder to write (rerunning resumes)."""
    restore: bool = DEFAULT_RESTORE
    """Pre-restore frames with MIMO-UNet before SfM. Without weights this is skipped and said, unless
    --restore is given explicitly (then an error)."""
    weights: str | None = None
    """MIMO-UNet weights: a .safetensors, the official .pkl, or an official name after `sharpsplat weights get`;
    default: the shipped ones."""
    model: str = "auto"
    """Restoration network: auto (the one the weights file holds), mimo-unet-compact, mimo-unet, mimo-unet-plus."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Restoration device (SfM runs on the CPU)."""
    max_frames: int = 100
    """Frames kept (0 = all)."""
    select: Literal["even", "sharpest"] = "sharpest"
    """even: evenly in time; sharpest: the sharpest frame of each of max-frames equal time bins."""
    long_side: int = 640
    """Working long side in pixels (0 = keep; never upscaled)."""
    matcher: Literal["auto", "sequential", "exhaustive"] = "auto"
    """auto: exhaustive up to 50 frames, else sequential."""
    camera_model: Literal["SIMPLE_RADIAL", "PINHOLE"] = "SIMPLE_RADIAL"
    """Camera model SfM fits (the written model is always PINHOLE: distortion dropped or undistorted)."""
    downscale: Literal[1, 2] = 1
    """Run SfM on frames box-downscaled by this factor (halves blur in pixels); the model is scaled back."""
    seed: int = 0
    """Seed of COLMAP's random generator."""
    threads: int = -1
    """CPU threads for SfM and restoration (-1 = all cores)."""
    progress: bool = True
    """Show progress bars."""


def options_from_args(args: SfMArgs, restore_explicit: bool | None = None) -> FrontEndOptions:
    """FrontEndOptions for ``args``. ``restore_explicit``: the user typed --restore / --no-restore (None: not)."""
    restore = None if restore_explicit is None else args.restore
    return FrontEndOptions(
        frames=FrameOptions(max_frames=args.max_frames, select=args.select, long_side=args.long_side),
        restore=restore,
        weights=args.weights,
        model=args.model,
        device=args.device,
        sfm=SfMOptions(matcher=args.matcher, camera_model=args.camera_model, seed=args.seed, num_threads=args.threads),
        downscale=int(args.downscale),
        progress=args.progress,
    )


def _restore_flag(argv: list[str]) -> bool | None:
    """Whether --restore / --no-restore was typed (the last one wins), None when neither."""
    seen = None
    for a in argv:
        if a in ("--restore", "--restore=True"):
            seen = True
        elif a in ("--no-restore", "--restore=False"):
            seen = False
    return seen


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = tyro.cli(SfMArgs, args=argv, prog="sharpsplat sfm")
    explicit = _restore_flag(argv)
    sfm_scene(args.input, args.out, options_from_args(args, explicit))
    print(args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
