"""A vectorised numpy ray caster for textured rectangles: the synthetic scenes' independent renderer.

This is deliberately NOT Gaussian splatting, so that the Gaussian optimiser is never graded by its own
image model. Each pixel casts one ray through its centre (pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)`` in
the coordinates of ``K``, the COLMAP and gsplat convention), the nearest rectangle hit wins, and its texture
is sampled bilinearly from the mip level that matches the pixel's footprint on the surface (linear
interpolation between the two nearest levels: trilinear filtering), times the surface's flat shading.
Output is LINEAR light ``[H, W, 3]`` float32 plus the ray depth ``z`` (camera-frame z, ``inf`` on a miss).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .textures import Texture


@dataclass
class Quad:
    """A textured rectangle ``origin + a * u_axis + b * v_axis``, ``a in [0, width]``, ``b in [0, height]``.

    ``u_axis`` and ``v_axis`` are orthonormal world vectors; the texture's columns run along ``u``, rows
    along ``v``. ``shade`` multiplies the linear albedo (flat Lambertian shading, computed by the scene).
    """

    origin: np.ndarray
    u_axis: np.ndarray
    v_axis: np.ndarray
    width: float
    height: float
    texture: Texture
    shade: float = 1.0
    name: str = ""

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.u_axis, self.v_axis)

    def corners(self) -> np.ndarray:
        o, u, v = self.origin, self.u_axis * self.width, self.v_axis * self.height
        return np.stack([o, o + u, o + u + v, o + v])


@dataclass
class World:
    """Everything the renderer needs: rectangles and the colour of rays that hit nothing (linear)."""

    quads: list[Quad]
    background: np.ndarray = field(default_factory=lambda: np.array([0.05, 0.05, 0.06], np.float32))
    info: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    def atlas(self) -> _Atlas:
        if "atlas" not in self._cache:
            self._cache["atlas"] = _Atlas(self.quads)
        return self._cache["atlas"]

    def texel_density(self) -> np.ndarray:
        """Texels per metre of each quad's full-resolution texture (geometric mean of both axes)."""
        return np.array([np.sqrt(q.texture.shape[1] / q.width * q.texture.shape[0] / q.height) for q in self.quads])

    def geometry(self) -> dict[str, np.ndarray]:
        """Per-quad arrays (origin, u, v, normal, width, height) for vectorised lookups."""
        if "geometry" not in self._cache:
            self._cache["geometry"] = {
                "origin": np.array([q.origin for q in self.quads], np.float64),
                "u": np.array([q.u_axis for q in self.quads], np.float64),
                "v": np.array([q.v_axis for q in self.quads], np.float64),
                "normal": np.array([q.normal for q in self.quads], np.float64),
                "width": np.array([q.width for q in self.quads], np.float64),
                "height": np.array([q.height for q in self.quads], np.float64),
            }
        return self._cache["geometry"]

    def shades(self) -> np.ndarray:
        return np.array([q.shade for q in self.quads], np.float32)


