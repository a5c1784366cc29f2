"""Camera paths for novel-view videos: spiral, orbit, the filmed path smoothed, and paths read from JSON.

Every generator returns camera-to-world poses ``c2w`` ``[N, 4, 4]`` float64 in OpenCV axes (x right, y down,
z forward; DESIGN.md) from the training poses ``c2ws`` ``[V, 4, 4]`` in capture order. World units are those
of the poses. Nothing is random: the same input gives the same path.

- :func:`spiral_path`: LLFF's forward-facing spiral (Mildenhall et al., "Local Light Field Fusion", SIGGRAPH
  2019, ``render_path_spiral``) around the mean pose, looking at a point at the focus depth;
- :func:`orbit_path`: a circle around the scene centre at the cameras' mean distance and height;
- :func:`train_path`: a C1 path through the training poses (Catmull-Rom on centres and, in the tangent space of
  SO(3), on rotations), optionally Gaussian-smoothed first to remove shake;
- :func:`read_path_file`: ``{"frames": [{"c2w": 4x4}, ...]}``, a bare list of 4x4, or nerfstudio's
  ``camera_path.json`` (OpenGL axes, converted).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deblur2d.io.errors import UserError
from reconstruction.geometry.lie import so3_exp_np, so3_log_np

__all__ = [
    "PATH_KINDS",
    "CameraPath",
    "look_at",
    "mean_pose",
    "focus_point",
    "focus_depth",
    "spiral_path",
    "orbit_path",
    "train_path",
    "read_path_file",
    "opengl_to_opencv",
]

#: Names of the generated paths (anything else is a path file).
PATH_KINDS = ("spiral", "orbit", "train")
#: Flips y and z: OpenGL camera axes (x right, y up, z back) <-> OpenCV (x right, y down, z forward).
_GL_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def _normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _as_c2ws(c2ws: np.ndarray) -> np.ndarray:
    c = np.asarray(c2ws, dtype=np.float64)
    if c.ndim == 2:
        c = c[None]
    if c.ndim != 3 or c.shape[1:] != (4, 4) or len(c) == 0:
        raise ValueError(f"c2ws must be [V>0, 4, 4], got {c.shape}")
    return c


def _pose(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Stack rotations ``[..., 3, 3]`` and centres ``[..., 3]`` into ``[..., 4, 4]``."""
    out = np.zeros((*R.shape[:-2], 4, 4))
    out[..., :3, :3] = R
    out[..., :3, 3] = t
    out[..., 3, 3] = 1.0
    return out


