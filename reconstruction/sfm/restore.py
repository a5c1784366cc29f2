"""Pre-restoration of SfM frames with MIMO-UNet (``deblur2d.Restorer``): sharper frames register better.

``restore_folder(src, dst)`` restores every image of ``src`` into ``dst`` under the same file name (the format
follows the name's suffix; the SfM front end writes PNG), one file at a time, each written atomically. A hidden
manifest (``dst/.restore.json``) records the weights and the source file (size, time) of every restored frame:
a rerun skips frames restored from the same source with the same weights, so an interrupted run resumes, and
redoes the rest. The restored frames serve SfM only: the
model it finds holds for the originals because the names and sizes are identical.

:func:`weights_available` says whether any weights can be used, so callers can skip restoration with a
stated reason instead of failing. The front end's stage (:mod:`.front_end`): :func:`plan_restore` (which
weights, and why) and :func:`restore_scene` (``scene/images`` -> ``scene/restored``).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from deblur2d.io.atomic import write_json_atomic
from deblur2d.io.errors import UserError
from deblur2d.io.images import ImageInfo, is_image_file, read_image, write_image

__all__ = ["DEFAULT_RESTORE", "MANIFEST", "plan_restore", "restore_folder", "restore_scene", "weights_available"]

#: Pre-restore frames with MIMO-UNet before SfM unless told otherwise (skipped, and said, when no weights exist).
DEFAULT_RESTORE = True

#: Hidden file in the output folder recording what each restored frame was made from (for resuming).
MANIFEST = ".restore.json"


def weights_available(weights: Path | str | None, model: str = "auto") -> Path | None:
    """The weights file restoration would use: ``weights`` if given (a path, or the name of a downloaded
    official checkpoint; UserError naming ``--weights`` when it is neither), else the shipped default
    (``model="auto"``: the shipped compact MIMO-UNet; another name: that network's shipped file), else None."""
    if weights is not None:
        from deblur2d.hub import resolve_weights

        return resolve_weights(weights)
    from deblur2d.weights import default_weights_path

    return default_weights_path(None if model == "auto" else model)


def _read_manifest(dst: Path) -> dict:
    try:
        return json.loads((dst / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _images(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if is_image_file(p) and not p.name.startswith("."))


def restore_folder(
    src: Path,
    dst: Path,
    weights: Path | None = None,
    model: str = "auto",
    device: str = "auto",
    progress: bool = True,
    *,
    threads: int | None = None,
    verbose: bool = True,
) -> dict:
    """Restore every image of ``src`` into ``dst`` (same names); skip frames already restored (manifest).

    ``weights``: checkpoint path, or None for the shipped default (UserError naming ``--weights`` when none
    ship). Shows a tqdm bar (rate, ETA) when ``progress``; prints one line on stderr when done (``verbose``).
    Returns ``{"n", "restored", "skipped", "seconds", "seconds_per_frame", "weights", "model", "device",
    "precision", "restorer"}`` (``restorer``: :meth:`Restorer.describe`).
    """
    from tqdm import tqdm

    from deblur2d.restorer import Restorer

    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise UserError(f"{src}: not a folder of frames to restore")
    names = _images(src)
    if not names:
        raise UserError(f"{src}: no images to restore")
    if dst.resolve() == src.resolve():
        raise UserError(f"{dst}: restored frames must go to another folder than {src}")
    if weights is None and weights_available(None, model) is None:
        from deblur2d.weights import DEFAULT_MODEL

        raise UserError(
            f"no weights for {DEFAULT_MODEL if model == 'auto' else model} ship with this install; pass --weights "
            "PATH (a sharpsplat .safetensors or the official MIMO-UNet .pkl) or turn restoration off (--no-restore)"
        )
    restorer = Restorer(model=model, weights=weights, device=device, threads=threads or None)
    # The manifest says which source file (size, time) and weights each restored file came from: a file is
    # skipped only when both still match, and restored files whose source is gone are removed.
    wfile = restorer.weights
    setup = {"weights": str(wfile) if wfile else "random", "model": restorer.model_name,
             "weights_file": [wfile.stat().st_size, wfile.stat().st_mtime_ns] if wfile else None,
             "precision": str(restorer.precision)}  # retrained weights at the same path redo the frames
    manifest = _read_manifest(dst)
    done = manifest.get("files", {}) if manifest.get("setup") == setup else {}
    sources = {n: _stat(src / n) for n in names}
    for stale in set(done) - set(names):
        (dst / stale).unlink(missing_ok=True)
    done = {n: v for n, v in done.items() if n in sources and v == sources[n] and (dst / n).is_file()}
    todo = [n for n in names if n not in done]
    dst.mkdir(parents=True, exist_ok=True)
    t_net = time.perf_counter()
    with tqdm(
        total=len(names), initial=len(names) - len(todo), desc="restore", unit="frame", disable=not progress
    ) as bar:
        for name in todo:
            img, info = read_image(src / name)
            write_image(dst / name, restorer.restore(img), ImageInfo(bit_depth=info.bit_depth))
            done[name] = sources[name]
            write_json_atomic(dst / MANIFEST, {"setup": setup, "files": done})
            bar.update(1)
    if not todo:
        write_json_atomic(dst / MANIFEST, {"setup": setup, "files": done})
    seconds = time.perf_counter() - t0
    summary = {
        "n": len(names),
        "restored": len(todo),
        "skipped": len(names) - len(todo),
        "seconds": round(seconds, 3),
        "seconds_per_frame": round((time.perf_counter() - t_net) / len(todo), 4) if todo else None,
        "weights": str(restorer.weights) if restorer.weights else "random",
        "model": model,
        "device": restorer.device.type,
        "precision": str(restorer.precision).removeprefix("torch."),
        "restorer": restorer.describe(),
    }
    if verbose:
        skipped = f", {summary['skipped']} already restored" if summary["skipped"] else ""
        print(
            f"restore: {len(todo)} of {len(names)} frames restored{skipped} -> {dst} [{restorer.describe()}] "
            f"({seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    return summary


# -- the restore stage of the SfM front end ----------------------------------------------------------------


def plan_restore(restore: bool | None, weights: Path | None, model: str) -> tuple[Path | None, str]:
    """(weights to restore with or None to skip, the stated reason). ``restore``: None for
    :data:`DEFAULT_RESTORE` (skipped, and said, without weights), True to require it, False for off. UserError
    when restoration was asked for explicitly (``restore=True``) and no weights exist."""
    wanted = DEFAULT_RESTORE if restore is None else restore
    if not wanted:
        return None, "off (--no-restore): SfM runs on the original frames"
    found = weights_available(weights, model)
    if found is not None:
        return found, f"MIMO-UNet ({model}) with {found}"
    from deblur2d.weights import DEFAULT_MODEL

    model = DEFAULT_MODEL if model == "auto" else model
    if restore:
        raise UserError(
            f"--restore: no weights for {model} ship with this install; pass --weights PATH (a sharpsplat "
            ".safetensors or the official MIMO-UNet .pkl) or use --no-restore"
        )
    return None, (
        f"skipped: no weights for {model} ship with this install and no --weights PATH was given; "
        "SfM runs on the original frames"
    )


def restore_scene(
    scene: Path, weights: Path | None, model: str, device: str, progress: bool, threads: int | None
) -> dict:
    """``scene/images`` restored into ``scene/restored`` with ``weights``; with None, an earlier run's
    ``scene/restored`` is removed (SfM no longer runs on it). Returns the report's ``restore`` entry."""
    restored = scene / "restored"
    if weights is None:
        if restored.exists():  # frames of an earlier run with restoration: SfM no longer runs on them
            shutil.rmtree(restored)
        return {"enabled": False}
    summary = restore_folder(
        scene / "images",
        restored,
        weights=weights,
        model=model,
        device=device,
        progress=progress,
        threads=threads,
    )
    return {"enabled": True, **summary}
