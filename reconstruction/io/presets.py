"""Named TOML presets for the ``sharpsplat`` commands (``configs/<prefix><name>.toml``), applied to their
tyro dataclasses before the command-line flags, which override them.

A preset's keys mirror the dataclass fields (nested tables for nested dataclasses); ``description`` is
documentation only. Unknown keys, unknown names and bad TOML are one-line :class:`UserError`s.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import tomllib

from deblur2d.io.errors import UserError

__all__ = ["CONFIG_DIR", "apply_dict", "preset_path", "load_preset_into", "preset_from_argv", "jsonable"]

#: Folder of the named presets (the repository's ``configs/``; not a Python package).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

T = TypeVar("T")


def apply_dict(obj: T, values: dict[str, Any], where: str = "") -> T:
    """A copy of dataclass ``obj`` with ``values`` (nested dicts for nested dataclasses) applied; lists become
    tuples where the field holds a tuple. Unknown keys raise :class:`UserError`."""
    names = {f.name for f in dataclasses.fields(obj)}
    changes = {}
    for key, val in values.items():
        if key not in names:
            raise UserError(f"preset {where or 'file'}: unknown key {key!r}; known: {', '.join(sorted(names))}")
        cur = getattr(obj, key)
        if dataclasses.is_dataclass(cur) and isinstance(val, dict):
            changes[key] = apply_dict(cur, val, f"{where}.{key}" if where else key)
        elif isinstance(cur, tuple) and isinstance(val, list):
            changes[key] = tuple(val)
        elif isinstance(cur, Path) or (cur is None and key in _PATH_KEYS):
            changes[key] = Path(val)
        else:
            changes[key] = val
    return dataclasses.replace(obj, **changes)


_PATH_KEYS = {"weights", "ground_truth", "out", "scene"}


def preset_path(name: str, prefix: str) -> Path:
    """TOML file of preset ``name``: a ``.toml`` path, or ``CONFIG_DIR/<prefix><name>.toml`` (the full stem
    ``<prefix><name>`` works too)."""
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return p
    for cand in (CONFIG_DIR / f"{prefix}{name}.toml", CONFIG_DIR / f"{name}.toml"):
        if cand.is_file() and cand.stem.startswith(prefix):
            return cand
    known = sorted(q.stem.removeprefix(prefix) for q in CONFIG_DIR.glob(f"{prefix}*.toml"))
    raise UserError(f"--preset: no preset {name!r} in {CONFIG_DIR}; choose one of: {', '.join(known)}")


def load_preset_into(base: T, name: str, prefix: str) -> T:
    """``base`` with the TOML values of preset ``name`` applied."""
    path = preset_path(name, prefix)
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None
    values.pop("description", None)
    return apply_dict(base, values, path.name)


def preset_from_argv(argv: list[str], default: str) -> str:
    """The value of ``--preset`` in ``argv`` (before tyro parses the rest), else ``default``."""
    for i, a in enumerate(argv):
        if a == "--preset" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--preset="):
            return a.split("=", 1)[1]
    return default


def jsonable(x: Any) -> Any:
    """Paths -> str, tuples -> lists, numpy/torch scalars -> Python numbers, recursively."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    return x
