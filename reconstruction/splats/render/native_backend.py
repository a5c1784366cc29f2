"""Native CPU backend: a C++17/OpenMP kernel for projection, tile binning, depth sorting and compositing.

Same contract and maths as :mod:`~reconstruction.splats.render.torch_backend` (gsplat 1.5.3 classic
rasterization): the same ``info`` keys, gradients to every splat tensor, ``backgrounds`` and ``viewmats``, batched
cameras, float32 or float64 CPU tensors. Two autograd nodes, as gsplat: projection (``means2d``, ``conics``,
``depths``) and rasterization, so ``info["means2d"].grad`` holds dL/d(means2d) for densification. SH colours,
backgrounds and the expected-depth division stay in PyTorch (autograd).

The kernel (``csrc/kernels.cpp``, ``csrc/ops.cpp``) runs OpenMP over tiles and SIMD over a tile's pixels, with
one gradient buffer per thread; the design follows the measurements in FINDINGS.md ("A PyTorch CPU rasterizer
is fast enough"). It is compiled on first use through ``torch.utils.cpp_extension`` with the machine's C++
compiler and ``ninja`` (about 10 s on the project's 2-core machine) and cached under
``$SHARPSPLAT_CACHE/torch_extensions`` (default ``~/.cache/sharpsplat``), in a folder named by a hash of the
sources, the flags, the torch version and the CPU's vector extension. The build runs in a temporary folder that is
renamed into place only when it succeeded, so a failed or interrupted build never leaves a broken cache.
:func:`native_available` says whether it loads; ``SHARPSPLAT_NATIVE=0`` turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from .projection import EPS2D
from .sh import eval_sh
from .torch_backend import _lap  # one timing helper for both CPU backends

__all__ = ["DEFAULT_NATIVE_TILE_SIZE", "cache_dir", "native_available", "render_native"]

log = logging.getLogger("sharpsplat.render")

#: Tile edge in pixels of the native compositor: two 8-pixel vectors per row; within a tile each Gaussian visits
#: only the rows and 8-pixel segments its 1/255 ellipse reaches, so 16 wastes little and binds fewer
#: (tile, Gaussian) pairs than 8 (7-10 % less CPU time per DeblurGS step and in bench_render.py, measured).
DEFAULT_NATIVE_TILE_SIZE = 16

_NAME = "sharpsplat_native"
_CSRC = Path(__file__).with_name("csrc")
_SOURCES = ("kernels.cpp", "ops.cpp")
_HEADERS = ("kernels.h",)


def cache_dir() -> Path:
    """Root of the kernel cache: ``$SHARPSPLAT_CACHE``, else ``$XDG_CACHE_HOME/sharpsplat``, else ``~/.cache/...``."""
    root = os.environ.get("SHARPSPLAT_CACHE")
    if root:
        return Path(root) / "torch_extensions"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "sharpsplat" / "torch_extensions"


def _simd_flags() -> list[str]:
    """Vector flags for the CPU this runs on (the cache key includes them, so another CPU builds its own)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    cap = torch.backends.cpu.get_cpu_capability()  # "DEFAULT", "AVX2", "AVX512", ...
    return ["-mavx2", "-mfma"] if cap.startswith(("AVX2", "AVX512")) else []


def _build_flags() -> tuple[list[str], list[str]]:
    simd = os.environ.get("SHARPSPLAT_NATIVE_SIMD_FLAGS")  # for experiments; part of the cache key
    simd_flags = simd.split() if simd is not None else _simd_flags()
    return ["-O3", "-fopenmp", "-fno-trapping-math", *simd_flags], ["-fopenmp"]


def _build_key(cflags: list[str]) -> str:
    h = hashlib.sha256()
    for name in (*_SOURCES, *_HEADERS):
        h.update(name.encode())
        h.update((_CSRC / name).read_bytes())
    h.update(" ".join(cflags).encode())
    h.update(torch.__version__.encode())
    h.update(f"{sys.version_info[:2]} {platform.machine()}".encode())
    return h.hexdigest()[:16]


def _check_toolchain() -> str | None:
    """Why the kernel cannot be built here, or None."""
    from torch.utils import cpp_extension

    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None:
        return f"no C++ compiler ({cxx!r} not found; install g++ or set CXX)"
    if shutil.which("ninja") is None:  # the pip package's binary, when the venv is not on PATH (make test)
        dirs = [str(Path(sys.executable).parent)]
        try:
            import ninja

            dirs.append(str(ninja.BIN_DIR))
        except (ImportError, AttributeError):
            pass
        os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])
    if not cpp_extension.is_ninja_available():
        return "ninja is not installed (pip install ninja)"
    return None


