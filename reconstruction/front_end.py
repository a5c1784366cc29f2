"""The SfM front end, ``sfm_scene(input, scene, opts)`` (``sharpsplat sfm``): frames (:mod:`reconstruction.frames`),
optional MIMO-UNet pre-restoration (:mod:`reconstruction.prerestore`), then SfM of the scene folder
(:func:`reconstruction.scene_sfm.run_scene_sfm`). The report ``scene/sfm_report.json`` gains the ``front_end``
and ``restore`` entries; a rerun with the same input and options reuses every finished stage.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deblur2d.atomic import write_json_atomic
from deblur2d.errors import UserError

from .camera_model import MAX_DISTORTION_PX
from .frames import FrameOptions, extract_frames
from .scene_sfm import REPORT_JSON, SfMFailed, read_report, run_scene_sfm
from .sfm import SfMOptions
from .undistort import DISTORTED, recover_distorted

__all__ = ["DEFAULT_RESTORE", "FrontEndOptions", "plan_restore", "sfm_scene"]

#: Pre-restore frames with MIMO-UNet before SfM unless told otherwise (skipped, and said, when no weights exist).
DEFAULT_RESTORE = True


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class FrontEndOptions:
    """Frames -> optional restoration -> SfM (``sharpsplat sfm``)."""

    frames: FrameOptions = field(default_factory=FrameOptions)
    restore: bool | None = None
    """None: DEFAULT_RESTORE, skipped (and said) without weights; True: required (UserError without weights);
    False: off."""
    weights: Path | None = None
    model: str = "mimo-unet"
    device: str = "auto"
    sfm: SfMOptions = field(default_factory=SfMOptions)
    downscale: int = 1
    min_registered_frac: float = 0.6
    retry: bool = True
    max_distortion_px: float = MAX_DISTORTION_PX
    progress: bool = True
    quiet_colmap: bool = True


def plan_restore(opts: FrontEndOptions) -> tuple[Path | None, str]:
    """(weights to restore with or None to skip, the stated reason). UserError when restoration was asked
    for explicitly (``restore=True``) and no weights exist."""
    from .prerestore import weights_available

    wanted = DEFAULT_RESTORE if opts.restore is None else opts.restore
    if not wanted:
        return None, "off (--no-restore): SfM runs on the original frames"
    weights = weights_available(opts.weights, opts.model)
    if weights is not None:
        return weights, f"MIMO-UNet ({opts.model}) with {weights}"
    if opts.restore:
        raise UserError(
            f"--restore: no {opts.model} weights ship with this version; pass --weights PATH (the official "
            "MIMO-UNet .pkl or a sharpsplat .safetensors) or use --no-restore"
        )
    return None, (
        f"skipped: no {opts.model} weights ship with this version and no --weights PATH was given; "
        "SfM runs on the original frames"
    )


def _restore_stage(scene: Path, weights: Path | None, opts: FrontEndOptions) -> dict:
    from .prerestore import restore_folder

    restored = scene / "restored"
    if weights is None:
        if restored.exists():  # frames of an earlier run with restoration: SfM no longer runs on them
            shutil.rmtree(restored)
        return {"enabled": False}
    threads = opts.sfm.num_threads if opts.sfm.num_threads > 0 else None
    summary = restore_folder(
        scene / "images",
        restored,
        weights=weights,
        model=opts.model,
        device=opts.device,
        progress=opts.progress,
        threads=threads,
    )
    return {"enabled": True, **summary}


def sfm_scene(input: Path, scene: Path, opts: FrontEndOptions | None = None) -> dict:
    """The SfM front end: ``input`` (video or image folder) -> ``scene/images`` + ``scene/frames.json`` ->
    optional MIMO-UNet restoration (``scene/restored``) -> SfM (on restored/ when present, names identical) ->
    ``scene/sparse/0`` + ``scene/sfm_report.json`` (returned). One line on stderr per stage; a rerun reuses
    finished stages. Raises :class:`UserError` for bad input and :class:`SfMFailed` when too few frames
    register (partial model and report still written)."""
    t0 = time.perf_counter()
    opts = opts or FrontEndOptions()
    scene = Path(scene)
    if opts.downscale < 1:
        raise UserError(f"--downscale {opts.downscale}: use 1 or more")
    weights, restore_note = plan_restore(opts)  # fails early when --restore has no weights
    frames = extract_frames(Path(input), scene, opts.frames, progress=opts.progress)
    if not frames.reused:
        for stale in ("sparse", "colmap", "restored", DISTORTED):
            shutil.rmtree(scene / stale, ignore_errors=True)
        (scene / REPORT_JSON).unlink(missing_ok=True)
    front_key = {
        "frames": frames.signature,
        "restore": [str(weights) if weights else None, opts.model],
        "sfm": asdict(opts.sfm) | {"num_threads": None},
        "downscale": opts.downscale,
        "min_registered_frac": opts.min_registered_frac,
        "retry": opts.retry,
        "max_distortion_px": opts.max_distortion_px,
    }
    old = read_report(scene)
    if (
        old is not None
        and old.get("status") == "ok"
        and old.get("front_end", {}).get("key") == front_key
        and (scene / "sparse" / "0" / "cameras.bin").is_file()
    ):
        rs = old.get("restore", {})
        _log(f"restore: reused {rs.get('n', 0)} restored frames" if rs.get("enabled") else f"restore: {rs.get('note')}")
        _log(
            f"sfm: reused {scene / 'sparse' / '0'} ({old['num_registered']}/{old['num_images']} registered, "
            f"same frames and options as {scene / REPORT_JSON})"
        )
        old["reused"] = True
        return old

    recover_distorted(scene)  # SfM will run again: start from the original frames
    t = time.perf_counter()
    restore = _restore_stage(scene, weights, opts)
    restore["note"] = restore_note
    if not restore["enabled"]:
        _log(f"restore: {restore_note} ({time.perf_counter() - t:.1f} s)")
    restore_s = time.perf_counter() - t
    front = {
        "key": front_key,
        "input": str(frames.source),
        "frames": {
            "kind": frames.kind,
            "count": len(frames.files),
            "source_frames": frames.num_source_frames,
            "select": opts.frames.select,
            "max_frames": opts.frames.max_frames,
            "source_size": list(frames.source_size),
            "working_size": list(frames.working_size),
            "reused": frames.reused,
        },
    }
    try:
        report = run_scene_sfm(
            scene,
            use_restored=restore["enabled"],
            matcher=opts.sfm.matcher,
            camera_model=opts.sfm.camera_model,
            downscale=opts.downscale,
            seed=opts.sfm.seed,
            num_threads=opts.sfm.num_threads,
            min_registered_frac=opts.min_registered_frac,
            retry=opts.retry,
            max_distortion_px=opts.max_distortion_px,
            options=opts.sfm,
            quiet=opts.quiet_colmap,
        )
    except SfMFailed as e:
        _finish_report(e.report, scene, front, restore, frames.seconds, restore_s, t0)
        raise
    return _finish_report(report, scene, front, restore, frames.seconds, restore_s, t0)


def _finish_report(
    report: dict, scene: Path, front: dict, restore: dict, frames_s: float, restore_s: float, t0: float
) -> dict:
    report["front_end"] = front
    report["restore"] = restore
    report["seconds"] = {"frames": round(frames_s, 3), "restore": round(restore_s, 3), **report["seconds"]}
    report["seconds"]["front_end_total"] = round(time.perf_counter() - t0, 3)
    write_json_atomic(scene / REPORT_JSON, report)
    return report
