"""Phone-like motion blur: a random smooth 6-DoF camera shake over the exposure, rendered as homographies.

Model (all ranges are the defaults of :class:`ShakeConfig`):

1. A virtual phone frame ``frame_width`` px wide (640, as the project's synthetic scenes) and 3:4 tall, pinhole
   intrinsics with focal length ``focal_factor`` x width (0.7-1.2, a phone's main to tele lens). The image
   being blurred is a window of that frame at a random position, so its blur varies across it the way one
   region of a phone frame does (rotation about the optical axis blurs corners more than the centre).
2. Trajectory over the exposure ``t in [0, 1]``: rotation vector and translation, each a smooth curve through
   ``num_knots`` (4) Gaussian random-walk knots (cubic interpolation), re-centred so that the identity is the
   sharp target: with ``reference="mean"`` (default) the time-average of the pose, i.e. the centroid of the
   blur, so that the target is not shifted against the blurry image; with ``reference="mid"`` the pose at
   ``t = 0.5`` (the mid-exposure frame, as ``gt/sharp`` in the synthetic scenes). A single blurry image cannot
   tell which end of its path came first, so a mid-exposure target sits at an ambiguous offset (11 px at the
   90th percentile of training pairs before this choice, FINDINGS.md) and a network learns to hedge. Rotation
   dominates: translation per unit depth is ``translation_ratio`` (0-0.3) of the rotation's size, and roll
   (about the optical axis) is ``roll_ratio`` (0.1-0.5) of pitch/yaw.
3. Each pose becomes the plane-induced homography ``H = K (R + t n^T / d) K^-1`` (fronto-parallel plane at
   depth ``d = 1``). The trajectory is scaled so that the mean start-to-end displacement of a 9x7 grid of frame
   points equals the requested blur: ``BLUR_LEVELS`` fractions of the frame width, or a log-uniform draw in
   ``blur_range`` for training.
4. Rendering: ``cv2.warpPerspective`` of the linear-light sharp image for each sub-frame (one per ~0.75 px of
   the largest image-point path, 3-64 sub-frames), averaged. Before averaging, near-white pixels (sRGB
   >= 0.98) are boosted by a factor 1-6 (light sources and speculars are brighter than white); after
   averaging, values are clipped to 1 (saturation, so blurred highlights form bright streaks).
5. Sensor and pipeline: Gaussian shot + read noise in linear light, ``var = shot * x + read^2``
   (``shot`` log-uniform 5e-5-1e-3, ``read`` log-uniform 5e-5-5e-4; mild, as after a phone ISP's denoiser),
   sRGB encoding (gamma 2.2, see :mod:`deblur2d.io.color`), 8-bit, JPEG quality 75-95.
6. Brightness: with ``keep_low_frequencies`` (sigma in frame pixels, default 16) the blurred linear image gets
   the sharp image's low frequencies (``blur + G(sharp - blur)`` in linear light, before noise). Boosted
   highlights add light that the clipped sharp target does not hold: with them the blurry images came out
   +0.027 brighter than their targets on average (FINDINGS.md), and a network trained on that learned to
   darken every real photo. A camera's blur moves light but keeps its local mean in linear light; after this
   step the pairs do too, so a network can learn no global brightness shortcut (what is left is the sRGB
   brightening of blurred edges, which real sensors show as well).

Every function takes a ``numpy.random.Generator``; the same seed gives the same pair on any machine with the
same OpenCV build.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .io.color import linear_to_srgb, srgb_to_linear

#: Blur level -> mean start-to-end displacement of scene points, as a fraction of the image width: the
#: project's one definition, also used by the synthetic 3D scenes (``reconstruction.synthetic.presets``).
#: From FINDINGS.md at 640 px: mild 6, strong 20, extreme 48 px (28-36 px is avoided: there SfM's outcome flips
#: with the seed).
BLUR_LEVELS: dict[str, float] = {"mild": 6.0 / 640.0, "strong": 20.0 / 640.0, "extreme": 48.0 / 640.0}


@dataclass(frozen=True)
class ShakeConfig:
    """Ranges of the shake, optics and sensor model (see the module docstring)."""

    frame_width: int = 640
    """Width in pixels of the virtual phone frame that blur fractions refer to."""
    frame_aspect: float = 0.75
    """Frame height / width."""
    focal_factor: tuple[float, float] = (0.7, 1.2)
    """Focal length / frame width, uniform."""
    blur_range: tuple[float, float] = (0.003, 0.09)
    """Training blur: mean start-to-end displacement / frame width, log-uniform (mild..extreme and beyond)."""
    translation_ratio: tuple[float, float] = (0.0, 0.3)
    """Translation (per unit depth) / rotation size, uniform: rotation-dominant shake."""
    roll_ratio: tuple[float, float] = (0.1, 0.5)
    """Roll / pitch-yaw size, uniform."""
    num_knots: int = 4
    """Random-walk knots of the smooth trajectory."""
    highlight_threshold: float = 0.98
    """sRGB value above which a pixel counts as clipped (a highlight)."""
    highlight_gain: tuple[float, float] = (1.0, 6.0)
    """Linear-light gain of highlights before blurring, uniform."""
    shot_noise: tuple[float, float] = (5e-5, 1e-3)
    """Shot-noise variance per unit linear signal, log-uniform."""
    read_noise: tuple[float, float] = (5e-5, 5e-4)
    """Read-noise standard deviation (linear light), log-uniform."""
    jpeg_quality: tuple[int, int] = (75, 95)
    """JPEG quality, uniform integer (inclusive); (0, 0) disables JPEG."""
    max_subframes: int = 64
    """Most sub-frames rendered per exposure."""
    reference: str = "mean"
    """Which pose of the exposure the sharp target shows: "mean" (time-average: the blur's centroid) or "mid"."""
    keep_low_frequencies: float = 16.0
    """Gaussian sigma (frame pixels) below which the blurry image keeps the sharp one's content (linear light);
    0 disables."""


@dataclass
class Shake:
    """One sampled shake: sub-frame homographies in the window's pixel coordinates and the frame geometry."""

    homographies: np.ndarray
    """``[N, 3, 3]`` float64, ``H_k`` maps a pixel of the mid-exposure (sharp) window to sub-frame ``k``."""
    displacement_px: float
    """Mean start-to-end displacement of frame grid points, in pixels of the virtual frame."""
    frame_width: int


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def rodrigues(rvec: np.ndarray) -> np.ndarray:
    """Rotation vector (radians, axis * angle) -> 3x3 rotation matrix."""
    theta = float(np.linalg.norm(rvec))
    if theta < 1e-12:
        return np.eye(3)
    k = rvec / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def smooth_curve(rng: np.random.Generator, num_knots: int, times: np.ndarray, dims: int = 3) -> np.ndarray:
    """A smooth random curve ``[len(times), dims]``: cubic interpolation of a Gaussian random walk, zero at 0.5."""
    knots = np.cumsum(rng.normal(size=(num_knots, dims)), axis=0)
    kt = np.linspace(0.0, 1.0, num_knots)
    from scipy.interpolate import CubicSpline

    spline = CubicSpline(kt, knots, axis=0, bc_type="natural")
    return spline(times) - spline(0.5)


def plane_homography(K: np.ndarray, rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """``K (R + t n^T) K^-1`` for a fronto-parallel plane at unit depth (``n = z``)."""
    m = rodrigues(rvec).copy()
    m[:, 2] += tvec
    return K @ m @ np.linalg.inv(K)


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = pts @ h[:, :2].T + h[:, 2]
    return q[..., :2] / q[..., 2:3]


def _frame_grid(width: float, height: float) -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(0, width, 9), np.linspace(0, height, 7))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def mean_displacement(h_start: np.ndarray, h_end: np.ndarray, width: float, height: float) -> float:
    """Mean distance (pixels) between a 9x7 grid of frame points mapped by ``h_start`` and by ``h_end``."""
    g = _frame_grid(width, height)
    return float(np.linalg.norm(_apply(h_end, g) - _apply(h_start, g), axis=1).mean())


def sample_shake(
    rng: np.random.Generator,
    window: tuple[int, int],
    blur: float | str | None = None,
    cfg: ShakeConfig | None = None,
) -> Shake:
    """Sample a shake for an image window ``(height, width)`` of the virtual frame.

    ``blur``: a level name of :data:`BLUR_LEVELS`, a fraction of the frame width, or None for a log-uniform
    draw in ``cfg.blur_range``; 0 gives identity homographies. The window lies at a random position of the
    frame (centred if it is larger than the frame).
    """
    cfg = cfg or ShakeConfig()
    if isinstance(blur, str):
        if blur not in BLUR_LEVELS:
            raise ValueError(f"unknown blur level {blur!r}; choose one of {', '.join(BLUR_LEVELS)}")
        blur = BLUR_LEVELS[blur]
    if blur is None:
        blur = _log_uniform(rng, *cfg.blur_range)
    fw = float(cfg.frame_width)
    fh = round(fw * cfg.frame_aspect)
    f = rng.uniform(*cfg.focal_factor) * fw
    K = np.array([[f, 0, fw / 2], [0, f, fh / 2], [0, 0, 1.0]])
    wh, ww = window
    ox = rng.uniform(0, fw - ww) if ww < fw else (fw - ww) / 2
    oy = rng.uniform(0, fh - wh) if wh < fh else (fh - wh) / 2
    target = float(blur) * fw

    # Shape of the path at unit scale; the final scale is found below.
    probe = np.linspace(0.0, 1.0, 33)
    rot = smooth_curve(rng, cfg.num_knots, probe)
    rot[:, 2] *= rng.uniform(*cfg.roll_ratio)
    trans = smooth_curve(rng, cfg.num_knots, probe)
    rot_size = np.abs(rot).max() + 1e-12
    trans *= rng.uniform(*cfg.translation_ratio) * rot_size / (np.abs(trans).max() + 1e-12)
    if cfg.reference == "mean":  # identity at the time-average pose (probe times are uniform in t)
        rot -= rot.mean(axis=0)
        trans -= trans.mean(axis=0)
    elif cfg.reference != "mid":
        raise ValueError(f"ShakeConfig.reference {cfg.reference!r}: use 'mean' or 'mid'")

    def homs(scale: float, idx=slice(None)) -> list[np.ndarray]:
        return [plane_homography(K, scale * r, scale * t) for r, t in zip(rot[idx], trans[idx])]

    # Displacement grows almost linearly with the scale: a few secant steps hit the target to < 0.1%.
    scale = 0.0
    if target > 0:
        scale = target / (f * (np.linalg.norm(rot[-1] - rot[0]) + 1e-9))
        for _ in range(4):
            hs = homs(scale, [0, -1])
            d = mean_displacement(hs[0], hs[1], fw, fh)
            if d <= 0:
                break
            scale *= target / d
    # Sub-frames: one per ~0.75 px of the longest path of a frame point (at least 3).
    g = _frame_grid(fw, fh)
    pts = np.stack([_apply(h, g) for h in homs(scale)])  # [33, P, 2]
    path = float(np.linalg.norm(np.diff(pts, axis=0), axis=2).sum(axis=0).max())
    n = int(np.clip(np.ceil(path / 0.75) + 1, 3, cfg.max_subframes))
    times = np.linspace(0.0, 1.0, n)
    rot_n = np.stack([np.interp(times, probe, rot[:, i]) for i in range(3)], axis=1)
    trans_n = np.stack([np.interp(times, probe, trans[:, i]) for i in range(3)], axis=1)
    frame_h = [plane_homography(K, scale * r, scale * t) for r, t in zip(rot_n, trans_n)]
    disp = mean_displacement(frame_h[0], frame_h[-1], fw, fh)
    # Frame pixel coordinates -> window pixel coordinates: x_win = x_frame - offset.
    T = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1.0]])
    Ti = np.linalg.inv(T)
    window_h = np.stack([Ti @ h @ T for h in frame_h])
    return Shake(homographies=window_h, displacement_px=disp, frame_width=int(fw))


