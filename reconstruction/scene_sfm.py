"""SfM for a scene folder (DESIGN.md): ``run_scene_sfm(scene, ...)`` and its report ``scene/sfm_report.json``.

On ``scene/restored`` or ``scene/images``, optionally on frames box-downscaled by ``downscale`` (blur halves in
pixels) with the camera and keypoints scaled back (:mod:`reconstruction.camera_model`), one retry with looser
settings (:func:`reconstruction.sfm.loosened`, and frames of 480 px or more halved) when fewer than
``min_registered_frac`` of the frames register,
then a pinhole camera (:mod:`reconstruction.undistort`: distortion below ``max_distortion_px`` dropped, else the
frames undistorted, the originals kept in ``scene/distorted/``). Writes ``scene/sparse/0`` (COLMAP binary, for
``images/`` at full size) and ``scene/sfm_report.json``; scratch files in ``scene/colmap/``. A rerun with the
same input and options reuses the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from deblur2d.atomic import atomic_dir, write_json_atomic
from deblur2d.errors import UserError

from .camera_model import MAX_DISTORTION_PX, camera_info, rescale_reconstruction
from .image_files import downscale_folder, image_size, list_images
from .sfm import SfMOptions, check_camera_model, loosened, resolve_matcher, run_sfm
from .undistort import DISTORTED, make_pinhole, recover_distorted

__all__ = ["REPORT_JSON", "SfMFailed", "read_report", "run_scene_sfm"]

REPORT_JSON = "sfm_report.json"


#: The retry halves frames whose long side is at least this (SfM then still sees >= 240 px).
RETRY_DOWNSCALE_MIN_SIDE = 480


class SfMFailed(UserError):
    """Too few frames registered (after the retry). ``report``: what was found; the partial model is kept."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _colmap_quiet(quiet: bool):
    """COLMAP's own progress lines off (errors still shown) while SfM runs; restored afterwards."""
    import pycolmap

    old = pycolmap.logging.minloglevel
    if quiet:
        pycolmap.logging.minloglevel = 2
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = old


