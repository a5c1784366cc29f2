"""What the machine offers for fast arithmetic: the one place that decides bf16 on CPU and CUDA."""

from __future__ import annotations

from functools import lru_cache

import torch


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (x86 AVX512-BF16 or AMX-BF16, read from /proc/cpuinfo).

    There, ``torch.autocast("cpu", dtype=torch.bfloat16)`` runs MIMO-UNet's convolutions about 2x faster than
    fp32 with the same validation PSNR (FINDINGS.md, 2026-12-06); elsewhere bf16 is emulated and slower.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_precision(device: torch.device) -> torch.dtype:
    """bf16 on CUDA (fp16 where bf16 is unsupported) and on CPUs with native bf16; fp32 elsewhere."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32
