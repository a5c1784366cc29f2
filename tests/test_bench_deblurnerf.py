"""scripts/bench_deblurnerf.py on a tiny synthetic scene laid out as a Deblur-NeRF download: blurry training views
and sharp held-out views interleaved in images_2/ (every 5th, ``hold=5``), full-size copies in images/ under
other names, poses_bounds.npy and no points (so they are triangulated)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from reconstruction.deblurgs.data import read_image

pytest.importorskip("pycolmap")
from test_scene_io import _poses_bounds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _deblurnerf_scene(synth: Path, out: Path, hold: int = 5) -> Path:
    from reconstruction.io.gt_cameras import load_gt

    gt = load_gt(synth)
    train = list(zip(gt["files"], gt["c2w_mid"], strict=True))
    test = list(zip(gt["test_files"], gt["c2w_test"], strict=True))
    (out / "images_2").mkdir(parents=True)
    (out / "images").mkdir()
    poses = []
    for k in range(len(train) + len(test)):
        src, c2w = (synth / "gt" / "test" / test.pop(0)[0], None) if k % hold == 0 else (None, None)
        if src is None:
            name, c2w = train.pop(0)
            src = synth / "images" / name
        else:
            c2w = gt["c2w_test"][k // hold]
        shutil.copy(src, out / "images_2" / f"{k:03d}.png")
        big = np.repeat(np.repeat(read_image(src), 2, 0), 2, 1)
        iio.imwrite(out / "images" / f"IMG_{k:04d}.jpg", np.round(big * 255).astype(np.uint8))
        poses.append(c2w)
    np.save(out / "poses_bounds.npy", _poses_bounds(np.stack(poses), (2 * gt["height"], 2 * gt["width"],
                                                                        2 * gt["K"][0, 0])))  # fmt: skip
    (out / f"hold={hold}").touch()
    return out


def test_bench_deblurnerf_protocol_on_synthetic_layout(tmp_path) -> None:
    from reconstruction.synthetic import make_scene

    synth = make_scene(tmp_path / "synth", preset="tiny", seed=1, blur="mild", progress=False)
    scene = _deblurnerf_scene(synth, tmp_path / "fortress")
    spec = importlib.util.spec_from_file_location("bench_deblurnerf", ROOT / "scripts" / "bench_deblurnerf.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    bench.main([str(scene), "--preset", "cpu", "--images", "images_2", "--steps", "20", "--test-pose-steps", "3",
                "--work", str(tmp_path / "runs"), "--out", str(out), "--no-progress"])  # fmt: skip
    res = json.loads(out.read_text())
    (row,) = res["rows"]
    assert row["test_views"] == 3 and row["train_views"] == 10 and row["benchmark_resolution"] == [128, 96]
    assert row["image_dir"] == "images_2" and row["preset"] == "cpu" and row["steps"] == 20
    assert 10 < row["given_pose"]["psnr"] < 40 and row["pose_optimised"]["psnr"] is not None
    assert "PSNR given pose" in res["table_markdown"] and "test-time pose opt." in res["table_markdown"]
    assert (tmp_path / "runs" / "fortress" / "points" / "points.npz").is_file()  # no points: triangulated


def test_ablation_changes_one_factor_and_resumes(tmp_path, capsys) -> None:
    """scripts/ablate_deblurnerf.py: each variant differs from base in its own factor only (here the start
    points: triangulated vs random), rows are kept in the JSON and a rerun skips what is done."""
    spec = importlib.util.spec_from_file_location("ablate_deblurnerf", ROOT / "scripts" / "ablate_deblurnerf.py")
    ablate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablate)
    table = ablate.variants(1000, 16000)
    changed = {name: sorted(k for k in v if v[k] != table["base"][k]) for name, v in table.items()}
    assert changed["init: random"] == ["triangulate"] and changed["steps x2"] == ["steps"]
    assert changed["resolution x1/2"] == ["downscale"] and changed["capacity x2"] == ["set"]
    out = tmp_path / "ablate.json"
    argv = ["--preset", "tiny", "--steps", "10", "--cap", "2000", "--test-pose-steps", "1", "--only", "base",
            "init: random", "--work", str(tmp_path / "w"), "--out", str(out), "--no-progress"]  # fmt: skip
    ablate.main(argv)
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"base", "init: random"}
    assert rows["base"]["start_points"].startswith("triangulated from the poses") and rows["base"]["steps"] == 10
    assert rows["init: random"]["start_points"] == "random"
    assert rows["init: random"]["n_gaussians"] > rows["base"]["n_gaussians"]  # random start: preset's 10k points
    capsys.readouterr()
    ablate.main(argv)
    assert capsys.readouterr().err.count("done before, skipped") == 2
    ablate.main([a if a != "1" else "2" for a in argv] + ["--only", "base"])  # other test-pose steps: base redone
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"base"} and rows["base"]["settings"]["test_pose_steps"] == 2  # the stale row is gone