def _first_error(text: str) -> str:
    """The most telling line of a compiler log, shortened."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        low = ln.lower()
        if (
            ("omp.h" in ln and "no such file" in low)
            or "cannot find -lgomp" in low
            or ("fopenmp" in ln and ("unsupported" in low or "unrecognized" in low))
        ):
            return "OpenMP is missing: " + ln[-160:]
    for ln in lines:  # a compiler diagnostic, "file:line:col: error: ..."
        if "error:" in ln.lower():
            return ln[-200:]
    return (lines[0] if lines else "no output")[:200]


def _build(final: Path, cflags: list[str], ldflags: list[str]) -> Path:
    """Compile into a temporary folder next to ``final`` and rename it into place; returns the library path."""
    from torch.utils import cpp_extension

    final.parent.mkdir(parents=True, exist_ok=True)
    for old in final.parent.glob(".tmp-*"):  # leftovers of interrupted builds, after an hour
        try:
            if time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        log.warning("render: compiling the native CPU kernel once (about 10 s), cached in %s", final)
        t0 = time.perf_counter()
        cpp_extension.load(
            name=_NAME,
            sources=[str(_CSRC / s) for s in _SOURCES],
            extra_cflags=cflags,
            extra_ldflags=ldflags,
            extra_include_paths=[str(_CSRC)],
            build_directory=str(tmp),
            is_python_module=False,
            verbose=False,
        )
        log.info("render: native kernel built in %.1f s", time.perf_counter() - t0)
        built = sorted(tmp.glob(f"{_NAME}*{_lib_ext()}"))  # "_v1" etc. when a process builds more than once
        if not built:
            raise RuntimeError("the build produced no library")
        lib = tmp / f"{_NAME}{_lib_ext()}"
        if built[-1] != lib:
            os.replace(built[-1], lib)
        for junk in tmp.iterdir():  # keep only the library
            if junk != lib:
                shutil.rmtree(junk, ignore_errors=True) if junk.is_dir() else junk.unlink(missing_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first: use its build, drop ours
            if not (final / lib.name).exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        return final / lib.name
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _touch(folder: Path) -> None:
    try:
        os.utime(folder)
    except OSError:
        pass


def _prune(keep: Path, max_age_days: float = 30.0) -> None:
    """Remove other builds of the kernel (older sources or flags) not loaded for ``max_age_days``."""
    for old in keep.parent.glob(f"{_NAME}-*"):
        try:
            if old != keep and time.time() - old.stat().st_mtime > max_age_days * 86400:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def _lib_ext() -> str:
    return ".pyd" if sys.platform == "win32" else ".so"


@functools.lru_cache(maxsize=1)
def native_available() -> tuple[bool, str]:
    """``(True, library path)`` when the kernel is built (or cached) and loaded, else ``(False, why)``.

    Builds on the first call in a process when the cache has no build for these sources. Never raises.
    """
    if os.environ.get("SHARPSPLAT_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return False, "SHARPSPLAT_NATIVE=0"
    try:
        cflags, ldflags = _build_flags()
        final = cache_dir() / f"{_NAME}-{_build_key(cflags)}"
        lib = final / f"{_NAME}{_lib_ext()}"
        if lib.exists():
            try:
                torch.ops.load_library(str(lib))
                _touch(final)
                return True, str(lib)
            except Exception:  # a damaged cache entry: build it again
                shutil.rmtree(final, ignore_errors=True)
        why = _check_toolchain()
        if why:
            return False, why
        lib = _build(final, cflags, ldflags)
        if not hasattr(torch.ops.sharpsplat_native, "raster_fwd"):
            torch.ops.load_library(str(lib))
        _prune(final)
        return True, str(lib)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # compile errors, missing OpenMP, unwritable cache, ...
        return False, f"build failed: {_first_error(str(exc))}"


def _ops():
    ok, why = native_available()
    if not ok:
        raise RuntimeError(f"backend='native' cannot run: {why}; use backend='torch' or 'auto'")
    return torch.ops.sharpsplat_native


class _Project(torch.autograd.Function):
    """EWA projection (kernel forward and backward); radii are integers without gradient."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, viewmats, Ks, width, height, eps2d, near_plane, far_plane):
        means, quats, scales = means.contiguous(), quats.contiguous(), scales.contiguous()
        viewmats, Ks = viewmats.contiguous(), Ks.contiguous()
        ops = torch.ops.sharpsplat_native
        args = (int(width), int(height), float(eps2d), float(near_plane), float(far_plane))
        means2d, conics, depths, radii = ops.project_fwd(
            means, quats, scales, opacities.detach().contiguous(), viewmats, Ks, *args
        )
        ctx.save_for_backward(means, quats, scales, viewmats, Ks)
        ctx.args = args
        ctx.mark_non_differentiable(radii)
        return means2d, conics, depths, radii

    @staticmethod
    def backward(ctx, g_means2d, g_conics, g_depths, _g_radii):
        means, quats, scales, viewmats, Ks = ctx.saved_tensors
        g_means, g_quats, g_scales, g_view = torch.ops.sharpsplat_native.project_bwd(
            means, quats, scales, viewmats, Ks, *ctx.args,
            g_means2d.contiguous(), g_conics.contiguous(), g_depths.contiguous(),
        )
        return g_means, g_quats, g_scales, None, g_view, None, None, None, None, None, None


