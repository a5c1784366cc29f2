"""The restorer: MIMO-UNet inference on images of any size, in batches, safely and fast.

- Any size: reflect-pad to a multiple of 4 and crop back.
- Large images go through overlapping tiles blended with feathered (linear-ramp) weights, so memory is bounded
  by the tile size, not the image size (a 4000x3000 photo runs on a 24 GiB CPU machine).
- Channels-last everywhere; bf16 autocast on CUDA (fp16 where bf16 is unsupported) and on CPUs that compute
  bf16 natively (about 2x faster, at most 0.005 from fp32 in any pixel: FINDINGS.md); float32 elsewhere.
  Deterministic on CPU (same input -> same output, bit for bit).
- The network is built from the weights file (its metadata, or the tensor shapes of an official ``.pkl``),
  so any member of the MIMO-UNet family loads without flags.
- Optional geometric self-ensemble (8 flips/transposes, outputs averaged): the "++" variant of the paper
  (Cho et al. 2021, Table 1, MIMO-UNet++), following Lim et al. 2017 (EDSR+).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .hardware import auto_precision
from .io.errors import UserError
from .mimo_unet import MODELS, MIMOUNet, build_model, parse_arch
from .weights import DEFAULT_MODEL, default_weights_path, load_network

log = logging.getLogger("sharpsplat.deblur2d")

MULTIPLE = 4  # the network halves the resolution twice
#: images with more pixels than this are tiled when ``tile`` is left to auto (None).
AUTO_TILE_PIXELS = 1280 * 1280
AUTO_TILE = 1024


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is a UserError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available; use --device cpu or auto")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise UserError(f"--device {device!r}: use auto, cpu or cuda")
    return torch.device(device)


def pad_to_multiple(x: Tensor, multiple: int = MULTIPLE) -> tuple[Tensor, int, int]:
    """Pad ``[B,C,H,W]`` at the bottom/right to multiples of ``multiple`` (reflect; replicate when too small)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, h, w


