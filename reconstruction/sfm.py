"""Structure from motion with pycolmap (4.2): SIFT features, matching, incremental mapping.

``run_sfm(image_dir, work_dir, options)`` runs the pinned configuration below on a folder of frames and
keeps the largest model. Defaults follow FINDINGS.md: one shared SIMPLE_RADIAL camera (two free focals
drift), exhaustive matching (markedly more robust than sequential once blur is strong), COLMAP's default
SIFT (4 octaves from a 2x upsample; pin it in every comparison). Runs on the CPU unless ``use_gpu``.

Files: ``work_dir/database.db``, every model under ``work_dir/models/<i>/``, and the largest one copied to
``work_dir/sparse/0`` (written to a temporary folder, then renamed).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deblur2d.atomic import atomic_dir
from deblur2d.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass
class SfMOptions:
    """Pinned SfM configuration."""

    matcher: str = "exhaustive"
    """'exhaustive' (all pairs) or 'sequential' (neighbours in file-name order)."""
    sequential_overlap: int = 10
    """Sequential matching: number of following frames matched to each frame."""
    camera_model: str = "SIMPLE_RADIAL"
    single_camera: bool = True
    """One camera shared by all frames (a video)."""
    max_num_features: int = 8192
    num_octaves: int = 4
    first_octave: int = -1
    min_model_size: int = 2
    """Smallest model kept (COLMAP's default of 10 hides how far a failed run got)."""
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


def list_images(image_dir: Path) -> list[str]:
    """Image file names in ``image_dir`` (sorted), ignoring hidden and partial files."""
    return sorted(
        p.name
        for p in Path(image_dir).iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


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
    if opt.matcher not in ("exhaustive", "sequential"):
        raise UserError(f"--matcher: unknown {opt.matcher!r}; choose exhaustive or sequential")
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
    if opt.matcher == "exhaustive":
        pycolmap.match_exhaustive(db, matching_options=matching, device=device)
    else:
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = opt.sequential_overlap
        pycolmap.match_sequential(db, matching_options=matching, pairing_options=pairing, device=device)
    seconds["match"] = time.perf_counter() - t

    t = time.perf_counter()
    mapping = pycolmap.IncrementalPipelineOptions()
    mapping.min_model_size = opt.min_model_size
    mapping.num_threads = opt.num_threads
    mapping.random_seed = opt.seed
    models = pycolmap.incremental_mapping(db, image_dir, models_dir, options=mapping)
    seconds["map"] = time.perf_counter() - t

    if not models:
        return SfMResult(len(names), [], 0, None, None, 0, seconds, None)
    best = max(models.values(), key=lambda r: (r.num_reg_images(), r.num_points3D()))
    registered = sorted(best.images[i].name for i in best.reg_image_ids())
    focal = None
    if best.num_cameras() > 0:
        cam = next(iter(best.cameras.values()))
        focal = float(cam.mean_focal_length())
    out = work_dir / "sparse" / "0"
    with atomic_dir(out) as tmp:
        best.write_binary(str(tmp))
    return SfMResult(len(names), registered, best.num_points3D(), focal, out, len(models), seconds, best)
