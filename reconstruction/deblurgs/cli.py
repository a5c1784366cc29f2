"""``sharpsplat train SCENE --out RUN [--preset NAME] [flags]``: DeblurGS on a scene folder.

Presets are TOML files in the repository's ``configs/`` (``deblurgs-tiny``, ``deblurgs-cpu-demo``,
``deblurgs-gpu-quality``) or any TOML path; their keys mirror :class:`TrainArgs` (``[config]``,
``[config.gs]``, ``[config.gs.densify]`` tables). The preset is loaded first, then command-line flags override it.

Stages, one line each on stderr: load, train (progress bar; checkpoint every ``config.gs.checkpoint_every``
steps; a rerun resumes from ``RUN/checkpoint.pt``), deblurred frames (``RUN/deblurred/`` with the scene's file
names, ``RUN/trajectories.json``), export (``RUN/splats.ply``, ``RUN/renders/`` novel views of synthetic
scenes), metrics (``RUN/metrics.json``; ground-truth metrics on synthetic scenes). Every file is written
atomically; ``RUN/manifest.json`` lists finished stages.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
import tyro

from deblur2d.errors import UserError

from .trainer import DeblurGSConfig

__all__ = ["TrainArgs", "CONFIG_DIR", "load_preset", "apply_dict", "main"]

#: Folder of the named TOML presets (the repository's ``configs/``).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
DEFAULT_PRESET = "deblurgs-cpu-demo"


@dataclass
class TrainArgs:
    """Train DeblurGS: Gaussians + per-frame camera motion from blurry frames; writes sharp frames and a PLY."""

    scene: Annotated[Path, tyro.conf.Positional] = Path("scene")
    """Scene folder with images/ and poses (sparse/0 or, on synthetic scenes, gt/cameras.json)."""
    out: Path = Path("runs/deblurgs")
    """Run folder."""
    preset: str = DEFAULT_PRESET
    """Preset name in configs/ (deblurgs-tiny, deblurgs-cpu-demo, deblurgs-gpu-quality) or a TOML path."""
    poses: Literal["auto", "gt", "sparse"] = "auto"
    """Pose source: sparse/0 (COLMAP), gt (gt/cameras.json c2w_mid), auto = sparse/0 if present."""
    downscale: int = 1
    """Train on frames box-downscaled by this integer factor (in linear light)."""
    perturb_rot_deg: float = 0.0
    """Robustness test: rotate every given pose by this many degrees (random axis, seeded)."""
    perturb_trans_pct: float = 0.0
    """Robustness test: move every camera centre by this percentage of the camera extent."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Torch device (auto: CUDA when available)."""
    threads: int = 0
    """CPU threads for torch (0 = leave torch's default)."""
    resume: bool = True
    """Resume from RUN/checkpoint.pt when it exists."""
    progress: bool = True
    """Show a progress bar."""
    evaluate: bool = True
    """On synthetic scenes, compute ground-truth metrics into metrics.json."""
    test_pose_steps: int = 100
    """Test-time pose optimisation steps per novel view (scene frozen; 0 = skip)."""
    config: DeblurGSConfig = field(default_factory=DeblurGSConfig)


def apply_dict(obj: Any, values: dict[str, Any], where: str = "") -> Any:
    """A copy of dataclass ``obj`` with ``values`` (nested dicts for nested dataclasses) applied; lists become
    tuples where the field holds a tuple. Unknown keys raise :class:`UserError`."""
    names = {f.name for f in dataclasses.fields(obj)}
    changes = {}
    for key, val in values.items():
        if key not in names:
            raise UserError(f"preset {where or 'file'}: unknown key {key!r}; known: {', '.join(sorted(names))}")
        cur = getattr(obj, key)
        if dataclasses.is_dataclass(cur) and isinstance(val, dict):
            changes[key] = apply_dict(cur, val, f"{where}.{key}" if where else key)
        elif isinstance(cur, tuple) and isinstance(val, list):
            changes[key] = tuple(val)
        elif isinstance(cur, Path):
            changes[key] = Path(val)
        else:
            changes[key] = val
    return dataclasses.replace(obj, **changes)


def preset_path(name: str) -> Path:
    """TOML file of preset ``name`` (a path, or a name in :data:`CONFIG_DIR`)."""
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return p
    cand = CONFIG_DIR / f"{name}.toml"
    if cand.is_file():
        return cand
    known = sorted(q.stem for q in CONFIG_DIR.glob("deblurgs-*.toml")) if CONFIG_DIR.is_dir() else []
    raise UserError(f"--preset: no preset {name!r} (no file {cand}); choose one of: {', '.join(known)}")


def load_preset(name: str, base: TrainArgs | None = None) -> TrainArgs:
    """``base`` (default :class:`TrainArgs`) with the preset's TOML values applied."""
    path = preset_path(name)
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None
    values.pop("description", None)
    return apply_dict(base or TrainArgs(), values, str(path.name))


def _preset_from_argv(argv: list[str]) -> str:
    for i, a in enumerate(argv):
        if a == "--preset" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--preset="):
            return a.split("=", 1)[1]
    return DEFAULT_PRESET


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _write_manifest(out: Path, stages: dict[str, Any]) -> None:
    from deblur2d.atomic import write_json_atomic

    write_json_atomic(out / "manifest.json", {"stages": stages})


