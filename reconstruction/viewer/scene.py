"""A run drawn into a viser scene: splats, training cameras, in-exposure trajectories, SfM points, novel path.

Scene nodes (names are part of the contract: the tests and the report's click script read them):

- ``/splats/deblurgs``, ``/splats/baseline``: Gaussian splats, drawn by the browser (viser's WebGL splat
  renderer); the server only sends them;
- ``/cameras/NNNN``: one frustum per training frame, NNNN its index in capture order, the frame on it;
- ``/shake/recovered``, ``/shake/true``: per frame, the path of the image-centre point (at the frustum's depth)
  of the in-exposure poses, and small frustums at the start, middle and end of the exposure, the motion relative
  to mid-exposure magnified ``shake`` times (:func:`reconstruction.viewer.content.magnify`);
- ``/sfm_points``, ``/novel_path``.

Poses are camera-to-world in OpenCV axes, as viser's frustums expect; the scene's up direction is the cameras'
mean up.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .content import FrameView, RunContent, Splats, magnify, thumbnail

__all__ = ["RunViewer", "catmull_rom", "frustum_segments", "wxyz_of"]

RECOVERED = (213, 94, 0)  # the report's colour for the DeblurGS estimate
TRUE = (40, 40, 40)
CAMERA = (0, 114, 178)
PATH = (0, 158, 115)
DEFAULT_SHAKE = 10.0


def wxyz_of(c2w: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of the rotation of a ``[4, 4]`` (or ``[3, 3]``) pose, w >= 0."""
    R = np.asarray(c2w, np.float64)[:3, :3]
    tr = np.trace(R)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(max(1.0 + R[i, i] - R[j, j] - R[k, k], 1e-12))
        q = [0.0] * 4
        q[0] = (R[k, j] - R[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (R[j, i] + R[i, j]) / s
        q[1 + k] = (R[k, i] + R[i, k]) / s
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def catmull_rom(points: np.ndarray, samples: int = 8) -> np.ndarray:
    """Uniform Catmull-Rom curve through ``points [M, 3]`` (ends repeated), ``samples`` points per span;
    ``[(M - 1) * samples + 1, 3]`` (the points themselves when M < 3)."""
    p = np.asarray(points, np.float64)
    if len(p) < 3:
        return p
    ext = np.concatenate([p[:1], p, p[-1:]])
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    out = []
    for i in range(len(p) - 1):
        p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))  # fmt: skip
    out.append(p[-1:])
    return np.concatenate(out)


def frustum_segments(c2w: np.ndarray, fov_y: float, aspect: float, depth: float) -> np.ndarray:
    """Wireframe frustums of poses ``c2w [N, 4, 4]`` (apex at the centre, image plane at ``depth`` world units):
    ``[N * 8, 2, 3]`` line segments."""
    c2w = np.asarray(c2w, np.float64).reshape(-1, 4, 4)
    hy = depth * np.tan(fov_y / 2.0)
    hx = hy * aspect
    corners = np.array([[-hx, -hy, depth], [hx, -hy, depth], [hx, hy, depth], [-hx, hy, depth]])
    world = corners @ np.swapaxes(c2w[:, :3, :3], 1, 2) + c2w[:, None, :3, 3]  # [N, 4, 3]
    apex = np.repeat(c2w[:, None, :3, 3], 4, axis=1)
    rim = np.roll(world, -1, axis=1)
    return np.concatenate([np.stack([apex, world], 2), np.stack([world, rim], 2)], axis=1).reshape(-1, 2, 3)


def _polyline(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, np.float64)
    return np.stack([p[:-1], p[1:]], axis=1) if len(p) > 1 else np.zeros((0, 2, 3))


