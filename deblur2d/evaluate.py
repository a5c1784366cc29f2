"""``sharpsplat eval-deblur2d``: PSNR and SSIM of restored images against sharp ground truth, JSON out.

Protocols:

- GoPro (default): the restored image as float (not re-quantised), clamped to [0, 1], against the sharp
  image; PSNR over all pixels and channels, SSIM as :func:`deblur2d.metrics.ssim` (Gaussian window, sigma 1.5).
- RealBlur (``--align``), after the RealBlur benchmark's evaluation code (Rim et al., ECCV 2020;
  github rimchang/RealBlur, evaluation/eval_RealBlur.py): the restored image is first intensity-matched to the
  sharp one (least-squares gain ``sum(x z) / sum(z z)``), then aligned to it by an ECC homography
  (``cv2.findTransformECC`` on grey images, 100 iterations, Gaussian pre-filter 5); pixels that the warp brings
  in from outside the image are masked out, PSNR is taken over the valid pixels, SSIM is the mean of the SSIM
  map over the valid pixels (excluding a border of the Gaussian window's radius).

``--baseline`` evaluates the blurry inputs themselves (no network), the number every result is compared with.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from .io.errors import UserError


@dataclass
class EvalConfig:
    """Evaluate single-image deblurring on blurry/sharp pairs (GoPro folder layout or RealBlur-style list)."""

    pairs: Path
    """GoPro-layout folder (<seq>/blur + <seq>/sharp, or blur/ + sharp/) or a RealBlur-style list file."""
    weights: str | None = None
    """Checkpoint (.safetensors or the official .pkl), or an official name after `sharpsplat weights get`;
    default: the shipped weights."""
    model: str = "auto"
    """auto (the architecture the weights file holds), or a name the weights must match."""
    align: bool = False
    """RealBlur protocol: intensity matching, ECC homography alignment, masked PSNR/SSIM."""
    baseline: bool = False
    """Score the blurry inputs themselves instead of restoring them."""
    out: Path | None = None
    """JSON file to write (default: print only)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    threads: int | None = None
    limit: int | None = None
    """Evaluate only the first N pairs."""


def align_realblur(restored: np.ndarray, sharp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """RealBlur alignment: intensity-match ``restored`` to ``sharp`` and warp it onto ``sharp`` (ECC homography).

    Inputs float32 ``[H, W, 3]`` in [0, 1]. Returns ``(restored_aligned * mask, sharp * mask, mask, H)``:
    mask is 1 where the warped image has data (``[H, W, 3]`` float32), ``H`` the 3x3 warp (float32).
    If ECC does not converge the identity warp is used.
    """
    z = np.ascontiguousarray(restored, np.float32)
    x = np.ascontiguousarray(sharp, np.float32)
    zz = float(np.sum(z * z))
    zs = (float(np.sum(x * z)) / zz * z if zz > 0 else z).astype(np.float32)
    warp = np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 0)
    try:
        _, warp = cv2.findTransformECC(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.cvtColor(zs, cv2.COLOR_RGB2GRAY),
                                       warp, cv2.MOTION_HOMOGRAPHY, criteria, None, 5)
    except cv2.error:
        warp = np.eye(3, dtype=np.float32)
    h, w = x.shape[:2]
    zr = cv2.warpPerspective(zs, warp, (w, h), flags=cv2.INTER_CUBIC + cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)
    mask = cv2.warpPerspective(np.ones_like(zs), warp, (w, h), flags=cv2.INTER_NEAREST + cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return zr * mask, x * mask, mask, warp


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB, peak 1) of the squared error summed over the image divided by the number of valid values."""
    err = float(np.sum((a.astype(np.float64) - b) ** 2)) / max(float(np.sum(mask)), 1.0)
    return math.inf if err == 0 else 10.0 * math.log10(1.0 / err)


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM map (Gaussian sigma 1.5, population covariances) over valid pixels, per channel then averaged."""
    from skimage.metrics import structural_similarity

    _, smap = structural_similarity(b, a, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0, full=True)
    pad = int(3.5 * 1.5 + 0.5)  # skimage's Gaussian window radius: its map is unreliable within it of a border
    smap, m = (smap * mask)[pad:-pad, pad:-pad], mask[pad:-pad, pad:-pad]
    per_channel = smap.sum(axis=(0, 1)) / np.maximum(m.sum(axis=(0, 1)), 1.0)
    return float(np.mean(per_channel))


