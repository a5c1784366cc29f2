"""Novel-view rendering: camera path geometry, path files (nerfstudio OpenGL -> OpenCV), loading a run folder,
renders equal to direct rasterizer calls, and `sharpsplat render` writing a readable MP4."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from deblur2d.io.color import linear_to_srgb
from deblur2d.io.errors import UserError
from reconstruction.geometry.lie import so3_exp_np
from reconstruction.pipeline.camera_paths import (
    focus_point,
    look_at,
    mean_pose,
    orbit_path,
    read_path_file,
    spiral_path,
    train_path,
)
from reconstruction.splats.gaussians import GaussianModel, save_checkpoint
from reconstruction.splats.render import render
from reconstruction.splats.run_io import load_run, render_views
from reconstruction.splats.train_3dgs import c2w_to_viewmat

W, H, F = 32, 24, 28.0


def _is_rotation(c2w: np.ndarray, tol: float = 1e-9) -> bool:
    R = c2w[..., :3, :3]
    eye = np.einsum("...ji,...jk->...ik", R, R)
    return bool(np.abs(eye - np.eye(3)).max() < tol and np.all(np.abs(np.linalg.det(R) - 1) < tol))


def _ring(n: int = 8, radius: float = 3.0, height: float = 0.0) -> np.ndarray:
    """Cameras on a horizontal ring around the origin (world y down), looking at the origin."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    eyes = np.stack([radius * np.cos(t), np.full(n, -height), radius * np.sin(t)], axis=1)
    return look_at(eyes, np.zeros(3), np.array([0.0, -1.0, 0.0]))


def _forward_facing(n: int = 6, seed: int = 0) -> np.ndarray:
    """A shaky forward-facing capture: centres in a small box around the origin, looking along +z."""
    rng = np.random.default_rng(seed)
    c2w = np.tile(np.eye(4), (n, 1, 1))
    c2w[:, :3, :3] = so3_exp_np(rng.normal(0, 0.03, (n, 3)))
    c2w[:, :3, 3] = rng.uniform(-0.2, 0.2, (n, 3)) * [1.0, 0.6, 0.3]
    return c2w


# ------------------------------------------------------------------------------------------ path geometry
def test_orbit_cameras_at_radius_looking_at_centre() -> None:
    c2w = _ring(8, radius=3.0)
    centre = np.array([0.1, -0.2, 0.3])
    path = orbit_path(c2w, 12, center=centre, radius=2.0, height=0.0)
    assert path.shape == (12, 4, 4) and _is_rotation(path)
    eyes = path[:, :3, 3]
    np.testing.assert_allclose(np.linalg.norm(eyes - centre, axis=1), 2.0, atol=1e-12)
    to_centre = (centre - eyes) / np.linalg.norm(centre - eyes, axis=1, keepdims=True)
    np.testing.assert_allclose(path[:, :3, 2], to_centre, atol=1e-12)  # optical axis through the centre
    np.testing.assert_allclose(-path[:, :3, 1] @ np.array([0.0, -1.0, 0.0]), 1.0, atol=1e-12)  # image up = up
    assert np.linalg.norm(np.diff(eyes, axis=0), axis=1).min() > 0.5  # distinct, evenly spread
    arc = orbit_path(c2w, 16, center=centre, radius=2.0, height=0.0, arc_deg=60.0)  # swing over 60 degrees
    cosines = (arc[:, :3, 3] - centre) @ (arc[0, :3, 3] - centre) / 4.0
    assert np.degrees(np.arccos(np.clip(cosines, -1, 1))).max() == pytest.approx(30.0, abs=1.0)

    # Defaults: the centre nearest to all optical axes, the cameras' mean distance and height.
    ring = _ring(8, radius=3.0, height=0.5)
    np.testing.assert_allclose(focus_point(ring), 0.0, atol=1e-9)
    auto = orbit_path(ring, 10)
    rel = auto[:, :3, 3]
    np.testing.assert_allclose(np.hypot(rel[:, 0], rel[:, 2]), 3.0, atol=1e-9)
    np.testing.assert_allclose(-rel[:, 1], 0.5, atol=1e-9)
    np.testing.assert_allclose(np.einsum("ni,ni->n", auto[:, :3, 2], -rel / np.linalg.norm(rel, axis=1)[:, None]),
                               1.0, atol=1e-12)  # fmt: skip


