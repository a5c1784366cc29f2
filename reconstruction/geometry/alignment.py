"""Aligning estimated camera poses to true ones, and pose errors (SfM benchmarks on synthetic scenes).

SfM recovers poses up to a similarity (scale, rotation, translation). Before comparing with the truth, the
estimated world is mapped onto the true one: ``x_true = s R x_est + t``. Cameras are camera-to-world 4x4
(``c2w``, DESIGN.md); under the map a camera's rotation becomes ``R @ R_c`` and its centre ``s R c + t``.

Aligning the camera centres alone (Umeyama) is ill-conditioned when the path is nearly straight: the rotation
about the path's direction is then barely constrained (FINDINGS.md: 13.8 deg after centre alignment where the
pairwise error was 0.7 deg). :func:`align_poses` therefore takes the rotation from the camera orientations and
only scale and translation from the centres. :func:`relative_rotation_errors` needs no alignment at all.

Angles are in degrees (geodesic distance on SO(3)); positions in world units of the true poses.
"""

from __future__ import annotations

import numpy as np

__all__ = ["umeyama_sim3", "align_poses", "apply_sim3", "relative_rotation_errors", "rotation_angle_deg"]

#: Relative size (to the largest) below which a singular value counts as zero in the degeneracy checks.
_RANK_TOL = 1e-12


def _proper_rotation(m: np.ndarray) -> np.ndarray:
    """The rotation closest to ``m`` in Frobenius norm (SVD, determinant forced to +1)."""
    u, _, vt = np.linalg.svd(m)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    return (u * d) @ vt


def rotation_angle_deg(r: np.ndarray) -> np.ndarray:
    """Rotation angle (degrees, in [0, 180]) of rotation matrices ``[..., 3, 3]``.

    Uses ``atan2(sin, cos)`` with ``sin`` from the skew part and ``cos`` from the trace, accurate near 0 and
    near 180 degrees (``arccos`` of the trace loses half the digits near 0).
    """
    r = np.asarray(r, dtype=np.float64)
    skew = np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1)
    sin = 0.5 * np.linalg.norm(skew, axis=-1)
    cos = 0.5 * (np.trace(r, axis1=-2, axis2=-1) - 1.0)
    return np.degrees(np.arctan2(sin, cos))


