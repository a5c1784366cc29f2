"""Scene readers: COLMAP text / binary models and LLFF poses_bounds.npy give the true cameras of a tiny synthetic
scene; resized images scale K; distortion, pose-count and camera mismatches are one-line errors; input detection;
LLFF -> COLMAP conversion; load_scene on the new layouts.

The fixtures write the models with their own code (COLMAP text files by hand, poses_bounds.npy from the LLFF
convention [down, right, backward] | t | [H, W, focal]), not through the readers' code paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from deblur2d.io.errors import UserError
from reconstruction.deblurgs.data import downscale_image, load_scene, read_image
from reconstruction.io.scenes import detect_input, read_colmap, read_llff, read_scene, write_colmap_model

pycolmap = pytest.importorskip("pycolmap")


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Path:
    from reconstruction.synthetic import make_scene

    out = tmp_path_factory.mktemp("scene_io") / "tiny"
    return make_scene(out, preset="tiny", seed=0, blur="mild", write_true_sparse=True, progress=False)


@pytest.fixture(scope="session")
def gt(synth):
    from reconstruction.io.gt_cameras import load_gt

    return load_gt(synth)


# ---------------------------------------------------------------------------------------------- writers
def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(R).as_quat()
    return np.array([w, x, y, z])


def _copy_images(src: Path, dst: Path, half: bool = False, files: list[str] | None = None) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in files or sorted(p.name for p in src.glob("*.png")):
        if half:
            img = downscale_image(read_image(src / f), 2)
            iio.imwrite(dst / f, np.round(img * 255).astype(np.uint8))
        else:
            shutil.copy(src / f, dst / f)


def _write_text_model(model: Path, gt: dict, cameras: list[tuple[int, str, list[float]]] | None = None,
                      files: list[str] | None = None, points: bool = True) -> None:  # fmt: skip
    """COLMAP text model by hand: cameras ``(id, MODEL, params)`` (image i uses camera ``1 + i % n``)."""
    model.mkdir(parents=True, exist_ok=True)
    K, w, h = gt["K"], gt["width"], gt["height"]
    cameras = cameras or [(1, "PINHOLE", [K[0, 0], K[1, 1], K[0, 2], K[1, 2]])]
    (model / "cameras.txt").write_text(
        "".join(f"{cid} {name} {w} {h} {' '.join(repr(float(p)) for p in params)}\n" for cid, name, params in cameras)
    )
    lines = []
    for i, f in enumerate(gt["files"]):
        if files is not None and f not in files:
            continue
        w2c = np.linalg.inv(gt["c2w_mid"][i])
        q, t = _quat_wxyz(w2c[:3, :3]), w2c[:3, 3]
        cid = cameras[i % len(cameras)][0]
        lines.append(f"{i + 1} {' '.join(repr(float(v)) for v in (*q, *t))} {cid} {f}\n\n")
    (model / "images.txt").write_text("".join(lines))
    pts = "1 0.5 -0.25 3.0 10 20 30 0.0\n2 -1.0 0.0 4.5 200 100 50 0.0\n" if points else ""
    (model / "points3D.txt").write_text(pts)


def _colmap_scene(root: Path, synth: Path, gt: dict, name: str, **kw) -> Path:
    scene = root / name
    _copy_images(synth / "images", scene / "images", half=kw.pop("half", False))
    _write_text_model(scene / kw.pop("model_subdir", "sparse/0"), gt, **kw)
    return scene


def _poses_bounds(c2ws: np.ndarray, hwf: tuple[float, float, float], near=0.5, far=9.0) -> np.ndarray:
    """LLFF rows: columns [down, right, backward] of the camera-to-world rotation, centre, [H, W, focal]."""
    from reconstruction.io.scenes import llff_poses_bounds

    return llff_poses_bounds(c2ws, *hwf, near=near, far=far)


def _llff_scene(root: Path, synth: Path, gt: dict, name: str, half: bool = False, drop_last: bool = False) -> Path:
    scene = root / name
    _copy_images(synth / "images", scene / "images", half=half)
    pb = _poses_bounds(gt["c2w_mid"], (gt["height"], gt["width"], gt["K"][0, 0]))
    np.save(scene / "poses_bounds.npy", pb[:-1] if drop_last else pb)
    return scene


# ---------------------------------------------------------------------------------------------- COLMAP
@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_colmap_text_and_binary_give_true_cameras(synth, gt, tmp_path, fmt) -> None:
    scene = _colmap_scene(tmp_path, synth, gt, "colmap")
    if fmt == "binary":
        rec = pycolmap.Reconstruction(str(scene / "sparse" / "0"))
        shutil.rmtree(scene / "sparse" / "0")
        (scene / "sparse" / "0").mkdir()
        rec.write_binary(str(scene / "sparse" / "0"))
    cams = read_colmap(scene)
    assert cams.source == f"colmap-{fmt}" and cams.files == gt["files"]
    np.testing.assert_allclose(cams.c2ws, gt["c2w_mid"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(cams.K, gt["K"], atol=1e-12, rtol=0)
    assert (cams.width, cams.height) == (128, 96) and cams.points.shape == (2, 3)
    assert sorted(map(tuple, cams.colors.tolist())) == [(10, 20, 30), (200, 100, 50)]
    assert detect_input(scene) == "colmap"


def test_colmap_model_in_sparse_and_resized_images_scale_K(synth, gt, tmp_path) -> None:
    scene = _colmap_scene(tmp_path, synth, gt, "half", half=True, model_subdir="sparse")
    cams = read_colmap(scene)
    K = gt["K"]
    np.testing.assert_allclose(cams.K, [[K[0, 0] / 2, 0, 32.0], [0, K[1, 1] / 2, 24.0], [0, 0, 1]], atol=1e-12)
    assert (cams.width, cams.height) == (64, 48) and any("K scaled by 0.5" in n for n in cams.notes)
    np.testing.assert_allclose(cams.c2ws, gt["c2w_mid"], atol=1e-9, rtol=0)


def test_colmap_distortion_large_is_an_error_negligible_is_pinhole(synth, gt, tmp_path) -> None:
    K = gt["K"]
    f, cx, cy = K[0, 0], K[0, 2], K[1, 2]
    big = _colmap_scene(tmp_path, synth, gt, "big", cameras=[(1, "SIMPLE_RADIAL", [f, cx, cy, 0.05])])
    with pytest.raises(UserError, match=r"SIMPLE_RADIAL with distortion moving pixels by up to 2\.\d+ px") as e:
        read_colmap(big)
    assert "image_undistorter" in str(e.value) and "sharpsplat sfm" in str(e.value) and "\n" not in str(e.value)
    small = _colmap_scene(tmp_path, synth, gt, "small", cameras=[(1, "OPENCV", [f, f, cx, cy, 1e-5, 0, 0, 0])])
    cams = read_colmap(small)
    np.testing.assert_allclose(cams.K, K, atol=1e-12)
    assert any("OPENCV distortion moves pixels by at most" in n and "treated as pinhole" in n for n in cams.notes)


def test_colmap_cameras_equal_ok_different_error(synth, gt, tmp_path) -> None:
    K = gt["K"]
    p = [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]
    same = _colmap_scene(tmp_path, synth, gt, "same", cameras=[(1, "PINHOLE", p), (2, "PINHOLE", p)])
    cams = read_colmap(same)
    np.testing.assert_allclose(cams.K, K)
    assert any("2 cameras with identical intrinsics" in n for n in cams.notes)
    diff = _colmap_scene(tmp_path, synth, gt, "diff", cameras=[(1, "PINHOLE", p), (7, "PINHOLE", [p[0] * 1.1, *p[1:]])])
    with pytest.raises(UserError, match="cameras 1 and 7 have different intrinsics"):
        read_colmap(diff)


def test_colmap_missing_and_unregistered_images(synth, gt, tmp_path) -> None:
    scene = _colmap_scene(tmp_path, synth, gt, "partial", files=gt["files"][:8])  # 2 frames unregistered
    cams = read_colmap(scene)
    assert cams.files == gt["files"][:8] and any("2 image(s)" in n and "left out" in n for n in cams.notes)
    np.testing.assert_allclose(cams.c2ws, gt["c2w_mid"][:8], atol=1e-9, rtol=0)
    (scene / "images" / gt["files"][3]).unlink()
    with pytest.raises(UserError, match=f"{gt['files'][3]}: in the COLMAP model but not on disk"):
        read_colmap(scene)


def test_load_scene_on_text_model_scene(synth, gt, tmp_path) -> None:
    scene = _colmap_scene(tmp_path, synth, gt, "load")
    sc = load_scene(scene)
    assert sc.pose_source == "sparse" and sc.files == gt["files"] and sc.images.shape == (10, 96, 128, 3)
    np.testing.assert_allclose(sc.c2ws, gt["c2w_mid"], atol=1e-9, rtol=0)
    np.testing.assert_array_equal(sc.images[0], read_image(synth / "images" / gt["files"][0]))
    assert sc.points.shape == (2, 3) and sc.gt is None and sc.test is None
    half = load_scene(scene, downscale=2)
    assert half.images.shape == (10, 48, 64, 3) and half.K[0, 0] == pytest.approx(gt["K"][0, 0] / 2)


# ---------------------------------------------------------------------------------------------- LLFF
def test_llff_gives_true_cameras_and_scales_K(synth, gt, tmp_path) -> None:
    scene = _llff_scene(tmp_path, synth, gt, "llff")
    cams = read_llff(scene)
    assert cams.source == "llff" and cams.files == gt["files"] and cams.points is None
    np.testing.assert_allclose(cams.c2ws, gt["c2w_mid"], atol=1e-9, rtol=0)
    # The NeRF loaders (Deblur-NeRF load_llff.py) turn the stored columns into OpenGL [right, up, backward] with
    # [col1, -col0, col2]; OpenGL = OpenCV with y and z flipped.
    p = np.load(scene / "poses_bounds.npy")[:, :15].reshape(-1, 3, 5)
    opengl = np.concatenate([p[:, :, 1:2], -p[:, :, 0:1], p[:, :, 2:4]], axis=2)
    np.testing.assert_allclose(opengl, (cams.c2ws @ np.diag([1.0, -1, -1, 1]))[:, :3, :4], atol=1e-12)
    np.testing.assert_allclose(cams.K, gt["K"], atol=1e-12)
    assert (cams.near, cams.far) == (0.5, 9.0)
    half = read_llff(_llff_scene(tmp_path, synth, gt, "llff_half", half=True))
    np.testing.assert_allclose(half.K, [[gt["K"][0, 0] / 2, 0, 32], [0, gt["K"][1, 1] / 2, 24], [0, 0, 1]])
    np.testing.assert_allclose(half.c2ws, gt["c2w_mid"], atol=1e-9, rtol=0)


def test_llff_pose_count_mismatch_is_an_error(synth, gt, tmp_path) -> None:
    scene = _llff_scene(tmp_path, synth, gt, "short", drop_last=True)
    with pytest.raises(UserError, match=r"poses_bounds\.npy: 9 poses but 10 images"):
        read_llff(scene)


def test_llff_holdout_and_sharp_images_test(synth, gt, tmp_path) -> None:
    scene = _llff_scene(tmp_path, synth, gt, "deblurnerf")
    (scene / "hold=4").touch()
    train = [f for i, f in enumerate(gt["files"]) if i % 4]
    _copy_images(synth / "gt" / "sharp", scene / "images_test", files=train)
    cams = read_llff(scene)
    assert cams.files == train and cams.test_files == [gt["files"][i] for i in (0, 4, 8)]
    np.testing.assert_allclose(cams.test_c2ws, gt["c2w_mid"][[0, 4, 8]], atol=1e-9, rtol=0)
    assert cams.test_dir == scene / "images" and cams.sharp.dir == scene / "images_test"
    assert cams.sharp.files == train
    np.testing.assert_allclose(cams.sharp.c2ws, cams.c2ws)
    sc = load_scene(scene)
    assert sc.pose_source == "llff" and sc.files == train and sc.test.files == cams.test_files
    assert sc.points is None and sc.near == 0.5 and sc.far == 9.0


def test_llff_to_colmap_roundtrip(synth, gt, tmp_path) -> None:
    scene = _llff_scene(tmp_path, synth, gt, "convert")
    (scene / "hold=5").touch()
    cams = read_llff(scene)
    write_colmap_model(cams, scene / "sparse" / "0")
    rec = pycolmap.Reconstruction(str(scene / "sparse" / "0"))
    assert rec.num_reg_images() == 10 and rec.cameras[1].model.name == "PINHOLE"
    np.testing.assert_allclose(rec.cameras[1].calibration_matrix(), gt["K"], atol=1e-12)
    assert detect_input(scene) == "colmap"
    conv = load_scene(scene)  # auto: the COLMAP model wins over poses_bounds.npy
    assert conv.pose_source == "sparse" and conv.files == cams.files and conv.test.files == cams.test_files
    np.testing.assert_allclose(conv.c2ws, cams.c2ws, atol=1e-9, rtol=0)
    np.testing.assert_allclose(conv.test.c2ws, cams.test_c2ws, atol=1e-9, rtol=0)
    np.testing.assert_allclose(load_scene(scene, poses="llff").c2ws, conv.c2ws, atol=1e-9, rtol=0)
    write_colmap_model(cams, scene / "sparse" / "0", binary=False)  # replaces the binary model
    assert sorted(p.name for p in (scene / "sparse" / "0").glob("*.bin")) == []
    np.testing.assert_allclose(read_colmap(scene).c2ws, cams.c2ws, atol=1e-9, rtol=0)


# ---------------------------------------------------------------------------------------------- detection
def test_detect_input(synth, gt, tmp_path) -> None:
    assert detect_input(synth) == "synthetic"  # has sparse/0 too (--write-true-sparse)
    assert detect_input(synth / "video.mp4") == "video"
    assert detect_input(_llff_scene(tmp_path, synth, gt, "llff")) == "llff"
    frames = tmp_path / "frames"
    _copy_images(synth / "images", frames)
    assert detect_input(frames) == "images"
    bare = tmp_path / "bare"
    _copy_images(synth / "images", bare / "images")
    assert detect_input(bare) == "images"
    (tmp_path / "empty").mkdir()
    (tmp_path / "noimg" / "images").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("x")
    for bad, what in [
        (tmp_path / "missing", "not found"),
        (tmp_path / "empty", "empty folder"),
        (tmp_path / "noimg", "no images"),
        (tmp_path / "notes.txt", "unknown input file type '.txt'"),
    ]:
        with pytest.raises(UserError, match=what) as e:
            detect_input(bad)
        assert str(bad) in str(e.value) and "poses_bounds.npy" in str(e.value) and "\n" not in str(e.value)


def test_synthetic_scene_views_and_pose_sources(synth, gt) -> None:
    cams = read_scene(synth, "gt")
    assert cams.source == "synthetic-gt" and cams.test_files == gt["test_files"] and cams.points is not None
    assert cams.sharp.dir == synth / "gt" / "sharp" and cams.sharp.files == gt["files"]
    sp = read_scene(synth)  # auto: sparse/0
    assert sp.source == "colmap-binary" and sp.test_files == gt["test_files"]
    np.testing.assert_allclose(sp.c2ws, gt["c2w_mid"], atol=1e-9, rtol=0)
    with pytest.raises(UserError, match="poses_bounds.npy: not found"):
        read_scene(synth, "llff")
