"""EWA projection of 3-D Gaussians to screen-space 2-D Gaussians, batched over cameras (pure PyTorch).

The maths is gsplat 1.5.3's pinhole ``fully_fused_projection`` (``ProjectionEWA3DGSFused.cu``, ``Utils.cuh``),
itself the EWA splatting of Zwicker et al. 2002 as used by 3DGS (Kerbl et al. 2023):

* ``Sigma = R S S^T R^T`` with ``R`` from the normalised quaternion ``(w, x, y, z)``;
* camera frame ``t = R_v mu + t_v``; culled when ``t_z < near_plane`` or ``t_z > far_plane``;
* Jacobian of the pinhole at ``t`` with ``t_x / t_z`` clamped to 1.3x the half field of view (gsplat's
  ``lim_x_pos`` etc.), ``Sigma_2d = J R_v Sigma R_v^T J^T``;
* low-pass ``Sigma_2d + eps2d I`` (``eps2d = 0.3`` px^2, gsplat's ``add_blur``), culled when its determinant
  is not positive; conic = inverse of the blurred covariance, stored ``(a, b, c)`` for ``[[a, b], [b, c]]``;
* culled when ``opacity < 1/255``; opacity-aware extent ``e = min(3.33, sqrt(2 ln(255 opacity)))`` (gsplat,
  after arXiv 2402.00525 section B.2), per-axis radii ``ceil(e sqrt(Sigma_2d[k, k]))`` in pixels;
* culled when that box lies entirely outside the image.

Means2d, conics and depths are differentiable w.r.t. means, quats, scales and viewmats through a hand-written
backward (:class:`_ProjectEWA`, tested against autograd of the same maths); its treatment of the clamped
Jacobian equals gsplat's ``persp_proj_vjp``. Radii are integers, without gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["ALPHA_THRESHOLD", "EPS2D", "Projected", "project_gaussians", "quat_to_rotmat"]

#: Smallest alpha that is composited, and smallest opacity that is projected (gsplat ``ALPHA_THRESHOLD``).
ALPHA_THRESHOLD = 1.0 / 255.0
#: Screen-space low-pass added to the 2-D covariance diagonal, px^2 (gsplat ``eps2d`` default).
EPS2D = 0.3
#: Upper bound of the extent in standard deviations (gsplat's ``extend = 3.33f``).
MAX_EXTENT_SIGMAS = 3.33


class Projected(NamedTuple):
    """Per-camera screen-space Gaussians, all ``[C, N, ...]``; entries with ``radii == 0`` are culled."""

    means2d: Tensor  # [C, N, 2] pixels, pixel centres at integer + 0.5
    conics: Tensor  # [C, N, 3] inverse blurred 2-D covariance (a, b, c), px^-2
    depths: Tensor  # [C, N] camera-frame z, world units
    radii: Tensor  # [C, N, 2] int32 per-axis radii in pixels, 0 where culled


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Rotation matrices ``[..., 3, 3]`` from quaternions ``[..., 4]`` (w, x, y, z) of any non-zero norm."""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


