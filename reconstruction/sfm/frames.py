"""Frames for SfM from a video or an image folder: selection, working size, ``frames.json``.

``extract_frames(input, out_dir, opts)`` writes ``out_dir/images/*.png`` (a folder written under a temporary name,
then renamed) and ``out_dir/frames.json``. The source is never modified.

Selection (``FrameOptions.select``) over the ``n`` source frames, in capture order, keeping ``max_frames``:
- ``even``: evenly spaced in time, first and last frame included (indices ``round(linspace(0, n - 1, m))``);
- ``sharpest``: the timeline is cut into ``max_frames`` equal bins and the sharpest frame of each bin is kept,
  so every stretch of the capture is covered by exactly one frame. Sharpness = variance of the Laplacian of
  the grey frame (0-255 scale) at most ``sharpness_long_side`` pixels on the long side.
Videos are decoded twice (scores, then the chosen frames), so memory stays at one frame for long 4K videos.
Video frames are named ``frame_{source_index:05d}.png`` (names sort in capture order); folder frames keep their
stem (``.png``), unless natural order (``img2`` before ``img10``) differs from plain sorting: then every name
gets a ``{rank:05d}_`` prefix, so names still sort in capture order (said in the log line and in frames.json).

The working size keeps the aspect ratio, long side at most ``long_side`` pixels (never upscaled; area
interpolation, ``cv2.INTER_AREA``). A rerun with the same source and options finds ``frames.json`` and reuses it.

Phone video (:mod:`deblur2d.io.video`): rotation metadata is applied (portrait comes out upright), the audio track
is ignored, frames are taken as stored (a variable frame rate is not resampled) and ``time_s`` in frames.json is
each frame's true presentation time. 10-bit HDR (HLG / PQ) is tone-mapped to SDR BT.709 while decoding (Hable
curve, ffmpeg zscale + tonemap); if that fails the message gives the ffmpeg command to convert it. Each of these
is said in the notes. :func:`check_motion` is the cheap test (a second on downscaled frames) that a frame set
moves enough for SfM, run before restoration and SfM.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from deblur2d.io.atomic import atomic_dir, write_json_atomic
from deblur2d.io.errors import UserError
from deblur2d.io.images import IMAGE_SUFFIXES, ImageInfo, is_image_file, read_image, write_image
from deblur2d.io.video import VIDEO_SUFFIXES, is_video_file

__all__ = [
    "FrameOptions",
    "FramesResult",
    "MotionCheck",
    "check_motion",
    "extract_frames",
    "require_motion",
    "sharpness",
    "select_frames",
    "working_size",
]

FRAMES_JSON = "frames.json"


@dataclass
class FrameOptions:
    """How frames are chosen and sized."""

    max_frames: int = 100
    """Frames kept (0 = all; at least 2)."""
    select: Literal["even", "sharpest"] = "sharpest"
    """even: evenly in time; sharpest: the sharpest frame of each of max_frames equal time bins."""
    long_side: int = 640
    """Working long side in pixels (0 = keep; never upscaled; area interpolation)."""
    sharpness_long_side: int = 320
    """Long side at which sharpness (variance of the Laplacian) is measured."""


@dataclass
class FramesResult:
    """What :func:`extract_frames` wrote (or found from an earlier run: ``reused``)."""

    image_dir: Path
    files: list[str]
    kind: Literal["video", "images"]
    source: Path
    source_size: tuple[int, int]  # (width, height)
    working_size: tuple[int, int]
    num_source_frames: int
    fps: float | None
    duration_s: float | None
    frames: list[dict]
    reused: bool = False
    seconds: float = 0.0
    signature: str = ""
    """Hash of source, options and file names: changes whenever the frames would."""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-friendly summary (no per-frame list)."""
        return {
            "image_dir": str(self.image_dir),
            "kind": self.kind,
            "source": str(self.source),
            "num_frames": len(self.files),
            "num_source_frames": self.num_source_frames,
            "source_size": list(self.source_size),
            "working_size": list(self.working_size),
            "fps": self.fps,
            "duration_s": self.duration_s,
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
            "signature": self.signature,
            "notes": list(self.notes),
        }

    def line(self) -> str:
        """The one-line stage summary printed on stderr."""
        w, h = self.working_size
        sw, sh = self.source_size
        size = f"{w}x{h}" + (f" (from {sw}x{sh})" if (w, h) != (sw, sh) else "")
        first = self.frames[0]["selected_by"] if self.frames else "all"
        how = {"all": "all", "even": "evenly spaced"}.get(first, f"sharpest of each of {len(self.files)} time bins")
        verb = "reused" if self.reused else "wrote"
        what = "video frames" if self.kind == "video" else "images"
        extra = "".join(f"; {n}" for n in self.notes)
        return (
            f"frames: {verb} {len(self.files)} of {self.num_source_frames} {what} ({how}), {size} -> "
            f"{self.image_dir}{extra} ({self.seconds:.1f} s)"
        )


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- measures and selection ---------------------------------------------------------------------------------


