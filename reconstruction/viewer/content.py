"""What the viewer shows of a run folder, read into numpy arrays (no viser here).

Units and axes: world units of the run (SfM's frame), camera-to-world ``[4, 4]`` poses in OpenCV axes (x right,
y down, z forward), colours sRGB in [0, 1]. Splats come from the run's PLY files (sRGB colours, 3DGS layout) or
from a :class:`GaussianModel` in training (linear colours, re-encoded as the PLY export does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deblur2d.io.errors import UserError

__all__ = [
    "FrameView",
    "RunContent",
    "Splats",
    "magnify",
    "read_run",
    "read_splats",
    "splats_from_model",
    "thumbnail",
]

#: Labels of the per-frame versions shown when a camera is clicked, in panel order, with the folder (relative
#: to the run) used when ``compare.json`` does not name it.
FRAME_VERSIONS = {"Blurry input": "scene/images", "MIMO-UNet": "scene/restored", "DeblurGS": "deblurred"}


@dataclass
class Splats:
    """Gaussians as a browser draws them."""

    centers: np.ndarray
    """``[N, 3]`` float32, world units."""
    covariances: np.ndarray
    """``[N, 3, 3]`` float32, world units squared."""
    rgbs: np.ndarray
    """``[N, 3]`` float32 sRGB in [0, 1] (degree-0 colour: view-dependent bands are left out)."""
    opacities: np.ndarray
    """``[N, 1]`` float32 in [0, 1]."""

    def __len__(self) -> int:
        return len(self.centers)

    def subset(self, max_splats: int | None) -> Splats:
        """At most ``max_splats`` Gaussians: those with the largest opacity x footprint (all when fewer)."""
        if max_splats is None or len(self) <= max_splats:
            return self
        area = np.sqrt(np.clip(np.linalg.det(self.covariances.astype(np.float64)), 1e-30, None)) ** (2 / 3)
        keep = np.sort(np.argsort(-(self.opacities[:, 0] * area))[:max_splats])
        return Splats(self.centers[keep], self.covariances[keep], self.rgbs[keep], self.opacities[keep])


def splats_from_model(model: Any, linear: bool = False) -> Splats:
    """:class:`Splats` of a :class:`reconstruction.splats.gaussians.GaussianModel`; ``linear``: its colours are
    linear light (DeblurGS while training) and are encoded to sRGB as ``save_ply`` does."""
    import torch

    from reconstruction.splats.gaussians import SH_C0
    from reconstruction.splats.ply import linear_sh_to_srgb

    with torch.no_grad():
        p = {k: v.detach().float().cpu() for k, v in model.params.items()}
        sh0 = p["sh0"]
        if linear:
            sh0, _ = linear_sh_to_srgb(sh0, p["shN"])
        rgb = (SH_C0 * sh0[:, 0, :] + 0.5).clamp(0.0, 1.0)
        q = torch.nn.functional.normalize(p["quats"], dim=-1)
        w, x, y, z = q.unbind(-1)
        R = torch.stack(
            [
                1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
            ],
            dim=-1,
        ).reshape(-1, 3, 3)  # fmt: skip
        s2 = torch.exp(2.0 * p["scales"])
        cov = (R * s2[:, None, :]) @ R.transpose(1, 2)
        opac = torch.sigmoid(p["opacities"])[:, None]
    return Splats(
        p["means"].numpy().astype(np.float32),
        cov.numpy().astype(np.float32),
        rgb.numpy().astype(np.float32),
        opac.numpy().astype(np.float32),
    )


def read_splats(path: Path) -> Splats:
    """:class:`Splats` of a 3DGS PLY with sRGB colours; :class:`UserError` naming the file when unreadable."""
    from reconstruction.splats.ply import load_ply

    try:
        model = load_ply(path)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read the splats ({e}); rerun `sharpsplat reconstruct` to rewrite it") from None
    return splats_from_model(model, linear=False)


@dataclass
class FrameView:
    """One training frame."""

    file: str
    """File name in the run's ``scene/images/``."""
    c2w: np.ndarray
    """``[4, 4]`` mid-exposure camera-to-world pose."""
    sub: np.ndarray | None = None
    """``[S, 4, 4]`` recovered in-exposure poses, exposure order (None: no trajectory)."""
    true_sub: np.ndarray | None = None
    """``[S', 4, 4]`` true in-exposure poses mapped into the run's frame (synthetic scenes only)."""
    images: dict[str, Path] = field(default_factory=dict)
    """Version label (:data:`FRAME_VERSIONS`) -> image file, for those present."""


