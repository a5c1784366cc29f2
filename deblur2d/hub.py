"""``sharpsplat weights list|get NAME``: the official MIMO-UNet checkpoints, one command away, never by surprise.

The authors' release (github chosj95/MIMO-UNet, README "Pretrained models") keeps its checkpoints on Google Drive;
the file ids below are those quoted from that README in this project's issue 13 (no machine here reaches Drive or
that README to check them; :func:`download` verifies whatever arrives). ``get`` downloads one with ``gdown`` (an
optional extra: ``pip install 'sharpsplat[download]'``) into a per-user cache, ``$SHARPSPLAT_CACHE/weights`` or
``$XDG_CACHE_HOME/sharpsplat/weights`` (default ``~/.cache/sharpsplat/weights``). The file is downloaded to a
temporary name, kept only after it loads strictly into its architecture, then renamed: a truncated file, an HTML
error page (Drive's quota or permission pages) or the wrong network leaves nothing behind. Nothing here runs
unless the user asks; ``--weights NAME`` then finds the cached file (see :func:`resolve_weights`).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .io.errors import UserError


@dataclass(frozen=True)
class Checkpoint:
    name: str
    model: str
    """Architecture (a name of :data:`deblur2d.mimo_unet.MODELS`)."""
    drive_id: str
    """Google Drive file id from the official README."""
    trained_on: str
    reported: str
    """What the paper reports for it (Cho et al., ICCV 2021, Tables 1 and 5)."""


OFFICIAL: dict[str, Checkpoint] = {
    c.name: c
    for c in (
        Checkpoint("MIMO-UNet", "mimo-unet", "1EQJoQj3YMLFfzrbgzWMD3Xj96RqLdIlx", "GoPro", "GoPro 31.73 dB"),
        Checkpoint("MIMO-UNetPlus", "mimo-unet-plus", "166sufeHcdDTgXHNbCRzTC4T6DzuflB5m", "GoPro",
                   "GoPro 32.45 dB"),
        Checkpoint("MIMO-UNetPlus-RealBlur", "mimo-unet-plus", "1N3n-ozw1twt96ohX4tjsSAIcHrlNwHZ7",
                   "RealBlur-J", "RealBlur-J 31.92 dB"),
    )
}


def cache_dir() -> Path:
    """Where downloaded weights live (created on demand)."""
    if os.environ.get("SHARPSPLAT_CACHE"):
        return Path(os.environ["SHARPSPLAT_CACHE"]) / "weights"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sharpsplat" / "weights"


def cached_path(name: str) -> Path:
    return cache_dir() / f"{name}.pkl"


def resolve_weights(value: str | os.PathLike) -> Path:
    """``--weights`` value -> a file: an existing path as it is, else the cached official checkpoint of that name.

    UserError names what to run when ``value`` is an official name not downloaded yet, or neither a file nor a name.
    """
    p = Path(value)
    if p.is_file():
        return p
    key = next((n for n in OFFICIAL if n.lower() == str(value).lower()), None)
    if key is not None:
        c = cached_path(key)
        if c.is_file():
            return c
        raise UserError(f"--weights {value}: not downloaded yet; run `sharpsplat weights get {key}` "
                        f"(needs internet access to Google Drive), or pass the .pkl path")
    raise UserError(f"--weights {value}: no such file, and not an official checkpoint name "
                    f"({', '.join(OFFICIAL)}; see `sharpsplat weights list`)")


def verify_checkpoint(path: Path, model: str) -> None:
    """Load ``path`` strictly into ``model``; UserError (one line) if it is not that network's checkpoint."""
    from .mimo_unet import build_model
    from .weights import load_weights

    head = path.read_bytes()[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise UserError(f"downloaded an HTML page instead of a checkpoint ({path.name}): Google Drive may refuse "
                        "the download (quota, permission); try again later or download it in a browser")
    load_weights(build_model(model), path, model_name=model)


def download(name: str, url: str | None = None, force: bool = False, quiet: bool = False) -> Path:
    """Download official checkpoint ``name`` into the cache (``url`` overrides the Drive address, for tests)."""
    key = next((n for n in OFFICIAL if n.lower() == name.lower()), None)
    if key is None:
        raise UserError(f"weights get {name}: unknown name; choose one of {', '.join(OFFICIAL)}")
    ck = OFFICIAL[key]
    dest = cached_path(key)
    if dest.is_file() and not force:
        print(f"{key}: already in the cache, {dest} (--force downloads it again)", file=sys.stderr)
        return dest
    try:
        import gdown
    except ImportError:
        raise UserError("weights get needs gdown: pip install 'sharpsplat[download]' (or pip install gdown)") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    source = url or f"https://drive.google.com/uc?id={ck.drive_id}"
    print(f"{key}: downloading {source} -> {dest}", file=sys.stderr)
    try:
        try:
            gdown.download(url=source, output=str(tmp), quiet=quiet)
        except Exception as e:  # gdown raises many kinds (HTTP, retrieval, connection)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"weights get {key}: download failed: {msg[:200]}") from None
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise UserError(f"weights get {key}: the download was empty")
        try:
            verify_checkpoint(tmp, ck.model)
        except UserError as e:
            raise UserError(f"weights get {key}: {e}; nothing was kept") from None
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"{key}: verified ({ck.model}) and cached at {dest}; use it with --weights {key}", file=sys.stderr)
    return dest


def main(argv: list[str]) -> int:
    """Entry point of ``sharpsplat weights``."""
    from .weights import WEIGHTS_DIR, default_weights_path

    ap = argparse.ArgumentParser(prog="sharpsplat weights", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="shipped and official weights, and which are in the cache")
    g = sub.add_parser("get", help="download an official checkpoint into the cache (needs Google Drive access)")
    g.add_argument("name", help=", ".join(OFFICIAL))
    g.add_argument("--force", action="store_true", help="download again even if cached")
    g.add_argument("--url", default=None, help="download from this address instead of Google Drive")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        shipped = default_weights_path()
        print("shipped (used by default):")
        for p in sorted(WEIGHTS_DIR.glob("*.safetensors")):
            print(f"  {p.stem:24s} {p}" + ("  [default]" if shipped and p == shipped else ""))
        print(f"official (Cho et al. 2021; `sharpsplat weights get NAME`, cache {cache_dir()}):")
        for c in OFFICIAL.values():
            state = "cached" if cached_path(c.name).is_file() else "not downloaded"
            print(f"  {c.name:24s} {c.model:15s} trained on {c.trained_on:10s} paper: {c.reported:18s} {state}")
        return 0
    download(args.name, url=args.url, force=args.force)
    return 0
