"""Scene layout: a room (floor, back and side walls) with textured boxes at several depths.

World units are metres, y up. The room spans x in [-4, 4], z in [-2, 7], y in [0, 4.5]; boxes stand on the
floor between z = 1.2 and 5.6 (2 to 6.5 m from the camera), one smaller box stacked on another. Every
surface gets its own texture (a bundled photo or a procedural pattern, never two surfaces the same), at a
resolution matched to its closest approach to the camera path (about one texel per pixel there, capped by
the preset's ``max_texture``). Shading is flat Lambertian from one directional light plus ambient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .raycast import Quad, World
from .textures import crop_to_aspect, dead_leaves, fractal_noise, load_photos, make_texture

ROOM_X = (-4.0, 4.0)
ROOM_Z = (-2.0, 7.0)
ROOM_H = 4.5
EX, EY, EZ = np.eye(3)


@dataclass
class Box:
    centre: np.ndarray  # centre of the bottom face (x, y, z)
    size: np.ndarray  # (sx, sy, sz) along the box's own x, y, z
    yaw: float  # radians about world y

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([c, 0.0, s]), np.array([-s, 0.0, c])

    def footprint_radius(self) -> float:
        return 0.5 * float(np.hypot(self.size[0], self.size[2]))

    def to_dict(self) -> dict:
        return {
            "centre": self.centre.tolist(),
            "size": self.size.tolist(),
            "yaw_deg": float(np.rad2deg(self.yaw)),
        }


@dataclass
class FaceSpec:
    """A rectangle before texturing: centre, outward normal, ``v`` (texture rows), extents along u, v."""

    name: str
    centre: np.ndarray
    normal: np.ndarray
    v_axis: np.ndarray
    width: float
    height: float

    @property
    def u_axis(self) -> np.ndarray:
        return np.cross(self.v_axis, self.normal)  # so that u x v = normal

    @property
    def origin(self) -> np.ndarray:
        return self.centre - 0.5 * self.width * self.u_axis - 0.5 * self.height * self.v_axis

    def closest_distance(self, points: np.ndarray) -> float:
        """Smallest distance from any of ``points [N, 3]`` to the rectangle."""
        rel = points - self.origin
        a = np.clip(rel @ self.u_axis, 0, self.width)
        b = np.clip(rel @ self.v_axis, 0, self.height)
        nearest = self.origin + a[:, None] * self.u_axis + b[:, None] * self.v_axis
        return float(np.linalg.norm(points - nearest, axis=-1).min())


def random_boxes(rng: np.random.Generator, num_boxes: int) -> list[Box]:
    """``num_boxes`` non-overlapping boxes on the floor plus one smaller box stacked on a random one."""
    boxes: list[Box] = []
    tries = 0
    while len(boxes) < num_boxes:
        tries += 1
        if tries > 10_000:
            raise RuntimeError("could not place boxes")
        size = np.array([rng.uniform(0.5, 1.3), rng.uniform(0.4, 1.5), rng.uniform(0.5, 1.3)])
        box = Box(np.array([rng.uniform(-2.6, 2.6), 0.0, rng.uniform(1.2, 5.6)]), size, rng.uniform(-0.7, 0.7))
        if all(
            np.hypot(*(box.centre - b.centre)[[0, 2]]) > box.footprint_radius() + b.footprint_radius() + 0.15
            for b in boxes
        ):
            boxes.append(box)
    base = boxes[int(rng.integers(len(boxes)))]
    scale = rng.uniform(0.45, 0.7)
    size = np.array([base.size[0] * scale, rng.uniform(0.3, 0.7), base.size[2] * scale])
    top = base.centre + np.array([0.0, base.size[1], 0.0])
    boxes.append(Box(top, size, base.yaw + rng.uniform(-0.4, 0.4)))
    return boxes


def room_faces() -> list[FaceSpec]:
    (x0, x1), (z0, z1), h = ROOM_X, ROOM_Z, ROOM_H
    return [
        FaceSpec("floor", np.array([(x0 + x1) / 2, 0.0, (z0 + z1) / 2]), EY, -EZ, x1 - x0, z1 - z0),
        FaceSpec("back_wall", np.array([(x0 + x1) / 2, h / 2, z1]), -EZ, -EY, x1 - x0, h),
        FaceSpec("left_wall", np.array([x0, h / 2, (z0 + z1) / 2]), EX, -EY, z1 - z0, h),
        FaceSpec("right_wall", np.array([x1, h / 2, (z0 + z1) / 2]), -EX, -EY, z1 - z0, h),
    ]


def box_faces(box: Box, index: int) -> list[FaceSpec]:
    ex, ez = box.axes()
    sx, sy, sz = box.size
    mid = box.centre + np.array([0.0, sy / 2, 0.0])
    faces = [
        FaceSpec(f"box{index}_px", mid + ex * sx / 2, ex, -EY, sz, sy),
        FaceSpec(f"box{index}_nx", mid - ex * sx / 2, -ex, -EY, sz, sy),
        FaceSpec(f"box{index}_pz", mid + ez * sz / 2, ez, -EY, sx, sy),
        FaceSpec(f"box{index}_nz", mid - ez * sz / 2, -ez, -EY, sx, sy),
        FaceSpec(f"box{index}_top", mid + EY * sy / 2, EY, ez, sx, sz),
    ]
    return faces


def build_world(
    rng: np.random.Generator,
    boxes: list[Box],
    camera_centres: np.ndarray,
    focal_px: float,
    max_texture: int,
) -> World:
    """Texture and shade the room and ``boxes``. ``camera_centres [N, 3]`` set texture resolutions."""
    faces = room_faces() + [f for i, b in enumerate(boxes) for f in box_faces(b, i)]
    photos = load_photos()
    # Photos go to randomly chosen faces among the larger ones (a photo on a sliver wastes it).
    areas = np.array([f.width * f.height for f in faces])
    big = [i for i in np.argsort(-areas) if areas[i] >= 0.2]
    photo_faces = set(rng.permutation(big)[: len(photos)].tolist())
    photo_order = rng.permutation(len(photos))
    light = np.array([rng.uniform(-0.6, 0.6), 1.0, rng.uniform(-0.9, -0.3)])
    light /= np.linalg.norm(light)

    quads: list[Quad] = []
    used_photos = 0
    for i, f in enumerate(faces):
        dist = max(f.closest_distance(camera_centres), 0.3)
        density = focal_px / dist  # pixels per metre at the closest approach
        scale = min(1.0, max_texture / max(density * f.width, density * f.height))
        tw, th = max(16, round(density * f.width * scale)), max(16, round(density * f.height * scale))
        if i in photo_faces:
            name, img = photos[photo_order[used_photos]]
            used_photos += 1
            crop = crop_to_aspect(img, f.width / f.height, rng)
            # Downsample to the needed size; never upsample beyond the photo's own resolution.
            if crop.shape[1] > tw:
                import cv2

                crop = cv2.resize(
                    crop,
                    (tw, max(1, round(tw * crop.shape[0] / crop.shape[1]))),
                    interpolation=cv2.INTER_AREA,
                )
            tex = make_texture(f"photo:{name}", crop)
        elif rng.random() < 0.55:
            tex = make_texture("dead_leaves", dead_leaves(rng, th, tw))
        else:
            tex = make_texture("fractal_noise", fractal_noise(rng, th, tw))
        shade = 0.35 + 0.65 * max(0.0, float(f.normal @ light))
        quads.append(Quad(f.origin, f.u_axis, f.v_axis, f.width, f.height, tex, shade, f.name))
    info = {
        "boxes": [b.to_dict() for b in boxes],
        "light_dir": light.tolist(),
        "surfaces": [{"name": q.name, "texture": q.texture.name, "texels": list(q.texture.shape)} for q in quads],
    }
    return World(quads=quads, info=info)
