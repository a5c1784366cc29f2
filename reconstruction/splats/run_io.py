"""Read a finished run folder back and render views of it.

A run folder (``sharpsplat train`` / ``sharpsplat reconstruct``) holds ``checkpoint.pt``
(:func:`reconstruction.splats.gaussians.save_checkpoint`, with the trainer config in ``extra["config"]``) and
``cameras.json``: ``{"width", "height", "K": 3x3 (training resolution, pixels), "files", "c2w_mid": [V x 4x4],
"c2w_given", "color_space": "linear" | "srgb"}``.

Optional keys of ``cameras.json`` ``sh_degree`` and ``background`` override the checkpoint config's.

Colour: DeblurGS models hold linear light; renders are composited over the trainer's background in linear
light, clamped to [0, 1] and encoded with :func:`deblur2d.io.color.linear_to_srgb`, exactly as
``DeblurGSTrainer.render_c2w``. Plain 3DGS checkpoints (config without ``gs``) hold sRGB colour and are only
clamped. ``cameras.json``'s ``color_space`` decides when present.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblur2d.io.errors import UserError

from .gaussians import GaussianModel

__all__ = ["RunScene", "load_run", "resolve_device", "scale_K", "render_views"]

_MAKERS = "`sharpsplat train SCENE --out RUN` or `sharpsplat reconstruct`"


@dataclass
class RunScene:
    """A trained scene ready to render."""

    run: Path
    model: GaussianModel
    """Gaussians on ``device``."""
    K: np.ndarray
    """``[3, 3]`` intrinsics at the training resolution, pixels."""
    width: int
    height: int
    files: list[str]
    """Training frame names in capture order."""
    c2w_mid: np.ndarray
    """``[V, 4, 4]`` mid-exposure camera-to-world poses (OpenCV axes), capture order."""
    color_space: str
    """``"linear"`` (DeblurGS) or ``"srgb"`` (plain 3DGS): what the Gaussians' colours hold."""
    sh_degree: int
    """SH degree to render with."""
    backend: str
    """Rasterizer backend passed to :func:`reconstruction.splats.render.render`."""
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Background colour the model was trained over (in its colour space)."""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    kind: str = "deblurgs"
    """``"deblurgs"`` or ``"3dgs"`` (from the checkpoint's config)."""
    step: int = 0

    def points(self, min_opacity: float = 0.5) -> np.ndarray:
        """Centres ``[P, 3]`` of the Gaussians with opacity >= ``min_opacity`` (all when none are)."""
        p = self.model.params
        means = p["means"].detach().cpu().double().numpy()
        keep = (torch.sigmoid(p["opacities"].detach()) >= min_opacity).cpu().numpy()
        return means[keep] if keep.any() else means


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is a :class:`UserError`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device here; use --device cpu or auto")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device!r}: not a torch device; use auto, cpu or cuda") from None


