"""Tests of reconstruction.splats.render (PyTorch backend; CPU, float64 where gradients are checked)."""

from __future__ import annotations

import math

import pytest
import torch

from reconstruction.splats.render import render, select_backend
from reconstruction.splats.render.projection import project_gaussians
from reconstruction.splats.render.sh import eval_sh

F64 = torch.float64
SH_C0 = 0.2820947917738781
SH_C1 = 0.48860251190292


def _K(fx: float, fy: float, cx: float, cy: float, C: int = 1, dtype=F64) -> torch.Tensor:
    return torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=dtype).repeat(C, 1, 1)


def _rot(axis: str, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    m = {"x": [[1, 0, 0], [0, c, -s], [0, s, c]], "y": [[c, 0, s], [0, 1, 0], [-s, 0, c]]}[axis]
    return torch.tensor(m, dtype=F64)


def _viewmats() -> torch.Tensor:
    """Two cameras: identity, and one turned and shifted a little."""
    V = torch.eye(4, dtype=F64).repeat(2, 1, 1)
    V[1, :3, :3] = _rot("y", 0.08) @ _rot("x", -0.05)
    V[1, :3, 3] = torch.tensor([0.1, -0.05, 0.2], dtype=F64)
    return V


def _scene(N: int, seed: int, sh_degree: int | None = None, dtype=F64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(N, 3, generator=g, dtype=dtype) * torch.tensor([0.5, 0.4, 0.4], dtype=dtype)
    means[:, 2] += 3.0
    colors = (
        torch.rand(N, 3, generator=g, dtype=dtype)
        if sh_degree is None
        else 0.4 * torch.randn(N, (sh_degree + 1) ** 2, 3, generator=g, dtype=dtype)
    )
    return {
        "means": means,
        "quats": torch.randn(N, 4, generator=g, dtype=dtype),
        "scales": 0.05 + 0.25 * torch.rand(N, 3, generator=g, dtype=dtype),
        "opacities": 0.3 + 0.65 * torch.rand(N, generator=g, dtype=dtype),
        "colors": colors,
    }


def _dense_reference(splats, viewmats, Ks, W, H, sh_degree=None, backgrounds=None, expected_depth=False):
    """Brute force: every pixel against every Gaussian, gsplat's sequential loop written with tensors."""
    p = project_gaussians(
        splats["means"], splats["quats"], splats["scales"], splats["opacities"], viewmats, Ks, W, H
    )
    dtype = splats["means"].dtype
    ys, xs = torch.meshgrid(
        torch.arange(H, dtype=dtype) + 0.5, torch.arange(W, dtype=dtype) + 0.5, indexing="ij"
    )
    images, alphas = [], []
    for c in range(viewmats.shape[0]):
        col = splats["colors"]
        if sh_degree is not None:
            campos = torch.linalg.inv(viewmats[c])[:3, 3]
            col = torch.clamp_min(eval_sh(sh_degree, splats["means"] - campos, col) + 0.5, 0.0)
        if expected_depth:
            col = torch.cat([col, p.depths[c][:, None]], dim=-1)
        ids = torch.nonzero(p.radii[c, :, 0] > 0).flatten()
        ids = ids[torch.argsort(p.depths[c, ids], stable=True)]
        T = torch.ones(H, W, dtype=dtype)
        out = torch.zeros(H, W, col.shape[-1], dtype=dtype)
        done = torch.zeros(H, W, dtype=torch.bool)
        for i in ids.tolist():
            dx, dy = p.means2d[c, i, 0] - xs, p.means2d[c, i, 1] - ys
            a, b, cc = p.conics[c, i]
            power = 0.5 * (a * dx * dx + cc * dy * dy) + b * dx * dy
            al = torch.clamp_max(splats["opacities"][i] * torch.exp(-power), 0.999)
            use = (al >= 1.0 / 255.0) & ~done
            next_T = T * (1.0 - al)
            stop = use & (next_T <= 1e-4)
            done, use = done | stop, use & ~stop
            out = out + torch.where(use[..., None], (al * T)[..., None] * col[i], 0.0)
            T = torch.where(use, next_T, T)
        rgb = out[..., :3]
        if backgrounds is not None:
            rgb = rgb + T[..., None] * backgrounds[c]
        if expected_depth:
            rgb = torch.cat([rgb, out[..., 3:4] / (1.0 - T).clamp_min(1e-10)[..., None]], dim=-1)
        images.append(rgb)
        alphas.append((1.0 - T)[..., None])
    return torch.stack(images), torch.stack(alphas)


def test_single_gaussian_lands_on_the_pinhole_projection_with_analytic_footprint():
    fx, fy, cx, cy, W, H = 60.0, 55.0, 20.0, 15.0, 41, 31
    X, Y, Z, s, op = 0.23, -0.17, 2.5, 0.06, 0.8
    colour = torch.tensor([0.9, 0.5, 0.2], dtype=F64)
    splats = {
        "means": torch.tensor([[X, Y, Z]], dtype=F64),
        "quats": torch.tensor([[0.3, -0.2, 0.5, 0.7]], dtype=F64),  # any rotation: the Gaussian is isotropic
        "scales": torch.full((1, 3), s, dtype=F64),
        "opacities": torch.tensor([op], dtype=F64),
        "colors": colour[None],
    }
    V = torch.eye(4, dtype=F64)[None]
    rgb, alpha, info = render(splats, V, _K(fx, fy, cx, cy), W, H, backend="torch")
    assert info["backend"] == "torch" and rgb.shape == (1, H, W, 3) and alpha.shape == (1, H, W, 1)

    u, v = fx * X / Z + cx, fy * Y / Z + cy  # pinhole
    assert torch.allclose(info["means2d"][0, 0], torch.tensor([u, v], dtype=F64), atol=1e-12)
    # Analytic footprint: J (s^2 I) J^T + 0.3 I with the pinhole Jacobian J at (X, Y, Z).
    J = torch.tensor([[fx / Z, 0.0, -fx * X / Z**2], [0.0, fy / Z, -fy * Y / Z**2]], dtype=F64)
    cov = s * s * J @ J.T + 0.3 * torch.eye(2, dtype=F64)
    ys, xs = torch.meshgrid(torch.arange(H, dtype=F64) + 0.5, torch.arange(W, dtype=F64) + 0.5, indexing="ij")
    d = torch.stack([xs - u, ys - v], dim=-1)
    power = 0.5 * torch.einsum("hwi,ij,hwj->hw", d, torch.linalg.inv(cov), d)
    expected_alpha = op * torch.exp(-power)
    expected_alpha = torch.where(expected_alpha >= 1 / 255, expected_alpha, 0.0)
    assert (alpha[0, ..., 0] - expected_alpha).abs().max() < 1e-12
    assert (rgb[0] - expected_alpha[..., None] * colour).abs().max() < 1e-12
    peak = torch.argmax(alpha[0, ..., 0])
    assert (int(peak % W), int(peak // W)) == (int(u), int(v))
    # Total mass: the integral 2 pi sqrt(det cov) op, less the tail beyond alpha = 1/255 (2 pi sqrt(det)/255).
    mass = 2 * math.pi * math.sqrt(torch.linalg.det(cov).item()) * (op - 1 / 255)
    assert abs(alpha.sum().item() - mass) < 0.02


def test_nearer_gaussians_occlude_farther_ones_in_any_input_order():
    near = {"m": [0.0, 0.0, 2.0], "c": [1.0, 0.0, 0.0], "o": 0.9, "s": [0.2] * 3}
    far = {"m": [0.0, 0.0, 4.0], "c": [0.0, 1.0, 0.0], "o": 0.7, "s": [0.4] * 3}
    results = []
    for order in ([near, far], [far, near]):
        splats = {
            "means": torch.tensor([g["m"] for g in order], dtype=F64),
            "quats": torch.tensor([[1.0, 0, 0, 0]] * 2, dtype=F64),
            "scales": torch.tensor([g["s"] for g in order], dtype=F64),
            "opacities": torch.tensor([g["o"] for g in order], dtype=F64),
            "colors": torch.tensor([g["c"] for g in order], dtype=F64),
        }
        rgb, alpha, _ = render(splats, torch.eye(4, dtype=F64)[None], _K(50, 50, 16, 16), 32, 32)
        results.append((rgb, alpha))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    # Pixel (16, 16) has its centre 0.5 px off both means along x and y; both footprints have variance
    # (50 * 0.2 / 2)^2 + 0.3 = (50 * 0.4 / 4)^2 + 0.3 = 25.3 px^2: red in front, green seen through it.
    fall_off = math.exp(-0.5 * (0.5**2 + 0.5**2) / 25.3)
    a_near, a_far = 0.9 * fall_off, 0.7 * fall_off
    rgb = results[0][0][0, 16, 16]
    expected = torch.tensor([a_near, a_far * (1 - a_near), 0.0], dtype=F64)
    assert torch.allclose(rgb, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sh_degree", [None, 2])
def test_matches_brute_force_reference_images_and_gradients(sh_degree):
    """Tile binning, chunking and the hand-written backward agree with a dense per-pixel loop (float64)."""
    splats = _scene(90, seed=3, sh_degree=sh_degree)
    splats["opacities"] = 0.6 + 0.39 * splats["opacities"]  # opaque enough that pixels terminate
    W, H = 23, 19
    V, K = _viewmats(), _K(30, 32, 11, 9, C=2)
    bg = torch.tensor([[0.1, 0.2, 0.3], [0.6, 0.5, 0.4]], dtype=F64)
    kw = dict(sh_degree=sh_degree, backgrounds=bg)
    leaves = {k: v.clone().requires_grad_() for k, v in splats.items()}
    Vl = V.clone().requires_grad_()
    rgb, alpha, info = render(leaves, Vl, K, W, H, render_mode="RGB+ED", backend="torch", **kw)
    g = torch.Generator().manual_seed(0)
    w_rgb = torch.rand(rgb.shape, generator=g, dtype=F64)
    w_a = torch.rand(alpha.shape, generator=g, dtype=F64)
    ((rgb * w_rgb).sum() + (alpha * w_a).sum()).backward()

    ref_leaves = {k: v.clone().requires_grad_() for k, v in splats.items()}
    Vr = V.clone().requires_grad_()
    ref_rgb, ref_alpha = _dense_reference(ref_leaves, Vr, K, W, H, expected_depth=True, **kw)
    ((ref_rgb * w_rgb).sum() + (ref_alpha * w_a).sum()).backward()

    assert (alpha > 0.999).float().mean() > 0.05, "scene should make some pixels terminate"
    assert (rgb - ref_rgb).abs().max() < 1e-10 and (alpha - ref_alpha).abs().max() < 1e-12
    for k in splats:
        scale = ref_leaves[k].grad.abs().max()
        assert (leaves[k].grad - ref_leaves[k].grad).abs().max() <= 1e-9 * scale, k
    assert (Vl.grad - Vr.grad).abs().max() <= 1e-9 * Vr.grad.abs().max()
    assert info["means2d"].grad is not None and info["means2d"].grad.shape == (2, 90, 2)


def _finite_difference_check(fn, inputs: dict[str, torch.Tensor], eps: float = 1e-6) -> None:
    """Compare autograd gradients of the scalar ``fn(inputs)`` with central differences, every element."""
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    fn(leaves).backward()
    for name, x in inputs.items():
        numeric = torch.zeros_like(x)
        flat = numeric.view(-1)
        for i in range(x.numel()):
            plus, minus = {**inputs}, {**inputs}
            xp, xm = x.clone(), x.clone()
            xp.view(-1)[i] += eps
            xm.view(-1)[i] -= eps
            plus[name], minus[name] = xp, xm
            with torch.no_grad():
                flat[i] = (fn(plus) - fn(minus)) / (2 * eps)
        analytic = leaves[name].grad
        tol = 1e-6 + 1e-5 * numeric.abs().max()
        assert (analytic - numeric).abs().max() <= tol, (name, analytic, numeric)


@pytest.mark.parametrize("sh_degree", [None, 1])
def test_gradients_match_finite_differences_for_every_input(sh_degree):
    splats = _scene(4, seed=11, sh_degree=sh_degree)
    W, H = 12, 10
    K = _K(11, 12, 6, 5, C=2)
    g = torch.Generator().manual_seed(5)
    w_rgb = torch.rand(2, H, W, 4, generator=g, dtype=F64)
    w_a = torch.rand(2, H, W, 1, generator=g, dtype=F64)

    def loss(x):
        splat = {k: x[k] for k in splats}
        rgb, alpha, _ = render(splat, x["viewmats"], K, W, H, sh_degree=sh_degree, render_mode="RGB+ED",
                               backgrounds=x["bg"], backend="torch")
        return (rgb * w_rgb).sum() + (alpha * w_a).sum()

    bg = torch.tensor([[0.2, 0.4, 0.1], [0.3, 0.3, 0.9]], dtype=F64)
    inputs = {**splats, "viewmats": _viewmats(), "bg": bg}
    _finite_difference_check(loss, inputs)


def test_batched_cameras_equal_separate_calls():
    splats = _scene(40, seed=2, dtype=torch.float32)
    V, K = _viewmats().float(), _K(30, 32, 12, 10, C=2, dtype=torch.float32)
    rgb, alpha, info = render(splats, V, K, 24, 20, render_mode="RGB+ED")
    assert info["n_cameras"] == 2 and info["radii"].shape == (2, 40) and info["depths"].shape == (2, 40)
    for c in range(2):
        rgb_c, alpha_c, info_c = render(splats, V[c : c + 1], K[c : c + 1], 24, 20, render_mode="RGB+ED")
        assert torch.allclose(rgb[c : c + 1], rgb_c, atol=1e-6) and torch.allclose(alpha[c : c + 1], alpha_c)
        assert torch.equal(info["radii"][c : c + 1], info_c["radii"])


def test_tile_size_never_changes_the_image():
    splats = _scene(60, seed=4)
    V, K = _viewmats(), _K(30, 32, 12, 10, C=2)
    ref = render(splats, V, K, 27, 21, tile_size=4)[0]
    for ts in (8, 16):
        assert (render(splats, V, K, 27, 21, tile_size=ts)[0] - ref).abs().max() < 1e-12


def test_backgrounds_fill_the_transmittance():
    splats = _scene(20, seed=5)
    V, K = _viewmats(), _K(30, 32, 12, 10, C=2)
    bg = torch.tensor([[1.0, 0.5, 0.0], [0.2, 0.2, 0.8]], dtype=F64)
    plain, alpha, _ = render(splats, V, K, 24, 20)
    with_bg, alpha_bg, _ = render(splats, V, K, 24, 20, backgrounds=bg)
    assert torch.equal(alpha, alpha_bg)
    assert torch.allclose(with_bg, plain + (1 - alpha) * bg[:, None, None, :], atol=1e-12)
    empty = {k: v[:0] for k, v in splats.items()}
    rgb, alpha, _ = render(empty, V, K, 24, 20, backgrounds=bg)
    assert torch.equal(rgb, bg[:, None, None, :].expand(2, 20, 24, 3)) and alpha.abs().max() == 0


def test_expected_depth_of_a_fronto_parallel_plane():
    """Flat Gaussians tiling the plane z = 3: the expected depth is 3 wherever something is drawn."""
    xs, ys = torch.meshgrid(torch.linspace(-1.2, 1.2, 25, dtype=F64), torch.linspace(-1, 1, 21, dtype=F64),
                            indexing="xy")
    n = xs.numel()
    splats = {
        "means": torch.stack([xs.flatten(), ys.flatten(), torch.full((n,), 3.0, dtype=F64)], dim=-1),
        "quats": torch.tensor([[1.0, 0, 0, 0]], dtype=F64).repeat(n, 1),
        "scales": torch.tensor([[0.08, 0.08, 1e-3]], dtype=F64).repeat(n, 1),
        "opacities": torch.full((n,), 0.9, dtype=F64),
        "colors": torch.rand(n, 3, dtype=F64),
    }
    rgb, alpha, _ = render(splats, torch.eye(4, dtype=F64)[None], _K(40, 40, 24, 20), 48, 40,
                           render_mode="RGB+ED")
    assert rgb.shape == (1, 40, 48, 4)
    assert alpha[0, 8:32, 10:38].min() > 0.99  # the plane covers the middle of the image
    drawn = alpha[..., 0] > 0
    assert (rgb[..., 3][drawn] - 3.0).abs().max() < 1e-9 and (rgb[..., 3][~drawn] == 0).all()


def test_culling_behind_near_and_beyond_far_plane():
    base = _scene(1, seed=6)
    for z, expect_visible in ((-2.0, False), (0.005, False), (0.5, True), (50.0, False)):
        splats = dict(base)
        splats["means"] = torch.tensor([[0.0, 0.0, z]], dtype=F64)
        rgb, alpha, info = render(splats, torch.eye(4, dtype=F64)[None], _K(30, 30, 16, 12), 32, 24,
                                  near_plane=0.01, far_plane=20.0)
        assert bool(info["radii"][0, 0] > 0) == expect_visible, z
        assert bool(alpha.max() > 0) == expect_visible, z


def test_empty_scene_renders_and_backpropagates():
    splats = {k: v[:0].clone().requires_grad_() for k, v in _scene(3, seed=7).items()}
    rgb, alpha, info = render(splats, _viewmats(), _K(30, 30, 16, 12, C=2), 32, 24)
    assert rgb.shape == (2, 24, 32, 3) and alpha.shape == (2, 24, 32, 1) and rgb.abs().max() == 0
    assert info["radii"].shape == (2, 0) and info["means2d"].shape == (2, 0, 2)
    rgb.sum().backward()
    assert splats["means"].grad.shape == (0, 3)


def test_sh_colour_follows_gsplat_conventions():
    """Camera on the -z side looking along +z: direction (0, 0, 1), so Y_1 = (0, C1, 0) and colour =
    C0 k0 + C1 k2 + 0.5, clamped at 0."""
    coeffs = torch.zeros(1, 4, 3, dtype=F64)
    coeffs[0, 0] = torch.tensor([0.5, -0.3, -4.0], dtype=F64)
    coeffs[0, 2] = torch.tensor([0.2, 0.4, 0.0], dtype=F64)
    coeffs[0, 1] = coeffs[0, 3] = 7.0  # x and y bases vanish along the axis
    splats = {
        "means": torch.tensor([[0.0, 0.0, 1.0]], dtype=F64),
        "quats": torch.tensor([[1.0, 0, 0, 0]], dtype=F64),
        "scales": torch.full((1, 3), 0.3, dtype=F64),
        "opacities": torch.tensor([0.999], dtype=F64),
        "colors": coeffs,
    }
    V = torch.eye(4, dtype=F64)[None]
    V[0, 2, 3] = 2.0  # camera centre at z = -2
    rgb, alpha, _ = render(splats, V, _K(20, 20, 8, 8), 16, 16, sh_degree=1)
    expected = torch.clamp_min(SH_C0 * coeffs[0, 0] + SH_C1 * coeffs[0, 2] + 0.5, 0.0)
    assert torch.allclose(rgb[0, 8, 8] / alpha[0, 8, 8], expected, atol=1e-12)
    rgb0, alpha0, _ = render(splats, V, _K(20, 20, 8, 8), 16, 16, sh_degree=0)
    assert torch.allclose(rgb0[0, 8, 8] / alpha0[0, 8, 8], torch.clamp_min(SH_C0 * coeffs[0, 0] + 0.5, 0.0))


def test_backend_selection_and_input_errors():
    from reconstruction.splats.render import native_available

    assert select_backend("auto", torch.device("cpu")) == ("native" if native_available()[0] else "torch")
    with pytest.raises(RuntimeError, match="gsplat"):
        select_backend("gsplat", torch.device("cpu"))
    splats = _scene(2, seed=8)
    V, K = _viewmats(), _K(30, 30, 16, 12, C=2)
    with pytest.raises(ValueError, match="sh_degree"):
        render(splats, V, K, 32, 24, sh_degree=1)
    with pytest.raises(ValueError, match="Ks"):
        render(splats, V, K[:1], 32, 24)
    with pytest.raises(ValueError, match="backend"):
        render(splats, V, K, 32, 24, backend="cuda")


def test_projection_backward_equals_autograd_of_the_same_maths():
    """The hand-written projection VJP against autograd, with Gaussians behind the camera, beyond the 1.3x
    field-of-view clamp of the Jacobian, and non-rigid viewmats (float64)."""
    g = torch.Generator().manual_seed(0)
    N = 120
    means = torch.randn(N, 3, generator=g, dtype=F64) * torch.tensor([2.0, 1.5, 1.0], dtype=F64)
    means[:, 2] += 2.0
    quats = torch.randn(N, 4, generator=g, dtype=F64)
    scales = 0.01 + 0.3 * torch.rand(N, 3, generator=g, dtype=F64)
    opacities = torch.rand(N, generator=g, dtype=F64)
    V = torch.cat([_viewmats(), _viewmats()[1:]]) + 0.01 * torch.randn(3, 4, 4, generator=g, dtype=F64)
    K = _K(50, 55, 32, 24, C=3)
    grads, outs = [], []
    for use_autograd in (False, True):
        leaves = [t.clone().requires_grad_() for t in (means, quats, scales, V)]
        p = project_gaussians(*leaves[:3], opacities, leaves[3], K, 64, 48, use_autograd=use_autograd)
        w = torch.Generator().manual_seed(1)
        loss = sum((t * torch.randn(t.shape, generator=w, dtype=F64)).sum() for t in (p.means2d, p.conics, p.depths))
        loss.backward()
        grads.append([t.grad for t in leaves])
        outs.append(p)
    assert torch.equal(outs[0].radii, outs[1].radii)
    assert (outs[0].radii[..., 0] > 0).sum() > 50 and (outs[0].depths < 0.01).sum() >= 3
    for fused, reference in zip(*grads, strict=True):
        assert (fused - reference).abs().max() <= 1e-12 * reference.abs().max()


def test_inference_mode_no_grad_and_grad_give_the_same_image_in_any_order():
    splats = _scene(30, seed=9, sh_degree=1, dtype=torch.float32)
    V, K = _viewmats().float(), _K(30, 30, 16, 12, C=2, dtype=torch.float32)
    with torch.inference_mode():
        first = render(splats, V, K, 32, 24, sh_degree=1)[0]
    with torch.no_grad():
        second = render(splats, V, K, 32, 24, sh_degree=1)[0]
    leaves = {k: v.clone().requires_grad_() for k, v in splats.items()}
    third, _, info = render(leaves, V, K, 32, 24, sh_degree=1)
    third.sum().backward()
    assert torch.equal(first, second) and torch.equal(second, third.detach())
    assert leaves["means"].grad.abs().sum() > 0 and info["means2d"].grad.abs().sum() > 0


def test_tiles_whose_pixels_all_terminated_are_skipped_exactly():
    """An opaque layer in front closes whole tiles; later depth chunks skip them (chunks of 4 Gaussians here),
    and images and gradients still equal the brute-force loop."""
    from reconstruction.splats.render.torch_backend import render_torch

    front, back = _scene(40, seed=21), _scene(60, seed=22)
    front["means"][:, 2] = 1.5 + 0.2 * torch.rand(40, generator=torch.Generator().manual_seed(0), dtype=F64)
    front["scales"] = 2 * front["scales"]
    front["opacities"] = torch.full((40,), 0.97, dtype=F64)
    perm = torch.randperm(100, generator=torch.Generator().manual_seed(1))
    splats = {k: torch.cat([front[k], back[k]])[perm] for k in front}
    V, K = _viewmats(), _K(30, 32, 12, 10, C=2)
    w = torch.rand(2, 20, 24, 4, generator=torch.Generator().manual_seed(3), dtype=F64)
    grads = []
    for use_reference in (False, True):
        leaves = {k: v.clone().requires_grad_() for k, v in splats.items()}
        Vl = V.clone().requires_grad_()
        if use_reference:
            rgb, alpha = _dense_reference(leaves, Vl, K, 24, 20, expected_depth=True)
        else:
            rgb, alpha, _ = render_torch(leaves, Vl, K, 24, 20, chunk=4, render_mode="RGB+ED")
            assert (alpha > 0.999).float().mean() > 0.8
            images = (rgb.detach(), alpha.detach())
        ((rgb * w).sum() + alpha.sum()).backward()
        grads.append([*(leaves[k].grad for k in splats), Vl.grad])
    assert (images[0] - rgb.detach()).abs().max() < 1e-12 and (images[1] - alpha.detach()).abs().max() < 1e-12
    for ours, reference in zip(*grads, strict=True):
        assert (ours - reference).abs().max() <= 1e-12 * reference.abs().max()
