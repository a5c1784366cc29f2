"""``sharpsplat render RUN --path spiral|orbit|train|FILE --out video.mp4``: novel sharp views of a finished run.

Loads ``RUN/checkpoint.pt`` and ``RUN/cameras.json`` (:mod:`reconstruction.splats.run_io`), makes a camera path
(:mod:`reconstruction.pipeline.camera_paths`), renders it view by view and writes an H.264 MP4 (atomically), optionally
one PNG per frame too. One log line per stage on stderr, a progress bar with rate and ETA, and a last line with
the video's path, frame count and duration.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import tyro

from deblur2d.io.errors import UserError

from .camera_paths import PATH_KINDS, orbit_path, read_path_file, spiral_path, train_path

__all__ = ["RenderArgs", "make_path", "render_path", "main"]

DEFAULT_FPS = 30.0


@dataclass
class RenderArgs:
    """Render novel sharp views of a finished run along a camera path into an H.264 MP4."""

    run: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")]
    """Run folder made by `sharpsplat train` or `sharpsplat reconstruct` (checkpoint.pt, cameras.json)."""
    path: str = "spiral"
    """Camera path: spiral (forward-facing, around the mean pose), orbit (circle around the scene centre), train
    (the filmed path, shake smoothed away) or a JSON file ({"frames": [{"c2w": 4x4}]}, a list of 4x4 c2w in OpenCV
    axes, or nerfstudio's camera_path.json)."""
    out: Path | None = None
    """Output video (.mp4); default RUN/videos/<path>.mp4."""
    frames: int = 120
    """Number of frames of a generated path (a path file has its own)."""
    fps: float | None = None
    """Frames per second; default the path file's fps, else 30."""
    scale: float = 1.0
    """Output size relative to the training resolution (rounded to even numbers for H.264)."""
    orbit_arc: float = 360.0
    """orbit path: degrees of the circle; below 360 the camera swings back and forth over that arc on the cameras'
    side (for captures that saw the scene from one side only)."""
    smooth: float = 1.0
    """train path: Gaussian smoothing of the filmed poses, sigma in frames (0 = through every pose)."""
    frames_dir: Path | None = None
    """Also write one PNG per frame into this folder (replaced whole when done)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Torch device (auto: CUDA when available)."""
    progress: bool = True
    """Show a progress bar."""


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _even_size(width: int, height: int, scale: float) -> tuple[int, int]:
    if not scale > 0:
        raise UserError(f"--scale must be positive, got {scale}")
    w, h = (max(2, 2 * int(round(v * scale / 2))) for v in (width, height))
    return w, h


def _check_frames_dir(path: Path) -> None:
    """The PNG folder is replaced whole: refuse one that holds anything but frames of an earlier render."""
    if path.exists() and not path.is_dir():
        raise UserError(f"--frames-dir {path}: exists and is not a folder")
    if path.is_dir():
        other = [p.name for p in path.iterdir() if not re.fullmatch(r"\d{5}\.png", p.name)]
        if other:
            raise UserError(f"--frames-dir {path}: holds other files ({other[0]}, ...); give a new or empty folder")


def make_path(scene, kind_or_file: str | Path, n_frames: int, smooth: float = 1.0, orbit_arc: float = 360.0):
    """Poses ``[N, 4, 4]``, optional vertical FOVs ``[N]`` (degrees) and optional fps for a path name or file."""
    kind = str(kind_or_file)
    if kind in PATH_KINDS:
        if n_frames < 1:
            raise UserError(f"--frames must be >= 1, got {n_frames}")
        if kind == "spiral":
            return spiral_path(scene.c2w_mid, n_frames, points=scene.points()), None, None
        if kind == "orbit":
            if not 0 < orbit_arc <= 360:
                raise UserError(f"--orbit-arc must be in (0, 360] degrees, got {orbit_arc}")
            return orbit_path(scene.c2w_mid, n_frames, points=scene.points(), arc_deg=orbit_arc), None, None
        if smooth < 0:
            raise UserError(f"--smooth must be >= 0, got {smooth}")
        return train_path(scene.c2w_mid, n_frames, smooth=smooth), None, None
    p = Path(kind)
    if p.suffix.lower() != ".json" and not p.exists():
        raise UserError(f"--path {kind!r}: choose {', '.join(PATH_KINDS)} or give a JSON camera path file")
    cp = read_path_file(p)
    return cp.c2w, cp.fov_deg, cp.fps


def render_path(
    run: str | Path,
    kind_or_file: str | Path,
    out: str | Path,
    n_frames: int = 120,
    fps: float | None = None,
    scale: float = 1.0,
    *,
    smooth: float = 1.0,
    orbit_arc: float = 360.0,
    frames_dir: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Render ``run`` along a camera path (``spiral``, ``orbit``, ``train`` or a JSON file) into the MP4 ``out``
    (written atomically), and its camera path beside it (``out`` with ``.json``: ``{"fps", "frames": [{"c2w"}]}``,
    readable by ``--path``); returns ``out``. ``fps`` None: the path file's, else 30."""
    from deblur2d.io.atomic import atomic_dir, write_json_atomic
    from deblur2d.io.images import write_image
    from deblur2d.io.video import VideoWriter
    from reconstruction.splats.render import select_backend
    from reconstruction.splats.run_io import load_run, render_views, scale_K

    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise UserError(f"--out {out}: the video must be an .mp4 file")
    if frames_dir is not None:
        _check_frames_dir(Path(frames_dir))
    t0 = time.perf_counter()
    scene = load_run(run, device)
    w, h = _even_size(scene.width, scene.height, scale)
    _log(
        f"[1/3] load: {scene.kind} run {scene.run}, {len(scene.model)} Gaussians, {len(scene.files)} training "
        f"frames {scene.width}x{scene.height}, colour {scene.color_space}, SH degree {scene.sh_degree}, device "
        f"{scene.device}, backend {select_backend(scene.backend, scene.device)} ({time.perf_counter() - t0:.1f} s)"
    )
    c2ws, fov, file_fps = make_path(scene, kind_or_file, n_frames, smooth, orbit_arc)
    fps = float(fps if fps is not None else file_fps or DEFAULT_FPS)
    if not fps > 0:
        raise UserError(f"--fps must be positive, got {fps}")
    Ks = None
    if fov is not None:  # nerfstudio: vertical FOV over the output height, principal point at the centre
        f = 0.5 * h / np.tan(np.radians(fov) / 2.0)
        Ks = np.zeros((len(c2ws), 3, 3))
        Ks[:, 0, 0], Ks[:, 1, 1], Ks[:, 0, 2], Ks[:, 1, 2], Ks[:, 2, 2] = f, f, w / 2.0, h / 2.0, 1.0
    name = Path(kind_or_file).name if str(kind_or_file) not in PATH_KINDS else str(kind_or_file)
    K = scale_K(scene.K, scene.width, scene.height, w, h)
    intr = "FOV from the file" if Ks is not None else f"fx {K[0, 0]:.1f} px"
    _log(f"[2/3] path: {name}, {len(c2ws)} frames at {fps:g} fps, {w}x{h} ({intr})")
    t1 = time.perf_counter()
    views = render_views(scene, c2ws, w, h, progress, Ks=Ks, desc="render")
    with VideoWriter(out, fps) as vw:
        if frames_dir is not None:
            with atomic_dir(frames_dir) as tmp:
                for i, img in enumerate(views):
                    vw.write(img)
                    write_image(tmp / f"{i:05d}.png", img)
        else:
            for img in views:
                vw.write(img)
    n = vw.n_frames
    path_json = out.with_name(out.stem + ".path.json")  # never the user's --path file: its own name
    write_json_atomic(path_json, {"fps": fps, "width": w, "height": h, "K": (K if Ks is None else Ks[0]).tolist(),
                                  "frames": [{"c2w": c.tolist()} for c in c2ws]})
    secs = time.perf_counter() - t1
    extra = f", PNGs in {frames_dir}" if frames_dir is not None else ""
    _log(f"[3/3] render: {n} frames in {secs:.1f} s ({n / max(secs, 1e-9):.2f} frames/s){extra}")
    _log(f"video: {out} ({n} frames, {n / fps:.2f} s at {fps:g} fps, {w}x{h})")
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sharpsplat render``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = tyro.cli(RenderArgs, args=argv, prog="sharpsplat render")
    out = args.out
    if out is None:
        stem = args.path if args.path in PATH_KINDS else Path(args.path).stem
        out = args.run / "videos" / f"{stem}.mp4"
    render_path(
        args.run, args.path, out, args.frames, args.fps, args.scale, smooth=args.smooth, orbit_arc=args.orbit_arc,
        frames_dir=args.frames_dir, device=args.device, progress=args.progress,
    )  # fmt: skip
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
