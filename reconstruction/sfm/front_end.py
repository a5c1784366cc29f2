"""The SfM front end, one straight path: frames -> restore -> colmap -> undistort -> report.

``sfm_scene(input, scene, opts)`` (``sharpsplat sfm``) is the whole path; ``run_scene_sfm(scene, ...)`` is its
second half (colmap -> undistort -> report) for a scene folder that already has its frames, which
``sharpsplat reconstruct`` runs as its own stage. Each stage's helpers live in their own module:

1. frames (:mod:`.frames`): video or image folder -> ``scene/images`` + ``scene/frames.json``;
2. restore (:mod:`.restore`): optional MIMO-UNet pre-restoration -> ``scene/restored`` (same names);
3. colmap (:mod:`.colmap`): SIFT, matching, mapping on ``restored/`` (or ``images/``), optionally on
   box-downscaled frames, one looser retry when too few frames register;
4. undistort (:mod:`.undistort`): the model scaled back to full size and left with a PINHOLE camera
   (a negligible distortion dropped, else the frames undistorted, the originals kept in ``scene/distorted/``);
5. report (:mod:`.report`): ``scene/sparse/0`` (COLMAP binary, for ``images/`` at full size) and
   ``scene/sfm_report.json``.

Scratch files go to ``scene/colmap/``. A rerun with the same input and options reuses every finished stage.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from deblur2d.io.atomic import atomic_dir, write_json_atomic
from deblur2d.io.errors import UserError
from reconstruction.geometry.camera_model import MAX_DISTORTION_PX, camera_info, rescale_reconstruction
from reconstruction.io.image_folders import image_size, list_images

from .colmap import SfMOptions, check_camera_model, colmap_quiet, find_model, resolve_matcher
from .frames import FrameOptions, extract_frames, require_motion
from .report import (
    REPORT_JSON,
    SfMFailed,
    failure_message,
    folder_signature,
    new_report,
    read_report,
    sfm_line,
    warnings,
)
from .restore import plan_restore, restore_scene
from .undistort import DISTORTED, make_pinhole, recover_distorted

__all__ = ["FrontEndOptions", "run_scene_sfm", "sfm_scene"]


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
    model: str = "auto"
    device: str = "auto"
    sfm: SfMOptions = field(default_factory=SfMOptions)
    downscale: int = 1
    min_registered_frac: float = 0.6
    retry: bool = True
    max_distortion_px: float = MAX_DISTORTION_PX
    progress: bool = True
    quiet_colmap: bool = True


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
    weights, restore_note = plan_restore(opts.restore, opts.weights, opts.model)  # fails early without weights

    # 1. frames
    frames = extract_frames(Path(input), scene, opts.frames, progress=opts.progress)
    require_motion(scene / "images", frames.files)  # a static capture is told now, before restoration and SfM
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

    # 2. restore
    recover_distorted(scene)  # SfM will run again: start from the original frames
    t = time.perf_counter()
    threads = opts.sfm.num_threads if opts.sfm.num_threads > 0 else None
    restore = restore_scene(scene, weights, opts.model, opts.device, opts.progress, threads)
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

    # 3.-5. colmap -> undistort -> report
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


def run_scene_sfm(
    scene: str | Path,
    *,
    use_restored: bool = False,
    matcher: str = "auto",
    camera_model: str = "SIMPLE_RADIAL",
    downscale: int = 1,
    seed: int = 0,
    num_threads: int = -1,
    min_registered_frac: float = 0.6,
    retry: bool = True,
    max_distortion_px: float = MAX_DISTORTION_PX,
    options: SfMOptions | None = None,
    quiet: bool = True,
    verbose: bool = True,
) -> dict:
    """SfM for the scene folder ``scene``: ``scene/sparse/0`` for ``scene/images`` at full size, and
    ``scene/sfm_report.json``. Returns the report (:mod:`.report`; keys include ``num_images``,
    ``num_registered``, ``num_points3D``, ``mean_reprojection_error`` (px), ``focal_px``, ``camera``,
    ``matcher``, ``retry``, ``undistortion``, ``seconds``, ``reused``).

    ``use_restored``: run on ``scene/restored`` (same names as ``images/``). ``options`` sets everything else of
    the SfM configuration; ``matcher``, ``camera_model``, ``seed`` and ``num_threads`` override it. Frames are
    box-downscaled by ``downscale`` for SfM (blur halves in pixels) and the model scaled back. Raises
    :class:`SfMFailed` (a UserError) when fewer than ``min_registered_frac`` of the frames register after the
    retry; the partial model is then still written to ``scene/sparse/0`` and the report to sfm_report.json.
    """
    t_all = time.perf_counter()
    scene = Path(scene)
    sub = "restored" if use_restored else "images"
    opt = replace(options or SfMOptions(), matcher=matcher, camera_model=camera_model, seed=seed)
    opt = replace(opt, num_threads=num_threads)
    resolve_matcher(opt.matcher, 0)
    check_camera_model(opt.camera_model)
    if int(downscale) != downscale or not 1 <= downscale <= 8:
        raise UserError(f"--downscale {downscale}: use an integer from 1 to 8")
    downscale = int(downscale)
    if not min_registered_frac > 0.0:  # above 1 always fails: tests use it to force the retry path
        raise UserError(f"min_registered_frac {min_registered_frac}: use a fraction in (0, 1]")
    key = {
        "input": sub,
        "input_signature": folder_signature(scene, sub),
        "images_signature": folder_signature(scene, "images"),
        "options": asdict(opt) | {"num_threads": None},  # threads change speed, not what is found
        "downscale": downscale,
        "min_registered_frac": min_registered_frac,
        "retry": retry,
        "max_distortion_px": max_distortion_px,
    }
    old = read_report(scene)
    if (
        old is not None
        and old.get("status") == "ok"
        and old.get("key") == key
        and (scene / "sparse" / "0" / "cameras.bin").is_file()
        and (scene / "images").is_dir()
    ):
        old["reused"] = True
        if verbose:
            _log(
                f"sfm: reused {scene / 'sparse' / '0'} ({old['num_registered']}/{old['num_images']} registered; "
                f"same frames and options as {REPORT_JSON})"
            )
        return old

    recover_distorted(scene)
    (scene / REPORT_JSON).unlink(missing_ok=True)
    src = scene / sub
    if not src.is_dir():
        raise UserError(f"{src}: missing; " + ("run restoration first" if use_restored else "extract frames first"))
    names = list_images(src)
    if use_restored and names != list_images(scene / "images"):
        raise UserError(f"{src}: its file names differ from {scene / 'images'}; rerun the restoration")
    n = len(names)
    if n < 2:
        raise UserError(f"{src}: {n} frame(s); SfM needs at least 2 (3+ recommended)")
    width, height = image_size(src / names[0])
    colmap = scene / "colmap"
    colmap.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    with colmap_quiet(quiet):
        # 3. colmap
        runs = find_model(
            src, colmap, opt, num_images=n, size=(width, height), downscale=downscale,
            min_registered_frac=min_registered_frac, retry=retry, verbose=verbose,
        )  # fmt: skip
        seconds.update(runs.seconds)
        report = new_report(scene, key, sub, names, runs, asdict(opt), min_registered_frac)
        ok = report["status"] == "ok"
        rec = runs.best.reconstruction
        if rec is None:
            shutil.rmtree(scene / "sparse" / "0", ignore_errors=True)
            report.update(mean_reprojection_error=None, focal_px=None, camera=None, model_dir=None)
            report["undistortion"] = {"action": "none", "note": "no model"}
        else:
            # 4. undistort: the model at full size, with a PINHOLE camera
            report["mean_reprojection_error_sfm_px"] = runs.best.mean_reprojection_error_px
            if runs.downscale > 1:
                rescale_reconstruction(rec, runs.downscale, width, height)
            t = time.perf_counter()
            report["undistortion"] = make_pinhole(rec, scene, sub, ok, max_distortion_px, opt.num_threads)
            if report["undistortion"]["action"] == "undistorted":
                rec = report["undistortion"].pop("_model")
            seconds["undistort"] = time.perf_counter() - t
            # 5. report: the model as written
            rec.update_point_3d_errors()
            report["mean_reprojection_error"] = (
                float(rec.compute_mean_reprojection_error()) if rec.num_points3D() else None
            )
            report["num_points3D"] = int(rec.num_points3D())
            report["camera"] = camera_info(rec)
            report["focal_px"] = float(next(iter(rec.cameras.values())).mean_focal_length())
            report["warnings"] = warnings(report, width, height)
            with atomic_dir(scene / "sparse" / "0") as tmp:
                rec.write_binary(str(tmp))
    seconds["total"] = time.perf_counter() - t_all
    report["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    write_json_atomic(scene / REPORT_JSON, report)
    if not ok:
        raise SfMFailed(failure_message(report, scene, use_restored, rec is not None), report)
    if verbose:
        _log(sfm_line(report))
    return report
