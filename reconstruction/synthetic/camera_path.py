"""Handheld camera motion: a smooth arc around the scene plus per-frame in-exposure shake.

Poses are camera-to-world 4x4 in OpenCV axes (x right, y down, z forward); the world is y-up.

- The *path* is a smooth arc facing a target point with a slow hand wobble (low-frequency rotation and
  translation, a few per path); it gives the mid-exposure pose of every frame and the held-out test views
  between frames. The walk's own motion during the exposure is neglected: all in-exposure motion is shake.
- The *shake* of one exposure is a smooth random 6-DoF curve in the camera frame,
  ``c2w(tau) = c2w_mid @ se3_exp(s * (v tau + a tau^2 + j tau^3))``, ``tau in [-1/2, 1/2]``, so mid-exposure
  (``tau = 0``) is exactly ``c2w_mid``. It is rotation-dominant like real hand shake (pitch and yaw
  strongest, roll weaker, translation a small part of the image motion; see Koehler et al., ECCV 2012, who
  recorded real camera shake), and the scale ``s`` is solved so that the mean displacement of the visible
  scene points between exposure start and end equals the frame's target in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reconstruction.geometry.lie import se3_exp_np

#: Longest accepted shake path (pitch/yaw) relative to its start-to-end chord.
MAX_CURVATURE_RATIO = 1.6
#: Highest accepted peak speed (pitch/yaw) relative to the mean start-to-end speed over the exposure.
MAX_PEAK_SPEED_RATIO = 1.6


WORLD_UP = np.array([0.0, 1.0, 0.0])


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = WORLD_UP) -> np.ndarray:
    """c2w 4x4 (OpenCV axes) of a camera at ``eye`` looking at ``target`` with world ``up`` appearing up."""
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = x, y, z, eye
    return c2w


@dataclass
class ArcPath:
    """An arc of radius ``radius`` around ``target`` at camera height ``height``; ``s in [0, 1]``."""

    target: np.ndarray
    radius: float
    height: float
    angle_start: float  # radians, 0 = straight in front of the target (camera at -z)
    angle_end: float
    wobble_rot: np.ndarray  # [K, 3] amplitudes (rad) of the rotation wobble, camera frame
    wobble_trans: np.ndarray  # [K, 3] amplitudes (m) of the translation wobble, world frame
    wobble_freq: np.ndarray  # [K] cycles per path
    wobble_phase: np.ndarray  # [K, 6] phases

    @classmethod
    def random(cls, rng: np.random.Generator, target: np.ndarray) -> ArcPath:
        span = np.deg2rad(rng.uniform(24.0, 34.0))
        centre = np.deg2rad(rng.uniform(-6.0, 6.0))
        direction = 1.0 if rng.random() < 0.5 else -1.0
        k = 3
        return cls(
            target=np.asarray(target, float),
            radius=float(rng.uniform(4.0, 4.8)),
            height=float(rng.uniform(1.3, 1.7)),
            angle_start=float(centre - direction * span / 2),
            angle_end=float(centre + direction * span / 2),
            wobble_rot=np.deg2rad(rng.uniform(0.3, 1.0, (k, 3))) * np.array([1.0, 1.0, 0.5]),
            wobble_trans=rng.uniform(0.005, 0.025, (k, 3)),
            wobble_freq=rng.uniform(0.5, 2.5, k),
            wobble_phase=rng.uniform(0, 2 * np.pi, (k, 6)),
        )

    def pose(self, s: float) -> np.ndarray:
        """c2w at path parameter ``s`` (0 = first frame, 1 = last)."""
        alpha = self.angle_start + (self.angle_end - self.angle_start) * s
        waves = np.sin(2 * np.pi * self.wobble_freq[:, None] * s + self.wobble_phase)  # [K, 6]
        eye = self.target + np.array(
            [self.radius * np.sin(alpha), self.height - self.target[1], -self.radius * np.cos(alpha)]
        )
        eye = eye + (self.wobble_trans * waves[:, :3]).sum(0)
        c2w = look_at(eye, self.target)
        wobble = np.zeros(6)
        wobble[3:] = (self.wobble_rot * waves[:, 3:]).sum(0)
        return c2w @ se3_exp_np(wobble)

    def to_dict(self) -> dict:
        return {
            "target": self.target.tolist(),
            "radius": self.radius,
            "height": self.height,
            "angle_start_deg": float(np.rad2deg(self.angle_start)),
            "angle_end_deg": float(np.rad2deg(self.angle_end)),
        }


@dataclass
class Shake:
    """Polynomial coefficients of one exposure's shake in se(3), ``xi = (rho, phi)``, camera frame."""

    v: np.ndarray
    a: np.ndarray
    j: np.ndarray
    scale: float = 1.0

    @classmethod
    def random(cls, rng: np.random.Generator, scene_depth: float) -> Shake:
        """Unit-scale random shake: rotation std (pitch, yaw, roll) = (1, 1, 0.35) per unit, translation
        0.12 x ``scene_depth`` metres per radian (about 12% of the image motion comes from translation).

        Curves whose pitch/yaw path is more than ``MAX_CURVATURE_RATIO`` times longer than its chord, or
        whose peak angular speed exceeds ``MAX_PEAK_SPEED_RATIO`` times the chord per exposure, are redrawn
        (hooks and sudden jerks would need many more sub-frames, which are uniform in time); the kept curves
        are on average about 1.04 times longer than their chord (FINDINGS.md's generator: 1.3).
        """
        std = np.array([0.12 * scene_depth] * 3 + [1.0, 1.0, 0.35])
        tau = np.linspace(-0.5, 0.5, 65)
        while True:
            shake = cls(v=rng.normal(size=6) * std, a=0.9 * rng.normal(size=6) * std, j=0.4 * rng.normal(size=6) * std)
            rot = shake.xi(tau)[:, 3:5]
            chord = np.linalg.norm(rot[-1] - rot[0])
            step = np.linalg.norm(np.diff(rot, axis=0), axis=1)
            if step.sum() <= MAX_CURVATURE_RATIO * chord and step.max() * len(step) <= MAX_PEAK_SPEED_RATIO * chord:
                return shake

    def xi(self, tau: np.ndarray) -> np.ndarray:
        tau = np.asarray(tau, float)[..., None]
        return self.scale * (self.v * tau + self.a * tau**2 + self.j * tau**3)

    def poses(self, c2w_mid: np.ndarray, tau: np.ndarray) -> np.ndarray:
        """``[len(tau), 4, 4]`` c2w along the exposure."""
        return np.asarray(c2w_mid, float) @ se3_exp_np(self.xi(tau))


