"""MIMO-UNet training losses, as in the paper's code (Cho et al., ICCV 2021; github chosj95/MIMO-UNet, train.py).

The network returns three restorations ``[1/4, 1/2, full]``. With ``L1 = mean absolute error``:

- content: ``sum_k L1(out_k, down_k(sharp))``, the sharp target resized bilinearly to 1/4 and 1/2
  (``F.interpolate(scale_factor=..., mode="bilinear")``, as the official code does);
- frequency (MSFR): ``sum_k L1(F(out_k), F(down_k(sharp)))`` where ``F`` is the full 2-D FFT over the last two
  axes, split into real and imaginary parts (``torch.view_as_real(torch.fft.fft2(x))``; the official code used
  ``torch.rfft(x, signal_ndim=2, onesided=False)``, which is the same tensor), not the magnitude;
- total: ``content + 0.1 * frequency``.

The FFT is unnormalised, so the frequency term of a constant offset ``c`` is ``c / 2`` per scale (all of it is
in the DC bin, ``c * H * W``, averaged over ``H * W * 2`` real numbers); the tests check this.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: Weight of the frequency term (lambda in the paper).
FREQ_WEIGHT = 0.1


def multiscale_targets(sharp: Tensor) -> list[Tensor]:
    """The sharp batch ``[B, 3, H, W]`` at 1/4, 1/2 and full size (bilinear), in the network's output order."""
    return [
        F.interpolate(sharp, scale_factor=0.25, mode="bilinear"),
        F.interpolate(sharp, scale_factor=0.5, mode="bilinear"),
        sharp,
    ]


def content_loss(outputs: list[Tensor], targets: list[Tensor]) -> Tensor:
    """Sum over scales of the mean absolute error (0-d tensor)."""
    return sum(F.l1_loss(o.float(), t.float()) for o, t in zip(outputs, targets, strict=True))


def _fft_ri(x: Tensor) -> Tensor:
    return torch.view_as_real(torch.fft.fft2(x.float()))  # FFT needs float32 (no bf16 kernels)


def frequency_loss(outputs: list[Tensor], targets: list[Tensor]) -> Tensor:
    """Sum over scales of the L1 distance of the real and imaginary parts of the unnormalised 2-D FFT."""
    return sum(F.l1_loss(_fft_ri(o), _fft_ri(t)) for o, t in zip(outputs, targets, strict=True))


def mimo_loss(outputs: list[Tensor], sharp: Tensor, freq_weight: float = FREQ_WEIGHT) -> dict[str, Tensor]:
    """MIMO-UNet loss of the network ``outputs`` ``[1/4, 1/2, full]`` against the full-size ``sharp`` batch.

    Returns ``{"total", "content", "frequency"}`` (0-d float32 tensors, ``total`` differentiable).
    """
    if len(outputs) != 3:
        raise ValueError(f"mimo_loss: expected 3 outputs [1/4, 1/2, full], got {len(outputs)}")
    targets = multiscale_targets(sharp)
    content = content_loss(outputs, targets)
    freq = frequency_loss(outputs, targets)
    return {"total": content + freq_weight * freq, "content": content, "frequency": freq}
