"""The COLMAP stage of the SfM front end (pycolmap 4.x): SIFT features, matching, incremental mapping.

- :func:`run_sfm` ``(image_dir, work_dir, options)``: the pinned configuration below on a folder of frames;
  keeps the largest model. Defaults follow FINDINGS.md: one shared SIMPLE_RADIAL camera (two free focals
  drift), matcher ``auto`` = exhaustive up to 50 frames (markedly more robust than sequential once blur is
  strong), sequential with overlap beyond; COLMAP's default SIFT (4 octaves from a 2x upsample; pin it in every
  comparison). Runs on the CPU unless ``use_gpu``. Files: ``work_dir/database.db``, every model under
  ``work_dir/models/<i>/``, the largest one copied to ``work_dir/sparse/0``.
- :func:`find_model`: what a scene's SfM runs: optional box downscaling of the frames (blur halves in pixels),
  :func:`run_sfm`, and one retry with :func:`loosened` settings (frames of 480 px or more also halved) when too
  few frames register; keeps the better of the two runs.

Units: pixels of the frames SfM ran on (:func:`reconstruction.geometry.camera_model.rescale_reconstruction`
scales a model back to full size). The model's poses are COLMAP's ``cam_from_world`` (world-to-camera).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from deblur2d.io.atomic import atomic_dir
from deblur2d.io.errors import UserError
from reconstruction.io.image_folders import IMAGE_EXTENSIONS, downscale_folder, list_images

__all__ = [
    "AUTO_EXHAUSTIVE_MAX",
    "CAMERA_MODELS",
    "RETRY_DOWNSCALE_MIN_SIDE",
    "ColmapRuns",
    "SfMOptions",
    "SfMResult",
    "check_camera_model",
    "colmap_quiet",
    "find_model",
    "loosened",
    "resolve_matcher",
    "run_sfm",
]

#: matcher "auto": exhaustive matching up to this many frames, sequential beyond.
AUTO_EXHAUSTIVE_MAX = 50
CAMERA_MODELS = ("SIMPLE_RADIAL", "PINHOLE", "SIMPLE_PINHOLE", "RADIAL", "OPENCV")
#: The retry halves frames whose long side is at least this (SfM then still sees >= 240 px).
RETRY_DOWNSCALE_MIN_SIDE = 480


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class SfMOptions:
    """Pinned SfM configuration."""

    matcher: str = "auto"
    """'exhaustive' (all pairs), 'sequential' (neighbours in file-name order) or 'auto' (exhaustive up to
    ``auto_exhaustive_max`` frames, else sequential)."""
    sequential_overlap: int = 10
    """Sequential matching: number of following frames matched to each frame."""
    auto_exhaustive_max: int = AUTO_EXHAUSTIVE_MAX
    camera_model: str = "SIMPLE_RADIAL"
    single_camera: bool = True
    """One camera shared by all frames (a video)."""
    max_num_features: int = 8192
    num_octaves: int = 4
    first_octave: int = -1
    min_model_size: int = 2
    """Smallest model kept (COLMAP's default of 10 hides how far a failed run got)."""
    min_num_matches: int = 15
    """Mapper: fewest verified matches for a pair to count (COLMAP default)."""
    init_min_num_inliers: int = 100
    """Mapper: fewest inliers of the initial pair (COLMAP default)."""
    abs_pose_min_num_inliers: int = 30
    """Mapper: fewest 2D-3D inliers to register a frame (COLMAP default)."""
    abs_pose_min_inlier_ratio: float = 0.25
    """Mapper: smallest inlier ratio to register a frame (COLMAP default)."""
    num_threads: int = -1
    """-1: all cores."""
    seed: int = 0
    """Seeds COLMAP's random generator (RANSAC, mapper)."""
    use_gpu: bool = False


@dataclass
class SfMResult:
    """Outcome of :func:`run_sfm`. ``reconstruction``: the largest model (``None`` if nothing registered)."""

    num_images: int
    registered: list[str]
    num_points3D: int
    focal_px: float | None
    model_dir: Path | None
    num_models: int
    seconds: dict[str, float] = field(default_factory=dict)
    reconstruction: object | None = None
    matcher: str = ""
    """The matcher that ran (``auto`` resolved)."""
    matcher_reason: str = ""
    camera_model: str = ""
    mean_reprojection_error_px: float | None = None

    @property
    def num_registered(self) -> int:
        return len(self.registered)

    def summary(self) -> dict:
        """JSON-friendly summary (no reconstruction object)."""
        d = asdict(self)
        d.pop("reconstruction")
        d["model_dir"] = str(self.model_dir) if self.model_dir else None
        d["num_registered"] = self.num_registered
        return d


def resolve_matcher(matcher: str, num_images: int, auto_max: int = AUTO_EXHAUSTIVE_MAX) -> tuple[str, str]:
    """(matcher to run, why). ``auto``: exhaustive up to ``auto_max`` frames, else sequential."""
    if matcher not in ("auto", "exhaustive", "sequential"):
        raise UserError(f"--matcher: unknown {matcher!r}; choose auto, exhaustive or sequential")
    if matcher != "auto":
        return matcher, "chosen"
    if num_images <= auto_max:
        return "exhaustive", f"auto: {num_images} frames <= {auto_max}"
    return "sequential", f"auto: {num_images} frames > {auto_max}"


def loosened(opt: SfMOptions) -> tuple[SfMOptions, dict[str, list]]:
    """The retry configuration: 6 SIFT octaves (FINDINGS.md: rescues strong blur), exhaustive matching and
    lower mapper inlier thresholds. Returns (options, {field: [before, after]}) for what changed."""
    new = replace(
        opt,
        num_octaves=max(opt.num_octaves, 6),
        matcher="exhaustive",
        min_num_matches=min(opt.min_num_matches, 10),
        init_min_num_inliers=min(opt.init_min_num_inliers, 50),
        abs_pose_min_num_inliers=min(opt.abs_pose_min_num_inliers, 15),
        abs_pose_min_inlier_ratio=min(opt.abs_pose_min_inlier_ratio, 0.15),
    )
    a, b = asdict(opt), asdict(new)
    return new, {k: [a[k], b[k]] for k in a if a[k] != b[k]}


def check_camera_model(name: str) -> None:
    """UserError unless ``name`` is a COLMAP camera model."""
    import pycolmap

    if name not in pycolmap.CameraModelId.__members__ or name == "INVALID":
        raise UserError(f"--camera-model {name!r}: choose one of {', '.join(CAMERA_MODELS)}")


def run_sfm(image_dir: str | Path, work_dir: str | Path, options: SfMOptions | None = None) -> SfMResult:
    """Run SIFT extraction, matching and incremental mapping on ``image_dir``; keep the largest model.

    ``work_dir`` is created; an existing ``database.db`` there is replaced (features are recomputed).
    Raises :class:`UserError` when the folder holds no images or an option is invalid.
    """
    import pycolmap

    opt = options or SfMOptions()
    image_dir, work_dir = Path(image_dir), Path(work_dir)
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: not a folder of images")
    names = list_images(image_dir)
    if not names:
        raise UserError(f"{image_dir}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    matcher, reason = resolve_matcher(opt.matcher, len(names), opt.auto_exhaustive_max)
    check_camera_model(opt.camera_model)
    work_dir.mkdir(parents=True, exist_ok=True)
    db = work_dir / "database.db"
    if db.exists():
        db.unlink()
    models_dir = work_dir / "models"
    if models_dir.exists():
        shutil.rmtree(models_dir)
    models_dir.mkdir()
    pycolmap.set_random_seed(opt.seed)
    device = pycolmap.Device.cuda if opt.use_gpu else pycolmap.Device.cpu
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = opt.camera_model
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = opt.num_threads
    extraction.use_gpu = opt.use_gpu
    extraction.sift.max_num_features = opt.max_num_features
    extraction.sift.num_octaves = opt.num_octaves
    extraction.sift.first_octave = opt.first_octave
    pycolmap.extract_features(
        db,
        image_dir,
        image_names=names,
        camera_mode=pycolmap.CameraMode.SINGLE if opt.single_camera else pycolmap.CameraMode.AUTO,
        reader_options=reader,
        extraction_options=extraction,
        device=device,
    )
    seconds["extract"] = time.perf_counter() - t

    t = time.perf_counter()
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = opt.num_threads
    matching.use_gpu = opt.use_gpu
    if matcher == "exhaustive":
        pycolmap.match_exhaustive(db, matching_options=matching, device=device)
    else:
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = opt.sequential_overlap
        pycolmap.match_sequential(db, matching_options=matching, pairing_options=pairing, device=device)
    seconds["match"] = time.perf_counter() - t

    t = time.perf_counter()
    mapping = pycolmap.IncrementalPipelineOptions()
    mapping.min_model_size = opt.min_model_size
    mapping.min_num_matches = opt.min_num_matches
    mapping.num_threads = opt.num_threads
    mapping.random_seed = opt.seed
    mapping.mapper.init_min_num_inliers = opt.init_min_num_inliers
    mapping.mapper.abs_pose_min_num_inliers = opt.abs_pose_min_num_inliers
    mapping.mapper.abs_pose_min_inlier_ratio = opt.abs_pose_min_inlier_ratio
    models = pycolmap.incremental_mapping(db, image_dir, models_dir, options=mapping)
    seconds["map"] = time.perf_counter() - t

    extra = {"matcher": matcher, "matcher_reason": reason, "camera_model": opt.camera_model}
    if not models:
        return SfMResult(len(names), [], 0, None, None, 0, seconds, None, **extra)
    best = max(models.values(), key=lambda r: (r.num_reg_images(), r.num_points3D()))
    registered = sorted(best.images[i].name for i in best.reg_image_ids())
    focal = None
    if best.num_cameras() > 0:
        cam = next(iter(best.cameras.values()))
        focal = float(cam.mean_focal_length())
    out = work_dir / "sparse" / "0"
    with atomic_dir(out) as tmp:
        best.write_binary(str(tmp))
    mre = float(best.compute_mean_reprojection_error()) if best.num_points3D() else None
    return SfMResult(
        len(names),
        registered,
        best.num_points3D(),
        focal,
        out,
        len(models),
        seconds,
        best,
        mean_reprojection_error_px=mre,
        **extra,
    )


@contextlib.contextmanager
def colmap_quiet(quiet: bool):
    """COLMAP's own progress lines off (errors still shown) while SfM runs; restored afterwards."""
    import pycolmap

    old = pycolmap.logging.minloglevel
    if quiet:
        pycolmap.logging.minloglevel = 2
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = old


@dataclass
class ColmapRuns:
    """What :func:`find_model` ran and kept."""

    best: SfMResult
    """The run kept: the retry when it registered at least as many frames (then points), else the first."""
    first: SfMResult
    downscale: int
    """Factor of the frames ``best`` ran on."""
    retry: dict
    """The report's ``retry`` entry: ``{"done": False}`` or why, what changed and what each run registered."""
    seconds: dict[str, float]
    """``downscale``, ``sfm_<step>`` and ``retry_<step>`` times."""


def find_model(
    src: Path,
    colmap: Path,
    opt: SfMOptions,
    *,
    num_images: int,
    size: tuple[int, int],
    downscale: int,
    min_registered_frac: float,
    retry: bool,
    verbose: bool = True,
) -> ColmapRuns:
    """SfM on the ``num_images`` frames of ``src`` (``size``: width, height of the first, px; box-downscaled by
    ``downscale`` into ``colmap/input_x<f>`` first when above 1), in ``colmap/sfm``; when fewer than
    ``min_registered_frac`` of them register and ``retry``, once more with :func:`loosened` settings in
    ``colmap/sfm_retry`` (frames whose long side is at least :data:`RETRY_DOWNSCALE_MIN_SIDE` also halved)."""
    n, (width, height) = num_images, size
    seconds: dict[str, float] = {}
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
    return ColmapRuns(best, first, best_ds, retry_info, seconds)


def _changes_text(changes: dict) -> str:
    return ", ".join(f"{k} {a}->{b}" for k, (a, b) in changes.items())