def _read_cameras(path: Path) -> dict[str, Any]:
    try:
        cams = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e}); rerun {_MAKERS} to rewrite it") from None
    if not isinstance(cams, dict):
        raise UserError(f"{path}: expected a JSON object with width, height, K, files, c2w_mid")
    missing = [k for k in ("width", "height", "K", "c2w_mid") if k not in cams]
    if missing:
        raise UserError(f"{path}: missing {', '.join(missing)}; written by another version? rerun {_MAKERS}")
    try:
        K = np.asarray(cams["K"], np.float64).reshape(3, 3)
        c2w = np.asarray(cams["c2w_mid"], np.float64).reshape(-1, 4, 4)
        w, h = int(cams["width"]), int(cams["height"])
    except (TypeError, ValueError):
        raise UserError(f"{path}: K must be 3x3, c2w_mid a list of 4x4, width/height integers") from None
    if len(c2w) == 0 or w <= 0 or h <= 0 or not np.all(np.isfinite(K)) or not np.all(np.isfinite(c2w)):
        raise UserError(f"{path}: empty c2w_mid, non-positive size or non-finite values")
    files = [str(f) for f in cams.get("files", [])] or [f"{i:05d}" for i in range(len(c2w))]
    if len(files) != len(c2w):
        raise UserError(f"{path}: {len(files)} files but {len(c2w)} c2w_mid poses")
    cs = cams.get("color_space")
    if cs is not None and cs not in ("linear", "srgb"):
        raise UserError(f"{path}: color_space must be 'linear' or 'srgb', got {cs!r}")
    sh, bg = cams.get("sh_degree"), cams.get("background")
    if sh is not None and not (isinstance(sh, int) and 0 <= sh <= 3):
        raise UserError(f"{path}: sh_degree must be an integer 0..3, got {sh!r}")
    if bg is not None and not (isinstance(bg, list) and len(bg) == 3 and all(isinstance(v, int | float) for v in bg)):
        raise UserError(f"{path}: background must be 3 numbers, got {bg!r}")
    return {"K": K, "c2w_mid": c2w, "width": w, "height": h, "files": files, "color_space": cs,
            "sh_degree": sh, "background": bg}  # fmt: skip


def load_run(run: str | Path, device: str | torch.device = "auto") -> RunScene:
    """Load ``run/checkpoint.pt`` and ``run/cameras.json`` (of ``sharpsplat train``, or ``run/train/`` of
    ``sharpsplat reconstruct``); one-line :class:`UserError` for anything wrong."""
    from .gaussians import load_checkpoint

    run = Path(run)
    if not run.is_dir():
        raise UserError(f"{run}: no such run folder; make one with {_MAKERS}")
    if not (run / "checkpoint.pt").is_file() and (run / "train" / "checkpoint.pt").is_file():
        run = run / "train"  # a `sharpsplat reconstruct` run keeps its DeblurGS training in train/
    ckpt_path, cams_path = run / "checkpoint.pt", run / "cameras.json"
    if not ckpt_path.is_file() and not cams_path.is_file():
        raise UserError(f"{run}: not a run folder (no checkpoint.pt, no cameras.json); make one with {_MAKERS}")
    if not ckpt_path.is_file():
        raise UserError(f"{ckpt_path}: missing; {_MAKERS} writes it when training finishes (rerun to resume)")
    if not cams_path.is_file():
        raise UserError(f"{cams_path}: missing; this version of {_MAKERS} writes it (rerun with the same --out)")
    cams = _read_cameras(cams_path)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    try:
        ckpt = load_checkpoint(ckpt_path, map_location="cpu")
    except Exception as e:  # torch.load raises many types: unpickling, zip, EOF, version ValueError
        raise UserError(
            f"{ckpt_path}: cannot read ({type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}); "
            f"damaged or from another version of sharpsplat: rerun {_MAKERS}"
        ) from None
    try:
        model = GaussianModel.from_state(ckpt["model"]).to(dev)
        extra = ckpt.get("extra") or {}
        config = extra.get("config") or {}
        step = int(ckpt.get("step", 0))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(
            f"{ckpt_path}: not a Gaussian scene checkpoint of this version ({type(e).__name__}: {e}); rerun {_MAKERS}"
        ) from None
    if not isinstance(config, dict):
        raise UserError(f"{ckpt_path}: extra['config'] is not a dict; written by another version? rerun {_MAKERS}")
    deblurgs = isinstance(config.get("gs"), dict)
    gs = config["gs"] if deblurgs else config
    color_space = cams["color_space"] or ("linear" if deblurgs else "srgb")
    # DeblurGSTrainer renders sharp frames and novel views at the maximum SH degree; Trainer3DGS at its step's.
    sh_degree = model.sh_degree_max if deblurgs else model.sh_degree_at(step)
    if cams["sh_degree"] is not None:
        sh_degree = min(cams["sh_degree"], model.sh_degree_max)
    bg = cams["background"] if cams["background"] is not None else gs.get("background", (0.0, 0.0, 0.0))
    try:
        background = tuple(float(x) for x in bg)
        assert len(background) == 3
    except (TypeError, ValueError, AssertionError):
        raise UserError(f"{ckpt_path}: config background {bg!r} is not 3 numbers") from None
    backend = str(gs.get("backend", "auto"))
    if backend not in ("auto", "torch"):
        from .render import select_backend

        try:
            select_backend(backend, dev)
        except (RuntimeError, ValueError):  # trained with gsplat, rendered where it cannot run: same maths
            backend = "torch"  # (reconstruction.splats.render); the CLI reports the backend in use
    return RunScene(
        run=run,
        model=model,
        K=cams["K"],
        width=cams["width"],
        height=cams["height"],
        files=cams["files"],
        c2w_mid=cams["c2w_mid"],
        color_space=color_space,
        sh_degree=int(sh_degree),
        backend=backend,
        background=background,  # type: ignore[arg-type]
        device=dev,
        kind="deblurgs" if deblurgs else "3dgs",
        step=step,
    )


