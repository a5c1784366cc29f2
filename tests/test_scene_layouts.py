"""Benchmark layouts built from a tiny synthetic scene: a Deblur-NeRF download (full-size ``images/`` under other
names, ``images_2/`` with the model's names, ``sparse/0`` beside ``poses_bounds.npy``, ``hold=N``), an LLFF scene
with only ``images_N/``, and nerfstudio / instant-ngp ``transforms.json`` (OpenGL axes, intrinsics keys)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from deblur2d.io.errors import UserError
from reconstruction.deblurgs.data import load_scene, read_image
from reconstruction.io.scenes import detect_input, read_scene, read_transforms

pycolmap = pytest.importorskip("pycolmap")
from test_scene_io import _copy_images, _poses_bounds, _write_text_model  # noqa: E402


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from reconstruction.synthetic import make_scene

    out = tmp_path_factory.mktemp("layouts") / "tiny"
    return make_scene(out, preset="tiny", seed=0, blur="mild", write_true_sparse=False, progress=False)


@pytest.fixture(scope="module")
def gt(synth):
    from reconstruction.io.gt_cameras import load_gt

    return load_gt(synth)


def _deblurnerf(root: Path, synth: Path, gt: dict) -> Path:
    """images/ = 2x upsampled JPEGs named IMG_*.jpg (the 'full size'), images_2/ = the PNGs the model names."""
    scene = root / "deblurnerf"
    (scene / "images").mkdir(parents=True)
    for i, f in enumerate(gt["files"]):
        img = read_image(synth / "images" / f)
        big = np.repeat(np.repeat(img, 2, axis=0), 2, axis=1)
        iio.imwrite(scene / "images" / f"IMG_{i:04d}.jpg", np.round(big * 255).astype(np.uint8))
    _copy_images(synth / "images", scene / "images_2")
    _write_text_model(scene / "sparse" / "0", gt)
    K = gt["K"]
    np.save(scene / "poses_bounds.npy", _poses_bounds(gt["c2w_mid"], (2 * gt["height"], 2 * gt["width"], 2 * K[0, 0])))
    (scene / "hold=4").touch()
    return scene


def test_deblurnerf_download_finds_the_model_images_folder(synth, gt, tmp_path) -> None:
    scene = _deblurnerf(tmp_path, synth, gt)
    assert detect_input(scene) == "colmap"
    cams = read_scene(scene)
    assert cams.image_dir == scene / "images_2" and (cams.width, cams.height) == (128, 96)
    assert any("images from images_2/" in n and "images/" in n for n in cams.notes)
    assert cams.test_files == [gt["files"][i] for i in (0, 4, 8)] and cams.points is not None
    np.testing.assert_allclose(cams.K, gt["K"], atol=1e-9)
    # poses_bounds.npy alone: images/ holds one image per pose, K scaled to its 256x192
    ll = read_scene(scene, "llff")
    assert ll.image_dir == scene / "images" and ll.width == 256
    np.testing.assert_allclose(ll.K[0, 0], 2 * gt["K"][0, 0])
    ll2 = read_scene(scene, "llff", images="images_2")
    np.testing.assert_allclose(ll2.K, gt["K"], atol=1e-9)
    np.testing.assert_allclose(ll2.c2ws, cams.c2ws, atol=1e-9)
    sc = load_scene(scene, images="images_2")
    assert sc.images.shape == (7, 96, 128, 3) and sc.test.dir == scene / "images_2"
    with pytest.raises(UserError, match=r"--images images_8: .* not found \(image folders here: images/, images_2/\)"):
        read_scene(scene, images="images_8")
    with pytest.raises(UserError, match="in the COLMAP model but not on disk"):
        read_scene(scene, "sparse", images="images")  # the model's names are not in images/


def test_llff_with_only_images_n(synth, gt, tmp_path) -> None:
    scene = tmp_path / "llff4"
    _copy_images(synth / "images", scene / "images_4")
    np.save(scene / "poses_bounds.npy", _poses_bounds(gt["c2w_mid"], (gt["height"] * 4, gt["width"] * 4,
                                                                        gt["K"][0, 0] * 4)))  # fmt: skip
    assert detect_input(scene) == "llff"
    cams = read_scene(scene)
    assert cams.image_dir == scene / "images_4" and cams.source == "llff"
    np.testing.assert_allclose(cams.K, gt["K"], atol=1e-9)


def _transforms(scene: Path, gt: dict, *, angle: bool = False, per_frame: bool = False, k1: float = 0.0) -> None:
    K, w, h = gt["K"], gt["width"], gt["height"]
    meta: dict = {"w": w, "h": h, "camera_model": "OPENCV", "k1": k1, "k2": 0.0, "p1": 0.0, "p2": 0.0}
    intr = {"fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2]}
    if angle:
        intr = {"camera_angle_x": 2 * np.arctan(0.5 * w / K[0, 0])}
    frames = []
    for f, c2w in zip(gt["files"][::-1], gt["c2w_mid"][::-1], strict=True):  # any order in the file
        gl = c2w @ np.diag([1.0, -1.0, -1.0, 1.0])
        fp = f"images/{f}" if not angle else f"./images/{Path(f).stem}"  # instant-ngp style: no extension
        frames.append({"file_path": fp, "transform_matrix": gl.tolist(), **(intr if per_frame else {})})
    if not per_frame:
        meta.update(intr)
    meta["frames"] = frames
    (scene / "transforms.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("variant", ["nerfstudio", "instant-ngp", "per-frame"])
def test_transforms_json_gives_true_cameras(synth, gt, tmp_path, variant) -> None:
    scene = tmp_path / variant
    _copy_images(synth / "images", scene / "images")
    _transforms(scene, gt, angle=variant == "instant-ngp", per_frame=variant == "per-frame")
    assert detect_input(scene) == "nerfstudio"
    cams = read_scene(scene)
    assert cams.source == "transforms" and cams.files == gt["files"] and cams.points is None
    np.testing.assert_allclose(cams.c2ws, gt["c2w_mid"], atol=1e-9)
    np.testing.assert_allclose(cams.K[0, 0], gt["K"][0, 0], rtol=1e-9)
    np.testing.assert_allclose(cams.K[:2, 2], gt["K"][:2, 2], atol=1e-9)


def test_transforms_json_half_images_distortion_and_holdout(synth, gt, tmp_path) -> None:
    scene = tmp_path / "ns"
    _copy_images(synth / "images", scene / "images")
    _copy_images(synth / "images", scene / "images_2", half=True)
    _transforms(scene, gt, k1=1e-6)
    (scene / "hold=5").touch()
    cams = read_transforms(scene, images="images_2")
    assert (cams.width, cams.height) == (64, 48) and cams.test_files == [gt["files"][0], gt["files"][5]]
    np.testing.assert_allclose(cams.K[0, 0], gt["K"][0, 0] / 2)
    assert any("treated as pinhole" in n for n in cams.notes)
    _transforms(scene, gt, k1=0.3)
    with pytest.raises(UserError, match=r"transforms\.json: OPENCV distortion .* undistort the images first"):
        read_transforms(scene)
    shutil.rmtree(scene / "images")
    _transforms(scene, gt)
    with pytest.raises(UserError, match="not on disk"):
        read_transforms(scene)


def test_llff_without_points_triangulates_from_the_poses(synth, gt, tmp_path) -> None:
    from reconstruction.synthetic.camera_path import project
    from reconstruction.synthetic.generate import build_setup
    from reconstruction.synthetic.raycast import render

    scene = tmp_path / "llff"
    _copy_images(synth / "images", scene / "images")
    np.save(scene / "poses_bounds.npy", _poses_bounds(gt["c2w_mid"], (gt["height"], gt["width"], gt["K"][0, 0])))
    assert load_scene(scene).points is None  # without points_dir: the reader's answer, no points
    sc = load_scene(scene, points_dir=tmp_path / "points")
    assert sc.points is not None and len(sc.points) >= 100 and sc.colors.dtype == np.uint8
    assert any("triangulated from the given poses" in n for n in sc.notes)
    # The points lie on the true surfaces: their depth in frame 0 matches the ray-cast depth there.
    setup = build_setup("tiny", 0)
    _, depth = render(setup.world, gt["c2w_mid"][0], gt["K"], gt["width"], gt["height"])
    uv = project(sc.points, gt["c2w_mid"][:1], gt["K"])[0]
    z = (sc.points - gt["c2w_mid"][0, :3, 3]) @ gt["c2w_mid"][0, :3, 2]
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < gt["width"]) & (uv[:, 1] >= 0) & (uv[:, 1] < gt["height"]) & (z > 0)
    true_z = depth[uv[inside, 1].astype(int), uv[inside, 0].astype(int)]
    rel = np.abs(z[inside] - true_z) / true_z
    assert inside.sum() >= 50 and np.median(rel) < 0.02
    again = load_scene(scene, points_dir=tmp_path / "points")  # cached
    np.testing.assert_array_equal(again.points, sc.points)


def test_synthetic_scene_relaid_as_deblurnerf_reads_back_its_truth(synth, gt, tmp_path) -> None:
    """write_deblurnerf_layout: one image folder, every N-th view the sharp held-out one, hold=N, LLFF poses; the
    reader gives back the true poses and intrinsics of both sets, and the pixels are the synthetic files."""
    from reconstruction.synthetic.layouts import write_deblurnerf_layout

    scene = write_deblurnerf_layout(synth, tmp_path / "blurtiny")
    n_train, n_test = len(gt["files"]), len(gt["test_files"])
    holds = [p.name for p in scene.glob("hold=*")]
    assert holds == ["hold=5"]  # 10 frames + 3 held-out views: 0, 5, 10 held out
    cams = read_scene(scene)
    assert cams.source == "llff" and cams.points is None
    assert (len(cams.files), len(cams.test.files)) == (n_train, n_test)
    assert Path(cams.test.dir) == Path(cams.image_dir) == scene / "images"
    np.testing.assert_allclose(cams.c2ws, gt["c2w_mid"], atol=1e-9)
    np.testing.assert_allclose(cams.test.c2ws, gt["c2w_test"], atol=1e-9)
    np.testing.assert_allclose(cams.K, gt["K"], atol=1e-9)
    np.testing.assert_array_equal(read_image(scene / "images" / cams.test.files[1]),
                                  read_image(synth / "gt" / "test" / gt["test_files"][1]))  # fmt: skip
    np.testing.assert_array_equal(read_image(scene / "images" / cams.files[0]),
                                  read_image(synth / "images" / gt["files"][0]))
    with pytest.raises(UserError, match="already exists"):
        write_deblurnerf_layout(synth, scene)
