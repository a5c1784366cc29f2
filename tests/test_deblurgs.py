"""DeblurGS pieces: Bezier trajectories, sub-frame positions, linear-light blur, gradients, schedules, resume."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from deblur2d.io.color import srgb_to_linear
from reconstruction.deblurgs.evaluate import rotation_error_deg, trajectory_error
from reconstruction.deblurgs.trainer import DeblurGSConfig, DeblurGSTrainer, RowAdam, annealed_threshold, log_linear
from reconstruction.deblurgs.trajectory import CameraTrajectories, bernstein_basis, bezier, bezier_derivative
from reconstruction.geometry.lie import se3_exp
from reconstruction.splats.densify import DensifyConfig
from reconstruction.splats.train_3dgs import Train3DGSConfig


def _pose(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return se3_exp(torch.randn(6, generator=g) * 0.5)


def test_bezier_endpoints_partition_and_derivative() -> None:
    ctrl = torch.randn(4, 10, 6, dtype=torch.float64)  # order 9: the authors' default
    t = torch.linspace(0, 1, 21, dtype=torch.float64)
    basis = bernstein_basis(t, 9)
    torch.testing.assert_close(basis.sum(-1), torch.ones(21, dtype=torch.float64))
    out = bezier(ctrl, t.expand(4, 21))
    torch.testing.assert_close(out[:, 0], ctrl[:, 0])
    torch.testing.assert_close(out[:, -1], ctrl[:, -1])
    # derivative: analytic vs central differences, and the endpoint tangent n (c_1 - c_0)
    tt = torch.tensor([0.3], dtype=torch.float64)
    h = 1e-6
    num = (bezier(ctrl, tt + h) - bezier(ctrl, tt - h)) / (2 * h)
    torch.testing.assert_close(bezier_derivative(ctrl, tt), num, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(
        bezier_derivative(ctrl, torch.zeros(1, dtype=torch.float64))[:, 0], 9 * (ctrl[:, 1] - ctrl[:, 0])
    )
    # a degree-n curve reproduces polynomials up to degree n: control points of t^2 for n = 2 are (0, 0, 1)
    c2 = torch.tensor([[0.0], [0.0], [1.0]], dtype=torch.float64)
    torch.testing.assert_close(bezier(c2, t)[:, 0], t**2)
    # equal control points -> constant curve
    const = torch.full((10, 6), 0.7, dtype=torch.float64)
    torch.testing.assert_close(bezier(const, t), torch.full((21, 6), 0.7, dtype=torch.float64))


def test_zero_deltas_give_constant_pose_and_endpoints() -> None:
    base = torch.stack([_pose(0), _pose(1)]).float()
    traj = CameraTrajectories(base, order=9, n_subframes=21, init_noise=0.0)
    c2w = traj.c2w([0, 1])
    assert c2w.shape == (2, 21, 4, 4)
    torch.testing.assert_close(c2w, base[:, None].expand(2, 21, 4, 4), atol=1e-6, rtol=0)
    # tiny init noise: still within 1e-4 of the given pose
    traj2 = CameraTrajectories(base, order=9, n_subframes=21, init_noise=1e-5, seed=3)
    assert (traj2.c2w([0, 1]) - base[:, None]).abs().max() < 1e-4
    # endpoints of the curve are exp of the first / last control points
    with torch.no_grad():
        traj.ctrl_rot[0].copy_(torch.randn(10, 3) * 0.05)
        traj.ctrl_trans[0].copy_(torch.randn(10, 3) * 0.05)
    ends = traj.c2w([0], torch.tensor([[0.0, 1.0]]))[0]
    first = base[0] @ se3_exp(torch.cat([traj.ctrl_trans[0, 0], traj.ctrl_rot[0, 0]]).detach())
    last = base[0] @ se3_exp(torch.cat([traj.ctrl_trans[0, -1], traj.ctrl_rot[0, -1]]).detach())
    torch.testing.assert_close(ends[0], first, atol=1e-5, rtol=0)
    torch.testing.assert_close(ends[1], last, atol=1e-5, rtol=0)
    # viewmats are the inverses
    torch.testing.assert_close(traj.viewmats([0]) @ traj.c2w([0]), torch.eye(4).expand(1, 21, 4, 4), atol=1e-5, rtol=0)


def test_anchor_mid_keeps_mid_exposure_at_given_pose() -> None:
    base = torch.stack([_pose(2), _pose(3)]).float()
    traj = CameraTrajectories(base, order=4, n_subframes=5, init_noise=0.05, anchor_mid=True, seed=1)
    with torch.no_grad():
        traj.nu.copy_(torch.tensor([[0.1, 0.3, 0.9]] * 2))
    mid = traj.c2w([0, 1], traj.mid_positions([0, 1])[:, None])[:, 0]
    torch.testing.assert_close(mid.detach(), base, atol=1e-6, rtol=0)
    subs = traj.c2w([0, 1]).detach()
    assert float((subs[:, 0] - base).abs().max()) > 1e-3  # the rest of the curve still moves
    torch.testing.assert_close(subs[:, 2], base, atol=1e-6, rtol=0)  # S = 5: sub-frame 2 is mid-exposure


def test_positions_sorted_with_fixed_endpoints() -> None:
    traj = CameraTrajectories(torch.eye(4)[None].repeat(3, 1, 1), order=3, n_subframes=7)
    t0 = traj.positions([0, 1, 2])
    torch.testing.assert_close(t0[0], torch.linspace(0, 1, 7))
    with torch.no_grad():  # scramble and push outside [0, 1]
        traj.nu.copy_(torch.tensor([[0.9, 0.1, 1.4, -0.3, 0.5]] * 3))
    t = traj.positions([0, 1, 2])
    t = t.detach()
    assert float(t[:, 0].abs().max()) == 0.0 and float((t[:, -1] - 1).abs().max()) == 0.0
    assert bool((t[:, 1:] >= t[:, :-1]).all())
    torch.testing.assert_close(t[0], torch.tensor([0.0, 0.0, 0.1, 0.5, 0.9, 1.0, 1.0]))
    assert float(traj.mid_positions([0])[0].detach()) == pytest.approx(0.5)
    # one sub-frame renders mid-exposure
    assert float(CameraTrajectories(torch.eye(4)[None], 3, 1).positions([0])[0, 0]) == 0.5


def _toy_trainer(motion: bool = True, **kw) -> DeblurGSTrainer:
    rng = np.random.default_rng(0)
    c2ws = np.repeat(np.eye(4)[None], 3, 0)
    c2ws[:, 0, 3] = [-0.2, 0.0, 0.2]
    imgs = rng.random((3, 24, 32, 3)).astype(np.float32)
    K = np.array([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]])
    pts = rng.normal(size=(200, 3)) * [0.6, 0.4, 0.3] + [0, 0, 3.0]
    gs = Train3DGSConfig(
        steps=20,
        sh_degree=0,
        init_opacity=0.3,
        backend="torch",
        densify=DensifyConfig(
            refine_start_iter=2, refine_stop_iter=15, refine_every=4, reset_every=0, max_gaussians=400
        ),
    )
    cfg = DeblurGSConfig(gs=gs, motion=motion, curve_order=3, n_subframes=4, motion_start_step=3, anneal_steps=10, **kw)
    return DeblurGSTrainer(cfg, imgs, K, c2ws, points=pts, colors=(rng.random((200, 3)) * 255).astype(np.uint8))


def test_predicted_blur_is_linear_mean_and_gradients_reach_control_points() -> None:
    tr = _toy_trainer()
    with torch.no_grad():
        tr.traj.ctrl_rot.copy_(torch.randn_like(tr.traj.ctrl_rot) * 0.02)
    tr.traj.set_trainable(True, True)
    pred, subs, info = tr.predict_blurry([1])
    assert subs.shape == (1, 4, 24, 32, 3) and info["n_cameras"] == 4
    # the same sub-frames rendered one by one, averaged in linear light
    t = tr.traj.positions([1])[0]
    singles = [tr.render_linear(tr.traj.viewmats([1], t[k].reshape(1, 1))[:, 0])[0][0] for k in range(4)]
    torch.testing.assert_close(pred[0], torch.stack(singles).mean(0), atol=1e-5, rtol=0)
    assert float((subs[0, 0] - subs[0, -1]).detach().abs().max()) > 1e-3  # the sub-frames really differ
    target = srgb_to_linear(tr.images[1:2])
    (pred - target).abs().mean().backward()
    assert tr.traj.ctrl_rot.grad[1].abs().sum() > 0 and tr.traj.ctrl_trans.grad[1].abs().sum() > 0
    assert tr.traj.nu.grad[1].abs().sum() > 0
    assert tr.traj.ctrl_rot.grad[[0, 2]].abs().sum() == 0  # other frames untouched


def test_schedules() -> None:
    cfg = DeblurGSConfig(
        gs=Train3DGSConfig(steps=100, densify=DensifyConfig(grow_grad2d=2e-4)), grow_grad2d_init=4e-4, anneal_steps=40
    )
    assert annealed_threshold(0, cfg) == pytest.approx(4e-4)
    assert annealed_threshold(20, cfg) == pytest.approx(math.sqrt(4e-4 * 2e-4))
    assert annealed_threshold(10, cfg) == pytest.approx(4e-4 * 0.5**0.25)
    assert annealed_threshold(40, cfg) == pytest.approx(2e-4)
    assert annealed_threshold(90, cfg) == pytest.approx(2e-4)
    assert annealed_threshold(0, replace(cfg, anneal=False)) == pytest.approx(2e-4)
    assert log_linear(50, 1e-4, 1e-5, 100) == pytest.approx(math.sqrt(1e-9))
    tr = _toy_trainer()
    assert tr.strategy.grow_threshold(0) == pytest.approx(4e-4)
    lrs = tr.motion_lrs(3 + 15_000)
    assert lrs["rot"] == pytest.approx(tr.cfg.lr_rot * 0.5)
    assert not tr.motion_active(2) and tr.motion_active(3)


def test_densify_statistics_accumulate_over_subframes() -> None:
    tr = _toy_trainer()
    tr.step = 3  # motion active: 4 sub-frames in one render call
    tr.train_step()
    # every (sub-frame, Gaussian) visit counts once: a Gaussian visible throughout counts S = 4
    assert float(tr.strategy.count.max()) == 4.0
    tr2 = _toy_trainer(motion=False)
    tr2.train_step()
    assert float(tr2.strategy.count.max()) == 1.0


def test_row_adam_moves_only_listed_rows() -> None:
    p = torch.nn.Parameter(torch.zeros(3, 2))
    opt = RowAdam({"x": p}, {"x": 0.1})
    p.grad = torch.ones(3, 2)
    opt.step(torch.tensor([1]))
    torch.testing.assert_close(p.detach(), torch.tensor([[0.0, 0.0], [-0.1, -0.1], [0.0, 0.0]]))
    after_one = p.detach().clone()
    p.grad = torch.zeros(3, 2)
    opt.step(torch.tensor([0]))  # row 1's momentum must not move it again; row 0 has no momentum yet
    torch.testing.assert_close(p.detach(), after_one, atol=0, rtol=0)
    assert int(opt.t["x"][0]) == 1 and int(opt.t["x"][1]) == 1 and int(opt.t["x"][2]) == 0


def test_checkpoint_resume_is_exact(tmp_path) -> None:
    a = _toy_trainer()
    a.train(8, progress=False)
    a.save_checkpoint(tmp_path / "c.pt")
    a.train(14, progress=False)
    b = _toy_trainer()
    b.load_checkpoint(tmp_path / "c.pt")
    assert b.step == 8
    b.train(14, progress=False)
    for name in a.model.params:
        torch.testing.assert_close(a.model.params[name], b.model.params[name], atol=0, rtol=0)
    for name in ("ctrl_trans", "ctrl_rot", "nu"):
        torch.testing.assert_close(getattr(a.traj, name), getattr(b.traj, name), atol=0, rtol=0)
    assert float(a.traj.ctrl_rot.detach().abs().max()) > 1e-4  # motion was really optimised


def test_trajectory_error_metric() -> None:
    true = np.stack([np.stack([np.eye(4)] * 5)])
    rot = np.eye(4)
    a = np.deg2rad(2.0)
    rot[:3, :3] = [[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]
    assert float(rotation_error_deg(rot, np.eye(4))) == pytest.approx(2.0, abs=1e-6)
    est = np.stack([np.stack([rot] * 5)])
    est[0, :, 0, 3] = 0.1
    err = trajectory_error(est, true, scale=2.0)
    assert err["rot_deg"] == pytest.approx(2.0, abs=1e-6) and err["trans_rel"] == pytest.approx(0.05)
