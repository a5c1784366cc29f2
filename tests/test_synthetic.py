"""Synthetic scene generator: determinism, blur calibration, ground-truth consistency, file formats, SfM."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import imageio.v2 as iio
import numpy as np
import pytest

from deblur2d.io.color import linear_to_srgb
from deblur2d.io.errors import UserError
from reconstruction.io.gt_cameras import load_gt
from reconstruction.synthetic import BLUR_LEVELS, PRESETS, blurry_linear, build_setup, make_scene
from reconstruction.synthetic import cli as synth_cli
from reconstruction.synthetic.generate import to_uint8
from reconstruction.synthetic.raycast import render


def _make(root: Path, name: str, **kw) -> Path:
    return make_scene(root / name, preset="tiny", progress=False, **kw)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scenes")
    return {
        "strong": _make(root, "strong", seed=0, blur="strong", write_true_sparse=True),
        "strong_again": _make(root, "strong_again", seed=0, blur="strong"),
        "seed1": _make(root, "seed1", seed=1, blur="strong"),
        "none": _make(root, "none", seed=0, blur="none"),
        "mild": _make(root, "mild", seed=0, blur="mild"),
        "extreme": _make(root, "extreme", seed=0, blur="extreme"),
    }


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _all_pixel_points(depth: np.ndarray, c2w: np.ndarray, k: np.ndarray) -> np.ndarray:
    h, w = depth.shape
    ii, jj = np.mgrid[0:h, 0:w]
    ok = np.isfinite(depth)
    pix = np.stack([jj[ok] + 0.5, ii[ok] + 0.5, np.ones(ok.sum())], -1)
    cam = pix @ np.linalg.inv(k).T * depth[ok][:, None]
    return cam @ c2w[:3, :3].T + c2w[:3, 3]


def _project(points: np.ndarray, c2w: np.ndarray, k: np.ndarray) -> np.ndarray:
    cam = (points - c2w[:3, 3]) @ c2w[:3, :3]
    uv = cam @ k.T
    return uv[:, :2] / uv[:, 2:]


def test_same_seed_identical_files_different_seed_differs(scenes: dict[str, Path]) -> None:
    a, b = _digest(scenes["strong"]), _digest(scenes["strong_again"])
    assert a.pop("gt/cameras.json") == b.pop("gt/cameras.json")
    a = {k: v for k, v in a.items() if not k.startswith("sparse/")}
    assert a == b and len(a) >= 2 * 10 + 3 + 1
    other = _digest(scenes["seed1"])
    differing = [k for k in b if k in other and other[k] != b[k]]
    assert len(differing) == len(b)  # every image, the video and cameras.json differ
    g0, g1 = load_gt(scenes["strong"]), load_gt(scenes["seed1"])
    assert not np.allclose(g0["c2w_mid"], g1["c2w_mid"], atol=1e-2)  # different paths
    assert g0["raw"]["world"]["boxes"] != g1["raw"]["world"]["boxes"]  # different scenes
    # Different shake: relative motion over the exposure differs.
    rel0 = np.linalg.inv(g0["c2w_mid"][0]) @ g0["c2w_sub"][0, -1]
    rel1 = np.linalg.inv(g1["c2w_mid"][0]) @ g1["c2w_sub"][0, -1]
    assert not np.allclose(rel0, rel1, atol=1e-5)


def test_same_world_and_path_across_blur_levels(scenes: dict[str, Path]) -> None:
    g_none, g_strong = load_gt(scenes["none"]), load_gt(scenes["strong"])
    np.testing.assert_array_equal(g_none["c2w_mid"], g_strong["c2w_mid"])
    for f in g_none["files"]:
        assert (scenes["none"] / "gt/sharp" / f).read_bytes() == (
            scenes["strong"] / "gt/sharp" / f
        ).read_bytes()


@pytest.mark.parametrize("level", ["none", "mild", "strong", "extreme"])
def test_blur_level_honoured(scenes: dict[str, Path], level: str) -> None:
    """Mean start-to-end displacement of ALL visible scene points, measured here independently."""
    folder = scenes[level]
    gt = load_gt(folder)
    setup = build_setup("tiny", 0)
    k, w, h = gt["K"], gt["width"], gt["height"]
    target = BLUR_LEVELS[level] * w
    per_frame, steps = [], []
    for i in range(len(gt["files"])):
        depth = render(setup.world, gt["c2w_mid"][i], k, w, h)[1]
        pts = _all_pixel_points(depth, gt["c2w_mid"][i], k)
        sub = gt["c2w_sub"][i]
        uv = np.stack([_project(pts, c, k) for c in sub])
        per_frame.append(np.linalg.norm(uv[-1] - uv[0], axis=-1).mean())
        steps.append(np.linalg.norm(np.diff(uv, axis=0), axis=-1).mean(1).max())
    per_frame = np.array(per_frame)
    assert gt["c2w_sub"].shape[1] >= 16
    if level == "none":
        assert per_frame.max() < 1e-9
        return
    # The generator calibrates on a subsample of points; all points agree to a few percent.
    assert abs(per_frame.mean() / target - 1) < 0.05, (per_frame.mean(), target)
    assert per_frame.min() > 0.7 * target and per_frame.max() < 1.3 * target
    np.testing.assert_allclose(gt["blur_px"], per_frame, rtol=0.1)
    assert max(steps) <= 1.2  # consecutive sub-frames move about 1 px at most


def test_ground_truth_consistency(scenes: dict[str, Path]) -> None:
    folder = scenes["strong"]
    gt = load_gt(folder)
    setup = build_setup("tiny", 0)
    k, w, h = gt["K"], gt["width"], gt["height"]
    for i in (0, 7):
        name = gt["files"][i]
        # Rendering the mid-exposure pose reproduces gt/sharp exactly.
        sharp = to_uint8(linear_to_srgb(render(setup.world, gt["c2w_mid"][i], k, w, h)[0]))
        np.testing.assert_array_equal(sharp, iio.imread(folder / "gt/sharp" / name))
        # The linear-light mean of the sub-frame renders is the blurry frame before noise.
        subs = np.stack([render(setup.world, c, k, w, h)[0].astype(np.float64) for c in gt["c2w_sub"][i]])
        pre = blurry_linear(setup, gt["c2w_sub"][i])
        np.testing.assert_allclose(pre, subs.mean(0), atol=1e-6)
        # ... and the saved frame is that plus noise of the stated sigma, quantised.
        resid = iio.imread(folder / "images" / name).astype(np.float64) - linear_to_srgb(subs.mean(0)) * 255
        sigma = gt["raw"]["noise_sigma_srgb"] * 255
        interior = resid[
            (linear_to_srgb(subs.mean(0)).min(-1) > 0.02) & (linear_to_srgb(subs.mean(0)).max(-1) < 0.98)
        ]
        assert abs(interior.mean()) < 0.1
        assert abs(interior.std() / np.sqrt(sigma**2 + 1 / 12) - 1) < 0.1
        # Blur is real: the blurry frame differs from the sharp one far beyond the noise.
        assert np.abs(resid).mean() < 2.0
        assert np.abs(iio.imread(folder / "images" / name).astype(float) - sharp).mean() > 4.0


def test_cameras_json_matches_design(scenes: dict[str, Path]) -> None:
    folder = scenes["strong"]
    raw = json.loads((folder / "gt/cameras.json").read_text())
    p = PRESETS["tiny"]
    assert raw["width"] == p.width and raw["height"] == p.height
    k = np.array(raw["K"])
    np.testing.assert_allclose(
        k, [[0.8 * p.width, 0, p.width / 2], [0, 0.8 * p.width, p.height / 2], [0, 0, 1]]
    )
    assert [f["file"] for f in raw["frames"]] == sorted(x.name for x in (folder / "images").iterdir())
    assert sorted(f["file"] for f in raw["frames"]) == sorted(x.name for x in (folder / "gt/sharp").iterdir())
    assert [t["file"] for t in raw["test"]] == sorted(x.name for x in (folder / "gt/test").iterdir())
    assert len(raw["frames"]) == p.num_frames and len(raw["test"]) == p.num_test
    n_sub = raw["num_sub_frames"]
    assert n_sub >= 16 and len(raw["sub_frame_times"]) == n_sub
    mats = [np.array(f["c2w_mid"]) for f in raw["frames"]] + [np.array(t["c2w"]) for t in raw["test"]]
    mats += [np.array(c) for f in raw["frames"] for c in f["c2w_sub"]]
    assert all(len(f["c2w_sub"]) == n_sub for f in raw["frames"])
    for m in mats:
        assert m.shape == (4, 4)
        np.testing.assert_allclose(m[3], [0, 0, 0, 1])
        np.testing.assert_allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-9)
        assert abs(np.linalg.det(m[:3, :3]) - 1) < 1e-9
    gt = load_gt(folder)
    assert gt["c2w_sub"].shape == (p.num_frames, n_sub, 4, 4) and gt["c2w_test"].shape == (p.num_test, 4, 4)
    # OpenCV axes: cameras look (z) towards the scene centre, image up (-y) is world up.
    for c2w in gt["c2w_mid"]:
        assert c2w[1, 1] < -0.9 and c2w[2, 2] > 0.8
    # Mid-exposure lies in the middle of the shake; test views lie between neighbouring frames.
    if n_sub % 2 == 1:
        np.testing.assert_allclose(gt["c2w_sub"][:, n_sub // 2], gt["c2w_mid"], atol=1e-12)
    centres = gt["c2w_mid"][:, :3, 3]
    step = np.linalg.norm(np.diff(centres, axis=0), axis=1).max()
    for c2w in gt["c2w_test"]:
        assert np.linalg.norm(centres - c2w[:3, 3], axis=1).min() < step
    for key in ("preset", "seed", "blur", "fps", "blur_px_mean"):
        assert key in raw


def test_video_and_true_sparse(scenes: dict[str, Path]) -> None:
    import pycolmap

    folder = scenes["strong"]
    gt = load_gt(folder)
    reader = iio.get_reader(folder / "video.mp4")
    try:
        meta = reader.get_meta_data()
        frames = [f for f in reader]
    finally:
        reader.close()
    assert len(frames) == len(gt["files"]) and meta["fps"] == pytest.approx(PRESETS["tiny"].fps)
    assert frames[0].shape == (gt["height"], gt["width"], 3)
    first = iio.imread(folder / "images" / gt["files"][0]).astype(float)
    assert np.abs(frames[0].astype(float) - first).mean() < 6.0  # lossy, but the same picture

    assert not (scenes["strong_again"] / "sparse").exists()  # no sparse/ unless asked for
    rec = pycolmap.Reconstruction(str(folder / "sparse/0"))
    assert rec.num_reg_images() == len(gt["files"]) and rec.num_points3D() > 100
    cam = next(iter(rec.cameras.values()))
    assert cam.model_name == "PINHOLE"
    np.testing.assert_allclose(cam.calibration_matrix(), gt["K"])
    for img in rec.images.values():
        i = gt["files"].index(img.name)
        w2c = np.eye(4)
        w2c[:3] = img.cam_from_world().matrix()
        np.testing.assert_allclose(np.linalg.inv(w2c), gt["c2w_mid"][i], atol=1e-9)
    assert rec.compute_mean_reprojection_error() < 1e-6
    assert rec.compute_mean_track_length() >= 2


def test_bad_input_raises_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--preset"):
        make_scene(tmp_path / "a", preset="huge", progress=False)
    with pytest.raises(UserError, match="--seed"):
        make_scene(tmp_path / "a", preset="tiny", seed=-1, progress=False)
    with pytest.raises(UserError, match="--blur"):
        make_scene(tmp_path / "a", preset="tiny", blur="heavy", progress=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("keep")
    with pytest.raises(UserError, match="--out") as e:
        make_scene(busy, preset="tiny", progress=False)
    assert "\n" not in str(e.value) and "--overwrite" in str(e.value)
    with pytest.raises(UserError, match="--seed"):
        synth_cli.main(["--out", str(tmp_path / "b"), "--seed", "-3"])
    with pytest.raises(UserError, match="--preset"):
        synth_cli.main(["--out", str(tmp_path / "b"), "--preset", "nope"])
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_sfm_registers_all_frames_without_blur(scenes: dict[str, Path], tmp_path: Path) -> None:
    from reconstruction.sfm.colmap import SfMOptions, run_sfm

    gt = load_gt(scenes["none"])
    result = run_sfm(scenes["none"] / "images", tmp_path / "sfm", SfMOptions(num_threads=2))
    assert result.registered == gt["files"]
    assert result.num_points3D > 100
    assert result.focal_px == pytest.approx(gt["K"][0, 0], rel=0.15)
    assert (tmp_path / "sfm/sparse/0/images.bin").is_file()
