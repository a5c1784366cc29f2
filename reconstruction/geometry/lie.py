"""SO(3) / SE(3) exponential and logarithm maps: the one Lie-algebra module of sharpsplat.

Conventions (fixed; everything in the project uses them):

- ``phi`` (so(3)): axis-angle 3-vector, ``[..., 3]``, angle ``|phi|`` in radians, right-hand rule.
- ``xi`` (se(3)): 6-vector ``xi = (rho, phi)``: the FIRST three entries are the translation part ``rho``,
  the LAST three the rotation part ``phi``. ``se3_exp(xi) = [[R, V rho], [0, 1]]`` with ``R = so3_exp(phi)``
  and ``V`` the left Jacobian of SO(3), so ``rho`` equals the translation only when ``phi = 0``.
- Matrices are ``[..., 3, 3]`` (rotations) and ``[..., 4, 4]`` (rigid transforms); any batch shape.

All torch functions are differentiable, batched, and numerically safe: closed forms switch to Taylor series
for small angles (switched with the "safe input" pattern so that gradients stay finite at exactly 0),
and ``so3_log`` takes the axis from the symmetric part of ``R`` near ``pi``, where the antisymmetric part
vanishes. Formulas: Barfoot, *State Estimation for Robotics* (2017), sections 7.1.3-7.1.5; Taylor
coefficients from the series of sin and cos.

Numpy wrappers (``*_np``) run the same code in float64 for data generation.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "so3_hat",
    "so3_vee",
    "so3_exp",
    "so3_log",
    "se3_exp",
    "se3_log",
    "se3_inverse",
    "so3_exp_np",
    "so3_log_np",
    "se3_exp_np",
    "se3_log_np",
]

# Below these squared angles the closed forms lose precision (cancellation in 1 - cos, theta - sin) and
# the Taylor series (truncated after the theta^4 term) are accurate to float64 round-off.
_SMALL_THETA2 = 1e-4
# Above this angle (cos theta < -0.9), the antisymmetric part of R is too small to give the axis reliably.
_NEAR_PI_COS = -0.9


def so3_hat(phi: torch.Tensor) -> torch.Tensor:
    """``[..., 3]`` -> skew-symmetric ``[..., 3, 3]`` with ``hat(a) @ b = cross(a, b)``."""
    x, y, z = phi.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*phi.shape[:-1], 3, 3)


def so3_vee(m: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`so3_hat` for ``[..., 3, 3]`` (uses the antisymmetric part)."""
    return 0.5 * torch.stack(
        [m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], dim=-1
    )


