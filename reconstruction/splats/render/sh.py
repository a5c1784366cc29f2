"""Real spherical harmonics up to degree 4, with gsplat 1.5.3's basis order, signs and constants.

The polynomial forms are those of P.-P. Sloan, "Efficient Spherical Harmonic Evaluation", JCGT 2013, as used
by gsplat's ``sh_coeffs_to_color_fast`` (``SphericalHarmonicsCUDA.cu``) and by the 3DGS reference code. The
direction is normalised first; coefficient ``k`` multiplies basis ``k`` (``K = (degree + 1)^2`` bases).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["eval_sh", "sh_bases"]

_C0 = 0.2820947917738781
_C1 = 0.48860251190292


def sh_bases(degree: int, dirs: Tensor) -> Tensor:
    """SH basis values ``[..., (degree+1)^2]`` at directions ``[..., 3]`` (any non-zero length)."""
    if not 0 <= degree <= 4:
        raise ValueError(f"sh_degree must be in 0..4, got {degree}")
    out = [torch.full_like(dirs[..., 0], _C0)]
    if degree >= 1:
        d = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        x, y, z = d.unbind(-1)
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        z2 = z * z
        c1 = x * x - y * y  # cos(2 phi) part
        s1 = 2.0 * x * y  # sin(2 phi) part
        tb = -1.092548430592079 * z
        sh6 = 0.9461746957575601 * z2 - 0.3153915652525201
        out += [0.5462742152960395 * s1, tb * y, sh6, tb * x, 0.5462742152960395 * c1]
    if degree >= 3:
        tc = -2.285228997322329 * z2 + 0.4570457994644658
        tb3 = 1.445305721320277 * z
        c2 = x * c1 - y * s1
        s2 = x * s1 + y * c1
        sh12 = z * (1.865881662950577 * z2 - 1.119528997770346)
        out += [-0.5900435899266435 * s2, tb3 * s1, tc * y, sh12, tc * x, tb3 * c1, -0.5900435899266435 * c2]
    if degree >= 4:
        td = z * (-4.683325804901025 * z2 + 2.007139630671868)
        tc4 = 3.31161143515146 * z2 - 0.47308734787878
        tb4 = -1.770130769779931 * z
        c3 = x * c2 - y * s2
        s3 = x * s2 + y * c2
        sh20 = 1.984313483298443 * z * sh12 - 1.006230589874905 * sh6
        out += [
            0.6258357354491763 * s3, tb4 * s2, tc4 * s1, td * y, sh20,
            td * x, tc4 * c1, tb4 * c2, 0.6258357354491763 * c3,
        ]
    return torch.stack(out, dim=-1)


def eval_sh(degree: int, dirs: Tensor, coeffs: Tensor) -> Tensor:
    """Colour ``[..., 3]`` = sum_k basis_k(dirs) * coeffs[..., k, :], using the first ``(degree+1)^2`` coeffs.

    ``dirs`` is ``[..., 3]``; ``coeffs`` is ``[..., K, 3]`` (broadcastable to ``dirs``' batch shape) with
    ``K >= (degree + 1)^2``. No offset or clamp here: gsplat adds 0.5 and clamps at 0 in ``rasterization``.
    """
    n = (degree + 1) ** 2
    if coeffs.shape[-2] < n:
        raise ValueError(f"sh_degree={degree} needs {n} SH coefficients per Gaussian, got {coeffs.shape[-2]}")
    bases = sh_bases(degree, dirs)  # [..., n]
    return (bases[..., :, None] * coeffs[..., :n, :]).sum(-2)