def sharpness(rgb: np.ndarray, long_side: int = 320) -> float:
    """Variance of the Laplacian of the grey image (0-255 scale) at most ``long_side`` px on the long side.

    ``rgb``: ``[H, W, 3]`` uint8, uint16 or float in [0, 1]. Higher = sharper."""
    a = np.asarray(rgb)
    scale = 1.0 if a.dtype == np.uint8 else 255.0 / 65535.0 if a.dtype == np.uint16 else 255.0
    grey = cv2.cvtColor(a.astype(np.float32) * np.float32(scale), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    if long_side and max(h, w) > long_side:
        s = long_side / max(h, w)
        grey = cv2.resize(grey, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def working_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) with the long side at most ``long_side`` (0 = keep), aspect kept, never upscaled."""
    if not long_side or max(width, height) <= long_side:
        return width, height
    s = long_side / max(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


def select_frames(n: int, max_frames: int, select: str, scores: list[float] | None = None) -> list[tuple[int, str]]:
    """Chosen source indices (ascending) with how each was chosen. ``scores`` (length ``n``) for ``sharpest``."""
    if max_frames <= 0 or max_frames >= n:
        return [(i, "all") for i in range(n)]
    if select == "even":
        idx = sorted({int(round(x)) for x in np.linspace(0, n - 1, max_frames)})
        return [(i, "even") for i in idx]
    if select != "sharpest":
        raise UserError(f"--select {select!r}: choose even or sharpest")
    if scores is None or len(scores) != n:
        raise ValueError("sharpest selection needs one score per frame")
    out = []
    for b in range(max_frames):
        lo, hi = (b * n) // max_frames, ((b + 1) * n) // max_frames
        best = lo + int(np.argmax(scores[lo:hi]))
        out.append((best, f"sharpest of {lo}-{hi - 1}"))
    return out


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


# -- sources ------------------------------------------------------------------------------------------------


def _reencode_hint(path: Path) -> str:
    return f"re-encode it, e.g. ffmpeg -i {path.name} -c:v libx264 -pix_fmt yuv420p {path.stem}_h264.mp4"


def _video_meta(path: Path) -> dict:
    import imageio.v2 as iio

    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file; give a complete video")
    try:
        reader = iio.get_reader(str(path), format="FFMPEG")
        try:
            meta = dict(reader.get_meta_data())
        finally:
            reader.close()
    except Exception as e:  # imageio raises OSError/RuntimeError/IndexError depending on the failure
        raise UserError(f"{path}: cannot decode video ({type(e).__name__}); {_reencode_hint(path)}") from None
    return meta


def _hdr_hint(path: Path, kind: str) -> str:
    from deblur2d.io.video import HDR_TO_SDR_FILTER

    return (
        f"{path}: 10-bit {kind} HDR video could not be tone-mapped here; convert it to SDR first: ffmpeg -i "
        f'{path.name} -vf "{HDR_TO_SDR_FILTER}" -c:v libx264 -crf 18 -an {path.stem}_sdr.mp4'
    )


def _iter_video(path: Path, vf: str | None = None, hdr: str | None = None) -> Iterator[np.ndarray]:
    """uint8 RGB frames; decoding errors become a UserError naming the file and suggesting a re-encode (or, for
    HDR, the tone-mapping command)."""
    from deblur2d.io.video import iter_video_frames

    try:
        yield from iter_video_frames(path, vf)
    except UserError as e:
        raise UserError(_hdr_hint(path, hdr) if hdr else f"{e}; {_reencode_hint(path)}") from None


def _folder_images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and is_image_file(p) and not p.name.startswith(".")]
    if not files:
        raise UserError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}); give a video or a folder of frames")
    return sorted(files, key=lambda p: _natural_key(p.name))


def _source_signature(path: Path) -> list:
    """Identity of the source: file size and modification time (of every image for a folder)."""
    if path.is_dir():
        return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in _folder_images(path)]
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns]


#: Fewest frames a video must have (a shorter one is refused before any work).
MIN_FRAMES = 3


def _too_few(path: Path, n: int) -> UserError:
    if is_video_file(path):
        return UserError(
            f"{path}: too short: {n} frame{'s' if n != 1 else ''}; SfM needs at least {MIN_FRAMES} (film 10-30 s "
            "while walking a few steps sideways)"
        )
    return UserError(
        f"{path}: only {n} frame{'s' if n != 1 else ''}; SfM needs at least 2 (3+ recommended, with overlap)"
    )


def _png_bytes(rgb_u8: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb_u8[..., ::-1]))
    if not ok:
        raise UserError("cannot encode a frame as PNG")
    return buf.tobytes()


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-downscale an sRGB frame (uint8, or float in [0, 1]) to ``size`` = (W, H) in linear light, as the
    project forms and downscales blur (DESIGN.md); same dtype out."""
    if (a.shape[1], a.shape[0]) == size:
        return a
    from deblur2d.io.color import linear_to_srgb, srgb_to_linear

    x = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    y = linear_to_srgb(cv2.resize(srgb_to_linear(x), size, interpolation=cv2.INTER_AREA))
    if a.dtype == np.uint8:
        return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)
    return np.clip(y, 0.0, 1.0).astype(a.dtype)


