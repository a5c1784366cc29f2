"""Scene readers: what kind of input a path is, and the cameras of COLMAP, LLFF / Deblur-NeRF and synthetic scenes.

:func:`detect_input` names the kind of an input path (``video``, ``images``, ``colmap``, ``llff``, ``synthetic``).
:func:`read_colmap`, :func:`read_llff`, :func:`read_synthetic` (and :func:`read_scene`, which picks one) return
one :class:`SceneCameras`: file names in capture (sorted) order, camera-to-world poses ``[V, 4, 4]`` float64 in
OpenCV axes (x right, y down, z forward; DESIGN.md) and one pinhole ``K`` in pixels for the images as they are on
disk (pixel corners at integers, pixel centres at +0.5: COLMAP's and gsplat's convention).
:func:`write_colmap_model` writes cameras as a COLMAP model so that other tools can read an LLFF scene.

COLMAP (``sparse/0/`` or ``sparse/``, binary ``*.bin`` or text ``*.txt``, read by pycolmap): ``cam_from_world``
is world-to-camera and is inverted. One camera is expected (several with equal intrinsics are fine); models
with distortion are accepted only when the distortion moves no pixel by ``MAX_DISTORTION_PX`` or more (measured
by :func:`reconstruction.geometry.camera_model.max_distortion_px`, the same check as the SfM front end's; then
treated as pinhole, with a note), otherwise the user is told to undistort. Images in the model but not on disk
are an error; images on disk but not registered are left out (noted): DeblurGS needs a pose for every frame.
When ``images/`` holds a resized copy of the images the model was made from (LLFF-style ``images_4/``), ``K``
is scaled like COLMAP's ``Camera::Rescale`` (focal and principal point times new/old size, per axis).

LLFF / Deblur-NeRF (``poses_bounds.npy`` + ``images/``). Sources read (Fyusion/LLFF ``llff/poses/pose_utils.py``;
limacv/Deblur-NeRF ``load_llff.py``, ``configs/*/*.txt``; WU-CVGL/BAD-NeRF ``load_llff.py``, ``train.py``,
``README.md``; WU-CVGL/BAD-Gaussians ``bad_gaussians/deblur_nerf_dataparser.py``):

- ``poses_bounds.npy`` is ``[N, 17]``; row ``i`` belongs to the ``i``-th image of ``images/`` in sorted name
  order (``save_poses`` writes rows in ``argsort(names)`` order; the loaders pair them with ``sorted(listdir)``).
  ``row[:15].reshape(3, 5)`` is a camera-to-world ``[R | t]`` followed by the column ``[H, W, focal]`` (pixels,
  of the full-resolution images the poses were made from); ``row[15:17]`` are the near/far depth bounds.
- ``pose_utils.load_colmap_data`` turns COLMAP's ``[right, down, forward]`` rotation columns into
  ``[down, right, backward]`` ("must switch to [-u, r, -t] from [r, -u, t]"); the NeRF loaders then take
  ``[col1, -col0, col2]`` = ``[right, up, backward]`` (OpenGL). Here: OpenCV ``[right, down, forward]`` =
  ``[col1, col0, -col2]``. The principal point is the image centre (LLFF assumes it); ``focal`` is scaled by
  ``w / W`` and ``h / H`` of the images actually read.
- Test views, two conventions. Deblur-NeRF keeps blurry training and sharp novel views in one folder and holds
  out every ``llffhold``-th image (indices ``0, n, 2n, ...``; ``llffhold = 7`` or ``8`` per scene in its configs);
  BAD-Gaussians reads ``n`` from an empty marker file ``hold=n`` in the scene folder. Here: ``holdout=n`` or a
  ``hold=n`` file puts those images in :attr:`SceneCameras.test` (with their own poses), out of training.
  BAD-NeRF / BAD-Gaussians add ``images_test/``: one sharp image per blurry training image, same sorted order
  (BAD-Gaussians asserts equal counts); here :attr:`SceneCameras.sharp`, posed like the training views.
- No sparse points: ``points`` is ``None`` and ``near`` / ``far`` (min / max of the bounds) are exposed for a
  random initialisation.

The same ``hold=n`` / ``images_test/`` rules apply to COLMAP scenes (BAD-Gaussians' Deblur-NeRF data ships
COLMAP models). Synthetic scenes (``gt/cameras.json``, ``sharpsplat make-scene``) map ``gt/sharp/`` to ``sharp``
and ``gt/test/`` to ``test``.

Image folders. Downloads carry several copies of the frames: ``images/`` (full size, often JPEG) and
``images_N/`` (downscaled by N; Deblur-NeRF's ``images_4/`` holds the 600x400 PNGs its benchmark uses and its
``sparse/0`` names). ``images=None`` (the default, ``--images`` unset) picks the folder by
:func:`pick_image_dir`: for a COLMAP model, the folder that holds every registered name (several: the one at
the model camera's size, else ``images/``); for ``poses_bounds.npy``, ``images/`` when it holds one image per
pose, else the first ``images_N/`` that does. The choice is in :attr:`SceneCameras.notes`.

nerfstudio / instant-ngp (``transforms.json``, :func:`read_transforms`): ``transform_matrix`` is camera-to-world
in OpenGL axes (x right, y up, z backward) and becomes OpenCV with ``c2w @ diag(1, -1, -1, 1)``; intrinsics
``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h`` (instant-ngp: ``camera_angle_x`` / ``camera_angle_y`` in
radians instead of focals; a missing ``cx``/``cy`` is the image centre), distortion ``k1, k2, k3, k4, p1,
p2`` (same rule as COLMAP: negligible = pinhole, else undistort first); any key may also sit in a frame
(per-frame intrinsics: they must agree). ``file_path`` is relative to the scene folder, an extension may be
missing (NeRF-synthetic style: ``.png`` is tried). ``--images images_2`` reads the same names from
``images_2/`` (nerfstudio's downscaled copies) and scales ``K``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from deblur2d.io.errors import UserError
from reconstruction.geometry.camera_model import MAX_DISTORTION_PX, max_distortion_px, scale_K

from .gt_cameras import load_gt
from .image_folders import image_size
from .image_folders import list_images as list_scene_images

__all__ = [
    "INPUT_KINDS",
    "MAX_DISTORTION_PX",
    "ViewSet",
    "SceneCameras",
    "detect_input",
    "find_colmap_model",
    "input_image_dir",
    "list_scene_images",
    "pick_image_dir",
    "read_transforms",
    "scene_image_dirs",
    "read_colmap",
    "read_llff",
    "read_synthetic",
    "read_scene",
    "write_colmap_model",
]

INPUT_KINDS = ("video", "images", "colmap", "llff", "nerfstudio", "synthetic")
_ACCEPTED = (
    "a video file (.mp4, .mov, ...), a folder of images, a COLMAP scene (images/ + sparse/0 or sparse/), "
    "an LLFF / Deblur-NeRF scene (images/ or images_N/ + poses_bounds.npy), a nerfstudio / instant-ngp scene "
    "(transforms.json) or a synthetic scene (images/ + gt/cameras.json)"
)
_IMAGE_DIR_RE = re.compile(r"images(?:_(\d+))?")
_MODEL_FILES = ("cameras", "images", "points3D")
_PINHOLE_MODELS = ("SIMPLE_PINHOLE", "PINHOLE")


@dataclass
class ViewSet:
    """Extra posed views of a scene for evaluation. ``kind``: ``"sharp"`` = the sharp image of each training
    view (same order and poses as :attr:`SceneCameras.files`); ``"held-out"`` = novel views not trained on."""

    dir: Path
    files: list[str]
    c2ws: np.ndarray  # [T, 4, 4] float64, OpenCV axes
    kind: str


@dataclass
class SceneCameras:
    """Cameras of a scene; ``K``, ``width``, ``height`` describe the images in ``image_dir`` as on disk."""

    files: list[str]  # names in image_dir, capture (sorted) order, training views only
    image_dir: Path
    c2ws: np.ndarray  # [V, 4, 4] float64 camera-to-world, OpenCV axes
    K: np.ndarray  # [3, 3] pixels
    width: int
    height: int
    source: str  # "colmap-binary", "colmap-text", "llff", "transforms", "synthetic-gt"
    points: np.ndarray | None = None  # [P, 3] world units
    colors: np.ndarray | None = None  # [P, 3] uint8 sRGB
    near: float | None = None  # LLFF depth bounds (world units), min over views
    far: float | None = None  # max over views
    sharp: ViewSet | None = None
    test: ViewSet | None = None
    model_dir: Path | None = None  # COLMAP model read, if any
    notes: list[str] = field(default_factory=list)

    @property
    def test_files(self) -> list[str]:
        return self.test.files if self.test is not None else []

    @property
    def test_dir(self) -> Path | None:
        return self.test.dir if self.test is not None else None

    @property
    def test_c2ws(self) -> np.ndarray | None:
        return self.test.c2ws if self.test is not None else None


# ---------------------------------------------------------------------------------------------- detection
def find_colmap_model(scene: Path) -> Path | None:
    """The COLMAP model folder of ``scene``: ``sparse/0`` if it holds one, else ``sparse``; None if neither.

    A folder with only some of ``cameras``/``images``/``points3D`` (``.bin`` or ``.txt``) is a UserError."""
    for d in (Path(scene) / "sparse" / "0", Path(scene) / "sparse"):
        for ext in (".bin", ".txt"):
            have = [(d / f"{n}{ext}").is_file() for n in _MODEL_FILES]
            if all(have):
                return d
            if have[0] and have[1]:
                raise UserError(
                    f"{d}: COLMAP model without points3D{ext}; write the whole model (an empty one will do)"
                )
    return None


def scene_image_dirs(scene: str | Path) -> list[str]:
    """Names of the image folders of ``scene`` that hold images: ``images`` first, then ``images_N`` by N."""
    scene = Path(scene)
    if not scene.is_dir():
        return []
    found = []
    for d in scene.iterdir():
        m = _IMAGE_DIR_RE.fullmatch(d.name)
        if m and d.is_dir() and list_scene_images(d):
            found.append((int(m.group(1) or 0), d.name))
    return [name for _, name in sorted(found)]


def pick_image_dir(scene: str | Path, images: str | None, *, names: list[str] | None = None,
                   count: int | None = None, size: tuple[int, int] | None = None,
                   notes: list[str] | None = None) -> str:  # fmt: skip
    """The image folder (name under ``scene``) a reader uses: ``images`` when given (``--images``; must exist),
    else among :func:`scene_image_dirs` the one that holds all ``names`` (several: the one whose first image is
    ``size`` = (w, h), else ``images``) or, with ``count``, ``images`` if it holds ``count`` images, else the
    first ``images_N`` that does. Falls back to ``images`` (the reader then says what is missing)."""
    scene = Path(scene)
    if images:
        if not list_scene_images(scene / images):
            have = ", ".join(d + "/" for d in scene_image_dirs(scene)) or "none"
            raise UserError(f"--images {images}: {scene / images} holds no images (image folders here: {have})")
        return images
    dirs = scene_image_dirs(scene)
    chosen, why = None, ""
    if names is not None:
        hits = [d for d in dirs if all((scene / d / n).is_file() for n in names)]
        if size is not None and len(hits) > 1:
            same = [d for d in hits if image_size(scene / d / names[0]) == tuple(size)]
            hits = same or hits
        if hits:
            chosen = "images" if "images" in hits else hits[0]
            why = "holds the model's image names"
    elif count is not None:
        hits = [d for d in dirs if len(list_scene_images(scene / d)) == count]
        if hits:
            chosen = "images" if "images" in hits else hits[0]
            why = f"holds {count} images, one per pose"
    if chosen is None:
        return "images"
    if notes is not None and (chosen != "images" or len(dirs) > 1):
        others = [d + "/" for d in dirs if d != chosen]
        notes.append(
            f"images from {chosen}/ ({why})"
            + (f"; also here: {', '.join(others)} (choose with --images)" if others else "")
        )
    return chosen


def detect_input(path: str | Path) -> str:
    """Kind of input ``path`` is: ``video`` (a video file), ``synthetic`` (images/ + gt/cameras.json, with or
    without sparse/0), ``nerfstudio`` (transforms.json), ``colmap`` (images/ or images_N/ + a model in sparse/0 or
    sparse/), ``llff`` (images/ or images_N/ + poses_bounds.npy), ``images`` (a folder of images, or a folder whose
    images/ has no poses yet; see :func:`input_image_dir`). UserError for anything else, naming the path and the
    accepted inputs."""
    from deblur2d.io.video import is_video_file

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found; give {_ACCEPTED}")
    if path.is_file():
        if is_video_file(path):
            return "video"
        raise UserError(f"{path}: unknown input file type {path.suffix or '(none)'!r}; give {_ACCEPTED}")
    if not path.is_dir():
        raise UserError(f"{path}: not a file or folder; give {_ACCEPTED}")
    img_dir = path / "images"
    if (path / "transforms.json").is_file():
        return "nerfstudio"
    if img_dir.is_dir() or scene_image_dirs(path):
        if (path / "gt" / "cameras.json").is_file():
            return "synthetic"
        if find_colmap_model(path) is not None and scene_image_dirs(path):
            return "colmap"
        if (path / "poses_bounds.npy").is_file() and scene_image_dirs(path):
            return "llff"
        if not list_scene_images(img_dir):
            raise UserError(f"{img_dir}: no images (.png, .jpg, ...); give {_ACCEPTED}")
        return "images"
    if list_scene_images(path):
        return "images"
    what = "empty folder" if not any(path.iterdir()) else "no images, images/ folder or video found"
    raise UserError(f"{path}: {what}; give {_ACCEPTED}")


def input_image_dir(path: str | Path) -> Path:
    """Where the frames of an ``images``-kind input are: ``path/images`` if it exists, else ``path``."""
    path = Path(path)
    return path / "images" if (path / "images").is_dir() else path


# ---------------------------------------------------------------------------------------------- helpers
def _common_size(folder: Path, files: list[str]) -> tuple[int, int]:
    sizes = {f: image_size(folder / f) for f in files}
    first = sizes[files[0]]
    odd = [f for f, s in sizes.items() if s != first]
    if odd:
        raise UserError(
            f"{folder / odd[0]}: {sizes[odd[0]][0]}x{sizes[odd[0]][1]}, but {files[0]} is {first[0]}x{first[1]}; "
            "all frames of a scene must have one size"
        )
    return first


def _resize_factors(src: str, model_wh: tuple[int, int], disk_wh: tuple[int, int], image: Path) -> tuple[float, float]:
    (mw, mh), (w, h) = model_wh, disk_wh
    sx, sy = w / mw, h / mh
    if abs(sx - sy) > 0.01 * max(sx, sy):
        raise UserError(
            f"{image}: {w}x{h}, but {src} describes {mw}x{mh} images and this is not a resized copy (aspect "
            "differs); give the images the cameras were made for"
        )
    return sx, sy


def _holdout_from_marker(scene: Path) -> int:
    marks = sorted(p.name for p in Path(scene).glob("hold=*"))
    if not marks:
        return 0
    m = re.fullmatch(r"hold=(\d+)", marks[0])
    if m is None:
        raise UserError(f"{scene / marks[0]}: hold-out marker must be named hold=N (N an integer >= 0)")
    return int(m.group(1))


def _split_views(scene: Path, image_dir: Path, files: list[str], c2ws: np.ndarray, holdout: int | None,
                 notes: list[str]) -> tuple[list[str], np.ndarray, ViewSet | None, ViewSet | None]:  # fmt: skip
    """Hold out every ``holdout``-th view (``hold=N`` marker when None) and pair ``images_test/`` with training."""
    n = _holdout_from_marker(scene) if holdout is None else int(holdout)
    if n < 0:
        raise UserError(f"holdout: must be >= 0, got {n}")
    test = None
    if n > 0:
        idx = np.arange(0, len(files), n)
        if len(idx) >= len(files):
            raise UserError(f"{scene}: holding out every {n}th of {len(files)} views leaves none to train on")
        test = ViewSet(image_dir, [files[i] for i in idx], c2ws[idx].copy(), "held-out")
        keep = np.setdiff1d(np.arange(len(files)), idx)
        files, c2ws = [files[i] for i in keep], c2ws[keep]
        notes.append(f"held out every {n}th view ({len(idx)} views: {test.files[0]}, ...) as sharp novel views")
    sharp = None
    sharp_dir = scene / "images_test"
    sharp_files = list_scene_images(sharp_dir)
    if sharp_files:
        if len(sharp_files) == len(files):
            sharp = ViewSet(sharp_dir, sharp_files, c2ws.copy(), "sharp")
            notes.append(f"images_test/: {len(sharp_files)} sharp images paired with the training views in order")
        else:
            notes.append(
                f"images_test/ ignored: {len(sharp_files)} images for {len(files)} training views (it must hold "
                "one sharp image per training view)"
            )
    return files, c2ws, test, sharp


# ---------------------------------------------------------------------------------------------- COLMAP
def _intrinsics(cameras: dict, model: Path, notes: list[str]) -> tuple[np.ndarray, int, int]:
    """One pinhole K (model resolution) for the cameras in use; UserError for several or distorted ones."""
    first_id = min(cameras)
    first = cameras[first_id]
    K0 = np.asarray(first.calibration_matrix(), dtype=np.float64)
    for cid, cam in sorted(cameras.items()):
        K = np.asarray(cam.calibration_matrix(), dtype=np.float64)
        same = (cam.width, cam.height) == (first.width, first.height) and np.allclose(K, K0, rtol=1e-9, atol=1e-9)
        if not same:
            raise UserError(
                f"{model}: cameras {first_id} and {cid} have different intrinsics ({first.model.name} "
                f"{first.width}x{first.height} {list(np.round(first.params, 4))} vs {cam.model.name} {cam.width}x"
                f"{cam.height} {list(np.round(cam.params, 4))}); DeblurGS here needs one camera: rerun SfM with a "
                "single shared camera (sharpsplat sfm does)"
            )
    for cid, cam in sorted(cameras.items()):
        name = cam.model.name
        if name in _PINHOLE_MODELS:
            continue
        px = max_distortion_px(cam)
        if px >= MAX_DISTORTION_PX:
            amount = f"up to {px:.2f} px" if math.isfinite(px) else "too far to invert"
            raise UserError(
                f"{model}: camera {cid} is {name} with distortion moving pixels by {amount}; undistort "
                "the images first (COLMAP image_undistorter, or run `sharpsplat sfm`, which does it)"
            )
        notes.append(f"camera {cid}: {name} distortion moves pixels by at most {px:.3g} px; treated as pinhole")
    if len(cameras) > 1:
        notes.append(f"{len(cameras)} cameras with identical intrinsics; used as one")
    return K0, int(first.width), int(first.height)


def read_colmap(
    scene: str | Path, images: str | None = None, model: str | Path | None = None, holdout: int | None = None
) -> SceneCameras:
    """Cameras of a COLMAP scene: ``scene/<images>/`` and the model in ``model`` (default: sparse/0 or sparse/).

    ``images``: the image folder; None picks the one holding the model's names (:func:`pick_image_dir`).
    ``holdout``: hold out every n-th registered view as a novel view (None: from a ``hold=n`` file; 0: none)."""
    import pycolmap

    scene = Path(scene)
    model_dir = Path(model) if model is not None else find_colmap_model(scene)
    if model_dir is None:
        raise UserError(f"{scene}: no COLMAP model in sparse/0 or sparse/; run `sharpsplat sfm` first")
    source = "colmap-binary" if (model_dir / "images.bin").is_file() else "colmap-text"
    try:
        rec = pycolmap.Reconstruction(str(model_dir))
    except (ValueError, RuntimeError) as e:
        raise UserError(f"{model_dir}: cannot read the COLMAP model ({str(e).splitlines()[0][:160]})") from None
    notes: list[str] = [f"COLMAP model {model_dir} ({source[7:]})"]
    posed = {img.name: img for img in rec.images.values() if img.has_pose}
    if not posed:
        raise UserError(f"{model_dir}: no registered images; rerun SfM")
    cam0 = rec.cameras[next(iter(posed.values())).camera_id]
    images = pick_image_dir(scene, images, names=sorted(posed), size=(cam0.width, cam0.height), notes=notes)
    image_dir = scene / images
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: not found; a COLMAP scene needs its frames in {images}/")
    missing = sorted(n for n in posed if not (image_dir / n).is_file())
    if missing:
        have = [d + "/" for d in scene_image_dirs(scene)]
        raise UserError(
            f"{image_dir / missing[0]}: in the COLMAP model but not on disk ({len(missing)} of {len(posed)} "
            f"missing; no image folder here holds them all: {', '.join(have) or 'none'}); put the model's images in "
            f"{image_dir} or pass --images FOLDER"
        )
    on_disk = list_scene_images(image_dir)
    unposed = [f for f in on_disk if f not in posed]
    if unposed:
        notes.append(f"{len(unposed)} image(s) in {images}/ have no pose in the model (e.g. {unposed[0]}); left out")
    files = sorted(posed)
    K, mw, mh = _intrinsics({posed[f].camera_id: rec.cameras[posed[f].camera_id] for f in files}, model_dir, notes)
    c2ws = np.empty((len(files), 4, 4))
    for i, f in enumerate(files):
        w2c = np.eye(4)
        w2c[:3, :4] = np.asarray(posed[f].cam_from_world().matrix(), dtype=np.float64)
        c2ws[i] = np.linalg.inv(w2c)
    w, h = _common_size(image_dir, files)
    if (w, h) != (mw, mh):
        sx, sy = _resize_factors(f"the model {model_dir}", (mw, mh), (w, h), image_dir / files[0])
        K = scale_K(K, sx, sy)
        notes.append(f"images are {w}x{h}, the model's camera {mw}x{mh}: K scaled by {sx:.4g} x {sy:.4g}")
    pts = cols = None
    if len(rec.points3D) > 0:
        pts = np.array([p.xyz for p in rec.points3D.values()], dtype=np.float64).reshape(-1, 3)
        cols = np.array([p.color for p in rec.points3D.values()], dtype=np.uint8).reshape(-1, 3)
    files, c2ws, test, sharp = _split_views(scene, image_dir, files, c2ws, holdout, notes)
    return SceneCameras(files, image_dir, c2ws, K, w, h, source, pts, cols, sharp=sharp, test=test,
                        model_dir=model_dir, notes=notes)  # fmt: skip


# ---------------------------------------------------------------------------------------------- LLFF
def _count_hint(scene: Path, n: int) -> str:
    alt = sorted(d.name for d in scene.glob("images*") if d.is_dir() and len(list_scene_images(d)) == n)
    return f" ({', '.join(a + '/' for a in alt)} holds {n}: pass images={alt[0]!r})" if alt else ""


def read_llff(scene: str | Path, images: str | None = None, holdout: int | None = None) -> SceneCameras:
    """Cameras of an LLFF / Deblur-NeRF scene: ``poses_bounds.npy`` for the images of ``scene/<images>/``
    (None: ``images/`` when it holds one image per pose, else the first ``images_N/`` that does).

    ``holdout``: every n-th image is a sharp novel view (Deblur-NeRF's ``llffhold``); None reads it from a
    ``hold=n`` file in ``scene`` (none: 0). Sharp ``images_test/`` pairs with the training views. See the module
    docstring for the axis convention."""
    scene = Path(scene)
    pb_path = scene / "poses_bounds.npy"
    if not pb_path.is_file():
        raise UserError(f"{pb_path}: not found; an LLFF scene needs poses_bounds.npy")
    pick_notes: list[str] = []
    if images is None:
        try:
            n_poses = len(np.load(pb_path, mmap_mode="r", allow_pickle=False))
        except (OSError, ValueError):
            n_poses = None
        images = pick_image_dir(scene, None, count=n_poses, notes=pick_notes)
    else:
        images = pick_image_dir(scene, images)
    image_dir = scene / images
    files = list_scene_images(image_dir)
    if not files:
        raise UserError(f"{image_dir}: no images; an LLFF scene needs its frames in {images}/")
    try:
        pb = np.load(pb_path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{pb_path}: cannot read ({e})") from None
    if pb.ndim != 2 or pb.shape[1] != 17 or not np.all(np.isfinite(pb)):
        raise UserError(f"{pb_path}: expected a finite [N, 17] array (3x5 pose + near, far per image), got {pb.shape}")
    if len(pb) != len(files):
        raise UserError(
            f"{pb_path}: {len(pb)} poses but {len(files)} images in {image_dir}; they must match one to one "
            f"(sorted names){_count_hint(scene, len(pb))}"
        )
    pb = pb.astype(np.float64)
    m = pb[:, :15].reshape(-1, 3, 5)
    rot_llff, t, hwf = m[:, :, :3], m[:, :, 3], m[:, :, 4]  # columns [down, right, backward]
    c2ws = np.tile(np.eye(4), (len(pb), 1, 1))
    c2ws[:, :3, 0] = rot_llff[:, :, 1]  # right
    c2ws[:, :3, 1] = rot_llff[:, :, 0]  # down
    c2ws[:, :3, 2] = -rot_llff[:, :, 2]  # forward
    c2ws[:, :3, 3] = t
    r = c2ws[:, :3, :3]
    err = np.abs(r.transpose(0, 2, 1) @ r - np.eye(3)).max(axis=(1, 2))
    bad = np.nonzero((err > 1e-4) | (np.linalg.det(r) < 0))[0]
    if len(bad):
        raise UserError(f"{pb_path}: pose {bad[0]} ({files[bad[0]]}) is not a rotation; not an LLFF poses file?")
    if not np.allclose(hwf, hwf[:1], rtol=1e-6, atol=0):
        raise UserError(f"{pb_path}: images have different [H, W, focal]; DeblurGS here needs one camera")
    H, W, focal = hwf[0]
    if min(H, W, focal) <= 0:
        raise UserError(f"{pb_path}: [H, W, focal] = {hwf[0].tolist()} must be positive")
    w, h = _common_size(image_dir, files)
    sx, sy = _resize_factors(pb_path.name, (W, H), (w, h), image_dir / files[0])
    K = np.array([[focal * sx, 0.0, w / 2.0], [0.0, focal * sy, h / 2.0], [0.0, 0.0, 1.0]])
    notes = pick_notes + [
        f"LLFF poses {pb_path.name}: {len(pb)} views, focal {focal:.2f} px at {W:.0f}x{H:.0f}, no sparse points"
    ]
    if (w, h) != (round(W), round(H)):
        notes.append(f"images are {w}x{h}: focal scaled by {sx:.4g} x {sy:.4g}")
    near, far = float(pb[:, 15].min()), float(pb[:, 16].max())
    files, c2ws, test, sharp = _split_views(scene, image_dir, files, c2ws, holdout, notes)
    return SceneCameras(files, image_dir, c2ws, K, w, h, "llff", near=near, far=far, sharp=sharp, test=test,
                        notes=notes)  # fmt: skip


# ---------------------------------------------------------------------------------------------- transforms.json
_INTRINSIC_KEYS = ("fl_x", "fl_y", "cx", "cy", "w", "h", "camera_angle_x", "camera_angle_y",
                   "k1", "k2", "k3", "k4", "p1", "p2", "camera_model")  # fmt: skip


def _frame_intrinsics(path: Path, meta: dict, frame: dict, first_image: Path | None) -> tuple:
    """``(model, w, h, fx, fy, cx, cy, (k1, k2, k3, k4, p1, p2))`` of one frame: its own keys over the file's."""
    d = {k: meta[k] for k in _INTRINSIC_KEYS if k in meta}
    d.update({k: frame[k] for k in _INTRINSIC_KEYS if k in frame})
    w, h = d.get("w"), d.get("h")
    if (w is None or h is None) and first_image is not None:
        w, h = image_size(first_image)
    if w is None or h is None:
        raise UserError(f"{path}: no image size (w, h) and no image to read it from")
    w, h = float(w), float(h)
    fx = d.get("fl_x")
    fy = d.get("fl_y")
    if fx is None and "camera_angle_x" in d:
        fx = 0.5 * w / math.tan(0.5 * float(d["camera_angle_x"]))
    if fy is None and "camera_angle_y" in d:
        fy = 0.5 * h / math.tan(0.5 * float(d["camera_angle_y"]))
    if fx is None and fy is None:
        raise UserError(f"{path}: no focal length (fl_x / fl_y or camera_angle_x); not a nerfstudio transforms.json?")
    fx, fy = float(fx if fx is not None else fy), float(fy if fy is not None else fx)
    cx, cy = float(d.get("cx", w / 2.0)), float(d.get("cy", h / 2.0))
    dist = tuple(float(d.get(k, 0.0)) for k in ("k1", "k2", "k3", "k4", "p1", "p2"))
    return str(d.get("camera_model", "OPENCV")), w, h, fx, fy, cx, cy, dist


def _check_transforms_distortion(path: Path, intr: tuple, notes: list[str]) -> None:
    model, w, h, fx, fy, cx, cy, (k1, k2, k3, k4, p1, p2) = intr
    if not any((k1, k2, k3, k4, p1, p2)):
        return
    import pycolmap

    if model.upper() == "OPENCV_FISHEYE":
        cam = pycolmap.Camera(model="OPENCV_FISHEYE", width=int(w), height=int(h), params=[fx, fy, cx, cy, k1, k2,
                              k3, k4])  # fmt: skip
    else:
        cam = pycolmap.Camera(model="FULL_OPENCV", width=int(w), height=int(h),
                              params=[fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, 0.0, 0.0])  # fmt: skip
    px = max_distortion_px(cam)
    if px >= MAX_DISTORTION_PX:
        amount = f"up to {px:.2f} px" if math.isfinite(px) else "too far to invert"
        raise UserError(
            f"{path}: {model} distortion (k1..k4, p1, p2) moves pixels by {amount}; undistort the images first "
            "(e.g. ns-process-data, or COLMAP image_undistorter) and give the pinhole transforms.json"
        )
    notes.append(f"{model} distortion moves pixels by at most {px:.3g} px; treated as pinhole")


def read_transforms(scene: str | Path, images: str | None = None, holdout: int | None = None) -> SceneCameras:
    """Cameras of a nerfstudio / instant-ngp scene (``scene/transforms.json``, module docstring). ``images``:
    read the frames' names from this folder of ``scene`` instead of their ``file_path`` folder (K scaled to its
    size). ``holdout`` as :func:`read_llff` (``hold=n`` marker when None)."""
    import json

    scene = Path(scene)
    path = scene / "transforms.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read ({e})") from None
    frames = meta.get("frames") if isinstance(meta, dict) else None
    if not frames:
        raise UserError(f"{path}: no frames; a transforms.json lists frames with file_path and transform_matrix")
    paths, c2ws = [], []
    for i, fr in enumerate(frames):
        if "file_path" not in fr or "transform_matrix" not in fr:
            raise UserError(f"{path}: frame {i} lacks file_path or transform_matrix")
        fp = scene / fr["file_path"]
        if not fp.suffix and not fp.is_file():
            fp = fp.with_suffix(".png")
        m = np.asarray(fr["transform_matrix"], dtype=np.float64)
        if m.shape == (3, 4):
            m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise UserError(f"{path}: frame {i} ({fr['file_path']}): transform_matrix must be a finite 4x4")
        paths.append(fp)
        c2ws.append(m @ np.diag([1.0, -1.0, -1.0, 1.0]))  # OpenGL [right, up, back] -> OpenCV [right, down, fwd]
    folders = sorted({str(fp.parent) for fp in paths})
    if len(folders) > 1:
        raise UserError(f"{path}: frames in several folders ({folders[0]}, {folders[1]}); put them in one folder")
    names = [fp.name for fp in paths]
    if len(set(names)) != len(names):
        raise UserError(f"{path}: two frames share the file name {next(n for n in names if names.count(n) > 1)}")
    src_dir = paths[0].parent
    image_dir = scene / images if images else src_dir
    if images:
        pick_image_dir(scene, images)  # UserError when the folder is empty / missing
    missing = [n for n in names if not (image_dir / n).is_file()]
    if missing:
        raise UserError(f"{image_dir / missing[0]}: in {path.name} but not on disk ({len(missing)} of {len(names)} "
                        "missing); put the frames there or pass --images FOLDER")  # fmt: skip
    notes = [f"transforms.json: {len(names)} frames, OpenGL camera axes converted to OpenCV"]
    first_ref = src_dir / names[0] if (src_dir / names[0]).is_file() else None
    intr = [_frame_intrinsics(path, meta, fr, first_ref) for fr in frames]
    if any(not np.allclose(x[1:7], intr[0][1:7], rtol=1e-6) or x[7] != intr[0][7] for x in intr):
        odd = next(
            i for i, x in enumerate(intr) if not np.allclose(x[1:7], intr[0][1:7], rtol=1e-6) or x[7] != intr[0][7]
        )
        raise UserError(f"{path}: frame {odd} ({names[odd]}) has other intrinsics than frame 0; DeblurGS here needs "
                        "one camera")  # fmt: skip
    if any(k in frames[0] for k in _INTRINSIC_KEYS):
        notes.append("per-frame intrinsics (all equal)")
    _check_transforms_distortion(path, intr[0], notes)
    _, mw, mh, fx, fy, cx, cy, _ = intr[0]
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    order = np.argsort(names, kind="stable")
    files = [names[i] for i in order]
    c2w_arr = np.stack([c2ws[i] for i in order])
    r = c2w_arr[:, :3, :3]
    scale = np.cbrt(np.linalg.det(r))
    if np.any(scale <= 0) or np.abs(r.transpose(0, 2, 1) @ r - (scale**2)[:, None, None] * np.eye(3)).max() > 1e-4:
        raise UserError(f"{path}: a transform_matrix is not a rotation (times a scale) and a translation")
    c2w_arr[:, :3, :3] = r / scale[:, None, None]
    w, h = _common_size(image_dir, files)
    if (w, h) != (round(mw), round(mh)):
        sx, sy = _resize_factors(path.name, (mw, mh), (w, h), image_dir / files[0])
        K = scale_K(K, sx, sy)
        notes.append(
            f"images are {w}x{h}, transforms.json describes {mw:.0f}x{mh:.0f}: K scaled by {sx:.4g} x {sy:.4g}"
        )
    files, c2w_arr, test, sharp = _split_views(scene, image_dir, files, c2w_arr, holdout, notes)
    return SceneCameras(files, image_dir, c2w_arr, K, w, h, "transforms", sharp=sharp, test=test, notes=notes)


