"""Phone-video quirks on small clips made here with the bundled ffmpeg: rotation metadata gives upright frames,
an audio track is ignored, a variable frame rate keeps true timestamps in frames.json, 10-bit HLG HEVC is
tone-mapped to SDR, a too-short or static capture is refused before any SfM work (cheap motion check)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur2d.io.errors import UserError
from deblur2d.io.video import iter_video_frames, video_stream_info, video_timestamps
from reconstruction.sfm.frames import FrameOptions, check_motion, extract_frames, require_motion


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(*args: str) -> None:
    subprocess.run([_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    src = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=2"]
    _run(*src, "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(d / "audio.mp4"))  # fmt: skip
    _run("-display_rotation", "90", "-i", str(d / "audio.mp4"), "-c", "copy", str(d / "rotated.mp4"))
    # 10 frames at 10 fps, then 10 frames 0.3 s apart
    _run(*src, "-vf", "setpts='if(lt(N,10),N,10+(N-10)*3)/10/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", str(d / "vfr.mp4"))  # fmt: skip
    _run("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1", "-vf", "format=yuv420p10le", "-c:v", "libx265",
         "-x265-params", "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
         str(d / "hlg.mp4"))  # fmt: skip
    _run("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=0.2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(d / "short.mp4"))  # fmt: skip
    return {p.stem: p for p in d.glob("*.mp4")}


def test_rotation_audio_and_stream_info(clips, tmp_path) -> None:
    info = video_stream_info(clips["rotated"])
    assert info.rotation == 90 and info.has_audio and info.hdr is None and info.bit_depth == 8
    plain = next(iter_video_frames(clips["audio"]))
    upright = next(iter_video_frames(clips["rotated"]))
    assert plain.shape == (64, 96, 3) and upright.shape == (96, 64, 3)
    # display rotation +90 = counter-clockwise: the stored frame turned a quarter left
    assert np.abs(upright.astype(int) - np.rot90(plain).astype(int)).mean() < 6
    res = extract_frames(clips["rotated"], tmp_path / "scene", FrameOptions(max_frames=5, long_side=0), progress=False,
                         verbose=False)  # fmt: skip
    assert res.working_size == (64, 96) and len(res.files) == 5
    assert any("rotation metadata 90 deg applied" in n for n in res.notes)
    assert any("audio track ignored" in n for n in res.notes)


def test_variable_frame_rate_keeps_true_timestamps(clips, tmp_path) -> None:
    ts = video_timestamps(clips["vfr"])
    assert len(ts) == 20 and len(list(iter_video_frames(clips["vfr"]))) == 20  # no padding to a constant rate
    np.testing.assert_allclose(ts[:11], np.arange(11) * 0.1, atol=1e-3)
    np.testing.assert_allclose(ts[10:], 1.0 + np.arange(10) * 0.3, atol=0.11)  # x264 rounds the gaps a little
    assert np.diff(ts[10:]).min() >= 0.19 and ts[-1] == pytest.approx(3.7, abs=1e-3)
    res = extract_frames(clips["vfr"], tmp_path / "scene", FrameOptions(max_frames=0, long_side=0), progress=False,
                         verbose=False)  # fmt: skip
    record = json.loads((tmp_path / "scene" / "frames.json").read_text())
    assert [f["time_s"] for f in record["frames"]] == pytest.approx(ts, abs=1e-6)
    assert any("variable frame rate" in n for n in res.notes)


def test_hlg_hdr_is_tone_mapped(clips, tmp_path) -> None:
    info = video_stream_info(clips["hlg"])
    assert info.hdr == "HLG" and info.bit_depth == 10 and info.codec == "hevc"
    res = extract_frames(clips["hlg"], tmp_path / "scene", FrameOptions(max_frames=3, long_side=0), progress=False,
                         verbose=False)  # fmt: skip
    assert any("HLG HDR (hevc) tone-mapped to SDR" in n for n in res.notes)
    img = cv2.imread(str(res.image_dir / res.files[0]))
    assert img.shape == (64, 96, 3) and 20 < img.mean() < 235


def test_too_short_and_static_are_refused_early(clips, tmp_path) -> None:
    with pytest.raises(UserError, match=r"short\.mp4: too short: 2 frames; SfM needs at least 3"):
        extract_frames(clips["short"], tmp_path / "s", progress=False, verbose=False)
    static = tmp_path / "static"
    static.mkdir()
    base = next(iter_video_frames(clips["audio"]))
    rng = np.random.default_rng(0)
    for i in range(8):
        noisy = np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(static / f"{i:03d}.png"), noisy[..., ::-1])
    assert check_motion(static).verdict == "static"
    with pytest.raises(UserError, match=r"static: too static for SfM: the image moved 0\.\d % .* walking a few steps"):
        require_motion(static)
    pan = tmp_path / "pan"  # a camera panning across a flat textured wall: motion, but no parallax
    pan.mkdir()
    wall = cv2.GaussianBlur(rng.uniform(0, 255, (200, 400)).astype(np.float32), (0, 0), 2.0)
    wall = cv2.normalize(wall, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    for i in range(10):
        cv2.imwrite(str(pan / f"{i:03d}.png"), wall[40:160, 6 * i : 6 * i + 160])
    warned: list[str] = []
    mc = require_motion(pan, log=warned.append)
    assert mc.motion_frac > 0.2 and mc.verdict == "no-parallax" and "little parallax" in warned[0]