def run(args: TrainArgs) -> dict[str, Any]:
    """Run every stage for ``args``; returns the metrics dict (also written to ``out/metrics.json``)."""
    import torch

    from deblur2d.atomic import write_json_atomic
    from deblur2d.image_io import write_image

    from .data import load_scene
    from .evaluate import evaluate_run
    from .trainer import DeblurGSTrainer

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device; use --device cpu")
    cfg = args.config
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    stages: dict[str, Any] = {}
    t0 = time.perf_counter()
    sc = load_scene(args.scene, args.poses, args.downscale, args.perturb_rot_deg, args.perturb_trans_pct, cfg.gs.seed)
    npts = 0 if sc.points is None else len(sc.points)
    _log(
        f"[1/5] load: {len(sc.files)} frames {sc.width}x{sc.height} (downscale {sc.downscale}), poses from "
        f"{sc.pose_source}, {npts} sparse points, device {device} ({time.perf_counter() - t0:.1f} s)"
    )
    trainer = DeblurGSTrainer(cfg, sc.images, sc.K, sc.c2ws, points=sc.points, colors=sc.colors, device=device)
    ckpt = out / "checkpoint.pt"
    resumed = 0
    if args.resume and ckpt.is_file():
        try:
            trainer.load_checkpoint(ckpt)
        except (RuntimeError, ValueError, KeyError, TypeError, EOFError) as e:  # shapes/keys of another config
            raise UserError(
                f"{ckpt}: cannot resume from it ({type(e).__name__}: {str(e).splitlines()[0][:100]}); it was written "
                "with other settings (curve order, sub-frames, frames) or another version: rerun with the same "
                "flags, use a new --out, or pass --no-resume to start over"
            ) from None
        resumed = trainer.step
    mode = (
        f"motion on: order {cfg.curve_order}, S={cfg.n_subframes} after step {cfg.motion_start_step}, "
        f"alignment {'on' if cfg.alignment else 'off'}"
        if cfg.motion
        else "motion off (baseline: S=1)"
    )
    _log(
        f"[2/5] train: {cfg.gs.steps} steps, {mode}, annealing {'on' if cfg.anneal else 'off'}, backend "
        f"{cfg.gs.backend}" + (f", resumed at step {resumed}" if resumed else "")
    )
    summary = trainer.train(progress=args.progress, run_dir=out)
    stages["train"] = {"steps": trainer.step, "seconds": summary["seconds"]}
    _write_manifest(out, stages)

    t1 = time.perf_counter()
    sharp = trainer.render_sharp().cpu().numpy()
    for name, img in zip(sc.files, sharp, strict=True):
        write_image(out / "deblurred" / name, img)
    write_json_atomic(out / "trajectories.json", {"files": sc.files, **trainer.traj.to_json()})
    stages["deblurred"] = {"frames": len(sc.files)}
    _write_manifest(out, stages)
    _log(
        f"[3/5] deblurred: {len(sc.files)} mid-exposure frames -> {out / 'deblurred'}, trajectories.json "
        f"({time.perf_counter() - t1:.1f} s)"
    )

    trainer.export_ply(out / "splats.ply")
    n_novel = 0
    if sc.gt is not None and sc.gt["test_files"]:
        renders = trainer.render_c2w(sc.gt["c2w_test"]).cpu().numpy()
        for name, img in zip(sc.gt["test_files"], renders, strict=True):
            write_image(out / "renders" / name, img)
        n_novel = len(renders)
    stages["export"] = {"ply": "splats.ply", "novel_views": n_novel}
    _write_manifest(out, stages)
    _log(f"[4/5] export: {len(trainer.model)} Gaussians -> {out / 'splats.ply'}, {n_novel} novel views")

    metrics: dict[str, Any] = {
        "train": summary,
        "scene": str(args.scene),
        "n_frames": len(sc.files),
        "resolution": [sc.width, sc.height],
        "device": device,
        "args": _jsonable(asdict(args)),
    }
    if args.evaluate and sc.gt is not None:
        t2 = time.perf_counter()
        metrics.update(evaluate_run(trainer, args.scene, sc.downscale, test_pose_steps=args.test_pose_steps))
        metrics["evaluate_seconds"] = time.perf_counter() - t2
        d = metrics["deblurred"]
        _log(
            f"[5/5] metrics: deblurred {d['psnr']:.2f} dB / SSIM {d['ssim']:.3f} (blurry input "
            f"{metrics['blurry_input']['psnr']:.2f} dB), trajectory {metrics['trajectory']['rot_deg']:.3f} deg "
            f"-> {out / 'metrics.json'}"
        )
    else:
        _log(f"[5/5] metrics: no ground truth; training summary -> {out / 'metrics.json'}")
    metrics["seconds_total"] = time.perf_counter() - t0
    write_json_atomic(out / "metrics.json", _jsonable(metrics))
    stages["metrics"] = {"file": "metrics.json"}
    _write_manifest(out, stages)
    return metrics


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    return x


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sharpsplat train``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    default = load_preset(_preset_from_argv(argv))
    args = tyro.cli(TrainArgs, default=default, args=argv, prog="sharpsplat train")
    run(args)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