# ---------------------------------------------------------------------------------------------- synthetic
def _read_points(model_dir: Path | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    if model_dir is None:
        return None, None
    import pycolmap

    rec = pycolmap.Reconstruction(str(model_dir))
    if len(rec.points3D) == 0:
        return None, None
    pts = np.array([p.xyz for p in rec.points3D.values()], dtype=np.float64).reshape(-1, 3)
    cols = np.array([p.color for p in rec.points3D.values()], dtype=np.uint8).reshape(-1, 3)
    return pts, cols


def _gt_views(scene: Path, gt: dict, files: list[str]) -> tuple[ViewSet | None, ViewSet | None]:
    sharp = test = None
    if (scene / "gt" / "sharp").is_dir():
        pos = {f: i for i, f in enumerate(gt["files"])}
        sharp = ViewSet(scene / "gt" / "sharp", list(files), gt["c2w_mid"][[pos[f] for f in files]], "sharp")
    if gt["test_files"]:
        test = ViewSet(scene / "gt" / "test", list(gt["test_files"]), gt["c2w_test"].copy(), "held-out")
    return sharp, test


def read_synthetic(scene: str | Path) -> SceneCameras:
    """True cameras of a synthetic scene (``gt/cameras.json`` ``c2w_mid``); points from its COLMAP model if any."""
    scene = Path(scene)
    gt = load_gt(scene)
    files = list(gt["files"])
    model_dir = find_colmap_model(scene)
    pts, cols = _read_points(model_dir)
    sharp, test = _gt_views(scene, gt, files)
    return SceneCameras(files, scene / "images", np.array(gt["c2w_mid"]), np.array(gt["K"]), gt["width"],
                        gt["height"], "synthetic-gt", pts, cols, sharp=sharp, test=test, model_dir=model_dir,
                        notes=["true mid-exposure poses from gt/cameras.json"])  # fmt: skip


# ---------------------------------------------------------------------------------------------- dispatch
def read_scene(
    scene: str | Path,
    poses: Literal["auto", "sparse", "llff", "transforms", "gt"] = "auto",
    images: str | None = None,
    holdout: int | None = None,
) -> SceneCameras:
    """Cameras of a scene folder from the chosen pose source: ``sparse`` (COLMAP model), ``llff``
    (poses_bounds.npy), ``transforms`` (nerfstudio transforms.json), ``gt`` (synthetic gt/cameras.json);
    ``auto``: the first of these the scene has. ``images``: the image folder (None: :func:`pick_image_dir`).
    ``holdout``: every n-th view held out (None: a ``hold=n`` marker; not for synthetic scenes, which have gt/test).

    On a synthetic scene the COLMAP model must pose every frame of gt/ (its ground truth stays aligned), and
    ``sharp`` / ``test`` come from gt/."""
    scene = Path(scene)
    has_transforms = (scene / "transforms.json").is_file()
    if images and not (scene / images).is_dir():
        raise UserError(f"--images {images}: {scene / images} not found (image folders here: "
                        f"{', '.join(d + '/' for d in scene_image_dirs(scene)) or 'none'})")  # fmt: skip
    if not images and not scene_image_dirs(scene) and not has_transforms:
        raise UserError(
            f"{scene}: no images/ folder; give a scene folder (made by make-scene or SfM, or an LLFF scene)"
        )
    has_gt = (scene / "gt" / "cameras.json").is_file()
    model_dir = find_colmap_model(scene)
    has_llff = (scene / "poses_bounds.npy").is_file()
    if poses == "auto":
        poses = ("sparse" if model_dir is not None else "llff" if has_llff else "transforms" if has_transforms
                 else "gt" if has_gt else "none")  # fmt: skip
        if poses == "none":
            raise UserError(
                f"{scene}: no poses (sparse/0, sparse/, poses_bounds.npy, transforms.json or gt/cameras.json); run "
                "`sharpsplat sfm`"
            )
    if poses == "gt":
        if not has_gt:
            raise UserError(f"{scene}: --poses gt needs gt/cameras.json (synthetic scenes); use --poses sparse")
        return read_synthetic(scene)
    if poses == "llff":
        return read_llff(scene, images, holdout)
    if poses == "transforms":
        if not has_transforms:
            raise UserError(f"{scene / 'transforms.json'}: not found; --poses transforms needs it")
        return read_transforms(scene, images, holdout)
    if poses != "sparse":
        raise UserError(f"--poses: unknown {poses!r}; choose auto, sparse, llff, transforms or gt")
    if model_dir is None:
        raise UserError(f"{scene}: no COLMAP model in sparse/0 or sparse/; run SfM first or use --poses gt / llff")
    if not has_gt:
        return read_colmap(scene, images, model_dir, holdout)
    gt = load_gt(scene)
    cams = read_colmap(scene, images, model_dir, holdout=0)
    missing = [f for f in gt["files"] if f not in cams.files]
    if missing:
        raise UserError(f"{model_dir}: no pose for {len(missing)} frame(s), e.g. {missing[0]}; rerun SfM")
    pos = {f: i for i, f in enumerate(cams.files)}
    cams.files = list(gt["files"])
    cams.c2ws = cams.c2ws[[pos[f] for f in cams.files]]
    cams.sharp, cams.test = _gt_views(scene, gt, cams.files)
    return cams


# ---------------------------------------------------------------------------------------------- writing
def write_colmap_model(cams: SceneCameras, out_dir: str | Path, binary: bool = True) -> Path:
    """Write ``cams`` as a COLMAP model in ``out_dir`` (replaced whole, atomically): one PINHOLE camera with
    ``K`` at the images' size, one image per view with ``cam_from_world = inv(c2w)``, the sparse points (no
    tracks) when there are any. Held-out views that live in ``cams.image_dir`` are written too, so a ``hold=n``
    marker splits the written scene the same way. Returns ``out_dir``."""
    import pycolmap

    from deblur2d.io.atomic import atomic_dir

    names, c2ws = list(cams.files), [np.asarray(cams.c2ws, np.float64)]
    if cams.test is not None and Path(cams.test.dir) == Path(cams.image_dir):
        names += cams.test.files
        c2ws.append(np.asarray(cams.test.c2ws, np.float64))
    c2w_all = np.concatenate(c2ws)
    order = np.argsort(names, kind="stable")
    K = np.asarray(cams.K, np.float64)
    rec = pycolmap.Reconstruction()
    cam = pycolmap.Camera(
        model="PINHOLE", width=int(cams.width), height=int(cams.height),
        params=[K[0, 0], K[1, 1], K[0, 2], K[1, 2]], camera_id=1,
    )  # fmt: skip
    rec.add_camera_with_trivial_rig(cam)
    for image_id, i in enumerate(order, start=1):
        w2c = np.linalg.inv(c2w_all[i])
        image = pycolmap.Image(name=names[i], camera_id=1, image_id=image_id)
        rec.add_image_with_trivial_frame(image, pycolmap.Rigid3d(w2c[:3, :4]))
    if cams.points is not None:
        cols = cams.colors if cams.colors is not None else np.full((len(cams.points), 3), 128, np.uint8)
        for p, c in zip(np.asarray(cams.points, np.float64), np.asarray(cols, np.uint8), strict=True):
            rec.add_point3D(p, pycolmap.Track(), c)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        (rec.write_binary if binary else rec.write_text)(str(tmp))
    return out_dir


def llff_poses_bounds(c2ws: np.ndarray, height: float, width: float, focal: float, near: float = 0.5,
                      far: float = 10.0) -> np.ndarray:  # fmt: skip
    """``poses_bounds.npy`` rows ``[N, 17]`` for camera-to-world poses ``c2ws [N, 4, 4]`` (OpenCV axes): the
    LLFF 3x5 block (rotation columns [down, right, backward], centre, [H, W, focal] in pixels) then near, far
    (scene units). The inverse of :func:`read_llff`'s conversion."""
    c2ws = np.asarray(c2ws, np.float64)
    hwf = np.broadcast_to(np.array([height, width, focal], np.float64), (len(c2ws), 3))
    block = np.stack([c2ws[:, :3, 1], c2ws[:, :3, 0], -c2ws[:, :3, 2], c2ws[:, :3, 3], hwf], axis=2)  # [N, 3, 5]
    bounds = np.broadcast_to(np.array([near, far], np.float64), (len(c2ws), 2))
    return np.concatenate([block.reshape(len(c2ws), 15), bounds], axis=1)
