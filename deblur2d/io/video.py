"""Video in and out through imageio's ffmpeg plugin (imageio-ffmpeg ships its own ffmpeg binary).

Frames are uint8 RGB ``[H, W, 3]``. Writing goes to a temporary name that is renamed when the video is
complete, so an interrupted run leaves no truncated video under the final name.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import partial_path
from .errors import UserError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")


def is_video_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class VideoInfo:
    fps: float
    n_frames: int
    width: int
    height: int


def _open_reader(path: Path):
    import imageio.v2 as iio

    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    try:
        return iio.get_reader(str(path), format="FFMPEG")
    except Exception as e:  # imageio raises OSError/RuntimeError/IndexError depending on the failure
        raise UserError(f"{path}: cannot decode video ({type(e).__name__}); is it a complete video file?") from None


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, frame count (counted by decoding headers) and size of a video."""
    path = Path(path)
    reader = _open_reader(path)
    try:
        meta = reader.get_meta_data()
        try:
            n = reader.count_frames()
        except Exception:
            n = meta.get("nframes", 0)
        n = int(n) if n and math.isfinite(n) else 0
        w, h = meta.get("size", (0, 0))
        fps = float(meta.get("fps") or 0.0)
    finally:
        reader.close()
    if n == 0 or not w or not h:
        raise UserError(f"{path}: the video has no decodable frames")
    return VideoInfo(fps=fps if fps > 0 else 30.0, n_frames=n, width=int(w), height=int(h))


def iter_video_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield every frame as uint8 RGB ``[H, W, 3]``, in order."""
    path = Path(path)
    reader = _open_reader(path)
    try:
        for frame in reader:
            yield np.asarray(frame)[..., :3]
    except Exception as e:
        if isinstance(e, GeneratorExit):
            raise
        raise UserError(f"{path}: video decoding failed mid-stream ({type(e).__name__})") from None
    finally:
        reader.close()


class VideoWriter:
    """H.264 MP4 writer (yuv420p, CRF 18). Use as a context manager; the file appears only when complete.

    Width and height must be even (yuv420p); frames are uint8 RGB ``[H, W, 3]`` or float in [0, 1].
    """

    def __init__(self, path: str | os.PathLike, fps: float, crf: int = 18):
        self.path = Path(path)
        self.fps = float(fps)
        self.crf = crf
        self._tmp: Path | None = None
        self._writer = None
        self.n_frames = 0

    def __enter__(self) -> VideoWriter:
        import imageio.v2 as iio

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = partial_path(self.path)
        self._writer = iio.get_writer(
            str(self._tmp),
            format="FFMPEG",
            fps=self.fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
            quality=None,
            ffmpeg_params=["-crf", str(self.crf)],
            ffmpeg_log_level="error",
        )
        return self

    def write(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            frame = np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
        h, w = frame.shape[:2]
        if h % 2 or w % 2:
            raise UserError(f"{self.path}: H.264 needs even frame sizes, got {w}x{h}")
        self._writer.append_data(np.ascontiguousarray(frame[..., :3]))
        self.n_frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._writer.close()
        finally:
            if exc_type is None and self.n_frames > 0:
                os.replace(self._tmp, self.path)
            elif self._tmp is not None and self._tmp.exists():
                self._tmp.unlink()
