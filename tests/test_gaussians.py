"""Gaussian model: initialisation, activation, SH schedule, exact checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reconstruction.splats.densify import DensifyConfig, DensifyStrategy
from reconstruction.splats.gaussians import (
    SH_C0,
    GaussianModel,
    knn_scales,
    load_checkpoint,
    rgb_to_sh,
    save_checkpoint,
    sh_to_rgb,
)


def test_knn_scales_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    pts = rng.random((50, 3))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    nn3 = np.sort(d, axis=1)[:, :3]
    expected = np.sqrt((nn3**2).mean(axis=1))
    np.testing.assert_allclose(knn_scales(pts), expected, rtol=1e-12)
    # a regular grid of spacing 0.5: every point has >= 3 neighbours at exactly 0.5
    g = np.stack(np.meshgrid(*[np.arange(4) * 0.5] * 3, indexing="ij"), -1).reshape(-1, 3)
    np.testing.assert_allclose(knn_scales(g), 0.5, rtol=1e-12)
    # duplicates are clamped at sqrt(1e-7), never log(0)
    assert knn_scales(np.zeros((5, 3))).min() == pytest.approx(np.sqrt(1e-7))


def test_from_points_initialisation() -> None:
    rng = np.random.default_rng(1)
    pts = rng.random((40, 3)).astype(np.float32)
    cols = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    m = GaussianModel.from_points(pts, cols, init_opacity=0.1, init_scale=2.0)
    assert len(m) == 40
    p = m.params
    assert p["means"].shape == (40, 3) and p["shN"].shape == (40, 15, 3) and p["sh0"].shape == (40, 1, 3)
    np.testing.assert_allclose(p["means"].detach().numpy(), pts)
    expected = 2.0 * knn_scales(pts)
    scales = torch.exp(p["scales"]).detach().numpy()
    np.testing.assert_allclose(scales, np.repeat(expected[:, None], 3, 1), rtol=1e-5)
    np.testing.assert_allclose(torch.sigmoid(p["opacities"]).detach().numpy(), 0.1, rtol=1e-6)
    assert torch.equal(p["quats"].detach(), torch.tensor([[1.0, 0, 0, 0]]).expand(40, 4))
    np.testing.assert_allclose(sh_to_rgb(p["sh0"][:, 0]).detach().numpy(), cols / 255.0, atol=1e-6)
    assert torch.count_nonzero(p["shN"]) == 0
    assert float(rgb_to_sh(torch.tensor(0.5 + SH_C0))) == pytest.approx(1.0)


def test_render_dict_activation_and_sh_schedule() -> None:
    m = GaussianModel.from_points(np.random.default_rng(2).random((10, 3)), sh_degree_interval=100)
    with torch.no_grad():
        m.params["quats"].mul_(3.0)
        m.params["shN"].normal_()
    d = m.to_render_dict()
    assert set(d) == {"means", "quats", "scales", "opacities", "colors"}
    torch.testing.assert_close(d["quats"].norm(dim=-1), torch.ones(10))
    torch.testing.assert_close(d["scales"], torch.exp(m.params["scales"]))
    torch.testing.assert_close(d["opacities"], torch.sigmoid(m.params["opacities"]))
    assert d["colors"].shape == (10, 16, 3)
    assert m.to_render_dict(sh_degree=1)["colors"].shape == (10, 4, 3)
    torch.testing.assert_close(m.to_render_dict(sh_degree=1)["colors"], d["colors"][:, :4])
    assert [m.sh_degree_at(s) for s in (0, 99, 100, 250, 300, 10_000)] == [0, 0, 1, 2, 3, 3]
    d["colors"].sum().backward()  # differentiable w.r.t. the raw parameters
    assert m.params["sh0"].grad is not None and m.params["shN"].grad is not None
    with pytest.raises(ValueError):
        m.to_render_dict(sh_degree=4)


def test_random_in_frusta_points_are_visible() -> None:
    c2ws = np.repeat(np.eye(4)[None], 3, axis=0)
    c2ws[1, :3, 3] = [1.0, 0.0, 0.0]
    c2ws[2, :3, :3] = np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]])  # looks along world +x
    K = np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]])
    m = GaussianModel.random_in_frusta(c2ws, K, 64, 48, 500, (1.0, 3.0), seed=3)
    pts = m.params["means"].detach().double().numpy()
    inside_any = np.zeros(len(pts), bool)
    for c2w in c2ws:
        w2c = np.linalg.inv(c2w)
        pc = pts @ w2c[:3, :3].T + w2c[:3, 3]
        uv = pc @ K.T
        u, v = uv[:, 0] / uv[:, 2], uv[:, 1] / uv[:, 2]
        ok = (pc[:, 2] >= 1 - 1e-5) & (pc[:, 2] <= 3 + 1e-5) & (u >= -1e-3) & (u <= 64.001) & (v >= -1e-3)
        inside_any |= ok & (v <= 48.001)
    assert inside_any.all()
    again = GaussianModel.random_in_frusta(c2ws, K, 64, 48, 500, (1.0, 3.0), seed=3)
    assert torch.equal(again.params["means"], m.params["means"])  # seeded


def _train_a_bit(model: GaussianModel, opts: dict, steps: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        target = torch.randn(len(model), 3, generator=g)
        d = model.to_render_dict()
        loss = ((d["means"] - target) ** 2).sum() + d["scales"].sum() + d["opacities"].sum()
        loss = loss + d["colors"].sum() + d["quats"][:, 1].sum()
        loss.backward()
        for o in opts.values():
            o.step()
            o.zero_grad(set_to_none=True)


def test_checkpoint_round_trip_is_exact(tmp_path) -> None:
    model = GaussianModel.from_points(np.random.default_rng(4).random((30, 3)))
    opts = {k: torch.optim.Adam([model.params[k]], lr=1e-2, eps=1e-15) for k in model.params}
    strategy = DensifyStrategy(DensifyConfig(), scene_scale=2.5)
    strategy.reset_stats(30)
    strategy.grad2d += torch.arange(30.0)
    _train_a_bit(model, opts, 3, seed=0)
    path = save_checkpoint(
        tmp_path / "ck.pt", model, step=17, optimizers=opts, strategy=strategy, extra={"a": 1}
    )
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # nothing partial left behind

    ck = load_checkpoint(path)
    assert ck["step"] == 17 and ck["extra"] == {"a": 1}
    m2 = GaussianModel.from_state(ck["model"])
    for k in model.params:
        assert torch.equal(m2.params[k], model.params[k])
    assert (m2.sh_degree_max, m2.sh_degree_interval) == (model.sh_degree_max, model.sh_degree_interval)
    opts2 = {k: torch.optim.Adam([m2.params[k]], lr=1e-2, eps=1e-15) for k in m2.params}
    for k, o in opts2.items():
        o.load_state_dict(ck["optimizers"][k])
    s2 = DensifyStrategy()
    s2.load_state_dict(ck["strategy"])
    assert s2.scene_scale == 2.5 and torch.equal(s2.grad2d, strategy.grad2d)

    # continuing from the copy gives bit-identical parameters
    _train_a_bit(model, opts, 4, seed=1)
    _train_a_bit(m2, opts2, 4, seed=1)
    for k in model.params:
        assert torch.equal(m2.params[k], model.params[k]), k


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError):
        GaussianModel.from_points(np.zeros((0, 3)))
    with pytest.raises(ValueError):
        GaussianModel.from_points(np.zeros((4, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        GaussianModel.random_in_frusta(np.eye(4), np.eye(3), 8, 8, 10, (2.0, 1.0))
