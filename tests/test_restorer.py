"""Restorer: any size, tiling that agrees with whole-image inference, self-ensemble, batches, determinism."""

import numpy as np
import pytest
import torch

from deblur2d import Restorer
from deblur2d.io.errors import UserError
from deblur2d.restorer import tile_starts


def _random_restorer(**kw):
    torch.manual_seed(0)
    kw.setdefault("precision", "fp32")  # these tests are about tiling and batching, not bf16 rounding
    kw.setdefault("model", "mimo-unet")  # (numbers measured with the official network at random init)
    return Restorer(weights="random", device="cpu", **kw)


def _img(h, w, seed=0):
    rng = np.random.default_rng(seed)
    # smooth-ish content so the random network sees image-like input
    base = rng.random((h // 8 + 2, w // 8 + 2, 3)).astype(np.float32)
    import cv2

    return np.clip(cv2.resize(base, (w, h)) + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def test_identity_network_returns_input_exactly_at_any_size(identity_weights):
    r = Restorer(weights=identity_weights, device="cpu")
    for h, w in [(17, 23), (64, 48), (5, 3), (101, 2)]:
        x = _img(max(h, 8), max(w, 8))[:h, :w]
        np.testing.assert_array_equal(r.restore(x), x)


def test_tiled_matches_untiled():
    r = _random_restorer(tile=0)
    x = _img(203, 317)
    whole = r.restore(x)
    r.tile, r.tile_overlap = 128, 32
    seen = []
    orig = r._forward_ensemble
    r._forward_ensemble = lambda t: (seen.append(tuple(t.shape[-2:])), orig(t))[1]
    tiled = r.restore(x)
    assert len(seen) == 2 * 3 and max(max(s) for s in seen) <= 128  # memory bounded by the tile
    psnr = 10 * np.log10(1.0 / np.mean((whole - tiled) ** 2))
    assert psnr > 40, psnr
    assert whole.shape == tiled.shape == x.shape


def test_tiled_identity_blends_exactly(identity_weights):
    r = Restorer(weights=identity_weights, device="cpu", tile=64, tile_overlap=16)
    x = _img(150, 131)
    np.testing.assert_allclose(r.restore(x), x, atol=1e-6)


@pytest.mark.parametrize("size, tile, overlap", [(100, 64, 16), (64, 64, 8), (1000, 256, 64), (257, 128, 32)])
def test_tile_starts_cover_with_overlap(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, size) == size
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_self_ensemble_is_flip_equivariant():
    r = _random_restorer(self_ensemble=True)
    x = _img(40, 56)
    a = r.restore(x)
    b = r.restore(np.ascontiguousarray(x[:, ::-1]))[:, ::-1]
    np.testing.assert_allclose(a, b, atol=2e-5)
    plain = _random_restorer().restore(x)
    assert np.abs(a - plain).max() > 1e-4  # the ensemble really averages different passes


def test_deterministic_and_batches_match_single():
    r = _random_restorer(batch_size=3)
    frames = [_img(48, 64, seed=s) for s in range(4)]
    single = [r.restore(f) for f in frames]
    again = [r.restore(f) for f in frames]
    for a, b in zip(single, again):
        np.testing.assert_array_equal(a, b)
    batched = r.restore_many(frames)
    for a, b in zip(single, batched):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_no_weights_says_so(monkeypatch):
    monkeypatch.setattr("deblur2d.restorer.default_weights_path", lambda model: None)
    with pytest.raises(UserError, match="--weights"):
        Restorer(device="cpu")


@pytest.mark.parametrize(
    "kw, flag",
    [({"model": "unet"}, "--model"), ({"tile": 10}, "--tile"), ({"precision": "fp16"}, "--precision")],
)
def test_bad_options(kw, flag):
    with pytest.raises(UserError, match=flag):
        Restorer(weights="random", device="cpu", **kw)
