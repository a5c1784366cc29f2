"""Make a synthetic blurry multi-view scene with ground truth (DESIGN.md scene folder + ``video.mp4``).

Image formation of one frame (DESIGN.md): ``n_sub`` sharp renders along the exposure's shake trajectory are
averaged in LINEAR light, converted to sRGB, then sensor noise (Gaussian, ``NOISE_SIGMA`` in sRGB units, as
in FINDINGS.md's measurements) and 8-bit quantisation are applied. ``blurry_linear`` returns the average
before noise so that tests can check it.

Per-frame appearance (``exposure_stops``, ``white_balance``): a phone re-exposes and re-balances between frames.
Frame ``i``'s linear image is multiplied per channel by ``gain_i = 2 ** e_i * exp(w_i)`` (``e_i ~ N(0,
exposure_stops)`` shared by the channels, ``w_i ~ N(0, white_balance)`` per channel), normalised so that the
geometric mean over frames is 1 per channel: the reference appearance (identity) is that of ``gt/sharp/`` and
``gt/test/``, which never change. The gains are in ``gt/cameras.json`` (``frames[i]["gain_rgb"]``).

Randomness: one numpy Generator per purpose, seeded with ``[seed, stream]`` (layout, path, textures, shake,
noise, appearance), so the world, the path and the shake directions of a seed are the same at every blur level (only
the shake's scale changes) and different seeds give different scenes, paths and shake.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deblur2d.io.atomic import atomic_path, write_json_atomic
from deblur2d.io.color import linear_to_srgb
from deblur2d.io.errors import UserError

from .camera_path import ArcPath, Shake, calibrate_shake, mean_displacement, project
from .presets import Preset, get_blur_fraction, get_preset
from .raycast import World, render
from .world import build_world, random_boxes

#: Sensor noise, standard deviation in sRGB units (FINDINGS.md used 0.005 for its SfM measurements).
NOISE_SIGMA = 0.005
#: Largest mean displacement (px) between consecutive sub-frames anywhere in any exposure; FINDINGS.md: about
#: 1 px avoids ghost copies of edges.
MAX_SUBFRAME_STEP_PX = 1.0
MIN_SUBFRAMES = 16
#: Exposure as a fraction of the frame interval (a 180-degree shutter); metadata only (see camera_path).
EXPOSURE_FRACTION = 0.5
#: Per-frame blur targets vary around the level by this factor (then renormalised to the level's mean).
BLUR_SPREAD = (0.8, 1.2)
GENERATOR_VERSION = 1

_STREAM_LAYOUT, _STREAM_PATH, _STREAM_TEXTURES, _STREAM_SHAKE, _STREAM_NOISE, _STREAM_APPEARANCE = range(6)


def frame_gains(n: int, seed: int, exposure_stops: float = 0.0, white_balance: float = 0.0) -> np.ndarray:
    """Per-frame linear gains ``[n, 3]`` (module docstring); all ones when both spreads are 0."""
    if exposure_stops < 0 or white_balance < 0:
        raise UserError(f"--exposure-stops / --white-balance: must be >= 0, got {exposure_stops}, {white_balance}")
    rng = _rng(seed, _STREAM_APPEARANCE)
    log_g = rng.normal(0.0, 1.0, (n, 1)) * exposure_stops * math.log(2.0) + rng.normal(0.0, 1.0, (n, 3)) * white_balance
    log_g -= log_g.mean(axis=0, keepdims=True)
    return np.exp(log_g)

# Files and folders this generator owns inside a scene folder (what --overwrite replaces).
OUTPUTS = ("images", "gt", "sparse", "video.mp4")


def _rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])


def intrinsics(preset: Preset) -> np.ndarray:
    """3x3 K: square pixels, focal ``focal_factor * width``, principal point at the image centre."""
    f = preset.focal_factor * preset.width
    return np.array([[f, 0.0, preset.width / 2], [0.0, f, preset.height / 2], [0.0, 0.0, 1.0]])


@dataclass
class Setup:
    """Everything about a scene that does not depend on the blur level."""

    preset: Preset
    seed: int
    k: np.ndarray
    world: World
    path: ArcPath
    c2w_mid: np.ndarray  # [N, 4, 4]
    test_s: np.ndarray  # [T] path parameters of the test views
    c2w_test: np.ndarray  # [T, 4, 4]


def frame_names(n: int) -> list[str]:
    return [f"frame_{i:04d}.png" for i in range(n)]


def test_names(n: int) -> list[str]:
    return [f"test_{i:03d}.png" for i in range(n)]


def build_setup(preset: str | Preset, seed: int) -> Setup:
    """World, camera path, mid-exposure and test poses for ``(preset, seed)``. Deterministic."""
    p = get_preset(preset) if isinstance(preset, str) else preset
    if seed < 0:
        raise UserError(f"--seed: must be >= 0, got {seed}")
    boxes = random_boxes(_rng(seed, _STREAM_LAYOUT), p.num_boxes)
    rng_path = _rng(seed, _STREAM_PATH)
    target = np.array([rng_path.uniform(-0.4, 0.4), rng_path.uniform(0.5, 0.9), rng_path.uniform(3.2, 3.8)])
    path = ArcPath.random(rng_path, target)
    s_frames = np.linspace(0.0, 1.0, p.num_frames)
    c2w_mid = np.stack([path.pose(s) for s in s_frames])
    # Test views halfway between frames, spread evenly over the path.
    gaps = np.linspace(0, p.num_frames - 2, p.num_test + 2)[1:-1].round().astype(int)
    test_s = (gaps + 0.5) / (p.num_frames - 1)
    c2w_test = np.stack([path.pose(s) for s in test_s]) if len(test_s) else np.zeros((0, 4, 4))
    k = intrinsics(p)
    world = build_world(_rng(seed, _STREAM_TEXTURES), boxes, c2w_mid[:, :3, 3], k[0, 0], p.max_texture)
    return Setup(p, seed, k, world, path, c2w_mid, test_s, c2w_test)


def render_linear(setup: Setup, c2w: np.ndarray) -> np.ndarray:
    """Sharp render of pose ``c2w`` in linear light ``[H, W, 3]`` float32."""
    return render(setup.world, c2w, setup.k, setup.preset.width, setup.preset.height)[0]


def blurry_linear(setup: Setup, c2w_sub: np.ndarray) -> np.ndarray:
    """The blurry frame BEFORE noise and quantisation: mean of the sub-frame renders in linear light.

    Accumulates in float64, returns float32 ``[H, W, 3]``. Identical consecutive poses are rendered once.
    """
    acc = None
    last_pose, last_img = None, None
    for c2w in c2w_sub:
        if last_pose is None or not np.array_equal(c2w, last_pose):
            last_img = render_linear(setup, c2w).astype(np.float64)
            last_pose = c2w
        acc = last_img.copy() if acc is None else acc + last_img
    return (acc / len(c2w_sub)).astype(np.float32)


def to_uint8(srgb: np.ndarray) -> np.ndarray:
    """sRGB float in [0, 1] -> uint8 (round to nearest, clipped)."""
    return np.round(np.clip(srgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def add_noise_and_quantise(linear_mean: np.ndarray, rng: np.random.Generator, sigma: float = NOISE_SIGMA) -> np.ndarray:
    """Linear-light frame -> sRGB + Gaussian noise (sRGB units) -> uint8."""
    srgb = linear_to_srgb(linear_mean).astype(np.float64)
    return to_uint8(srgb + rng.normal(0.0, sigma, srgb.shape))


def scene_points(depth: np.ndarray, c2w: np.ndarray, k: np.ndarray, max_points: int = 2000) -> np.ndarray:
    """World points ``[P, 3]`` seen at pixel centres on a regular grid, from a render's depth map."""
    h, w = depth.shape
    stride = max(1, int(math.sqrt(h * w / max_points)))
    ii, jj = np.mgrid[stride // 2 : h : stride, stride // 2 : w : stride]
    z = depth[ii, jj]
    ok = np.isfinite(z)
    pix = np.stack([jj[ok] + 0.5, ii[ok] + 0.5, np.ones(ok.sum())], -1)
    cam = (pix @ np.linalg.inv(k).T) * z[ok][:, None]
    return cam @ c2w[:3, :3].T + c2w[:3, 3]


def _write_png(path: Path, img: np.ndarray) -> None:
    import imageio.v2 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, img)


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """H.264 MP4 (libx264, yuv420p; even sizes required) written atomically."""
    import imageio.v2 as iio

    with atomic_path(path) as tmp:
        writer = iio.get_writer(
            tmp,
            fps=fps,
            codec="libx264",
            macro_block_size=1,
            pixelformat="yuv420p",
            ffmpeg_params=["-crf", "16"],
            ffmpeg_log_level="error",
        )
        try:
            for f in frames:
                writer.append_data(f)
        finally:
            writer.close()


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} exists and is not a folder; choose another path")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"--out: {out} exists and is not empty; pass --overwrite or choose another folder")
        for name in OUTPUTS:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _log(msg: str, progress: bool) -> None:
    if progress:
        print(f"make-scene: {msg}", file=sys.stderr, flush=True)