def test_spiral_near_mean_pose_distinct_and_focused() -> None:
    c2w = _forward_facing(8)
    depth = 4.0
    path = spiral_path(c2w, 40, depth=depth)
    m = mean_pose(c2w)
    assert path.shape == (40, 4, 4) and _is_rotation(path)
    spread = np.abs(c2w[:, :3, 3] - m[:3, 3]).max(axis=0)
    offs = np.abs((path[:, :3, 3] - m[:3, 3]) @ m[:3, :3])
    assert np.all(offs <= spread + 1e-9)  # within the cameras' own spread (90th percentile radius)
    angles = np.degrees(np.arccos(np.clip(path[:, :3, 2] @ m[:3, 2], -1, 1)))
    assert angles.max() < 10.0
    target = m[:3, 3] + depth * m[:3, 2]
    to_t = target - path[:, :3, 3]
    np.testing.assert_allclose(path[:, :3, 2], to_t / np.linalg.norm(to_t, axis=1, keepdims=True), atol=1e-12)
    d = np.linalg.norm(path[:, None, :3, 3] - path[None, :, :3, 3], axis=-1) + np.eye(40)
    assert d.min() > 1e-4  # every frame distinct (an open loop over 2 turns)
    # Focus depth from points: all points at depth 5 in front of the mean camera -> depth 5.
    pts = m[:3, 3] + 5.0 * m[:3, 2] + np.random.default_rng(1).normal(0, 0.3, (200, 2)) @ m[:3, :2].T
    p2 = spiral_path(c2w, 5, points=pts)
    to_5 = m[:3, 3] + 5.0 * m[:3, 2] - p2[:, :3, 3]
    np.testing.assert_allclose(p2[:, :3, 2], to_5 / np.linalg.norm(to_5, axis=1, keepdims=True), atol=1e-9)
    np.testing.assert_array_equal(spiral_path(c2w, 40, depth=depth), path)  # deterministic


def test_train_path_through_poses_and_exact_for_uniform_motion() -> None:
    c2w = _forward_facing(6, seed=3)
    path = train_path(c2w, 21, smooth=0.0)  # 4 steps per training frame
    assert path.shape == (21, 4, 4) and _is_rotation(path, 1e-9)
    np.testing.assert_allclose(path[::4], c2w, atol=1e-9)
    # Constant linear and angular velocity is reproduced exactly between the poses.
    v, w = np.array([0.1, -0.05, 0.2]), np.array([0.02, 0.05, -0.01])
    poses = np.tile(np.eye(4), (5, 1, 1))
    poses[:, :3, :3] = so3_exp_np(np.arange(5)[:, None] * w)
    poses[:, :3, 3] = np.arange(5)[:, None] * v
    fine = train_path(poses, 9)
    np.testing.assert_allclose(fine[1::2, :3, 3], (np.arange(4) + 0.5)[:, None] * v, atol=1e-12)
    np.testing.assert_allclose(fine[1::2, :3, :3], so3_exp_np((np.arange(4) + 0.5)[:, None] * w), atol=1e-9)
    # Smoothing removes shake: a jittered straight line comes out closer to the line, still near the poses.
    rng = np.random.default_rng(0)
    shaky = np.tile(np.eye(4), (12, 1, 1))
    shaky[:, :3, 3] = np.arange(12)[:, None] * v + rng.normal(0, 0.02, (12, 3))
    shaky[:, :3, :3] = so3_exp_np(rng.normal(0, 0.01, (12, 3)))
    sm = train_path(shaky, 12, smooth=1.5)
    line = np.arange(12)[:, None] * v
    assert np.abs(sm[1:-1, :3, 3] - line[1:-1]).mean() < 0.6 * np.abs(shaky[1:-1, :3, 3] - line[1:-1]).mean()
    assert np.abs(sm[:, :3, 3] - shaky[:, :3, 3]).max() < 0.1 and _is_rotation(sm)


# ------------------------------------------------------------------------------------------ path files
def test_nerfstudio_opengl_pose_converted_to_opencv(tmp_path: Path) -> None:
    # OpenGL camera at (1, 2, 3) with identity rotation looks along world -z with its up along world +y.
    gl = np.eye(4)
    gl[:3, 3] = [1.0, 2.0, 3.0]
    p = tmp_path / "camera_path.json"
    p.write_text(json.dumps({"render_height": 24, "render_width": 32, "fps": 24, "seconds": 1,
                             "camera_path": [{"camera_to_world": gl.reshape(-1).tolist(), "fov": 50.0,
                                              "aspect": 1.333}]}))  # fmt: skip
    cp = read_path_file(p)
    want = np.array([[1, 0, 0, 1], [0, -1, 0, 2], [0, 0, -1, 3], [0, 0, 0, 1]], float)
    np.testing.assert_array_equal(cp.c2w[0], want)
    np.testing.assert_allclose(cp.c2w[0][:3, 2], [0, 0, -1])  # OpenCV z = forward = world -z
    assert cp.fov_deg.tolist() == [50.0] and cp.fps == 24.0 and cp.source == "nerfstudio"
    # Our own layouts.
    (tmp_path / "a.json").write_text(json.dumps({"frames": [{"c2w": want.tolist()}]}))
    (tmp_path / "b.json").write_text(json.dumps([want.tolist(), np.eye(4).tolist()]))
    np.testing.assert_array_equal(read_path_file(tmp_path / "a.json").c2w, want[None])
    assert read_path_file(tmp_path / "b.json").c2w.shape == (2, 4, 4)


