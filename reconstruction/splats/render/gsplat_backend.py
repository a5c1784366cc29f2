"""gsplat backend: ``gsplat.rasterization`` (CUDA) behind the project's ``render`` call.

Classic mode, ``packed=False``, ``eps2d=0.3``, batched cameras. gsplat 1.5.3 compiles its CUDA extension on
first use and needs ``packaging`` at run time; :func:`gsplat_available` says whether it can run here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = ["gsplat_available", "render_gsplat"]


@functools.lru_cache(maxsize=1)
def gsplat_available() -> tuple[bool, str]:
    """``(True, version)`` if CUDA is there, gsplat imports and its extension loads; else ``(False, why)``."""
    if not torch.cuda.is_available():
        return False, "CUDA is not available"
    try:
        import gsplat
        from gsplat.cuda._backend import _C
    except Exception as exc:  # ImportError, or the JIT build failing
        return False, f"gsplat does not import ({type(exc).__name__}: {exc})"
    if _C is None:
        return False, "gsplat's CUDA extension did not build (no CUDA toolkit?)"
    return True, str(getattr(gsplat, "__version__", "?"))


def render_gsplat(
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
    tile_size: int = 16,
) -> tuple[Tensor, Tensor, dict]:
    """Render with gsplat; results and ``info`` keys as :func:`reconstruction.splats.render.render`.

    gsplat 1.5.3 returns per-axis radii ``[C, N, 2]``: they are kept as ``info["radii_xy"]`` and
    ``info["radii"]`` is their maximum ``[C, N]`` (both axes are 0 exactly when culled).
    """
    from gsplat import rasterization

    rgb, alpha, meta = rasterization(
        splats["means"],
        splats["quats"],
        splats["scales"],
        splats["opacities"],
        splats["colors"],
        viewmats,
        Ks,
        width,
        height,
        near_plane=near_plane,
        far_plane=far_plane,
        eps2d=0.3,
        sh_degree=sh_degree,
        packed=False,
        tile_size=tile_size,
        backgrounds=backgrounds,
        render_mode=render_mode,
        rasterize_mode="classic",
    )
    means2d = meta["means2d"]
    if torch.is_grad_enabled() and means2d.requires_grad:
        means2d.retain_grad()
    radii_xy = meta["radii"]
    info = dict(meta)
    info.update(
        {
            "backend": "gsplat",
            "means2d": means2d,
            "radii": radii_xy.amax(-1) if radii_xy.dim() == 3 else radii_xy,
            "radii_xy": radii_xy,
            "depths": meta["depths"],
            "width": width,
            "height": height,
            "n_cameras": viewmats.shape[0],
        }
    )
    return rgb, alpha, info
