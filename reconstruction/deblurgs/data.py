"""Scene input for DeblurGS: frames, poses (COLMAP model, LLFF poses_bounds.npy or gt/cameras.json; read by
``reconstruction.io.scenes``), optional downscale and pose noise.

Poses are camera-to-world 4x4 in OpenCV axes (DESIGN.md). From COLMAP, ``image.cam_from_world`` is the
world-to-camera pose and is inverted here. Images are float32 sRGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from deblur2d.io.color import linear_to_srgb, srgb_to_linear
from deblur2d.io.errors import UserError
from reconstruction.io.scenes import ViewSet

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
    pose_source: str = ""  # "gt", "sparse", "llff" or "transforms"
    notes: list[str] = field(default_factory=list)  # what the reader noticed (left-out frames, scaled K, ...)
    near: float | None = None  # LLFF depth bounds (world units); None elsewhere
    far: float | None = None
    sharp: ViewSet | None = None  # sharp image of each training view (gt/sharp, images_test/), same poses
    test: ViewSet | None = None  # held-out sharp novel views with their poses (gt/test, hold=N views)


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
    """Intrinsics for an image box-downscaled by ``factor``: ``K / f`` on the first two rows (pixel (i, j) covers
    ``[j, j+1) x [i, i+1)``; :func:`reconstruction.geometry.camera_model.scale_K`)."""
    from reconstruction.geometry.camera_model import scale_K

    return scale_K(K, 1.0 / max(int(factor), 1))


def perturb_poses(c2ws: np.ndarray, rot_deg: float, trans_frac: float, scale: float, seed: int) -> np.ndarray:
    """Rotate each pose by exactly ``rot_deg`` degrees about a random axis (camera frame) and move its centre by
    ``trans_frac * scale`` world units in a random direction. Returns a new float64 ``[V, 4, 4]``."""
    from reconstruction.geometry.lie import so3_exp_np

    rng = np.random.default_rng(seed)
    out = np.array(c2ws, dtype=np.float64)
    for i in range(len(out)):
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        out[i, :3, :3] = out[i, :3, :3] @ so3_exp_np(axis * np.deg2rad(rot_deg))
        d = rng.standard_normal(3)
        out[i, :3, 3] += d / np.linalg.norm(d) * trans_frac * scale
    return out


def load_scene(
    scene: str | Path,
    poses: Literal["auto", "gt", "sparse", "llff", "transforms"] = "auto",
    downscale: int = 1,
    perturb_rot_deg: float = 0.0,
    perturb_trans_pct: float = 0.0,
    seed: int = 0,
    images: str | None = None,
    points_dir: str | Path | None = None,
    holdout: int | None = None,
) -> SceneData:
    """Read ``scene/images`` and poses (:func:`reconstruction.io.scenes.read_scene`): ``sparse`` = the COLMAP model
    in sparse/0 or sparse/ (binary or text); ``llff`` = poses_bounds.npy (LLFF / Deblur-NeRF); ``gt`` =
    gt/cameras.json ``c2w_mid`` (synthetic); ``transforms`` = nerfstudio transforms.json; ``auto`` = the first of
    these the scene has; ``images``: the image folder (None: picked by the reader). Initial points come
    from the COLMAP model when it has any (LLFF: none; ``near``/``far`` bound the scene instead).

    Images (PNG or JPEG) are box-downscaled by ``downscale`` and ``K`` with them. Pose noise (``perturb_*``,
    degrees and percent of the camera extent) is applied after loading, seeded. ``sharp`` / ``test`` name the
    scene's sharp evaluation images at their own resolution (downscale them like the frames): gt/sharp and
    gt/test of synthetic scenes, images_test/ and held-out views (``hold=N`` marker) of Deblur-NeRF scenes.

    ``points_dir``: when the scene has poses but no points (LLFF, transforms.json), triangulate start points from
    the training poses there (:func:`reconstruction.sfm.triangulate.triangulate_known_poses`, cached); None keeps
    ``points`` None (a random start inside ``near``/``far`` or the camera extent). ``holdout``: every n-th view
    is a held-out test view (None: from a ``hold=n`` marker)."""
    from reconstruction.io.scenes import read_scene
    from reconstruction.splats.train_3dgs import camera_extent

    scene = Path(scene)
    cams = read_scene(scene, poses, images, holdout)
    gt = None
    if (scene / "gt" / "cameras.json").is_file():
        from reconstruction.io.gt_cameras import load_gt

        gt = load_gt(scene)
    files = list(cams.files)
    if not files:
        raise UserError(f"{cams.image_dir}: no images")
    imgs = np.stack([downscale_image(read_image(cams.image_dir / f), downscale) for f in files])
    K = downscale_K(cams.K, downscale)
    c2ws = np.asarray(cams.c2ws, np.float64)
    given = c2ws.copy()
    if perturb_rot_deg > 0 or perturb_trans_pct > 0:
        c2ws = perturb_poses(c2ws, perturb_rot_deg, perturb_trans_pct / 100.0, camera_extent(given), seed + 7919)
    src = {"synthetic-gt": "gt", "llff": "llff", "transforms": "transforms"}.get(cams.source, "sparse")
    points, colors, notes = cams.points, cams.colors, list(cams.notes)
    if points is None and points_dir is not None:
        points, colors = _triangulated(cams, c2ws, Path(points_dir), seed, notes)
    return SceneData(
        images=imgs,
        c2ws=c2ws,
        K=K,
        files=files,
        width=imgs.shape[2],
        height=imgs.shape[1],
        points=points,
        colors=colors,
        c2ws_given=given,
        gt=gt,
        downscale=max(int(downscale), 1),
        pose_source=src,
        notes=notes,
        near=cams.near,
        far=cams.far,
        sharp=cams.sharp,
        test=cams.test,
    )


#: Fewer triangulated points than this and the random start is kept (said in the notes).
MIN_TRIANGULATED_POINTS = 50


def _triangulated(cams, c2ws: np.ndarray, work: Path, seed: int, notes: list[str]):
    """Points triangulated from the training poses (module :mod:`reconstruction.sfm.triangulate`), or
    ``(None, None)`` with a note saying why the start stays random."""
    from reconstruction.sfm.triangulate import triangulate_known_poses

    try:
        pts, cols, rep = triangulate_known_poses(cams.image_dir, list(cams.files), c2ws, cams.K, cams.width,
                                                 cams.height, work, seed=seed)  # fmt: skip
    except (RuntimeError, ValueError, KeyError, IndexError, UserError) as e:
        notes.append(f"triangulating points from the poses failed ({str(e).splitlines()[0][:120]}); random start")
        return None, None
    if len(pts) < MIN_TRIANGULATED_POINTS:
        notes.append(f"only {len(pts)} points triangulated from the poses (< {MIN_TRIANGULATED_POINTS}); random start")
        return None, None
    err = rep.get("mean_reprojection_error_px")
    notes.append(f"no points in the scene: {len(pts)} triangulated from the given poses ({rep['matcher']} SIFT "
                 f"matching, reprojection {err:.2f} px, {rep['seconds']:.1f} s; cached in {work})")  # fmt: skip
    return pts, cols
