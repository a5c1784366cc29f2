"""Pure camera and pose maths, no files: the floor every 3D package stands on.

- :mod:`.lie`: SO(3) / SE(3) ``exp`` / ``log`` (torch, batched, differentiable; ``*_np`` in float64); se(3)
  6-vectors are ``(rho, phi)``, translation first, angles in radians;
- :mod:`.camera_model`: intrinsics ``K`` [3, 3] in pixels and their scaling (``scale_K``), COLMAP camera models
  (lens distortion in pixels, the PINHOLE rewrite, rescaling a model found on downscaled frames);
- :mod:`.alignment`: Sim(3) alignment of estimated to true camera-to-world poses, pose errors in degrees and
  world units.

Poses are camera-to-world 4x4 in OpenCV axes (x right, y down, z forward) unless a name says otherwise.
Imports nothing of the project.
"""
