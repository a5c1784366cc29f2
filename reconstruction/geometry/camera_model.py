"""COLMAP camera models (pycolmap objects): how far a lens distortion moves pixels, the PINHOLE rewrite, and
scaling a model found on downscaled frames back to full size.

Pixel convention: COLMAP's (the image corner is (0, 0), the centre of the top-left pixel (0.5, 0.5); the
synthetic scenes and gsplat share it). Scaling by ``f`` multiplies every image coordinate (principal point,
keypoints) and the focal length by ``f``.

:data:`MAX_DISTORTION_PX` is the one limit below which a distortion is treated as pinhole, both by the SfM front
end (``reconstruction.sfm``: rewritten, not resampled) and by the scene readers (``reconstruction.io.scenes``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_DISTORTION_PX", "camera_info", "max_distortion_px", "rescale_reconstruction", "scale_K", "to_pinhole"]

#: Largest pixel displacement of a lens distortion that is still treated as a pinhole camera.
MAX_DISTORTION_PX = 0.25


def scale_K(K: np.ndarray, sx: float, sy: float | None = None) -> np.ndarray:
    """Intrinsics ``[3, 3]`` for the same camera on an image resized by ``sx`` (and ``sy``, default ``sx``) per
    axis: the first two rows scale (focal and principal point alike, the convention above). The one rule every
    resize in the project uses (box downscale for training, readers of resized images, rendering at a scale)."""
    out = np.array(K, dtype=np.float64).reshape(3, 3)
    out[0] *= sx
    out[1] *= sx if sy is None else sy
    out[2] = [0.0, 0.0, 1.0]
    return out


def max_distortion_px(camera, samples: int = 41) -> float:
    """Largest distance in pixels, over a ``samples`` x ``samples`` grid covering the whole image (edges and
    corners included), between a pixel and where the same ray lands in the pinhole camera with the same focal
    lengths and principal point. Pixels whose ray cannot be found (distortion not invertible there) are left
    out; ``math.inf`` when no pixel's ray can be found. 0 for a camera without distortion."""
    w, h = camera.width, camera.height
    xs, ys = np.meshgrid(np.linspace(0.0, w, samples), np.linspace(0.0, h, samples))
    pix = np.stack([xs.ravel(), ys.ravel()], axis=1)
    ray = np.asarray(camera.cam_from_img(pix), dtype=np.float64)
    fx, fy = camera.focal_length_x, camera.focal_length_y
    cx, cy = camera.principal_point_x, camera.principal_point_y
    pinhole = np.stack([ray[:, 0] * fx + cx, ray[:, 1] * fy + cy], axis=1)
    ok = np.isfinite(pinhole).all(axis=1)
    if not ok.any():
        return math.inf
    return float(np.linalg.norm(pinhole[ok] - pix[ok], axis=1).max())


def to_pinhole(rec) -> None:
    """Rewrite every camera of the pycolmap Reconstruction ``rec`` as PINHOLE with the same focal lengths and
    principal point, in place (no resampling; for distortion too small to matter)."""
    import pycolmap

    for cam in rec.cameras.values():
        params = [cam.focal_length_x, cam.focal_length_y, cam.principal_point_x, cam.principal_point_y]
        cam.model = pycolmap.CameraModelId.PINHOLE
        cam.params = params


def rescale_reconstruction(rec, factor: float, width: int, height: int) -> None:
    """Scale a model found on images downscaled by ``factor`` back to images of ``width`` x ``height``, in place:
    focal lengths, principal points and every keypoint times ``factor`` (COLMAP's pixel convention, corner at
    0); distortion parameters (in normalised coordinates) and 3D points unchanged."""
    for cam in rec.cameras.values():
        p = np.array(cam.params, dtype=np.float64)
        idx = list(cam.focal_length_idxs()) + list(cam.principal_point_idxs())
        p[idx] *= factor
        cam.width, cam.height = int(width), int(height)
        cam.params = p
    for img in rec.images.values():
        for pt in img.points2D:
            pt.xy = np.asarray(pt.xy, dtype=np.float64) * factor


def camera_info(rec) -> dict:
    """JSON-friendly description of the first camera of ``rec``: model name, width, height (px), params and
    COLMAP's names for them."""
    cam = next(iter(rec.cameras.values()))
    return {
        "model": cam.model.name,
        "width": int(cam.width),
        "height": int(cam.height),
        "params": [float(v) for v in cam.params],
        "params_info": cam.params_info,
    }