def _ewa(means, quats, scales, viewmats, Ks, width, height, eps2d, near_plane, far_plane):
    """The projection maths; returns (means2d, conics, z, a, c, det, intermediates for the backward)."""
    Rv = viewmats[:, :3, :3]  # [C, 3, 3]
    tv = viewmats[:, :3, 3]  # [C, 3]
    qn = quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    R = quat_to_rotmat(quats)  # [N, 3, 3]
    # M = R_q diag(s): Sigma = M M^T. W = R_v M gives the camera-frame covariance W W^T.
    M = R * scales[:, None, :]  # [N, 3, 3]
    W = torch.einsum("cij,njk->cnik", Rv, M)  # [C, N, 3, 3]
    p = torch.einsum("cij,nj->cni", Rv, means) + tv[:, None, :]  # [C, N, 3]
    x, y, z = p.unbind(-1)

    in_depth = (z >= near_plane) & (z <= far_plane)
    # Culled entries get a harmless z so that no inf/nan reaches the backward pass (0 * inf = nan).
    zs = torch.where(in_depth, z, torch.ones_like(z))
    rz = 1.0 / zs

    fx, fy = Ks[:, 0, 0, None], Ks[:, 1, 1, None]  # [C, 1]
    cx, cy = Ks[:, 0, 2, None], Ks[:, 1, 2, None]
    mean_x = fx * x * rz + cx
    mean_y = fy * y * rz + cy

    # gsplat clamps the Jacobian's evaluation point to 1.3x the half field of view.
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_x_pos = (width - cx) / fx + 0.3 * tan_fovx
    lim_x_neg = cx / fx + 0.3 * tan_fovx
    lim_y_pos = (height - cy) / fy + 0.3 * tan_fovy
    lim_y_neg = cy / fy + 0.3 * tan_fovy
    ux, uy = x * rz, y * rz
    tx = zs * torch.minimum(torch.maximum(ux, -lim_x_neg), lim_x_pos)
    ty = zs * torch.minimum(torch.maximum(uy, -lim_y_neg), lim_y_pos)

    # Rows of J W with J = [[fx/z, 0, -fx tx/z^2], [0, fy/z, -fy ty/z^2]].
    j00, j11 = fx * rz, fy * rz
    j02, j12 = -fx * tx * rz * rz, -fy * ty * rz * rz
    W0, W1, W2 = W[..., 0, :], W[..., 1, :], W[..., 2, :]  # [C, N, 3]
    r0 = j00[..., None] * W0 + j02[..., None] * W2
    r1 = j11[..., None] * W1 + j12[..., None] * W2
    a = (r0 * r0).sum(-1) + eps2d
    b = (r0 * r1).sum(-1)
    c = (r1 * r1).sum(-1) + eps2d
    det = a * c - b * b
    inv_det = 1.0 / torch.where(det > 0, det, torch.ones_like(det))
    conics = torch.stack([c * inv_det, -b * inv_det, a * inv_det], dim=-1)
    means2d = torch.stack([mean_x, mean_y], dim=-1)
    inside_x = (ux >= -lim_x_neg) & (ux <= lim_x_pos)
    inside_y = (uy >= -lim_y_neg) & (uy <= lim_y_pos)
    saved = (means, quats, qn, R, M, W, Rv, x, y, zs, rz, tx, ty, in_depth, inside_x, inside_y,
             j00, j02, j11, j12, r0, r1, a, b, c, inv_det, fx, fy)
    return means2d, conics, z, a, c, det, saved


class _ProjectEWA(torch.autograd.Function):
    """EWA projection with a hand-written backward (the chain rule of :func:`_ewa`, as gsplat's VJPs)."""

    @staticmethod
    def forward(ctx, means, quats, scales, viewmats, Ks, width, height, eps2d, near_plane, far_plane):
        means2d, conics, z, a, c, det, saved = _ewa(
            means, quats, scales, viewmats, Ks, width, height, eps2d, near_plane, far_plane
        )
        ctx.save_for_backward(*saved, scales)
        ctx.mark_non_differentiable(a, c, det)
        return means2d, conics, z, a, c, det

    @staticmethod
    def backward(ctx, g_m2, g_con, g_z, _ga, _gc, _gdet):
        (means, quats, qn, R, M, W, Rv, x, y, zs, rz, tx, ty, in_depth, inside_x, inside_y,
         j00, j02, j11, j12, r0, r1, a, b, c, inv_det, fx, fy, scales) = ctx.saved_tensors
        g_mx, g_my = g_m2.unbind(-1)
        g0, g1, g2 = g_con.unbind(-1)
        # conic = (c, -b, a) / det, det = a c - b^2 (zero gradient where det <= 0: inv_det was set to 1).
        id2 = inv_det * inv_det * (a * c - b * b > 0)
        ga = (-c * c * g0 + b * c * g1 - b * b * g2) * id2
        gb = (2 * b * c * g0 - (a * c + b * b) * g1 + 2 * a * b * g2) * id2
        gc = (-b * b * g0 + a * b * g1 - a * a * g2) * id2
        # a = r0.r0 + eps, b = r0.r1, c = r1.r1 + eps.
        g_r0 = 2 * ga[..., None] * r0 + gb[..., None] * r1
        g_r1 = 2 * gc[..., None] * r1 + gb[..., None] * r0
        W0, W1, W2 = W[..., 0, :], W[..., 1, :], W[..., 2, :]
        g_j00, g_j02 = (g_r0 * W0).sum(-1), (g_r0 * W2).sum(-1)
        g_j11, g_j12 = (g_r1 * W1).sum(-1), (g_r1 * W2).sum(-1)
        g_W = torch.stack(
            [j00[..., None] * g_r0, j11[..., None] * g_r1, j02[..., None] * g_r0 + j12[..., None] * g_r1],
            dim=-2,
        )  # [C, N, 3, 3]
        # Camera-frame mean: mean2d, J (through rz and the clamped tx, ty).
        rz2 = rz * rz
        rz3 = rz2 * rz
        g_x = fx * rz * g_mx - fx * rz2 * g_j02 * inside_x
        g_y = fy * rz * g_my - fy * rz2 * g_j12 * inside_y
        g_zs = (
            -fx * x * rz2 * g_mx - fy * y * rz2 * g_my - fx * rz2 * g_j00 - fy * rz2 * g_j11
            + 2 * fx * tx * rz3 * g_j02 + 2 * fy * ty * rz3 * g_j12
            - fx * tx * rz3 * g_j02 * ~inside_x - fy * ty * rz3 * g_j12 * ~inside_y
        )
        g_p = torch.stack([g_x, g_y, g_zs * in_depth + g_z], dim=-1)  # [C, N, 3]
        # p = R_v mu + t_v, W = R_v M.
        g_means = torch.einsum("cij,cni->nj", Rv, g_p)
        g_M = torch.einsum("cij,cnik->njk", Rv, g_W)
        g_Rv = torch.einsum("cni,nj->cij", g_p, means) + torch.einsum("cnik,njk->cij", g_W, M)
        g_view = torch.zeros(Rv.shape[0], 4, 4, dtype=Rv.dtype, device=Rv.device)
        g_view[:, :3, :3] = g_Rv
        g_view[:, :3, 3] = g_p.sum(1)
        # M = R diag(s); R from the normalised quaternion.
        g_scales = (g_M * R).sum(-2)
        G = g_M * scales[:, None, :]
        q = quats / qn
        w_, x_, y_, z_ = q.unbind(-1)
        G00, G01, G02, G10, G11, G12, G20, G21, G22 = G.reshape(-1, 9).unbind(-1)
        g_qn = 2 * torch.stack(
            [
                -z_ * G01 + y_ * G02 + z_ * G10 - x_ * G12 - y_ * G20 + x_ * G21,
                y_ * G01 + z_ * G02 + y_ * G10 - 2 * x_ * G11 - w_ * G12 + z_ * G20 + w_ * G21 - 2 * x_ * G22,
                -2 * y_ * G00 + x_ * G01 + w_ * G02 + x_ * G10 + z_ * G12 - w_ * G20 + z_ * G21 - 2 * y_ * G22,
                -2 * z_ * G00 - w_ * G01 + x_ * G02 + w_ * G10 - 2 * z_ * G11 + y_ * G12 + x_ * G20 + y_ * G21,
            ],
            dim=-1,
        )
        g_quats = (g_qn - q * (q * g_qn).sum(-1, keepdim=True)) / qn
        return g_means, g_quats, g_scales, g_view, None, None, None, None, None, None


