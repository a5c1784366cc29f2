"""Pose alignment (reconstruction.geometry.alignment): exact recovery, noise, straight paths, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruction.geometry.alignment import (
    align_poses,
    apply_sim3,
    path_length,
    relative_rotation_errors,
    rotation_angle_deg,
    umeyama_sim3,
)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def rot_about(axis: np.ndarray, deg: float) -> np.ndarray:
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = np.radians(deg)
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * kx @ kx


def poses(rots: np.ndarray, centres: np.ndarray) -> np.ndarray:
    out = np.tile(np.eye(4), (len(rots), 1, 1))
    out[:, :3, :3] = rots
    out[:, :3, 3] = centres
    return out


def curved_path(rng: np.random.Generator, n: int = 12) -> np.ndarray:
    s = np.linspace(0, 1, n)
    centres = np.stack([2 * np.cos(s), 0.3 * s**2, 2 * np.sin(s)], -1) + rng.normal(0, 0.05, (n, 3))
    return poses(np.stack([random_rotation(rng) for _ in range(n)]), centres)


def straight_path(rng: np.random.Generator, n: int = 15, wobble: float = 0.0) -> np.ndarray:
    """Cameras along the x axis, looking roughly along +z with a few degrees of shake."""
    s = np.linspace(0, 1, n)
    centres = np.stack([s, wobble * np.sin(7 * s), wobble * np.cos(5 * s)], -1)
    rots = np.stack([rot_about(rng.standard_normal(3), rng.uniform(0, 4)) for _ in range(n)])
    return poses(rots, centres)


def similarity(rng: np.random.Generator) -> tuple[float, np.ndarray, np.ndarray]:
    return float(rng.uniform(0.2, 5.0)), random_rotation(rng), rng.normal(0, 3, 3)


def to_estimate(c2w_true: np.ndarray, s: float, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """What SfM would return if the true world were mapped by x -> s R x + t (inverse of the alignment)."""
    return apply_sim3(c2w_true, 1.0 / s, R.T, -(R.T @ t) / s)


def test_rotation_angle_accurate_near_zero_and_pi():
    for deg in (1e-7, 0.01, 37.0, 179.9999):
        assert rotation_angle_deg(rot_about([1, 2, 3], deg)) == pytest.approx(deg, rel=1e-8)


def test_umeyama_recovers_random_similarities_exactly():
    rng = np.random.default_rng(0)
    for _ in range(5):
        src = rng.normal(0, 1, (20, 3))
        s, R, t = similarity(rng)
        s2, R2, t2 = umeyama_sim3(src, s * src @ R.T + t)
        assert s2 == pytest.approx(s, abs=1e-9)
        np.testing.assert_allclose(R2, R, atol=1e-9)
        np.testing.assert_allclose(t2, t, atol=1e-9)
        assert np.linalg.det(R2) == pytest.approx(1.0, abs=1e-12)


def test_umeyama_reflected_data_gives_a_rotation_not_a_reflection():
    rng = np.random.default_rng(1)
    src = rng.normal(0, 1, (30, 3))
    s, R, t = umeyama_sim3(src, src * np.array([1.0, 1.0, -1.0]))
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12)


def test_umeyama_degenerate_and_bad_input():
    rng = np.random.default_rng(2)
    pts = rng.normal(0, 1, (10, 3))
    with pytest.raises(ValueError, match="differ in length"):
        umeyama_sim3(pts, pts[:9])
    with pytest.raises(ValueError, match="at least 3"):
        umeyama_sim3(pts[:2], pts[:2])
    with pytest.raises(ValueError, match="coincide"):
        umeyama_sim3(np.ones((5, 3)), pts[:5])
    line = np.outer(np.linspace(0, 1, 6), [1.0, 2.0, 0.5])
    with pytest.raises(ValueError, match="collinear"):
        umeyama_sim3(line, 2 * line + 1)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        umeyama_sim3(pts[:, :2], pts[:, :2])
    bad = pts.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        umeyama_sim3(bad, pts)


def test_apply_sim3_keeps_rotations_orthonormal_and_maps_centres():
    rng = np.random.default_rng(3)
    c2w = curved_path(rng)
    s, R, t = similarity(rng)
    out = apply_sim3(c2w, s, R, t)
    rot = out[:, :3, :3]
    np.testing.assert_allclose(np.swapaxes(rot, -1, -2) @ rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-12)
    np.testing.assert_allclose(out[:, :3, 3], s * c2w[:, :3, 3] @ R.T + t, atol=1e-12)
    np.testing.assert_allclose(out[:, 3], np.broadcast_to([0, 0, 0, 1.0], (len(c2w), 4)))
    # Round trip through the inverse similarity.
    np.testing.assert_allclose(to_estimate(out, s, R, t), c2w, atol=1e-12)


@pytest.mark.parametrize("path", ["curved", "straight"])
def test_align_poses_recovers_similarity_exactly(path):
    rng = np.random.default_rng(4)
    for _ in range(4):
        true = curved_path(rng) if path == "curved" else straight_path(rng)
        s, R, t = similarity(rng)
        est = to_estimate(true, s, R, t)
        res = align_poses(est, true)
        assert res["s"] == pytest.approx(s, abs=1e-9)
        np.testing.assert_allclose(res["R"], R, atol=1e-9)
        np.testing.assert_allclose(res["t"], t, atol=1e-9)
        assert res["rot_err_deg_mean"] < 1e-7 and res["pos_err_pct_mean"] < 1e-7
        np.testing.assert_allclose(res["aligned"], true, atol=1e-9)
        assert res["path_length"] == pytest.approx(path_length(true))
        if path == "straight":  # exactly collinear centres: Umeyama on centres is undefined
            assert res["umeyama"] is None
        else:
            assert res["umeyama"]["rot_err_deg_mean"] < 1e-7


def test_nearly_straight_path_orientation_alignment_stays_accurate_umeyama_does_not():
    """Centres 1 mm off a 1 m line, 1 cm of centre noise: Umeyama's roll about the line is set by the noise."""
    rng = np.random.default_rng(5)
    true = straight_path(rng, n=20, wobble=1e-3)
    s, R, t = similarity(rng)
    est = to_estimate(true, s, R, t)
    est[:, :3, 3] += rng.normal(0, 0.01 / s, (len(est), 3))  # 1 cm in true units
    res = align_poses(est, true)
    assert res["rot_err_deg_mean"] < 1e-6  # orientations are exact: rotation is too
    assert 0.2 < res["pos_err_pct_mean"] < 3.0  # about the 1 cm noise on a 1 m path
    assert res["umeyama"] is not None
    assert res["umeyama"]["rot_err_deg_mean"] > 10.0


