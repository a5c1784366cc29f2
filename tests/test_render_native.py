"""Parity of the native CPU kernel (reconstruction.splats.render.native_backend) with the PyTorch backend.

Images, alpha, the ``info`` tensors and every gradient (splat tensors, ``viewmats``, ``backgrounds`` and the
retained ``means2d`` gradient) over scenes with occlusion, Gaussians on tile borders, Gaussians cut by the near
plane and the image border, several cameras with different intrinsics, SH colours and expected depth. The kernel
is built on first use (about 10-15 s on the 2-core CI machine, then cached); CI machines have gcc, so a build
failure fails these tests instead of skipping them. Only a machine without any C++ compiler skips.
"""

from __future__ import annotations

import logging
import math
import os
import shutil

import pytest
import torch

from reconstruction.splats.render import native_backend, render, select_backend
from reconstruction.splats.render.native_backend import native_available

pytestmark = pytest.mark.skipif(
    shutil.which(os.environ.get("CXX", "c++")) is None, reason="no C++ compiler on this machine"
)

W, H = 64, 48


@pytest.fixture(scope="module", autouse=True)
def _built():
    ok, why = native_available()
    assert ok, f"the native kernel did not build: {why}"


def _rot(axis: str, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    m = {"x": [[1, 0, 0], [0, c, -s], [0, s, c]], "y": [[c, 0, s], [0, 1, 0], [-s, 0, c]]}[axis]
    return torch.tensor(m, dtype=torch.float64)


def _cameras(C: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Identity, a turned and shifted camera, and one with another focal length and principal point."""
    V = torch.eye(4, dtype=torch.float64).repeat(C, 1, 1)
    K = torch.tensor([[60.0, 0, W / 2], [0, 60.0, H / 2], [0, 0, 1]], dtype=torch.float64).repeat(C, 1, 1)
    if C > 1:
        V[1, :3, :3] = _rot("y", 0.06) @ _rot("x", -0.04)
        V[1, :3, 3] = torch.tensor([0.08, -0.04, 0.1])
    if C > 2:
        V[2, :3, 3] = torch.tensor([-0.05, 0.03, -0.05])
        K[2] = torch.tensor([[75.0, 0, 29.0], [0, 70.0, 26.5], [0, 0, 1]])
    return V, K


def _scene(seed: int = 0, sh_degree: int | None = None) -> dict[str, torch.Tensor]:
    """About 400 Gaussians seen by :func:`_cameras` (float64; callers cast).

    Groups: 220 at depths 1.5-5 over the image (overlapping layers, opacities up to 0.9995 so that the 0.999
    clamp binds); 60 with means on tile borders (pixel coordinates multiples of 8); 40 around the near plane
    0.02 (some in front, some behind it, some behind the camera); 40 large ones with means off-screen.
    """
    g = torch.Generator().manual_seed(seed)
    f = 60.0

    def at(px, py, z):  # world point at pixel (px, py) and depth z of the identity camera
        return torch.stack([(px - W / 2) / f * z, (py - H / 2) / f * z, z], dim=-1)

    n1, n2, n3, n4 = 220, 60, 40, 40

    def u(n):
        return torch.rand(n, generator=g, dtype=torch.float64)

    m1 = at(u(n1) * W, u(n1) * H, 1.5 + 3.5 * u(n1))
    px2 = 8.0 * torch.randint(0, W // 8 + 1, (n2,), generator=g).double()
    py2 = 8.0 * torch.randint(0, H // 8 + 1, (n2,), generator=g).double()
    m2 = at(px2, py2, 2.0 + 2.0 * u(n2))
    m3 = at(u(n3) * W, u(n3) * H, torch.linspace(-0.05, 0.08, n3, dtype=torch.float64))
    side = torch.randint(0, 2, (n4,), generator=g).double()
    m4 = at(side * (W + 6) - 3 + torch.randn(n4, generator=g, dtype=torch.float64), u(n4) * H, 2.0 + u(n4))
    means = torch.cat([m1, m2, m3, m4])
    z = means[:, 2].abs().clamp_min(0.01)
    N = means.shape[0]
    sigma_px = 1.2 * torch.exp(0.5 * torch.randn(N, generator=g, dtype=torch.float64))
    sigma_px[-n4:] *= 4.0
    scales = (sigma_px * z / f)[:, None] * torch.exp(0.4 * torch.randn(N, 3, generator=g, dtype=torch.float64))
    scales[n1 + n2 : n1 + n2 + n3] = 0.002
    opacities = 0.05 + 0.9 * torch.rand(N, generator=g, dtype=torch.float64)
    opacities[:20] = 0.9995
    colors = (
        torch.rand(N, 3, generator=g, dtype=torch.float64)
        if sh_degree is None
        else 0.4 * torch.randn(N, (sh_degree + 1) ** 2, 3, generator=g, dtype=torch.float64)
    )
    return {"means": means, "quats": torch.randn(N, 4, generator=g, dtype=torch.float64), "scales": scales,
            "opacities": opacities, "colors": colors}  # fmt: skip


def _run(backend: str, splats, V, K, dtype, **kw):
    """Render with ``backend``, back-propagate a fixed random linear loss of rgb and alpha; return everything."""
    leaves = {k: v.to(dtype).clone().requires_grad_() for k, v in splats.items()}
    Vl = V.to(dtype).clone().requires_grad_()
    bg = torch.tensor([[0.2, 0.5, 0.7], [0.9, 0.1, 0.3], [0.0, 0.0, 0.0]], dtype=dtype)[: V.shape[0]]
    bg.requires_grad_()
    rgb, alpha, info = render(leaves, Vl, K.to(dtype), W, H, backgrounds=bg, backend=backend, near_plane=0.02, **kw)
    g = torch.Generator().manual_seed(5)
    w_rgb = torch.randn(rgb.shape, generator=g, dtype=torch.float64).to(dtype)
    w_alpha = torch.randn(alpha.shape, generator=g, dtype=torch.float64).to(dtype)
    ((rgb * w_rgb).sum() + (alpha * w_alpha).sum()).backward()
    grads = {k: v.grad for k, v in leaves.items()}
    grads.update(viewmats=Vl.grad, backgrounds=bg.grad, means2d=info["means2d"].grad)
    return rgb, alpha, info, grads


def _assert_close(name: str, got: torch.Tensor, want: torch.Tensor, rel: float) -> None:
    assert got is not None and want is not None, name
    got, want = got.detach(), want.detach()
    scale = max(1.0, float(want.abs().max()))
    err = float((got - want).abs().max())
    assert err <= rel * scale, f"{name}: max |native - torch| = {err:.3g}, scale {scale:.3g}"


def _compare(a, b, rel: float) -> None:
    rgb_t, alpha_t, info_t, grads_t = a
    rgb_n, alpha_n, info_n, grads_n = b
    assert info_n["backend"] == "native" and info_t["backend"] == "torch"
    assert set(info_t) <= set(info_n)
    _assert_close("rgb", rgb_n, rgb_t, rel)
    _assert_close("alpha", alpha_n, alpha_t, rel)
    for k in ("means2d", "conics", "depths"):
        _assert_close(k, info_n[k], info_t[k], rel)
    assert torch.equal(info_n["radii_xy"], info_t["radii_xy"])
    if info_n["tile_size"] == info_t["tile_size"]:  # the same tile lists
        assert info_n["n_isects"] == info_t["n_isects"]
    for k, want in grads_t.items():
        _assert_close(f"d/d{k}", grads_n[k], want, rel)


@pytest.mark.parametrize(
    "kw", [{}, {"render_mode": "RGB+ED", "sh_degree": 2}], ids=["rgb", "sh2-expected-depth"]
)
def test_native_matches_torch_in_float32(kw):
    splats = _scene(sh_degree=kw.get("sh_degree"))
    V, K = _cameras()
    torch_out = _run("torch", splats, V, K, torch.float32, **kw)
    native_out = _run("native", splats, V, K, torch.float32, **kw)  # 16x16 tiles, 8-wide SIMD path
    _compare(torch_out, native_out, rel=3e-4)
    _compare(torch_out, _run("native", splats, V, K, torch.float32, tile_size=8, **kw), rel=3e-4)
    radii = native_out[2]["radii"]
    assert (radii == 0).any() and (radii > 0).sum() > 300  # the scene does cull, and most is drawn


def test_native_equals_torch_in_float64():
    splats = _scene(seed=1, sh_degree=1)
    V, K = _cameras()
    _compare(_run("torch", splats, V, K, torch.float64, sh_degree=1),
             _run("native", splats, V, K, torch.float64, sh_degree=1), rel=1e-10)  # fmt: skip


@pytest.mark.parametrize("tile_size", [5, 16, 32])
def test_native_tile_size_never_changes_the_image(tile_size):
    splats = {k: v.float() for k, v in _scene(seed=2).items()}
    V, K = _cameras(2)
    ref, ref_a, _ = render(splats, V.float(), K.float(), W, H, backend="native", tile_size=8)
    rgb, alpha, info = render(splats, V.float(), K.float(), W, H, backend="native", tile_size=tile_size)
    assert info["tile_size"] == tile_size
    assert float((rgb - ref).abs().max()) < 1e-5 and float((alpha - ref_a).abs().max()) < 1e-5


def test_auto_uses_native_on_the_cpu_and_empty_scenes_work():
    assert select_backend("auto", torch.device("cpu")) == "native"
    empty = {"means": torch.zeros(0, 3), "quats": torch.zeros(0, 4), "scales": torch.zeros(0, 3),
             "opacities": torch.zeros(0), "colors": torch.zeros(0, 3)}  # fmt: skip
    V, K = _cameras(2)
    bg = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], requires_grad=True)
    rgb, alpha, info = render(empty, V.float(), K.float(), W, H, backgrounds=bg)
    assert info["backend"] == "native" and float(alpha.abs().max()) == 0.0
    assert torch.allclose(rgb, bg.detach()[:, None, None, :].expand(2, H, W, 3))
    rgb.sum().backward()
    assert torch.allclose(bg.grad, torch.full((2, 3), float(H * W)))


@pytest.fixture
def fresh_native(monkeypatch, tmp_path):
    """An empty kernel cache and a forgotten build result; restored afterwards."""
    monkeypatch.setenv("SHARPSPLAT_CACHE", str(tmp_path / "cache"))
    native_available.cache_clear()
    yield tmp_path / "cache"
    monkeypatch.undo()
    native_available.cache_clear()


def _one_fallback_line(caplog, why: str) -> None:
    with caplog.at_level(logging.WARNING, logger="sharpsplat.render"):
        assert select_backend("auto", torch.device("cpu")) == "torch"
        assert select_backend("auto", torch.device("cpu")) == "torch"
    lines = [r.getMessage() for r in caplog.records if "native CPU kernel unavailable" in r.getMessage()]
    assert len(lines) == 1 and why in lines[0], lines
    with pytest.raises(RuntimeError, match="native"):
        select_backend("native", torch.device("cpu"))


def test_failed_build_falls_back_with_one_line_and_leaves_no_cache(fresh_native, monkeypatch, tmp_path, caplog):
    broken = tmp_path / "csrc"
    broken.mkdir()
    for name in (*native_backend._SOURCES, *native_backend._HEADERS):
        (broken / name).write_text("#error this kernel does not compile\n")
    monkeypatch.setattr(native_backend, "_CSRC", broken)
    _one_fallback_line(caplog, "build failed")
    root = fresh_native / "torch_extensions"  # the cache root stays, empty: no half-built entry, no temp folder
    assert not root.exists() or list(root.iterdir()) == []


def test_missing_compiler_falls_back_with_one_line(fresh_native, monkeypatch, caplog):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    _one_fallback_line(caplog, "no C++ compiler")


def test_native_gradients_are_bitwise_reproducible_across_thread_counts():
    """One gradient slot per (tile, Gaussian), summed in a fixed order: the same bits with 1 or 2 threads (the
    same seed must give the same training run, DESIGN.md)."""
    splats = _scene(seed=3)
    V, K = _cameras()
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run("native", splats, V, K, torch.float32)
        torch.set_num_threads(2)
        two = _run("native", splats, V, K, torch.float32)
    finally:
        torch.set_num_threads(n)
    assert torch.equal(one[0], two[0])
    for k in one[3]:
        assert torch.equal(one[3][k], two[3][k]), k
