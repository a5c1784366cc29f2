"""PLY export and import of Gaussian scenes in the layout of the original 3DGS code.

Layout (``GaussianModel.save_ply`` / ``construct_list_of_attributes`` in graphdeco-inria/gaussian-splatting),
one ``element vertex`` of ``float`` (float32) properties, ``binary_little_endian 1.0``, in this order::

    x y z  nx ny nz  f_dc_0 f_dc_1 f_dc_2  f_rest_0 .. f_rest_{3(K-1)-1}  opacity  scale_0..2  rot_0..3

- normals are written as zeros;
- ``f_dc_c`` is the degree-0 SH coefficient of channel c; ``f_rest`` is channel-major, as the original
  ``features_rest.transpose(1, 2).flatten(1)``: ``f_rest_{c (K-1) + j}`` is coefficient ``j + 1`` of
  channel c;
- ``opacity`` is the logit, ``scale_*`` the log standard deviations, ``rot_*`` the quaternion (w, x, y, z),
  not necessarily unit.

Viewers that read 3DGS scenes (SuperSplat, antimatter15/splat, the SIBR viewer, gsplat's and nerfstudio's
loaders) accept this file. Import reads this layout back (any SH degree 0..3, float or double properties, any
property order, extra properties ignored) and gives the same parameters bit for bit.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from deblur2d.io.atomic import atomic_path

from .gaussians import GaussianModel

__all__ = ["save_ply", "load_ply", "read_ply_header", "ply_property_names"]

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip


def ply_property_names(sh_degree: int) -> list[str]:
    """Property names, in file order, for SH degree ``sh_degree`` (0..3)."""
    n_rest = 3 * ((sh_degree + 1) ** 2 - 1)
    return (
        ["x", "y", "z", "nx", "ny", "nz"]
        + [f"f_dc_{i}" for i in range(3)]
        + [f"f_rest_{i}" for i in range(n_rest)]
        + ["opacity"]
        + [f"scale_{i}" for i in range(3)]
        + [f"rot_{i}" for i in range(4)]
    )


#: Zeroth-order real SH constant 1 / (2 sqrt(pi)); rendered colour = SH_C0 * f_dc + 0.5 + higher bands (gsplat).
SH_C0 = 0.2820947917738781
#: Cap on the slope d sRGB / d linear used for the higher SH bands (the slope is infinite at black).
_MAX_SLOPE = 10.0


def linear_sh_to_srgb(sh0: torch.Tensor, shN: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-encode SH colour fitted in linear light (``sh0 [N,1,3]``, ``shN [N,K-1,3]``) for sRGB viewers.

    Common splat viewers assume the colours of a 3DGS PLY are sRGB-encoded (3DGS trains on sRGB photos). The
    base colour ``SH_C0 * sh0 + 0.5`` maps exactly through ``linear_to_srgb``; the view-dependent bands are
    scaled by the local slope of that curve (first order, slope capped at 10), an approximation that is exact
    for SH degree 0.
    """
    from deblur2d.io.color import linear_to_srgb

    base = (SH_C0 * sh0 + 0.5).clamp(0.0, 1.0)
    base_srgb = linear_to_srgb(base)
    slope = (base_srgb / base.clamp_min(1e-6) / 2.2).clamp(max=_MAX_SLOPE)  # d(x^(1/2.2))/dx = y / (2.2 x)
    return (base_srgb - 0.5) / SH_C0, shN * slope


def save_ply(path: str | os.PathLike, model: GaussianModel, linear_colors: bool = False) -> Path:
    """Write ``model`` as a 3DGS PLY at ``path`` (atomically); returns the path.

    ``linear_colors``: the model's colours are linear light (DeblurGS); they are re-encoded to sRGB with
    :func:`linear_sh_to_srgb` so that viewers show them right.
    """
    p = {k: v.detach().cpu().float() for k, v in model.params.items()}
    if linear_colors:
        p["sh0"], p["shN"] = linear_sh_to_srgb(p["sh0"], p["shN"])
    n = p["means"].shape[0]
    f_dc = p["sh0"].transpose(1, 2).reshape(n, -1)  # [N, 3]
    f_rest = p["shN"].transpose(1, 2).reshape(n, -1)  # [N, 3 (K-1)], channel-major
    cols = torch.cat(
        [p["means"], torch.zeros(n, 3), f_dc, f_rest, p["opacities"].reshape(n, 1), p["scales"], p["quats"]],
        dim=1,
    ).numpy()
    names = ply_property_names(model.sh_degree_max)
    assert cols.shape[1] == len(names)
    # Exactly what plyfile writes for the 3DGS code (no comment lines: some web viewers parse naively).
    header = "ply\nformat binary_little_endian 1.0\n"
    header += f"element vertex {n}\n"
    header += "".join(f"property float {name}\n" for name in names)
    header += "end_header\n"
    data = np.ascontiguousarray(cols, dtype="<f4")
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(header.encode("ascii"))
            f.write(data.tobytes())
            f.flush()
            os.fsync(f.fileno())
    return path


