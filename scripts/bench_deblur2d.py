"""Benchmark MIMO-UNet inference: ms per frame and megapixels per second, one JSON object on stdout.

Examples::

    python scripts/bench_deblur2d.py    # CPU: 640x480 and 1280x720, the shipped compact model beside MIMO-UNet
    python scripts/bench_deblur2d.py --device cuda --sizes 1280x720 1920x1080 \
        --models mimo-unet mimo-unet-plus --precisions fp32 bf16 fp16 --channels-last
    python scripts/bench_deblur2d.py --sizes 4000x3000 --tile 1024 --repeats 1 --warmup 0   # large photo, tiled

Weights are random (speed does not depend on them). CUDA timings synchronise before reading the clock.
Peak memory: CUDA max allocated, or the process's peak RSS on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see reconstruction/cli.py
import torch  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def bench_one(
    model: str,
    size: str,
    device: str,
    precision: str,
    channels_last: bool,
    tile: int,
    repeats: int,
    warmup: int,
    batch: int,
    compile_: bool,
) -> dict:
    from deblur2d.restorer import Restorer

    w, h = (int(v) for v in size.lower().split("x"))
    torch.manual_seed(0)
    r = Restorer(model=model, weights="random", device=device, precision=precision, tile=tile)
    if not channels_last:  # the restorer uses channels-last by default; this measures the plain layout
        r.net, r.channels_last = r.net.to(memory_format=torch.contiguous_format), False
    if compile_:
        r.net = torch.compile(r.net)
    x = torch.rand(batch, 3, h, w, device=r.device)
    sync = torch.cuda.synchronize if r.device.type == "cuda" else (lambda: None)
    if r.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        r.restore_tensor(x)
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r.restore_tensor(x)
        sync()
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times) / batch
    mem = torch.cuda.max_memory_allocated() / 2**20 if r.device.type == "cuda" else peak_rss_mib()
    return {
        "model": model,
        "size": f"{w}x{h}",
        "batch": batch,
        "dtype": str(r.precision).removeprefix("torch."),
        "channels_last": channels_last,
        "compiled": compile_,
        "tile": tile,
        "ms_per_frame": round(sec * 1000, 2),
        "frames_per_second": round(1 / sec, 3),
        "megapixels_per_second": round(w * h / 1e6 / sec, 4),
        "peak_memory_mib": round(mem, 1),
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["mimo-unet-compact", "mimo-unet"],
                    help="names of deblur2d.mimo_unet.MODELS or mimo-unet-c<C>-b<N>")
    ap.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"], help="WIDTHxHEIGHT")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precisions", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16", "fp16"])
    ap.add_argument(
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="measure the plain NCHW layout instead of channels-last",
    )
    ap.add_argument("--compile", action="store_true", help="torch.compile the network (CUDA)")
    ap.add_argument("--tile", type=int, default=0, help="tile size (0: whole image)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    results = [
        bench_one(m, s, a.device, p, a.channels_last, a.tile, a.repeats, a.warmup, a.batch, a.compile)
        for m in a.models
        for s in a.sizes
        for p in a.precisions
    ]
    dev = "cuda" if (a.device == "auto" and torch.cuda.is_available()) or a.device.startswith("cuda") else "cpu"
    report = {
        "benchmark": "deblur2d",
        "device": torch.cuda.get_device_name()
        if dev == "cuda"
        else f"cpu ({platform.processor() or platform.machine()})",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if a.out:
        from deblur2d.io.atomic import write_bytes_atomic

        write_bytes_atomic(a.out, (text + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
