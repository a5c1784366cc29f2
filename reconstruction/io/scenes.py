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
    "read_colmap",
    "read_llff",
    "read_synthetic",
    "read_scene",
    "write_colmap_model",
]

INPUT_KINDS = ("video", "images", "colmap", "llff", "synthetic")
_ACCEPTED = (
    "a video file (.mp4, .mov, ...), a folder of images, a COLMAP scene (images/ + sparse/0 or sparse/), "
    "an LLFF / Deblur-NeRF scene (images/ + poses_bounds.npy) or a synthetic scene (images/ + gt/cameras.json)"
)
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
    source: str  # "colmap-binary", "colmap-text", "llff", "synthetic-gt"
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


def detect_input(path: str | Path) -> str:
    """Kind of input ``path`` is: ``video`` (a video file), ``synthetic`` (images/ + gt/cameras.json, with or
    without sparse/0), ``colmap`` (images/ + a model in sparse/0 or sparse/), ``llff`` (images/ +
    poses_bounds.npy), ``images`` (a folder of images, or a folder whose images/ has no poses yet; see
    :func:`input_image_dir`). UserError for anything else, naming the path and the accepted inputs."""
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
    if img_dir.is_dir():
        if not list_scene_images(img_dir):
            raise UserError(f"{img_dir}: no images (.png, .jpg, ...); give {_ACCEPTED}")
        if (path / "gt" / "cameras.json").is_file():
            return "synthetic"
        if find_colmap_model(path) is not None:
            return "colmap"
        if (path / "poses_bounds.npy").is_file():
            return "llff"
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
    scene: str | Path, images: str = "images", model: str | Path | None = None, holdout: int | None = None
) -> SceneCameras:
    """Cameras of a COLMAP scene: ``scene/<images>/`` and the model in ``model`` (default: sparse/0 or sparse/).

    ``holdout``: hold out every n-th registered view as a novel view (None: from a ``hold=n`` file; 0: none)."""
    import pycolmap

    scene = Path(scene)
    image_dir = scene / images
    model_dir = Path(model) if model is not None else find_colmap_model(scene)
    if model_dir is None:
        raise UserError(f"{scene}: no COLMAP model in sparse/0 or sparse/; run `sharpsplat sfm` first")
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: not found; a COLMAP scene needs its frames in {images}/")
    source = "colmap-binary" if (model_dir / "images.bin").is_file() else "colmap-text"
    try:
        rec = pycolmap.Reconstruction(str(model_dir))
    except (ValueError, RuntimeError) as e:
        raise UserError(f"{model_dir}: cannot read the COLMAP model ({str(e).splitlines()[0][:160]})") from None
    notes: list[str] = [f"COLMAP model {model_dir} ({source[7:]})"]
    posed = {img.name: img for img in rec.images.values() if img.has_pose}
    if not posed:
        raise UserError(f"{model_dir}: no registered images; rerun SfM")
    missing = sorted(n for n in posed if not (image_dir / n).is_file())
    if missing:
        raise UserError(
            f"{image_dir / missing[0]}: in the COLMAP model but not on disk ({len(missing)} of {len(posed)} "
            f"missing); put the model's images in {image_dir}"
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


def read_llff(scene: str | Path, images: str = "images", holdout: int | None = None) -> SceneCameras:
    """Cameras of an LLFF / Deblur-NeRF scene: ``poses_bounds.npy`` for the images of ``scene/<images>/``.

    ``holdout``: every n-th image is a sharp novel view (Deblur-NeRF's ``llffhold``); None reads it from a
    ``hold=n`` file in ``scene`` (none: 0). Sharp ``images_test/`` pairs with the training views. See the module
    docstring for the axis convention."""
    scene = Path(scene)
    pb_path = scene / "poses_bounds.npy"
    image_dir = scene / images
    if not pb_path.is_file():
        raise UserError(f"{pb_path}: not found; an LLFF scene needs poses_bounds.npy")
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
    notes = [f"LLFF poses {pb_path.name}: {len(pb)} views, focal {focal:.2f} px at {W:.0f}x{H:.0f}, no sparse points"]
    if (w, h) != (round(W), round(H)):
        notes.append(f"images are {w}x{h}: focal scaled by {sx:.4g} x {sy:.4g}")
    near, far = float(pb[:, 15].min()), float(pb[:, 16].max())
    files, c2ws, test, sharp = _split_views(scene, image_dir, files, c2ws, holdout, notes)
    return SceneCameras(files, image_dir, c2ws, K, w, h, "llff", near=near, far=far, sharp=sharp, test=test,
                        notes=notes)  # fmt: skip


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
    scene: str | Path, poses: Literal["auto", "sparse", "llff", "gt"] = "auto", images: str = "images"
) -> SceneCameras:
    """Cameras of a scene folder from the chosen pose source: ``sparse`` (COLMAP model), ``llff``
    (poses_bounds.npy), ``gt`` (synthetic gt/cameras.json); ``auto``: the first of these the scene has.

    On a synthetic scene the COLMAP model must pose every frame of gt/ (its ground truth stays aligned), and
    ``sharp`` / ``test`` come from gt/."""
    scene = Path(scene)
    if not (scene / images).is_dir():
        raise UserError(
            f"{scene}: no {images}/ folder; give a scene folder (made by make-scene or SfM, or an LLFF scene)"
        )
    has_gt = (scene / "gt" / "cameras.json").is_file()
    model_dir = find_colmap_model(scene)
    has_llff = (scene / "poses_bounds.npy").is_file()
    if poses == "auto":
        poses = "sparse" if model_dir is not None else "llff" if has_llff else "gt" if has_gt else "none"
        if poses == "none":
            raise UserError(
                f"{scene}: no poses (sparse/0, sparse/, poses_bounds.npy or gt/cameras.json); run `sharpsplat sfm`"
            )
    if poses == "gt":
        if not has_gt:
            raise UserError(f"{scene}: --poses gt needs gt/cameras.json (synthetic scenes); use --poses sparse")
        return read_synthetic(scene)
    if poses == "llff":
        return read_llff(scene, images)
    if poses != "sparse":
        raise UserError(f"--poses: unknown {poses!r}; choose auto, sparse, llff or gt")
    if model_dir is None:
        raise UserError(f"{scene}: no COLMAP model in sparse/0 or sparse/; run SfM first or use --poses gt / llff")
    if not has_gt:
        return read_colmap(scene, images, model_dir)
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
