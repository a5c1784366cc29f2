"""Write a synthetic scene's TRUE cameras as a COLMAP model (``--write-true-sparse``), for testing later
stages without SfM.

The model holds one PINHOLE camera (the exact intrinsics), one image per frame at its true mid-exposure pose
(``cam_from_world`` = inverse of ``c2w_mid``), and true 3D points: surface points seen by sampled frames,
with a track element in every frame where the point is visible (in the image and not occluded: the
rendered depth there agrees within 0.5%). Observations are the exact projections (no noise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deblur2d.io.atomic import atomic_dir

from .camera_path import project
from .raycast import render

POINTS_PER_SOURCE_FRAME = 300
DEPTH_TOLERANCE = 0.005


def write_true_sparse(model_dir: Path, setup, names: list[str], sharp_u8: list[np.ndarray]) -> int:
    """Write ``cameras.bin``, ``images.bin``, ``points3D.bin`` into ``model_dir`` (atomic: a temporary
    folder renamed into place). Returns the number of 3D points. ``setup``: a ``generate.Setup``."""
    import pycolmap

    p, k = setup.preset, setup.k
    w, h = p.width, p.height
    n = len(names)
    depths = [render(setup.world, setup.c2w_mid[i], k, w, h)[1] for i in range(n)]
    rng = np.random.default_rng([setup.seed, 99])

    # Candidate points from every 3rd frame: random pixels with a finite depth, unprojected.
    cands = []
    for i in range(0, n, 3):
        ii = rng.integers(0, h, POINTS_PER_SOURCE_FRAME)
        jj = rng.integers(0, w, POINTS_PER_SOURCE_FRAME)
        z = depths[i][ii, jj]
        ok = np.isfinite(z)
        pix = np.stack([jj[ok] + 0.5, ii[ok] + 0.5, np.ones(ok.sum())], -1)
        cam = (pix @ np.linalg.inv(k).T) * z[ok][:, None]
        cands.append(cam @ setup.c2w_mid[i][:3, :3].T + setup.c2w_mid[i][:3, 3])
    pts = np.concatenate(cands)

    # Visibility of every candidate in every frame.
    uv = project(pts, setup.c2w_mid, k)  # [N, P, 2]
    z_cam = np.einsum("npk,nk->np", pts[None] - setup.c2w_mid[:, None, :3, 3], setup.c2w_mid[:, :3, 2])
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h) & (z_cam > 0)
    col = np.clip(np.floor(uv[..., 0]).astype(int), 0, w - 1)
    row = np.clip(np.floor(uv[..., 1]).astype(int), 0, h - 1)
    rendered = np.stack([depths[i][row[i], col[i]] for i in range(n)])
    visible = inside & (np.abs(rendered - z_cam) < DEPTH_TOLERANCE * z_cam)
    keep = visible.sum(0) >= 2
    pts, uv, visible = pts[keep], uv[:, keep], visible[:, keep]

    rec = pycolmap.Reconstruction()
    camera = pycolmap.Camera(
        model="PINHOLE", width=w, height=h, params=[k[0, 0], k[1, 1], k[0, 2], k[1, 2]], camera_id=1
    )
    rec.add_camera_with_trivial_rig(camera)
    point_index = []  # per image: point index -> keypoint index
    for i in range(n):
        idx = np.nonzero(visible[i])[0]
        point_index.append({int(pi): kp for kp, pi in enumerate(idx)})
        image = pycolmap.Image(name=names[i], keypoints=uv[i, idx].astype(np.float64), camera_id=1, image_id=i + 1)
        w2c = np.linalg.inv(setup.c2w_mid[i])
        rec.add_image_with_trivial_frame(image, pycolmap.Rigid3d(w2c[:3, :4]))
    for pi in range(len(pts)):
        frames = np.nonzero(visible[:, pi])[0]
        track = pycolmap.Track([pycolmap.TrackElement(int(i) + 1, point_index[i][pi]) for i in frames])
        i0 = int(frames[0])
        colour = sharp_u8[i0][min(h - 1, int(uv[i0, pi, 1])), min(w - 1, int(uv[i0, pi, 0]))]
        rec.add_point3D(pts[pi], track, colour.astype(np.uint8))

    with atomic_dir(model_dir) as tmp:
        rec.write_binary(str(tmp))
    return len(pts)