def _check_points(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 3 or dst.ndim != 2 or dst.shape[1] != 3:
        raise ValueError(f"expected two [N, 3] point sets, got {src.shape} and {dst.shape}")
    if len(src) != len(dst):
        raise ValueError(f"point sets differ in length: {len(src)} vs {len(dst)} (correspondences must match)")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError("points contain NaN or infinity")
    return src, dst


def _check_poses(c2w_est: np.ndarray, c2w_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(c2w_est, dtype=np.float64), np.asarray(c2w_true, dtype=np.float64)
    if a.ndim != 3 or a.shape[1:] != (4, 4) or b.ndim != 3 or b.shape[1:] != (4, 4):
        raise ValueError(f"expected two [N, 4, 4] camera-to-world stacks, got {a.shape} and {b.shape}")
    if len(a) != len(b):
        raise ValueError(f"pose stacks differ in length: {len(a)} vs {len(b)} (frames must correspond)")
    if len(a) == 0:
        raise ValueError("no poses given")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("poses contain NaN or infinity")
    return a, b


def umeyama_sim3(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst_i ~ s R src_i + t`` between corresponding points ``[N, 3]``.

    The closed form of S. Umeyama, "Least-squares estimation of transformation parameters between two point
    patterns", IEEE TPAMI 13(4):376-380, 1991 (rotation from the SVD of the cross-covariance with the
    reflection correction, then scale and translation). Returns ``(s, R [3, 3], t [3])``.

    Raises ``ValueError`` for mismatched or malformed input, fewer than 3 points, coincident source points,
    or collinear points (the rotation about the line is then undetermined). Nearly collinear points are
    accepted but make the rotation ill-conditioned (see :func:`align_poses`).
    """
    src, dst = _check_points(src, dst)
    n = len(src)
    if n < 3:
        raise ValueError(f"need at least 3 point pairs for a similarity, got {n}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = float((xs**2).sum()) / n
    if var_s <= 0.0 or var_s < _RANK_TOL * max(1.0, float((src**2).sum()) / n):
        raise ValueError("degenerate input: the source points coincide (no scale or rotation can be found)")
    cov = xd.T @ xs / n
    u, sv, vt = np.linalg.svd(cov)
    if sv[1] <= _RANK_TOL * sv[0]:
        raise ValueError("degenerate input: the points are collinear (rotation about their line is undetermined)")
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0
    r = (u * d) @ vt
    s = float((sv * d).sum() / var_s)
    t = mu_d - s * r @ mu_s
    return s, r, t


def apply_sim3(c2w: np.ndarray, s: float, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Map camera-to-world poses ``[..., 4, 4]`` through ``x -> s R x + t``: rotation ``R @ R_c`` (stays
    orthonormal), centre ``s R c + t``. Returns a new float64 array of the same shape."""
    c2w = np.asarray(c2w, dtype=np.float64)
    R, t = np.asarray(R, dtype=np.float64), np.asarray(t, dtype=np.float64)
    if c2w.shape[-2:] != (4, 4) or R.shape != (3, 3) or t.shape != (3,):
        raise ValueError(f"expected c2w [..., 4, 4], R [3, 3], t [3]; got {c2w.shape}, {R.shape}, {t.shape}")
    out = np.zeros_like(c2w)
    out[..., :3, :3] = R @ c2w[..., :3, :3]
    out[..., :3, 3] = s * c2w[..., :3, 3] @ R.T + t
    out[..., 3, 3] = 1.0
    return out


def path_length(c2w: np.ndarray) -> float:
    """Length of the polyline through the camera centres of ``c2w [N, 4, 4]``, in the given order."""
    c = np.asarray(c2w, dtype=np.float64)[:, :3, 3]
    return float(np.linalg.norm(np.diff(c, axis=0), axis=-1).sum())


def _errors(c2w_aligned: np.ndarray, c2w_true: np.ndarray, length: float) -> dict:
    rot = rotation_angle_deg(np.swapaxes(c2w_aligned[:, :3, :3], -1, -2) @ c2w_true[:, :3, :3])
    pos = np.linalg.norm(c2w_aligned[:, :3, 3] - c2w_true[:, :3, 3], axis=-1)
    pct = 100.0 * pos / length if length > 0 else np.full_like(pos, np.nan)
    return {
        "rot_err_deg": rot,
        "pos_err": pos,
        "pos_err_pct": pct,
        "rot_err_deg_mean": float(rot.mean()),
        "rot_err_deg_median": float(np.median(rot)),
        "pos_err_mean": float(pos.mean()),
        "pos_err_median": float(np.median(pos)),
        "pos_err_pct_mean": float(pct.mean()),
        "pos_err_pct_median": float(np.median(pct)),
    }


def align_poses(c2w_est: np.ndarray, c2w_true: np.ndarray, true_path_length: float | None = None) -> dict:
    """Similarity alignment of estimated cameras onto true ones, robust on nearly straight paths, and errors.

    Frames correspond by index (``c2w_est[i]`` is the estimate of ``c2w_true[i]``), both ``[N, 4, 4]``.

    1. Rotation from the orientations: the ``R`` minimising ``sum_i ||R R_est_i - R_true_i||_F^2`` (the
       chordal L2 mean of ``R_true_i R_est_i^T``): SVD of ``sum_i R_true_i R_est_i^T``, determinant +1.
    2. Given ``R``, scale and translation from the centres by least squares:
       ``s = sum <R a_i, b_i> / sum |a_i|^2`` with ``a``, ``b`` the centred estimated and true centres,
       ``t = mean(c_true) - s R mean(c_est)``.

    Position errors are given in world units and as % of ``true_path_length`` (default: the polyline length
    through the given true centres, in order; pass the full trajectory's length when only some frames are
    compared). Returns a dict: ``s``, ``R``, ``t``, ``aligned`` (``[N, 4, 4]``), ``path_length``, per-frame
    ``rot_err_deg``, ``pos_err``, ``pos_err_pct`` (arrays), their ``*_mean`` and ``*_median``, and
    ``umeyama``: the same errors after plain Umeyama on the centres (``None`` when that is degenerate: fewer
    than 3 frames or collinear centres).

    Raises ``ValueError`` on mismatched or malformed input, or when all centres coincide (no scale).
    """
    est, true = _check_poses(c2w_est, c2w_true)
    r_est, r_true = est[:, :3, :3], true[:, :3, :3]
    R = _proper_rotation((r_true @ np.swapaxes(r_est, -1, -2)).sum(0))
    c_est, c_true = est[:, :3, 3], true[:, :3, 3]
    a = (c_est - c_est.mean(0)) @ R.T
    b = c_true - c_true.mean(0)
    aa = float((a**2).sum())
    if aa <= _RANK_TOL * max(1.0, float((c_est**2).sum())):
        raise ValueError("degenerate input: the estimated camera centres coincide (scale is undetermined)")
    s = float((a * b).sum() / aa)
    t = c_true.mean(0) - s * R @ c_est.mean(0)
    length = path_length(true) if true_path_length is None else float(true_path_length)
    aligned = apply_sim3(est, s, R, t)
    out = {"s": s, "R": R, "t": t, "aligned": aligned, "path_length": length, **_errors(aligned, true, length)}
    try:
        su, ru, tu = umeyama_sim3(c_est, c_true)
    except ValueError:
        out["umeyama"] = None
    else:
        au = apply_sim3(est, su, ru, tu)
        out["umeyama"] = {"s": su, "R": ru, "t": tu, "aligned": au, **_errors(au, true, length)}
    return out


def relative_rotation_errors(c2w_est: np.ndarray, c2w_true: np.ndarray, consecutive: bool = False) -> np.ndarray:
    """Alignment-free rotation errors (degrees) of relative rotations between frame pairs.

    For a pair ``(i, j)`` the relative rotation is ``R_i^T R_j`` (camera j in camera i's axes; unchanged by
    any similarity of the world); the error is the angle of ``(R_est_i^T R_est_j)^T (R_true_i^T R_true_j)``.
    All pairs ``i < j`` in row-major order (``N (N - 1) / 2`` values), or only ``(i, i + 1)`` with
    ``consecutive``. Raises ``ValueError`` on mismatched input; fewer than 2 frames give an empty array.
    """
    est, true = _check_poses(c2w_est, c2w_true)
    n = len(est)
    if consecutive:
        i, j = np.arange(n - 1), np.arange(1, n)
    else:
        i, j = np.triu_indices(n, k=1)
    re, rt = est[:, :3, :3], true[:, :3, :3]
    rel_e = np.swapaxes(re[i], -1, -2) @ re[j]
    rel_t = np.swapaxes(rt[i], -1, -2) @ rt[j]
    return rotation_angle_deg(np.swapaxes(rel_e, -1, -2) @ rel_t)
