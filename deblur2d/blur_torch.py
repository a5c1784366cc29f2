"""Blur synthesis on the training device: the same model as :func:`deblur2d.blur_synthesis.synthesize_blur`,
with the sub-frame homography warps done by ``torch.nn.functional.grid_sample`` (so a GPU renders the blur and
the data workers only cut windows and sample shakes).

Differences from the NumPy/OpenCV path, by design: no JPEG round trip (no JPEG codec on the device), and the
noise comes from torch's generator (same distribution, other numbers). Everything else (linear light,
highlight gain, clipping, shot + read noise, sRGB, low-frequency matching) is the same maths, checked against
the OpenCV path in the tests.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .blur_synthesis import ShakeConfig, sample_shake
from .io.color import linear_to_srgb, srgb_to_linear


def draw_raw(rng: np.random.Generator, window: np.ndarray, margin: int, blur, cfg: ShakeConfig) -> dict:
    """Everything random about one pair except the noise, drawn on the CPU in the order of ``synthesize_blur``.

    ``window``: sRGB ``[h + 2m, w + 2m, 3]``. Returns ``{"window", "homographies" [N, 3, 3], "gain", "shot",
    "read"}``, ready for :func:`blur_batch`.
    """
    hp, wp = window.shape[:2]
    shake = sample_shake(rng, (hp - 2 * margin, wp - 2 * margin), blur, cfg)
    gain = float(rng.uniform(*cfg.highlight_gain))
    shot = float(np.exp(rng.uniform(np.log(cfg.shot_noise[0]), np.log(cfg.shot_noise[1]))))
    read = float(np.exp(rng.uniform(np.log(cfg.read_noise[0]), np.log(cfg.read_noise[1]))))
    return {"window": np.ascontiguousarray(window, np.float32), "homographies": shake.homographies,
            "gain": gain, "shot": shot, "read": read}


def warp_mean(linear: Tensor, homographies: Tensor, margin: int) -> Tensor:
    """Mean of ``linear`` ``[3, H + 2m, W + 2m]`` warped by each ``[N, 3, 3]`` window homography -> ``[3, H, W]``.

    As ``cv2.warpPerspective`` with bilinear sampling and reflected borders: output pixel ``x`` (window
    coordinates, pixel centres at integers) takes the source at ``H_k^-1 x``.
    """
    c, hp, wp = linear.shape
    h, w = hp - 2 * margin, wp - 2 * margin
    dev = linear.device
    ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float64),
                            torch.arange(w, device=dev, dtype=torch.float64), indexing="ij")
    pts = torch.stack([xs.ravel(), ys.ravel(), torch.ones(h * w, device=dev, dtype=torch.float64)])  # [3, P]
    hinv = torch.linalg.inv(homographies.to(dev, torch.float64))  # [N, 3, 3]
    q = hinv @ pts  # [N, 3, P] source points in window coordinates
    sx = q[:, 0] / q[:, 2] + margin
    sy = q[:, 1] / q[:, 2] + margin
    grid = torch.stack([(2 * sx + 1) / wp - 1, (2 * sy + 1) / hp - 1], dim=-1).reshape(-1, h, w, 2)
    src = linear[None].expand(grid.shape[0], -1, -1, -1)
    warped = F.grid_sample(src, grid.to(linear.dtype), mode="bilinear", padding_mode="reflection",
                           align_corners=False)
    return warped.mean(dim=0)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``[..., C, H, W]`` with reflected borders, as ``cv2.GaussianBlur`` on float
    images (kernel radius ``round(4 sigma)``, BORDER_REFLECT)."""
    r = max(1, int(round(4 * sigma)))
    t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    shape = x.shape
    y = x.reshape(-1, 1, *shape[-2:])

    def pad(z: Tensor, dim: int) -> Tensor:  # 'cba|abc...' repeated as often as needed
        n = z.shape[dim]
        idx = torch.arange(-r, n + r, device=z.device)
        period = 2 * n
        idx = torch.remainder(idx, period)
        idx = torch.where(idx >= n, period - 1 - idx, idx)
        return z.index_select(dim, idx)

    y = F.conv2d(pad(y, 3), k.view(1, 1, 1, -1))
    y = F.conv2d(pad(y, 2), k.view(1, 1, -1, 1))
    return y.reshape(shape)


def blur_batch(items: list[dict], margin: int, cfg: ShakeConfig, device: torch.device | str,
               noise: bool = True, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Render the pairs of :func:`draw_raw` items on ``device`` -> ``(blurry, sharp)``, each ``[B, 3, h, w]``."""
    blurry, sharp = [], []
    for it in items:
        win = torch.from_numpy(it["window"]).to(device).permute(2, 0, 1).float()  # [3, Hp, Wp] sRGB
        lin = srgb_to_linear(win)
        if it["gain"] > 1.0:
            hot = win.amax(dim=0, keepdim=True) >= cfg.highlight_threshold
            lin = torch.where(hot, lin * it["gain"], lin)
        hom = torch.as_tensor(it["homographies"], device=device)
        lb = warp_mean(lin, hom, margin).clamp(0.0, 1.0)
        s = win[:, margin: win.shape[1] - margin, margin: win.shape[2] - margin]
        if cfg.keep_low_frequencies > 0:
            sig = cfg.keep_low_frequencies
            lb = (lb + gaussian_blur(srgb_to_linear(s) - lb, sig)).clamp(0.0, 1.0)
        if noise:
            std = torch.sqrt(it["shot"] * lb + it["read"] ** 2)
            eps = torch.randn(lb.shape, device=device, generator=generator)
            lb = (lb + std * eps).clamp(0.0, 1.0)
        blurry.append(linear_to_srgb(lb))
        sharp.append(s)
    return torch.stack(blurry), torch.stack(sharp)