def render_blur_linear(linear: np.ndarray, homographies: np.ndarray, margin: int = 0) -> np.ndarray:
    """Mean over sub-frames of ``linear`` warped by each homography (window coordinates), float32.

    ``linear``: ``[H + 2m, W + 2m, 3]`` linear-light image whose central ``[H, W]`` is the window, ``m =
    margin`` pixels of real context around it (borders beyond that are reflected). Returns ``[H, W, 3]``.
    """
    hp, wp = linear.shape[:2]
    h, w = hp - 2 * margin, wp - 2 * margin
    T = np.array([[1, 0, margin], [0, 1, margin], [0, 0, 1.0]])
    Ti = np.linalg.inv(T)
    acc = np.zeros((h, w, 3), np.float32)
    for hk in homographies:
        # Output pixel x (window) takes the sharp value at H_k^-1 x; cv2 maps dst -> src with M^-1.
        m = T @ hk @ Ti
        warped = cv2.warpPerspective(linear, m, (wp, hp), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        acc += warped[margin : margin + h, margin : margin + w]
    return acc / len(homographies)


def add_noise(rng: np.random.Generator, linear: np.ndarray, shot: float, read: float) -> np.ndarray:
    """Heteroscedastic Gaussian noise in linear light: ``std = sqrt(shot * x + read^2)``, clipped to [0, 1]."""
    std = np.sqrt(shot * np.clip(linear, 0, None) + read * read)
    return np.clip(linear + std * rng.standard_normal(linear.shape, dtype=np.float32), 0.0, 1.0).astype(np.float32)


def jpeg_roundtrip(srgb: np.ndarray, quality: int) -> np.ndarray:
    """8-bit JPEG encode/decode of an sRGB float image ``[H, W, 3]`` (RGB order) -> float32 in [0, 1]."""
    u8 = np.clip(np.round(srgb * 255.0), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


def synthesize_blur(
    rng: np.random.Generator,
    sharp_padded: np.ndarray,
    margin: int,
    blur: float | str | None = None,
    cfg: ShakeConfig | None = None,
    noise: bool = True,
    jpeg: bool = True,
) -> tuple[np.ndarray, np.ndarray, Shake]:
    """Make one (blurry, sharp) pair from an sRGB image with ``margin`` px of context on every side.

    Returns ``(blurry, sharp, shake)``: float32 sRGB ``[H, W, 3]`` each (sharp = the central window, the
    mid-exposure frame), and the sampled :class:`Shake`. ``noise=False, jpeg=False`` leave only blur and
    highlight clipping (used by tests: zero shake then gives back the sharp image).
    """
    cfg = cfg or ShakeConfig()
    hp, wp = sharp_padded.shape[:2]
    h, w = hp - 2 * margin, wp - 2 * margin
    sharp_padded = np.ascontiguousarray(sharp_padded, dtype=np.float32)
    shake = sample_shake(rng, (h, w), blur, cfg)
    lin0 = srgb_to_linear(sharp_padded)
    lin = lin0
    gain = rng.uniform(*cfg.highlight_gain)
    if gain > 1.0:
        hot = sharp_padded.max(axis=2, keepdims=True) >= cfg.highlight_threshold
        lin = np.where(hot, lin * gain, lin).astype(np.float32)
    lin_blur = np.clip(render_blur_linear(lin, shake.homographies, margin), 0.0, 1.0)
    sharp = sharp_padded[margin : margin + h, margin : margin + w].copy()
    if cfg.keep_low_frequencies > 0 and shake.displacement_px > 0:  # (no blur: nothing moved, nothing to match)
        lin_sharp = lin0[margin : margin + h, margin : margin + w]
        lin_blur = match_low_frequencies(lin_blur, lin_sharp, cfg.keep_low_frequencies)
    if noise:
        lin_blur = add_noise(rng, lin_blur, _log_uniform(rng, *cfg.shot_noise), _log_uniform(rng, *cfg.read_noise))
    blurry = linear_to_srgb(lin_blur).astype(np.float32)
    q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
    if jpeg and q > 0:
        blurry = jpeg_roundtrip(blurry, q)
    return blurry, sharp, shake


def match_low_frequencies(blurry: np.ndarray, sharp: np.ndarray, sigma: float) -> np.ndarray:
    """``blurry + G(sharp - blurry)``, clipped to [0, 1]: ``G`` a Gaussian of ``sigma`` px (reflected borders)."""
    d = cv2.GaussianBlur(sharp - blurry, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    return np.clip(blurry + d, 0.0, 1.0).astype(np.float32)


def margin_for(size: int, cfg: ShakeConfig | None = None) -> int:
    """Context margin (px) to cut around a window of side ``size`` so the largest training blur sees real
    content: about the largest displacement of the range, plus a few pixels."""
    cfg = cfg or ShakeConfig()
    return int(np.ceil(max(cfg.blur_range[1], BLUR_LEVELS["extreme"]) * cfg.frame_width * 0.75)) + 4