@pytest.mark.parametrize(
    "content, why",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"frames": [{"pose": np.eye(4).tolist()}]}), "frames[0] has no 'c2w'"),
        (json.dumps({"frames": [{"c2w": (2 * np.eye(4)).tolist()}]}), "not a rotation"),
        (json.dumps({"camera_path": [{"camera_to_world": [1, 2, 3]}]}), "camera_to_world has shape"),
        (json.dumps({"cameras": []}), "expected"),
    ],
)
def test_bad_path_file_names_file(tmp_path: Path, content: str, why: str) -> None:
    p = tmp_path / "bad_path.json"
    p.write_text(content)
    with pytest.raises(UserError) as e:
        read_path_file(p)
    msg = str(e.value)
    assert str(p) in msg and why in msg and "\n" not in msg


# ------------------------------------------------------------------------------------------ run folders
def _make_run(root: Path, kind: str = "deblurgs") -> tuple[Path, np.ndarray]:
    """A run folder with a 300-Gaussian model (SH degree 1) in front of 4 forward-facing cameras."""
    from reconstruction.deblurgs.trainer import DeblurGSConfig
    from reconstruction.splats.train_3dgs import Train3DGSConfig

    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-1.5, 1.5, 300), rng.uniform(-1.0, 1.0, 300), rng.uniform(3.0, 5.0, 300)], 1)
    model = GaussianModel.from_points(pts, rng.random((300, 3)), sh_degree_max=1, init_opacity=0.8)
    with torch.no_grad():
        model.params["shN"].normal_(0.0, 0.2, generator=torch.Generator().manual_seed(0))
    gs = Train3DGSConfig(sh_degree=1, background=(0.1, 0.2, 0.3), backend="torch")
    config = asdict(DeblurGSConfig(gs=gs)) if kind == "deblurgs" else asdict(gs)
    run = root / f"run-{kind}"
    run.mkdir()
    save_checkpoint(run / "checkpoint.pt", model, step=500, extra={"config": config})
    c2w = _forward_facing(4, seed=1)
    K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]])
    cams = {"width": W, "height": H, "K": K.tolist(), "files": [f"{i:03d}.png" for i in range(4)],
            "c2w_mid": c2w.tolist(), "c2w_given": c2w.tolist()}  # fmt: skip
    if kind == "deblurgs":
        cams["color_space"] = "linear"
    (run / "cameras.json").write_text(json.dumps(cams))
    return run, c2w


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> tuple[Path, np.ndarray]:
    return _make_run(tmp_path_factory.mktemp("runs"))


def _direct(run: Path, c2w: np.ndarray, sh: int, srgb_out: bool) -> np.ndarray:
    from reconstruction.splats.gaussians import load_checkpoint

    model = GaussianModel.from_state(load_checkpoint(run / "checkpoint.pt")["model"])
    K = torch.tensor([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]], dtype=torch.float32)[None]
    vm = c2w_to_viewmat(torch.as_tensor(c2w[None], dtype=torch.float64)).float()
    with torch.no_grad():
        rgb, _, _ = render(model.to_render_dict(sh), vm, K, W, H, sh_degree=sh,
                           backgrounds=torch.tensor([[0.1, 0.2, 0.3]]), backend="torch")  # fmt: skip
    img = rgb[0].clamp(0, 1)
    return (linear_to_srgb(img) if srgb_out else img).numpy()


