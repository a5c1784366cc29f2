"""``sharpsplat train SCENE --out RUN [--preset NAME] [flags]``: DeblurGS on a scene folder.

Presets are TOML files in the repository's ``configs/`` (``deblurgs-tiny``, ``deblurgs-cpu-demo``,
``deblurgs-gpu-quality``) or any TOML path; their keys mirror :class:`TrainArgs` (``[config]``,
``[config.gs]``, ``[config.gs.densify]`` tables). The preset is loaded first, then command-line flags override it.

Stages, one line each on stderr: load, train (progress bar; checkpoint every ``config.gs.checkpoint_every``
steps; a rerun resumes from ``RUN/checkpoint.pt``; ``RUN/train_log.jsonl``: the training curve), deblurred
frames (``RUN/deblurred/`` with the scene's file names, ``RUN/trajectories.json``, ``RUN/cameras.json``: size, K
and poses for rendering), export (``RUN/splats.ply``, ``RUN/renders/`` novel views of synthetic scenes), metrics
(``RUN/metrics.json``; ground-truth metrics on synthetic scenes). Every file is written atomically;
``RUN/manifest.json`` lists finished stages.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from deblur2d.io.errors import UserError
from reconstruction.io.presets import CONFIG_DIR, apply_dict, jsonable, load_preset_into, preset_from_argv

from .trainer import DeblurGSConfig

__all__ = ["TrainArgs", "CONFIG_DIR", "load_preset", "apply_dict", "main"]

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
    poses: Literal["auto", "gt", "sparse", "llff", "transforms"] = "auto"
    """Pose source: sparse (COLMAP sparse/0 or sparse/), llff (poses_bounds.npy), transforms (nerfstudio
    transforms.json), gt (gt/cameras.json c2w_mid); auto = the first of these the scene has, in that order."""
    images: str | None = None
    """Image folder of the scene (images, images_4, ...); default: the one the poses' file names live in."""
    holdout: int | None = None
    """Hold out every n-th view for evaluation (Deblur-NeRF's llffhold); default: a hold=N marker file, else none."""
    downscale: int = 1
    """Train on frames box-downscaled by this integer factor (in linear light); 0 = the capacity rule's (long side
    <= 640 px; with --budget-minutes it also sets steps and cap)."""
    budget_minutes: float = 0.0
    """Fit the capacity to the scene (reconstruction/deblurgs/capacity.py): training resolution (when downscale is
    0), steps and Gaussian cap from the frame size and this training-time budget; 0 = the preset's as given."""
    triangulate: bool = True
    """Scenes with poses but no points (LLFF, transforms.json): triangulate start points from the given poses
    (SIFT + pycolmap, poses fixed) instead of a random start."""
    points_dir: Path | None = None
    """Where triangulated points are computed and cached (default: OUT/points)."""
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


def load_preset(name: str, base: TrainArgs | None = None) -> TrainArgs:
    """``base`` (default :class:`TrainArgs`) with preset ``name``'s TOML values applied
    (``configs/deblurgs-<name>.toml``, the full stem, or a path)."""
    return load_preset_into(base or TrainArgs(), name, "deblurgs-")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _backend_name(backend: str, device: str) -> str:
    """``backend`` as resolved on ``device`` (``auto`` -> the one that runs, e.g. ``native (auto)``)."""
    import torch

    from reconstruction.splats.render import select_backend

    name = select_backend(backend, torch.device(device))
    return f"{name} (auto)" if backend == "auto" else name


def _write_manifest(out: Path, stages: dict[str, Any]) -> None:
    from deblur2d.io.atomic import write_json_atomic

    write_json_atomic(out / "manifest.json", {"stages": stages})


