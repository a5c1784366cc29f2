"""Render one random scene with both backends (gsplat on CUDA, PyTorch) and print their differences as JSON.

Compares images (RGB and expected depth), alpha, radii, and the gradients of an L1 loss w.r.t. means, quats,
scales, opacities, colours (SH), viewmats and the screen-space means. Needs CUDA with a working gsplat; on a
machine without one it prints a one-line message and exits with status 1.

    python scripts/compare_backends.py --gaussians 2000 --cameras 3 --width 256 --height 192 --sh-degree 2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch

from reconstruction.splats.render import render
from reconstruction.splats.render.gsplat_backend import gsplat_available


def make_scene(n: int, cameras: int, width: int, height: int, sh_degree: int | None, seed: int):
    """Gaussians in front of ``cameras`` cameras on a small arc, float32 on the CPU."""
    g = torch.Generator().manual_seed(seed)
    f = 0.9 * width
    z = 2.0 + 3.0 * torch.rand(n, generator=g)
    px = (torch.rand(n, generator=g) * 1.2 - 0.1) * width
    py = (torch.rand(n, generator=g) * 1.2 - 0.1) * height
    means = torch.stack([(px - width / 2) / f * z, (py - height / 2) / f * z, z], dim=-1)
    sigma_px = 2.0 * torch.exp(0.5 * torch.randn(n, generator=g))
    scales = (sigma_px * z / f)[:, None] * torch.exp(0.4 * torch.randn(n, 3, generator=g))
    if sh_degree is None:
        colors = torch.rand(n, 3, generator=g)
    else:
        colors = 0.3 * torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g)
        colors[:, 0] = (torch.rand(n, 3, generator=g) - 0.5) / 0.2820947917738781
    splats = {
        "means": means,
        "quats": torch.randn(n, 4, generator=g),
        "scales": scales,
        "opacities": 0.05 + 0.9 * torch.rand(n, generator=g),
        "colors": colors,
    }
    viewmats = torch.eye(4).repeat(cameras, 1, 1)
    for c in range(cameras):
        a = 0.15 * (c - (cameras - 1) / 2)
        ca, sa = math.cos(a), math.sin(a)
        viewmats[c, :3, :3] = torch.tensor([[ca, 0, sa], [0, 1, 0], [-sa, 0, ca]])
        viewmats[c, 0, 3] = 0.3 * a
    Ks = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]]).repeat(cameras, 1, 1)
    return splats, viewmats, Ks


def run(backend: str, device: str, splats, viewmats, Ks, args, target):
    leaves = {k: v.to(device).clone().requires_grad_() for k, v in splats.items()}
    V = viewmats.to(device).clone().requires_grad_()
    bg = torch.linspace(0.1, 0.6, 3 * args.cameras).reshape(args.cameras, 3).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    rgb, alpha, info = render(leaves, V, Ks.to(device), args.width, args.height, sh_degree=args.sh_degree,
                              backgrounds=bg, render_mode="RGB+ED", backend=backend)
    (rgb[..., :3] - target.to(device)).abs().mean().backward()
    sync()
    seconds = time.perf_counter() - t0
    grads = {k: v.grad.detach().cpu() for k, v in leaves.items()}
    grads["viewmats"] = V.grad.detach().cpu()
    grads["means2d"] = info["means2d"].grad.detach().cpu()
    return {"rgb": rgb.detach().cpu(), "alpha": alpha.detach().cpu(), "radii": info["radii"].cpu(),
            "grads": grads, "seconds": seconds, "backend": info["backend"]}


def diff(a: torch.Tensor, b: torch.Tensor) -> dict:
    d = (a.double() - b.double()).abs()
    scale = max(a.double().abs().max().item(), 1e-30)
    cos = torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(), dim=0).item()
    return {"max_abs": d.max().item(), "mean_abs": d.mean().item(), "max_rel_to_max": d.max().item() / scale,
            "cosine": cos}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaussians", type=int, default=2000)
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--height", type=int, default=192)
    ap.add_argument("--sh-degree", type=int, default=2, help="-1 for plain RGB colours")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torch-device", default="cpu", help="device of the PyTorch backend (cpu or cuda)")
    args = ap.parse_args()
    args.sh_degree = None if args.sh_degree < 0 else args.sh_degree

    ok, why = gsplat_available()
    if not ok:
        print(f"compare_backends: needs an NVIDIA GPU with a working gsplat ({why}); nothing compared.")
        sys.exit(1)

    splats, viewmats, Ks = make_scene(args.gaussians, args.cameras, args.width, args.height, args.sh_degree,
                                      args.seed)
    target = torch.rand(args.cameras, args.height, args.width, 3, generator=torch.Generator().manual_seed(1))
    run("gsplat", "cuda", splats, viewmats, Ks, args, target)  # warm-up (JIT build, kernels)
    a = run("gsplat", "cuda", splats, viewmats, Ks, args, target)
    b = run("torch", args.torch_device, splats, viewmats, Ks, args, target)
    visible = (a["radii"] > 0) & (b["radii"] > 0)
    result = {
        "gaussians": args.gaussians, "cameras": args.cameras, "width": args.width, "height": args.height,
        "sh_degree": args.sh_degree, "seed": args.seed, "torch_device": args.torch_device,
        "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "seconds": {"gsplat": a["seconds"], "torch": b["seconds"]},
        "rgb": diff(a["rgb"][..., :3], b["rgb"][..., :3]),
        "expected_depth": diff(a["rgb"][..., 3], b["rgb"][..., 3]),
        "alpha": diff(a["alpha"], b["alpha"]),
        "radii": {"visible_gsplat": int((a["radii"] > 0).sum()), "visible_torch": int((b["radii"] > 0).sum()),
                  "equal_fraction": (a["radii"] == b["radii"]).float().mean().item()},
        "grads": {k: diff(a["grads"][k], b["grads"][k]) for k in a["grads"]},
        "grads_visible_only": {
            "means2d": diff(a["grads"]["means2d"][visible], b["grads"]["means2d"][visible]),
        },
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
