"""The SfM front end: a video or a folder of frames in, a posed scene folder out (``sharpsplat sfm``).

One straight path, read top to bottom in :mod:`.front_end` (``sfm_scene``): frames (:mod:`.frames`) -> restore
(:mod:`.restore`, MIMO-UNet, for SfM only) -> colmap (:mod:`.colmap`, pycolmap SIFT + matching + mapping, one
looser retry) -> undistort (:mod:`.undistort`, a PINHOLE camera) -> report (:mod:`.report`). :mod:`.cli` parses
the flags.

Out: ``scene/images`` (frames at the working size, names in capture order), ``scene/frames.json``,
``scene/restored`` (when restoring), ``scene/sparse/0`` (COLMAP binary model for ``images/`` at full size:
world-to-camera poses in SfM's arbitrary world units, one PINHOLE camera in pixels) and
``scene/sfm_report.json``. Frames are never modified at the source; a rerun reuses finished stages.
"""