def run(
    args: TrainArgs, on_step: Callable[[Any, list[str]], None] | None = None, on_step_every: int = 100
) -> dict[str, Any]:
    """Run every stage for ``args``; returns the metrics dict (also written to ``out/metrics.json``).
    ``on_step(trainer, frame_names)`` runs every ``on_step_every`` training steps and after the last."""
    import torch

    from deblur2d.io.atomic import write_json_atomic
    from deblur2d.io.images import write_image

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
    points_dir = (args.points_dir or out / "points") if args.triangulate else None
    if args.budget_minutes > 0:
        cfg, downscale = _fit_budget(args, cfg)
        args = replace(args, config=cfg, downscale=downscale)
    elif args.downscale <= 0:  # no budget (explicit steps): the capacity rule's resolution all the same, said
        from reconstruction.io.image_folders import image_size
        from reconstruction.io.scenes import read_scene

        from .capacity import MAX_LONG_SIDE, training_downscale

        cams = read_scene(args.scene, args.poses, args.images, args.holdout)
        w, h = image_size(cams.image_dir / cams.files[0])
        d = training_downscale(w, h)
        _log(f"      downscale {d} (frames {w}x{h}; long side at most {MAX_LONG_SIDE} px without --downscale)")
        args = replace(args, downscale=d)
    sc = load_scene(args.scene, args.poses, args.downscale, args.perturb_rot_deg, args.perturb_trans_pct, cfg.gs.seed,
                    images=args.images, points_dir=points_dir, holdout=args.holdout)
    npts = 0 if sc.points is None else len(sc.points)
    for note in sc.notes:
        _log(f"      note: {note}")
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
        f"{_backend_name(cfg.gs.backend, device)}" + (f", resumed at step {resumed}" if resumed else "")
    )
    cb = None if on_step is None else (lambda tr: on_step(tr, sc.files))
    summary = trainer.train(progress=args.progress, run_dir=out, callback=cb, callback_every=on_step_every)
    stages["train"] = {"steps": trainer.step, "seconds": summary["seconds"]}
    _write_manifest(out, stages)

    t1 = time.perf_counter()
    sharp = trainer.render_sharp().cpu().numpy()
    for name, img in zip(sc.files, sharp, strict=True):
        write_image(out / "deblurred" / name, img)
    traj = trainer.traj.to_json()
    write_json_atomic(out / "trajectories.json", {"files": sc.files, **traj})
    write_json_atomic(out / "cameras.json", run_cameras(sc, trainer, traj))
    write_json_atomic(out / "appearance.json", {"model": cfg.appearance, "space": "linear", "files": sc.files,
                                                 "frames": trainer.appearance_json()})  # fmt: skip
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
        "start_points": npts,  # 0: random start (no points in the scene, none triangulated)
        "resolution": [sc.width, sc.height],
        "device": device,
        "args": jsonable(asdict(args)),
        "training_fit": trainer.training_fit(),
    }
    fit = metrics["training_fit"]
    _log(f"      training fit: per-frame PSNR {fit['mean']:.2f} dB mean, {fit['std']:.2f} dB spread (std), "
         f"{fit['min']:.2f}-{fit['max']:.2f} dB")  # fmt: skip
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
    write_json_atomic(out / "metrics.json", jsonable(metrics))
    stages["metrics"] = {"file": "metrics.json"}
    _write_manifest(out, stages)
    return metrics


def with_steps(cfg: DeblurGSConfig, steps: int) -> DeblurGSConfig:
    """``cfg`` trained for ``steps`` steps, its step-dependent schedules (densification stop, threshold annealing)
    scaled by the same factor, as gsplat's ``steps_scaler`` does: a preset's schedule keeps its shape at any
    length."""
    k = steps / max(cfg.gs.steps, 1)
    dens = replace(cfg.gs.densify, refine_stop_iter=max(1, round(cfg.gs.densify.refine_stop_iter * k)))
    return replace(cfg, gs=replace(cfg.gs, steps=steps, densify=dens), anneal_steps=max(1, round(cfg.anneal_steps * k)))


def _fit_budget(args: TrainArgs, cfg: DeblurGSConfig) -> tuple[DeblurGSConfig, int]:
    """``cfg`` with steps, Gaussian cap and step-dependent schedules fitted to ``args.budget_minutes``, and the
    training downscale (``args.downscale`` unless 0)."""
    from reconstruction.io.image_folders import image_size
    from reconstruction.io.scenes import read_scene

    from .capacity import fit_capacity

    cams = read_scene(args.scene, args.poses, args.images, args.holdout)
    w, h = image_size(cams.image_dir / cams.files[0])
    # The baseline (motion off) gets the same steps and cap as DeblurGS would: a fair comparison, in less time.
    s, warm = cfg.n_subframes, cfg.motion_start_step
    cap = fit_capacity(w, h, 60.0 * args.budget_minutes, s, warm)
    d = args.downscale if args.downscale > 0 else cap.downscale
    if d != cap.downscale:  # a downscale given explicitly: the budget at that resolution
        cap = fit_capacity(w // d, h // d, 60.0 * args.budget_minutes, s, warm, max_long_side=max(w // d, h // d))
        cap = replace(cap, downscale=d)
    cfg = with_steps(cfg, cap.steps)
    cfg = replace(cfg, gs=replace(cfg.gs, densify=replace(cfg.gs.densify, max_gaussians=cap.max_gaussians)))
    _log(f"      {cap.line()} (budget {args.budget_minutes:g} min, frames {w}x{h})")
    return cfg, d


def run_cameras(sc: Any, trainer: Any, traj: dict[str, Any]) -> dict[str, Any]:
    """``RUN/cameras.json``: what rendering a finished run needs besides the checkpoint. ``K`` and the size are
    those of training (after ``--downscale``); poses are camera-to-world, OpenCV axes; the model's colours are
    linear light (render, then ``linear_to_srgb``)."""
    return {
        "width": int(trainer.width),
        "height": int(trainer.height),
        "K": trainer.K.cpu().double().tolist(),
        "files": list(sc.files),
        "c2w_mid": [f["c2w_mid"] for f in traj["frames"]],
        "c2w_given": [f["c2w_given"] for f in traj["frames"]],
        "color_space": "linear",
        "downscale": int(sc.downscale),
        "sh_degree": int(trainer.model.sh_degree_max),
        "background": [float(v) for v in trainer.cfg.gs.background],
        "backend": trainer.cfg.gs.backend,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sharpsplat train``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    default = load_preset(preset_from_argv(argv, DEFAULT_PRESET))
    args = tyro.cli(TrainArgs, default=default, args=argv, prog="sharpsplat train")
    run(args)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