def make_scene(
    out: Path,
    preset: str = "demo",
    seed: int = 0,
    blur: str = "strong",
    write_true_sparse: bool = False,
    overwrite: bool = False,
    *,
    progress: bool = True,
    exposure_stops: float = 0.0,
    white_balance: float = 0.0,
) -> Path:
    """Make a synthetic scene folder at ``out`` and return it.

    Writes ``images/frame_XXXX.png`` (blurry, noisy, 8-bit), ``gt/sharp/`` (sharp mid-exposure frames, same
    names), ``gt/test/test_XXX.png`` (sharp held-out views), ``gt/cameras.json`` (DESIGN.md keys plus
    extras), ``video.mp4`` (the blurry frames at the preset's fps) and, with ``write_true_sparse``, the true
    poses as a COLMAP model in ``sparse/0``. ``exposure_stops`` / ``white_balance``: per-frame exposure and
    white-balance spread (module docstring; 0 = none, the files are then those of earlier versions). Raises
    :class:`UserError` for bad input.
    """
    out = Path(out)
    p = get_preset(preset)
    level = get_blur_fraction(blur)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"--seed: must be an integer >= 0, got {seed!r}")
    seed = int(seed)
    _prepare_out(out, overwrite)
    t_start = time.perf_counter()
    from tqdm import tqdm

    w, h = p.width, p.height
    setup = build_setup(p, seed)
    n = p.num_frames
    _log(
        f"[1/5] world: {len(setup.world.quads)} textured surfaces, {n} frames + {p.num_test} test views at "
        f"{w}x{h}, seed {seed} ({time.perf_counter() - t_start:.1f} s)",
        progress,
    )

    # Shake: calibrate each frame against the scene points its mid-exposure render sees.
    target_px = level * w
    rng_shake = _rng(seed, _STREAM_SHAKE)
    spread = rng_shake.uniform(*BLUR_SPREAD, n)
    targets = target_px * spread / spread.mean()
    depth_scene = float(np.linalg.norm(setup.path.target - setup.c2w_mid[:, :3, 3], axis=-1).mean())
    names = frame_names(n)
    shakes, sharp_u8, points = [], [], []
    for i in tqdm(range(n), desc="sharp frames", unit="frame", disable=not progress, leave=False):
        rgb, depth = render(setup.world, setup.c2w_mid[i], setup.k, w, h)
        sharp_u8.append(to_uint8(linear_to_srgb(rgb)))
        pts = scene_points(depth, setup.c2w_mid[i], setup.k)
        points.append(pts)
        shakes.append(calibrate_shake(Shake.random(rng_shake, depth_scene), setup.c2w_mid[i], pts, setup.k, targets[i]))
        _write_png(out / "gt" / "sharp" / names[i], sharp_u8[-1])
    # Sub-frames are uniform in time (the sensor integrates uniformly), so their count is set by the fastest
    # moment of the fastest exposure: the largest mean step between 128 dense samples, times 128.
    dense_tau = np.linspace(-0.5, 0.5, 129)
    path_px, speed_px = np.zeros(n), np.zeros(n)
    for i in range(n):
        uv = project(points[i], shakes[i].poses(setup.c2w_mid[i], dense_tau), setup.k)
        step = np.linalg.norm(np.diff(uv, axis=0), axis=-1)  # [128, P]
        path_px[i] = step.sum(0).mean()
        speed_px[i] = step.mean(1).max() * (len(dense_tau) - 1)
    n_sub = max(MIN_SUBFRAMES, math.ceil(speed_px.max() / MAX_SUBFRAME_STEP_PX) + 1)
    tau = np.linspace(-0.5, 0.5, n_sub)
    c2w_sub = np.stack([shakes[i].poses(setup.c2w_mid[i], tau) for i in range(n)])
    blur_px = np.array([mean_displacement(points[i], c2w_sub[i, 0], c2w_sub[i, -1], setup.k) for i in range(n)])
    _log(
        f"[2/5] sharp frames and shake: blur {blur} = {blur_px.mean():.2f} px mean start-to-end "
        f"(target {target_px:.2f}), path up to {path_px.max():.1f} px, {n_sub} sub-frames per frame "
        f"({time.perf_counter() - t_start:.1f} s)",
        progress,
    )

    gains = frame_gains(n, seed, exposure_stops, white_balance)
    blurry_u8 = []
    for i in tqdm(range(n), desc="blurry frames", unit="frame", disable=not progress, leave=False):
        lin = blurry_linear(setup, c2w_sub[i])
        if exposure_stops or white_balance:
            lin = (lin * gains[i].astype(np.float32)).astype(np.float32)
        blurry_u8.append(add_noise_and_quantise(lin, _rng(seed, _STREAM_NOISE, i)))
        _write_png(out / "images" / names[i], blurry_u8[-1])
    _log(
        f"[3/5] blurry frames: {n} x {n_sub} renders averaged in linear light ({time.perf_counter() - t_start:.1f} s)",
        progress,
    )

    tnames = test_names(p.num_test)
    for j in range(p.num_test):
        _write_png(out / "gt" / "test" / tnames[j], to_uint8(linear_to_srgb(render_linear(setup, setup.c2w_test[j]))))
    fps = p.fps
    write_video(out / "video.mp4", blurry_u8, fps)
    _log(f"[4/5] test views and video.mp4 at {fps:g} fps ({time.perf_counter() - t_start:.1f} s)", progress)

    gt = {
        "width": w,
        "height": h,
        "K": setup.k.tolist(),
        "frames": [
            {
                "file": names[i],
                "c2w_mid": setup.c2w_mid[i].tolist(),
                "c2w_sub": c2w_sub[i].tolist(),
                "blur_px": float(blur_px[i]),
                "blur_path_px": float(path_px[i]),
                "time_s": i / fps,
                "gain_rgb": gains[i].tolist(),
            }
            for i in range(n)
        ],
        "test": [
            {
                "file": tnames[j],
                "c2w": setup.c2w_test[j].tolist(),
                "time_s": float(setup.test_s[j] * (n - 1) / fps),
            }
            for j in range(p.num_test)
        ],
        "generator": "sharpsplat make-scene",
        "generator_version": GENERATOR_VERSION,
        "preset": p.name,
        "seed": seed,
        "blur": blur,
        "blur_fraction_of_width": level,
        "blur_px_target": target_px,
        "blur_px_mean": float(blur_px.mean()),
        "num_sub_frames": n_sub,
        "sub_frame_times": (tau + 0.5).tolist(),
        "sub_frame_times_doc": "fraction of the exposure (0 = start, 1 = end); mid-exposure = 0.5 = c2w_mid",
        "fps": fps,
        "exposure_s": EXPOSURE_FRACTION / fps,
        "noise_sigma_srgb": NOISE_SIGMA,
        "exposure_stops": exposure_stops,
        "white_balance": white_balance,
        "gamma": 2.2,
        "pixel_centre": "pixel (i, j) covers [j, j+1) x [i, i+1) in K's coordinates (COLMAP, gsplat)",
        "camera_axes": "OpenCV (x right, y down, z forward); c2w = camera-to-world; world y up, metres",
        "path": setup.path.to_dict(),
        "world": setup.world.info,
    }
    if write_true_sparse:
        from .true_sparse import write_true_sparse as _write_sparse

        num_pts = _write_sparse(out / "sparse" / "0", setup, names, sharp_u8)
        _log(f"      sparse/0: true poses, PINHOLE camera, {num_pts} true 3D points with tracks", progress)
    write_json_atomic(out / "gt" / "cameras.json", gt)
    _log(f"[5/5] gt/cameras.json; scene ready at {out} ({time.perf_counter() - t_start:.1f} s)", progress)
    return out