@dataclass
class RunContent:
    """Everything the viewer draws of a run."""

    run: Path
    width: int
    """Training image size in pixels (with ``K``)."""
    height: int
    K: np.ndarray
    """``[3, 3]`` intrinsics at the training resolution, pixels."""
    frames: list[FrameView]
    splats: Splats | None = None
    """The DeblurGS scene (``splats.ply``)."""
    baseline: Splats | None = None
    """3DGS on the blurry frames (``baseline/splats.ply``), when the run has it."""
    points: np.ndarray | None = None
    """``[P, 3]`` SfM points, world units."""
    point_colors: np.ndarray | None = None
    """``[P, 3]`` uint8 sRGB."""
    path: np.ndarray | None = None
    """``[F, 4, 4]`` the novel camera path of ``renders/path.path.json``."""
    notes: list[str] = field(default_factory=list)
    """What is missing and why, one line each."""

    @property
    def fov_y(self) -> float:
        """Vertical field of view, radians."""
        return float(2.0 * np.arctan2(self.height / 2.0, self.K[1, 1]))

    @property
    def centres(self) -> np.ndarray:
        """``[V, 3]`` camera centres."""
        return np.stack([f.c2w[:3, 3] for f in self.frames])

    def scene_centre(self) -> np.ndarray:
        """A point the cameras look at: median of the SfM points (else of the splats; else in front)."""
        for pts in (self.points, None if self.splats is None else self.splats.centers):
            if pts is not None and len(pts):
                return np.median(np.asarray(pts, np.float64), axis=0)
        fwd = np.mean([f.c2w[:3, 2] for f in self.frames], axis=0)
        return self.centres.mean(0) + fwd * self.scale() * 5.0

    def scale(self) -> float:
        """A length for drawing (world units): the camera path's extent, or the distance to the points."""
        c = self.centres
        spread = float(np.linalg.norm(c.max(0) - c.min(0))) if len(c) > 1 else 0.0
        depth = 0.0
        if self.points is not None and len(self.points):
            depth = float(np.median(np.linalg.norm(self.points - c.mean(0), axis=1)))
        return max(spread, 0.25 * depth, 1e-3)

    def up(self) -> np.ndarray:
        """World up: minus the mean of the cameras' y axes (OpenCV y points down), unit length."""
        u = -np.mean([f.c2w[:3, 1] for f in self.frames], axis=0)
        n = float(np.linalg.norm(u))
        return u / n if n > 1e-9 else np.array([0.0, -1.0, 0.0])


def magnify(c2w_mid: np.ndarray, c2w_sub: np.ndarray, factor: float) -> np.ndarray:
    """In-exposure poses ``[S, 4, 4]`` with their motion relative to ``c2w_mid`` scaled by ``factor`` in the
    Lie algebra (``mid @ exp(factor * log(mid^-1 @ sub))``), so that sub-degree shake becomes visible."""
    from reconstruction.geometry.lie import se3_exp_np, se3_log_np

    mid = np.asarray(c2w_mid, np.float64)
    rel = np.linalg.inv(mid) @ np.asarray(c2w_sub, np.float64)
    return mid @ se3_exp_np(factor * se3_log_np(rel))


def thumbnail(path: Path, long_side: int = 256) -> np.ndarray:
    """An image file as uint8 ``[H, W, 3]`` sRGB, area-resized so that its long side is at most ``long_side``."""
    import cv2

    from deblur2d.io.images import read_image

    img = read_image(path)[0][..., :3]
    h, w = img.shape[:2]
    f = long_side / max(h, w)
    if f < 1.0:
        img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not readable JSON ({e}); rerun `sharpsplat reconstruct` to rewrite it") from None


