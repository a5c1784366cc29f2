"""Benchmark forward + backward of ``reconstruction.splats.render.render`` (L1 loss); prints one JSON object.

Scene: ``--gaussians`` Gaussians spread uniformly over the image at depths 2-6, focal 100 px (scaled with the
width from 128 px), screen-space standard deviations log-normal around 1.5 px (median radius about 5 px),
random orientations, opacities uniform in (0.05, 0.95), RGB colours. Float32, ``--threads`` threads (2 by
default). ``seconds_per_iter`` is the median wall time over ``--repeats`` timed iterations after ``--warmup``
untimed ones; the ``split`` gives per-stage medians in seconds (torch backend only). ``cpu_seconds_per_iter``
is the median CPU time of this process per iteration and ``load_average`` the 1-minute load before and after:
on a shared machine whose cores are busy, wall times of multi-threaded runs balloon (every parallel region
waits for a descheduled thread) while a single-threaded run's CPU time stays close to its quiet wall time.
For the same reason the benchmark sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets it (GNU
OpenMP's default busy-waiting made one 2-thread iteration take 2 s instead of 0.09 s at load average 6 on the
2-core machine); the value used is in the JSON.

    python scripts/bench_render.py --gaussians 5000 --width 128 --height 96
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the first OpenMP use (importing torch)

import torch  # noqa: E402

from reconstruction.splats.render import render, select_backend  # noqa: E402
from reconstruction.splats.render.torch_backend import DEFAULT_TILE_SIZE, render_torch  # noqa: E402


def make_scene(n: int, width: int, height: int, cameras: int, seed: int, device: str) -> tuple:
    """Random splats in view of ``cameras`` slightly shifted cameras; returns (splats, viewmats, Ks)."""
    g = torch.Generator().manual_seed(seed)
    f = 100.0 * width / 128.0
    z = 2.0 + 4.0 * torch.rand(n, generator=g)
    px = torch.rand(n, generator=g) * width
    py = torch.rand(n, generator=g) * height
    means = torch.stack([(px - width / 2) / f * z, (py - height / 2) / f * z, z], dim=-1)
    sigma_px = 1.5 * torch.exp(0.4 * torch.randn(n, generator=g))
    scales = (sigma_px * z / f)[:, None] * torch.exp(0.3 * torch.randn(n, 3, generator=g))
    splats = {
        "means": means,
        "quats": torch.randn(n, 4, generator=g),
        "scales": scales,
        "opacities": 0.05 + 0.9 * torch.rand(n, generator=g),
        "colors": torch.rand(n, 3, generator=g),
    }
    viewmats = torch.eye(4).repeat(cameras, 1, 1)
    viewmats[:, 0, 3] = torch.linspace(-0.05, 0.05, cameras) if cameras > 1 else 0.0
    Ks = torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]]).repeat(cameras, 1, 1)
    splats = {k: v.to(device).requires_grad_() for k, v in splats.items()}
    return splats, viewmats.to(device).requires_grad_(), Ks.to(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaussians", type=int, default=5000)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--tile-size", type=int, default=None, help="default: the backend's own")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="auto", choices=["auto", "gsplat", "torch"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    splats, viewmats, Ks = make_scene(
        args.gaussians, args.width, args.height, args.cameras, args.seed, args.device
    )
    target = torch.rand(args.cameras, args.height, args.width, 3, generator=torch.Generator().manual_seed(1))
    target = target.to(args.device)
    backend = select_backend(args.backend, torch.device(args.device))
    tile = args.tile_size or (DEFAULT_TILE_SIZE if backend == "torch" else 16)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    load_before = os.getloadavg()[0]
    totals: list[float] = []
    cpu_totals: list[float] = []
    splits: dict[str, list[float]] = {}
    info = {}
    for it in range(args.warmup + args.repeats):
        for v in [*splats.values(), viewmats]:
            v.grad = None
        timings: dict[str, float] = {}
        sync()
        t0 = time.perf_counter()
        c0 = time.process_time()
        if backend == "torch":
            rgb, _, info = render_torch(splats, viewmats, Ks, args.width, args.height, tile_size=tile,
                                        timings=timings)
        else:
            rgb, _, info = render(splats, viewmats, Ks, args.width, args.height, backend=backend,
                                  tile_size=tile)
        sync()
        t1 = time.perf_counter()
        (rgb - target).abs().mean().backward()
        sync()
        t2 = time.perf_counter()
        if it < args.warmup:
            continue
        totals.append(t2 - t0)
        cpu_totals.append(time.process_time() - c0)
        timings["forward"] = t1 - t0
        timings["backward"] = t2 - t1
        if "composite_backward" in timings:
            timings["backward_other"] = timings["backward"] - timings["composite_backward"]
        for k, v in timings.items():
            splits.setdefault(k, []).append(v)

    radii = info["radii"][info["radii"] > 0].float()
    result = {
        "backend": backend,
        "device": args.device,
        "gaussians": args.gaussians,
        "width": args.width,
        "height": args.height,
        "cameras": args.cameras,
        "tile_size": tile,
        "threads": args.threads,
        "repeats": args.repeats,
        "seed": args.seed,
        "seconds_per_iter": statistics.median(totals),
        "seconds_min": min(totals),
        "seconds_max": max(totals),
        "cpu_seconds_per_iter": statistics.median(cpu_totals),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "split": {k: round(statistics.median(v), 6) for k, v in splits.items()},
        "visible_gaussians": int(radii.numel()),
        "median_radius_px": float(radii.median()) if radii.numel() else math.nan,
        "n_isects": info.get("n_isects"),
        "n_slots": info.get("n_slots"),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