def test_noise_gives_errors_of_the_expected_order():
    rng = np.random.default_rng(6)
    true = curved_path(rng, n=40)
    s, R, t = similarity(rng)
    est = to_estimate(true, s, R, t)
    sigma_deg = 0.1
    for i in range(len(est)):
        est[i, :3, :3] = est[i, :3, :3] @ rot_about(rng.standard_normal(3), rng.normal(0, sigma_deg))
    sigma_pos = 0.002 * path_length(true)  # 0.2 % of the path, per axis
    est[:, :3, 3] += rng.normal(0, sigma_pos / s, (len(est), 3))
    res = align_poses(est, true)
    # Per-frame angle is |N(0, 0.1)|: mean 0.08 deg; alignment absorbs a little.
    assert 0.04 < res["rot_err_deg_mean"] < 0.12
    # 3-D error of isotropic noise: mean 1.6 sigma = 0.32 % of the path.
    assert 0.2 < res["pos_err_pct_mean"] < 0.45
    assert res["s"] == pytest.approx(s, rel=0.02)
    assert rotation_angle_deg(res["R"].T @ R) < 0.1
    rel = relative_rotation_errors(est, true)
    assert 0.07 < rel.mean() < 0.2  # difference of two independent errors: about sqrt(2) x per frame


def test_align_poses_bad_input():
    rng = np.random.default_rng(7)
    true = curved_path(rng)
    with pytest.raises(ValueError, match="differ in length"):
        align_poses(true[:5], true)
    with pytest.raises(ValueError, match=r"\[N, 4, 4\]"):
        align_poses(true[:, :3], true[:, :3])
    with pytest.raises(ValueError, match="no poses"):
        align_poses(true[:0], true[:0])
    same = true.copy()
    same[:, :3, 3] = 1.0
    with pytest.raises(ValueError, match="coincide"):
        align_poses(same, true)


def test_permuted_frames_are_detected_as_large_errors():
    """Frames correspond by index; a shuffled estimate must not align well."""
    rng = np.random.default_rng(8)
    true = curved_path(rng)
    est = to_estimate(true, *similarity(rng))
    res = align_poses(est[rng.permutation(len(est))], true)
    assert res["rot_err_deg_mean"] > 20 and res["pos_err_pct_mean"] > 5


def test_relative_rotation_errors_zero_for_similarity_copy_and_pair_counts():
    rng = np.random.default_rng(9)
    true = curved_path(rng, n=9)
    est = to_estimate(true, *similarity(rng))
    all_pairs = relative_rotation_errors(est, true)
    assert all_pairs.shape == (36,)
    assert all_pairs.max() < 1e-7
    cons = relative_rotation_errors(est, true, consecutive=True)
    assert cons.shape == (8,) and cons.max() < 1e-7
    # One frame rotated by 2 deg: its 8 pairs show exactly 2 deg, the others 0.
    est[4, :3, :3] = est[4, :3, :3] @ rot_about([0, 1, 0], 2.0)
    errs = relative_rotation_errors(est, true)
    np.testing.assert_allclose(np.sort(errs)[-8:], 2.0, atol=1e-9)
    assert np.sort(errs)[-9] < 1e-7
    assert relative_rotation_errors(est[:1], true[:1]).shape == (0,)
    with pytest.raises(ValueError, match="differ in length"):
        relative_rotation_errors(est[:3], true)
