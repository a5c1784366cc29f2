"""Benchmark forward + backward of the rasterizer backends (L1 loss), side by side in one run; prints one JSON object.

Scene: ``--gaussians`` Gaussians spread uniformly over the image at depths 2-6, focal 100 px (scaled with the
width from 128 px), screen-space standard deviations log-normal around 1.5 px (median radius about 5 px),
random orientations, opacities uniform in (0.05, 0.95), RGB colours. Float32, ``--threads`` threads (2 by
default). Every iteration runs each backend once, in rotating order, so that all see the same machine load.
``seconds_per_iter`` is the median wall time over ``--repeats`` timed iterations after ``--warmup``
untimed ones; the ``split`` gives per-stage medians in seconds (torch and native backends). ``cpu_seconds_per_iter``
is the median CPU time of this process per iteration and ``load_average`` the 1-minute load before and after:
on a shared machine whose cores are busy, wall times of multi-threaded runs balloon (every parallel region
waits for a descheduled thread) while a single-threaded run's CPU time stays close to its quiet wall time.
For the same reason the benchmark sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets it (GNU
OpenMP's default busy-waiting made one 2-thread iteration take 2 s instead of 0.09 s at load average 6 on the
2-core machine); the value used is in the JSON.

``--backends auto`` compares native and torch on the CPU (gsplat alone on CUDA); ``--grid`` runs the scaling
grid of docs/benchmarks.md (2k, 5k, 20k Gaussians at 128x96 and 256x192, and 50k at 320x240) instead of one case.

    python scripts/bench_render.py --gaussians 5000 --width 128 --height 96
    python scripts/bench_render.py --grid
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

from reconstruction.splats.render import native_available, render, select_backend  # noqa: E402
from reconstruction.splats.render.native_backend import DEFAULT_NATIVE_TILE_SIZE, render_native  # noqa: E402
from reconstruction.splats.render.torch_backend import DEFAULT_TILE_SIZE, render_torch  # noqa: E402

GRID = [(2000, 128, 96), (5000, 128, 96), (20000, 128, 96), (5000, 256, 192), (20000, 256, 192),
        (50000, 320, 240)]  # fmt: skip


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


def _default_tile(backend: str) -> int:
    return {"torch": DEFAULT_TILE_SIZE, "native": DEFAULT_NATIVE_TILE_SIZE}.get(backend, 16)


def bench_case(n: int, width: int, height: int, backends: list[str], args) -> dict:
    """Time every backend on one scene, interleaved; returns the case's JSON object."""
    splats, viewmats, Ks = make_scene(n, width, height, args.cameras, args.seed, args.device)
    target = torch.rand(args.cameras, height, width, 3, generator=torch.Generator().manual_seed(1))
    target = target.to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    tiles = {b: args.tile_size or _default_tile(b) for b in backends}
    runs = {b: {"totals": [], "cpu": [], "splits": {}, "info": {}} for b in backends}
    load_before = os.getloadavg()[0]
    for it in range(args.warmup + args.repeats):
        order = backends[it % len(backends):] + backends[: it % len(backends)]
        for b in order:
            for v in [*splats.values(), viewmats]:
                v.grad = None
            timings: dict[str, float] = {}
            sync()
            t0 = time.perf_counter()
            c0 = time.process_time()
            if b == "torch":
                rgb, _, info = render_torch(splats, viewmats, Ks, width, height, tile_size=tiles[b], timings=timings)
            elif b == "native":
                rgb, _, info = render_native(splats, viewmats, Ks, width, height, tile_size=tiles[b], timings=timings)
            else:
                rgb, _, info = render(splats, viewmats, Ks, width, height, backend=b, tile_size=tiles[b])
            sync()
            t1 = time.perf_counter()
            (rgb - target).abs().mean().backward()
            sync()
            t2 = time.perf_counter()
            if it < args.warmup:
                continue
            r = runs[b]
            r["totals"].append(t2 - t0)
            r["cpu"].append(time.process_time() - c0)
            r["info"] = info
            timings["forward"] = t1 - t0
            timings["backward"] = t2 - t1
            if "composite_backward" in timings:
                timings["backward_other"] = timings["backward"] - timings["composite_backward"]
            for k, v in timings.items():
                r["splits"].setdefault(k, []).append(v)

    results = {}
    for b, r in runs.items():
        info = r["info"]
        radii = info["radii"][info["radii"] > 0].float()
        results[b] = {
            "tile_size": tiles[b],
            "seconds_per_iter": statistics.median(r["totals"]),
            "seconds_min": min(r["totals"]),
            "seconds_max": max(r["totals"]),
            "cpu_seconds_per_iter": statistics.median(r["cpu"]),
            "split": {k: round(statistics.median(v), 6) for k, v in r["splits"].items()},
            "visible_gaussians": int(radii.numel()),
            "median_radius_px": float(radii.median()) if radii.numel() else math.nan,
            "n_isects": info.get("n_isects"),
            "n_slots": info.get("n_slots"),
        }
    case = {"gaussians": n, "width": width, "height": height, "cameras": args.cameras,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], "backends": results}  # fmt: skip
    if "native" in results and "torch" in results:
        case["native_speedup"] = round(
            results["torch"]["seconds_per_iter"] / results["native"]["seconds_per_iter"], 2
        )
        case["native_cpu_speedup"] = round(
            results["torch"]["cpu_seconds_per_iter"] / results["native"]["cpu_seconds_per_iter"], 2
        )
    return case


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaussians", type=int, default=5000)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--grid", action="store_true", help="run the scaling grid instead of one case")
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--tile-size", type=int, default=None, help="default: each backend's own")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backends", default="auto",
                    help="comma-separated: native, torch, gsplat; auto = native,torch on the CPU, gsplat on CUDA")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.backends == "auto":
        backends = ["gsplat"] if device.type == "cuda" else ["native", "torch"]
    else:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "native" in backends and not native_available()[0]:
        print(f"bench_render: native backend unavailable ({native_available()[1]}); timing torch only")
        backends = [b for b in backends if b != "native"] or ["torch"]
    backends = [select_backend(b, device) for b in backends]
    cases = GRID if args.grid else [(args.gaussians, args.width, args.height)]
    result = {
        "device": args.device,
        "threads": args.threads,
        "repeats": args.repeats,
        "seed": args.seed,
        "cpu_count": os.cpu_count(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cases": [bench_case(n, w, h, backends, args) for n, w, h in cases],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