def _bar(total: int | None, desc: str, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not progress, leave=False, dynamic_ncols=True)


def _video_quirks(src: Path) -> tuple[str | None, str | None, list[str]]:
    """(ffmpeg filter or None, HDR kind or None, notes) for rotation, audio and HDR of ``src``."""
    from deblur2d.io.video import hdr_to_sdr_filter, video_stream_info

    info = video_stream_info(src)
    notes = []
    if info.rotation:
        notes.append(f"rotation metadata {info.rotation:g} deg applied: frames upright")
    if info.has_audio:
        notes.append("audio track ignored")
    vf = None
    if info.hdr:
        vf = hdr_to_sdr_filter(info.transfer, info.primaries)
        notes.append(f"{info.bit_depth}-bit {info.hdr} HDR ({info.codec}) tone-mapped to SDR BT.709 (Hable)")
    return vf, info.hdr, notes


def _extract_video(src: Path, tmp: Path, opts: FrameOptions, progress: bool) -> dict:
    from deblur2d.io.video import video_timestamps

    meta = _video_meta(src)
    fps = float(meta.get("fps") or 0.0)
    fps = fps if fps > 0 and math.isfinite(fps) else None
    est = None
    if fps and meta.get("duration"):
        est = int(round(float(meta["duration"]) * fps))
    vf, hdr, notes = _video_quirks(src)
    # Pass 1: count frames exactly, sizes, sharpness (cheap, at <= 320 px).
    scores: list[float] = []
    size = None
    with _bar(est, "frames: scoring", progress) as bar:
        for frame in _iter_video(src, vf, hdr):
            if size is None:
                size = (frame.shape[1], frame.shape[0])
            scores.append(sharpness(frame, opts.sharpness_long_side))
            bar.update(1)
    n = len(scores)
    if n == 0 or size is None:
        raise UserError(f"{src}: the video has no decodable frames; {_reencode_hint(src)}")
    if n < MIN_FRAMES:
        raise _too_few(src, n)
    stamps = video_timestamps(src)
    if stamps is None or len(stamps) != n:
        stamps = None
        notes.append("no per-frame timestamps in the container: time_s = index / fps")
    else:
        dt = np.diff(stamps)
        if len(dt) > 1 and np.median(dt) > 0 and (dt.max() - dt.min()) > 0.25 * np.median(dt):
            notes.append(f"variable frame rate ({1 / dt.max():.3g}-{1 / max(dt.min(), 1e-6):.3g} fps): time_s are "
                         "the true frame times")  # fmt: skip
    chosen = select_frames(n, opts.max_frames, opts.select, scores)
    wanted = dict(chosen)
    wsize = working_size(*size, opts.long_side)
    frames = []
    # Pass 2: write the chosen frames.
    with _bar(len(chosen), "frames: writing", progress) as bar:
        for i, frame in enumerate(_iter_video(src, vf, hdr)):
            if i in wanted:
                name = f"frame_{i:05d}.png"
                (tmp / name).write_bytes(_png_bytes(_resize(frame, wsize)))
                frames.append(
                    {
                        "file": name,
                        "source_index": i,
                        "time_s": stamps[i] if stamps else round(i / fps, 6) if fps else None,
                        "sharpness": round(scores[i], 4),
                        "selected_by": wanted[i],
                    }
                )
                bar.update(1)
                if len(frames) == len(wanted):
                    break
    if len(frames) != len(wanted):
        raise UserError(f"{src}: the second decoding pass gave fewer frames than the first; {_reencode_hint(src)}")
    duration = n / fps if fps else None
    if stamps and n > 1:
        duration = stamps[-1] + float(np.median(np.diff(stamps)))
    return {
        "kind": "video",
        "fps": fps,
        "duration_s": duration,
        "num_source_frames": n,
        "source_size": list(size),
        "working_size": list(wsize),
        "frames": frames,
        "notes": notes,
    }


