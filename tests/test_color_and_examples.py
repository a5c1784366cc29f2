"""The one pair of colour functions, the demo's example pairs, and the interim demo command."""

import numpy as np
import pytest
import torch

from deblur2d.examples import blur_linear_light, line_kernel
from deblur2d.io.color import linear_to_srgb, srgb_to_linear
from reconstruction.cli import main as sharpsplat


@pytest.mark.parametrize("gamma", [2.2, None])
def test_round_trip_numpy_and_torch(gamma):
    x = np.linspace(0, 1, 101, dtype=np.float64)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x, gamma), gamma), x, atol=1e-7)
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(linear_to_srgb(srgb_to_linear(t, gamma), gamma), t, atol=1e-7, rtol=0)


def test_known_values():
    assert srgb_to_linear(np.float64(0.5)) == pytest.approx(0.5**2.2)
    assert srgb_to_linear(np.float64(0.5), gamma=None) == pytest.approx(0.214041, abs=1e-6)  # IEC 61966-2-1
    assert linear_to_srgb(np.float64(0.0031308), gamma=None) == pytest.approx(0.04045, abs=1e-5)


def test_torch_gradient_finite_at_zero():
    t = torch.zeros(3, requires_grad=True)
    linear_to_srgb(t).sum().backward()
    assert torch.isfinite(t.grad).all()


def test_line_kernel_and_linear_light_blur():
    k = line_kernel(12.0, 30.0)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    ys, xs = np.nonzero(k > 1e-4)
    extent = np.hypot(xs.max() - xs.min(), ys.max() - ys.min())
    assert 11 <= extent <= 14
    img = np.zeros((32, 32, 3), np.float32)
    img[16, 16] = 1.0  # a point light: linear-light blur spreads energy, sRGB of the sum
    out = blur_linear_light(img, k)
    np.testing.assert_allclose(srgb_to_linear(out).sum(axis=(0, 1)), 1.0, rtol=1e-3)


def _table(out: str) -> dict[str, list[str]]:
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in out.splitlines() if ln.startswith("| ")]
    return {r[0]: r[1:] for r in rows[1:]}


def test_demo_without_weights_explains(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pycolmap")
    monkeypatch.setattr("deblur2d.weights.default_weights_path", lambda model: None)
    argv = ["demo", "--out", str(tmp_path), "--scene-preset", "tiny", "--preset", "tiny", "--no-progress"]
    assert sharpsplat(argv) == 0
    cap = capsys.readouterr()
    assert "no MIMO-UNet weights" in cap.err and "--weights" in cap.err
    table = _table(cap.out)
    assert {"Blurry input", "3DGS on blurry", "DeblurGS"} <= set(table) and "MIMO-UNet" not in table
    run = tmp_path / "run-tiny-strong-s0"
    assert (run / "report.html").is_file() and str(run / "report.html") in cap.out
    assert sharpsplat(argv) == 0  # a rerun reuses the scene and every finished stage
    err = capsys.readouterr().err
    assert "[scene] reusing" in err and "resuming; finished:" in err and "[train]" not in err


def test_demo_with_weights_restores_before_sfm(tmp_path, identity_weights, capsys):
    pytest.importorskip("pycolmap")
    argv = ["demo", "--out", str(tmp_path), "--scene-preset", "tiny", "--preset", "tiny", "--no-progress",
            "--weights", str(identity_weights), "--device", "cpu"]
    assert sharpsplat(argv) == 0
    cap = capsys.readouterr()
    assert "[restore] 10 frames restored" in cap.err and "on the restored frames" in cap.err
    table = _table(cap.out)
    # identity network: the MIMO-UNet frames are the blurry ones, to 8-bit rounding
    assert abs(float(table["MIMO-UNet"][0]) - float(table["Blurry input"][0])) < 0.05
