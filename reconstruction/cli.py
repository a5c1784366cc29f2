"""The ``sharpsplat`` command line.

Each subcommand lives in its own module and is imported only when used, so ``sharpsplat --help`` is instant
and a broken optional stage cannot break the others. A subcommand module exposes
``main(argv: list[str]) -> int`` and parses its flags with tyro (dataclass config -> flags).

Errors meant for the user (:class:`deblur2d.io.errors.UserError`) are printed as one line and exit with
status 2; no stack trace.
"""

from __future__ import annotations

import importlib
import os
import sys

from deblur2d.io.errors import UserError

#: name -> (module with ``main(argv)``, one-line help). Order is the order shown in ``--help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "deblur": ("deblur2d.cli", "Restore blurry images, folders and videos with MIMO-UNet (single-image)."),
    "sfm": ("reconstruction.sfm.cli", "Frames from a video or folder, optional MIMO-UNet pre-restoration, COLMAP SfM."),
    "reconstruct": (
        "reconstruction.pipeline.reconstruct",
        "One command from shaky video to sharp 3D: every stage, resumable.",
    ),
    "render": ("reconstruction.pipeline.render", "Render novel sharp views of a finished run along a camera path."),
    "view": ("reconstruction.pipeline.view", "See a run in 3D in the browser: splats, cameras, each frame's shake."),
    "compare": (
        "reconstruction.evaluation.compare",
        "Compare blurry / MIMO-UNet / 3DGS / DeblurGS frames: metrics and report.",
    ),
    "make-scene": ("reconstruction.synthetic.cli", "Make a synthetic blurry multi-view scene with ground truth."),
    "train-deblur2d": ("deblur2d.train", "Train MIMO-UNet on synthetic phone-shake blur or paired folders."),
    "eval-deblur2d": ("deblur2d.evaluate", "Evaluate deblurring on blurry/sharp pairs: PSNR and SSIM, JSON out."),
    "weights": ("deblur2d.hub", "List shipped and official MIMO-UNet weights; download an official one (gdown)."),
    "train-3dgs": ("reconstruction.splats.train_3dgs", "Plain 3DGS (no motion model) on a scene with known poses."),
    "train": ("reconstruction.deblurgs.cli", "Train DeblurGS: sharp 3D Gaussians + camera motion from blurry frames."),
    "demo": ("reconstruction.pipeline.demo", "Run the bundled demo on the CPU and print where the results are."),
}


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["usage: sharpsplat COMMAND [FLAGS]  (sharpsplat COMMAND --help for its flags)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    # Before torch loads OpenMP: idle threads sleep instead of spinning. Spinning made torch 10-40x slower
    # whenever anything else ran on a 2-core machine (measured with scripts/bench_render.py); override freely.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"sharpsplat: error: unknown command {name!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest) or 0)
    except UserError as e:
        print(f"sharpsplat {name}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"sharpsplat {name}: interrupted; finished outputs are kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
