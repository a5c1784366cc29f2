"""Video in and out through imageio's ffmpeg plugin (imageio-ffmpeg ships its own ffmpeg binary).

Frames are uint8 RGB ``[H, W, 3]``. Writing goes to a temporary name that is renamed when the video is
complete, so an interrupted run leaves no truncated video under the final name.

Reading, as phones record: frames come upright (ffmpeg applies the rotation / display-matrix metadata; the size
reported is the rotated one), only the first video stream is decoded (audio, subtitles and data are ignored),
and frames are passed through as stored (``-fps_mode passthrough``): a variable-frame-rate video is neither
padded with duplicates nor thinned to a constant rate; :func:`video_timestamps` gives each frame's true time.
:func:`video_stream_info` reads the stream's pixel format and colour tags; 10-bit HDR (HLG ``arib-std-b67`` or
PQ ``smpte2084``) can be tone-mapped to SDR BT.709 while decoding with :data:`HDR_TO_SDR_FILTER`.
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
#: Decode only the first video stream, frames as stored (no constant-rate resampling).
_READ_PARAMS = ["-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough"]
#: HDR (HLG / PQ, BT.2020) -> SDR BT.709 (linearise, Hable tone curve, re-encode): ffmpeg's zscale + tonemap.
HDR_TO_SDR_FILTER = (
    "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
    "zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
)
HDR_TRANSFERS = {"arib-std-b67": "HLG", "smpte2084": "PQ"}


def hdr_to_sdr_filter(transfer: str, primaries: str | None = "bt2020", matrix: str = "bt2020nc") -> str:
    """:data:`HDR_TO_SDR_FILTER` with the input transfer / primaries / matrix given explicitly (zscale cannot
    convert frames whose tags are missing)."""
    prim = primaries if primaries and primaries != "unknown" else "bt2020"
    return f"zscale=tin={transfer}:pin={prim}:min={matrix}:" + HDR_TO_SDR_FILTER.removeprefix("zscale=")


def is_video_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class VideoInfo:
    fps: float
    n_frames: int
    width: int
    height: int


def _open_reader(path: Path, vf: str | None = None):
    import imageio.v2 as iio

    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    params = _READ_PARAMS + (["-vf", vf] if vf else [])
    try:
        return iio.get_reader(str(path), format="FFMPEG", output_params=params)
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


def iter_video_frames(path: str | os.PathLike, vf: str | None = None) -> Iterator[np.ndarray]:
    """Yield every frame as uint8 RGB ``[H, W, 3]``, upright, in order, as stored (no frame-rate resampling).
    ``vf``: an ffmpeg filter chain applied while decoding (e.g. :data:`HDR_TO_SDR_FILTER`)."""
    path = Path(path)
    reader = _open_reader(path, vf)
    try:
        for frame in reader:
            yield np.asarray(frame)[..., :3]
    except Exception as e:
        if isinstance(e, GeneratorExit):
            raise
        raise UserError(f"{path}: video decoding failed mid-stream ({type(e).__name__})") from None
    finally:
        reader.close()


@dataclass
class StreamInfo:
    """The first video stream as ffmpeg describes it. ``transfer``: colour transfer tag (``bt709``,
    ``arib-std-b67`` = HLG, ``smpte2084`` = PQ, or ``None`` when untagged); ``rotation``: display-matrix degrees."""

    codec: str
    pix_fmt: str
    bit_depth: int
    transfer: str | None
    primaries: str | None
    rotation: float
    has_audio: bool

    @property
    def hdr(self) -> str | None:
        """``"HLG"`` or ``"PQ"`` for an HDR transfer, else None."""
        return HDR_TRANSFERS.get(self.transfer or "")


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def video_stream_info(path: str | os.PathLike) -> StreamInfo:
    """Codec, pixel format, bit depth, colour tags, rotation and audio presence of ``path`` (``ffmpeg -i``)."""
    import re
    import subprocess

    path = Path(path)
    res = subprocess.run([_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                         errors="replace", timeout=60)  # fmt: skip
    lines = res.stderr.splitlines()
    vid = next((i for i, ln in enumerate(lines) if re.search(r"Stream #\S+.*: Video: ", ln)), None)
    if vid is None:
        raise UserError(f"{path}: no video stream found; is it a complete video file?")
    line = lines[vid].split(": Video: ", 1)[1]
    codec = line.split()[0].rstrip(",")
    m = re.search(r", ((?:yuv|yuvj|gbr|rgb|bgr|gray|p0|nv|x2)[\w]*)(?:\(([^)]*)\))?", line)
    pix_fmt = m.group(1) if m else ""
    tags = [t.strip() for t in (m.group(2) or "").split(",")] if m else []
    bits = re.search(r"(?:p|le|be)?(9|10|12|14|16)(?:le|be)", pix_fmt)
    bit_depth = int(bits.group(1)) if bits else 8
    transfer = primaries = None
    for t in tags:
        parts = t.split("/")
        if len(parts) == 3:  # colorspace/primaries/transfer
            primaries, transfer = parts[1], parts[2]
        elif len(parts) == 1 and t in HDR_TRANSFERS | {"bt709": "", "bt2020": ""}:
            transfer = t if t in HDR_TRANSFERS else transfer
    rotation = 0.0
    for ln in lines[vid + 1 : vid + 12]:
        r = re.search(r"rotation of (-?[\d.]+) degrees", ln)
        if r:
            rotation = float(r.group(1))
            break
    has_audio = any(re.search(r"Stream #\S+.*: Audio: ", ln) for ln in lines)
    return StreamInfo(codec, pix_fmt, bit_depth, transfer, primaries, rotation, has_audio)


def video_timestamps(path: str | os.PathLike) -> list[float] | None:
    """Presentation time in seconds of every frame of the first video stream, from 0, in display order (read from
    the packets without decoding); None when the container gives none."""
    import subprocess

    cmd = [_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy",
           "-f", "framemd5", "-"]  # fmt: skip
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    tb = None
    pts: list[int] = []
    for ln in res.stdout.splitlines():
        if ln.startswith("#tb 0:"):
            num, den = ln.split(":", 1)[1].strip().split("/")
            tb = float(num) / float(den)
        elif ln and not ln.startswith("#"):
            cols = [c.strip() for c in ln.split(",")]
            if len(cols) >= 3 and cols[0] == "0":
                try:
                    pts.append(int(cols[2]))
                except ValueError:
                    return None
    if tb is None or not pts:
        return None
    pts.sort()
    return [round((p - pts[0]) * tb, 6) for p in pts]


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