def test_render_at_training_pose_equals_direct_render(run_dir, tmp_path: Path) -> None:
    run, c2w = run_dir
    scene = load_run(run, "cpu")
    assert (scene.kind, scene.color_space, scene.sh_degree, scene.width, scene.height) == ("deblurgs", "linear", 1,
                                                                                           W, H)  # fmt: skip
    img = next(render_views(scene, c2w[2:3], progress=False))
    assert img.dtype == np.float32 and img.shape == (H, W, 3)
    np.testing.assert_array_equal(img, _direct(run, c2w[2], 1, srgb_out=True))
    assert img.std() > 0.05  # the Gaussians are in view, not just background
    # Half resolution: K scaled with the image (same view, box-downsampled, up to the splats' sub-pixel detail).
    half = next(render_views(scene, c2w[2:3], W // 2, H // 2, progress=False))
    box = img.reshape(H // 2, 2, W // 2, 2, 3).mean(axis=(1, 3))
    assert half.shape == (H // 2, W // 2, 3) and np.abs(half - box).mean() < 0.05
    # Plain 3DGS run: sRGB colour, no gamma; SH degree from its step (500 // 1000 = 0).
    run3, c3 = _make_run(tmp_path, "3dgs")
    s3 = load_run(run3, "cpu")
    assert (s3.kind, s3.color_space, s3.sh_degree) == ("3dgs", "srgb", 0)
    np.testing.assert_array_equal(next(render_views(s3, c3[:1], progress=False)), _direct(run3, c3[0], 0, False))


def test_render_cli_writes_mp4_and_pngs(run_dir, tmp_path: Path, capsys) -> None:
    import imageio.v2 as iio

    from reconstruction.cli import main as sharpsplat

    run, c2w = run_dir
    out = tmp_path / "video.mp4"
    rc = sharpsplat(["render", str(run), "--path", "orbit", "--out", str(out), "--frames", "5", "--fps", "10",
                     "--scale", "0.5", "--frames-dir", str(tmp_path / "png"), "--no-progress"])  # fmt: skip
    assert rc == 0
    frames = [np.asarray(f) for f in iio.get_reader(str(out), format="FFMPEG")]
    assert len(frames) == 5 and frames[0].shape == (H // 2, W // 2, 3)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [f"{i:05d}.png" for i in range(5)]
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(out) in last and "5 frames" in last and "0.50 s" in last

    # A nerfstudio path at a training pose with the training FOV renders that training view.
    gl = c2w[1] @ np.diag([1.0, -1.0, -1.0, 1.0])
    fov = float(np.degrees(2 * np.arctan(H / 2 / F)))
    ns = tmp_path / "camera_path.json"
    ns.write_text(json.dumps({"camera_path": [{"camera_to_world": gl.reshape(-1).tolist(), "fov": fov}] * 2}))
    from reconstruction.pipeline.render import render_path

    out2 = render_path(run, ns, tmp_path / "ns.mp4", fps=5, frames_dir=tmp_path / "ns", progress=False)
    assert out2.is_file() and len([f for f in iio.get_reader(str(out2), format="FFMPEG")]) == 2
    png = np.asarray(iio.imread(tmp_path / "ns" / "00000.png"), np.float32) / 255
    assert np.abs(png - _direct(run, c2w[1], 1, True)).max() <= 1 / 255 + 1e-6


def test_not_a_run_folder_is_one_line_error(run_dir, tmp_path: Path, capsys) -> None:
    from reconstruction.cli import main as sharpsplat

    empty = tmp_path / "empty"
    empty.mkdir()
    assert sharpsplat(["render", str(empty), "--out", str(tmp_path / "x.mp4"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run folder" in err[0] and str(empty) in err[0]
    assert not (tmp_path / "x.mp4").exists()
    with pytest.raises(UserError, match="no such run folder"):
        load_run(tmp_path / "missing")
    # A run without cameras.json names the file; a damaged checkpoint is refused in one line.
    half = tmp_path / "half"
    half.mkdir()
    (half / "checkpoint.pt").write_bytes((run_dir[0] / "checkpoint.pt").read_bytes())
    with pytest.raises(UserError, match="cameras.json: missing"):
        load_run(half)
    (half / "cameras.json").write_text((run_dir[0] / "cameras.json").read_text())
    (half / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="checkpoint.pt: cannot read") as e:
        load_run(half)
    assert "\n" not in str(e.value)
    # A --frames-dir holding other files is refused (it would be replaced whole), and left as it was.
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="holds other files"):
        from reconstruction.pipeline.render import render_path

        render_path(run_dir[0], "spiral", tmp_path / "s.mp4", frames_dir=keep, progress=False)
    assert (keep / "notes.txt").read_text() == "x" and not (tmp_path / "s.mp4").exists()
    # A bad --path name is a one-line error too.
    with pytest.raises(UserError, match="choose spiral, orbit, train"):
        from reconstruction.pipeline.render import render_path

        render_path(run_dir[0], "zigzag", tmp_path / "z.mp4", progress=False)
