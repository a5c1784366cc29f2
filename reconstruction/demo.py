"""``sharpsplat demo``: the bundled default a new user sees first (``make demo``).

For now (single-image stage): make blurry examples from scikit-image's bundled photos, restore them with
the weights that exist, and print the PSNR gained; without weights, say what is missing and how to get it.
The full video -> 3D demo replaces this when the reconstruction pipeline lands.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass
class DemoConfig:
    """Run the bundled demo on this machine and print where the results are."""

    out: Path = Path("demo")
    """Folder for the demo's inputs and outputs."""
    weights: Path | None = None
    """MIMO-UNet weights (default: the shipped ones, if any)."""
    device: str = "auto"


def _psnr(a, ref) -> float:
    import numpy as np

    return float(10 * np.log10(1.0 / max(float(np.mean((a - ref) ** 2)), 1e-12)))


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(DemoConfig, args=argv, prog="sharpsplat demo")

    from deblur2d.errors import UserError
    from deblur2d.examples import make_examples
    from deblur2d.image_io import read_image, write_image
    from deblur2d.weights import default_weights_path

    t0 = time.time()
    print(f"[1/2] making example blurry photos in {cfg.out / 'examples'}", file=sys.stderr)
    pairs = make_examples(cfg.out / "examples")
    weights = cfg.weights or default_weights_path("mimo-unet")
    if weights is None:
        print(
            "[2/2] no MIMO-UNet weights ship with this version yet, so nothing is restored.\n"
            "      To restore the examples now, pass the official checkpoint:\n"
            f"        sharpsplat demo --weights MIMO-UNet.pkl   (github chosj95/MIMO-UNet release)\n"
            f"      or: sharpsplat deblur {cfg.out / 'examples' / 'blurry'} --out {cfg.out / 'deblurred'} "
            "--weights PATH\n"
            f"      The blurry inputs are in {cfg.out / 'examples' / 'blurry'}.",
            file=sys.stderr,
        )
        return 0
    from deblur2d.restorer import Restorer

    try:
        r = Restorer(weights=weights, device=cfg.device)
    except UserError as e:
        raise UserError(f"--weights: {e}") from None
    print(f"[2/2] restoring with {r.describe()}", file=sys.stderr)
    rows = []
    for blurry, sharp in pairs:
        b, info = read_image(blurry)
        s, _ = read_image(sharp)
        y = r.restore(b)
        write_image(cfg.out / "deblurred" / blurry.name, y, info)
        rows.append((blurry.stem, _psnr(b, s), _psnr(y, s)))
    print(f"{'image':<12}{'blurry dB':>10}{'restored dB':>13}")
    for name, pb, py in rows:
        print(f"{name:<12}{pb:>10.2f}{py:>13.2f}")
    print(f"restored frames in {cfg.out / 'deblurred'} ({time.time() - t0:.0f} s)")
    return 0