class RunViewer:
    """Draws a :class:`RunContent` into ``server`` (a ``viser.ViserServer``); with ``gui``, adds the panel of
    toggles, the shake slider and the per-frame panel that a camera click fills (and the click moves the
    clicking client's view to that camera). Without ``gui`` (a static scene for the report) only scene nodes are
    made, with the default toggles."""

    def __init__(self, server: Any, content: RunContent, *, gui: bool = True, shake: float = DEFAULT_SHAKE) -> None:
        self.server = server
        self.content = content
        self.shake = float(shake)
        self.gui_on = gui
        self.lock = threading.RLock()
        self.image_mode = "blurry"
        self.selected: int | None = None
        self.cams: list[Any] = []
        self._thumbs: dict[tuple[str, int], np.ndarray | None] = {}
        self.visible = {"cameras": True, "shake": True, "true": True, "points": False, "path": True}
        self.splat_choice = "DeblurGS"
        self._gui: dict[str, Any] = {}
        self.nodes: dict[str, Any] = {}
        self.size = content.scale()
        self.frustum_depth = 0.06 * self.size
        server.scene.set_up_direction(tuple(float(v) for v in content.up()))
        self._initial_camera()
        if gui:
            self._build_gui()
        self.draw_all()

    # ------------------------------------------------------------------ geometry
    def _initial_camera(self) -> None:
        c = self.content
        centre = c.scene_centre()
        cams = c.centres.mean(0)
        back = cams - centre
        n = float(np.linalg.norm(back))
        back = back / n if n > 1e-9 else -np.mean([f.c2w[:3, 2] for f in c.frames], axis=0)
        eye = cams + back * 1.0 * self.size + c.up() * 0.5 * self.size
        ic = self.server.initial_camera
        ic.position = tuple(float(v) for v in eye)
        ic.look_at = tuple(float(v) for v in centre)
        ic.up = tuple(float(v) for v in c.up())

    def _thumb(self, fv: FrameView, label: str, long_side: int = 160) -> np.ndarray | None:
        key = (fv.file + "\0" + label, long_side)
        if key not in self._thumbs:
            p = fv.images.get(label)
            self._thumbs[key] = thumbnail(p, long_side) if p is not None else None
        return self._thumbs[key]

    def _camera_image(self, fv: FrameView) -> np.ndarray | None:
        if self.image_mode == "none":
            return None
        label = "DeblurGS" if self.image_mode == "deblurred" else "Blurry input"
        return self._thumb(fv, label)

    # ------------------------------------------------------------------ drawing
    def draw_all(self) -> None:
        """(Re)draw every scene node from ``self.content``."""
        with self.lock:
            self.draw_splats()
            self.draw_cameras()
            self.draw_shake()
            self.draw_points()
            self.draw_path()

    def draw_splats(self) -> None:
        """The DeblurGS and baseline splats; only the chosen one visible."""
        scene = self.server.scene
        for label, name, s in (("DeblurGS", "deblurgs", self.content.splats),
                               ("3DGS on blurry", "baseline", self.content.baseline)):  # fmt: skip
            if s is None or len(s) == 0:
                scene.remove_by_name(f"/splats/{name}")
                self.nodes.pop(f"/splats/{name}", None)
                continue
            node = self.nodes.get(f"/splats/{name}")
            if node is not None:  # in place: no fade-in again at each training update
                node.set_gaussians(s.centers, s.covariances, s.rgbs, s.opacities)
                continue
            self.nodes[f"/splats/{name}"] = scene.add_gaussian_splats(
                f"/splats/{name}", centers=s.centers, covariances=s.covariances, rgbs=s.rgbs,
                opacities=s.opacities, visible=self.splat_choice == label,
            )  # fmt: skip

    def update_splats(self, splats: Splats, baseline: Splats | None = None) -> None:
        """Replace the DeblurGS splats (and the baseline's when given), e.g. every N training steps."""
        with self.lock:
            self.content.splats = splats
            if baseline is not None:
                self.content.baseline = baseline
            self.draw_splats()

    def update_frames(self, frames: list[FrameView]) -> None:
        """New poses and trajectories of the same frames (training): frustums moved, trajectories redrawn."""
        with self.lock:
            if len(frames) != len(self.content.frames):
                self.content.frames = frames
                self.draw_cameras()
            else:
                for h, old, new in zip(self.cams, self.content.frames, frames):
                    new.images = new.images or old.images
                    h.wxyz, h.position = wxyz_of(new.c2w), tuple(new.c2w[:3, 3])
                self.content.frames = frames
            self.draw_shake()

    def draw_cameras(self) -> None:
        c = self.content
        aspect = c.width / c.height
        old = len(self.cams)
        self.cams = []
        for i, fv in enumerate(c.frames):
            h = self.server.scene.add_camera_frustum(
                f"/cameras/{i:04d}", fov=c.fov_y, aspect=aspect, scale=self.frustum_depth, thickness=1.5,
                thickness_units="screen", color=CAMERA, image=self._camera_image(fv), format="jpeg",
                jpeg_quality=85, wxyz=wxyz_of(fv.c2w), position=tuple(fv.c2w[:3, 3]), visible=self.visible["cameras"],
            )  # fmt: skip
            if self.gui_on:
                h.on_click(lambda ev, i=i: self.select(i, ev.client))
            self.cams.append(h)
        for i in range(len(c.frames), old):
            self.server.scene.remove_by_name(f"/cameras/{i:04d}")

    def set_camera_images(self, mode: str) -> None:
        """``"blurry"``, ``"deblurred"`` or ``"none"``: what each training frustum shows."""
        with self.lock:
            self.image_mode = mode
            for h, fv in zip(self.cams, self.content.frames):
                h.image = self._camera_image(fv)

    def _shake_segments(self, which: str) -> tuple[np.ndarray, int]:
        c = self.content
        segs, n = [], 0
        for fv in c.frames:
            sub = fv.sub if which == "recovered" else fv.true_sub
            if sub is None or len(sub) < 2:
                continue
            n += 1
            mid = fv.c2w if which == "recovered" else sub[len(sub) // 2]
            big = magnify(mid, sub, self.shake)
            look = big[:, :3, :3] @ np.array([0.0, 0.0, self.frustum_depth]) + big[:, :3, 3]
            segs.append(_polyline(catmull_rom(look)))
            ends = big[[0, len(big) // 2, len(big) - 1]]
            segs.append(frustum_segments(ends, c.fov_y, c.width / c.height, 0.35 * self.frustum_depth))
        return (np.concatenate(segs) if segs else np.zeros((0, 2, 3))), n

    def draw_shake(self) -> None:
        """The in-exposure trajectories at the current magnification."""
        for which, color, key in (("recovered", RECOVERED, "shake"), ("true", TRUE, "true")):
            segs, _ = self._shake_segments(which)
            name = f"/shake/{which}"
            if len(segs) == 0:
                self.server.scene.remove_by_name(name)
                self.nodes.pop(name, None)
                continue
            visible = self.visible["shake"] and (key == "shake" or self.visible["true"])
            self.nodes[name] = self.server.scene.add_line_segments(
                name, points=segs.astype(np.float32), colors=color, thickness=2.0, thickness_units="screen",
                visible=visible,
            )  # fmt: skip

    def set_shake(self, factor: float) -> None:
        with self.lock:
            self.shake = float(factor)
            self.draw_shake()

    def draw_points(self) -> None:
        c = self.content
        if c.points is None or len(c.points) == 0:
            return
        cols = c.point_colors if c.point_colors is not None else np.full((len(c.points), 3), 128, np.uint8)
        self.nodes["/sfm_points"] = self.server.scene.add_point_cloud(
            "/sfm_points", points=c.points.astype(np.float32), colors=cols, point_size=0.006 * self.size,
            point_shape="circle", visible=self.visible["points"],
        )  # fmt: skip

    def draw_path(self) -> None:
        c = self.content
        if c.path is None or len(c.path) < 2:
            return
        curve = _polyline(catmull_rom(c.path[:, :3, 3], 4))
        step = max(1, len(c.path) // 12)
        fr = frustum_segments(c.path[::step], c.fov_y, c.width / c.height, 0.5 * self.frustum_depth)
        self.nodes["/novel_path"] = self.server.scene.add_line_segments(
            "/novel_path", points=np.concatenate([curve, fr]).astype(np.float32), colors=PATH, thickness=2.0,
            thickness_units="screen", visible=self.visible["path"],
        )  # fmt: skip

    def _show(self, name: str, visible: bool) -> None:
        node = self.nodes.get(name)
        if node is not None:
            node.visible = bool(visible)

    # ------------------------------------------------------------------ interaction
    def select(self, i: int, client: Any | None = None) -> None:
        """Frame ``i`` clicked: move ``client``'s view onto that camera and show the frame's versions."""
        fv = self.content.frames[i]
        with self.lock:  # the chosen frustum and the frames on the others would cover the view through it
            if self.selected is not None and self.selected < len(self.cams):
                self.cams[self.selected].visible = self.visible["cameras"]
            self.selected = i
            self.cams[i].visible = False
            if self.gui_on and client is not None and self.image_mode != "none":
                self._gui["images"].value = "none"  # its on_update hides the frames; the dropdown shows them again
        if client is not None:
            c2w = fv.c2w
            centre = c2w[:3, 3]
            fwd = c2w[:3, 2]
            dist = max(float(np.dot(self.content.scene_centre() - centre, fwd)), 0.5 * self.size)
            with client.atomic():
                client.camera.fov = self.content.fov_y
                client.camera.position = tuple(centre)
                client.camera.look_at = tuple(centre + fwd * dist)
                client.camera.up_direction = tuple(-c2w[:3, 1])
        if self.gui_on:
            g = self._gui
            g["frame_md"].content = f"**Frame {i + 1} of {len(self.content.frames)}**: `{fv.file}`"
            for label, handle in g["frame_images"].items():
                img = self._thumb(fv, label, 384)
                handle.visible = img is not None
                if img is not None:
                    handle.image = img

    def _build_gui(self) -> None:
        gui, c, g = self.server.gui, self.content, self._gui
        gui.configure_theme(show_share_button=False)  # a share link would tunnel the run through viser's servers
        with gui.add_folder("Show"):
            options = [n for n, s in (("DeblurGS", c.splats), ("3DGS on blurry", c.baseline)) if s is not None]
            g["splats"] = gui.add_dropdown("Splats", options=[*options, "none"], initial_value=options[0]
                                           if options else "none")  # fmt: skip
            g["cameras"] = gui.add_checkbox("Training cameras", self.visible["cameras"])
            g["images"] = gui.add_dropdown("Frame on camera", options=["blurry", "deblurred", "none"],
                                           initial_value="blurry")  # fmt: skip
            has_traj = any(f.sub is not None for f in c.frames)
            has_true = any(f.true_sub is not None for f in c.frames)
            g["shake"] = gui.add_checkbox("Exposure trajectories", has_traj, disabled=not has_traj)
            g["factor"] = gui.add_slider("Shake magnified", min=1, max=200, step=1, initial_value=self.shake,
                                         disabled=not has_traj)  # fmt: skip
            g["true"] = gui.add_checkbox("True trajectories", has_true, disabled=not has_true)
            g["points"] = gui.add_checkbox("SfM points", self.visible["points"], disabled=c.points is None)
            g["path"] = gui.add_checkbox("Novel camera path", c.path is not None, disabled=c.path is None)
        with gui.add_folder("Frame"):
            g["frame_md"] = gui.add_markdown("Click a camera to see its frame.")
            g["frame_images"] = {
                label: gui.add_image(np.zeros((8, 8, 3), np.uint8), label=label, format="jpeg", visible=False)
                for label in ("Blurry input", "MIMO-UNet", "DeblurGS")
            }
        if c.notes:
            with gui.add_folder("Notes", expand_by_default=False):
                gui.add_markdown("\n".join(f"- {n}" for n in c.notes))

        @g["splats"].on_update
        def _(_: Any) -> None:
            with self.lock:
                self.splat_choice = g["splats"].value
                for label, name in (("DeblurGS", "deblurgs"), ("3DGS on blurry", "baseline")):
                    self._show(f"/splats/{name}", self.splat_choice == label)

        @g["cameras"].on_update
        def _(_: Any) -> None:
            with self.lock:
                self.visible["cameras"] = g["cameras"].value
                for j, h in enumerate(self.cams):
                    h.visible = self.visible["cameras"] and j != self.selected

        @g["images"].on_update
        def _(_: Any) -> None:
            self.set_camera_images(g["images"].value)

        @g["shake"].on_update
        @g["true"].on_update
        def _(_: Any) -> None:
            with self.lock:
                self.visible["shake"], self.visible["true"] = g["shake"].value, g["true"].value
                self._show("/shake/recovered", self.visible["shake"])
                self._show("/shake/true", self.visible["shake"] and self.visible["true"])

        @g["factor"].on_update
        def _(_: Any) -> None:
            self.set_shake(g["factor"].value)

        @g["points"].on_update
        def _(_: Any) -> None:
            self.visible["points"] = g["points"].value
            self._show("/sfm_points", self.visible["points"])

        @g["path"].on_update
        def _(_: Any) -> None:
            self.visible["path"] = g["path"].value
            self._show("/novel_path", self.visible["path"])