def _extract_folder(src: Path, tmp: Path, opts: FrameOptions, progress: bool) -> dict:
    paths = _folder_images(src)
    n = len(paths)
    if n < 2:
        raise _too_few(src, n)
    renamed = [p.name for p in paths] != sorted(p.name for p in paths)
    stems = [p.stem for p in paths]
    if not renamed and len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise UserError(f"{src}: two images named {dup}.* (frames are written as {dup}.png); rename one")

    def out_name(rank: int, p: Path) -> str:
        return f"{rank:05d}_{p.stem}.png" if renamed else f"{p.stem}.png"

    select_all = opts.max_frames <= 0 or opts.max_frames >= n
    scores: list[float] = []
    sizes: list[tuple[int, int]] = []

    def check_size(i: int, img: np.ndarray) -> None:
        size = (img.shape[1], img.shape[0])
        if sizes and size != sizes[0]:
            raise UserError(
                f"{src}: frames of different sizes: {paths[0].name} is {sizes[0][0]}x{sizes[0][1]}, "
                f"{paths[i].name} is {size[0]}x{size[1]}; give frames of one size"
            )
        sizes.append(size)

    frames = []
    wsize = None

    def write(i: int, img: np.ndarray, info: ImageInfo, how: str) -> None:
        name = out_name(i, paths[i])
        write_image(tmp / name, _resize(img, wsize), ImageInfo(bit_depth=info.bit_depth))
        frames.append(
            {
                "file": name,
                "source_file": paths[i].name,
                "source_index": i,
                "sharpness": round(scores[i], 4),
                "selected_by": how,
            }
        )

    with _bar(n, "frames: reading", progress) as bar:
        for i, p in enumerate(paths):
            img, info = read_image(p)
            check_size(i, img)
            scores.append(sharpness(img, opts.sharpness_long_side))
            if select_all:  # one pass: every frame is kept
                if wsize is None:
                    wsize = working_size(*sizes[0], opts.long_side)
                write(i, img, info, "all")
            bar.update(1)
    if not select_all:
        wsize = working_size(*sizes[0], opts.long_side)
        chosen = select_frames(n, opts.max_frames, opts.select, scores)
        for i, how in chosen:
            img, info = read_image(paths[i])
            write(i, img, info, how)
    notes = []
    if renamed:
        notes.append("names prefixed with their rank: natural order differs from sorted order")
    return {
        "kind": "images",
        "fps": None,
        "duration_s": None,
        "num_source_frames": n,
        "source_size": list(sizes[0]),
        "working_size": list(wsize),
        "frames": frames,
        "notes": notes,
    }