def _check_manifest(run: Path, run_format: int | None) -> None:
    mf = run / "manifest.json"
    if run_format is None or not mf.is_file():
        return
    m = _json(mf)
    if isinstance(m, dict) and "format" in m and (m.get("format") != run_format or "kind" not in m):
        raise UserError(
            f"{run}: made by another version of sharpsplat (run format {m.get('format')!r}, this version reads "
            f"{run_format}); rerun `sharpsplat reconstruct` with this version"
        )


def _cameras(run: Path) -> dict[str, Any]:
    path = run / "cameras.json"
    if not path.is_file() and (run / "train" / "cameras.json").is_file():
        path = run / "train" / "cameras.json"
    if not path.is_file():
        raise UserError(f"{run}: no cameras.json; made by another version? rerun `sharpsplat reconstruct`")
    cams = _json(path)
    try:
        K = np.asarray(cams["K"], np.float64).reshape(3, 3)
        c2w = np.asarray(cams["c2w_mid"], np.float64).reshape(-1, 4, 4)
        w, h = int(cams["width"]), int(cams["height"])
        files = [str(f) for f in cams.get("files") or [f"{i:05d}" for i in range(len(c2w))]]
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path}: needs width, height, K and c2w_mid ({e}); made by another version?") from None
    if len(files) != len(c2w) or len(c2w) == 0:
        raise UserError(f"{path}: {len(files)} files but {len(c2w)} c2w_mid poses")
    return {"K": K, "c2w": c2w, "width": w, "height": h, "files": files}


def _by_file(obj: Any, files: list[str]) -> dict[str, dict]:
    frames = obj.get("frames") if isinstance(obj, dict) else None
    if not isinstance(frames, list):
        return {}
    names = obj.get("files") or [f.get("file") for f in frames if isinstance(f, dict)]
    if len(names) == len(frames) and all(isinstance(n, str) for n in names):
        return dict(zip(names, frames))
    return dict(zip(files, frames)) if len(frames) == len(files) else {}


def _trajectories(run: Path, frames: list[FrameView], notes: list[str]) -> None:
    path = run / "trajectories.json"
    if not path.is_file():
        notes.append("no trajectories.json: no exposure trajectories drawn")
        return
    est = _by_file(_json(path), [f.file for f in frames])
    for fv in frames:
        fr = est.get(fv.file)
        if fr and "c2w_sub" in fr:
            try:
                fv.sub = np.asarray(fr["c2w_sub"], np.float64).reshape(-1, 4, 4)
                if "c2w_mid" in fr:
                    fv.c2w = np.asarray(fr["c2w_mid"], np.float64).reshape(4, 4)
            except (TypeError, ValueError):
                raise UserError(f"{path}: frame {fv.file}: c2w_sub must be a list of 4x4") from None


