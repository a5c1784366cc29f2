"""``sharpsplat view RUN [--port N] [--host 127.0.0.1]``: a finished run in 3D in the browser (viser).

The DeblurGS splats (or the 3DGS-on-blurry baseline), the training cameras with their frames, each frame's
in-exposure trajectory magnified (and the true one on synthetic scenes), the SfM points and the novel camera path,
each a toggle; click a camera to look through it and see its blurry, MIMO-UNet and DeblurGS versions. Loopback
only unless ``--host`` says otherwise; Ctrl-C stops it. See :mod:`reconstruction.viewer`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from .manifest import RUN_FORMAT

__all__ = ["ViewArgs", "main"]


@dataclass
class ViewArgs:
    """See a run in 3D in the browser: splats, training cameras, each frame's camera shake."""

    run: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")]
    """Run folder of `sharpsplat reconstruct` (or `sharpsplat train`): splats.ply, cameras.json, ..."""
    port: int = 8080
    """Port to serve on (0: any free one). A busy port is an error that names the next free one."""
    host: str = "127.0.0.1"
    """Address to serve on. Anything but loopback lets other machines see the run (a warning says so)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sharpsplat view``: serves until Ctrl-C, then returns 0."""
    from reconstruction.viewer.server import serve

    argv = list(sys.argv[1:] if argv is None else argv)
    args = tyro.cli(ViewArgs, args=argv, prog="sharpsplat view")
    serve(args.run, args.host, args.port, run_format=RUN_FORMAT)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
