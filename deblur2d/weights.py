"""Loading and saving MIMO-UNet weights.

Accepted files:
- the official release (github chosj95/MIMO-UNet): a torch pickle ``.pkl`` holding ``{'model': state_dict}``
  (older torch serialisation; loaded with ``weights_only=True``, so no code in the file runs);
- sharpsplat's own ``.safetensors`` (half precision on disk, metadata ``model`` names the architecture);
- any torch file holding a plain state dict or ``{'state_dict': ...}``.
A ``module.`` prefix (DataParallel) is stripped. Any key or shape mismatch fails with a message listing the
missing and unexpected keys.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .io.atomic import atomic_path
from .io.errors import UserError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The network that ships and that ``Restorer()``, ``sharpsplat deblur`` and pre-restoration use by default.
DEFAULT_MODEL = "mimo-unet-compact"


def default_weights_path(model: str | None = None) -> Path | None:
    """The shipped weights for ``model`` (default :data:`DEFAULT_MODEL`), ``deblur2d/weights/<model>.safetensors``,
    or None if none ship for it."""
    path = WEIGHTS_DIR / f"{model or DEFAULT_MODEL}.safetensors"
    return path if path.is_file() else None


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a ``.safetensors`` file ({} for other files or none)."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception:  # unreadable files get their error from read_state_dict
        return {}


def arch_of(path: str | os.PathLike, sd: dict[str, torch.Tensor] | None = None):
    """The architecture of a weights file: from its metadata (``base_channels``, ``num_res``) when present,
    else read off the tensor shapes (official ``.pkl`` files). UserError if it is no MIMO-UNet."""
    from .mimo_unet import MODELS, Arch, arch_from_state_dict

    meta = read_metadata(path)
    if "base_channels" in meta and "num_res" in meta:
        return Arch(int(meta["base_channels"]), int(meta["num_res"]))
    if meta.get("model") in MODELS:
        return MODELS[meta["model"]]
    try:
        return arch_from_state_dict(sd if sd is not None else read_state_dict(path))
    except ValueError as e:
        raise UserError(f"weights {path}: {e}") from None


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a checkpoint file into a flat ``{key: tensor}`` dict (CPU), whatever its container."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"weights file is empty: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            sd = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as e:
            raise UserError(f"cannot read safetensors weights {path}: {e}") from None
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # pickle/zip errors come in many types
            raise UserError(
                f"cannot read weights {path} as a torch checkpoint ({type(e).__name__}: {str(e)[:120]}); "
                "pass the official MIMO-UNet .pkl or a .safetensors file"
            ) from None
        sd = obj
        for key in ("model", "state_dict"):
            if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
                sd = sd[key]
                break
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise UserError(f"weights {path} hold no state dict of tensors (expected {{'model': state_dict}})")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_network(path: str | os.PathLike) -> tuple[nn.Module, str]:
    """Build the network a weights file describes and load it strictly -> ``(network, model name)``."""
    from .mimo_unet import model_name_of

    sd = read_state_dict(path)
    arch = arch_of(path, sd)
    net = arch.build()
    load_weights(net, path, model_name_of(arch), sd=sd)
    return net, model_name_of(arch)


def load_weights(model: nn.Module, path: str | os.PathLike, model_name: str | None = None,
                 sd: dict[str, torch.Tensor] | None = None) -> None:
    """Load ``path`` into ``model`` strictly (keys and shapes), casting to the model's dtype.

    Raises :class:`UserError` listing missing and unexpected keys (and shape mismatches) on any difference.
    """
    sd = read_state_dict(path) if sd is None else sd
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if missing or unexpected or shapes:

        def head(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")

        parts = [f"weights {path} do not match {model_name or type(model).__name__}:"]
        if missing:
            parts.append(f"missing keys: {head(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {head(unexpected)}")
        if shapes:
            parts.append(
                "shape mismatch: " + head([f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in shapes])
            )
        from .mimo_unet import arch_from_state_dict, model_name_of

        try:
            guess = model_name_of(arch_from_state_dict(sd))
            if guess != model_name:
                parts.append(f"the file looks like --model {guess}")
        except ValueError:
            pass
        raise UserError("; ".join(parts))
    dtype = next(iter(own.values())).dtype
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)


def save_weights(
    model: nn.Module, path: str | os.PathLike, model_name: str, half: bool = True, metadata: dict | None = None
) -> None:
    """Save ``model`` as safetensors (float16 by default), atomically; the metadata records ``model`` and the
    architecture (``base_channels``, ``num_res``), so a loader builds the right network without flags."""
    from safetensors.torch import save_file

    dtype = torch.float16 if half else torch.float32
    sd = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    arch = {k: getattr(model, k) for k in ("base_channels", "num_res") if hasattr(model, k)}
    meta = {"model": model_name, **{k: str(v) for k, v in {**arch, **(metadata or {})}.items()}}
    with atomic_path(path) as tmp:
        save_file(sd, str(tmp), metadata=meta)
