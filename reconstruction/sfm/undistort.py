"""Leave an SfM model of a scene folder with a PINHOLE camera: drop a negligible distortion, else undistort the
frames (pycolmap), keeping the originals in ``scene/distorted/<sub>`` until SfM runs again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from deblur2d.io.atomic import atomic_dir
from reconstruction.geometry.camera_model import camera_info, max_distortion_px, to_pinhole
from reconstruction.io.image_folders import list_images

__all__ = ["DISTORTED", "make_pinhole", "recover_distorted", "undistort_frames"]

#: Sub-folder of a scene holding the original frames after an undistortion.
DISTORTED = "distorted"


def recover_distorted(scene: str | Path) -> list[str]:
    """Put the original frames kept in ``scene/distorted/`` back in place (before SfM runs again). Returns the
    sub-folders moved back."""
    scene = Path(scene)
    moved = []
    base = scene / DISTORTED
    for sub in ("images", "restored"):
        orig = base / sub
        if orig.is_dir():
            if (scene / sub).exists():
                shutil.rmtree(scene / sub)
            os.replace(orig, scene / sub)
            moved.append(sub)
    if base.exists():
        shutil.rmtree(base)
    return moved


def undistort_frames(scene: Path, model_dir: Path, subs: list[str], threads: int) -> tuple[object, list[str]]:
    """Undistort ``scene/<sub>`` for each sub with the model in ``model_dir`` (pycolmap.undistort_images); the
    originals move to ``scene/distorted/<sub>``. Returns (undistorted model, frames left out: unregistered)."""
    import pycolmap

    work = scene / "colmap" / "undistorted"
    if work.exists():
        shutil.rmtree(work)
    for sub in subs:
        (work / sub).mkdir(parents=True)
        pycolmap.undistort_images(str(work / sub), str(model_dir), str(scene / sub), num_threads=threads)
    rec = pycolmap.Reconstruction(str(work / subs[0] / "sparse"))
    kept = {img.name for img in rec.images.values()}
    left_out = [n for n in list_images(scene / subs[0]) if n not in kept]
    for sub in subs:
        dist = scene / DISTORTED / sub
        dist.parent.mkdir(parents=True, exist_ok=True)
        if dist.exists():
            shutil.rmtree(dist)
        os.replace(scene / sub, dist)
        os.replace(work / sub / "images", scene / sub)
    return rec, left_out


def make_pinhole(rec, scene: Path, sub: str, ok: bool, threshold: float, threads: int) -> dict:
    """Leave ``rec`` (full-size model of ``scene/images``) with pinhole cameras: no distortion -> nothing to do;
    distortion below ``threshold`` px (:func:`max_distortion_px`) -> rewritten in place; else, when SfM
    succeeded (``ok``), ``scene/images`` (and ``scene/restored`` when ``sub`` is ``restored``) undistorted.
    Returns the report's ``undistortion`` entry; after an undistortion it holds the new model under ``_model``
    (the caller pops it)."""
    cam = next(iter(rec.cameras.values()))
    model = cam.model.name
    if len(cam.extra_params_idxs()) == 0:
        return {"action": "none", "from": model, "max_distortion_px": 0.0, "threshold_px": threshold}
    disp = max(max_distortion_px(c) for c in rec.cameras.values())
    info = {"from": model, "max_distortion_px": round(disp, 4), "threshold_px": threshold}
    if disp < threshold:
        to_pinhole(rec)
        return {"action": "pinhole_rewrite", **info, "note": "distortion below threshold dropped, no resampling"}
    if not ok:
        return {"action": "kept_distorted", **info, "note": "SfM failed: frames left as they are"}
    t_model = scene / "colmap" / "model_full"
    with atomic_dir(t_model) as tmp:
        rec.write_binary(str(tmp))
    subs = ["images"] + (["restored"] if sub == "restored" else [])
    new, left_out = undistort_frames(scene, t_model, subs, threads)
    size = camera_info(new)
    return {
        "action": "undistorted",
        **info,
        "note": f"frames resampled to PINHOLE {size['width']}x{size['height']}; originals in "
        f"{scene / DISTORTED / 'images'}",
        "left_out": left_out,
        "_model": new,
    }
