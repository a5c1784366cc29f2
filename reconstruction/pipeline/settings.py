"""What a ``sharpsplat reconstruct`` run is made with: its stages in order, its flags and their presets.

Presets: ``configs/reconstruct-<name>.toml`` (``demo``, ``cpu``, ``gpu-quality``) hold any of the flags of
:class:`ReconstructArgs`; flags given on the command line override them. :data:`STAGE_KEYS` names the flags
each stage depends on: changing one on a finished stage needs ``--force STAGE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from reconstruction.io.presets import load_preset_into

__all__ = ["DEFAULT_PRESET", "STAGES", "STAGE_KEYS", "ReconstructArgs", "StageName", "load_preset"]

#: Stages in order; ``--force`` takes one of these names.
STAGES = ("frames", "restore", "sfm", "train", "baseline", "deblurred", "render", "export", "compare")
StageName = Literal["frames", "restore", "sfm", "train", "baseline", "deblurred", "render", "export", "compare"]
DEFAULT_PRESET = "cpu"

#: Settings each stage depends on (a change there, on a finished stage, needs ``--force``).
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "frames": ("max_frames", "select", "long_side"),
    "restore": ("restore", "weights", "model"),
    "sfm": ("matcher", "camera_model", "sfm_downscale", "seed"),
    "train": ("train_preset", "train_downscale", "train_steps", "seed", "images"),
    "baseline": ("baseline", "baseline_steps"),
    "render": ("path", "path_frames", "fps"),
    "compare": ("ground_truth",),
}


@dataclass
class ReconstructArgs:
    """Shaky video (or frames, or a scene) in; sharp frames, a sharp 3D Gaussian scene, novel views and a report out."""

    input: Annotated[Path, tyro.conf.Positional] = Path("video.mp4")
    """A video, a folder of frames, a COLMAP scene, a Deblur-NeRF/LLFF scene or a synthetic scene."""
    out: Path = Path("runs/reconstruct")
    """Run folder (created; rerun the same command to resume)."""
    preset: str = DEFAULT_PRESET
    """configs/reconstruct-<preset>.toml (demo, cpu, gpu-quality) or a TOML path; flags override it."""
    force: StageName | None = None
    """Rerun this stage and every later one (their outputs are replaced when the new ones are finished)."""
    ground_truth: Path | None = None
    """A synthetic scene (make-scene) whose images/ are INPUT's frames in order: adds PSNR/SSIM to the report."""
    max_frames: int = 100
    """Frames taken from a video or folder (0: all)."""
    select: Literal["even", "sharpest"] = "sharpest"
    """Frame choice: evenly in time, or the sharpest frame in each of max_frames equal time slots."""
    long_side: int = 640
    """Working long side of the frames in pixels (never upscaled; 0: keep)."""
    restore: bool = True
    """Pre-restore frames with MIMO-UNet before SfM (skipped, and said, when no weights exist)."""
    weights: str | None = None
    """MIMO-UNet weights: a file, or an official name after `sharpsplat weights get` (default: the shipped ones)."""
    model: str = "auto"
    """Restoration network: auto (the one the weights file holds), mimo-unet-compact, mimo-unet, mimo-unet-plus."""
    matcher: Literal["auto", "sequential", "exhaustive"] = "auto"
    """SfM matching: exhaustive for small sets, sequential for long videos (auto)."""
    camera_model: Literal["SIMPLE_RADIAL", "PINHOLE"] = "SIMPLE_RADIAL"
    sfm_downscale: int = 1
    """Run SfM on frames downscaled by this factor (halves blur in pixels); poses hold for full-size frames."""
    sfm_threads: int = 1
    """COLMAP threads. 1 gives the same poses for the same seed; with 2, the same frames gave 0.14 and 0.25 deg
    rotation error on two runs (scripts/bench_sfm.py). -1: all cores (faster, not reproducible). A finished SfM
    is not redone for another thread count."""
    images: str | None = None
    """Scenes with poses: the image folder to train on (images, images_4, ...); default: the one the poses' file
    names live in (said in the log)."""
    train_preset: str = "deblurgs-cpu-demo"
    """DeblurGS preset in configs/ (deblurgs-cpu-demo, deblurgs-gpu-quality, ...)."""
    train_downscale: int = 0
    """Train on frames downscaled by this factor (0: the DeblurGS preset's own setting)."""
    train_steps: int = 0
    """DeblurGS steps (0: the preset's)."""
    baseline: bool = True
    """Also fit Gaussians without a motion model (3DGS on blurry frames) for the comparison."""
    baseline_steps: int = 0
    """Steps of the baseline (0: as many as DeblurGS)."""
    path: str = "spiral"
    """Novel camera path of renders/path.mp4: spiral, orbit, train, or a JSON file of poses."""
    path_frames: int = 60
    fps: float = 15.0
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    progress: bool = True
    """Progress bars."""
    view: bool = False
    """Serve the 3D viewer (`sharpsplat view`) while the run goes on: the DeblurGS training redrawn every
    --view-every steps, then the whole run; it keeps serving after the run until Ctrl-C."""
    view_every: int = 50
    """Training steps between viewer updates (--view)."""
    view_port: int = 8080
    """Port of the viewer (--view; 0: any free one)."""
    view_host: str = "127.0.0.1"
    """Address of the viewer (--view); anything but loopback shows the run to other machines."""


def load_preset(name: str) -> ReconstructArgs:
    """:class:`ReconstructArgs` defaults with preset ``name`` applied (``configs/reconstruct-<name>.toml``)."""
    return load_preset_into(ReconstructArgs(preset=name), name, "reconstruct-")