def _ramp(n: int, overlap: int, at_start: bool, at_end: bool, device, dtype) -> Tensor:
    """1-D blending weight of a tile of length n: linear ramps over ``overlap`` at interior edges."""
    w = torch.ones(n, device=device, dtype=dtype)
    if overlap > 0:
        r = (torch.arange(overlap, device=device, dtype=dtype) + 0.5) / overlap
        if not at_start:
            w[:overlap] = r
        if not at_end:
            w[n - overlap :] = torch.minimum(w[n - overlap :], r.flip(0))
    return w


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size`` with at least ``overlap`` overlap."""
    if size <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


class Restorer:
    """MIMO-UNet single-image deblurring.

    Args:
        model: ``"auto"`` (the architecture the weights file describes), or a name of
            :data:`deblur2d.mimo_unet.MODELS` / ``mimo-unet-c<C>-b<N>``, which the weights must then match.
        weights: a checkpoint path (official ``.pkl`` or ``.safetensors``) or the name of a downloaded official
            checkpoint (``sharpsplat weights get``); ``None`` uses the shipped weights
            (``deblur2d/weights/mimo-unet-compact.safetensors``, or the shipped file of ``model``) and raises
            :class:`UserError` when none ship. Pass ``"random"`` only for tests and benchmarks.
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:N]"``.
        tile: tile size in pixels (multiple of 4 enforced); ``None`` = auto (tile images above ~1.6 MP with
            1024-pixel tiles); ``0`` = never tile.
        tile_overlap: overlap between tiles in pixels, blended with linear ramps.
        self_ensemble: average over the 8 flips/transposes (8x slower, usually +0.1-0.3 dB).
        precision: ``"auto"`` (CUDA: bf16 if supported else fp16; CPU: bf16 where native, else fp32), ``"fp32"``,
            ``"bf16"``, ``"fp16"``.
        threads: CPU threads for torch (``None`` leaves torch's default).
        batch_size: frames per forward pass in :meth:`restore_many`.
    """

    def __init__(
        self,
        model: str = "auto",
        weights: str | os.PathLike | None = None,
        device: str = "auto",
        tile: int | None = None,
        tile_overlap: int = 64,
        self_ensemble: bool = False,
        precision: str = "auto",
        threads: int | None = None,
        batch_size: int = 1,
    ):
        if model != "auto":
            try:
                parse_arch(model)
            except ValueError:
                raise UserError(f"--model {model!r}: choose auto, one of {', '.join(MODELS)} "
                                "or mimo-unet-c<C>-b<N>") from None
        if tile is not None and tile != 0 and tile < 64:
            raise UserError(f"--tile {tile}: use 0 (no tiling) or a size of at least 64 pixels")
        if tile_overlap < 0 or (tile and tile_overlap >= tile // 2):
            raise UserError(f"--tile-overlap {tile_overlap}: must be >= 0 and less than half the tile size")
        self.device = resolve_device(device)
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.precision = self._resolve_precision(precision)
        self.tile = None if tile is None else int(tile) - int(tile) % MULTIPLE
        self.tile_overlap = int(tile_overlap)
        self.self_ensemble = bool(self_ensemble)
        self.batch_size = max(1, int(batch_size))
        self.channels_last = True

        if weights is None:
            weights = default_weights_path(None if model == "auto" else model)
            if weights is None:
                raise UserError(
                    f"no weights for {DEFAULT_MODEL if model == 'auto' else model} ship with this install; pass "
                    "--weights PATH (a sharpsplat .safetensors or the official MIMO-UNet .pkl) or an official "
                    "name after `sharpsplat weights get NAME`"
                )
        if str(weights) == "random":
            self.weights = None
            self.model_name = DEFAULT_MODEL if model == "auto" else model
            net: MIMOUNet = build_model(self.model_name)
        else:
            from .hub import resolve_weights

            self.weights = resolve_weights(weights)
            net, self.model_name = load_network(self.weights)
            if model != "auto" and (net.base_channels, net.num_res) != (
                    parse_arch(model).base_channels, parse_arch(model).num_res):
                raise UserError(f"--model {model}: the weights {self.weights} hold {self.model_name} "
                                f"({net.base_channels} channels, {net.num_res} blocks); use --model auto")
        # channels-last: tensor cores on CUDA, oneDNN's fast convolution path on CPU (about 2x measured here).
        net.eval().requires_grad_(False).to(self.device, memory_format=torch.channels_last)
        self.net = net

    def _resolve_precision(self, precision: str) -> torch.dtype:
        table = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        if precision == "auto":
            return auto_precision(self.device)
        if precision not in table:
            raise UserError(f"--precision {precision!r}: use auto, fp32, bf16 or fp16")
        if self.device.type == "cpu" and precision == "fp16":
            raise UserError("--precision fp16 is not supported on CPU; use fp32 or bf16")
        return table[precision]

    def describe(self) -> str:
        """One line saying what runs: model, weights, device, precision, tiling, threads."""
        weights = "random (untrained)" if self.weights is None else str(self.weights)
        tile = "auto" if self.tile is None else ("off" if self.tile == 0 else f"{self.tile}px")
        extra = f", {torch.get_num_threads()} threads" if self.device.type == "cpu" else ""
        ens = ", self-ensemble x8" if self.self_ensemble else ""
        return (
            f"{self.model_name} on {self.device.type} ({str(self.precision).removeprefix('torch.')}{extra}), "
            f"tiles {tile}{ens}, weights {weights}"
        )

    # -- core -------------------------------------------------------------------------------------------

    def _forward(self, x: Tensor) -> Tensor:
        """Network on ``[B,3,H,W]`` float in [0,1] (any H, W): padded, full-res output, float32, unclamped."""
        x, h, w = pad_to_multiple(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.precision != torch.float32:
            with torch.autocast(device_type=self.device.type, dtype=self.precision):
                y = self.net(x)[-1]
        else:
            y = self.net(x)[-1]
        return y[..., :h, :w].float()

    def _forward_ensemble(self, x: Tensor) -> Tensor:
        if not self.self_ensemble:
            return self._forward(x)
        acc = torch.zeros_like(x, dtype=torch.float32)
        for transpose in (False, True):
            for flips in ((), (-1,), (-2,), (-2, -1)):
                t = x.transpose(-2, -1) if transpose else x
                t = t.flip(flips) if flips else t
                y = self._forward(t)
                y = y.flip(flips) if flips else y
                acc += y.transpose(-2, -1) if transpose else y
        return acc / 8.0

    def _tiled(self, x: Tensor, tile: int) -> Tensor:
        b, c, h, w = x.shape
        ov = min(self.tile_overlap, tile // 2 - 1)
        out = torch.zeros((b, c, h, w), dtype=torch.float32, device=x.device)
        wsum = torch.zeros((1, 1, h, w), dtype=torch.float32, device=x.device)
        ys, xs = tile_starts(h, tile, ov), tile_starts(w, tile, ov)
        for y0 in ys:
            th = min(tile, h - y0)
            wy = _ramp(th, ov, y0 == 0, y0 + th >= h, x.device, torch.float32)
            for x0 in xs:
                tw = min(tile, w - x0)
                wx = _ramp(tw, ov, x0 == 0, x0 + tw >= w, x.device, torch.float32)
                weight = wy[:, None] * wx[None, :]
                out[..., y0 : y0 + th, x0 : x0 + tw] += (
                    self._forward_ensemble(x[..., y0 : y0 + th, x0 : x0 + tw]) * weight
                )
                wsum[..., y0 : y0 + th, x0 : x0 + tw] += weight
        return out / wsum

    @torch.inference_mode()
    def restore_tensor(self, x: Tensor) -> Tensor:
        """``[B,3,H,W]`` float in [0,1] (any device) -> restored ``[B,3,H,W]`` float32 in [0,1] on the same device."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected [B,3,H,W], got {tuple(x.shape)}")
        src_device = x.device
        x = x.to(self.device, torch.float32)
        h, w = x.shape[-2:]
        tile = self.tile
        if tile is None:
            tile = AUTO_TILE if h * w > AUTO_TILE_PIXELS else 0
        if tile and (h > tile or w > tile):
            y = self._tiled(x, tile)
        else:
            y = self._forward_ensemble(x)
        return y.clamp_(0.0, 1.0).to(src_device)

    def restore(self, image: np.ndarray) -> np.ndarray:
        """One image: float32 RGB ``[H, W, 3]`` in [0, 1] -> restored, same shape."""
        x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
        return self.restore_tensor(x)[0].permute(1, 2, 0).numpy()

    def restore_many(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Several images; same-sized ones go through the network ``batch_size`` at a time."""
        out: list[np.ndarray | None] = [None] * len(images)
        i = 0
        while i < len(images):
            j = i + 1
            while j < len(images) and j - i < self.batch_size and images[j].shape == images[i].shape:
                j += 1
            x = torch.from_numpy(np.stack([np.asarray(im, np.float32) for im in images[i:j]])).permute(0, 3, 1, 2)
            y = self.restore_tensor(x).permute(0, 2, 3, 1).numpy()
            for k in range(j - i):
                out[i + k] = y[k]
            i = j
        return out  # type: ignore[return-value]
