"""Scene input for DeblurGS: frames, poses (gt/cameras.json or COLMAP sparse/0), optional downscale and pose noise.

Poses are camera-to-world 4x4 in OpenCV axes (DESIGN.md). From COLMAP, ``image.cam_from_world`` is the
world-to-camera pose and is inverted here. Images are float32 sRGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from deblur2d.color import linear_to_srgb, srgb_to_linear
from deblur2d.errors import UserError

__all__ = ["SceneData", "load_scene", "downscale_image", "downscale_K", "perturb_poses", "read_image"]


@dataclass
class SceneData:
    """Frames and cameras of one scene (after optional downscaling)."""

    images: np.ndarray  # [V, H, W, 3] float32 sRGB
    c2ws: np.ndarray  # [V, 4, 4] float64, as used for training (possibly perturbed)
    K: np.ndarray  # [3, 3] pixels
    files: list[str]
    width: int
    height: int
    points: np.ndarray | None = None  # [P, 3] world units
    colors: np.ndarray | None = None  # [P, 3] uint8 sRGB
    c2ws_given: np.ndarray | None = None  # before perturbation
    gt: dict | None = None  # load_gt() of a synthetic scene, when present
    downscale: int = 1
    pose_source: str = ""
    notes: list[str] = field(default_factory=list)


def read_image(path: Path) -> np.ndarray:
    """PNG/JPEG -> float32 [H, W, 3] in [0, 1]."""
    import imageio.v3 as iio

    im = np.asarray(iio.imread(path))
    if im.ndim == 2:
        im = np.repeat(im[..., None], 3, axis=2)
    scale = 65535.0 if im.dtype == np.uint16 else 255.0 if im.dtype == np.uint8 else 1.0
    return (im[..., :3].astype(np.float32) / scale).astype(np.float32)


def downscale_image(img: np.ndarray, factor: int) -> np.ndarray:
    """Box-average an sRGB image ``[H, W, 3]`` by an integer ``factor`` in linear light (crop to a multiple)."""
    if factor <= 1:
        return img
    h, w = img.shape[0] // factor * factor, img.shape[1] // factor * factor
    lin = srgb_to_linear(img[:h, :w].astype(np.float64))
    lin = lin.reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))
    return linear_to_srgb(lin).astype(np.float32)


def downscale_K(K: np.ndarray, factor: int) -> np.ndarray:
    """Intrinsics for an image box-downscaled by ``factor`` (pixel centres: ``c' = (c + 0.5) / f - 0.5``)."""
    K = np.array(K, dtype=np.float64)
    if factor <= 1:
        return K
    K[0, 0] /= factor
    K[1, 1] /= factor
    K[0, 2] = (K[0, 2] + 0.5) / factor - 0.5
    K[1, 2] = (K[1, 2] + 0.5) / factor - 0.5
    return K


def perturb_poses(c2ws: np.ndarray, rot_deg: float, trans_frac: float, scale: float, seed: int) -> np.ndarray:
    """Rotate each pose by exactly ``rot_deg`` degrees about a random axis (camera frame) and move its centre by
    ``trans_frac * scale`` world units in a random direction. Returns a new float64 ``[V, 4, 4]``."""
    from reconstruction.lie import so3_exp_np

    rng = np.random.default_rng(seed)
    out = np.array(c2ws, dtype=np.float64)
    for i in range(len(out)):
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        out[i, :3, :3] = out[i, :3, :3] @ so3_exp_np(axis * np.deg2rad(rot_deg))
        d = rng.standard_normal(3)
        out[i, :3, 3] += d / np.linalg.norm(d) * trans_frac * scale
    return out


def _colmap_poses(scene: Path, files: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import pycolmap

    model = scene / "sparse" / "0"
    rec = pycolmap.Reconstruction(str(model))
    by_name = {img.name: img for img in rec.images.values()}
    missing = [f for f in files if f not in by_name]
    if missing:
        raise UserError(f"{model}: no pose for {len(missing)} frame(s), e.g. {missing[0]}; rerun SfM")
    c2ws = []
    for f in files:
        img = by_name[f]
        w2c = np.eye(4)
        w2c[:3, :4] = np.asarray(
            img.cam_from_world().matrix() if callable(img.cam_from_world) else img.cam_from_world.matrix()
        )
        c2ws.append(np.linalg.inv(w2c))
    cam = rec.cameras[by_name[files[0]].camera_id]
    K = np.asarray(cam.calibration_matrix(), dtype=np.float64)
    pts = np.array([p.xyz for p in rec.points3D.values()], dtype=np.float64).reshape(-1, 3)
    cols = np.array([p.color for p in rec.points3D.values()], dtype=np.uint8).reshape(-1, 3)
    return np.stack(c2ws), K, pts, cols


def load_scene(
    scene: str | Path,
    poses: Literal["auto", "gt", "sparse"] = "auto",
    downscale: int = 1,
    perturb_rot_deg: float = 0.0,
    perturb_trans_pct: float = 0.0,
    seed: int = 0,
) -> SceneData:
    """Read ``scene/images`` and poses: ``gt`` = gt/cameras.json ``c2w_mid``; ``sparse`` = COLMAP sparse/0;
    ``auto`` = sparse/0 if present else gt. Initial points come from sparse/0 when it exists. Pose noise
    (``perturb_*``, degrees and percent of the camera extent) is applied after loading, seeded."""
    from reconstruction.train_3dgs import camera_extent, read_sparse_points

    scene = Path(scene)
    img_dir = scene / "images"
    if not img_dir.is_dir():
        raise UserError(f"{scene}: no images/ folder; give a scene folder made by make-scene or SfM")
    gt = None
    if (scene / "gt" / "cameras.json").is_file():
        from reconstruction.synthetic import load_gt

        gt = load_gt(scene)
    has_sparse = (scene / "sparse" / "0").is_dir()
    src = poses if poses != "auto" else ("sparse" if has_sparse else "gt")
    if src == "gt" and gt is None:
        raise UserError(f"{scene}: --poses gt needs gt/cameras.json (synthetic scenes); use --poses sparse")
    if src == "sparse" and not has_sparse:
        raise UserError(f"{scene}: no sparse/0 COLMAP model; run SfM first or use --poses gt")
    if gt is not None:
        files = list(gt["files"])
    else:
        files = sorted(p.name for p in img_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise UserError(f"{img_dir}: no images")
    pts = cols = None
    if src == "gt":
        c2ws, K = np.asarray(gt["c2w_mid"], np.float64), np.asarray(gt["K"], np.float64)
        sp = read_sparse_points(scene) if has_sparse else None
        if sp is not None:
            pts, cols = sp
    else:
        c2ws, K, pts, cols = _colmap_poses(scene, files)
        if len(pts) == 0:
            pts = cols = None
    imgs = np.stack([downscale_image(read_image(img_dir / f), downscale) for f in files])
    K = downscale_K(K, downscale)
    given = c2ws.copy()
    if perturb_rot_deg > 0 or perturb_trans_pct > 0:
        c2ws = perturb_poses(c2ws, perturb_rot_deg, perturb_trans_pct / 100.0, camera_extent(given), seed + 7919)
    return SceneData(
        images=imgs,
        c2ws=c2ws,
        K=K,
        files=files,
        width=imgs.shape[2],
        height=imgs.shape[1],
        points=pts,
        colors=cols,
        c2ws_given=given,
        gt=gt,
        downscale=max(int(downscale), 1),
        pose_source=src,
    )