def _folder_signature(scene: Path, sub: str) -> str:
    """Hash of the names, sizes and times of the ORIGINAL frames of ``scene/sub`` (``scene/distorted/sub``
    after an undistortion)."""
    folder = scene / DISTORTED / sub
    folder = folder if folder.is_dir() else scene / sub
    if not folder.is_dir():
        return ""
    items = [[n, (folder / n).stat().st_size, (folder / n).stat().st_mtime_ns] for n in list_images(folder)]
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def read_report(scene: Path) -> dict | None:
    """``scene/sfm_report.json``, or None when missing or unreadable."""
    try:
        return json.loads((Path(scene) / REPORT_JSON).read_text())
    except (OSError, ValueError):
        return None


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
    ``scene/sfm_report.json``. Returns the report (see the module docstring; keys include ``num_images``,
    ``num_registered``, ``num_points3D``, ``mean_reprojection_error`` (px), ``focal_px``, ``camera``,
    ``matcher``, ``retry``, ``undistortion``, ``seconds``, ``reused``).

    ``use_restored``: run on ``scene/restored`` (same names as ``images/``). ``options`` sets everything else of
    the SfM configuration; ``matcher``, ``camera_model``, ``seed`` and ``num_threads`` override it. Raises
    :class:`SfMFailed` (a UserError) when fewer than ``min_registered_frac`` of the frames register after the
    retry; the partial model is then still written to ``scene/sparse/0`` and the report to sfm_report.json.
    """
    import pycolmap

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
        "input_signature": _folder_signature(scene, sub),
        "images_signature": _folder_signature(scene, "images"),
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

    with _colmap_quiet(quiet):
        sfm_input = src
        if downscale > 1:
            t = time.perf_counter()
            sfm_input = colmap / f"input_x{downscale}"
            downscale_folder(src, sfm_input, downscale)
            seconds["downscale"] = time.perf_counter() - t
        first = run_sfm(sfm_input, colmap / "sfm", opt)
        seconds.update({f"sfm_{k}": v for k, v in first.seconds.items()})
        need = min_registered_frac * n
        best, retry_info = first, {"done": False}
        if (colmap / "sfm_retry").exists():
            shutil.rmtree(colmap / "sfm_retry")
        best_ds = downscale
        if first.num_registered < need and retry:
            opt2, changes = loosened(opt)
            # Frames large enough are also halved for the retry: at 48 px of blur on 640x480 frames this registered
            # 20/20 of two scenes (0.50, 0.92 deg) against 20/20 (1.36 deg) and 5/20 at full size (docs/benchmarks.md)
            retry_ds = 2 if downscale == 1 and max(width, height) >= RETRY_DOWNSCALE_MIN_SIDE else downscale
            input2 = sfm_input
            if retry_ds != downscale:
                input2 = colmap / f"input_x{retry_ds}"
                downscale_folder(src, input2, retry_ds)
                changes["downscale"] = [downscale, retry_ds]
            if verbose:
                _log(
                    f"sfm: only {first.num_registered}/{n} frames registered (< {min_registered_frac:.0%}); "
                    f"retrying once with looser settings ({_changes_text(changes)})"
                )
            second = run_sfm(input2, colmap / "sfm_retry", opt2)
            seconds.update({f"retry_{k}": v for k, v in second.seconds.items()})
            better = (second.num_registered, second.num_points3D) >= (first.num_registered, first.num_points3D)
            best = second if better else first
            best_ds = retry_ds if better else downscale
            retry_info = {
                "done": True,
                "reason": f"{first.num_registered}/{n} registered < {min_registered_frac:.0%}",
                "changes": changes,
                "first_registered": first.num_registered,
                "retry_registered": second.num_registered,
                "kept": "retry" if better else "first",
            }
        ok = best.num_registered >= need
        report: dict = {
            "status": "ok" if ok else "too_few_registered",
            "key": key,
            "scene": str(scene),
            "sfm_input": sub,
            "num_images": n,
            "num_registered": best.num_registered,
            "registered_frac": round(best.num_registered / n, 4),
            "unregistered": [x for x in names if x not in set(best.registered)],
            "num_points3D": best.num_points3D,
            "camera_model_sfm": opt.camera_model,
            "matcher": best.matcher,
            "matcher_reason": best.matcher_reason if best is first else "retry: exhaustive",
            "retry": retry_info,
            "downscale": best_ds,
            "min_registered_frac": min_registered_frac,
            "sfm_options": asdict(opt),
            "pycolmap": pycolmap.__version__,
            "model_dir": str(scene / "sparse" / "0"),
            "reused": False,
        }
        rec = best.reconstruction
        if rec is None:
            shutil.rmtree(scene / "sparse" / "0", ignore_errors=True)
            report.update(mean_reprojection_error=None, focal_px=None, camera=None, model_dir=None)
            report["undistortion"] = {"action": "none", "note": "no model"}
        else:
            report["mean_reprojection_error_sfm_px"] = best.mean_reprojection_error_px
            if best_ds > 1:
                rescale_reconstruction(rec, best_ds, width, height)
            t = time.perf_counter()
            report["undistortion"] = make_pinhole(rec, scene, sub, ok, max_distortion_px, opt.num_threads)
            if report["undistortion"]["action"] == "undistorted":
                rec = report["undistortion"].pop("_model")
            seconds["undistort"] = time.perf_counter() - t
            rec.update_point_3d_errors()
            report["mean_reprojection_error"] = (
                float(rec.compute_mean_reprojection_error()) if rec.num_points3D() else None
            )
            report["num_points3D"] = int(rec.num_points3D())
            report["camera"] = camera_info(rec)
            report["focal_px"] = float(next(iter(rec.cameras.values())).mean_focal_length())
            report["warnings"] = _warnings(report, width, height)
            with atomic_dir(scene / "sparse" / "0") as tmp:
                rec.write_binary(str(tmp))
    seconds["total"] = time.perf_counter() - t_all
    report["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    write_json_atomic(scene / REPORT_JSON, report)
    if not ok:
        got = f"{best.num_registered} of {n} frames registered"
        after = " even after a retry with looser settings" if retry_info["done"] else ""
        where = f"partial model kept in {scene / 'sparse' / '0'}" if rec is not None else "no model was found"
        raise SfMFailed(
            f"SfM: only {got} (< {min_registered_frac:.0%}){after}; {where}, details in {scene / REPORT_JSON}. "
            "Try: more overlap between frames / slower camera motion, shorter exposure / more light, "
            + ("" if use_restored else "--restore (MIMO-UNet pre-restoration), ")
            + "--sfm-downscale 2 (sharpsplat sfm: --downscale 2)",
            report,
        )
    if verbose:
        _log(_sfm_line(report))
    return report


def _changes_text(changes: dict) -> str:
    return ", ".join(f"{k} {a}->{b}" for k, (a, b) in changes.items())


def _warnings(r: dict, width: int, height: int) -> list[str]:
    """Signs of a model that registered but is probably wrong (stated, not fatal)."""
    out = []
    disp = r["undistortion"].get("max_distortion_px", 0.0)
    if disp > 0.02 * max(width, height):
        out.append(
            f"large lens distortion ({disp:.1f} px at {width}x{height}): the camera model may be compensating for "
            "a poor reconstruction; try --camera-model PINHOLE or more/sharper frames"
        )
    if r["num_points3D"] < 20 * r["num_registered"]:
        out.append(f"few 3D points ({r['num_points3D']} for {r['num_registered']} frames): poses may be inaccurate")
    if r["unregistered"]:
        where = "left out of images/ (kept in distorted/images)" if r["undistortion"].get("left_out") else "no pose"
        out.append(f"{len(r['unregistered'])} frame(s) not registered, {where}: {', '.join(r['unregistered'][:3])}")
    return out


def _sfm_line(r: dict) -> str:
    u = r["undistortion"]
    cam = {
        "none": f"{u['from']} (no distortion)",
        "pinhole_rewrite": f"{u['from']} -> PINHOLE (distortion {u['max_distortion_px']:.2f} px < "
        f"{u['threshold_px']}: rewritten, not resampled)",
        "undistorted": f"{u['from']} -> PINHOLE (distortion {u['max_distortion_px']:.2f} px: frames undistorted, "
        "originals in distorted/images)",
    }.get(u["action"], u["from"] if "from" in u else "-")
    retry = ", after a retry with looser settings" if r["retry"]["done"] else ""
    down = f", on frames downscaled x{r['downscale']}" if r["downscale"] > 1 else ""
    return (
        f"sfm: {r['num_registered']}/{r['num_images']} frames registered{retry}, {r['num_points3D']} points, "
        f"reprojection {r['mean_reprojection_error']:.2f} px, focal {r['focal_px']:.1f} px, {cam}, "
        f"{r['matcher']} matching ({r['matcher_reason']}){down}, on {r['sfm_input']}/ -> {r['model_dir']} "
        f"({r['seconds']['total']:.1f} s)" + "".join(f"; warning: {w}" for w in r.get("warnings", []))
    )