class _Atlas:
    """All mip levels of all textures in one flat ``[texels, 3]`` array, for one gather per tap."""

    def __init__(self, quads: list[Quad]):
        chunks, self.offset, self.shape = [], [], []
        total = 0
        for q in quads:
            offs, shapes = [], []
            for lvl in q.texture.levels:
                offs.append(total)
                shapes.append(lvl.shape[:2])
                chunks.append(lvl.reshape(-1, 3))
                total += lvl.shape[0] * lvl.shape[1]
            self.offset.append(np.array(offs, np.int64))
            self.shape.append(np.array(shapes, np.int64))
        self.texels = np.concatenate(chunks).astype(np.float32)
        self.num_levels = np.array([len(o) for o in self.offset])
        # Padded [quad, level] tables so that a lookup needs no loop over quads.
        m = int(self.num_levels.max())
        self.off_table = np.zeros((len(quads), m), np.int64)
        self.h_table = np.ones((len(quads), m), np.int64)
        self.w_table = np.ones((len(quads), m), np.int64)
        for qi, (o, sh) in enumerate(zip(self.offset, self.shape, strict=True)):
            self.off_table[qi, : len(o)] = o
            self.h_table[qi, : len(o)] = sh[:, 0]
            self.w_table[qi, : len(o)] = sh[:, 1]

    def sample(self, quad: np.ndarray, level: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Bilinear lookup (texel centres at integer + 0.5, clamp to edge) of many pixels at once.

        ``quad``, ``level``: int arrays ``[P]``; ``a``, ``b``: fractions of the quad in [0, 1]."""
        offs = self.off_table[quad, level]
        hs = self.h_table[quad, level]
        ws = self.w_table[quad, level]
        x = np.clip(a * ws - 0.5, 0.0, ws - 1.0)
        y = np.clip(b * hs - 0.5, 0.0, hs - 1.0)
        x0 = np.minimum(x.astype(np.int64), np.maximum(ws - 2, 0))
        y0 = np.minimum(y.astype(np.int64), np.maximum(hs - 2, 0))
        fx = (x - x0).astype(np.float32)[:, None]
        fy = (y - y0).astype(np.float32)[:, None]
        x1 = np.minimum(x0 + 1, ws - 1)
        row0 = offs + y0 * ws
        row1 = offs + np.minimum(y0 + 1, hs - 1) * ws
        t = self.texels
        top = t[row0 + x0] * (1 - fx) + t[row0 + x1] * fx
        bot = t[row1 + x0] * (1 - fx) + t[row1 + x1] * fx
        return top * (1 - fy) + bot * fy


def pixel_rays(k: np.ndarray, width: int, height: int) -> np.ndarray:
    """Camera-frame ray directions ``[H, W, 3]`` through pixel centres, with z = 1 (OpenCV axes)."""
    kinv = np.linalg.inv(np.asarray(k, np.float64))
    jj, ii = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    pix = np.stack([jj, ii, np.ones_like(jj)], -1)
    return pix @ kinv.T


def render(world: World, c2w: np.ndarray, k: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast one view. Returns ``(linear_rgb [H, W, 3] float32, depth [H, W] float32)``.

    ``c2w``: 4x4 camera-to-world, OpenCV axes. ``depth`` is the camera-frame z of the hit (``inf`` = miss).
    Deterministic: the same inputs give bit-identical outputs.
    """
    c2w = np.asarray(c2w, np.float64)
    k = np.asarray(k, np.float64)
    rot, centre = c2w[:3, :3], c2w[:3, 3]
    d_cam = pixel_rays(k, width, height)  # z = 1, so the ray parameter is the camera-frame depth
    d_world = (d_cam @ rot.T).astype(np.float32)
    focal = float(np.sqrt(abs(np.linalg.det(k[:2, :2]))))
    depth = np.full((height, width), np.inf, np.float32)
    hit_q = np.full((height, width), -1, np.int32)
    for qi, q in enumerate(world.quads):
        # Screen-space bounding box when the whole rectangle lies in front of the camera: test only there.
        corners_cam = (q.corners() - centre) @ rot
        y0, y1, x0, x1 = 0, height, 0, width
        if np.all(corners_cam[:, 2] > 1e-3):
            uv = corners_cam @ k.T
            px, py = uv[:, 0] / uv[:, 2], uv[:, 1] / uv[:, 2]
            x0, x1 = max(0, int(np.floor(px.min()))), min(width, int(np.ceil(px.max())) + 1)
            y0, y1 = max(0, int(np.floor(py.min()))), min(height, int(np.ceil(py.max())) + 1)
            if x0 >= x1 or y0 >= y1:
                continue
        elif np.all(corners_cam[:, 2] <= 1e-3):
            continue
        axes = np.stack([q.normal, q.u_axis, q.v_axis], 1).astype(np.float32)  # columns n, u, v
        proj = d_world[y0:y1, x0:x1] @ axes  # [h, w, 3]: d.n, d.u, d.v
        rel = centre - q.origin
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.float32(-(rel @ q.normal)) / proj[..., 0]
        a = np.float32(rel @ q.u_axis) + t * proj[..., 1]
        b = np.float32(rel @ q.v_axis) + t * proj[..., 2]
        dz = depth[y0:y1, x0:x1]
        ok = (t > 1e-6) & (t < dz) & (a >= 0) & (a <= q.width) & (b >= 0) & (b <= q.height)
        dz[ok] = t[ok]
        hit_q[y0:y1, x0:x1][ok] = qi

    rgb = np.empty((height * width, 3), np.float32)
    rgb[:] = world.background
    flat_q = hit_q.reshape(-1)
    hit = np.nonzero(flat_q >= 0)[0]
    if hit.size == 0:
        return rgb.reshape(height, width, 3), depth
    atlas = world.atlas()
    qh = flat_q[hit]
    # Surface coordinates of the winning hits, recomputed in float64 from the ray depth.
    geo = world.geometry()
    d = d_world.reshape(-1, 3)[hit].astype(np.float64)
    x = centre + depth.reshape(-1)[hit, None].astype(np.float64) * d
    rel = x - geo["origin"][qh]
    fa = np.clip(np.einsum("pk,pk->p", rel, geo["u"][qh]) / geo["width"][qh], 0.0, 1.0)
    fb = np.clip(np.einsum("pk,pk->p", rel, geo["v"][qh]) / geo["height"][qh], 0.0, 1.0)
    dn = np.linalg.norm(d, axis=-1)
    cos = np.abs(np.einsum("pk,pk->p", d, geo["normal"][qh])) / dn
    # Pixel footprint on the surface (metres), geometric mean of its two axes: ray length / (f sqrt|cos|),
    # times the texture's texels per metre -> mip level (trilinear: blend the two nearest levels).
    footprint = depth.reshape(-1)[hit] * dn / (focal * np.sqrt(np.maximum(cos, 1e-3)))
    lod = np.log2(np.maximum(footprint * world.texel_density()[qh], 1.0))
    lod = np.minimum(lod, atlas.num_levels[qh] - 1.0)
    l0 = np.floor(lod).astype(np.int64)
    l1 = np.minimum(l0 + 1, atlas.num_levels[qh] - 1)
    frac = (lod - l0).astype(np.float32)[:, None]
    c = atlas.sample(qh, l0, fa, fb)
    blend = np.nonzero(frac[:, 0] > 0)[0]  # magnified pixels (lod 0) need one level only
    if blend.size:
        f = frac[blend]
        c[blend] = c[blend] * (1 - f) + atlas.sample(qh[blend], l1[blend], fa[blend], fb[blend]) * f
    rgb[hit] = c * world.shades()[qh, None]
    return rgb.reshape(height, width, 3), depth
