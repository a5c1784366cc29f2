"""Ground truth of a run, in the DESIGN.md ``gt/`` form under ``RUN/gt`` when it has to be made.

Synthetic scenes bring their own ``gt/``; COLMAP / Deblur-NeRF scenes ship sharp images of the training views
(``images_test/``) and held-out views (``hold=N``); ``--ground-truth SCENE`` maps a synthetic scene's ``gt/`` onto
the run's frame names (through ``frames.json``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from deblur2d.io.atomic import atomic_dir, write_json_atomic
from deblur2d.io.errors import UserError

from .manifest import Run

__all__ = ["dataset_ground_truth", "ground_truth"]


def dataset_ground_truth(run: Run, scene: Path) -> tuple[Path | None, Path | None, Path | None]:
    """Ground truth a COLMAP / Deblur-NeRF scene ships: sharp images of the training views (``images_test/``)
    and held-out views (``hold=N``), in the DESIGN.md ``gt/`` form under ``RUN/gt``."""
    from reconstruction.io.scenes import read_scene

    cams = read_scene(scene, images=run.args.images)
    files = json.loads((run.root / "cameras.json").read_text())["files"]
    if cams.sharp is None and cams.test is None:
        return None, None, None
    gt: dict[str, Any] = {"width": cams.width, "height": cams.height, "K": cams.K.tolist(),
                          "frames": [{"file": f, "c2w_mid": c.tolist()} for f, c in zip(cams.files, cams.c2ws)],
                          "test": [], "source": f"{scene} ({cams.source})"}
    sharp_dir = None
    if cams.sharp is not None and list(cams.files) == list(files):
        sharp_dir = run.root / "gt" / "sharp"
        with atomic_dir(sharp_dir) as tmp:
            for mine, theirs in zip(files, cams.sharp.files, strict=True):
                shutil.copy2(cams.sharp.dir / theirs, tmp / mine)
    test_dir = None
    if cams.test is not None:
        gt["test"] = [{"file": f, "c2w": c.tolist()} for f, c in zip(cams.test.files, cams.test.c2ws)]
        test_dir = cams.test.dir
    write_json_atomic(run.root / "gt" / "cameras.json", gt)
    return sharp_dir, run.root / "gt" / "cameras.json", test_dir


def ground_truth(run: Run, kind: str, scene: Path) -> tuple[Path | None, Path | None, Path | None]:
    """``(gt sharp dir with the run's frame names, gt cameras.json, held-out views dir)``, written under
    ``RUN/gt`` when needed."""
    a = run.args
    if kind == "synthetic" and a.ground_truth is None:
        return scene / "gt" / "sharp", scene / "gt" / "cameras.json", scene / "gt" / "test"
    if kind in ("colmap", "llff", "nerfstudio") and a.ground_truth is None:
        return dataset_ground_truth(run, scene)
    if a.ground_truth is None:
        return None, None, None
    from reconstruction.io.gt_cameras import load_gt

    src = a.ground_truth
    if not (src / "gt" / "cameras.json").is_file():
        raise UserError(f"--ground-truth {src}: not a synthetic scene (no gt/cameras.json); give a make-scene folder")
    gt = load_gt(src)
    files_gt = list(gt["files"])
    files = sorted(p.name for p in (scene / "images").iterdir() if not p.name.startswith("."))
    frames_json = scene / "frames.json"
    record = json.loads(frames_json.read_text()) if frames_json.is_file() else {}
    mapping: dict[str, str] = {}
    if record.get("kind") == "images":  # frames keep the source's stem (maybe rank-prefixed): map back to it
        for f in record["frames"]:
            if f["source_file"] not in files_gt:
                raise UserError(f"--ground-truth {src}: no ground truth for frame {f['source_file']}; names must match")
            mapping[f["file"]] = f["source_file"]
    elif record.get("kind") == "video":
        for f in record["frames"]:
            i = int(f["source_index"])
            if i >= len(files_gt):
                raise UserError(f"--ground-truth {src}: has {len(files_gt)} frames but the video frame {i} was used; "
                                "give the scene the video was made from")
            mapping[f["file"]] = files_gt[i]
    else:
        missing = [f for f in files if f not in files_gt]
        if missing:
            raise UserError(f"--ground-truth {src}: no ground truth for frame {missing[0]}; names must match")
        mapping = {f: f for f in files}
    out = run.root / "gt"
    cams = json.loads((src / "gt" / "cameras.json").read_text())
    by_file = {fr["file"]: fr for fr in cams["frames"]}
    with atomic_dir(out / "sharp") as tmp:
        for mine, theirs in mapping.items():
            shutil.copy2(src / "gt" / "sharp" / theirs, tmp / mine)
    cams["frames"] = [{**by_file[theirs], "file": mine} for mine, theirs in sorted(mapping.items())]
    write_json_atomic(out / "cameras.json", cams)
    return out / "sharp", out / "cameras.json", src / "gt" / "test"
