"""Plain 3DGS trainer: pieces, determinism, exact resume, PSNR on a tiny synthetic scene with true poses."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from reconstruction.splats.densify import DensifyConfig
from reconstruction.splats.train_3dgs import (
    Train3DGSConfig,
    Trainer3DGS,
    c2w_to_viewmat,
    camera_extent,
    load_scene_with_gt_poses,
    main,
    means_lr_at,
    photometric_loss,
    preset,
    read_sparse_points,
)

#: Training-view PSNR the tiny-scene test must reach (issue 5: at least 25 dB).
TARGET_PSNR = 25.0


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory) -> Path:
    pytest.importorskip("pycolmap")
    from reconstruction.synthetic import make_scene

    out = tmp_path_factory.mktemp("scenes") / "tiny"
    return make_scene(out, preset="tiny", seed=0, blur="none", write_true_sparse=True, progress=False)




def test_pieces() -> None:
    c2w = np.repeat(np.eye(4)[None], 3, 0)
    c2w[:, 0, 3] = [-1.0, 0.0, 1.0]
    assert camera_extent(c2w) == pytest.approx(1.1)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = q, rng.standard_normal(3)
    vm = c2w_to_viewmat(torch.tensor(m))
    torch.testing.assert_close(vm, torch.linalg.inv(torch.tensor(m)))
    cfg = Train3DGSConfig(steps=1000)
    assert means_lr_at(0, cfg, 2.0) == pytest.approx(1.6e-4 * 2.0)
    assert means_lr_at(1000, cfg, 2.0) == pytest.approx(1.6e-6 * 2.0)
    assert means_lr_at(500, cfg, 1.0) == pytest.approx(math.sqrt(1.6e-4 * 1.6e-6))
    x = torch.rand(2, 16, 16, 3)
    loss, parts = photometric_loss(x, x)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)
    assert float(parts["ssim"]) == pytest.approx(1.0, abs=1e-6)
    loss, parts = photometric_loss(x, torch.zeros_like(x), ssim_lambda=0.0)
    assert float(loss) == pytest.approx(float(x.mean()), rel=1e-6)
    assert preset("tiny").steps < preset("cpu").steps < preset("default").steps


def _small_data(scene: Path, factor: int = 4) -> dict:
    """The tiny scene's sharp frames box-downsampled by ``factor`` (fast), with matching intrinsics."""
    d = load_scene_with_gt_poses(scene, "sharp")
    v, h, w, _ = d["images"].shape
    imgs = d["images"].reshape(v, h // factor, factor, w // factor, factor, 3).mean(axis=(2, 4))
    K = d["K"].copy()
    K[:2] /= factor
    return {"images": imgs.astype(np.float32), "K": K, "c2ws": d["c2ws"]}


def test_deterministic_and_resumes_exactly(tiny_scene, tmp_path) -> None:
    d = _small_data(tiny_scene)
    cfg = Train3DGSConfig(
        steps=12, seed=3, sh_degree=1, sh_degree_interval=5, init_num_points=200, init_scale=0.5, batch_size=2,
        densify=DensifyConfig(refine_start_iter=2, refine_every=3, refine_stop_iter=11, reset_every=7,
                              max_gaussians=2000),
    )  # fmt: skip

    def trainer() -> Trainer3DGS:
        return Trainer3DGS(cfg, d["images"], d["K"], c2ws=d["c2ws"])

    full = trainer()
    stats = [full.train_step() for _ in range(12)]
    assert sum(s["cloned"] + s["split"] for s in stats) > 0 and sum(s["reset"] for s in stats) == 1

    first = trainer()
    first.train(6, progress=False, run_dir=tmp_path)
    second = trainer()  # a fresh process would build this from the same data and config
    second.load_checkpoint(tmp_path / "checkpoint.pt")
    assert second.step == 6
    second.train(progress=False)
    assert second.step == 12 and len(second.model) == len(full.model)
    for k in full.model.params:
        assert torch.equal(second.model.params[k], full.model.params[k]), k
    for k in full.optimizers:
        a = full.optimizers[k].state[full.model.params[k]]
        b = second.optimizers[k].state[second.model.params[k]]
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_cli_trains_and_writes_outputs(tiny_scene, tmp_path) -> None:
    out = tmp_path / "run"
    args = ["tiny", "--scene", str(tiny_scene), "--out", str(out), "--images", "sharp", "--no-progress",
            "--config.steps", "2", "--config.init-num-points", "200"]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and len(metrics["psnr_per_view"]) == 10
    assert (out / "splats.ply").is_file() and (out / "checkpoint.pt").is_file()


@pytest.mark.slow
def test_tiny_scene_reaches_target_psnr(tiny_scene, capsys) -> None:
    """Issue 5: CPU training on the tiny scene (no blur, true poses, true sparse points) reaches >= 25 dB."""
    d = load_scene_with_gt_poses(tiny_scene, "images")
    pts, cols = read_sparse_points(tiny_scene)
    cfg = preset("tiny")
    t0 = time.perf_counter()
    tr = Trainer3DGS(cfg, d["images"], d["K"], c2ws=d["c2ws"], points=pts, colors=cols)
    tr.train(progress=False)
    ev = tr.evaluate()
    seconds = time.perf_counter() - t0
    with capsys.disabled():
        print(
            f"\n[tiny 3DGS] {cfg.steps} steps, {len(tr.model)} Gaussians: training-view PSNR "
            f"{ev['psnr']:.2f} dB, SSIM {ev['ssim']:.3f}, {seconds:.1f} s"
        )
    assert ev["psnr"] >= TARGET_PSNR
    # the blurry-free captured frames carry noise sigma 0.005 and 8-bit quantisation: no view is left behind
    assert min(ev["psnr_per_view"]) >= TARGET_PSNR - 2.0


def test_random_init_without_points_learns(tiny_scene) -> None:
    d = _small_data(tiny_scene)
    cfg = replace(preset("tiny"), steps=20, init_num_points=300, init_scale=0.5)
    tr = Trainer3DGS(cfg, d["images"], d["K"], c2ws=d["c2ws"])
    before = tr.evaluate()["psnr"]
    tr.train(progress=False)
    assert tr.evaluate()["psnr"] > before + 3.0


def test_poses_as_c2w_or_viewmats_agree(tiny_scene) -> None:
    d = _small_data(tiny_scene)
    cfg = replace(preset("tiny"), init_num_points=50)
    a = Trainer3DGS(cfg, list(d["images"]), d["K"], c2ws=d["c2ws"])
    vms = np.linalg.inv(d["c2ws"])
    b = Trainer3DGS(cfg, d["images"], np.repeat(d["K"][None], len(vms), 0), viewmats=vms)
    torch.testing.assert_close(a.viewmats, b.viewmats)
    assert a.scene_scale == pytest.approx(b.scene_scale, rel=1e-6)
    with pytest.raises(ValueError):
        Trainer3DGS(cfg, d["images"], d["K"])  # no poses
    with pytest.raises(ValueError):
        Trainer3DGS(cfg, d["images"][:3], d["K"], c2ws=d["c2ws"])  # 3 images, 10 poses
