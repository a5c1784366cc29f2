"""Sparse points for a scene whose poses are known but which has no points (LLFF ``poses_bounds.npy``,
nerfstudio ``transforms.json``): SIFT features and matches (pycolmap), then COLMAP's point triangulator with the
poses and intrinsics held fixed (``pycolmap.triangulate_points``). Without it DeblurGS would start from a random
cloud, which on a real Deblur-NeRF scene gave a smear (19.4 dB against 24.6 dB from SfM points: the issue that
asked for this, FINDINGS.md).

:func:`triangulate_known_poses` works in ``work_dir`` (database, model) and caches its result there as
``points.npz`` keyed by a signature of the inputs, so a rerun (the baseline after DeblurGS, a resumed run) reads
it back in milliseconds. Units: world units of the given poses; colours uint8 sRGB.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from deblur2d.io.errors import UserError

from .colmap import AUTO_EXHAUSTIVE_MAX, colmap_quiet

__all__ = ["triangulate_known_poses"]

#: SIFT runs on images of at most this long side (COLMAP rescales keypoints back to full size).
MAX_IMAGE_SIZE = 1024


def _signature(image_dir: Path, files: list[str], c2ws: np.ndarray, K: np.ndarray, size: tuple[int, int]) -> str:
    rec = {
        "dir": str(Path(image_dir).resolve()),
        "files": [[f, (Path(image_dir) / f).stat().st_size] for f in files],
        "c2ws": np.round(np.asarray(c2ws, np.float64), 9).tolist(),
        "K": np.round(np.asarray(K, np.float64), 9).tolist(),
        "size": list(size),
        "version": 1,
    }
    return hashlib.sha256(json.dumps(rec, sort_keys=True).encode()).hexdigest()[:16]


def triangulate_known_poses(
    image_dir: str | Path,
    files: list[str],
    c2ws: np.ndarray,
    K: np.ndarray,
    width: int,
    height: int,
    work_dir: str | Path,
    *,
    seed: int = 0,
    num_threads: int = -1,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Points ``[P, 3]`` (world units), colours ``[P, 3]`` uint8 and a report dict for the frames ``files`` of
    ``image_dir`` (all ``width`` x ``height``, pinhole ``K`` in pixels) at the camera-to-world poses ``c2ws``
    ``[V, 4, 4]`` (OpenCV axes), kept fixed. Matching: exhaustive up to 50 frames, sequential (10 neighbours)
    beyond. UserError when fewer than 2 frames are given."""
    import pycolmap

    image_dir, work_dir = Path(image_dir), Path(work_dir)
    if len(files) < 2:
        raise UserError(f"{image_dir}: triangulating points needs at least 2 posed frames, got {len(files)}")
    sig = _signature(image_dir, files, c2ws, K, (width, height))
    cache = work_dir / "points.npz"
    if cache.is_file():
        try:
            z = np.load(cache, allow_pickle=False)
            if str(z["signature"]) == sig:
                return z["points"], z["colors"], json.loads(str(z["report"]))
        except (OSError, ValueError, KeyError):
            pass
    t0 = time.perf_counter()
    own = {"points.npz", "database.db", "model"}
    if work_dir.is_dir() and any(p.name not in own for p in work_dir.iterdir()):
        raise UserError(f"{work_dir}: not a points folder of sharpsplat (it holds other files); "
                        "give --points-dir an empty or new folder")
    (work_dir / "database.db").unlink(missing_ok=True)
    shutil.rmtree(work_dir / "model", ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    db = work_dir / "database.db"
    pycolmap.set_random_seed(seed)
    with colmap_quiet(not verbose):
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "PINHOLE"
        reader.camera_params = ",".join(repr(float(v)) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.num_threads = num_threads
        extraction.use_gpu = False
        extraction.max_image_size = MAX_IMAGE_SIZE
        pycolmap.extract_features(db, image_dir, image_names=list(files), camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=extraction,
                                  device=pycolmap.Device.cpu)  # fmt: skip
        matching = pycolmap.FeatureMatchingOptions()
        matching.num_threads = num_threads
        matching.use_gpu = False
        if len(files) <= AUTO_EXHAUSTIVE_MAX:
            pycolmap.match_exhaustive(db, matching_options=matching, device=pycolmap.Device.cpu)
            matcher = "exhaustive"
        else:
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = 10
            pycolmap.match_sequential(db, matching_options=matching, pairing_options=pairing,
                                      device=pycolmap.Device.cpu)  # fmt: skip
            matcher = "sequential"
        t_match = time.perf_counter() - t0
        database = pycolmap.Database.open(str(db))
        try:
            by_name = {im.name: im for im in database.read_all_images()}
            cam_db = database.read_all_cameras()[0]
        finally:
            database.close()
        rec = pycolmap.Reconstruction()
        cam = pycolmap.Camera(model="PINHOLE", width=int(width), height=int(height),
                              params=[K[0, 0], K[1, 1], K[0, 2], K[1, 2]], camera_id=cam_db.camera_id)  # fmt: skip
        rec.add_camera_with_trivial_rig(cam)
        for f, c2w in zip(files, np.asarray(c2ws, np.float64), strict=True):
            w2c = np.linalg.inv(c2w)
            im = pycolmap.Image(name=f, camera_id=cam_db.camera_id, image_id=by_name[f].image_id)
            rec.add_image_with_trivial_frame(im, pycolmap.Rigid3d(w2c[:3, :4]))
        opts = pycolmap.IncrementalPipelineOptions()
        opts.num_threads = num_threads
        opts.random_seed = seed
        out = work_dir / "model"
        out.mkdir()
        rec = pycolmap.triangulate_points(rec, db, image_dir, out, options=opts, refine_intrinsics=False)
    ids = list(rec.points3D.keys())
    pts = np.array([rec.points3D[i].xyz for i in ids], np.float64).reshape(-1, 3)
    cols = np.array([rec.points3D[i].color for i in ids], np.uint8).reshape(-1, 3)
    report = {
        "points": int(len(pts)),
        "frames": len(files),
        "matcher": matcher,
        "mean_track_length": float(rec.compute_mean_track_length()) if len(pts) else 0.0,
        "mean_reprojection_error_px": float(rec.compute_mean_reprojection_error()) if len(pts) else None,
        "seconds": round(time.perf_counter() - t0, 2),
        "seconds_features_matching": round(t_match, 2),
    }
    tmp = work_dir / "points.partial.npz"
    np.savez(tmp, points=pts, colors=cols, report=json.dumps(report), signature=sig)
    tmp.replace(cache)
    db.unlink(missing_ok=True)
    return pts, cols, report