class _Rasterize(torch.autograd.Function):
    """Front-to-back compositing of binned Gaussians: ``image`` [C, H, W, ch] (no background), ``alpha`` [C, H, W]."""

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, offsets, ids, width, height, tile_size, timings):
        t0 = time.perf_counter()
        means2d, conics, colors = means2d.contiguous(), conics.contiguous(), colors.contiguous()
        opacities = opacities.contiguous()
        args = (int(width), int(height), int(tile_size))
        image, alpha = torch.ops.sharpsplat_native.raster_fwd(means2d, conics, opacities, colors, offsets, ids, *args)
        ctx.save_for_backward(means2d, conics, opacities, colors, offsets, ids, image, alpha)
        ctx.args = args
        ctx.timings = timings
        _lap(timings, "composite_forward", t0)
        return image, alpha

    @staticmethod
    def backward(ctx, g_image, g_alpha):
        t0 = time.perf_counter()
        means2d, conics, opacities, colors, offsets, ids, image, alpha = ctx.saved_tensors
        g_m2, g_con, g_op, g_col = torch.ops.sharpsplat_native.raster_bwd(
            means2d, conics, opacities, colors, offsets, ids, image, alpha,
            g_image.contiguous(), g_alpha.contiguous(), *ctx.args,
        )
        _lap(ctx.timings, "composite_backward", t0)
        return g_m2, g_con, g_op, g_col, None, None, None, None, None, None


def render_native(
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
    tile_size: int = DEFAULT_NATIVE_TILE_SIZE,
    eps2d: float = EPS2D,
    timings: dict[str, float] | None = None,
) -> tuple[Tensor, Tensor, dict]:
    """Render with the native kernel; arguments and results as :func:`reconstruction.splats.render.render`.

    CPU tensors of float32 or float64 (``viewmats`` and ``Ks`` are cast to the dtype of ``means``).
    ``tile_size`` (1-32 px) never changes the image. ``timings``, when given, accumulates wall seconds of
    "projection", "binning", "composite_forward", "assemble" and, after backward, "composite_backward".
    Raises RuntimeError when the kernel is not available (see :func:`native_available`).
    """
    _ops()
    t0 = time.perf_counter()
    means, quats, scales = splats["means"], splats["quats"], splats["scales"]
    opacities, colors = splats["opacities"], splats["colors"]
    dtype = means.dtype
    if means.device.type != "cpu":
        raise RuntimeError(f"backend='native' runs on the CPU, tensors are on {means.device}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"backend='native' needs float32 or float64 splats, got {dtype}")
    if not 1 <= int(tile_size) <= 32:
        raise ValueError(f"backend='native': tile_size must be in 1..32, got {tile_size}")
    viewmats, Ks = viewmats.to(dtype), Ks.to(dtype)
    C, N = viewmats.shape[0], means.shape[0]

    means2d, conics, depths, radii = _Project.apply(
        means, quats.to(dtype), scales.to(dtype), opacities.to(dtype), viewmats, Ks,
        int(width), int(height), eps2d, near_plane, far_plane,
    )
    if torch.is_grad_enabled() and means2d.requires_grad:
        means2d.retain_grad()
    if sh_degree is None:
        rgb = colors.to(dtype)[None].expand(C, N, 3)
    else:
        # gsplat: direction camera centre -> mean, camera centre from inverse(viewmat); +0.5, clamp at 0.
        campos = torch.linalg.inv(viewmats)[:, :3, 3]  # [C, 3]
        dirs = means[None, :, :] - campos[:, None, :]  # [C, N, 3]
        rgb = torch.clamp_min(eval_sh(sh_degree, dirs, colors.to(dtype)[None]) + 0.5, 0.0)
    feats = torch.cat([rgb, depths[..., None]], dim=-1) if render_mode == "RGB+ED" else rgb
    t0 = _lap(timings, "projection", t0)

    offsets, ids = torch.ops.sharpsplat_native.bin(
        means2d.detach(), conics.detach(), opacities.detach().to(dtype).contiguous(), radii, depths.detach(),
        int(width), int(height), int(tile_size),
    )
    _lap(timings, "binning", t0)

    image, alpha = _Rasterize.apply(
        means2d, conics, opacities.to(dtype), feats, offsets, ids, int(width), int(height), int(tile_size), timings
    )
    t0 = time.perf_counter()
    alpha = alpha[..., None]
    out = image[..., :3]
    if backgrounds is not None:
        out = out + (1.0 - alpha) * backgrounds.to(dtype)[:, None, None, :]
    if render_mode == "RGB+ED":
        out = torch.cat([out, image[..., 3:4] / alpha.clamp_min(1e-10)], dim=-1)
    _lap(timings, "assemble", t0)

    n_isects = int(ids.numel())
    info = {
        "backend": "native",
        "means2d": means2d,
        "radii": radii.amax(-1),
        "radii_xy": radii,
        "depths": depths,
        "conics": conics,
        "width": width,
        "height": height,
        "n_cameras": C,
        "tile_size": int(tile_size),
        "n_isects": n_isects,
        "n_slots": n_isects,  # no padding in the native layout
    }
    return out, alpha, info
