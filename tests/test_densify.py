"""Densification on constructed gradients: clone / split / prune / reset, state surgery, cap, accumulation."""

from __future__ import annotations

import math

import pytest
import torch

from reconstruction.splats.densify import DensifyConfig, DensifyStrategy, quat_to_rotmat

W, H = 100, 50


def _params(n: int = 6) -> dict[str, torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    log_s = torch.full((n, 3), math.log(0.005))  # small: 0.005 <= 0.01 * scene_scale (1.0)
    log_s[2:4] = math.log(0.05)  # 2, 3 large
    raw = {
        "means": torch.randn(n, 3, generator=g),
        "scales": log_s,
        "quats": torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1),
        "opacities": torch.full((n,), 0.0),  # opacity 0.5
        "sh0": torch.randn(n, 1, 3, generator=g),
        "shN": torch.randn(n, 3, 3, generator=g),
    }
    return {k: torch.nn.Parameter(v) for k, v in raw.items()}


def _adam(params: dict) -> dict[str, torch.optim.Adam]:
    opts = {k: torch.optim.Adam([p], lr=1e-3) for k, p in params.items()}
    for p in params.values():  # one step so every row has non-zero moments
        p.grad = torch.ones_like(p)
    for o in opts.values():
        o.step()
        o.zero_grad(set_to_none=True)
    return opts


def _info(grad_px: torch.Tensor, radii: torch.Tensor, n_cameras: int | None = None) -> dict:
    """A render ``info`` whose means2d.grad is ``grad_px`` [C, N, 2] (pixels)."""
    m2d = torch.zeros_like(grad_px, requires_grad=True)
    m2d.grad = grad_px.clone()
    c = grad_px.shape[0]
    return {"means2d": m2d, "radii": radii, "width": W, "height": H, "n_cameras": n_cameras or c}


def _state(opt: torch.optim.Optimizer) -> dict:
    return next(iter(opt.state.values()))


def test_gradient_normalisation_matches_gsplat() -> None:
    s = DensifyStrategy(DensifyConfig(), scene_scale=1.0)
    g = torch.zeros(1, 3, 2)
    g[0, 0] = torch.tensor([3e-6, 4e-6])  # pixels
    g[0, 1] = torch.tensor([1e-5, 0.0])
    radii = torch.tensor([[2, 5, 0]], dtype=torch.int32)  # Gaussian 2 culled
    s.accumulate(_info(g, radii))
    # NDC gradient = pixel gradient * [W/2, H/2] * n_cameras
    expected0 = math.hypot(3e-6 * W / 2, 4e-6 * H / 2)
    assert s.grad2d[0].item() == pytest.approx(expected0, rel=1e-6)
    assert s.grad2d[1].item() == pytest.approx(1e-5 * W / 2, rel=1e-6)
    assert s.count.tolist() == [1.0, 1.0, 0.0]
    assert s.max_radii.tolist() == pytest.approx([2 / W, 5 / W, 0.0])


def test_multi_camera_accumulation_counts_per_camera() -> None:
    n = 4
    g = torch.rand(3, n, 2, generator=torch.Generator().manual_seed(1)) * 1e-4
    radii = torch.tensor([[3, 3, 0, 1], [3, 0, 0, 2], [3, 3, 0, 0]], dtype=torch.int32)
    batched = DensifyStrategy()
    batched.accumulate(_info(g, radii))
    assert batched.count.tolist() == [3.0, 2.0, 0.0, 2.0]
    vis = (radii > 0).float()
    scale = torch.tensor([W / 2 * 3, H / 2 * 3])
    torch.testing.assert_close(batched.grad2d, ((g * scale).norm(dim=-1) * vis).sum(0))
    # The same three cameras rendered by three separate calls, loss averaged over all three
    separate = DensifyStrategy()
    for c in range(3):
        separate.accumulate(_info(g[c : c + 1], radii[c : c + 1]), n_views=3)
    torch.testing.assert_close(separate.grad2d, batched.grad2d)
    assert torch.equal(separate.count, batched.count)
    # step_post_backward with a list of infos uses the total number of cameras by default
    listed = DensifyStrategy()
    listed.step_post_backward(_params(n), None, 0, [_info(g[c : c + 1], radii[c : c + 1]) for c in range(3)])
    torch.testing.assert_close(listed.grad2d, batched.grad2d)
    # gsplat 1.5.3 per-axis radii [C, N, 2] are understood too (visible where both are > 0)
    axis = DensifyStrategy()
    axis.accumulate(_info(g, torch.stack([radii, radii], dim=-1)))
    torch.testing.assert_close(axis.grad2d, batched.grad2d)