def project_gaussians(
    means: Tensor,  # [N, 3]
    quats: Tensor,  # [N, 4]
    scales: Tensor,  # [N, 3]
    opacities: Tensor,  # [N]
    viewmats: Tensor,  # [C, 4, 4]
    Ks: Tensor,  # [C, 3, 3]
    width: int,
    height: int,
    *,
    eps2d: float = EPS2D,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    use_autograd: bool = False,
) -> Projected:
    """Project N Gaussians into C pinhole cameras (world-to-camera ``viewmats``, OpenCV axes; ``Ks``, px).

    Gradients flow to means, quats, scales and viewmats through a hand-written backward (one autograd node);
    ``Ks`` gets none (as in gsplat). ``use_autograd=True`` runs the same maths as plain autograd operations
    instead (slower; the reference the tests compare against, and it also differentiates ``Ks``).
    """
    args = (width, height, eps2d, near_plane, far_plane)
    if use_autograd:
        means2d, conics, z, a, c, det = _ewa(means, quats, scales, viewmats, Ks, *args)[:6]
    else:
        means2d, conics, z, a, c, det = _ProjectEWA.apply(means, quats, scales, viewmats, Ks, *args)
    with torch.no_grad():
        a, c = a.detach(), c.detach()
        op = opacities.detach().to(a.dtype).expand_as(a)
        extent = torch.sqrt(2.0 * torch.log(op.clamp_min(ALPHA_THRESHOLD) / ALPHA_THRESHOLD))
        extent = extent.clamp_max(MAX_EXTENT_SIGMAS)
        rx = torch.ceil(extent * a.clamp_min(0).sqrt())
        ry = torch.ceil(extent * c.clamp_min(0).sqrt())
        mx, my = means2d.detach().unbind(-1)
        zd = z.detach()
        valid = (zd >= near_plane) & (zd <= far_plane) & (det.detach() > 0) & (op >= ALPHA_THRESHOLD)
        valid &= (mx + rx > 0) & (mx - rx < width) & (my + ry > 0) & (my - ry < height)
        valid &= (rx > 0) | (ry > 0)
        radii = torch.stack([rx, ry], dim=-1) * valid[..., None]
        radii = radii.nan_to_num(0.0).to(torch.int32)
    return Projected(means2d, conics, z, radii)
