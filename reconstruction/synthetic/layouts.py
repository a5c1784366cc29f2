"""Synthetic scenes re-laid as the downloads of the deblurring benchmarks, so that their readers and the
Deblur-NeRF protocol (``scripts/bench_deblurnerf.py``) can be measured against a known truth.

A Deblur-NeRF scene (Ma et al., CVPR 2022, its ``llffhold`` convention; BAD-Gaussians and DeblurGS use the same
files) holds its blurry training views and its sharp novel views in ONE image folder, every ``hold``-th view
being a sharp novel view, a ``hold=N`` marker file, and ``poses_bounds.npy`` (LLFF) for all of them in sorted
name order; no points.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from deblur2d.io.atomic import atomic_dir
from deblur2d.io.errors import UserError
from reconstruction.io.gt_cameras import load_gt
from reconstruction.io.scenes import llff_poses_bounds


def write_deblurnerf_layout(synth: str | Path, out: str | Path, images: str = "images") -> Path:
    """Copy the synthetic scene ``synth`` (``make_scene``) into ``out`` in the Deblur-NeRF layout: blurry frames
    and sharp held-out views interleaved as ``out/<images>/NNN.png`` (every ``hold``-th a held-out view, the
    smallest ``hold`` that gives as many held-out views as the scene has), ``out/hold=N``,
    ``out/poses_bounds.npy``. The held-out views sit on the capture path between frames, like the benchmark's.
    ``out`` is written whole or not at all; returns it."""
    synth, out = Path(synth), Path(out)
    gt = load_gt(synth)
    n_train, n_test = len(gt["files"]), len(gt["test_files"])
    n = n_train + n_test
    holds = [h for h in range(2, n + 1) if n_test and -(-n // h) == n_test]  # views 0, h, 2h, ... held out
    if not holds:
        raise UserError(f"{synth}: {n_train} frames and {n_test} held-out views cannot interleave as every N-th view")
    hold = holds[0]
    if out.exists():
        raise UserError(f"{out}: already exists; choose a new folder")
    train = iter(zip(gt["files"], gt["c2w_mid"], strict=True))
    test = iter(zip(gt["test_files"], gt["c2w_test"], strict=True))
    poses = []
    with atomic_dir(out) as tmp:
        (tmp / images).mkdir()
        for k in range(n):
            if k % hold == 0:
                name, c2w = next(test)
                src = synth / "gt" / "test" / name
            else:
                name, c2w = next(train)
                src = synth / "images" / name
            shutil.copy(src, tmp / images / f"{k:0{max(3, len(str(n - 1)))}d}{src.suffix}")  # sorted = capture order
            poses.append(c2w)
        np.save(tmp / "poses_bounds.npy", llff_poses_bounds(np.stack(poses), gt["height"], gt["width"],
                                                             float(gt["K"][0, 0])))  # fmt: skip
        (tmp / f"hold={hold}").touch()
    return out
