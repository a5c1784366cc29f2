"""``sharpsplat reconstruct INPUT --out RUN``: one resumable command from shaky video to a sharp 3D scene.

INPUT is a video, a folder of frames, a COLMAP scene (images/ + sparse/), a Deblur-NeRF / LLFF scene
(poses_bounds.npy + images/) or a synthetic scene of ``sharpsplat make-scene``. Stages, in order:

========== ==================================================================================================
frames     video / folder -> ``RUN/scene/images`` (blur-aware selection, working size; ``frames.json``)
restore    MIMO-UNet pre-restoration -> ``RUN/scene/restored`` (used only by SfM and the comparison)
sfm        pycolmap SfM on the restored (or blurry) frames -> ``RUN/scene/sparse/0`` (+ ``sfm_report.json``)
train      DeblurGS on the ORIGINAL blurry frames -> ``RUN/train/`` (checkpoint, trajectories, training curve)
baseline   the same Gaussians without a motion model ("3DGS on blurry") -> ``RUN/baseline/``, for the report
deblurred  sharp mid-exposure frames -> ``RUN/deblurred/``; ``RUN/trajectories.json``, ``RUN/cameras.json``
render     a smooth novel camera path -> ``RUN/renders/path.mp4`` (its poses: ``path.path.json``)
export     ``RUN/splats.ply`` (3DGS PLY, sRGB colours, opens in common splat viewers)
compare    blurry vs MIMO-UNet vs 3DGS vs DeblurGS (vs ground truth) -> ``RUN/report.html``, ``RUN/report/``
========== ==================================================================================================

Scenes that already have poses skip frames and SfM. Every stage writes its outputs atomically and then
records itself in ``RUN/manifest.json``; rerunning the same command skips finished stages and resumes
training from its last checkpoint (also after a hard kill). ``--force STAGE`` reruns that stage and every
later one. A run folder of another format version, or one made with other settings, is refused with a
one-line error and left untouched. ``--view`` serves the 3D viewer (:mod:`reconstruction.viewer`) meanwhile:
the DeblurGS training redrawn every ``--view-every`` steps, then the finished run, until Ctrl-C.

Presets: ``configs/reconstruct-<name>.toml`` (``demo``, ``cpu``, ``gpu-quality``) hold any of the flags of
:class:`.settings.ReconstructArgs`; flags given on the command line override them.

This module is the driver; the flags and stage list are in :mod:`.settings`, the manifest in :mod:`.manifest`,
one function per stage in :mod:`.stages`, the ground truth for the comparison in :mod:`.ground_truth`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import tyro

from deblur2d.io.atomic import write_json_atomic
from deblur2d.io.errors import UserError
from reconstruction.io.presets import jsonable, preset_from_argv

from .manifest import Run
from .settings import DEFAULT_PRESET, STAGES, ReconstructArgs, load_preset
from .stages import (
    input_kind,
    scene_dir,
    stage_compare,
    stage_deblurred,
    stage_export,
    stage_frames,
    stage_render,
    stage_restore,
    stage_sfm,
    stage_train,
)

__all__ = ["main", "run_pipeline"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_pipeline(args: ReconstructArgs) -> dict[str, Any]:
    """Run (or resume) every stage for ``args``; returns the run's metrics (also ``RUN/metrics.json``). With
    ``args.view``, serves the 3D viewer meanwhile and, after the run, until Ctrl-C."""
    if not args.view:
        return _run_stages(args, None)
    from reconstruction.viewer.server import LiveView, stop_on_signals, wait_forever

    if args.view_every < 1:
        raise UserError(f"--view-every must be >= 1, got {args.view_every}")
    live = LiveView(args.view_host, args.view_port, every=args.view_every)
    try:
        metrics = _run_stages(args, live)
        if (args.out / "splats.ply").is_file():
            live.show_run(args.out)
    except BaseException:
        live.stop()
        raise
    with stop_on_signals() as stop:
        _log(f"viewer: the finished run at {live.url} (Ctrl-C stops)")
        wait_forever(live.server, stop)
    return metrics


def _run_stages(args: ReconstructArgs, live: Any) -> dict[str, Any]:
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    kind = input_kind(args.input)
    run = Run(args)
    scene = scene_dir(run, kind)
    restored = scene / "restored" if kind in ("video", "images") else run.root / "restored"
    done = [s for s in STAGES if run.done(s)]
    _log(f"sharpsplat reconstruct: {kind} {args.input} -> {run.root}" +
         (f" (resuming; finished: {', '.join(done)})" if done else ""))
    has_poses = kind not in ("video", "images")
    for stage in STAGES:
        if run.done(stage):
            continue
        if stage == "frames":
            if has_poses:
                run.finish("frames", 0.0, skipped=f"{kind} scene: frames as given")
                continue
            stage_frames(run, kind)
        elif stage == "restore":
            stage_restore(run, scene, restored)
        elif stage == "sfm":
            if has_poses:
                run.finish("sfm", 0.0, skipped=f"{kind} scene: its own poses")
                _log(f"[sfm] skipped: the {kind} scene has poses")
                continue
            stage_sfm(run, scene)
        elif stage == "train":
            stage_train(run, scene, motion=True, live=live)
        elif stage == "baseline":
            if not args.baseline:
                run.finish("baseline", 0.0, steps=0, skipped="--no-baseline")
                continue
            stage_train(run, scene, motion=False)
        elif stage == "deblurred":
            stage_deblurred(run)
        elif stage == "render":
            stage_render(run)
        elif stage == "export":
            stage_export(run)
        elif stage == "compare":
            stage_compare(run, kind, scene, restored)
    metrics = _metrics(run)
    metrics["seconds_this_invocation"] = round(time.perf_counter() - t0, 1)
    write_json_atomic(run.root / "metrics.json", jsonable(metrics))
    _summary(run, metrics)
    return metrics


def _metrics(run: Run) -> dict[str, Any]:
    st = run.m["stages"]
    m: dict[str, Any] = {"input": run.m["input"], "stages": {k: v.get("seconds") for k, v in st.items()}}
    if "sfm" in st and "report" in st["sfm"]:
        m["sfm"] = st["sfm"]["report"]
    rep = run.root / "report" / "metrics.json"
    if rep.is_file():
        m["compare"] = json.loads(rep.read_text())
    if st.get("compare", {}).get("novel_views"):
        m["novel_views"] = st["compare"]["novel_views"]
    return m


def _summary(run: Run, metrics: dict[str, Any]) -> None:
    r = run.root
    lines = [f"done in {sum(v or 0 for v in metrics['stages'].values()):.0f} s of stage time. Outputs in {r}:",
             f"  sharp frames     {r / 'deblurred'}",
             f"  3D scene (PLY)   {r / 'splats.ply'}",
             f"  novel views      {r / 'renders' / 'path.mp4'}",
             f"  report           {r / 'report.html'}",
             f"  metrics          {r / 'metrics.json'}"]
    table = metrics.get("compare", {}).get("table_markdown")
    if table:
        lines += ["", table]
    nv = metrics.get("novel_views")
    if nv:
        opt = nv.get("pose_optimised")
        lines.append(f"Held-out novel views ({nv['n']}, vs ground truth): {nv['given_pose']['psnr']:.2f} dB / SSIM "
                     f"{nv['given_pose']['ssim']:.3f} at the aligned pose"
                     + (f", {opt['psnr']:.2f} dB / {opt['ssim']:.3f} after test-time pose optimisation" if opt else ""))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sharpsplat reconstruct``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    default = load_preset(preset_from_argv(argv, DEFAULT_PRESET))
    args = tyro.cli(ReconstructArgs, default=default, args=argv, prog="sharpsplat reconstruct")
    run_pipeline(args)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
