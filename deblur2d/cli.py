"""``sharpsplat deblur``: restore images, folders of images and videos with MIMO-UNet.

Each input is handled on its own: a bad one (missing, unreadable, corrupt, empty, unsupported) gets a one-line
error naming it and the others still run; the exit status is 1 when any failed. Outputs keep the input's file
name (videos come back as videos at the same frame rate), are written to a temporary name and renamed, and
existing outputs are kept unless ``--overwrite`` is given, so a rerun resumes where an interrupted one stopped.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro
from tqdm.auto import tqdm

from .io.errors import UserError
from .io.images import IMAGE_SUFFIXES, is_image_file, read_image, write_image
from .io.video import VIDEO_SUFFIXES, VideoWriter, is_video_file, iter_video_frames, probe_video

log = logging.getLogger("sharpsplat.deblur2d")


@dataclass
class DeblurConfig:
    """Restore blurry images, folders of images and videos with MIMO-UNet (single-image deblurring)."""

    inputs: Annotated[list[Path], tyro.conf.Positional]
    """Image files, folders of images (not recursive) and video files."""
    out: Path
    """Output folder; outputs keep their input's file name."""
    model: str = "auto"
    """Architecture: auto (read from the weights file), mimo-unet, mimo-unet-plus, mimo-unet-compact."""
    weights: str | None = None
    """Checkpoint: a sharpsplat .safetensors, the official .pkl, or an official name downloaded with
    `sharpsplat weights get`. Default: the shipped weights (mimo-unet-compact)."""
    tile: int | None = None
    """Tile size in pixels for large images; 0 never tiles; default: auto (tiles above ~1.6 MP)."""
    tile_overlap: int = 64
    """Overlap between tiles in pixels (feathered)."""
    self_ensemble: bool = False
    """Average over 8 flips/transposes (the paper's "++" variant; 8x slower)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """auto: bf16/fp16 autocast on CUDA, bf16 on CPUs with native bf16 (AVX512-BF16/AMX), else fp32."""
    threads: int | None = None
    """CPU threads for torch (default: torch's choice)."""
    batch_size: int = 4
    """Video frames per forward pass."""
    overwrite: bool = False
    """Replace existing outputs (default: keep them and skip that input)."""


def collect_inputs(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand folders into their image/video files (sorted). Returns (files, errors for bad entries)."""
    files: list[Path] = []
    errors: list[str] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and (is_image_file(q) or is_video_file(q)))
            if not found:
                errors.append(f"{p}: folder has no images or videos ({', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)})")
            files += found
        elif not p.exists():
            errors.append(f"{p}: file not found")
        elif not (is_image_file(p) or is_video_file(p)):
            errors.append(f"{p}: unsupported file type {p.suffix!r}")
        else:
            files.append(p)
    return files, errors


def _restore_video(restorer, src: Path, dst: Path) -> int:
    info = probe_video(src)
    batch: list = []
    with (
        VideoWriter(dst, fps=info.fps) as writer,
        tqdm(total=info.n_frames, desc=f"  {src.name}", unit="frame", leave=False) as bar,
    ):

        def flush() -> None:
            for frame in restorer.restore_many(batch):
                writer.write(frame)
            bar.update(len(batch))
            batch.clear()

        for frame in iter_video_frames(src):
            batch.append(frame.astype("float32") / 255.0)
            if len(batch) >= restorer.batch_size:
                flush()
        if batch:
            flush()
        n = writer.n_frames
    return n


def run(cfg: DeblurConfig) -> int:
    """Run the command; returns the exit status (0 all done, 1 some inputs failed)."""
    from .restorer import Restorer

    files, errors = collect_inputs(cfg.inputs)
    for e in errors:
        print(f"sharpsplat deblur: error: {e}", file=sys.stderr)
    if not files:
        raise UserError("no input to restore: pass image files, folders of images or videos")
    names: dict[str, Path] = {}
    for f in files:
        if f.name in names and names[f.name] != f:
            raise UserError(
                f"{f} and {names[f.name]} would both be written as {cfg.out / f.name}; restore them separately"
            )
        names[f.name] = f
    if cfg.out.exists() and not cfg.out.is_dir():
        raise UserError(f"--out {cfg.out}: exists and is not a folder")

    restorer = Restorer(
        model=cfg.model,
        weights=cfg.weights,
        device=cfg.device,
        tile=cfg.tile,
        tile_overlap=cfg.tile_overlap,
        self_ensemble=cfg.self_ensemble,
        precision=cfg.precision,
        threads=cfg.threads,
        batch_size=cfg.batch_size,
    )
    print(f"deblur: {restorer.describe()}", file=sys.stderr)
    cfg.out.mkdir(parents=True, exist_ok=True)
    done = skipped = 0
    failed = len(errors)
    for src in tqdm(files, desc="deblur", unit="file"):
        dst = cfg.out / src.name
        if dst.exists() and not cfg.overwrite:
            tqdm.write(f"sharpsplat deblur: skip {src}: {dst} exists (use --overwrite to replace it)", file=sys.stderr)
            skipped += 1
            continue
        try:
            if is_video_file(src):
                _restore_video(restorer, src, dst)
            else:
                img, info = read_image(src)
                write_image(dst, restorer.restore(img), info)
            done += 1
        except UserError as e:
            tqdm.write(f"sharpsplat deblur: error: {e}", file=sys.stderr)
            failed += 1
    print(f"deblur: {done} restored, {skipped} skipped, {failed} failed -> {cfg.out}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(DeblurConfig, args=argv, prog="sharpsplat deblur")
    return run(cfg)
