"""``sharpsplat reconstruct`` end to end on the tiny synthetic video: every output is written and readable, a rerun
resumes (also after a hard kill mid-training), ``--force`` reruns from a stage, and bad input gets one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reconstruction.cli import main as cli_main
from reconstruction.pipeline.settings import STAGES

pytest.importorskip("pycolmap")


# `tiny` (the synthetic scene) and `finished_run` (reconstruct on its video) are session fixtures in conftest.py,
# shared with the viewer's tests.


def _args(scene: Path, out: Path, *extra: str) -> list[str]:
    return ["reconstruct", str(scene / "video.mp4"), "--out", str(out), "--preset", "tiny", "--ground-truth",
            str(scene), "--no-progress", "--threads", "2", *extra]


def test_outputs_are_complete_and_readable(tiny: Path, finished_run: Path) -> None:
    from deblur2d.io.video import iter_video_frames
    from reconstruction.splats.ply import load_ply

    run = finished_run
    m = json.loads((run / "manifest.json").read_text())
    assert list(m["stages"]) == list(STAGES)
    frames = sorted(p.name for p in (run / "scene" / "images").iterdir())
    assert len(frames) == 10
    assert sorted(p.name for p in (run / "deblurred").iterdir()) == frames
    assert len(load_ply(run / "splats.ply")) > 100
    video = list(iter_video_frames(run / "renders" / "path.mp4"))
    assert len(video) == 6 and video[0].shape == (96, 128, 3)
    cams = json.loads((run / "cameras.json").read_text())
    assert cams["files"] == frames
    traj = json.loads((run / "trajectories.json").read_text())
    assert len(traj["frames"]) == 10
    # ground truth came from the scene the video was made from, renamed to the run's frame names
    assert sorted(p.name for p in (run / "gt" / "sharp").iterdir()) == frames
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["sfm"]["num_registered"] == 10
    table = metrics["compare"]["methods"]
    assert set(table) >= {"Blurry input", "3DGS on blurry", "DeblurGS"}
    blurry = table["Blurry input"]["psnr"]
    assert 15.0 < blurry < 40.0  # blurry frames vs the sharp truth: finite, plausible
    nv = metrics["novel_views"]  # the scene's 3 held-out views, mapped into the SfM frame by the alignment
    assert nv["n"] == 3 and sorted(p.name for p in (run / "novel").iterdir()) == nv["files"]
    assert nv["alignment"]["rot_err_deg_mean"] < 2.0 and 5.0 < nv["pose_optimised"]["psnr"] < 60.0
    html = (run / "report.html").read_text()
    for src in __import__("re").findall(r'<img[^>]+src="([^"]+)"', html):
        if not src.startswith("data:"):
            from urllib.parse import unquote

            assert (run / unquote(src)).is_file(), src


def test_rerun_resumes_and_force_reruns_from_a_stage(tiny: Path, finished_run: Path, capsys) -> None:
    run = finished_run
    ckpt = run / "train" / "checkpoint.pt"
    before = ckpt.stat().st_mtime_ns
    capsys.readouterr()
    assert cli_main(_args(tiny, run)) == 0
    err = capsys.readouterr().err
    assert "resuming; finished: " + ", ".join(STAGES) in err
    assert "[train]" not in err and "[sfm]" not in err
    assert ckpt.stat().st_mtime_ns == before
    m0 = json.loads((run / "manifest.json").read_text())["stages"]
    assert cli_main(_args(tiny, run, "--force", "render")) == 0
    err = capsys.readouterr().err
    assert "[render]" in err and "[export]" in err and "[compare]" in err and "[train]" not in err
    m1 = json.loads((run / "manifest.json").read_text())["stages"]
    assert m1["sfm"] == m0["sfm"] and m1["train"] == m0["train"]
    assert ckpt.stat().st_mtime_ns == before
    # a changed setting of a finished stage is refused, naming the stage to force
    assert cli_main(_args(tiny, run, "--path-frames", "8")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--force render" in err and "error" in err


def test_hard_kill_during_training_resumes_from_the_checkpoint(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "reconstruction.cli", *_args(tiny, out, "--train-steps", "160", "--no-baseline")]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=env)
    ckpt = out / "train" / "checkpoint.pt"
    t0 = time.time()
    while not ckpt.exists() and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before the first checkpoint: nothing to kill"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    m = json.loads((out / "manifest.json").read_text())
    assert "train" not in m["stages"] and "sfm" in m["stages"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resumed at step 100" in res.stderr  # deblurgs-tiny checkpoints every 100 steps
    assert "[sfm]" not in res.stderr and "[frames]" not in res.stderr
    assert json.loads((out / "train" / "metrics.json").read_text())["train"]["steps"] == 160


def _one_line_error(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert cli_main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()  # stage lines, then the error
    err = lines[-1]
    assert err.startswith("sharpsplat reconstruct: error: "), lines
    assert not any("Traceback" in line for line in lines), lines
    return err


def test_bad_inputs_get_one_line_and_destroy_nothing(tmp_path: Path, capsys) -> None:
    import imageio.v3 as iio

    base = ["--no-progress", "--preset", "tiny"]
    bad_video = tmp_path / "broken.mp4"
    bad_video.write_bytes(b"this is not a video")
    assert "broken.mp4" in _one_line_error(["reconstruct", str(bad_video), "--out", str(tmp_path / "r1"), *base],
                                           capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty" in _one_line_error(["reconstruct", str(empty), "--out", str(tmp_path / "r2"), *base], capsys)
    one = tmp_path / "one"
    one.mkdir()
    iio.imwrite(one / "a.png", np.zeros((32, 40, 3), np.uint8))
    _one_line_error(["reconstruct", str(one), "--out", str(tmp_path / "r3"), *base], capsys)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, size in enumerate([(32, 40), (32, 40), (40, 32)]):
        iio.imwrite(mixed / f"f{i}.png", np.full((*size, 3), 100 + i, np.uint8))
    assert "f2.png" in _one_line_error(["reconstruct", str(mixed), "--out", str(tmp_path / "r4"), *base], capsys)
    missing = tmp_path / "nothing-here.mp4"
    assert "nothing-here" in _one_line_error(["reconstruct", str(missing), "--out", str(tmp_path / "r5"), *base],
                                             capsys)
    # a run folder of another version, and a folder that is not a run: refused, left exactly as they were
    old = tmp_path / "old-run"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"format": 99, "kind": "sharpsplat-reconstruct"}))
    (old / "splats.ply").write_bytes(b"precious")
    err = _one_line_error(["reconstruct", str(mixed), "--out", str(old), *base], capsys)
    assert "format" in err and (old / "splats.ply").read_bytes() == b"precious"
    other = tmp_path / "not-a-run"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    _one_line_error(["reconstruct", str(mixed), "--out", str(other), *base], capsys)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_sfm_failure_says_how_many_registered_and_what_to_try(tmp_path: Path, capsys) -> None:
    import imageio.v3 as iio

    noise = tmp_path / "noise"
    noise.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):  # unrelated random images: nothing can be matched
        iio.imwrite(noise / f"f{i}.png", rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
    out = tmp_path / "run"
    err = _one_line_error(["reconstruct", str(noise), "--out", str(out), "--no-progress", "--preset", "tiny"], capsys)
    from deblur2d.weights import default_weights_path

    # --restore is suggested only when SfM ran on the blurry frames (no weights ship to restore them by default)
    assert "of 5" in err and ("--restore" in err) == (default_weights_path() is None)
    m = json.loads((out / "manifest.json").read_text())
    assert "frames" in m["stages"] and "sfm" not in m["stages"]  # frames kept: a rerun starts at SfM
    assert len(list((out / "scene" / "images").iterdir())) == 5


def test_render_command_takes_a_reconstruct_run(finished_run: Path, tmp_path: Path) -> None:
    from deblur2d.io.video import iter_video_frames

    out = tmp_path / "orbit.mp4"
    assert cli_main(["render", str(finished_run), "--path", "orbit", "--frames", "4", "--out", str(out),
                     "--no-progress"]) == 0
    frames = list(iter_video_frames(out))
    assert len(frames) == 4 and frames[0].shape == (96, 128, 3)
    assert len({f.tobytes() for f in frames}) == 4  # the camera moves


def test_deblur_nerf_scene_input_uses_its_sharp_and_held_out_views(tiny: Path, tmp_path: Path) -> None:
    """A Deblur-NeRF / BAD-Gaussians layout: poses_bounds.npy, blurry images/, sharp images_test/, hold=5."""
    import shutil

    from reconstruction.io.gt_cameras import load_gt

    gt = load_gt(tiny)
    scene = tmp_path / "llff"
    shutil.copytree(tiny / "images", scene / "images")
    shutil.copytree(tiny / "gt" / "sharp", scene / "images_test")
    (scene / "hold=5").touch()  # views 0 and 5 are held out (their images/ files stand in for sharp views)
    rows = []
    for c2w in gt["c2w_mid"]:  # LLFF: rotation columns [down, right, backwards], centre, [H, W, focal]
        m = np.stack([c2w[:3, 1], c2w[:3, 0], -c2w[:3, 2], c2w[:3, 3], [gt["height"], gt["width"], gt["K"][0, 0]]], 1)
        rows.append(np.concatenate([m.ravel(), [0.5, 9.0]]))
    np.save(scene / "poses_bounds.npy", np.array(rows))
    sharp = sorted((scene / "images_test").iterdir())
    for p in sharp[::5]:  # images_test/ pairs with the 8 training views only
        p.unlink()
    out = tmp_path / "run"
    assert cli_main(["reconstruct", str(scene), "--out", str(out), "--preset", "tiny", "--no-progress",
                     "--no-baseline"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stages"]["sfm"] == 0.0  # the scene's own poses
    train_files = json.loads((out / "cameras.json").read_text())["files"]
    assert len(train_files) == 8 and "frame_0000.png" not in train_files
    assert sorted(p.name for p in (out / "gt" / "sharp").iterdir()) == sorted(train_files)
    assert metrics["compare"]["methods"]["DeblurGS"]["psnr"] > 5.0
    nv = metrics["novel_views"]
    assert nv["n"] == 2 and nv["alignment"]["rot_err_deg_mean"] < 0.5  # same world frame: near identity


def test_image_folder_input_maps_its_frames_to_the_ground_truth(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["reconstruct", str(tiny / "images"), "--out", str(out), "--preset", "tiny", "--no-progress",
            "--no-baseline", "--ground-truth", str(tiny), "--train-steps", "20", "--path-frames", "2"]
    assert cli_main(argv) == 0
    gt = sorted(p.name for p in (out / "gt" / "sharp").iterdir())
    assert gt == sorted(p.name for p in (out / "scene" / "images").iterdir())
    import imageio.v3 as iio

    same = iio.imread(tiny / "gt" / "sharp" / gt[3])  # the same frame's truth, not a neighbour's
    assert np.array_equal(iio.imread(out / "gt" / "sharp" / gt[3]), same)
    # a different --ground-truth on the finished run is a changed setting of the compare stage
    without_gt = [a for a in argv if a not in ("--ground-truth", str(tiny))]
    assert cli_main(without_gt) == 2
