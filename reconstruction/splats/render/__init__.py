"""Gaussian-splat rasterization with one call and three backends: gsplat (CUDA), native (C++ CPU kernel) and
pure PyTorch (anywhere).

>>> rgb, alpha, info = render(splats, viewmats, Ks, width, height)  # doctest: +SKIP

All backends implement gsplat 1.5.3 ``rasterization`` in classic mode with ``packed=False`` semantics: EWA
projection with a 0.3 px^2 low-pass, near/far culling, opacity-aware 3.33-sigma extent, ``alpha = min(0.999,
opacity * exp(-power))``, alphas below 1/255 skipped, front-to-back compositing that stops before the
transmittance falls to 1e-4, and SH colours ``max(SH(mean - camera centre) + 0.5, 0)``. A scene trained with
one backend renders the same with the other. Gradients reach every splat tensor, ``backgrounds`` and
``viewmats`` (camera poses can be optimised through them); ``Ks`` gets none, as in gsplat.

``info`` keys (all backends):

* ``"backend"``: ``"gsplat"``, ``"native"`` or ``"torch"``;
* ``"means2d"`` ``[C, N, 2]``: projected means in pixels; when grad is enabled its ``.grad`` holds
  dL/d(means2d) after backward (``retain_grad`` is called), as gsplat's ``meta["means2d"]``;
* ``"radii"`` ``[C, N]`` int32: the larger of the two per-axis screen radii in pixels, 0 where culled
  (use ``radii > 0`` for visibility and ``radii.max()`` for size); ``"radii_xy"`` ``[C, N, 2]``: gsplat
  1.5.3's per-axis radii;
* ``"depths"`` ``[C, N]``: camera-frame z; ``"conics"`` ``[C, N, 3]``;
* ``"width"``, ``"height"``, ``"n_cameras"``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import Tensor

from .gsplat_backend import gsplat_available, render_gsplat
from .native_backend import DEFAULT_NATIVE_TILE_SIZE, native_available, render_native
from .torch_backend import DEFAULT_TILE_SIZE, render_torch

__all__ = ["BACKENDS", "native_available", "render", "select_backend"]

log = logging.getLogger("sharpsplat.render")

BACKENDS = ("auto", "gsplat", "native", "torch")
RENDER_MODES = ("RGB", "RGB+ED")
_announced: set[tuple[str, str]] = set()


def select_backend(backend: str, device: torch.device) -> str:
    """Resolve ``"auto"``: gsplat on a CUDA device when it works; on the CPU the native kernel when it builds
    (compiled once and cached, see :mod:`.native_backend`), else torch. Explicit choices are checked.

    When ``auto`` cannot use the backend it prefers, one line says why (once per process) and the run goes on.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return "torch"
    if backend == "native" or (backend == "auto" and device.type == "cpu"):
        ok, why = native_available() if device.type == "cpu" else (False, f"tensors are on {device.type}")
        if ok:
            return "native"
        if backend == "native":
            raise RuntimeError(f"backend='native' cannot run: {why}; use backend='torch' or 'auto'")
        key = ("native-unavailable", why)
        if key not in _announced:
            _announced.add(key)
            log.warning("render: native CPU kernel unavailable (%s); using the PyTorch backend", why)
        return "torch"
    ok, why = gsplat_available() if device.type == "cuda" else (False, f"tensors are on {device.type}")
    if backend == "gsplat":
        if not ok:
            raise RuntimeError(f"backend='gsplat' cannot run: {why}; use backend='torch' or 'auto'")
        return "gsplat"
    if device.type == "cuda" and not ok:
        key = ("gsplat-unavailable", why)
        if key not in _announced:
            _announced.add(key)
            log.warning("render: gsplat unavailable on CUDA (%s); using the PyTorch backend", why)
    return "gsplat" if ok else "torch"


