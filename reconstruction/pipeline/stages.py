"""The stages of ``sharpsplat reconstruct`` (:mod:`.reconstruct`), one function each; every stage writes its
outputs atomically and then records itself in the run's manifest (:class:`.manifest.Run`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from deblur2d.io.atomic import atomic_dir, atomic_path, write_json_atomic
from deblur2d.io.errors import UserError

from .ground_truth import ground_truth
from .manifest import Run
from .settings import STAGES

__all__ = [
    "input_kind",
    "scene_dir",
    "stage_compare",
    "stage_deblurred",
    "stage_export",
    "stage_frames",
    "stage_render",
    "stage_restore",
    "stage_sfm",
    "stage_train",
]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _copy_tree(src: Path, dst: Path) -> None:
    with atomic_dir(dst) as tmp:
        for p in sorted(src.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                shutil.copy2(p, tmp / p.name)


def _copy_file(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copy2(src, tmp)


def input_kind(path: Path) -> str:
    """What ``path`` is (:func:`reconstruction.io.scenes.detect_input`); UserError when it does not exist."""
    from reconstruction.io.scenes import detect_input

    if not path.exists():
        raise UserError(f"{path}: no such file or folder; give a video, a folder of frames or a scene folder")
    return detect_input(path)


def scene_dir(run: Run, kind: str) -> Path:
    """Where the scene lives: our own ``RUN/scene`` (video / frames), or the given scene folder (read only)."""
    return run.root / "scene" if kind in ("video", "images") else run.args.input


def stage_frames(run: Run, kind: str) -> None:
    from reconstruction.sfm.frames import FrameOptions, extract_frames, require_motion

    a = run.args
    opts = FrameOptions(max_frames=a.max_frames, select=a.select, long_side=a.long_side)
    t = time.perf_counter()
    from reconstruction.io.scenes import input_image_dir

    src = input_image_dir(a.input) if kind == "images" else a.input
    res = extract_frames(src, run.root / "scene", opts, force=a.force == "frames", progress=a.progress, verbose=False)
    _log("[frames] " + res.line().removeprefix("frames: "))
    motion = require_motion(run.root / "scene" / "images", res.files, log=lambda m: _log("[frames] " + m))
    run.finish("frames", time.perf_counter() - t, frames=len(res.files), kind=kind, motion=motion.verdict)


def stage_restore(run: Run, scene: Path, restored: Path) -> dict[str, Any]:
    from reconstruction.sfm.restore import restore_folder, weights_available

    a = run.args
    t = time.perf_counter()
    if scene == run.root / "scene":  # our own frames: undo an earlier SfM's undistortion before restoring them
        from reconstruction.sfm.undistort import recover_distorted

        recover_distorted(scene)
    if not a.restore:
        run.finish("restore", 0.0, restored=False, reason="--no-restore")
        _log("[restore] off (--no-restore): SfM runs on the blurry frames")
        return run.m["stages"]["restore"]
    w = weights_available(a.weights, a.model)  # UserError for a --weights path that does not exist
    if w is None:
        run.finish("restore", 0.0, restored=False, reason="no MIMO-UNet weights")
        _log("[restore] skipped: no MIMO-UNet weights ship with this install and none were given (--weights "
             "PATH); SfM runs on the blurry frames")
        return run.m["stages"]["restore"]
    src = scene / "images"
    if scene != run.root / "scene":  # a scene with poses: restore the image folder training and SfM read
        from reconstruction.io.scenes import read_scene

        src = read_scene(scene, images=a.images).image_dir
    summary = restore_folder(src, restored, weights=w, model=a.model, device=a.device,
                             progress=a.progress, verbose=False)
    run.finish("restore", time.perf_counter() - t, restored=True, weights=str(w), summary=summary)
    _log(f"[restore] {summary.get('n', '?')} frames restored -> {restored} ({time.perf_counter() - t:.1f} s): "
         f"{summary.get('restorer', w)}")
    return run.m["stages"]["restore"]


def stage_sfm(run: Run, scene: Path) -> None:
    from reconstruction.sfm.front_end import run_scene_sfm

    a = run.args
    t = time.perf_counter()
    use_restored = bool(run.m["stages"].get("restore", {}).get("restored"))
    report = run_scene_sfm(scene, use_restored=use_restored, matcher=a.matcher, camera_model=a.camera_model,
                           downscale=a.sfm_downscale, seed=a.seed, num_threads=a.sfm_threads, verbose=False)
    run.finish("sfm", time.perf_counter() - t, report=report)
    _log(f"[sfm] {report['num_registered']}/{report['num_images']} frames registered on the "
         f"{'restored' if use_restored else 'blurry'} frames, {report['num_points3D']} points, reprojection "
         f"{report.get('mean_reprojection_error', float('nan')):.2f} px -> {scene / 'sparse' / '0'} "
         f"({time.perf_counter() - t:.1f} s)")


def _train_args(run: Run, scene: Path, out: Path, motion: bool) -> Any:
    from reconstruction.deblurgs.cli import load_preset as load_train_preset
    from reconstruction.deblurgs.cli import with_steps

    a = run.args
    targs = load_train_preset(a.train_preset)
    cfg = targs.config
    steps = a.train_steps or cfg.gs.steps
    if not motion:
        steps = a.baseline_steps or steps
    cfg = with_steps(cfg, steps)
    cfg = dataclasses.replace(cfg, gs=dataclasses.replace(cfg.gs, seed=a.seed), motion=motion)
    return dataclasses.replace(
        targs,
        scene=scene,
        out=out,
        preset=a.train_preset,
        poses="auto",
        images=a.images,
        # explicit steps win over the preset's time budget (configs/deblurgs-cpu.toml)
        budget_minutes=0.0 if (a.train_steps or (not motion and a.baseline_steps)) else targs.budget_minutes,
        points_dir=run.root / "points",  # shared by DeblurGS and the baseline (scenes with poses, no points)
        downscale=a.train_downscale or targs.downscale,
        device=a.device,
        threads=a.threads,
        progress=a.progress,
        evaluate=False,
        config=cfg,
        resume=True,
    )


def stage_train(run: Run, scene: Path, motion: bool, live: Any = None) -> None:
    """DeblurGS (``motion``) or the baseline; ``live``: a :class:`reconstruction.viewer.server.LiveView` that
    DeblurGS's training redraws every ``live.every`` steps."""
    from reconstruction.deblurgs.cli import run as run_deblurgs

    name, out = ("train", run.root / "train") if motion else ("baseline", run.root / "baseline")
    targs = _train_args(run, scene, out, motion)
    forced = run.args.force is not None and STAGES.index(run.args.force) <= STAGES.index(name)
    if forced:  # redone on purpose (or on new frames / poses): never continue the old checkpoint, even later
        targs = dataclasses.replace(targs, resume=False)
        (out / "checkpoint.pt").unlink(missing_ok=True)
    t = time.perf_counter()
    what = "DeblurGS (camera motion during exposure)" if motion else "baseline: 3DGS on the blurry frames (no motion)"
    if targs.budget_minutes > 0 and not run.args.train_steps:
        size = f"steps, size and Gaussian cap fitted to a {targs.budget_minutes:g}-minute budget"
    else:
        size = f"{targs.config.gs.steps} steps, downscale {targs.downscale}"
    _log(f"[{name}] {what}: {size}, preset {run.args.train_preset} -> {out}")
    if live is not None and motion:
        from reconstruction.io.scenes import read_scene

        live.image_dir = read_scene(scene, images=run.args.images).image_dir if scene != run.root / "scene" \
            else scene / "images"
        m = run_deblurgs(targs, on_step=live.update, on_step_every=live.every)
    else:
        m = run_deblurgs(targs)
    run.finish(name, time.perf_counter() - t, steps=m["train"]["steps"], psnr_blurry_fit=m["train"]["psnr"],
               n_gaussians=m["train"]["n_gaussians"], resolution=m["resolution"])
    _log(f"[{name}] done: {m['train']['steps']} steps, {m['train']['n_gaussians']} Gaussians, fit to the blurry "
         f"frames {m['train']['psnr']:.2f} dB ({time.perf_counter() - t:.1f} s)")