def _true_trajectories(run: Path, frames: list[FrameView], notes: list[str]) -> None:
    """Map ``gt/cameras.json``'s in-exposure poses into the run's frame (Sim(3) of the mid poses)."""
    from reconstruction.geometry.alignment import align_poses, apply_sim3

    path = run / "gt" / "cameras.json"
    if not path.is_file():
        return
    true = _by_file(_json(path), [f.file for f in frames])
    pairs = [(fv, true[fv.file]) for fv in frames if fv.file in true and "c2w_sub" in true[fv.file]]
    if len(pairs) < 3:
        notes.append(f"{path}: fewer than 3 frames match the run's; true trajectories not drawn")
        return
    try:
        subs = [np.asarray(t["c2w_sub"], np.float64).reshape(-1, 4, 4) for _, t in pairs]
        mids = np.stack([np.asarray(t.get("c2w_mid", s[len(s) // 2]), np.float64).reshape(4, 4)
                         for (_, t), s in zip(pairs, subs)])  # fmt: skip
        al = align_poses(mids, np.stack([fv.c2w for fv, _ in pairs]))
    except (TypeError, ValueError) as e:
        notes.append(f"{path}: true trajectories not drawn ({e})")
        return
    for (fv, _), sub in zip(pairs, subs):
        fv.true_sub = apply_sim3(sub, al["s"], al["R"], al["t"])


def _frame_images(run: Path, frames: list[FrameView], notes: list[str]) -> None:
    folders = dict(FRAME_VERSIONS)
    spec_path = run / "compare.json"
    if spec_path.is_file():
        methods = (_json(spec_path) or {}).get("methods") or {}
        for label in folders:
            if isinstance(methods.get(label), str):
                folders[label] = methods[label]
    for label, folder in folders.items():
        d = Path(folder) if Path(folder).is_absolute() else run / folder
        found = 0
        for fv in frames:
            p = d / fv.file
            if p.is_file():
                fv.images[label] = p
                found += 1
        if not found:
            notes.append(f"no {label} frames ({d} has none)")


def _sfm_points(run: Path, notes: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    model = run / "scene" / "sparse" / "0"
    if not any((model / f"points3D{ext}").is_file() for ext in (".bin", ".txt")):
        notes.append("no SfM model in scene/sparse/0: no points drawn")
        return None, None
    try:
        import pycolmap

        rec = pycolmap.Reconstruction(str(model))
    except Exception as e:  # pycolmap raises its own types for damaged models
        notes.append(f"{model}: SfM points not read ({type(e).__name__})")
        return None, None
    if len(rec.points3D) == 0:
        return None, None
    pts = np.array([p.xyz for p in rec.points3D.values()], np.float64).reshape(-1, 3)
    cols = np.array([p.color for p in rec.points3D.values()], np.uint8).reshape(-1, 3)
    return pts, cols


def _camera_path(run: Path, notes: list[str]) -> np.ndarray | None:
    path = run / "renders" / "path.path.json"
    if not path.is_file():
        notes.append("no renders/path.path.json (the render stage writes it since this version): no novel path drawn")
        return None
    obj = _json(path)
    try:
        poses = [f["c2w"] for f in obj.get("frames") or []] if isinstance(obj, dict) else obj
        out = np.asarray(poses, np.float64).reshape(-1, 4, 4)
    except (TypeError, ValueError, KeyError):
        notes.append(f"{path}: not a list of 4x4 camera-to-world poses; path not drawn")
        return None
    return out if len(out) else None


def read_run(run: str | Path, *, run_format: int | None = None, max_splats: int | None = None) -> RunContent:
    """Read what the viewer shows of a finished run (``sharpsplat reconstruct`` or ``sharpsplat train``).

    ``run_format``: refuse a ``manifest.json`` of another format version. ``max_splats``: keep at most this many
    Gaussians of each PLY (:meth:`Splats.subset`). One-line :class:`UserError` for a folder that is not a run,
    a run without ``splats.ply`` or unreadable files; anything optional that is missing goes to ``notes``.
    """
    run = Path(run)
    if not run.is_dir():
        raise UserError(f"{run}: no such run folder; make one with `sharpsplat reconstruct VIDEO --out {run}`")
    _check_manifest(run, run_format)
    ply = run / "splats.ply"
    if not ply.is_file():
        raise UserError(
            f"{run}: no splats.ply (training not finished, or not a run folder); run `sharpsplat reconstruct` "
            "to the end (rerun the same command to resume)"
        )
    cams = _cameras(run)
    notes: list[str] = []
    frames = [FrameView(f, c) for f, c in zip(cams["files"], cams["c2w"])]
    _trajectories(run, frames, notes)
    _true_trajectories(run, frames, notes)
    _frame_images(run, frames, notes)
    points, colors = _sfm_points(run, notes)
    baseline = None
    if (run / "baseline" / "splats.ply").is_file():
        baseline = read_splats(run / "baseline" / "splats.ply").subset(max_splats)
    else:
        notes.append("no baseline/splats.ply: no 3DGS-on-blurry scene to switch to")
    return RunContent(
        run=run,
        width=cams["width"],
        height=cams["height"],
        K=cams["K"],
        frames=frames,
        splats=read_splats(ply).subset(max_splats),
        baseline=baseline,
        points=points,
        point_colors=colors,
        path=_camera_path(run, notes),
        notes=notes,
    )
