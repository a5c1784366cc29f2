"""Per-frame appearance: the synthetic generator's exposure / white-balance option and the DeblurGS appearance
model. On a tiny scene whose frames change exposure (0.4 stops) and white balance, the model recovers the true
per-frame gains and its reference-appearance renders are closer to the truth than without it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from deblur2d.metrics import psnr
from reconstruction.deblurgs.cli import load_preset
from reconstruction.deblurgs.data import downscale_image, load_scene, read_image
from reconstruction.deblurgs.trainer import DeblurGSTrainer
from reconstruction.synthetic.generate import frame_gains


@pytest.fixture(scope="module")
def exposed(tmp_path_factory) -> Path:
    from reconstruction.synthetic import make_scene

    out = tmp_path_factory.mktemp("appearance") / "tiny"
    return make_scene(out, preset="tiny", seed=0, blur="mild", write_true_sparse=True, progress=False,
                      exposure_stops=0.4, white_balance=0.07)  # fmt: skip


def test_frame_gains_are_seeded_and_centred() -> None:
    g = frame_gains(10, 3, 0.4, 0.07)
    np.testing.assert_allclose(np.exp(np.log(g).mean(0)), 1.0, atol=1e-12)  # reference = geometric mean
    np.testing.assert_array_equal(g, frame_gains(10, 3, 0.4, 0.07))
    np.testing.assert_array_equal(frame_gains(10, 3), np.ones((10, 3)))


def test_appearance_model_beats_none_under_exposure_changes(exposed) -> None:
    torch.manual_seed(0)
    true = np.array([f["gain_rgb"] for f in json.loads((exposed / "gt" / "cameras.json").read_text())["frames"]])
    assert np.ptp(np.log2(true[:, 1])) > 0.8  # the frames really differ by most of a stop
    sc = load_scene(exposed, "gt", downscale=2)
    truth = torch.as_tensor(np.stack([downscale_image(read_image(exposed / "gt" / "sharp" / f), 2) for f in sc.files]))
    base = load_preset("tiny").config
    res, fit = {}, {}
    for mode in ("none", "gain", "affine"):
        # the PyTorch backend pins the numbers: at 240 steps densification is chaotic enough that the native
        # kernel's float32 summation order (parity 3e-4) alone moves both results by a few tenths of a dB
        cfg = dataclasses.replace(base, motion=False, appearance=mode, appearance_start_step=30,
                                  appearance_refit_every=60,
                                  gs=dataclasses.replace(base.gs, steps=240, backend="torch"))  # fmt: skip
        tr = DeblurGSTrainer(cfg, sc.images, sc.K, sc.c2ws, points=sc.points, colors=sc.colors)
        tr.train(progress=False)
        res[mode] = float(psnr(tr.render_sharp(), truth))  # reference (identity) appearance
        fit[mode] = tr.training_fit()
        assert len(fit[mode]["per_frame_psnr"]) == tr.n_views
        assert fit[mode]["min"] <= fit[mode]["mean"] <= fit[mode]["max"]
        if mode != "none":
            A = np.array([np.diag(a["A"]) for a in tr.appearance_json()])
            # learned gains follow the true ones (up to the shared reference, a geometric mean of 1 for both)
            assert np.corrcoef(np.log(A[:, 1]), np.log(true[:, 1]))[0, 1] > 0.9, mode
            np.testing.assert_allclose(np.exp(np.log(A).mean(0)), 1.0, atol=1e-4)
            if mode == "gain":
                assert np.abs(np.log(A / true)).max() < 0.15, (A, true)  # within 15 % of the truth, every frame
    assert res["affine"] > res["none"] + 0.2, res
    assert res["gain"] > res["none"] + 0.2, res
    # the frames are explained better once their exposure is modelled, and more evenly
    assert fit["gain"]["mean"] > fit["none"]["mean"] + 1.0 and fit["gain"]["std"] < fit["none"]["std"], fit


def test_centering_the_gauge_keeps_every_prediction_and_centres_the_gains(exposed) -> None:
    """The shared part of the frames' gains moves into the splat colours: predictions are unchanged (black
    background; crosstalk and offsets of mean 0), the gains' geometric mean becomes 1 and the reference render
    takes the shared gain."""
    sc = load_scene(exposed, "gt", downscale=2)
    base = load_preset("tiny").config
    cfg = dataclasses.replace(base, motion=False, appearance="affine",
                              gs=dataclasses.replace(base.gs, backend="torch"))  # fmt: skip
    tr = DeblurGSTrainer(cfg, sc.images, sc.K, sc.c2ws, points=sc.points, colors=sc.colors)
    g = torch.Generator().manual_seed(0)
    gains = torch.exp(0.3 * torch.randn(tr.n_views, 3, generator=g)) * torch.tensor([0.4, 0.3, 0.8])  # drifted
    cross = 0.05 * torch.randn(tr.n_views, 9, generator=g)
    cross[:, [0, 4, 8]] = 0.0
    cross -= cross.mean(0)  # crosstalk and offsets of mean 0: only a right-multiplication by G^-1 keeps them exact
    offset = 0.02 * torch.randn(tr.n_views, 3, generator=g)
    offset -= offset.mean(0)
    with torch.no_grad():
        tr.app[:, :9] = cross
        tr.app[:, [0, 4, 8]] = gains - 1.0
        tr.app[:, 9:] = offset
    idx = list(range(tr.n_views))
    idx_t = torch.arange(tr.n_views)
    with torch.no_grad():
        before = tr.apply_appearance(tr.predict_blurry(idx, 1)[0], idx_t)
        ref_before = tr.predict_blurry([0], 1)[0]
    tr.center_appearance()
    A = np.array([np.diag(a["A"]) for a in tr.appearance_json()])
    np.testing.assert_allclose(np.exp(np.log(A).mean(0)), 1.0, atol=1e-5)
    shared = torch.exp(torch.log(gains).mean(0))
    np.testing.assert_allclose(A, (gains / shared).numpy(), rtol=1e-5)
    with torch.no_grad():
        after = tr.apply_appearance(tr.predict_blurry(idx, 1)[0], idx_t)
        ref_after = tr.predict_blurry([0], 1)[0]
    assert float((after - before).abs().max()) < 1e-4
    # the reference render now carries the shared gain (the drift no longer shows in sharp frames or the PLY)
    torch.testing.assert_close(ref_after, ref_before * shared, atol=1e-4, rtol=1e-4)