def stage_deblurred(run: Run) -> None:
    t = time.perf_counter()
    tr = run.root / "train"
    _copy_tree(tr / "deblurred", run.root / "deblurred")
    for name in ("trajectories.json", "cameras.json", "train_log.jsonl"):
        _copy_file(tr / name, run.root / name)
    n = len(list((run.root / "deblurred").iterdir()))
    run.finish("deblurred", time.perf_counter() - t, frames=n)
    _log(f"[deblurred] {n} sharp mid-exposure frames -> {run.root / 'deblurred'}; exposure trajectories -> "
         f"{run.root / 'trajectories.json'}")


def stage_render(run: Run) -> None:
    from .render import render_path

    a = run.args
    t = time.perf_counter()
    out = render_path(run.root / "train", a.path, run.root / "renders" / "path.mp4", n_frames=a.path_frames,
                      fps=a.fps, device=a.device, progress=a.progress)
    run.finish("render", time.perf_counter() - t, video=str(out.relative_to(run.root)), frames=a.path_frames)
    _log(f"[render] {a.path_frames} novel views along a {a.path} path -> {out} ({time.perf_counter() - t:.1f} s)")


def stage_export(run: Run) -> None:
    from reconstruction.splats.ply import load_ply

    t = time.perf_counter()
    _copy_file(run.root / "train" / "splats.ply", run.root / "splats.ply")
    n = len(load_ply(run.root / "splats.ply"))
    run.finish("export", time.perf_counter() - t, gaussians=n)
    _log(f"[export] {n} Gaussians -> {run.root / 'splats.ply'} (3DGS PLY, sRGB colours)")