def score_pair(restored: np.ndarray, sharp: np.ndarray, align: bool = False) -> dict:
    """``{"psnr", "ssim"}`` of one restored image against its sharp image (protocols: see the module docstring)."""
    from .metrics import psnr, ssim

    restored = np.clip(restored, 0.0, 1.0).astype(np.float32)
    if align:
        zr, xr, mask, warp = align_realblur(restored, sharp)
        return {"psnr": masked_psnr(zr, xr, mask), "ssim": masked_ssim(zr, xr, mask),
                "warp": np.asarray(warp, np.float64).round(6).tolist()}
    return {"psnr": float(psnr(restored, sharp)), "ssim": float(ssim(restored, sharp))}


def evaluate(cfg: EvalConfig, restore=None) -> dict:
    """Score every pair of ``cfg.pairs``; ``restore`` (image -> image) defaults to a :class:`Restorer`.

    Returns ``{"pairs", "protocol", "weights", "images": [{"blurry", "sharp", "psnr", "ssim"}...],
    "mean_psnr", "mean_ssim", "count"}`` (mean PSNR of per-image values, as in the papers).
    """
    from tqdm.auto import tqdm

    from .datasets import find_pairs, read_pair

    pairs = find_pairs(cfg.pairs)[: cfg.limit]
    what = "blurry input (baseline)"
    if cfg.baseline:
        restore = None
    elif restore is None:
        from .restorer import Restorer

        r = Restorer(cfg.model, weights=cfg.weights, device=cfg.device, precision=cfg.precision, threads=cfg.threads)
        print(f"eval-deblur2d: {r.describe()}", file=sys.stderr)
        restore, what = r.restore, str(r.weights)
    else:
        what = getattr(restore, "__name__", "custom")
    rows = []
    for bpath, spath in tqdm(pairs, desc="eval-deblur2d", disable=len(pairs) < 4):
        b, s = read_pair(bpath, spath)
        y = b if restore is None else restore(b)
        rows.append({"blurry": str(bpath), "sharp": str(spath), **score_pair(y, s, cfg.align)})
    finite = [r["psnr"] for r in rows if math.isfinite(r["psnr"])]
    return {
        "pairs": str(cfg.pairs),
        "protocol": "realblur-aligned" if cfg.align else "gopro",
        "restored_by": what,
        "count": len(rows),
        "mean_psnr": float(np.mean(finite)) if finite else math.inf,
        "mean_ssim": float(np.mean([r["ssim"] for r in rows])),
        "images": rows,
    }


def main(argv: list[str]) -> int:
    """Entry point of ``sharpsplat eval-deblur2d``: prints the JSON summary, writes ``--out`` if given."""
    import tyro

    from .io.atomic import write_json_atomic

    cfg = tyro.cli(EvalConfig, args=argv, prog="sharpsplat eval-deblur2d")
    if not cfg.pairs.exists():
        raise UserError(f"--pairs: {cfg.pairs} does not exist")
    res = evaluate(cfg)
    if cfg.out is not None:
        write_json_atomic(cfg.out, res)
    print(json.dumps({k: v for k, v in res.items() if k != "images"}, indent=2))
    print(f"eval-deblur2d: {res['count']} pairs, PSNR {res['mean_psnr']:.2f} dB, SSIM {res['mean_ssim']:.4f}"
          + (f"; per-image results in {cfg.out}" if cfg.out else ""), file=sys.stderr)
    return 0
