"""What ``sharpsplat compare`` compares: the spec (``RUN/compare.json`` or ``--method NAME=DIR`` flags), checked.

A spec::

    {"files": [names in order], "methods": {name: dir}, "ground_truth": dir | null,
     "trajectories": file | null, "true_trajectories": file | null, "train_logs": {name: file}, "title", "notes"}

Paths are relative to the run folder (or absolute). A method whose folder is missing or lacks any frame is left
out with a note; it is an error only when no method is left.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deblur2d.io.errors import UserError
from reconstruction.io.image_folders import list_images

__all__ = ["load_spec", "resolve_inputs", "resolve_path", "spec_from_flags"]


def resolve_path(base: Path, p: str | Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else base / p


def load_spec(run: Path | None, spec_path: Path | None) -> dict[str, Any]:
    """Read a compare spec (default ``RUN/compare.json``); UserError naming the file when absent or invalid."""
    path = spec_path or (run / "compare.json" if run is not None else None)
    if path is None:
        raise UserError("give a RUN folder, --spec FILE or --method NAME=DIR flags")
    if not path.is_file():
        raise UserError(f"{path}: not found; pass --spec FILE or --method NAME=DIR (with --out DIR)")
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(spec, dict):
        raise UserError(f"{path}: expected a JSON object with 'methods'")
    return spec


def spec_from_flags(
    methods: list[str],
    gt: Path | None = None,
    trajectories: Path | None = None,
    true_trajectories: Path | None = None,
    train_logs: list[str] = (),
    title: str = "",
) -> dict[str, Any]:
    """A spec from ``NAME=DIR`` strings (paths made absolute, so they hold for any run folder)."""

    def pairs(items: list[str], flag: str) -> dict[str, str]:
        out = {}
        for item in items:
            name, sep, path = item.partition("=")
            if not sep or not name.strip() or not path.strip():
                raise UserError(f"{flag} {item!r}: expected NAME=PATH, e.g. {flag} 'DeblurGS=runs/a/deblurred'")
            out[name.strip()] = str(Path(path.strip()).resolve())
        return out

    spec: dict[str, Any] = {"methods": pairs(methods, "--method")}
    spec["ground_truth"] = str(gt.resolve()) if gt else None
    spec["trajectories"] = str(trajectories.resolve()) if trajectories else None
    spec["true_trajectories"] = str(true_trajectories.resolve()) if true_trajectories else None
    spec["train_logs"] = pairs(train_logs, "--train-log")
    if title:
        spec["title"] = title
    return spec


def resolve_inputs(base: Path, spec: dict[str, Any]) -> tuple[list[str], dict[str, Path], Path | None, list[str]]:
    """(files, usable methods, ground-truth folder, notes). Methods with a missing folder or frame are left out."""
    methods_in = spec.get("methods") or {}
    if not isinstance(methods_in, dict) or not methods_in:
        raise UserError("no methods to compare: the spec's 'methods' is empty; give --method NAME=DIR")
    gt = spec.get("ground_truth")
    gt_dir = resolve_path(base, gt) if gt else None
    if gt_dir is not None and not gt_dir.is_dir():
        raise UserError(f"ground truth {gt_dir}: not a folder; fix --gt (or 'ground_truth' in the spec) or drop it")
    files = spec.get("files")
    if files is None:  # from flags: the frames of the ground truth, else of the first method folder that exists
        src = gt_dir or next((d for d in (resolve_path(base, v) for v in methods_in.values()) if d.is_dir()), None)
        files = list_images(src) if src is not None else []
        if src is not None and not files:
            raise UserError(f"{src}: no images (.png, .jpg, ...) to compare")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise UserError("spec 'files': expected a list of file names")
    notes: list[str] = []
    methods: dict[str, Path] = {}
    for name, d in methods_in.items():
        if not isinstance(d, str) or not d:
            raise UserError(f"method {name!r}: expected a folder path, got {d!r}")
        if name.strip().lower() in ("ground truth", "gt"):
            raise UserError(f"method name {name!r} is reserved; give the ground truth with --gt / 'ground_truth'")
        folder = resolve_path(base, d)
        if not folder.is_dir():
            notes.append(f"{name} left out: folder {folder} not found")
            continue
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            notes.append(f"{name} left out: {folder} lacks {len(missing)} of {len(files)} frames (e.g. {missing[0]})")
            continue
        methods[name] = folder
    if not methods:
        raise UserError("nothing to compare: " + "; ".join(notes))
    if not files:
        raise UserError("no frames to compare: the spec's 'files' is empty")
    if gt_dir is not None:
        missing = [f for f in files if not (gt_dir / f).is_file()]
        if missing:
            raise UserError(f"ground truth {gt_dir}: lacks {len(missing)} of {len(files)} frames (e.g. {missing[0]})")
    return files, methods, gt_dir, notes
