"""deblur2d training side: losses, blur synthesis, dead leaves, datasets (fast, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblur2d.blur_synthesis import (
    BLUR_LEVELS,
    ShakeConfig,
    margin_for,
    render_blur_linear,
    sample_shake,
    synthesize_blur,
)
from deblur2d.dead_leaves import dead_leaves, sample_radii
from deblur2d.io.color import linear_to_srgb, srgb_to_linear
from deblur2d.io.errors import UserError
from deblur2d.losses import frequency_loss, mimo_loss, multiscale_targets

# -- losses ---------------------------------------------------------------------------------------------------


def _outputs_from(targets, offset=0.0):
    return [t + offset for t in targets]


def test_loss_zero_for_identical_outputs():
    sharp = torch.rand(2, 3, 32, 48)
    out = mimo_loss(_outputs_from(multiscale_targets(sharp)), sharp)
    assert float(out["total"]) == 0.0 and float(out["content"]) == 0.0 and float(out["frequency"]) == 0.0


def test_loss_constant_offset_hand_computed():
    # Offset c at every scale: content = 3c. FFT of a constant c is c*H*W in the DC bin only, and the L1 mean
    # runs over H*W*2 real numbers: c/2 per scale, 3c/2 in all. Total = 3c + 0.1 * 1.5c = 3.15c.
    c = 0.05
    sharp = torch.rand(1, 3, 16, 24)
    out = mimo_loss(_outputs_from(multiscale_targets(sharp), c), sharp)
    assert float(out["content"]) == pytest.approx(3 * c, rel=1e-5)
    assert float(out["frequency"]) == pytest.approx(1.5 * c, rel=1e-4)
    assert float(out["total"]) == pytest.approx(3.15 * c, rel=1e-4)


def test_frequency_loss_matches_numpy_fft_and_sees_phase():
    rng = np.random.default_rng(0)
    a, b = rng.random((1, 3, 8, 12)), rng.random((1, 3, 8, 12))
    fa, fb = np.fft.fft2(a), np.fft.fft2(b)
    expected = 0.5 * (np.abs(fa.real - fb.real).mean() + np.abs(fa.imag - fb.imag).mean())
    got = frequency_loss([torch.tensor(a, dtype=torch.float32)], [torch.tensor(b, dtype=torch.float32)])
    assert float(got) == pytest.approx(expected, rel=1e-4)
    # A circular shift keeps the FFT magnitude but changes the phase: real/imag L1 is not zero (magnitude L1 is).
    x = torch.tensor(a, dtype=torch.float32)
    assert float(frequency_loss([torch.roll(x, 3, dims=-1)], [x])) > 0.1


def test_targets_are_bilinear_downsamples():
    sharp = torch.rand(1, 3, 16, 16)
    t4, t2, t1 = multiscale_targets(sharp)
    assert t4.shape[-2:] == (4, 4) and t2.shape[-2:] == (8, 8) and t1 is sharp
    # bilinear at exactly 1/2 (align_corners=False) is the 2x2 box mean
    assert torch.allclose(t2, torch.nn.functional.avg_pool2d(sharp, 2), atol=1e-6)


# -- blur synthesis -------------------------------------------------------------------------------------------


def _grid_displacement(h_start, h_end, w, h, n=41):
    xs, ys = np.meshgrid(np.linspace(0, w, n), np.linspace(0, h, n))
    p = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1)
    a, b = p @ h_start.T, p @ h_end.T
    return np.linalg.norm(a[:, :2] / a[:, 2:] - b[:, :2] / b[:, 2:], axis=1)


def test_zero_shake_is_identity_before_noise():
    rng = np.random.default_rng(1)
    shake = sample_shake(rng, (64, 64), blur=0.0)
    assert np.allclose(shake.homographies, np.eye(3), atol=1e-12)
    img = (0.95 * dead_leaves(64 + 2 * 10, 64 + 2 * 10, 3)).astype(np.float32)  # below the highlight threshold
    blurry, sharp, _ = synthesize_blur(np.random.default_rng(2), img, 10, blur=0.0, noise=False, jpeg=False)
    assert np.allclose(blurry, sharp, atol=2e-5)
    assert np.array_equal(sharp, img[10:-10, 10:-10])


@pytest.mark.parametrize("level", list(BLUR_LEVELS))
def test_requested_blur_level_is_honoured(level):
    cfg = ShakeConfig()
    fw, fh = cfg.frame_width, round(cfg.frame_width * cfg.frame_aspect)
    for seed in range(3):
        # a window as large as the frame sits at offset 0: its homographies are the frame's
        shake = sample_shake(np.random.default_rng(seed), (fh, fw), blur=level, cfg=cfg)
        d = _grid_displacement(shake.homographies[0], shake.homographies[-1], fw, fh)
        assert d.mean() == pytest.approx(BLUR_LEVELS[level] * fw, rel=0.03)
        assert shake.displacement_px == pytest.approx(BLUR_LEVELS[level] * fw, rel=1e-3)
        assert d.std() > 0.01 * d.mean()  # not a global translation: blur varies across the frame
        assert len(shake.homographies) >= 3
        # default target: the blur's centroid, i.e. grid points mapped by every sub-frame average to themselves
        g = np.stack(np.meshgrid(np.linspace(0, fw, 9), np.linspace(0, fh, 7)), -1).reshape(-1, 2)
        q = np.einsum("kij,pj->kpi", shake.homographies, np.c_[g, np.ones(len(g))])
        assert np.linalg.norm((q[..., :2] / q[..., 2:]).mean(0) - g, axis=1).mean() < 0.05 * d.mean() + 0.5
        # reference="mid": the mid-exposure frame is the target
        mid_shake = sample_shake(np.random.default_rng(seed), (fh, fw), blur=level, cfg=ShakeConfig(reference="mid"))
        mid = mid_shake.homographies[len(mid_shake.homographies) // 2]
        assert np.abs(_grid_displacement(mid, np.eye(3), fw, fh)).mean() < 0.1 * d.mean() + 0.5


def test_blur_levels_match_the_synthetic_scenes():
    assert BLUR_LEVELS["mild"] == pytest.approx(0.0094, abs=1e-4)
    assert BLUR_LEVELS["strong"] == pytest.approx(0.031, abs=1e-3)
    assert BLUR_LEVELS["extreme"] == pytest.approx(0.075, abs=1e-3)


def test_blur_is_averaged_in_linear_light():
    img = np.zeros((32, 32, 3), np.float32)
    img[:, 16:] = 1.0
    shift = np.array([[1, 0, 4.0], [0, 1, 0], [0, 0, 1]])  # sub-frame 2 moves the content 4 px right
    out = render_blur_linear(srgb_to_linear(img), np.stack([np.eye(3), shift]), margin=0)
    # pixels 16..19 are white in one sub-frame and black in the other: 0.5 in linear light
    assert np.allclose(out[:, 16:20], 0.5, atol=1e-6)
    assert np.allclose(linear_to_srgb(out[:, 16:20]), 0.5 ** (1 / 2.2), atol=1e-5)
    # end to end: blur keeps the mean linear intensity, not the mean sRGB value
    src = (0.9 * dead_leaves(96, 96, 5)).astype(np.float32)
    blurry, sharp, _ = synthesize_blur(np.random.default_rng(3), src, 16, blur="strong", noise=False, jpeg=False)
    lin_gap = abs(srgb_to_linear(blurry).mean() - srgb_to_linear(sharp).mean())
    assert lin_gap < 0.01
    assert blurry.mean() - sharp.mean() > 2 * lin_gap


def test_synthesis_is_deterministic_per_seed_and_noisy_when_asked():
    src = dead_leaves(80, 80, 4)
    a = synthesize_blur(np.random.default_rng(7), src, 8, blur="mild")
    b = synthesize_blur(np.random.default_rng(7), src, 8, blur="mild")
    c = synthesize_blur(np.random.default_rng(8), src, 8, blur="mild")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].dtype == np.float32 and a[0].shape == (64, 64, 3) and 0 <= a[0].min() and a[0].max() <= 1
    assert margin_for(256) >= 0.75 * BLUR_LEVELS["extreme"] * 640


# -- dead leaves ----------------------------------------------------------------------------------------------


def test_dead_leaves_statistics():
    img = dead_leaves(128, 128, 0)
    assert img.shape == (128, 128, 3) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert np.array_equal(img, dead_leaves(128, 128, 0)) and not np.array_equal(img, dead_leaves(128, 128, 1))
    assert img.std() > 0.1
    # natural-image power spectrum: radially averaged power falls like f^-alpha with alpha near 2
    g = img.mean(axis=2) - img.mean()
    p = np.abs(np.fft.fftshift(np.fft.fft2(g))) ** 2
    yy, xx = np.indices(p.shape) - 64
    r = np.hypot(yy, xx).astype(int)
    radial = np.bincount(r.ravel(), p.ravel()) / np.bincount(r.ravel())
    f = np.arange(4, 48)
    slope = np.polyfit(np.log(f), np.log(radial[f]), 1)[0]
    assert -3.2 < slope < -1.2


def test_dead_leaves_radii_follow_power_law():
    r = sample_radii(np.random.default_rng(0), 20000, 2.0, 1000.0)
    assert r.min() >= 2.0 and r.max() <= 1000.0
    # p(r) ~ r^-3 => P(r < 2 r_min) = 1 - 1/4 (for r_max >> r_min)
    assert np.mean(r < 4.0) == pytest.approx(0.75, abs=0.015)


# -- datasets -------------------------------------------------------------------------------------------------


def test_gopro_layout_and_pair_list(tmp_path):
    from deblur2d.datasets import PairedImages, find_pairs
    from deblur2d.io.images import write_image

    rng = np.random.default_rng(0)
    for seq, names in (("seqB", ["000002.png"]), ("seqA", ["000001.png", "000000.png"])):
        for n in names:
            img = rng.random((40, 48, 3)).astype(np.float32)
            write_image(tmp_path / "gopro" / seq / "sharp" / n, img)
            write_image(tmp_path / "gopro" / seq / "blur" / n, img)
    pairs = find_pairs(tmp_path / "gopro")
    assert [(p[0].parent.parent.name, p[0].name) for p in pairs] == [
        ("seqA", "000000.png"), ("seqA", "000001.png"), ("seqB", "000002.png")]
    assert all(b.parent.name == "blur" and s.parent.name == "sharp" and b.name == s.name for b, s in pairs)
    ds = PairedImages(tmp_path / "gopro", crop=32, seed=3)
    b0, s0 = ds[5]
    assert b0.shape == (3, 32, 32) and torch.equal(b0, s0)  # same window and flips for both
    assert torch.equal(ds[5][0], b0)  # deterministic per index
    # RealBlur-style list: "<sharp> <blurry>" relative to the list's folder
    lst = tmp_path / "gopro" / "list.txt"
    lst.write_text("seqA/sharp/000001.png seqA/blur/000001.png\n\nseqB/sharp/000002.png seqB/blur/000002.png\n")
    pairs = find_pairs(lst)
    assert [p[0].name for p in pairs] == ["000001.png", "000002.png"] and pairs[0][1].parent.name == "sharp"


def test_missing_pairs_are_user_errors(tmp_path):
    from deblur2d.datasets import find_pairs
    from deblur2d.io.errors import UserError

    with pytest.raises(UserError, match="neither"):
        find_pairs(tmp_path / "nope")
    (tmp_path / "s" / "blur").mkdir(parents=True)
    with pytest.raises(UserError, match="sharp"):
        find_pairs(tmp_path / "s")


def test_synthetic_pairs_deterministic_and_shaped():
    from deblur2d.datasets import SyntheticPairs

    ds = SyntheticPairs([dead_leaves(200, 220, 9)], crop=48, seed=1, dead_leaves_pool=1)
    ds._leaves = [dead_leaves(150, 150, 10)]  # keep the test fast: a small pool made here
    b, s = ds[3]
    assert b.shape == s.shape == (3, 48, 48) and b.dtype == torch.float32
    assert torch.equal(ds[3][0], b) and not torch.equal(ds[4][1], s)


def test_sharp_fraction_leaves_that_share_of_pairs_unblurred_and_zero_changes_nothing():
    """--sharp-fraction: that share of training pairs gets no blur (so they differ from their target by noise and
    JPEG only); at 0 the pairs are those of earlier runs (no random draw is added): seeded runs stay reproducible."""
    from deblur2d.datasets import SyntheticPairs

    kw = dict(crop=32, seed=3, dead_leaves_pool=2, curriculum=(0.02, 100))
    plain = SyntheticPairs([], **kw)
    again = SyntheticPairs([], sharp_fraction=0.0, **kw)
    mixed = SyntheticPairs([], sharp_fraction=0.5, **kw)
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(plain[i][0]), np.asarray(again[i][0]))

    draws = [mixed._blur_for(mixed.window(i)[0], i) for i in range(200)]
    zero = np.array([d == 0.0 for d in draws])  # zero blur = identity homographies (test_zero_shake_is_identity)
    assert 0.4 < zero.mean() < 0.6 and all(0 < d <= 0.09 for d, z in zip(draws, zero, strict=True) if not z)
    with pytest.raises(UserError, match="--sharp-fraction"):
        SyntheticPairs([], sharp_fraction=1.0, **kw)