def scale_K(K: np.ndarray, width: int, height: int, new_width: int, new_height: int) -> np.ndarray:
    """Intrinsics for the same camera at another resolution (:func:`reconstruction.geometry.camera_model.scale_K`)."""
    from reconstruction.geometry.camera_model import scale_K as _scale

    return _scale(K, new_width / width, new_height / height)


@torch.no_grad()
def render_views(
    scene: RunScene,
    c2ws: np.ndarray,
    width: int | None = None,
    height: int | None = None,
    progress: bool = True,
    *,
    Ks: np.ndarray | None = None,
    desc: str = "render",
) -> Iterator[np.ndarray]:
    """Yield one sRGB float32 image ``[H, W, 3]`` in [0, 1] per pose of ``c2ws`` ``[N, 4, 4]`` (OpenCV axes),
    one at a time (memory bounded by one view).

    ``width``/``height`` default to the training size; the training ``K`` is scaled to them. ``Ks`` ``[N, 3, 3]``
    (pixels at the output size) replaces it per view. ``progress`` shows a bar with rate and ETA on stderr."""
    from tqdm import tqdm

    from deblur2d.io.color import linear_to_srgb

    from .render import render
    from .train_3dgs import c2w_to_viewmat

    c = np.asarray(c2ws, np.float64).reshape(-1, 4, 4)
    w = int(width or scene.width)
    h = int(height or scene.height)
    if Ks is None:
        Kn = np.repeat(scale_K(scene.K, scene.width, scene.height, w, h)[None], len(c), axis=0)
    else:
        Kn = np.asarray(Ks, np.float64).reshape(-1, 3, 3)
        if len(Kn) != len(c):
            raise ValueError(f"{len(Kn)} intrinsics for {len(c)} poses")
    dev = scene.device
    splats = scene.model.to_render_dict(scene.sh_degree)
    bg = torch.tensor(scene.background, dtype=torch.float32, device=dev)[None]
    vms = c2w_to_viewmat(torch.as_tensor(c)).float()  # inverted in float64, as the trainers do
    linear = scene.color_space == "linear"
    bar = tqdm(total=len(c), disable=not progress, unit="frame", desc=desc, dynamic_ncols=True, file=sys.stderr)
    try:
        for i in range(len(c)):
            K = torch.as_tensor(Kn[i], dtype=torch.float32, device=dev)[None]
            rgb, _, _ = render(
                splats, vms[i : i + 1].to(dev), K, w, h,
                sh_degree=scene.sh_degree, backgrounds=bg, backend=scene.backend,
            )  # fmt: skip
            img = rgb[0].clamp(0, 1)
            img = linear_to_srgb(img) if linear else img
            bar.update(1)
            yield img.float().cpu().numpy()
    finally:
        bar.close()