def project(points_world: np.ndarray, c2w: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Pixel coordinates ``[..., P, 2]`` of world points ``[P, 3]`` seen from cameras ``c2w [..., 4, 4]``."""
    c2w = np.asarray(c2w, float)
    rot = np.swapaxes(c2w[..., :3, :3], -1, -2)  # world-to-camera rotation
    cam = (points_world[None] - c2w[..., None, :3, 3]) @ np.swapaxes(rot, -1, -2)
    uv = cam @ np.asarray(k, float).T
    return uv[..., :2] / uv[..., 2:3]


def mean_displacement(points_world: np.ndarray, c2w_a: np.ndarray, c2w_b: np.ndarray, k: np.ndarray) -> float:
    """Mean pixel distance between the projections of ``points_world`` from two cameras."""
    pa = project(points_world, c2w_a, k)
    pb = project(points_world, c2w_b, k)
    return float(np.linalg.norm(pa - pb, axis=-1).mean())


def calibrate_shake(
    shake: Shake, c2w_mid: np.ndarray, points_world: np.ndarray, k: np.ndarray, target_px: float
) -> Shake:
    """Set ``shake.scale`` so the mean start-to-end displacement of ``points_world`` is ``target_px``.

    The displacement is nearly linear in the scale for small motions; three secant steps on the ratio
    reach a relative error below 1e-6 in practice.
    """
    if target_px <= 0:
        shake.scale = 0.0
        return shake
    ends = np.array([-0.5, 0.5])
    # Start from the scale that the linear (small-angle) approximation suggests.
    shake.scale = 1e-3
    for _ in range(6):
        pa, pb = shake.poses(c2w_mid, ends)
        disp = mean_displacement(points_world, pa, pb, k)
        if disp <= 0:
            raise RuntimeError("shake calibration: zero displacement")
        ratio = target_px / disp
        shake.scale *= ratio
        if abs(ratio - 1.0) < 1e-7:
            break
    return shake
