"""Single-image deblurring on real footage without ground truth: colour drift, sharpness, pictures; one JSON.

    python scripts/bench_deblur2d_real.py ../shared/realdata/phone-table-frames \
        ../shared/realdata/phone-beer-video/Beer.mp4 --long-side 640 --out runs/real-deblur2d

What it measures on each frame (restored with ``Restorer``: the shipped weights unless ``--weights``):

- colour drift: a blur moves light around but keeps the local mean in linear light, so a correct deblurring
  changes brightness only near edges. Drift = ``G(lin(out)) - G(lin(in))`` with ``G`` a Gaussian of sigma
  ``16 * long_side / 640`` px; reported as the signed mean per channel (a global darkening shows here), the mean
  absolute value and its 99th percentile (all in linear light, 0-1).
- sharpness: mean gradient magnitude (Sobel, grey, sRGB) of the output over the input's (1 = unchanged), and the
  same for the variance of the Laplacian.
- pictures: ``--out``/<source>/<frame>.png, input on the left and output on the right, plus a 2x crop of the
  region where they differ most, to look at.

Videos: ``--frames`` frames evenly spaced over the clip (portrait stays portrait). Frames are resized (area) so
their long side is ``--long-side`` (the working size of ``sharpsplat sfm``); 0 keeps them as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def load_frames(src: Path, n_video: int, long_side: int) -> list[tuple[str, np.ndarray]]:
    from deblur2d.io.images import is_image_file, read_image
    from deblur2d.io.video import is_video_file, iter_video_frames, probe_video

    frames: list[tuple[str, np.ndarray]] = []
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if is_image_file(p))
        frames = [(p.stem, read_image(p)[0][..., :3].astype(np.float32)) for p in files]
    elif is_video_file(src):
        total = probe_video(src).n_frames
        want = set(np.linspace(0, max(0, total - 1), n_video).round().astype(int).tolist())
        for i, f in enumerate(iter_video_frames(src)):
            if i in want:
                frames.append((f"{src.stem}-{i:05d}", f.astype(np.float32) / 255.0))
    else:
        raise SystemExit(f"{src}: neither a folder of images nor a video")
    out = []
    for name, img in frames:
        h, w = img.shape[:2]
        if long_side and max(h, w) != long_side:
            s = long_side / max(h, w)
            img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        out.append((name, np.clip(img, 0, 1)))
    return out


def frame_stats(inp: np.ndarray, out: np.ndarray, sigma: float) -> dict:
    from deblur2d.io.color import srgb_to_linear

    def g(x):
        return cv2.GaussianBlur(x, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)

    drift = g(srgb_to_linear(out)) - g(srgb_to_linear(inp))

    def grad(x):
        grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)
        gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
        return float(np.sqrt(gx * gx + gy * gy).mean()), float(cv2.Laplacian(grey, cv2.CV_32F).var())

    gi, li = grad(inp)
    go, lo = grad(out)
    return {"drift_mean_rgb": [float(v) for v in drift.reshape(-1, 3).mean(0)],
            "drift_abs_mean": float(np.abs(drift).mean()), "drift_abs_p99": float(np.percentile(np.abs(drift), 99)),
            "srgb_mean_change": float(out.mean() - inp.mean()),
            "gradient_ratio": go / max(gi, 1e-9), "laplacian_var_ratio": lo / max(li, 1e-12)}


def picture(inp: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Input | output side by side, and below them a 2x zoom of the 1/4-size window where they differ most."""
    h, w = inp.shape[:2]
    ch, cw = max(16, h // 4), max(16, w // 4)
    diff = cv2.boxFilter(np.abs(out - inp).mean(2), -1, (cw, ch), normalize=True)
    diff[: ch // 2], diff[h - ch // 2:], diff[:, : cw // 2], diff[:, w - cw // 2:] = 0, 0, 0, 0
    cy, cx = np.unravel_index(int(np.argmax(diff)), diff.shape)
    y0, x0 = int(np.clip(cy - ch // 2, 0, h - ch)), int(np.clip(cx - cw // 2, 0, w - cw))

    def zoom(x):
        return cv2.resize(x[y0: y0 + ch, x0: x0 + cw], (2 * cw, 2 * ch), interpolation=cv2.INTER_NEAREST)

    top = np.concatenate([inp, out], axis=1)
    bottom = np.concatenate([zoom(inp), zoom(out)], axis=1)
    pad = np.zeros((bottom.shape[0], top.shape[1] - bottom.shape[1], 3), np.float32)
    return np.concatenate([top, np.concatenate([bottom, pad], axis=1)], axis=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="+", type=Path, help="folders of frames and/or videos")
    ap.add_argument("--weights", default=None, help="default: the shipped weights")
    ap.add_argument("--long-side", type=int, default=640)
    ap.add_argument("--frames", type=int, default=8, help="frames per video")
    ap.add_argument("--max-frames", type=int, default=12, help="at most this many frames per folder (evenly)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--out", type=Path, default=Path("runs/real-deblur2d"))
    args = ap.parse_args()

    import torch

    from deblur2d.io.images import write_image
    from deblur2d.restorer import Restorer

    r = Restorer(weights=args.weights, device="cpu", precision=args.precision)
    print(f"bench_deblur2d_real: {r.describe()}", file=sys.stderr)
    report = {"benchmark": "deblur2d_real", "restorer": r.describe(), "long_side": args.long_side,
              "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(), "sources": {}}
    for src in args.sources:
        frames = load_frames(src, args.frames, args.long_side)
        if len(frames) > args.max_frames:
            keep = np.linspace(0, len(frames) - 1, args.max_frames).round().astype(int)
            frames = [frames[i] for i in keep]
        rows = []
        t = time.perf_counter()
        for name, img in frames:
            out = r.restore(img)
            st = frame_stats(img, out, 16.0 * max(img.shape[:2]) / 640.0)
            rows.append({"frame": name, **st})
            write_image(args.out / src.stem / f"{name}.png", picture(img, out))
        sec = (time.perf_counter() - t) / max(1, len(frames))
        agg = {k: float(np.mean([row[k] for row in rows])) for k in rows[0] if k not in ("frame", "drift_mean_rgb")}
        agg["drift_mean_rgb"] = [float(v) for v in np.mean([row["drift_mean_rgb"] for row in rows], axis=0)]
        agg["worst_drift_abs_p99"] = float(max(row["drift_abs_p99"] for row in rows))
        report["sources"][str(src)] = {"frames": len(rows), "size": list(frames[0][1].shape[:2]),
                                       "seconds_per_frame_incl_metrics": sec, "mean": agg, "per_frame": rows}
        print(f"{src}: {len(rows)} frames, drift mean {agg['drift_mean_rgb']}, |drift| {agg['drift_abs_mean']:.4f}, "
              f"gradient x{agg['gradient_ratio']:.3f}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2)
    from deblur2d.io.atomic import write_bytes_atomic

    write_bytes_atomic(args.out / "bench_deblur2d_real.json", (text + "\n").encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
