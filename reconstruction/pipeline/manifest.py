"""The run folder's ``manifest.json``: which stages finished, with which settings, when, and what they wrote.

A stage records itself only after its outputs are written (atomically), so a rerun skips finished stages and
resumes the rest. A folder of another format version, of another command, or a non-empty folder without a
manifest is refused with a one-line error and left untouched; so is a finished stage whose settings changed
(unless ``--force`` redoes it).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deblur2d.io.atomic import write_json_atomic
from deblur2d.io.errors import UserError
from reconstruction.io.presets import jsonable

from .settings import STAGE_KEYS, STAGES, ReconstructArgs

__all__ = ["RUN_FORMAT", "Run", "load_manifest"]

#: Format version of run folders; a manifest with another one is refused.
RUN_FORMAT = 1


def load_manifest(run: Path) -> dict[str, Any] | None:
    """``RUN/manifest.json`` or ``None`` for a new run; :class:`UserError` for a folder that is not a run of
    this format (another version, another tool, or a non-empty folder without a manifest)."""
    mf = run / "manifest.json"
    if run.exists() and not run.is_dir():
        raise UserError(f"--out {run}: exists and is not a folder; give a new --out")
    if not mf.is_file():
        if run.is_dir() and any(p for p in run.iterdir() if not p.name.startswith(".")):
            raise UserError(f"--out {run}: folder exists, is not empty and has no manifest.json; give a new --out")
        return None
    try:
        m = json.loads(mf.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{mf}: unreadable ({e}); give a new --out") from None
    if not isinstance(m, dict) or m.get("format") != RUN_FORMAT or m.get("kind") != "sharpsplat-reconstruct":
        fmt = m.get("format") if isinstance(m, dict) else None
        raise UserError(
            f"{mf}: not a sharpsplat reconstruct run of format {RUN_FORMAT} (found {fmt!r}: another version or "
            "command); it is left as it is: give a new --out"
        )
    return m


class Run:
    """A run folder and its manifest (stages finished, with their settings, time and outputs)."""

    def __init__(self, args: ReconstructArgs) -> None:
        self.args = args
        self.root = args.out
        m = load_manifest(self.root)
        settings = _settings(args)
        if m is None:
            m = {"format": RUN_FORMAT, "kind": "sharpsplat-reconstruct", "input": str(args.input.resolve()),
                 "created": _now(), "stages": {}}
        else:
            if m.get("input") != str(args.input.resolve()):
                raise UserError(
                    f"--out {self.root}: this run was made from {m.get('input')}, not {args.input.resolve()}; "
                    "give a new --out"
                )
            self._check_settings(m, settings)
        m["settings"] = settings
        self.m = m
        if args.force is not None:
            for st in STAGES[STAGES.index(args.force):]:
                self.m["stages"].pop(st, None)
        self.root.mkdir(parents=True, exist_ok=True)
        self.save()

    def _check_settings(self, m: dict[str, Any], settings: dict[str, Any]) -> None:
        force_from = STAGES.index(self.args.force) if self.args.force else len(STAGES)
        old = m.get("settings", {})
        for st, keys in STAGE_KEYS.items():
            if st not in m["stages"] or STAGES.index(st) >= force_from:
                continue
            moot = set()
            if st == "restore" and not m["stages"][st].get("restored"):  # nothing was restored: network moot
                moot = {"model", "weights"}
            diff = [f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in keys
                    if k not in moot and old.get(k) != settings[k]]
            if diff:
                raise UserError(
                    f"--out {self.root}: stage {st} was finished with other settings ({'; '.join(diff)}); rerun with "
                    f"--force {st} to redo it and what follows, or give a new --out"
                )

    def done(self, stage: str) -> bool:
        return stage in self.m["stages"]

    def finish(self, stage: str, seconds: float, **info: Any) -> None:
        self.m["stages"][stage] = {"seconds": round(seconds, 2), "finished": _now(), **info}
        self.save()

    def save(self) -> None:
        write_json_atomic(self.root / "manifest.json", jsonable(self.m))


def _settings(args: ReconstructArgs) -> dict[str, Any]:
    keys = {k for ks in STAGE_KEYS.values() for k in ks}
    return {k: jsonable(getattr(args, k)) for k in sorted(keys)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
