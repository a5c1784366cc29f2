"""Reading what the 3D stages are given: scene folders, their ground truth, folders of frames, presets.

- :mod:`.scenes`: what an input path is (video, image folder, COLMAP, LLFF / Deblur-NeRF, synthetic scene) and
  its cameras: file names in capture order, camera-to-world ``[V, 4, 4]`` float64 in OpenCV axes, one pinhole
  ``K`` [3, 3] in pixels for the images as they are on disk; held-out and sharp views when the scene has them;
- :mod:`.gt_cameras`: ``gt/cameras.json`` (DESIGN.md) as numpy arrays;
- :mod:`.image_folders`: which files of a folder are frames, their size (px), a box-downscaled copy;
- :mod:`.presets`: the named TOML presets of ``configs/`` applied to a command's dataclass before its flags.

Stands on :mod:`deblur2d.io` and :mod:`reconstruction.geometry` only.
"""