def test_grad_none_is_a_clear_error() -> None:
    s = DensifyStrategy()
    info = {"means2d": torch.zeros(1, 2, 2, requires_grad=True), "radii": torch.ones(1, 2), "width": 4,
            "height": 4, "n_cameras": 1}  # fmt: skip
    with pytest.raises(RuntimeError, match="retain"):
        s.accumulate(info)


def _grad_info(n: int, per_gaussian_ndc: list[float]) -> dict:
    """One camera; Gaussian i gets an NDC-space gradient norm per_gaussian_ndc[i] along x."""
    g = torch.zeros(1, n, 2)
    g[0, :, 0] = torch.tensor(per_gaussian_ndc) / (W / 2)
    return _info(g, torch.full((1, n), 4, dtype=torch.int32))


def test_clone_split_prune_numbers_and_optimizer_surgery() -> None:
    params = _params(6)
    with torch.no_grad():
        params["opacities"][5] = -8.0  # opacity 3e-4 < 0.005: pruned
    opts = _adam(params)
    old = {k: p.detach().clone() for k, p in params.items()}
    old_avg = {k: _state(o)["exp_avg"].clone() for k, o in opts.items()}
    cfg = DensifyConfig(refine_start_iter=500, refine_every=100, reset_every=3000, seed=0)
    s = DensifyStrategy(cfg, scene_scale=1.0)
    # 0, 1 small & high -> clone; 2, 3 large & high -> split; 4 small & low -> nothing; 5 -> pruned
    out = s.step_post_backward(params, opts, 600, _grad_info(6, [5e-4, 3e-4, 4e-4, 1e-3, 1e-4, 1e-4]))
    assert (out["cloned"], out["split"], out["pruned"], out["reset"]) == (2, 2, 1, 0)
    # 6 + 2 clones + 2 split (each parent replaced by 2 children) - 1 pruned = 9
    assert out["n"] == 9 and params["means"].shape == (9, 3)
    # Row order: kept [0, 1, 4, 5] -> prune 5 -> [0, 1, 4], clones [0, 1], children [2, 3, 2, 3]
    means = params["means"].detach()
    torch.testing.assert_close(means[:3], old["means"][[0, 1, 4]])
    torch.testing.assert_close(means[3:5], old["means"][[0, 1]])  # exact copies
    torch.testing.assert_close(params["sh0"].detach()[5:], old["sh0"][[2, 3, 2, 3]])
    torch.testing.assert_close(params["scales"].detach()[5:], old["scales"][[2, 3, 2, 3]] - math.log(1.6))
    # children sit within a few parent sigmas of the parent, and the two children differ
    d = (means[5:] - old["means"][[2, 3, 2, 3]]).norm(dim=-1)
    assert torch.all(d < 5 * 0.05 * math.sqrt(3)) and torch.all(d > 0)
    assert not torch.allclose(means[5], means[7])
    # Adam moments: kept rows keep theirs, new rows start at zero; shapes follow the parameters
    for k, o in opts.items():
        st = _state(o)
        assert o.param_groups[0]["params"][0] is params[k]
        assert st["exp_avg"].shape == params[k].shape and st["exp_avg_sq"].shape == params[k].shape
        torch.testing.assert_close(st["exp_avg"][:3], old_avg[k][[0, 1, 4]])
        assert torch.count_nonzero(st["exp_avg"][3:]) == 0 and torch.count_nonzero(st["exp_avg_sq"][3:]) == 0
        assert float(st["step"]) == 1.0
    # statistics restart from zero for the new set
    assert s.grad2d.shape == (9,) and torch.count_nonzero(s.grad2d) == 0
    # the optimiser still steps after surgery
    for p in params.values():
        p.grad = torch.ones_like(p)
    for o in opts.values():
        o.step()


