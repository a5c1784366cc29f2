"""SO(3)/SE(3) exp/log: known answers, round trips, small angles, angles near pi, finite gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from reconstruction.geometry.lie import (
    se3_exp,
    se3_exp_np,
    se3_inverse,
    se3_log,
    se3_log_np,
    so3_exp,
    so3_exp_np,
    so3_hat,
    so3_log,
    so3_vee,
)


def _random_phi(n: int, gen: torch.Generator, lo: float, hi: float) -> torch.Tensor:
    axis = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    angle = lo + (hi - lo) * torch.rand(n, 1, generator=gen, dtype=torch.float64)
    return axis * angle


def test_hat_vee_and_known_rotation() -> None:
    a = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    b = torch.tensor([1.0, 0.5, -0.7], dtype=torch.float64)
    assert torch.allclose(so3_hat(a) @ b, torch.linalg.cross(a, b))
    assert torch.allclose(so3_vee(so3_hat(a)), a)
    # 90 degrees about z maps x to y.
    r = so3_exp(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    assert torch.allclose(
        r @ torch.tensor([1.0, 0, 0], dtype=torch.float64), torch.tensor([0.0, 1, 0]).double()
    )


def test_so3_matches_scipy() -> None:
    gen = torch.Generator().manual_seed(0)
    phi = _random_phi(200, gen, 0.0, math.pi - 1e-3)
    ours = so3_exp(phi).numpy()
    ref = Rotation.from_rotvec(phi.numpy()).as_matrix()
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    np.testing.assert_allclose(so3_log(torch.as_tensor(ref)).numpy(), phi.numpy(), atol=1e-9)


@pytest.mark.parametrize("lo,hi", [(0.0, 1e-8), (1e-8, 1e-3), (1e-3, 3.0), (3.0, math.pi - 1e-7)])
def test_so3_round_trip(lo: float, hi: float) -> None:
    gen = torch.Generator().manual_seed(1)
    phi = _random_phi(300, gen, lo, hi)
    back = so3_log(so3_exp(phi))
    torch.testing.assert_close(back, phi, atol=1e-9 if hi > 3.0 else 1e-12, rtol=0)


def test_so3_exactly_zero_and_pi() -> None:
    zero = torch.zeros(3, dtype=torch.float64)
    assert torch.equal(so3_exp(zero), torch.eye(3, dtype=torch.float64))
    assert torch.equal(so3_log(torch.eye(3, dtype=torch.float64)), zero)
    for axis in ([1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 2.0, -2.0]):
        a = torch.tensor(axis, dtype=torch.float64)
        phi = a / a.norm() * math.pi
        back = so3_log(so3_exp(phi))
        # At exactly pi, +axis and -axis are the same rotation.
        assert torch.allclose(back, phi, atol=1e-7) or torch.allclose(back, -phi, atol=1e-7)
        assert abs(back.norm().item() - math.pi) < 1e-7
        assert torch.allclose(so3_exp(back), so3_exp(phi), atol=1e-12)


def test_float32_near_pi_and_small() -> None:
    gen = torch.Generator().manual_seed(2)
    for lo, hi, tol in [(3.1, math.pi - 1e-4, 2e-4), (1e-6, 1e-3, 1e-7)]:
        phi = _random_phi(100, gen, lo, hi).float()
        torch.testing.assert_close(so3_log(so3_exp(phi)), phi, atol=tol, rtol=0)


def test_se3_known_answer_and_round_trip() -> None:
    # Pure translation: rho is the translation.
    xi = torch.tensor([1.0, -2.0, 3.0, 0, 0, 0], dtype=torch.float64)
    t = se3_exp(xi)
    assert torch.equal(t[:3, :3], torch.eye(3, dtype=torch.float64))
    assert torch.allclose(t[:3, 3], xi[:3])
    # Screw motion: rotate by pi/2 about z while advancing 1 along z; rho = (0, 0, 1) gives t = (0, 0, 1).
    t2 = se3_exp(torch.tensor([0, 0, 1.0, 0, 0, math.pi / 2], dtype=torch.float64))
    assert torch.allclose(t2[:3, 3], torch.tensor([0, 0, 1.0], dtype=torch.float64))
    gen = torch.Generator().manual_seed(3)
    for lo, hi in [(0.0, 1e-7), (1e-4, 2.0), (3.0, math.pi - 1e-6)]:
        phi = _random_phi(200, gen, lo, hi)
        rho = torch.randn(200, 3, generator=gen, dtype=torch.float64)
        xi = torch.cat([rho, phi], -1)
        torch.testing.assert_close(se3_log(se3_exp(xi)), xi, atol=1e-7, rtol=0)
    assert se3_exp(torch.zeros(5, 7, 6)).shape == (5, 7, 4, 4)


def test_se3_inverse_and_numpy_wrappers() -> None:
    rng = np.random.default_rng(0)
    xi = rng.normal(size=(10, 6))
    t = se3_exp_np(xi)
    assert t.dtype == np.float64 and t.shape == (10, 4, 4)
    np.testing.assert_allclose(
        t @ se3_inverse(torch.as_tensor(t)).numpy(), np.broadcast_to(np.eye(4), t.shape), atol=1e-12
    )
    np.testing.assert_allclose(se3_log_np(t), xi, atol=1e-10)
    np.testing.assert_allclose(so3_exp_np(xi[:, 3:]), t[:, :3, :3], atol=1e-15)


def test_gradients_finite_at_zero_and_near_pi() -> None:
    for scale in (0.0, 1e-9, 1.0, math.pi - 1e-6):
        base = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)
        phi = (base / base.norm() * scale).requires_grad_(True)
        xi = (
            torch.cat([torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64), phi]).detach().requires_grad_(True)
        )
        (so3_exp(phi).sum() + se3_exp(xi).square().sum()).backward()
        assert torch.isfinite(phi.grad).all() and torch.isfinite(xi.grad).all()
        r = so3_exp(phi.detach()).requires_grad_(True)
        so3_log(r).sum().backward()
        assert torch.isfinite(r.grad).all()
        tm = se3_exp(xi.detach()).requires_grad_(True)
        se3_log(tm).sum().backward()
        assert torch.isfinite(tm.grad).all()


def test_gradient_at_zero_is_correct() -> None:
    # d/dphi of exp(phi) @ v at phi = 0 is -hat(v): check against the analytic derivative.
    v = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    phi = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda p: so3_exp(p) @ v, phi)
    torch.testing.assert_close(jac, -so3_hat(v))
    # And the log is the identity map to first order around the identity rotation.
    assert torch.autograd.gradcheck(
        lambda p: so3_log(so3_exp(p)), (torch.full((3,), 1e-7, dtype=torch.float64, requires_grad=True),)
    )
    assert torch.autograd.gradcheck(se3_exp, (torch.randn(2, 6, dtype=torch.float64, requires_grad=True),))