def _check_inputs(
    splats: Mapping[str, Tensor], viewmats: Tensor, Ks: Tensor, width: int, height: int,
    sh_degree: int | None, backgrounds: Tensor | None, render_mode: str,
) -> None:
    missing = [k for k in ("means", "quats", "scales", "opacities", "colors") if k not in splats]
    if missing:
        raise KeyError(f"render: splats lacks {missing}; expected means, quats, scales, opacities, colors")
    means = splats["means"]
    N = means.shape[0]
    shapes = {"means": (N, 3), "quats": (N, 4), "scales": (N, 3), "opacities": (N,)}
    for k, shape in shapes.items():
        if tuple(splats[k].shape) != shape:
            raise ValueError(f"render: splats[{k!r}] has shape {tuple(splats[k].shape)}, expected {shape}")
    colors = splats["colors"]
    if sh_degree is None:
        if tuple(colors.shape) != (N, 3):
            raise ValueError(
                f"render: colors has shape {tuple(colors.shape)}; with sh_degree=None it must be RGB [N, 3] "
                "(pass sh_degree for SH coefficients [N, K, 3])"
            )
    else:
        if colors.dim() != 3 or colors.shape[0] != N or colors.shape[2] != 3:
            raise ValueError(
                f"render: with sh_degree={sh_degree} colors must be SH coefficients [N, K, 3], "
                f"got {tuple(colors.shape)}"
            )
        if (sh_degree + 1) ** 2 > colors.shape[1] or sh_degree < 0:
            raise ValueError(f"render: sh_degree={sh_degree} needs {(sh_degree + 1) ** 2} coefficients, "
                             f"colors has {colors.shape[1]}")
    if viewmats.dim() != 3 or viewmats.shape[1:] != (4, 4):
        raise ValueError(f"render: viewmats must be [C, 4, 4], got {tuple(viewmats.shape)}")
    C = viewmats.shape[0]
    if tuple(Ks.shape) != (C, 3, 3):
        raise ValueError(f"render: Ks must be [C, 3, 3] = [{C}, 3, 3], got {tuple(Ks.shape)}")
    if backgrounds is not None and tuple(backgrounds.shape) != (C, 3):
        raise ValueError(f"render: backgrounds must be [C, 3] = [{C}, 3], got {tuple(backgrounds.shape)}")
    if render_mode not in RENDER_MODES:
        raise ValueError(f"render: render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"render: width and height must be positive, got {width}x{height}")


def render(
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
    backend: str = "auto",
    tile_size: int | None = None,
) -> tuple[Tensor, Tensor, dict]:
    """Render N Gaussians into C pinhole cameras.

    Args:
        splats: activated parameters: ``"means"`` [N, 3] world units, ``"quats"`` [N, 4] (w, x, y, z), any
            norm, ``"scales"`` [N, 3] standard deviations in world units, ``"opacities"`` [N] in (0, 1),
            ``"colors"`` [N, 3] RGB, or [N, K, 3] SH coefficients with ``sh_degree`` set.
        viewmats: [C, 4, 4] world-to-camera, OpenCV axes (x right, y down, z forward).
        Ks: [C, 3, 3] intrinsics in pixels (pixel centres at integer + 0.5, as gsplat).
        width, height: image size in pixels.
        sh_degree: None for RGB colours; else evaluate SH up to this degree (``(deg+1)^2 <= K``).
        near_plane, far_plane: camera-z culling planes, world units.
        backgrounds: [C, 3] colour behind the Gaussians; black when None.
        render_mode: "RGB", or "RGB+ED" to append the expected depth ``sum w z / sum w`` as channel 4.
        backend: "auto" (gsplat on CUDA when it works; on the CPU native when it builds, else torch), "gsplat",
            "native" (CPU, float32/float64) or "torch".
        tile_size: tile edge in pixels; None picks the backend's default (gsplat 16, native
            ``DEFAULT_NATIVE_TILE_SIZE``, torch 8). Never changes the image.

    Returns:
        ``rgb`` [C, H, W, 3] (or [C, H, W, 4] with "RGB+ED"), ``alpha`` [C, H, W, 1], ``info`` (module doc).
    """
    _check_inputs(splats, viewmats, Ks, width, height, sh_degree, backgrounds, render_mode)
    device = splats["means"].device
    if backend == "auto" and splats["means"].dtype not in (torch.float32, torch.float64):
        backend = "torch"  # the native kernel takes float32 and float64 only
    name = select_backend(backend, device)
    key = (name, str(device))
    if key not in _announced:
        _announced.add(key)
        log.info("render: %s backend on %s", name, device)
    kwargs = dict(
        sh_degree=sh_degree, near_plane=near_plane, far_plane=far_plane,
        backgrounds=backgrounds, render_mode=render_mode,
    )
    if name == "gsplat":
        return render_gsplat(
            splats, viewmats, Ks, int(width), int(height), tile_size=tile_size or 16, **kwargs
        )
    if name == "native":
        return render_native(
            splats, viewmats, Ks, int(width), int(height), tile_size=tile_size or DEFAULT_NATIVE_TILE_SIZE, **kwargs
        )
    return render_torch(
        splats, viewmats, Ks, int(width), int(height), tile_size=tile_size or DEFAULT_TILE_SIZE, **kwargs
    )
