"""``gt/cameras.json`` of a scene folder (DESIGN.md), read into numpy arrays.

Written by ``sharpsplat make-scene`` (:mod:`reconstruction.synthetic.generate`) and by ``sharpsplat reconstruct``
for the ground truth a dataset ships; read by the scene readers, the trainers, the evaluation and the pipeline.
Reading it is I/O, so it lives here, below the synthetic generator: nothing has to import the generator to read
a ground truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deblur2d.io.errors import UserError

__all__ = ["load_gt"]


def load_gt(scene_dir: str | Path) -> dict:
    """Read ``gt/cameras.json`` of a synthetic scene; matrices as numpy float64 arrays.

    Returns a dict with ``width``, ``height`` (int), ``K`` ``[3, 3]``, ``files`` (list[str]), ``c2w_mid``
    ``[N, 4, 4]``, ``c2w_sub`` ``[N, S, 4, 4]``, ``test_files``, ``c2w_test`` ``[T, 4, 4]``, ``blur_px``
    ``[N]`` (when present) and ``raw`` (the parsed JSON, with every extra key).
    """
    path = Path(scene_dir) / "gt" / "cameras.json"
    if not path.is_file():
        raise UserError(f"{path}: not found; is {scene_dir} a synthetic scene made by `sharpsplat make-scene`?")
    raw = json.loads(path.read_text())
    frames, test = raw["frames"], raw.get("test", [])
    out = {
        "width": int(raw["width"]),
        "height": int(raw["height"]),
        "K": np.asarray(raw["K"], np.float64),
        "files": [f["file"] for f in frames],
        "c2w_mid": np.asarray([f["c2w_mid"] for f in frames], np.float64).reshape(-1, 4, 4),
        "c2w_sub": np.asarray([f["c2w_sub"] for f in frames], np.float64),
        "test_files": [t["file"] for t in test],
        "c2w_test": np.asarray([t["c2w"] for t in test], np.float64).reshape(-1, 4, 4),
        "raw": raw,
    }
    if frames and "blur_px" in frames[0]:
        out["blur_px"] = np.asarray([f["blur_px"] for f in frames], np.float64)
    return out