def read_ply_header(f) -> tuple[str, list[tuple[str, int, list[tuple[str, str]]]]]:
    """Parse a PLY header from a binary file object positioned at its start.

    Returns ``(format, elements)`` with elements as ``(name, count, [(property, numpy dtype), ...])``; the
    file is left at the first data byte. List properties are rejected (3DGS files have none).
    """
    if f.readline().strip() != b"ply":
        raise ValueError("not a PLY file (no 'ply' magic line)")
    fmt = ""
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    while True:
        line = f.readline()
        if not line:
            raise ValueError("PLY header has no end_header")
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            return fmt, elements
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property":
            if not elements:
                raise ValueError("PLY property before any element")
            if words[1] == "list":
                raise ValueError(f"PLY list property {words[-1]!r} is not supported")
            if words[1] not in _PLY_TYPES:
                raise ValueError(f"PLY property type {words[1]!r} is not supported")
            elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))


def load_ply(path: str | os.PathLike, *, sh_degree_interval: int = 1000) -> GaussianModel:
    """Read a 3DGS-layout PLY (see the module docstring) into a :class:`GaussianModel` on the CPU.

    The SH degree is inferred from the number of ``f_rest_*`` properties (0, 9, 24 or 45). Raises
    ``ValueError`` naming the file when the layout is not 3DGS or the format is not binary little endian.
    """
    path = Path(path)
    with open(path, "rb") as f:
        try:
            fmt, elements = read_ply_header(f)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        if fmt != "binary_little_endian":
            raise ValueError(f"{path}: PLY format {fmt!r} is not supported; write binary_little_endian")
        if not elements or elements[0][0] != "vertex":
            raise ValueError(f"{path}: the first PLY element must be 'vertex'")
        _, n, props = elements[0]
        dtype = np.dtype([(name, "<" + t) for name, t in props])
        raw = f.read(n * dtype.itemsize)
    if len(raw) != n * dtype.itemsize:
        raise ValueError(f"{path}: truncated PLY ({len(raw)} of {n * dtype.itemsize} vertex bytes)")
    arr = np.frombuffer(raw, dtype=dtype, count=n)
    names = set(dtype.names or ())
    n_rest = sum(1 for name in names if name.startswith("f_rest_"))
    k = n_rest // 3 + 1
    degree = int(round(math.sqrt(k))) - 1
    if n_rest % 3 or (degree + 1) ** 2 != k or not 0 <= degree <= 3:
        raise ValueError(f"{path}: {n_rest} f_rest properties do not match an SH degree 0..3")
    missing = [name for name in ply_property_names(degree) if name not in names and name[0] != "n"]
    if missing:
        raise ValueError(f"{path}: not a 3DGS PLY, missing properties {missing[:5]}")

    def cols(*keys: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([arr[key].astype(np.float32) for key in keys], axis=1))

    f_dc = cols("f_dc_0", "f_dc_1", "f_dc_2")  # [N, 3]
    if k > 1:
        f_rest = cols(*[f"f_rest_{i}" for i in range(n_rest)]).reshape(n, 3, k - 1).transpose(1, 2)
    else:
        f_rest = torch.zeros(n, 0, 3)
    return GaussianModel(
        means=cols("x", "y", "z"),
        scales=cols("scale_0", "scale_1", "scale_2"),
        quats=cols("rot_0", "rot_1", "rot_2", "rot_3"),
        opacities=cols("opacity")[:, 0],
        sh0=f_dc[:, None, :],
        shN=f_rest.contiguous(),
        sh_degree_max=degree,
        sh_degree_interval=sh_degree_interval,
    )
