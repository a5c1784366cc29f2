"""MIMO-UNet and MIMO-UNet+ (Cho et al., "Rethinking Coarse-to-Fine Approach in Single Image Deblurring",
ICCV 2021), module-for-module compatible with the authors' release (github chosj95/MIMO-UNet) so that the
published checkpoints load with ``load_state_dict(strict=True)``.

Facts this file reproduces (from the official module definitions): ``MIMOUNet`` has 8 residual blocks per
encoder/decoder block, 6,807,171 parameters in 244 state-dict tensors; ``MIMOUNetPlus`` has 20 and
Dropout2d(0.1) on both AFF outputs, 16,107,651 parameters in 532 tensors. No buffers, no normalisation layers,
every convolution has a bias.

``forward(x [B,3,H,W]) -> [out_1/4, out_1/2, out_1]``: each output is the network's residual plus the input
downsampled (nearest) to that scale; nothing is clamped (clamp at inference). H and W must be multiples of 4.

One definition serves the whole family: ``MIMOUNet(base_channels, num_res)`` sets the width (channels of the
full-resolution stage; 32 officially, the other stages 2x and 4x) and the depth (residual blocks per encoder
and decoder stage; 8 in MIMO-UNet, 20 in MIMO-UNet+). The official code itself varies only the depth; key names
never change, so :func:`arch_from_state_dict` reads width and depth back from any checkpoint's shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BasicConv(nn.Module):
    """Conv (or transposed conv) with bias, optional ReLU, wrapped in ``.main`` as in the official code."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True, transpose: bool = False):
        super().__init__()
        if transpose:
            conv: nn.Module = nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=kernel // 2 - 1)
        else:
            conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)
        layers = [conv] + ([nn.ReLU(inplace=True)] if relu else [])
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.main = nn.Sequential(BasicConv(channels, channels, 3), BasicConv(channels, channels, 3, relu=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x) + x


class ResStack(nn.Module):
    """EBlock / DBlock of the official code: ``num_res`` residual blocks under ``.layers``."""

    def __init__(self, channels: int, num_res: int):
        super().__init__()
        self.layers = nn.Sequential(*[ResBlock(channels) for _ in range(num_res)])

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class AFF(nn.Module):
    """Asymmetric feature fusion: concatenate the three encoder scales, 1x1 then 3x3 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(BasicConv(cin, cout, 1), BasicConv(cout, cout, 3, relu=False))

    def forward(self, x1: Tensor, x2: Tensor, x4: Tensor) -> Tensor:
        return self.conv(torch.cat([x1, x2, x4], dim=1))


class SCM(nn.Module):
    """Shallow convolutional module: features of the downsampled input (output keeps the 3 input channels)."""

    def __init__(self, out_channels: int):
        super().__init__()
        c = out_channels
        self.main = nn.Sequential(
            BasicConv(3, c // 4, 3),
            BasicConv(c // 4, c // 2, 1),
            BasicConv(c // 2, c // 2, 3),
            BasicConv(c // 2, c - 3, 1),
        )
        self.conv = BasicConv(c, c, 1, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(torch.cat([x, self.main(x)], dim=1))


class FAM(nn.Module):
    """Feature attention module: ``x1 + conv(x1 * x2)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.merge = BasicConv(channels, channels, 3, relu=False)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return x1 + self.merge(x1 * x2)


class MIMOUNet(nn.Module):
    """MIMO-UNet: multi-input multi-output U-Net (8 residual blocks per stage, 32 base channels).

    ``base_channels`` (multiple of 4, at least 8) and ``num_res`` override the width and depth of this class;
    ``MIMOUNet()`` and ``MIMOUNetPlus()`` are exactly the official networks.
    """

    base_channels: int = 32
    num_res: int = 8
    dropout: float = 0.0

    def __init__(self, base_channels: int | None = None, num_res: int | None = None,
                 dropout: float | None = None) -> None:
        super().__init__()
        c = int(base_channels or self.base_channels)
        n = int(num_res or self.num_res)
        if c < 8 or c % 4:
            raise ValueError(f"base_channels {c}: use a multiple of 4, at least 8")
        if n < 1:
            raise ValueError(f"num_res {n}: use at least 1 residual block per stage")
        self.base_channels, self.num_res = c, n
        if dropout is not None:
            self.dropout = float(dropout)
        self.Encoder = nn.ModuleList([ResStack(c, n), ResStack(2 * c, n), ResStack(4 * c, n)])
        self.feat_extract = nn.ModuleList(
            [
                BasicConv(3, c, 3),
                BasicConv(c, 2 * c, 3, stride=2),
                BasicConv(2 * c, 4 * c, 3, stride=2),
                BasicConv(4 * c, 2 * c, 4, stride=2, transpose=True),
                BasicConv(2 * c, c, 4, stride=2, transpose=True),
                BasicConv(c, 3, 3, relu=False),
            ]
        )
        self.Decoder = nn.ModuleList([ResStack(4 * c, n), ResStack(2 * c, n), ResStack(c, n)])
        self.Convs = nn.ModuleList([BasicConv(4 * c, 2 * c, 1), BasicConv(2 * c, c, 1)])
        self.ConvsOut = nn.ModuleList([BasicConv(4 * c, 3, 3, relu=False), BasicConv(2 * c, 3, 3, relu=False)])
        self.AFFs = nn.ModuleList([AFF(7 * c, c), AFF(7 * c, 2 * c)])
        self.FAM1, self.SCM1 = FAM(4 * c), SCM(4 * c)
        self.FAM2, self.SCM2 = FAM(2 * c), SCM(2 * c)
        # Dropout2d has no parameters, so it does not change the state-dict keys.
        self.drop1 = nn.Dropout2d(self.dropout) if self.dropout > 0 else nn.Identity()
        self.drop2 = nn.Dropout2d(self.dropout) if self.dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> list[Tensor]:
        """x: [B,3,H,W], H and W multiples of 4 -> [out at H/4, out at H/2, out at H] (unclamped)."""
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"MIMO-UNet needs H and W divisible by 4, got {tuple(x.shape[-2:])}; pad first")
        x_2 = F.interpolate(x, scale_factor=0.5, mode="nearest")
        x_4 = F.interpolate(x_2, scale_factor=0.5, mode="nearest")
        z2, z4 = self.SCM2(x_2), self.SCM1(x_4)

        res1 = self.Encoder[0](self.feat_extract[0](x))
        res2 = self.Encoder[1](self.FAM2(self.feat_extract[1](res1), z2))
        z = self.Encoder[2](self.FAM1(self.feat_extract[2](res2), z4))

        z12 = F.interpolate(res1, scale_factor=0.5, mode="nearest")
        z21 = F.interpolate(res2, scale_factor=2.0, mode="nearest")
        z42 = F.interpolate(z, scale_factor=2.0, mode="nearest")
        z41 = F.interpolate(z42, scale_factor=2.0, mode="nearest")
        res2 = self.drop2(self.AFFs[1](z12, res2, z42))
        res1 = self.drop1(self.AFFs[0](res1, z21, z41))

        z = self.Decoder[0](z)
        out4 = self.ConvsOut[0](z) + x_4
        z = self.Convs[0](torch.cat([self.feat_extract[3](z), res2], dim=1))
        z = self.Decoder[1](z)
        out2 = self.ConvsOut[1](z) + x_2
        z = self.Convs[1](torch.cat([self.feat_extract[4](z), res1], dim=1))
        out1 = self.feat_extract[5](self.Decoder[2](z)) + x
        return [out4, out2, out1]