# -- entry point --------------------------------------------------------------------------------------------


def _check_options(opts: FrameOptions) -> None:
    if opts.max_frames < 0 or opts.max_frames == 1:
        raise UserError(f"--max-frames {opts.max_frames}: use 0 (all) or at least 2 (SfM needs 2, 3+ recommended)")
    if opts.select not in ("even", "sharpest"):
        raise UserError(f"--select {opts.select!r}: choose even or sharpest")
    if opts.long_side < 0 or 0 < opts.long_side < 32:
        raise UserError(f"--long-side {opts.long_side}: use 0 (keep) or at least 32 pixels")


def _signature(record: dict) -> str:
    keep = {k: record[k] for k in ("source", "source_signature", "options")}
    keep["files"] = [f["file"] for f in record["frames"]]
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _result(record: dict, out_dir: Path, reused: bool, seconds: float) -> FramesResult:
    return FramesResult(
        image_dir=out_dir / "images",
        files=[f["file"] for f in record["frames"]],
        kind=record["kind"],
        source=Path(record["source"]),
        source_size=tuple(record["source_size"]),
        working_size=tuple(record["working_size"]),
        num_source_frames=record["num_source_frames"],
        fps=record["fps"],
        duration_s=record["duration_s"],
        frames=record["frames"],
        reused=reused,
        seconds=seconds,
        signature=_signature(record),
        notes=list(record.get("notes", [])),
    )


def _changed(old: dict, new: dict) -> str:
    """What differs between two frames.json requests, for the log line."""
    if old.get("source") != new["source"]:
        return f"source changed ({old.get('source')} -> {new['source']})"
    if old.get("source_signature") != new["source_signature"]:
        return "the source file(s) changed"
    a, b = old.get("options", {}), new["options"]
    diffs = [f"{k} {a.get(k)!r} -> {b[k]!r}" for k in b if a.get(k) != b[k]]
    return "options changed (" + ", ".join(diffs) + ")" if diffs else "an earlier extraction was incomplete"


