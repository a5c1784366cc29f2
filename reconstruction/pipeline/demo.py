"""``sharpsplat demo`` (``make demo``): the whole product on the bundled synthetic demo, on a CPU.

1. Makes the synthetic ``demo`` scene (320x240, 24 frames, strong camera-shake blur, seed 0) with its
   ground truth, and its blurry frames as a video (``DEMO/scene-demo-strong-s0/video.mp4``); reused when there.
2. Runs ``sharpsplat reconstruct .../video.mp4 --out DEMO/run-demo-strong-s0 --preset demo --ground-truth ...``:
   frames from the video, MIMO-UNet pre-restoration (when weights exist), SfM, DeblurGS, the 3DGS-on-blurry
   baseline, sharp frames, a novel-view video, the PLY, and the comparison report.
3. Prints the PSNR/SSIM table and where the report is. Rerunning resumes (nothing finished is recomputed).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro


@dataclass
class DemoConfig:
    """Run the bundled demo (shaky synthetic video -> sharp 3D scene and report) and print where the results are."""

    out: Path = Path("demo")
    """Folder for the demo's scene and run."""
    blur: Literal["mild", "strong", "extreme"] = "strong"
    seed: int = 0
    scene_preset: Literal["tiny", "demo"] = "demo"
    """Synthetic scene preset (tiny: 128x96, 10 frames, for a quick check)."""
    preset: str = "demo"
    """Reconstruct preset (configs/reconstruct-<preset>.toml)."""
    weights: Path | None = None
    """MIMO-UNet weights (default: the shipped ones, if any)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    progress: bool = True


def ensure_scene(out: Path, blur: str, seed: int, progress: bool, preset: str = "demo") -> Path:
    """The demo scene at ``out`` (made once, atomically; a complete one is reused)."""
    from deblur2d.io.atomic import atomic_dir
    from reconstruction.synthetic import make_scene

    if (out / "video.mp4").is_file() and (out / "gt" / "cameras.json").is_file():
        print(f"[scene] reusing {out}", file=sys.stderr)
        return out
    t = time.perf_counter()
    with atomic_dir(out) as tmp:
        make_scene(tmp, preset=preset, seed=seed, blur=blur, overwrite=True, progress=progress)
    print(f"[scene] synthetic {preset} scene ({blur} blur, seed {seed}) -> {out} ({time.perf_counter() - t:.0f} s)",
          file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(DemoConfig, args=argv, prog="sharpsplat demo")
    from .reconstruct import run_pipeline
    from .settings import load_preset

    t0 = time.perf_counter()
    name = f"{cfg.scene_preset}-{cfg.blur}-s{cfg.seed}"
    scene = ensure_scene(cfg.out / f"scene-{name}", cfg.blur, cfg.seed, cfg.progress, cfg.scene_preset)
    args = dataclasses.replace(
        load_preset(cfg.preset),
        input=scene / "video.mp4",
        out=cfg.out / f"run-{name}",
        ground_truth=scene,
        weights=cfg.weights,
        device=cfg.device,
        progress=cfg.progress,
        seed=cfg.seed,
    )
    run_pipeline(args)
    print(f"demo finished in {time.perf_counter() - t0:.0f} s; open {args.out / 'report.html'} in a browser")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
