"""``sharpsplat deblur``: files, folders and videos; bad inputs fail one by one; nothing overwritten by default."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from deblur2d.io.video import VideoWriter, iter_video_frames, probe_video
from reconstruction.cli import main as sharpsplat


def _write_inputs(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    imgs = {
        "a.png": rng.integers(0, 256, (30, 41, 3), dtype=np.uint8),
        "b16.png": rng.integers(0, 65536, (22, 18, 3), dtype=np.uint16),
        "grey.png": rng.integers(0, 256, (16, 20), dtype=np.uint8),
        "rgba.png": rng.integers(0, 256, (12, 12, 4), dtype=np.uint8),
    }
    for name, a in imgs.items():
        cv2.imwrite(str(folder / name), a)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "empty.jpg").write_bytes(b"")
    return imgs


def test_folder_with_good_and_bad_inputs(tmp_path, identity_weights, capsys):
    imgs = _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    rc = sharpsplat(
        [
            "deblur",
            str(tmp_path / "in"),
            str(tmp_path / "missing.png"),
            "--out",
            str(out),
            "--weights",
            str(identity_weights),
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1  # some inputs failed
    for bad in ("corrupt.png", "empty.jpg", "missing.png"):
        lines = [ln for ln in err.splitlines() if bad in ln and "error" in ln]
        assert len(lines) == 1, (bad, err)
    assert sorted(p.name for p in out.iterdir()) == sorted(imgs)  # no partial or failed files
    for name, a in imgs.items():
        back = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(back, a)  # identity network: same pixels, bit depth, channels, alpha


def test_existing_outputs_kept_unless_overwrite(tmp_path, identity_weights, capsys):
    src = tmp_path / "x.png"
    cv2.imwrite(str(src), np.full((8, 8, 3), 100, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.png").write_bytes(b"precious")
    args = ["deblur", str(src), "--out", str(out), "--weights", str(identity_weights), "--device", "cpu"]
    assert sharpsplat(args) == 0
    assert (out / "x.png").read_bytes() == b"precious"
    assert "--overwrite" in capsys.readouterr().err
    assert sharpsplat(args + ["--overwrite"]) == 0
    assert cv2.imread(str(out / "x.png"))[0, 0, 0] == 100


def test_video_comes_back_as_video_at_same_rate(tmp_path, identity_weights):
    src = tmp_path / "clip.mp4"
    rng = np.random.default_rng(0)
    frames = [np.clip(cv2.resize(rng.random((6, 8, 3)), (64, 48)) * 255, 0, 255).astype(np.uint8) for _ in range(7)]
    with VideoWriter(src, fps=12) as w:
        for f in frames:
            w.write(f)
    out = tmp_path / "out"
    rc = sharpsplat(
        [
            "deblur",
            str(src),
            "--out",
            str(out),
            "--weights",
            str(identity_weights),
            "--device",
            "cpu",
            "--batch-size",
            "3",
        ]
    )
    assert rc == 0
    info = probe_video(out / "clip.mp4")
    assert (info.n_frames, info.width, info.height) == (7, 64, 48)
    assert abs(info.fps - 12) < 1e-6
    got = list(iter_video_frames(out / "clip.mp4"))
    ref = list(iter_video_frames(src))
    assert np.abs(np.stack(got).astype(float) - np.stack(ref)).mean() < 3.0  # one lossy re-encode


def test_corrupt_video_fails_clearly(tmp_path, identity_weights, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    rc = sharpsplat(["deblur", str(bad), "--out", str(tmp_path / "o"), "--weights", str(identity_weights)])
    assert rc == 1
    assert "bad.mp4" in capsys.readouterr().err
    assert not any((tmp_path / "o").iterdir())


def test_without_weights_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("deblur2d.restorer.default_weights_path", lambda model: None)
    src = tmp_path / "x.png"
    cv2.imwrite(str(src), np.zeros((8, 8, 3), np.uint8))
    rc = sharpsplat(["deblur", str(src), "--out", str(tmp_path / "o"), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "--weights" in err[0] and "no weights" in err[0]


def test_console_entry_point_bad_input_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "reconstruction.cli", "deblur", str(tmp_path / "nope.png"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "nope.png" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_command(capsys):
    assert sharpsplat(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_unknown_flag_exits_with_usage_error():
    with pytest.raises(SystemExit) as e:
        sharpsplat(["deblur", "--bogus-flag"])
    assert e.value.code == 2