def stage_compare(run: Run, kind: str, scene: Path, restored: Path) -> dict[str, Any]:
    from reconstruction.evaluation.compare import compare_run

    t = time.perf_counter()
    gt_sharp, gt_cams, gt_test = ground_truth(run, kind, scene)
    files = json.loads((run.root / "cameras.json").read_text())["files"]

    def rel(p: Path | None) -> str | None:
        if p is None:
            return None
        p = Path(p).resolve()
        try:
            return str(p.relative_to(run.root.resolve()))
        except ValueError:
            return str(p)

    blurry_dir = scene / "images"
    if kind not in ("video", "images"):  # a scene with poses: the image folder training read (images_4/, ...)
        from reconstruction.io.scenes import read_scene

        blurry_dir = read_scene(scene, images=run.args.images).image_dir
    methods = {"Blurry input": rel(blurry_dir)}
    if run.m["stages"].get("restore", {}).get("restored"):
        methods["MIMO-UNet"] = rel(restored)
    if run.done("baseline") and run.m["stages"]["baseline"].get("steps"):
        methods["3DGS on blurry"] = "baseline/deblurred"
    methods["DeblurGS"] = "deblurred"
    notes = []
    if not run.m["stages"].get("restore", {}).get("restored"):
        notes.append(f"MIMO-UNet left out: {run.m['stages'].get('restore', {}).get('reason', 'not run')}.")
    novel = _novel_views(run, gt_cams, gt_test)
    if novel:
        opt = novel.get("pose_optimised")
        notes.append(
            f"Novel views: {novel['n']} held-out ground-truth views rendered by DeblurGS (in novel/): "
            f"{novel['given_pose']['psnr']:.2f} dB / SSIM {novel['given_pose']['ssim']:.3f} at the pose mapped by "
            "aligning the ground truth to the run's cameras"
            + (f", {opt['psnr']:.2f} dB / {opt['ssim']:.3f} after test-time pose optimisation" if opt else "") + "."
        )
    spec = {
        "title": f"sharpsplat: {run.args.input.name} -> {run.root.name}",
        "files": files,
        "methods": methods,
        "ground_truth": rel(gt_sharp),
        "trajectories": "trajectories.json",
        "true_trajectories": rel(gt_cams),
        "train_logs": {"DeblurGS": "train/train_log.jsonl", "3DGS on blurry": "baseline/train_log.jsonl"},
        "notes": notes,
    }
    write_json_atomic(run.root / "compare.json", spec)
    res = compare_run(run.root, spec)
    run.finish("compare", time.perf_counter() - t, report="report.html", novel_views=novel)
    _log(f"[compare] {len(methods)} methods on {len(files)} frames -> {run.root / 'report.html'} "
         f"({time.perf_counter() - t:.1f} s)")
    return res


def _novel_views(run: Run, gt_cams: Path | None, test_dir: Path | None) -> dict[str, Any] | None:
    """Held-out ground-truth views rendered by the run, into ``RUN/novel/`` (when the ground truth has some)."""
    if gt_cams is None or test_dir is None or not Path(test_dir).is_dir():
        return None
    from reconstruction.evaluation.novel_views import evaluate_novel_views

    cams = json.loads(Path(gt_cams).read_text())
    if not cams.get("test"):
        return None
    t = time.perf_counter()
    res = evaluate_novel_views(run.root / "train", cams, test_dir, out_dir=run.root / "novel",
                               device=run.args.device)
    g, o = res["given_pose"], res.get("pose_optimised")
    _log(f"[compare] {res['n']} held-out views: {g['psnr']:.2f} dB at the aligned pose"
         + (f", {o['psnr']:.2f} dB after test-time pose optimisation" if o else "")
         + f" -> {run.root / 'novel'} ({time.perf_counter() - t:.1f} s)")
    return res
