"""The SfM report, ``scene/sfm_report.json``: what was found, how, and whether a rerun can reuse it.

Keys (written by :func:`reconstruction.sfm.front_end.run_scene_sfm`, extended by ``sfm_scene``): ``status``
(``ok`` or ``too_few_registered``), ``key`` (the frames and options the model was made from), ``num_images``,
``num_registered``, ``registered_frac``, ``unregistered``, ``num_points3D``, ``mean_reprojection_error`` (px,
full-size PINHOLE model), ``focal_px``, ``camera``, ``matcher`` and why, ``retry``, ``downscale``,
``undistortion``, ``warnings``, ``seconds``, ``reused``; ``front_end`` and ``restore`` from ``sfm_scene``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from deblur2d.io.errors import UserError
from reconstruction.io.image_folders import list_images

from .colmap import ColmapRuns
from .undistort import DISTORTED

__all__ = [
    "REPORT_JSON",
    "SfMFailed",
    "failure_message",
    "folder_signature",
    "new_report",
    "read_report",
    "sfm_line",
    "warnings",
]

REPORT_JSON = "sfm_report.json"


class SfMFailed(UserError):
    """Too few frames registered (after the retry). ``report``: what was found; the partial model is kept."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def folder_signature(scene: Path, sub: str) -> str:
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


def new_report(
    scene: Path, key: dict, sub: str, names: list[str], runs: ColmapRuns, options: dict, min_registered_frac: float
) -> dict:
    """The report of the kept COLMAP run, before undistortion (``options``: the SfM options as a dict)."""
    import pycolmap

    best, n = runs.best, len(names)
    ok = best.num_registered >= min_registered_frac * n
    return {
        "status": "ok" if ok else "too_few_registered",
        "key": key,
        "scene": str(scene),
        "sfm_input": sub,
        "num_images": n,
        "num_registered": best.num_registered,
        "registered_frac": round(best.num_registered / n, 4),
        "unregistered": [x for x in names if x not in set(best.registered)],
        "num_points3D": best.num_points3D,
        "camera_model_sfm": options["camera_model"],
        "matcher": best.matcher,
        "matcher_reason": best.matcher_reason if best is runs.first else "retry: exhaustive",
        "retry": runs.retry,
        "downscale": runs.downscale,
        "min_registered_frac": min_registered_frac,
        "sfm_options": options,
        "pycolmap": pycolmap.__version__,
        "model_dir": str(scene / "sparse" / "0"),
        "reused": False,
    }


def failure_message(report: dict, scene: Path, use_restored: bool, has_model: bool) -> str:
    """The one-line :class:`SfMFailed` message: what registered, where the partial model is, what to try."""
    got = f"{report['num_registered']} of {report['num_images']} frames registered"
    after = " even after a retry with looser settings" if report["retry"]["done"] else ""
    where = f"partial model kept in {scene / 'sparse' / '0'}" if has_model else "no model was found"
    return (
        f"SfM: only {got} (< {report['min_registered_frac']:.0%}){after}; {where}, details in {scene / REPORT_JSON}. "
        "Try: more overlap between frames / slower camera motion, shorter exposure / more light, "
        + ("" if use_restored else "--restore (MIMO-UNet pre-restoration), ")
        + "--sfm-downscale 2 (sharpsplat sfm: --downscale 2)"
    )


def warnings(r: dict, width: int, height: int) -> list[str]:
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


def sfm_line(r: dict) -> str:
    """The one-line summary printed on stderr."""
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