def test_refine_schedule_and_threshold_per_step() -> None:
    cfg = DensifyConfig(refine_start_iter=500, refine_every=100, refine_stop_iter=15_000)
    s = DensifyStrategy(cfg)
    assert [s.is_refine_step(t) for t in (400, 500, 550, 600, 14_900, 15_000)] == [0, 0, 0, 1, 1, 0]
    grads = [3e-4, 3e-4, 3e-4, 3e-4, 3e-4, 3e-4]

    params = _params(6)
    s.grow_grad2d = 5e-4  # attribute set by a caller: nothing is above it
    out = s.step_post_backward(params, None, 600, _grad_info(6, grads))
    assert out["cloned"] + out["split"] == 0
    s.grow_grad2d_schedule = lambda step: 2e-4 if step >= 700 else 1.0  # an annealed threshold
    out = s.step_post_backward(params, None, 600, _grad_info(6, grads))
    assert out["cloned"] + out["split"] == 0
    out = s.step_post_backward(params, None, 700, _grad_info(6, grads))
    assert (out["cloned"], out["split"]) == (4, 2)


def test_opacity_reset_happens() -> None:
    # gsplat 1.5.3 tests `step % reset_every == 0 & step > 0`, which Python reads as a chained comparison
    # `step % reset_every == (0 & step) > 0`: always False, so it never resets. Ours does.
    step, reset_every = 3000, 3000
    assert (step % reset_every == 0 & step > 0) is False
    params = _params(6)
    with torch.no_grad():
        params["opacities"][:3] = 3.0  # opacity 0.95
        params["opacities"][3:] = -5.0  # opacity 0.0067 < 0.01: left as is
    opts = _adam(params)
    before = params["opacities"].detach().clone()
    s = DensifyStrategy(DensifyConfig(reset_every=3000, refine_every=100, refine_start_iter=500))
    zeros = _grad_info(6, [0.0] * 6)
    assert s.step_post_backward(params, opts, 2999, zeros)["reset"] == 0
    assert torch.sigmoid(params["opacities"][0]).item() > 0.9
    out = s.step_post_backward(params, opts, 3000, zeros)
    assert out["reset"] == 1 and s.n_resets == 1
    op = torch.sigmoid(params["opacities"].detach())
    torch.testing.assert_close(op[:3], torch.full((3,), 0.01))
    assert torch.equal(params["opacities"].detach()[3:], before[3:])
    st = _state(opts["opacities"])
    assert opts["opacities"].param_groups[0]["params"][0] is params["opacities"]
    assert torch.count_nonzero(st["exp_avg"]) == 0 and torch.count_nonzero(st["exp_avg_sq"]) == 0
    assert torch.count_nonzero(_state(opts["means"])["exp_avg"]) > 0  # others untouched
    assert s.is_reset_step(6000) and not s.is_reset_step(0) and not s.is_reset_step(15_000)
    assert not DensifyStrategy(DensifyConfig(reset_every=0)).is_reset_step(3000)


def test_cap_keeps_highest_gradients() -> None:
    params = _params(6)
    cfg = DensifyConfig(refine_start_iter=0, refine_every=10, max_gaussians=9)
    s = DensifyStrategy(cfg)
    # candidates: 0 (clone, 3e-4), 1 (clone, 9e-4), 2 (split, 5e-4), 3 (split, 8e-4), 4 (clone, 6e-4)
    out = s.step_post_backward(params, None, 10, _grad_info(6, [3e-4, 9e-4, 5e-4, 8e-4, 6e-4, 0.0]))
    # budget 3: the three highest gradients 1, 3, 4 grow; 0 and 2 do not
    assert (out["cloned"], out["split"]) == (2, 1)
    assert out["n"] == 9
    # full: no more growth
    out = s.step_post_backward(params, None, 20, _grad_info(9, [1e-3] * 9))
    assert out["cloned"] + out["split"] == 0 and out["n"] == 9


def test_prune_by_size_after_first_reset() -> None:
    cfg = DensifyConfig(refine_start_iter=0, refine_every=10, reset_every=100, prune_scale3d=0.1)
    params = _params(6)
    with torch.no_grad():
        params["scales"][4, 1] = math.log(0.5)  # 0.5 > 0.1 * scene_scale
    s = DensifyStrategy(cfg, scene_scale=1.0)
    assert s.step_post_backward(params, None, 50, _grad_info(6, [0.0] * 6))["pruned"] == 0
    assert s.step_post_backward(params, None, 110, _grad_info(6, [0.0] * 6))["pruned"] == 1
    assert params["means"].shape[0] == 5
    # screen-size pruning while step < refine_scale2d_stop_iter
    cfg2 = DensifyConfig(
        refine_start_iter=0, refine_every=10, refine_scale2d_stop_iter=1000, grow_scale2d=0.5
    )
    s2 = DensifyStrategy(cfg2)
    g = torch.zeros(1, 5, 2)
    radii = torch.tensor([[1, 1, 30, 1, 1]], dtype=torch.int32)  # 30 / 100 = 0.3 > 0.15
    out = s2.step_post_backward(params, None, 10, _info(g, radii))
    assert out["pruned"] == 1 and out["split"] == 0 and params["means"].shape[0] == 4