class MIMOUNetPlus(MIMOUNet):
    """MIMO-UNet+: 20 residual blocks per stage and Dropout2d(0.1) on both AFF outputs."""

    num_res = 20
    dropout = 0.1


@dataclass(frozen=True)
class Arch:
    """One member of the family: width, depth and (training-only) dropout on the AFF outputs."""

    base_channels: int = 32
    num_res: int = 8
    dropout: float = 0.0

    def build(self) -> MIMOUNet:
        return MIMOUNet(self.base_channels, self.num_res, self.dropout)

    def describe(self) -> str:
        return f"{self.base_channels} channels, {self.num_res} blocks per stage"


#: Named members. ``mimo-unet`` and ``mimo-unet-plus`` are the paper's; ``mimo-unet-compact`` is the one
#: sharpsplat trains and ships (chosen by the compute-matched sweep in docs/benchmarks.md).
MODELS: dict[str, Arch] = {
    "mimo-unet": Arch(32, 8),
    "mimo-unet-plus": Arch(32, 20, 0.1),
    "mimo-unet-compact": Arch(16, 8),
}


def model_name_of(arch: Arch) -> str:
    """The name of ``arch`` in :data:`MODELS` (dropout ignored), or ``mimo-unet-c<C>-b<N>`` for others."""
    for name, a in MODELS.items():
        if (a.base_channels, a.num_res) == (arch.base_channels, arch.num_res):
            return name
    return f"mimo-unet-c{arch.base_channels}-b{arch.num_res}"


def parse_arch(name: str) -> Arch:
    """A name of :data:`MODELS` or ``mimo-unet-c<C>-b<N>`` (any width/depth) -> :class:`Arch`; ValueError else."""
    if name in MODELS:
        return MODELS[name]
    m = re.fullmatch(r"mimo-unet-c(\d+)-b(\d+)", name)
    if m:
        return Arch(int(m.group(1)), int(m.group(2)))
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)} or mimo-unet-c<C>-b<N>")


def arch_from_state_dict(sd: dict[str, Tensor]) -> Arch:
    """Width and depth read off a checkpoint's keys and shapes (official or ours); ValueError if not MIMO-UNet."""
    try:
        c = int(sd["feat_extract.0.main.0.weight"].shape[0])
    except KeyError:
        raise ValueError("not a MIMO-UNet state dict (no feat_extract.0.main.0.weight)") from None
    blocks = {int(k.split(".")[3]) for k in sd if k.startswith("Encoder.0.layers.")}
    if not blocks:
        raise ValueError("not a MIMO-UNet state dict (no Encoder.0.layers.*)")
    n = max(blocks) + 1
    return MODELS["mimo-unet-plus"] if (c, n) == (32, 20) else Arch(c, n)


def build_model(name: str = "mimo-unet", base_channels: int | None = None, num_res: int | None = None) -> MIMOUNet:
    """A freshly initialised network: a name of :data:`MODELS` (or ``mimo-unet-c<C>-b<N>``), width/depth overridable."""
    arch = parse_arch(name)
    return MIMOUNet(base_channels or arch.base_channels, num_res or arch.num_res, arch.dropout)
