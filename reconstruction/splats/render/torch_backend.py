"""Pure-PyTorch rasterizer backend: EWA projection, tile binning, chunked front-to-back compositing.

Same maths as gsplat 1.5.3 ``rasterization`` in classic mode with ``packed=False``; runs on any device
PyTorch supports (written and tuned for the CPU). Differentiable w.r.t. means, quats, scales, opacities,
colours/SH, backgrounds and ``viewmats`` (not ``Ks``, as gsplat). Never builds a pixels x all-Gaussians tensor:
the work scales with the (pixel, Gaussian) pairs of tiles that a Gaussian's 1/255 ellipse reaches, padded to
a multiple of the depth chunk per tile.

Stages: :func:`~.projection.project_gaussians` (one autograd node with a hand-written backward), colours
(SH through autograd), :func:`~.tiles.bin_gaussians` (no gradient), :func:`~.composite.composite` (one
autograd node with a hand-written backward), then the tiles are assembled into images.

Speed (``scripts/bench_render.py``, 5,000 Gaussians, 128x96, forward + backward): about 35 ms of CPU time
per iteration on the project's 2-core machine; see the benchmark for the split and the scaling.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import torch
from torch import Tensor

from .composite import (
    LOG_ALPHA_FLOOR,
    MAX_ALPHA,
    CompositePlan,
    composite,
    pixel_features,
)
from .projection import EPS2D, project_gaussians
from .sh import eval_sh
from .tiles import bin_gaussians

__all__ = ["DEFAULT_CHUNK", "DEFAULT_TILE_SIZE", "render_torch"]

#: Tile edge in pixels. 8x8 tiles halve the wasted (pixel, Gaussian) pairs of 16x16 (FINDINGS.md).
DEFAULT_TILE_SIZE = 8
#: Gaussians per depth chunk of the compositor (cache blocking, FINDINGS.md).
DEFAULT_CHUNK = 32


def _lap(timings: dict[str, float] | None, key: str, t0: float) -> float:
    t1 = time.perf_counter()
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + (t1 - t0)
    return t1


def render_torch(
    splats: Mapping[str, Tensor],
    viewmats: Tensor,  # [C, 4, 4]
    Ks: Tensor,  # [C, 3, 3]
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    backgrounds: Tensor | None = None,  # [C, 3]
    render_mode: str = "RGB",
    tile_size: int = DEFAULT_TILE_SIZE,
    chunk: int = DEFAULT_CHUNK,
    eps2d: float = EPS2D,
    timings: dict[str, float] | None = None,
) -> tuple[Tensor, Tensor, dict]:
    """Render with the PyTorch backend; arguments and results as :func:`reconstruction.splats.render.render`.

    ``timings``, when given, accumulates wall seconds of the stages ("projection", "binning", "setup",
    "composite_forward", "assemble", and "composite_backward" once backward has run).
    """
    t0 = time.perf_counter()
    means, quats, scales = splats["means"], splats["quats"], splats["scales"]
    opacities, colors = splats["opacities"], splats["colors"]
    C, N = viewmats.shape[0], means.shape[0]
    dtype, device = means.dtype, means.device

    proj = project_gaussians(
        means, quats, scales, opacities, viewmats, Ks, width, height,
        eps2d=eps2d, near_plane=near_plane, far_plane=far_plane,
    )
    means2d = proj.means2d
    if torch.is_grad_enabled() and means2d.requires_grad:
        means2d.retain_grad()

    if sh_degree is None:
        rgb = colors[None].expand(C, N, 3)
    else:
        # gsplat: direction camera centre -> mean, camera centre from inverse(viewmat); +0.5, clamp at 0.
        campos = torch.linalg.inv(viewmats)[:, :3, 3]  # [C, 3]
        dirs = means[None, :, :] - campos[:, None, :]  # [C, N, 3]
        rgb = torch.clamp_min(eval_sh(sh_degree, dirs, colors[None]) + 0.5, 0.0)
    feats_list = [rgb]
    if render_mode == "RGB+ED":
        feats_list.append(proj.depths[..., None])
    feats_list.append(torch.ones(C, N, 1, dtype=dtype, device=device))  # alpha channel
    ch = sum(f.shape[-1] for f in feats_list)
    per_gauss = torch.cat(feats_list, dim=-1).reshape(C * N, ch)  # [C*N, ch]
    t0 = _lap(timings, "projection", t0)

    bins = bin_gaussians(
        means2d, proj.radii, proj.depths, width, height, tile_size, chunk, proj.conics, opacities
    )
    t0 = _lap(timings, "binning", t0)

    # One gather per slot from a per-(camera, Gaussian) table [mean x, mean y, conic a b c, log opacity,
    # channels...]; its extra last row (log opacity far below the floor, zeros) fills the empty slots.
    S = bins.n_slots
    log_op = torch.log(opacities.clamp_min(1e-30))
    table = torch.cat(
        [means2d.reshape(C * N, 2), proj.conics.reshape(C * N, 3),
         log_op.expand(C, N).reshape(C * N, 1), per_gauss],
        dim=-1,
    )
    pad = torch.zeros(1, table.shape[1], dtype=dtype, device=device)
    pad[0, 5] = 2 * LOG_ALPHA_FLOOR
    tiles_per_img = bins.tiles_x * bins.tiles_y
    tile_local = bins.active_tiles % tiles_per_img
    tile_centre = torch.stack(
        [tile_local % bins.tiles_x, torch.div(tile_local, bins.tiles_x, rounding_mode="floor")], dim=-1
    ).to(dtype) * tile_size + tile_size / 2.0
    centre = tile_centre.index_select(0, bins.slot_rank)  # [S, 2]
    feats = pixel_features(tile_size, dtype, device)
    n_active = int(bins.active_tiles.numel())
    clamp = bool(N) and bool(opacities.detach().max() > MAX_ALPHA)
    plan = CompositePlan(
        n_active, chunk, bins.chunk_tiles, bins.chunk_offsets[:-1], bins.slot_gauss, centre, clamp, timings
    )
    t0 = _lap(timings, "setup", t0)

    acc = composite(torch.cat([table, pad]), feats, plan)  # [n_active, ch, P]
    t0 = time.perf_counter()
    P = tile_size * tile_size
    img = torch.zeros(C * tiles_per_img, ch, P, dtype=dtype, device=device)
    img = img.index_copy(0, bins.active_tiles, acc)
    img = img.view(C, bins.tiles_y, bins.tiles_x, ch, tile_size, tile_size).permute(0, 1, 4, 2, 5, 3)
    img = img.reshape(C, bins.tiles_y * tile_size, bins.tiles_x * tile_size, ch)[:, :height, :width]
    alpha = img[..., -1:]
    out = img[..., :3]
    if backgrounds is not None:
        out = out + (1.0 - alpha) * backgrounds[:, None, None, :]
    if render_mode == "RGB+ED":
        out = torch.cat([out, img[..., 3:4] / alpha.clamp_min(1e-10)], dim=-1)
    _lap(timings, "assemble", t0)

    info = {
        "backend": "torch",
        "means2d": means2d,
        "radii": proj.radii.amax(-1),
        "radii_xy": proj.radii,
        "depths": proj.depths,
        "conics": proj.conics,
        "width": width,
        "height": height,
        "n_cameras": C,
        "tile_size": tile_size,
        "n_isects": bins.n_isects,
        "n_slots": S,
    }
    return out, alpha, info
