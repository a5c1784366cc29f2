"""Front-to-back alpha compositing of depth-sorted, tile-binned Gaussians with a hand-written backward.

Per tile, pixel ``p`` and the tile's depth-sorted Gaussians ``i`` (gsplat 1.5.3
``rasterize_to_pixels_3dgs_fwd``)::

    log a_pi = F_p . K_i                       (6 pixel features x 6 Gaussian coefficients, one matmul)
    alpha_pi = min(0.999, exp(log a_pi)),  0 when below 1/255
    T_pi     = prod_{j < i} (1 - alpha_pj);  Gaussian i is composited while T_pi (1 - alpha_pi) > 1e-4
    w_pi     = alpha_pi T_pi;                out_p = sum_i w_pi c_i  (c_i: colour channels and a 1 for alpha)

``F_p = (1, u, v, u^2, v^2, u v)`` with ``(u, v)`` the pixel centre relative to the tile centre (float32
precision), and ``K_i`` holds ``log(opacity)`` minus the quadratic form of the conic, expanded around the tile
centre (:func:`gaussian_coefficients`).

Backward (closed form, no autograd graph): with ``e_pi = c_i . g_p`` (``g_p = dL/dout_p``),
``dL/dalpha_pi = T_pi e_pi - S_pi / (1 - alpha_pi)``, ``S_pi = sum_{j > i} e_pj w_pj`` (what lies behind),
from a cumulative sum within each chunk plus a running sum over the chunks behind (chunks visited back to
front, so S is exactly 0 behind a terminated pixel). ``d alpha / d log a = alpha`` except where the 0.999
clamp or the 1/255 cut applies (zero there, as in gsplat's backward); terminated Gaussians get no gradient.

The work runs over depth chunks of ``chunk`` Gaussians (cache blocking, FINDINGS.md); chunk ``j`` only visits
the tiles whose list is that long (:mod:`reconstruction.splats.render.tiles` ranks tiles by length), and skips tiles
whose every pixel has terminated (halves the time of an opaque 20k-Gaussian scene, measured). Memory: three
float tensors of ``n_slots x tile_size^2`` are kept for the backward.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from .projection import ALPHA_THRESHOLD

__all__ = ["MAX_ALPHA", "TRANSMITTANCE_MIN", "composite", "gaussian_coefficients", "pixel_features"]

#: Largest alpha of one Gaussian (gsplat ``min(0.999f, ...)``).
MAX_ALPHA = 0.999
#: A pixel stops at the Gaussian that would bring its transmittance to this or below (gsplat ``1e-4f``).
TRANSMITTANCE_MIN = 1e-4
#: Log-alpha of an empty slot and floor of all log-alphas: exp(-20) is far below 1/255, and the floor keeps
#: float32 exp away from denormals (12-35x slower, FINDINGS.md).
LOG_ALPHA_FLOOR = -20.0


def pixel_features(tile_size: int, dtype: torch.dtype, device: torch.device | str) -> Tensor:
    """``[tile_size^2, 6]`` features (1, u, v, u^2, v^2, uv) of the pixel centres of a tile, row-major."""
    return _pixel_features64(tile_size).to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=8)
def _pixel_features64(tile_size: int) -> Tensor:
    with torch.inference_mode(False), torch.no_grad():  # a normal tensor even if first built in inference
        c = torch.arange(tile_size, dtype=torch.float64) + 0.5 - tile_size / 2.0
        v, u = torch.meshgrid(c, c, indexing="ij")
        u, v = u.reshape(-1), v.reshape(-1)
        return torch.stack([torch.ones_like(u), u, v, u * u, v * v, u * v], dim=-1)


def gaussian_coefficients(mean_rel: Tensor, conics: Tensor, log_opacity: Tensor) -> Tensor:
    """``[M, 6]`` coefficients K with ``F_p . K = log(opacity) - power`` at every pixel of a tile.

    ``mean_rel`` ``[M, 2]`` is the 2-D mean relative to the tile centre, ``conics`` ``[M, 3]`` (a, b, c) and
    ``power = a dx^2 / 2 + b dx dy + c dy^2 / 2`` (gsplat's ``sigma``) with ``d = mean - pixel``.
    """
    mx, my = mean_rel.unbind(-1)
    a, b, c = conics.unbind(-1)
    amx, bmy, cmy, bmx = a * mx, b * my, c * my, b * mx
    k0 = log_opacity - (0.5 * amx * mx + bmy * mx + 0.5 * cmy * my)
    return torch.stack([k0, amx + bmy, cmy + bmx, -0.5 * a, -0.5 * c, -b], dim=-1)


def _coefficients_vjp(mean_rel: Tensor, conics: Tensor, k: Tensor, d_k: Tensor) -> Tensor:
    """Gradient ``[M, 6]`` w.r.t. (mean x, mean y, a, b, c, log opacity) of :func:`gaussian_coefficients`."""
    mx, my = mean_rel.unbind(-1)
    a, b, c = conics.unbind(-1)
    d0, d1, d2, d3, d4, d5 = d_k.unbind(-1)
    return torch.stack(
        [
            a * d1 + b * d2 - k[:, 1] * d0,
            b * d1 + c * d2 - k[:, 2] * d0,
            mx * d1 - 0.5 * (mx * mx * d0 + d3),
            my * d1 + mx * d2 - mx * my * d0 - d5,
            my * d2 - 0.5 * (my * my * d0 + d4),
            d0,
        ],
        dim=-1,
    )


@dataclass
class CompositePlan:
    """Slot layout (from :class:`~reconstruction.splats.render.tiles.TileBins`) and options."""

    n_tiles: int  # tiles with at least one Gaussian
    chunk: int  # Gaussians per depth chunk
    chunk_tiles: list[int]  # tiles that reach chunk j
    chunk_offsets: list[int]  # first slot of chunk j
    slot_gauss: Tensor  # [n_slots] row of the table feeding each slot
    slot_centre: Tensor  # [n_slots, 2] centre of the slot's tile, pixels
    clamp_alpha: bool = True  # False when no opacity exceeds 0.999: the 0.999 clamp can never bind
    timings: dict[str, float] | None = field(default=None)


@contextmanager
def _one_thread():
    """Run the compositor's small (batched) matmuls single-threaded; the elementwise passes keep all threads.

    Measured on the busy 2-core machine with 2 threads and GNU OpenMP's default (busy-wait) policy: one
    ``bmm`` of [300, 32, 4] x [300, 4, 64] took 12 ms instead of 0.15 ms, and a tiny render 64 ms instead of
    17 ms. With ``OMP_WAIT_POLICY=PASSIVE`` both choices measure the same.
    """
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: Tensor, feats: Tensor, plan: CompositePlan) -> Tensor:
        t0 = time.perf_counter()
        P, ch, L = feats.shape[0], table.shape[1] - 6, plan.chunk
        slots = table.index_select(0, plan.slot_gauss)  # [S, 6 + ch]
        mean_rel = slots[:, 0:2] - plan.slot_centre
        coeffs = gaussian_coefficients(mean_rel, slots[:, 2:5], slots[:, 5])  # [S, 6]
        colors = slots[:, 6:].contiguous()  # [S, ch]
        acc = table.new_zeros(plan.n_tiles, ch, P)
        t_carry = table.new_ones(plan.n_tiles, P)
        feats_t = feats.t().contiguous()  # [6, P]
        saved = []
        live = None  # ranks of the tiles still open when some have terminated, else None (all open)
        for j, (n, o) in enumerate(zip(plan.chunk_tiles, plan.chunk_offsets, strict=True)):
            K = coeffs[o : o + n * L].view(n, L, 6)
            Cc = colors[o : o + n * L].view(n, L, ch)
            idx = None if live is None else live[: int(torch.searchsorted(live, n))]
            if idx is not None:  # skip tiles whose every pixel has terminated
                if idx.numel() == 0:
                    saved.append((None, None, None, idx))
                    continue
                K, Cc, carry = K.index_select(0, idx), Cc.index_select(0, idx), t_carry.index_select(0, idx)
            else:
                carry = t_carry[:n]
            m = K.shape[0]
            with _one_thread():
                alpha = torch.mm(K.reshape(m * L, 6), feats_t).view(m, L, P)  # log-alpha
            alpha.clamp_(LOG_ALPHA_FLOOR, 0.0).exp_()
            if plan.clamp_alpha:
                alpha.clamp_max_(MAX_ALPHA)
            F.threshold(alpha, ALPHA_THRESHOLD, 0.0, inplace=True)
            w = torch.sub(1.0, alpha)  # 1 - alpha, then reused for the weights
            t_in = torch.cumprod(w, dim=1)  # transmittance after each Gaussian
            if j:
                t_in.mul_(carry[:, None, :])
            F.threshold(t_in, TRANSMITTANCE_MIN, 0.0, inplace=True)  # 0 from the terminating Gaussian on
            ratio = alpha.div_(w)  # alpha / (1 - alpha)
            torch.mul(t_in, ratio, out=w)  # alpha T_before where composited, else 0
            with _one_thread():
                if idx is None:
                    acc[:n].baddbmm_(Cc.transpose(1, 2), w)
                    t_carry[:n] = t_in[:, -1, :]
                else:
                    acc.index_add_(0, idx, torch.bmm(Cc.transpose(1, 2), w))
                    t_carry.index_copy_(0, idx, t_in[:, -1, :])
            if ctx.needs_input_grad[0]:
                saved.append((w, ratio, t_in, idx))
            if j + 1 < len(plan.chunk_tiles):
                open_tiles = t_carry[: plan.chunk_tiles[j + 1]].amax(1) > 0
                if live is not None or not bool(open_tiles.all()):
                    live = torch.nonzero(open_tiles).squeeze(1)
        ctx.plan = plan
        ctx.saved_chunks = saved
        ctx.save_for_backward(table, slots, mean_rel, coeffs, colors, feats)
        _add_time(plan, "composite_forward", t0)
        return acc

    @staticmethod
    def backward(ctx, g_acc: Tensor):
        t0 = time.perf_counter()
        table, slots, mean_rel, coeffs, colors, feats = ctx.saved_tensors
        plan: CompositePlan = ctx.plan
        L, ch, P, S = plan.chunk, colors.shape[1], feats.shape[0], colors.shape[0]
        g_acc = g_acc.contiguous()
        running = g_acc.new_zeros(plan.n_tiles, P)  # sum of e w over the chunks behind
        skipped = any(c[3] is not None for c in ctx.saved_chunks)
        new = g_acc.new_zeros if skipped else g_acc.new_empty  # skipped tiles get no gradient
        d_coeffs_t = new(6, S)
        d_colors = new(S, ch)
        feats_t = feats.t().contiguous()
        clamp_limit = MAX_ALPHA / (1.0 - MAX_ALPHA) * (1 - 1e-6)
        chunks = list(zip(plan.chunk_tiles, plan.chunk_offsets, ctx.saved_chunks, strict=True))
        for n, o, (w, ratio, t_in, idx) in reversed(chunks):  # back to front: exact zeros behind terminations
            Cc = colors[o : o + n * L].view(n, L, ch)
            if idx is None:
                G, run = g_acc[:n], running[:n]  # G: [n, ch, P]
            elif idx.numel() == 0:
                continue
            else:
                G, run, Cc = g_acc.index_select(0, idx), running.index_select(0, idx), Cc.index_select(0, idx)
            m = Cc.shape[0]
            with _one_thread():
                e = torch.bmm(Cc, G)  # [m, L, P]: c_i . g_p
                d_c = torch.bmm(w, G.transpose(1, 2))  # [m, L, ch]
            cs = torch.cumsum(e * w, dim=1)
            behind = run.add_(cs[:, -1, :])  # everything from this chunk on
            g_log = torch.sub(cs, behind[:, None, :], out=cs)  # -S_i: minus what lies behind i
            g_log.addcmul_(e, t_in).mul_(ratio)  # (T_i e_i - S_i) alpha_i / (1 - alpha_i)
            if plan.clamp_alpha:
                g_log.mul_(ratio < clamp_limit)  # no gradient through the 0.999 clamp (as gsplat)
            with _one_thread():
                d_k = torch.mm(feats_t, g_log.view(m * L, P).t()).view(6, m, L)
            if idx is None:
                d_coeffs_t[:, o : o + n * L] = d_k.view(6, n * L)
                d_colors[o : o + n * L] = d_c.view(n * L, ch)
            else:
                running.index_copy_(0, idx, behind)
                d_coeffs_t[:, o : o + n * L].view(6, n, L).index_copy_(1, idx, d_k)
                d_colors[o : o + n * L].view(n, L, ch).index_copy_(0, idx, d_c)
        ctx.saved_chunks = None
        d_slots = torch.cat(
            [_coefficients_vjp(mean_rel, slots[:, 2:5], coeffs, d_coeffs_t.t()), d_colors], dim=1
        )
        d_table = torch.zeros_like(table).index_add_(0, plan.slot_gauss, d_slots)
        _add_time(plan, "composite_backward", t0)
        return d_table, None, None


def _add_time(plan: CompositePlan, key: str, t0: float) -> None:
    if plan.timings is not None:
        plan.timings[key] = plan.timings.get(key, 0.0) + (time.perf_counter() - t0)


def composite(table: Tensor, feats: Tensor, plan: CompositePlan) -> Tensor:
    """Composite the plan's slots front to back; returns ``[n_tiles, ch, P]`` sums ``sum_i w_pi colors_i``.

    ``table`` ``[G, 6 + ch]`` holds one row per (camera, Gaussian): mean x, mean y (pixels), conic a, b, c,
    log opacity, then ``ch`` channels; ``plan.slot_gauss`` picks a row per slot. Rows for empty slots must
    have a log opacity <= ``LOG_ALPHA_FLOOR`` and zeros elsewhere. Differentiable w.r.t. ``table``.
    """
    return _Composite.apply(table.contiguous(), feats.contiguous(), plan)
