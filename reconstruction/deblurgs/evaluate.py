"""Evaluation of a DeblurGS run on synthetic scenes (ground truth from ``gt/``).

- deblurred training frames (mid-exposure renders) vs ``gt/sharp``: PSNR (dB) / SSIM, and the blurry input vs
  the same targets for reference;
- novel views on ``gt/test``: rendered with the given pose (``novel_given_pose``) and, separately, after
  test-time pose optimisation with the scene frozen (``novel_pose_optimised``: Adam on an se(3) delta per view,
  L1 in linear light), both labelled;
- trajectory error vs the true sub-frame poses ``c2w_sub``: the recovered sub-frame poses (at their learned
  positions; each sub-frame is an equal slice of exposure time) vs the true path at ``S`` evenly spaced
  times; rotation error in degrees (geodesic), translation error relative to the scene scale (camera
  extent). The time direction of a blurry frame is ambiguous (a blur is the same played backwards), so each
  frame takes the better of the two directions. ``trajectory_given`` is the same error for the constant
  given pose (no motion model), as reference.

Images are compared at the training resolution (``gt/`` images are box-downscaled in linear light when the run
downscaled its input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblur2d.io.color import srgb_to_linear
from deblur2d.metrics import psnr, ssim
from reconstruction.geometry.lie import se3_exp
from reconstruction.splats.train_3dgs import c2w_to_viewmat, camera_extent

from .data import downscale_image, read_image

__all__ = ["image_metrics", "rotation_error_deg", "trajectory_error", "optimise_test_poses", "evaluate_run"]


def image_metrics(pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> dict[str, Any]:
    """Mean PSNR (dB) and SSIM of sRGB image stacks ``[B, H, W, 3]`` in [0, 1], plus per-image PSNR."""
    p = torch.as_tensor(np.asarray(pred), dtype=torch.float32)
    t = torch.as_tensor(np.asarray(target), dtype=torch.float32)
    ps = [float(psnr(a.clamp(0, 1), b)) for a, b in zip(p, t, strict=True)]
    ss = [float(ssim(a.clamp(0, 1), b)) for a, b in zip(p, t, strict=True)]
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "psnr_per_image": ps}


def rotation_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (degrees) between the rotations of poses ``a``, ``b`` ``[..., 4, 4]`` (or ``[..., 3, 3]``)."""
    r = np.swapaxes(a[..., :3, :3], -1, -2) @ b[..., :3, :3]
    c = (np.trace(r, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def _resample_path(c2w_sub: np.ndarray, k: int) -> np.ndarray:
    """Pick ``k`` evenly spaced poses (nearest index) of a true sub-frame path ``[S, 4, 4]``."""
    idx = np.rint(np.linspace(0, len(c2w_sub) - 1, k)).astype(int)
    return c2w_sub[idx]


def trajectory_error(est: np.ndarray, true_sub: np.ndarray, scale: float) -> dict[str, float]:
    """Errors of estimated paths ``est [V, K, 4, 4]`` (K evenly spaced exposure times) vs true sub-frame paths
    ``true_sub [V, S, 4, 4]``; best of both time directions per frame. Returns mean rotation error (deg),
    mean translation error (fraction of ``scale``) and the same at mid-exposure."""
    v, k = est.shape[:2]
    rot, tr, rot_mid, tr_mid = [], [], [], []
    for i in range(v):
        gt = _resample_path(true_sub[i], k)
        best = None
        for path in (est[i], est[i][::-1]):
            re = rotation_error_deg(path, gt)
            te = np.linalg.norm(path[:, :3, 3] - gt[:, :3, 3], axis=1) / scale
            cand = (float(re.mean()), float(te.mean()))
            if best is None or cand[0] + cand[1] * 57.3 < best[0] + best[1] * 57.3:
                best = cand
        rot.append(best[0])
        tr.append(best[1])
        mid_true = true_sub[i][len(true_sub[i]) // 2]
        rot_mid.append(float(rotation_error_deg(est[i][k // 2], mid_true)))
        tr_mid.append(float(np.linalg.norm(est[i][k // 2][:3, 3] - mid_true[:3, 3]) / scale))
    return {
        "rot_deg": float(np.mean(rot)),
        "trans_rel": float(np.mean(tr)),
        "mid_rot_deg": float(np.mean(rot_mid)),
        "mid_trans_rel": float(np.mean(tr_mid)),
    }


def optimise_test_poses(
    trainer: Any, c2w: np.ndarray, targets: np.ndarray, steps: int = 100, lr_rot: float = 2e-3, lr_trans: float = 2e-3
) -> tuple[torch.Tensor, np.ndarray]:
    """Test-time pose optimisation with the scene frozen: per view an se(3) delta (camera frame, ``lr_trans``
    x scene extent) fitted by Adam to the sRGB target (L1 in linear light). Returns (sRGB renders
    ``[C, H, W, 3]``, optimised c2w ``[C, 4, 4]``)."""
    from deblur2d.io.color import linear_to_srgb

    base = torch.as_tensor(np.asarray(c2w), dtype=torch.float32).reshape(-1, 4, 4)
    tgt = srgb_to_linear(torch.as_tensor(np.asarray(targets), dtype=torch.float32))
    for p in trainer.model.parameters():
        p.requires_grad_(False)
    out, poses = [], []
    try:
        for i in range(len(base)):
            rho = torch.zeros(3, requires_grad=True)
            phi = torch.zeros(3, requires_grad=True)
            opt = torch.optim.Adam(
                [{"params": [rho], "lr": lr_trans * trainer.scene_scale}, {"params": [phi], "lr": lr_rot}]
            )
            for _ in range(steps):
                c2w_i = base[i] @ se3_exp(torch.cat([rho, phi]))
                rgb, _, _ = trainer.render_linear(c2w_to_viewmat(c2w_i)[None], sh_degree=trainer.model.sh_degree_max)
                loss = (rgb[0] - tgt[i]).abs().mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                c2w_i = base[i] @ se3_exp(torch.cat([rho, phi]))
                rgb, _, _ = trainer.render_linear(c2w_to_viewmat(c2w_i)[None], sh_degree=trainer.model.sh_degree_max)
            out.append(linear_to_srgb(rgb[0].clamp(0, 1)))
            poses.append(c2w_i.double().numpy())
    finally:
        for p in trainer.model.parameters():
            p.requires_grad_(True)
    return torch.stack(out), np.stack(poses)


def evaluate_run(
    trainer: Any, scene: Path, downscale: int = 1, *, test_pose_steps: int = 100, n_traj_samples: int = 11
) -> dict[str, Any]:
    """All metrics of the module docstring for a trained :class:`DeblurGSTrainer` on a synthetic ``scene``."""
    from reconstruction.io.gt_cameras import load_gt

    scene = Path(scene)
    gt = load_gt(scene)
    sharp_gt = np.stack([downscale_image(read_image(scene / "gt" / "sharp" / f), downscale) for f in gt["files"]])
    out: dict[str, Any] = {}
    deblurred = trainer.render_sharp().cpu().numpy()
    out["deblurred"] = image_metrics(deblurred, sharp_gt)
    out["blurry_input"] = image_metrics(trainer.images.cpu().numpy(), sharp_gt)
    if gt["test_files"]:
        test_gt = np.stack(
            [downscale_image(read_image(scene / "gt" / "test" / f), downscale) for f in gt["test_files"]]
        )
        out["novel_given_pose"] = image_metrics(trainer.render_c2w(gt["c2w_test"]).numpy(), test_gt)
        if test_pose_steps > 0:
            renders, _ = optimise_test_poses(trainer, gt["c2w_test"], test_gt, steps=test_pose_steps)
            out["novel_pose_optimised"] = image_metrics(renders.numpy(), test_gt)
            out["novel_pose_optimised"]["steps"] = test_pose_steps
    scale = camera_extent(gt["c2w_mid"])
    with torch.no_grad():
        v = len(trainer.traj)
        idx = torch.arange(v)
        if trainer.traj.n_subframes > 1:  # sub-frames are equal time slices: compare at their positions
            est = trainer.traj.c2w(idx).double().cpu().numpy()
        else:
            mid = trainer.traj.c2w(idx, trainer.traj.mid_positions(idx)[:, None]).double().cpu().numpy()
            est = mid.repeat(n_traj_samples, axis=1)
        given = trainer.traj.c2w_base.double().cpu().numpy()[:, None].repeat(n_traj_samples, axis=1)
    out["trajectory"] = trajectory_error(est, gt["c2w_sub"], scale)
    out["trajectory_given"] = trajectory_error(given, gt["c2w_sub"], scale)
    out["trajectory"]["scene_scale"] = scale
    return out