def _coefficients(theta2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``A = sin t / t``, ``B = (1 - cos t) / t^2``, ``C = (t - sin t) / t^3`` as functions of ``t^2``."""
    small = theta2 < _SMALL_THETA2
    t2s = torch.where(small, torch.ones_like(theta2), theta2)  # safe input for the closed form
    t = torch.sqrt(t2s)
    s, c = torch.sin(t), torch.cos(t)
    a_big, b_big, c_big = s / t, (1.0 - c) / t2s, (t - s) / (t2s * t)
    t4 = theta2 * theta2
    a_small = 1.0 - theta2 / 6.0 + t4 / 120.0
    b_small = 0.5 - theta2 / 24.0 + t4 / 720.0
    c_small = 1.0 / 6.0 - theta2 / 120.0 + t4 / 5040.0
    return (
        torch.where(small, a_small, a_big),
        torch.where(small, b_small, b_big),
        torch.where(small, c_small, c_big),
    )


def so3_exp(phi: torch.Tensor) -> torch.Tensor:
    """Rodrigues: axis-angle ``[..., 3]`` -> rotation matrix ``[..., 3, 3]``."""
    theta2 = (phi * phi).sum(-1)
    a, b, _ = _coefficients(theta2)
    k = so3_hat(phi)
    eye = torch.eye(3, dtype=phi.dtype, device=phi.device).expand_as(k)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def _left_jacobian(phi: torch.Tensor) -> torch.Tensor:
    theta2 = (phi * phi).sum(-1)
    _, b, c = _coefficients(theta2)
    k = so3_hat(phi)
    eye = torch.eye(3, dtype=phi.dtype, device=phi.device).expand_as(k)
    return eye + b[..., None, None] * k + c[..., None, None] * (k @ k)


def _left_jacobian_inverse(phi: torch.Tensor) -> torch.Tensor:
    """``J^-1 = I - K/2 + D K^2`` with ``D = (1 - (t/2) cot(t/2)) / t^2`` (valid for ``t < 2 pi``)."""
    theta2 = (phi * phi).sum(-1)
    small = theta2 < _SMALL_THETA2
    t2s = torch.where(small, torch.ones_like(theta2), theta2)
    half = 0.5 * torch.sqrt(t2s)
    d_big = (1.0 - half * torch.cos(half) / torch.sin(half)) / t2s
    d_small = 1.0 / 12.0 + theta2 / 720.0 + theta2 * theta2 / 30240.0
    d = torch.where(small, d_small, d_big)
    k = so3_hat(phi)
    eye = torch.eye(3, dtype=phi.dtype, device=phi.device).expand_as(k)
    return eye - 0.5 * k + d[..., None, None] * (k @ k)


def so3_log(r: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``[..., 3, 3]`` -> axis-angle ``[..., 3]`` with angle in ``[0, pi]``.

    Exact for proper rotations; for slightly non-orthogonal input the result is the log of a nearby rotation.
    At exactly ``pi`` the sign of the axis is arbitrary (both are correct).
    """
    w = so3_vee(r)  # = sin(t) * axis
    s2 = (w * w).sum(-1)  # sin^2 t
    cos_t = ((r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2] - 1.0) * 0.5).clamp(-1.0, 1.0)

    # Regular branch: t = atan2(|w|, cos t), phi = w * t / sin t. Small-angle series in s = sin t:
    # t / sin t = asin(s) / s = 1 + s^2/6 + 3 s^4/40 (cos t > 0 there).
    small = (s2 < _SMALL_THETA2) & (cos_t > 0)
    s2_safe = torch.where(small, torch.ones_like(s2), s2)
    s = torch.sqrt(s2_safe)
    ratio_big = torch.atan2(s, cos_t) / s
    ratio_small = 1.0 + s2 / 6.0 + 3.0 * s2 * s2 / 40.0
    phi_regular = w * torch.where(small, ratio_small, ratio_big)[..., None]

    # Near pi: (R + R^T)/2 = cos t I + (1 - cos t) a a^T; take the column with the largest diagonal.
    near_pi = cos_t < _NEAR_PI_COS
    one_minus_c = torch.where(near_pi, 1.0 - cos_t, torch.full_like(cos_t, 2.0))
    sym = 0.5 * (r + r.transpose(-1, -2))
    eye = torch.eye(3, dtype=r.dtype, device=r.device)
    aat = (sym - cos_t[..., None, None] * eye) / one_minus_c[..., None, None]
    diag = torch.diagonal(aat, dim1=-2, dim2=-1)
    idx = diag.argmax(-1)
    col = torch.gather(aat, -1, idx[..., None, None].expand(*aat.shape[:-1], 1)).squeeze(-1)
    d_max = torch.gather(diag, -1, idx[..., None]).clamp_min(1e-12)  # >= 1/3 for a unit axis
    axis = col / torch.sqrt(d_max)
    sign = torch.where((axis * w).sum(-1) < 0, -1.0, 1.0).to(r.dtype)
    theta_pi = torch.atan2(torch.sqrt(s2 + 1e-30), cos_t)
    phi_pi = axis * (sign * theta_pi)[..., None]

    return torch.where(near_pi[..., None], phi_pi, phi_regular)


def se3_exp(xi: torch.Tensor) -> torch.Tensor:
    """``xi = (rho, phi)`` ``[..., 6]`` -> rigid transform ``[..., 4, 4]``."""
    rho, phi = xi[..., :3], xi[..., 3:]
    rot = so3_exp(phi)
    t = (_left_jacobian(phi) @ rho[..., None])[..., 0]
    top = torch.cat([rot, t[..., None]], dim=-1)
    bottom = torch.zeros(*xi.shape[:-1], 1, 4, dtype=xi.dtype, device=xi.device)
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


def se3_log(t: torch.Tensor) -> torch.Tensor:
    """Rigid transform ``[..., 4, 4]`` (or ``[..., 3, 4]``) -> ``xi = (rho, phi)`` ``[..., 6]``."""
    phi = so3_log(t[..., :3, :3])
    rho = (_left_jacobian_inverse(phi) @ t[..., :3, 3:4])[..., 0]
    return torch.cat([rho, phi], dim=-1)


def se3_inverse(t: torch.Tensor) -> torch.Tensor:
    """Inverse of rigid transforms ``[..., 4, 4]`` using ``R^T`` (no general matrix inverse)."""
    rt = t[..., :3, :3].transpose(-1, -2)
    trans = -(rt @ t[..., :3, 3:4])
    out = torch.zeros_like(t)
    out[..., :3, :3] = rt
    out[..., :3, 3:4] = trans
    out[..., 3, 3] = 1.0
    return out


def _np_wrap(fn):
    def wrapped(x: np.ndarray) -> np.ndarray:
        return fn(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()

    wrapped.__name__ = fn.__name__ + "_np"
    wrapped.__doc__ = f"Numpy float64 version of :func:`{fn.__name__}` (same conventions)."
    return wrapped


so3_exp_np = _np_wrap(so3_exp)
so3_log_np = _np_wrap(so3_log)
se3_exp_np = _np_wrap(se3_exp)
se3_log_np = _np_wrap(se3_log)
