"""PSNR and SSIM against known values and an independent implementation (scikit-image)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from deblur2d.metrics import psnr, ssim


def _pair(seed: int = 0, h: int = 37, w: int = 45):
    rng = np.random.default_rng(seed)
    a = gaussian_filter(rng.random((h, w, 3)), sigma=(1.5, 1.5, 0))  # some structure
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape) + 0.02, 0.0, 1.0)
    return a, b


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
    )


def test_psnr_of_known_mse() -> None:
    a = np.zeros((8, 9, 3))
    b = np.full((8, 9, 3), 0.1)  # MSE 0.01 -> 20 dB
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-9)
    assert float(psnr(torch.tensor(a), torch.tensor(b))) == pytest.approx(20.0, abs=1e-9)
    # max_val scales the peak: values on 0..255 with an error of 2.55 are again 20 dB
    assert psnr(a * 255, b * 255, max_val=255.0) == pytest.approx(20.0, abs=1e-9)
    c = a.copy()
    c[::2] += 0.02  # rows 0, 2, 4, 6 of 8 off by 0.02: MSE 2e-4 -> 36.99 dB
    assert psnr(a, c) == pytest.approx(10 * math.log10(1 / 2e-4), abs=1e-9)
    assert psnr(a, a) == math.inf


def test_psnr_is_differentiable() -> None:
    x = torch.full((4, 4, 3), 0.3, requires_grad=True)
    p = psnr(x, torch.zeros(4, 4, 3))
    p.backward()
    assert x.grad is not None and torch.all(x.grad < 0)  # moving away from the target lowers PSNR


def test_ssim_of_identical_is_one() -> None:
    a, _ = _pair()
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    t = torch.tensor(a, dtype=torch.float32)
    assert float(ssim(t, t)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_skimage(seed: int) -> None:
    a, b = _pair(seed)
    ref = _skimage_ssim(a, b)
    assert 0.3 < ref < 0.99  # a non-trivial case
    assert ssim(a, b) == pytest.approx(ref, abs=1e-10)  # numpy (float64)
    t32 = ssim(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
    assert float(t32) == pytest.approx(ref, abs=2e-5)


def test_ssim_layouts_and_reduction_agree() -> None:
    a, b = _pair(3)
    ta = torch.tensor(a, dtype=torch.float64)
    tb = torch.tensor(b, dtype=torch.float64)
    hwc = ssim(ta, tb)
    bchw = ssim(ta.permute(2, 0, 1)[None], tb.permute(2, 0, 1)[None])
    assert float(hwc) == pytest.approx(float(bchw), abs=1e-12)
    a2, b2 = _pair(4)
    batch_a = torch.stack([ta.permute(2, 0, 1), torch.tensor(a2).permute(2, 0, 1)])
    batch_b = torch.stack([tb.permute(2, 0, 1), torch.tensor(b2).permute(2, 0, 1)])
    per = ssim(batch_a, batch_b, reduction="none")
    assert per.shape == (2,)
    assert float(per[1]) == pytest.approx(_skimage_ssim(a2, b2), abs=1e-10)
    assert float(ssim(batch_a, batch_b)) == pytest.approx(float(per.mean()), abs=1e-12)


def test_ssim_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(5)
    a = torch.tensor(rng.random((1, 1, 12, 13)), requires_grad=True)
    b = torch.tensor(rng.random((1, 1, 12, 13)))
    assert torch.autograd.gradcheck(lambda x: ssim(x, b), (a,), eps=1e-6, atol=1e-6)


def test_ssim_rejects_small_or_mismatched() -> None:
    with pytest.raises(ValueError):
        ssim(np.zeros((10, 20, 3)), np.zeros((10, 20, 3)))
    with pytest.raises(ValueError):
        ssim(np.zeros((20, 20, 3)), np.zeros((20, 21, 3)))
    with pytest.raises(ValueError):
        psnr(np.zeros(3), np.zeros(4))
