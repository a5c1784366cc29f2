"""Novel-view quality of a finished run against held-out ground-truth views (synthetic scenes).

The run's world frame is SfM's (scale, rotation and origin arbitrary), the ground truth's is the generator's. The
ground-truth cameras are mapped into the run's frame by the similarity that best aligns the true mid-exposure
poses of the training frames onto the run's recovered mid-exposure poses
(:func:`reconstruction.geometry.alignment.align_poses`), then each held-out view is rendered

- at that mapped pose (``given_pose``), and
- after test-time pose optimisation with the scene frozen (``pose_optimised``: the usual protocol of
  deblurring-NeRF/GS papers, since a few tenths of a degree of alignment error alone cost several dB),

and compared with the sharp held-out image (box-downscaled in linear light to the training resolution).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblur2d.io.errors import UserError

__all__ = ["evaluate_novel_views"]


class _Frozen:
    """The parts of a trainer that :func:`reconstruction.deblurgs.evaluate.optimise_test_poses` uses."""

    def __init__(self, rs: Any) -> None:
        from reconstruction.splats.train_3dgs import camera_extent

        self.rs = rs
        self.model = rs.model
        self.scene_scale = float(camera_extent(rs.c2w_mid)) or 1.0
        self.K = torch.as_tensor(rs.K, dtype=torch.float32, device=rs.device)
        self.bg = torch.as_tensor(rs.background, dtype=torch.float32, device=rs.device)

    def render_linear(self, viewmats: torch.Tensor, sh_degree: int | None = None):
        c = viewmats.shape[0]
        return self.model.render(
            viewmats.to(self.rs.device),
            self.K.expand(c, 3, 3),
            self.rs.width,
            self.rs.height,
            sh_degree=self.rs.sh_degree if sh_degree is None else sh_degree,
            backgrounds=self.bg.expand(c, 3),
            backend=self.rs.backend,
        )


def evaluate_novel_views(
    run: str | Path,
    gt_cameras: dict[str, Any],
    test_dir: str | Path,
    *,
    pose_steps: int = 30,
    out_dir: str | Path | None = None,
    device: str = "auto",
    width: int | None = None,
) -> dict[str, Any]:
    """Metrics of the held-out views ``gt_cameras["test"]`` (DESIGN.md ``gt/cameras.json``; ``frames[*].file``
    must name the run's training frames) for the run ``run`` (``sharpsplat train`` or ``reconstruct``).
    Writes the pose-optimised renders to ``out_dir`` when given. Returns PSNR (dB) / SSIM per protocol, the
    alignment's residual errors and the view names. ``width``: render and compare at this width (K scaled, e.g.
    a benchmark's resolution above the training one); default: the training width."""
    from deblur2d.io.color import linear_to_srgb
    from deblur2d.io.images import write_image
    from reconstruction.deblurgs.data import downscale_image, read_image
    from reconstruction.deblurgs.evaluate import image_metrics, optimise_test_poses
    from reconstruction.geometry.alignment import align_poses, apply_sim3
    from reconstruction.splats.run_io import load_run
    from reconstruction.splats.train_3dgs import c2w_to_viewmat

    rs = load_run(run, device)
    if width is not None and width != rs.width:
        from dataclasses import replace

        from reconstruction.splats.run_io import scale_K

        h = round(rs.height * width / rs.width)
        rs = replace(rs, K=scale_K(rs.K, rs.width, rs.height, width, h), width=int(width), height=int(h))
    tests = gt_cameras.get("test") or []
    if not tests:
        raise UserError("ground truth has no held-out test views")
    by_file = {f["file"]: np.asarray(f["c2w_mid"], np.float64) for f in gt_cameras["frames"]}
    missing = [f for f in rs.files if f not in by_file]
    if missing:
        raise UserError(f"ground truth has no pose for training frame {missing[0]}")
    true_mid = np.stack([by_file[f] for f in rs.files])
    al = align_poses(true_mid, np.asarray(rs.c2w_mid, np.float64))  # ground-truth frame -> run frame
    c2w_test = apply_sim3(np.stack([np.asarray(t["c2w"], np.float64) for t in tests]), al["s"], al["R"], al["t"])
    gt_w = int(gt_cameras["width"])
    if gt_w % rs.width:
        raise UserError(f"ground-truth width {gt_w} is not a multiple of the run's {rs.width}")
    factor = gt_w // rs.width
    targets = np.stack([downscale_image(read_image(Path(test_dir) / t["file"]), factor) for t in tests])
    fz = _Frozen(rs)
    with torch.no_grad():
        vm = c2w_to_viewmat(torch.as_tensor(c2w_test, dtype=torch.float64)).float()
        given = torch.stack([fz.render_linear(v[None])[0][0] for v in vm])
    given = linear_to_srgb(given.clamp(0, 1)) if rs.color_space == "linear" else given.clamp(0, 1)
    res: dict[str, Any] = {
        "n": len(tests),
        "files": [t["file"] for t in tests],
        "resolution": [rs.width, rs.height],
        "alignment": {k: float(al[k]) for k in ("rot_err_deg_mean", "pos_err_pct_mean") if k in al},
        "given_pose": image_metrics(given.cpu().numpy(), targets),
    }
    if pose_steps > 0 and rs.color_space == "linear":
        opt, _ = optimise_test_poses(fz, c2w_test, targets, steps=pose_steps)
        res["pose_optimised"] = image_metrics(opt.cpu().numpy(), targets)
        res["pose_steps"] = pose_steps
        if out_dir is not None:
            for t, img in zip(tests, opt.cpu().numpy(), strict=True):
                write_image(Path(out_dir) / t["file"], img)
    return res