def load_frames_json(out_dir: Path) -> dict | None:
    """The ``frames.json`` record in ``out_dir``, or None when missing or unreadable."""
    path = Path(out_dir) / FRAMES_JSON
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def extract_frames(
    input: Path,
    out_dir: Path,
    opts: FrameOptions | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    verbose: bool = True,
) -> FramesResult:
    """Choose, size and write frames of ``input`` (a video file or an image folder) to ``out_dir/images``.

    Writes ``out_dir/images/*.png`` and ``out_dir/frames.json`` (source, kind, fps, duration, source and
    working size, options, and per frame: file, source_index, time_s for videos, sharpness, selected_by).
    Reuses an earlier result with the same source and options unless ``force``. Prints one line on stderr when done
    (``verbose``). Raises :class:`UserError` (one line naming the file) for bad input.
    """
    t0 = time.perf_counter()
    opts = opts or FrameOptions()
    _check_options(opts)
    src, out_dir = Path(input), Path(out_dir)
    if not src.exists():
        raise UserError(f"{src}: no such file or folder; give a video ({', '.join(VIDEO_SUFFIXES)}) or image folder")
    src = src.resolve()
    if src.is_file() and not is_video_file(src):
        if is_image_file(src):
            raise UserError(f"{src}: a single image; SfM needs at least 2 frames (3+ recommended): give a folder")
        raise UserError(f"{src}: not a video ({', '.join(VIDEO_SUFFIXES)}) or an image folder")
    if src.is_dir() and src in ((out_dir / "images").resolve(), out_dir.resolve()):
        raise UserError(f"--out {out_dir}: would overwrite the input folder {src}; choose another output folder")
    request = {"source": str(src), "source_signature": _source_signature(src), "options": asdict(opts)}

    old = load_frames_json(out_dir)
    if old is not None and force:
        if verbose:
            _log("frames: re-extracting (forced)")
        (out_dir / FRAMES_JSON).unlink(missing_ok=True)
    elif old is not None:
        same = all(old.get(k) == v for k, v in request.items())
        files_here = (out_dir / "images").is_dir() and (
            all((out_dir / "images" / f["file"]).is_file() for f in old.get("frames", []))
            or (out_dir / "distorted" / "images").is_dir()  # undistorted by SfM; originals kept there
        )
        if same and files_here:
            res = _result(old, out_dir, True, time.perf_counter() - t0)
            if verbose:
                _log(res.line())
            return res
        if verbose:
            _log(f"frames: {_changed(old, request)}; re-extracting")
        (out_dir / FRAMES_JSON).unlink(missing_ok=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    # Originals kept by an earlier SfM undistortion (scene/distorted/) belong to the frames being replaced.
    shutil.rmtree(out_dir / "distorted", ignore_errors=True)
    with atomic_dir(out_dir / "images") as tmp:
        if src.is_dir():
            info = _extract_folder(src, tmp, opts, progress)
        else:
            info = _extract_video(src, tmp, opts, progress)
    record = {**request, **info, "created_by": "sharpsplat frames"}
    write_json_atomic(out_dir / FRAMES_JSON, record)
    res = _result(record, out_dir, False, time.perf_counter() - t0)
    if verbose:
        _log(res.line())
    return res


# -- is there enough motion for SfM? -------------------------------------------------------------------------

#: Long side (px) the motion check works at.
MOTION_LONG_SIDE = 160
#: Below this total image motion (fraction of the long side, median over tracked features) a frame set is static.
MIN_MOTION_FRAC = 0.02
#: Below this homography residual (px at MOTION_LONG_SIDE) the motion is a pure rotation or a flat scene.
MIN_PARALLAX_PX = 0.3


@dataclass
class MotionCheck:
    """What :func:`check_motion` measured. ``motion_frac``: summed median feature displacement over the frame set,
    as a fraction of the long side; ``parallax_px``: largest median residual of a homography fitted to the tracks of
    one stretch (px at :data:`MOTION_LONG_SIDE`): ~0 for a camera turning on the spot or a flat scene; ``verdict``:
    ``ok``, ``static``, ``no-parallax`` or ``unknown`` (too few features to tell)."""

    frames: int
    tracked: int
    motion_frac: float
    parallax_px: float
    verdict: str
    seconds: float

    def message(self, where: Path) -> str:
        if self.verdict == "static":
            return (
                f"{where}: too static for SfM: the image moved {100 * self.motion_frac:.1f} % of the frame over all "
                f"{self.frames} frames (at least {100 * MIN_MOTION_FRAC:.0f} % needed); film again walking a few "
                "steps sideways past the subject"
            )
        if self.verdict == "no-parallax":
            return (
                f"the frames show little parallax (homography residual {self.parallax_px:.2f} px): turning on the spot "
                "or a flat subject; SfM may fail or give poor depth, walk sideways for better results"
            )
        return ""


def check_motion(image_dir: str | Path, files: list[str] | None = None, max_frames: int = 60) -> MotionCheck:
    """Cheap test that frames move enough for SfM (about a second): features tracked with pyramidal Lucas-Kanade
    through up to ``max_frames`` evenly spaced frames, grey, at :data:`MOTION_LONG_SIDE` px; re-detected when fewer
    than half survive. Does not raise; the caller decides (``verdict``)."""
    t0 = time.perf_counter()
    image_dir = Path(image_dir)
    if files is None:
        files = sorted(p.name for p in image_dir.iterdir() if is_image_file(p) and not p.name.startswith("."))
    if len(files) > max_frames:
        files = [files[int(round(i))] for i in np.linspace(0, len(files) - 1, max_frames)]
    greys = []
    for f in files:
        img = cv2.imread(str(image_dir / f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        h, w = img.shape
        s = MOTION_LONG_SIDE / max(h, w)
        if s < 1:
            img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        greys.append(img)
    if len(greys) < 2:
        return MotionCheck(len(greys), 0, 0.0, 0.0, "unknown", time.perf_counter() - t0)
    long_side = max(greys[0].shape)

    def detect(img: np.ndarray) -> np.ndarray | None:
        return cv2.goodFeaturesToTrack(img, maxCorners=200, qualityLevel=0.01, minDistance=5, blockSize=5)

    lk = {"winSize": (15, 15), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
    start = detect(greys[0])
    cur = start
    total, parallax, tracked, n0 = 0.0, 0.0, 0, 0 if start is None else len(start)

    def close_segment(a: np.ndarray, b: np.ndarray) -> None:
        nonlocal total, parallax, tracked
        if len(a) < 8:
            return
        d = np.linalg.norm((b - a).reshape(-1, 2), axis=1)
        total += float(np.median(d))
        tracked = max(tracked, len(a))
        H, _ = cv2.findHomography(a, b, cv2.RANSAC, 1.0)
        if H is not None and np.median(d) > 1.0:
            proj = cv2.perspectiveTransform(a, H)
            parallax = max(parallax, float(np.median(np.linalg.norm((proj - b).reshape(-1, 2), axis=1))))

    for prev, nxt in zip(greys[:-1], greys[1:], strict=True):
        if cur is None or len(cur) < 8:
            start = cur = detect(prev)
            n0 = 0 if cur is None else len(cur)
            if cur is None:
                continue
        new, st, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, cur, None, **lk)
        if new is None:
            start = cur = None
            continue
        back, st2, _ = cv2.calcOpticalFlowPyrLK(nxt, prev, new, None, **lk)
        ok = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((back - cur).reshape(-1, 2), axis=1) < 0.5)
        start, cur = start[ok], new[ok]
        if len(cur) < max(8, n0 // 2):
            close_segment(start, cur)
            start = cur = None
    if start is not None and cur is not None:
        close_segment(start, cur)
    frac = total / long_side
    if tracked < 20:
        verdict = "unknown"
    elif frac < MIN_MOTION_FRAC:
        verdict = "static"
    elif parallax < MIN_PARALLAX_PX:
        verdict = "no-parallax"
    else:
        verdict = "ok"
    return MotionCheck(len(greys), tracked, round(frac, 4), round(parallax, 3), verdict,
                       round(time.perf_counter() - t0, 3))  # fmt: skip


def require_motion(image_dir: str | Path, files: list[str] | None = None, log=_log) -> MotionCheck:
    """:func:`check_motion`, then a one-line UserError for a static frame set and a warning (through ``log``) for
    one without parallax. Run before restoration and SfM, so a bad capture is told in seconds, not minutes."""
    mc = check_motion(image_dir, files)
    if mc.verdict == "static":
        raise UserError(mc.message(Path(image_dir)))
    if mc.verdict == "no-parallax":
        log("warning: " + mc.message(Path(image_dir)))
    return mc