def _any_perpendicular(v: np.ndarray) -> np.ndarray:
    a = np.array([1.0, 0.0, 0.0]) if abs(v[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    return _normalize(np.cross(v, a))


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """c2w ``[..., 4, 4]`` (OpenCV axes) of cameras at ``eye`` ``[..., 3]`` looking at ``target`` with the image's
    up direction (-y) as close to world vector ``up`` as possible."""
    eye, target = np.asarray(eye, np.float64), np.asarray(target, np.float64)
    z = _normalize(np.broadcast_to(target, eye.shape) - eye)
    up = np.broadcast_to(np.asarray(up, np.float64), z.shape)
    x = np.cross(z, up)
    bad = np.linalg.norm(x, axis=-1) < 1e-9  # looking straight along up: any right vector will do
    if np.any(bad):
        x = np.where(bad[..., None], np.stack([_any_perpendicular(v) for v in z.reshape(-1, 3)]).reshape(z.shape), x)
    x = _normalize(x)
    y = np.cross(z, x)
    return _pose(np.stack([x, y, z], axis=-1), eye)


def mean_pose(c2ws: np.ndarray) -> np.ndarray:
    """Average pose (LLFF ``poses_avg``): mean centre, mean viewing direction, mean up; c2w ``[4, 4]``."""
    c = _as_c2ws(c2ws)
    centre = c[:, :3, 3].mean(axis=0)
    fwd = _normalize(c[:, :3, 2].sum(axis=0))
    up = _normalize(-c[:, :3, 1].sum(axis=0))
    return look_at(centre, centre + fwd, up)


def _mean_up(c: np.ndarray) -> np.ndarray:
    return _normalize(-c[:, :3, 1].sum(axis=0))


def focus_point(c2ws: np.ndarray, min_spread_deg: float = 2.0) -> np.ndarray | None:
    """The point nearest to all optical axes in the least-squares sense, or None when the axes are too close
    to parallel for it to be stable (angular spread under about ``min_spread_deg``) or it lies behind the mean
    camera. Minimises ``sum_i |(I - d_i d_i^T)(p - o_i)|^2`` over ``p`` (``o_i`` centres, ``d_i`` axes)."""
    c = _as_c2ws(c2ws)
    o, d = c[:, :3, 3], _normalize(c[:, :3, 2])
    proj = np.eye(3)[None] - d[:, :, None] * d[:, None, :]
    A, b = proj.sum(axis=0), np.einsum("nij,nj->i", proj, o)
    eig = np.linalg.eigvalsh(A)
    if eig[0] < len(c) * math.sin(math.radians(min_spread_deg)) ** 2:
        return None
    p = np.linalg.solve(A, b)
    m = mean_pose(c)
    if float((p - m[:3, 3]) @ m[:3, 2]) <= 0:
        return None
    return p


def focus_depth(c2ws: np.ndarray, points: np.ndarray | None = None) -> float:
    """Depth (along the mean camera's axis, world units) to look at, LLFF style.

    With ``points`` ``[P, 3]`` (e.g. Gaussian centres): ``1 / (0.25 / near + 0.75 / far)`` of the 5th and 95th
    depth percentiles of the points in front of the mean camera (LLFF ``render_path_spiral`` with ``dt = 0.75``).
    Else the depth of :func:`focus_point`; else 5 x the spread of the camera centres (at least 1e-3)."""
    c = _as_c2ws(c2ws)
    m = mean_pose(c)
    if points is not None and len(points) > 0:
        z = (np.asarray(points, np.float64).reshape(-1, 3) - m[:3, 3]) @ m[:3, 2]
        z = z[z > 1e-6]
        if len(z) >= 1:
            near, far = np.percentile(z, 5), np.percentile(z, 95)
            return float(1.0 / (0.25 / near + 0.75 / far))
    p = focus_point(c)
    if p is not None:
        return float((p - m[:3, 3]) @ m[:3, 2])
    spread = np.linalg.norm(c[:, :3, 3] - c[:, :3, 3].mean(axis=0), axis=1).max()
    return float(max(5.0 * spread, 1e-3))


def spiral_path(
    c2ws: np.ndarray,
    n_frames: int = 120,
    *,
    points: np.ndarray | None = None,
    depth: float | None = None,
    radius_percentile: float = 90.0,
    radius_scale: float = 1.0,
    rots: float = 1.0,
    zrate: float = 2.0,
) -> np.ndarray:
    """LLFF forward-facing spiral: ``n_frames`` c2w ``[N, 4, 4]`` around :func:`mean_pose`.

    In the mean camera's frame the centre moves to ``(cos t, sin t, sin(zrate t)) * r`` for ``t`` in
    ``[0, 2 pi rots)``, ``r`` the ``radius_percentile`` of the absolute centre
    offsets per axis times ``radius_scale`` (the z radius capped at half the focus depth), and every camera looks
    at the point ``depth`` ahead of the mean camera (:func:`focus_depth` from ``points`` when None). The default
    (one turn, in and out twice) is a closed loop whose frames are all distinct; LLFF's ``rots=2, zrate=0.5``
    passes its starting pose again halfway."""
    c = _as_c2ws(c2ws)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    m = mean_pose(c)
    f = float(depth) if depth is not None else focus_depth(c, points)
    if not f > 0:
        raise ValueError(f"focus depth must be positive, got {f}")
    local = (c[:, :3, 3] - m[:3, 3]) @ m[:3, :3]  # centres in the mean camera's frame
    rads = np.percentile(np.abs(local), radius_percentile, axis=0) * radius_scale
    rads[2] = min(rads[2], 0.5 * f)
    t = np.linspace(0.0, 2.0 * math.pi * rots, n_frames + 1)[:-1]
    offs = np.stack([np.cos(t), np.sin(t), np.sin(zrate * t)], axis=1) * rads
    eyes = m[:3, 3] + offs @ m[:3, :3].T
    target = m[:3, 3] + f * m[:3, 2]
    return look_at(eyes, target, -m[:3, 1])


def orbit_path(
    c2ws: np.ndarray,
    n_frames: int = 120,
    center: np.ndarray | None = None,
    *,
    radius: float | None = None,
    height: float | None = None,
    points: np.ndarray | None = None,
    arc_deg: float = 360.0,
) -> np.ndarray:
    """A full circle of ``n_frames`` cameras ``[N, 4, 4]`` around ``center``, all looking at it.

    "Up" is the cameras' mean up (-y); the circle lies in the plane perpendicular to it, ``height`` above
    ``center`` along up and ``radius`` from the up axis through ``center`` (defaults: the cameras' mean height
    and mean distance from that axis). ``center`` defaults to :func:`focus_point`, else the point
    :func:`focus_depth` (from ``points``) ahead of the mean camera. Starts at the mean camera's side of the
    circle, turning counter-clockwise seen from above. ``arc_deg`` < 360 swings back and forth over that arc
    centred there instead (angle ``arc/2 sin(2 pi j / N)``), for captures that saw the scene from one side."""
    c = _as_c2ws(c2ws)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    up = _mean_up(c)
    if center is None:
        center = focus_point(c)
        if center is None:
            m = mean_pose(c)
            center = m[:3, 3] + focus_depth(c, points) * m[:3, 2]
    center = np.asarray(center, np.float64).reshape(3)
    rel = c[:, :3, 3] - center
    h = rel @ up
    horiz = rel - h[:, None] * up
    if height is None:
        height = float(h.mean())
    if radius is None:
        radius = float(np.linalg.norm(horiz, axis=1).mean())
    if not radius > 0:
        raise ValueError(f"orbit radius must be positive, got {radius}")
    a = horiz.mean(axis=0)
    a = _normalize(a) if np.linalg.norm(a) > 1e-9 * max(radius, 1e-12) else _any_perpendicular(up)
    b = np.cross(up, a)  # a, b, up right-handed; up is -y (image up), so this turns counter-clockwise from above
    if not 0 < arc_deg <= 360:
        raise ValueError(f"arc_deg must be in (0, 360], got {arc_deg}")
    t = np.linspace(0.0, 2.0 * math.pi, n_frames + 1)[:-1]
    if arc_deg < 360:
        t = math.radians(arc_deg) / 2 * np.sin(t)
    eyes = center + height * up + radius * (np.cos(t)[:, None] * a + np.sin(t)[:, None] * b)
    return look_at(eyes, center, up)


def _gaussian_smooth_poses(c: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted average of centres and rotations over neighbouring frames (``sigma`` in frames, window
    +-3 sigma). Beyond the ends the sequence is extended by odd reflection (``p_{-k} = 2 p_0 - p_k``), so the
    first and last poses stay put and uniform motion is unchanged. Rotations are averaged in the tangent space of
    each frame's own rotation (one Karcher step), so the result stays a rotation."""
    n = len(c)
    if sigma <= 0 or n < 3:
        return c
    r = min(max(1, int(math.ceil(3 * sigma))), n - 1)
    k = np.arange(-r, r + 1)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    w /= w.sum()
    out = c.copy()
    for i in range(n):
        j = i + k
        lo, hi = j < 0, j > n - 1
        src = np.where(lo, -j, np.where(hi, 2 * (n - 1) - j, j))  # the mirrored real frame
        anchor = np.where(lo, 0, n - 1)  # reflected about the first / last frame
        t = c[src, :3, 3]
        t = np.where((lo | hi)[:, None], 2 * c[anchor, :3, 3] - t, t)
        out[i, :3, 3] = w @ t
        Ri = c[i, :3, :3]
        phi = so3_log_np(np.einsum("ji,njk->nik", Ri, c[src, :3, :3]))  # log(Ri^T R_src)
        phi_a = so3_log_np(np.einsum("ji,njk->nik", Ri, c[anchor, :3, :3]))
        phi = np.where((lo | hi)[:, None], 2 * phi_a - phi, phi)
        out[i, :3, :3] = Ri @ so3_exp_np(w @ phi)
    return out


def _hermite(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Uniform Catmull-Rom between ``p1`` (u = 0) and ``p2`` (u = 1); ``p*`` ``[M, D]``, ``u`` ``[M]``."""
    u = u[:, None]
    u2, u3 = u * u, u * u * u
    m1, m2 = 0.5 * (p2 - p0), 0.5 * (p3 - p1)
    return (2 * u3 - 3 * u2 + 1) * p1 + (u3 - 2 * u2 + u) * m1 + (-2 * u3 + 3 * u2) * p2 + (u3 - u2) * m2


def train_path(c2ws: np.ndarray, n_frames: int = 120, *, smooth: float = 0.0) -> np.ndarray:
    """``n_frames`` poses ``[N, 4, 4]`` along the filmed path: frame ``j`` is at time ``j (V - 1) / (N - 1)`` in
    units of training frames (first and last poses included).

    Centres: Catmull-Rom spline through the (smoothed) centres. Rotations: the same spline in the tangent space of
    each segment's start rotation, ``R_i exp(CR(log(R_i^T R_{i-1}), 0, log(R_i^T R_{i+1}), log(R_i^T R_{i+2})))``;
    both pass exactly through the poses at integer times. ``smooth`` > 0: Gaussian smoothing over that many
    frames (sigma) first, which removes hand shake."""
    c = _as_c2ws(c2ws)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    c = _gaussian_smooth_poses(c, float(smooth))
    v = len(c)
    if v == 1:
        return np.repeat(c, n_frames, axis=0)
    s = np.linspace(0.0, v - 1.0, n_frames) if n_frames > 1 else np.zeros(1)
    seg = np.minimum(np.floor(s).astype(int), v - 2)
    u = s - seg
    i0, i1, i2, i3 = seg - 1, seg, seg + 1, seg + 2

    # Centres, with reflected neighbours beyond the ends (p_{-1} = 2 p_0 - p_1).
    t = c[:, :3, 3]
    t_ext = np.concatenate([2 * t[:1] - t[1:2], t, 2 * t[-1:] - t[-2:-1]])
    centres = _hermite(t_ext[i0 + 1], t_ext[i1 + 1], t_ext[i2 + 1], t_ext[i3 + 1], u)

    # Rotations in each segment's chart at R_i1; beyond the ends the neighbour is reflected (phi -> -phi).
    R = c[:, :3, :3]
    Ri = R[i1]

    def rel(k: np.ndarray) -> np.ndarray:
        return so3_log_np(np.einsum("nji,njk->nik", Ri, R[np.clip(k, 0, v - 1)]))

    phi2 = rel(i2)
    phi0 = np.where((i0 < 0)[:, None], -phi2, rel(i0))
    phi3 = np.where((i3 > v - 1)[:, None], 2 * phi2, rel(i3))  # reflected: p3 = 2 p2 - p1 with p1 = 0
    phis = _hermite(phi0, np.zeros_like(phi2), phi2, phi3, u)
    rots = np.einsum("nij,njk->nik", Ri, so3_exp_np(phis))
    return _pose(rots, centres)


@dataclass
class CameraPath:
    """Poses read from a path file; intrinsics only when the file gives them."""

    c2w: np.ndarray
    """``[N, 4, 4]`` camera-to-world, OpenCV axes."""
    fov_deg: np.ndarray | None = None
    """``[N]`` vertical field of view in degrees (nerfstudio), else None (use the run's intrinsics)."""
    fps: float | None = None
    """Frame rate the file asks for, if any."""
    source: str = "frames"
    """``"frames"`` (this project's layout or a bare list) or ``"nerfstudio"``."""


def opengl_to_opencv(c2w: np.ndarray) -> np.ndarray:
    """c2w with OpenGL camera axes (x right, y up, z back; nerfstudio, NeRF) -> OpenCV axes: flip y and z."""
    return np.asarray(c2w, np.float64) @ _GL_CV


def _matrix(x: object, where: str, flat_ok: bool = False) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where} is not a matrix of numbers") from None
    if flat_ok and a.shape == (16,):
        a = a.reshape(4, 4)
    if a.shape == (3, 4):
        a = np.concatenate([a, [[0.0, 0.0, 0.0, 1.0]]])
    if a.shape != (4, 4):
        raise ValueError(f"{where} has shape {a.shape}, expected 4x4" + (" or 16 numbers" if flat_ok else ""))
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{where} has non-finite values")
    R = a[:3, :3]
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-3 or np.linalg.det(R) < 0:
        raise ValueError(f"{where}: the 3x3 part is not a rotation (scaled or mirrored camera axes)")
    return a


def read_path_file(path: str | os.PathLike) -> CameraPath:
    """Read a camera path JSON: ``{"frames": [{"c2w": 4x4}, ...]}`` or a bare list of 4x4 c2w (OpenCV axes,
    world units of the run), or nerfstudio's ``camera_path.json`` (``{"camera_path": [{"camera_to_world": 16
    floats row-major, "fov": vertical degrees}], "fps": ...}``, OpenGL axes: converted; poses are taken in the
    run's world frame as they are). Errors name the file and what is wrong (:class:`UserError`)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: camera path file not found; use --path spiral|orbit|train or a JSON path file")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{p}: not valid JSON ({e})") from None
    try:
        if isinstance(data, dict) and "camera_path" in data:
            cams = data["camera_path"]
            if not isinstance(cams, list) or not cams:
                raise ValueError("'camera_path' must be a non-empty list")
            if data.get("camera_type", "perspective") != "perspective":
                raise ValueError(f"camera_type {data['camera_type']!r} is not supported (only perspective)")
            c2w, fov = [], []
            for i, cam in enumerate(cams):
                if not isinstance(cam, dict) or "camera_to_world" not in cam:
                    raise ValueError(f"camera_path[{i}] has no 'camera_to_world'")
                c2w.append(opengl_to_opencv(_matrix(cam["camera_to_world"], f"camera_path[{i}].camera_to_world",
                                                    flat_ok=True)))  # fmt: skip
                f = cam.get("fov")
                if f is not None and not (isinstance(f, int | float) and 0 < f < 180):
                    raise ValueError(f"camera_path[{i}].fov must be degrees in (0, 180), got {f!r}")
                fov.append(f)
            fovs = None if any(f is None for f in fov) else np.asarray(fov, np.float64)
            fps = data.get("fps")
            fps = float(fps) if isinstance(fps, int | float) and fps > 0 else None
            return CameraPath(np.stack(c2w), fovs, fps, "nerfstudio")
        if isinstance(data, dict) and "frames" in data:
            frames = data["frames"]
            if not isinstance(frames, list) or not frames:
                raise ValueError("'frames' must be a non-empty list")
            mats = []
            for i, fr in enumerate(frames):
                if not isinstance(fr, dict) or "c2w" not in fr:
                    raise ValueError(f"frames[{i}] has no 'c2w'")
                mats.append(_matrix(fr["c2w"], f"frames[{i}].c2w"))
            fps = data.get("fps")
            fps = float(fps) if isinstance(fps, int | float) and fps > 0 else None
            return CameraPath(np.stack(mats), None, fps, "frames")
        if isinstance(data, list) and data:
            return CameraPath(np.stack([_matrix(m, f"entry [{i}]") for i, m in enumerate(data)]), None, None)
        raise ValueError(
            'expected {"frames": [{"c2w": 4x4}, ...]}, a list of 4x4 matrices, or nerfstudio\'s camera_path.json'
        )
    except ValueError as e:
        raise UserError(f"{p}: {e}") from None