def test_split_children_follow_the_rotation() -> None:
    q = torch.tensor([[math.cos(0.4), 0.0, 0.0, math.sin(0.4)]])  # rotation of 0.8 rad about z
    R = quat_to_rotmat(q)[0]
    c, s_ = math.cos(0.8), math.sin(0.8)
    torch.testing.assert_close(R, torch.tensor([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]]))
    params = _params(1)
    with torch.no_grad():
        params["quats"][:] = q
        params["scales"][:] = torch.log(torch.tensor([[1.0, 1e-6, 1e-6]]))  # a needle along local x
    s = DensifyStrategy(DensifyConfig(refine_start_iter=0, refine_every=10, split_children=2))
    s.step_post_backward(params, None, 10, _grad_info(1, [1.0]))
    off = params["means"].detach()[:2] - _params(1)["means"].detach()[0]
    direction = torch.tensor([c, s_, 0.0])
    cos = (off @ direction).abs() / off.norm(dim=-1)
    assert torch.all(cos > 0.999)  # offsets lie along the rotated needle


def test_state_dict_round_trip_resumes_splits_exactly() -> None:
    cfg = DensifyConfig(refine_start_iter=0, refine_every=10)
    a = DensifyStrategy(cfg)
    a.accumulate(_grad_info(6, [1e-3] * 6))
    b = DensifyStrategy()
    b.load_state_dict(a.state_dict())
    pa, pb = _params(6), _params(6)
    a.step(pa, None, 10)
    b.step(pb, None, 10)
    for k in pa:
        assert torch.equal(pa[k], pb[k])


def test_agrees_with_gsplat_default_strategy() -> None:
    """Same decisions as gsplat 1.5.3's DefaultStrategy (reference implementation of 3DGS) before any reset."""
    strategy_mod = pytest.importorskip("gsplat.strategy")
    g = torch.Generator().manual_seed(0)
    n = 200
    raw = {
        "means": torch.randn(n, 3, generator=g),
        "scales": torch.log(torch.rand(n, 3, generator=g) * 0.05 + 0.001),
        "quats": torch.randn(n, 4, generator=g),
        "opacities": torch.randn(n, generator=g) * 3,
        "sh0": torch.randn(n, 1, 3, generator=g),
        "shN": torch.randn(n, 15, 3, generator=g),
    }
    grad = torch.rand(2, n, 2, generator=g) * 2e-5
    radii = (torch.rand(2, n, generator=g) > 0.3).int() * 5

    def make() -> tuple[dict, dict]:
        p = {k: torch.nn.Parameter(v.clone()) for k, v in raw.items()}
        return p, _adam(p)

    def info() -> dict:
        m = torch.zeros(2, n, 2, requires_grad=True)
        m.grad = grad.clone()
        return {"means2d": m, "radii": torch.stack([radii, radii], -1), "width": 64, "height": 48,
                "n_cameras": 2, "gaussian_ids": None}  # fmt: skip

    pg, og = make()
    ref = strategy_mod.DefaultStrategy(refine_start_iter=0, refine_every=10, reset_every=3000)
    st = ref.initialize_state(scene_scale=1.0)
    pm, om = make()
    ours = DensifyStrategy(DensifyConfig(refine_start_iter=0, refine_every=10, reset_every=3000), 1.0)
    for step in (5, 10):
        ref.step_post_backward(pg, og, st, step, info())
        out = ours.step_post_backward(pm, om, step, info())
    assert out["cloned"] > 0 and out["split"] > 0 and out["pruned"] > 0
    assert pm["means"].shape == pg["means"].shape
    # Row order differs and split children are random; everything else is the same multiset of values.
    for k in ("opacities", "scales", "quats", "sh0"):
        a = pm[k].detach().reshape(len(pm[k]), -1)
        b = pg[k].detach().reshape(len(pg[k]), -1)
        torch.testing.assert_close(a.sum(1).sort().values, b.sum(1).sort().values)
    for k in om:
        a, b = om[k].state[pm[k]]["exp_avg"], og[k].state[pg[k]]["exp_avg"]
        assert a.shape == b.shape == pm[k].shape
        torch.testing.assert_close(a.abs().sum(), b.abs().sum())  # same rows kept, same rows zeroed
