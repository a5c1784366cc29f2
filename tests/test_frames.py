"""Frames for SfM (reconstruction.sfm.frames) and MIMO-UNet pre-restoration (reconstruction.sfm.restore).

Inputs are made here: a 20-frame video of a moving random texture in which exactly one frame per 4-frame bin is
sharp and the others are Gaussian-blurred, so the right answer of every selection rule is known.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deblur2d.io.errors import UserError
from deblur2d.io.video import VideoWriter
from reconstruction.sfm.frames import FrameOptions, extract_frames, select_frames, sharpness, working_size

W, H, N, FPS = 160, 120, 20, 10.0
SHARP = [2, 5, 11, 12, 17]  # one per bin of 4 frames (bins 0-3, 4-7, 8-11, 12-15, 16-19)


def _texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((H, W + 4 * N, 3)).astype(np.float32), (0, 0), 1.0)
    t = (t - t.min()) / (t.max() - t.min())
    return (t * 255).astype(np.uint8)


def _frames() -> list[np.ndarray]:
    tex = _texture()
    out = []
    for i in range(N):
        f = np.ascontiguousarray(tex[:, 2 * i : 2 * i + W])
        if i not in SHARP:
            f = cv2.GaussianBlur(f, (0, 0), 2.5)
        out.append(f)
    return out


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "shaky.mp4"
    with VideoWriter(path, FPS) as w:
        for f in _frames():
            w.write(f)
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _write_png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), rgb[..., ::-1])


# -- selection ----------------------------------------------------------------------------------------------


def test_sharpness_ranks_blurred_below_sharp() -> None:
    f = _frames()
    assert sharpness(f[2]) > 5 * sharpness(f[1])
    assert sharpness(f[2].astype(np.float32) / 255) == pytest.approx(sharpness(f[2]), rel=1e-4)


def test_select_rules_known_answers() -> None:
    assert select_frames(20, 5, "even") == [(i, "even") for i in (0, 5, 10, 14, 19)]
    scores = [0.0] * 20
    for i in SHARP:
        scores[i] = 1.0
    assert [i for i, _ in select_frames(20, 5, "sharpest", scores)] == SHARP
    assert select_frames(3, 0, "sharpest") == [(0, "all"), (1, "all"), (2, "all")]
    assert working_size(1920, 1080, 640) == (640, 360)
    assert working_size(100, 80, 640) == (100, 80)  # never upscaled


def test_sharpest_picks_the_sharp_frame_of_each_bin(video: Path, tmp_path: Path) -> None:
    res = extract_frames(video, tmp_path, FrameOptions(max_frames=5, select="sharpest"), progress=False)
    assert [f["source_index"] for f in res.frames] == SHARP
    assert res.files == [f"frame_{i:05d}.png" for i in SHARP]
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == res.files
    rec = json.loads((tmp_path / "frames.json").read_text())
    assert rec["kind"] == "video" and rec["fps"] == FPS and rec["duration_s"] == pytest.approx(N / FPS)
    assert rec["num_source_frames"] == N and rec["source_size"] == [W, H] and rec["working_size"] == [W, H]
    assert [f["time_s"] for f in rec["frames"]] == pytest.approx([i / FPS for i in SHARP])
    assert rec["frames"][1]["selected_by"] == "sharpest of 4-7"
    assert rec["options"]["select"] == "sharpest"


def test_even_selection_and_long_side(video: Path, tmp_path: Path) -> None:
    res = extract_frames(video, tmp_path, FrameOptions(max_frames=5, select="even", long_side=80), progress=False)
    assert [f["source_index"] for f in res.frames] == [0, 5, 10, 14, 19]
    assert res.working_size == (80, 60) and res.source_size == (W, H)
    for name in res.files:
        assert cv2.imread(str(tmp_path / "images" / name)).shape == (60, 80, 3)
    # Sharpness in frames.json is measured on the source frames: the even picks include blurred ones.
    sharp_flags = [f["source_index"] in SHARP for f in res.frames]
    s = [f["sharpness"] for f in res.frames]
    assert min(v for v, ok in zip(s, sharp_flags) if ok) > 5 * max(v for v, ok in zip(s, sharp_flags) if not ok)


def test_rerun_reuses_and_changed_options_reextract(video: Path, tmp_path: Path, capsys) -> None:
    opts = FrameOptions(max_frames=4, select="even")
    first = extract_frames(video, tmp_path, opts, progress=False)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "images").iterdir()}
    again = extract_frames(video, tmp_path, opts, progress=False)
    assert again.reused and not first.reused and again.files == first.files
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "images").iterdir()} == mtimes
    capsys.readouterr()
    changed = extract_frames(video, tmp_path, FrameOptions(max_frames=3, select="even"), progress=False)
    err = capsys.readouterr().err
    assert not changed.reused and "max_frames 4 -> 3" in err and "re-extracting" in err
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == changed.files and len(changed.files) == 3


def test_folder_keeps_names_never_touches_source(tmp_path: Path) -> None:
    src = tmp_path / "shots"
    src.mkdir()
    frames = _frames()
    for i in range(6):
        _write_png(src / f"IMG_{i:04d}.png", frames[i])
    cv2.imwrite(str(src / "IMG_0006.jpg"), frames[6][..., ::-1])
    (src / "notes.txt").write_text("not an image")
    before = _digest(src)
    res = extract_frames(src, tmp_path / "scene", FrameOptions(max_frames=0, long_side=100), progress=False)
    assert _digest(src) == before
    assert res.kind == "images" and res.files == [f"IMG_{i:04d}.png" for i in range(7)]
    assert [f["source_file"] for f in res.frames][-1] == "IMG_0006.jpg"
    assert cv2.imread(str(tmp_path / "scene/images/IMG_0003.png")).shape == (75, 100, 3)
    # Natural order differing from plain sorting: names get a rank prefix so they still sort in capture order.
    nat = tmp_path / "nat"
    nat.mkdir()
    for i in (1, 2, 10):
        _write_png(nat / f"img{i}.png", frames[i])
    res = extract_frames(nat, tmp_path / "scene2", FrameOptions(), progress=False)
    assert res.files == ["00000_img1.png", "00001_img2.png", "00002_img10.png"]
    assert sorted(res.files) == res.files


def test_folder_sharpest_selection(tmp_path: Path) -> None:
    src = tmp_path / "shots"
    src.mkdir()
    for i, f in enumerate(_frames()):
        _write_png(src / f"f{i:03d}.png", f)
    res = extract_frames(src, tmp_path / "scene", FrameOptions(max_frames=5), progress=False)
    assert res.files == [f"f{i:03d}.png" for i in SHARP]


@pytest.mark.parametrize("case", ["missing", "empty_dir", "one_image", "mixed_sizes", "bad_video", "single_file"])
def test_bad_input_names_the_file(case: str, tmp_path: Path) -> None:
    f = _frames()
    if case == "missing":
        path, named = tmp_path / "nope.mp4", "nope.mp4"
    elif case == "empty_dir":
        path = tmp_path / "empty"
        path.mkdir()
        (path / "readme.txt").write_text("x")
        named = "empty"
    elif case == "one_image":
        path = tmp_path / "one"
        path.mkdir()
        _write_png(path / "a.png", f[0])
        named = "one"
    elif case == "mixed_sizes":
        path = tmp_path / "mixed"
        path.mkdir()
        _write_png(path / "a.png", f[0])
        _write_png(path / "b.png", f[1][:60, :80])
        named = "a.png is 160x120, b.png is 80x60"
    elif case == "bad_video":
        path = tmp_path / "broken.mp4"
        path.write_bytes(b"\x00" * 4096)
        named = "broken.mp4"
    else:
        path = tmp_path / "photo.png"
        _write_png(path, f[0])
        named = "photo.png"
    with pytest.raises(UserError) as e:
        extract_frames(path, tmp_path / "out", progress=False)
    msg = str(e.value)
    assert named in msg and "\n" not in msg
    if case == "bad_video":
        assert "ffmpeg" in msg
    if case in ("one_image", "single_file"):
        assert "at least 2" in msg
    assert not (tmp_path / "out" / "frames.json").exists()


def test_bad_options(video: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--max-frames 1"):
        extract_frames(video, tmp_path, FrameOptions(max_frames=1), progress=False)
    with pytest.raises(UserError, match="--select"):
        extract_frames(video, tmp_path, FrameOptions(select="best"), progress=False)  # type: ignore[arg-type]


# -- pre-restoration ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from deblur2d.mimo_unet import build_model
    from deblur2d.weights import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random-mimo.safetensors"
    save_weights(build_model("mimo-unet"), path, "mimo-unet")
    return path


def test_restore_folder_same_names_sizes_and_resume(random_weights: Path, tmp_path: Path) -> None:
    from reconstruction.sfm.restore import restore_folder

    src, dst = tmp_path / "images", tmp_path / "restored"
    src.mkdir()
    f = _frames()
    for i in range(3):
        _write_png(src / f"frame_{i:05d}.png", f[i][:50, :70])  # 70x50: not multiples of 4, padded inside
    before = _digest(src)
    s = restore_folder(src, dst, weights=random_weights, device="cpu", progress=False, threads=1)
    assert s["n"] == 3 and s["restored"] == 3 and s["skipped"] == 0
    from deblur2d.hardware import auto_precision  # bf16 on CPUs that compute it natively, else fp32

    expected = str(auto_precision(torch.device("cpu"))).removeprefix("torch.")
    assert s["weights"] == str(random_weights) and s["device"] == "cpu" and s["precision"] == expected
    assert sorted(p.name for p in dst.iterdir() if not p.name.startswith(".")) == sorted(before)
    for name in before:
        assert cv2.imread(str(dst / name)).shape == (50, 70, 3)
    assert _digest(src) == before
    (dst / "frame_00001.png").unlink()
    s2 = restore_folder(src, dst, weights=random_weights, device="cpu", progress=False, threads=1)
    assert s2["restored"] == 1 and s2["skipped"] == 2 and (dst / "frame_00001.png").is_file()
    # A changed source frame is restored again; one whose source is gone is removed.
    _write_png(src / "frame_00002.png", f[7][:50, :70])
    (src / "frame_00000.png").unlink()
    s3 = restore_folder(src, dst, weights=random_weights, device="cpu", progress=False, threads=1)
    assert s3["n"] == 2 and s3["restored"] == 1 and s3["skipped"] == 1
    assert sorted(p.name for p in dst.iterdir() if not p.name.startswith(".")) == ["frame_00001.png", "frame_00002.png"]


def test_weights_available_and_missing_weights(tmp_path: Path) -> None:
    from deblur2d.weights import default_weights_path
    from reconstruction.sfm.restore import restore_folder, weights_available

    assert weights_available(None, "mimo-unet") == default_weights_path("mimo-unet")
    assert weights_available(None) == default_weights_path()  # auto: the shipped compact network
    with pytest.raises(UserError, match="--weights"):
        weights_available(tmp_path / "missing.safetensors")
    if default_weights_path() is None:
        src = tmp_path / "images"
        src.mkdir()
        _write_png(src / "a.png", _frames()[0])
        with pytest.raises(UserError, match="--weights"):
            restore_folder(src, tmp_path / "restored", progress=False)
