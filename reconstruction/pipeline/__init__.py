"""The top layer: whole runs made of the stages below (``sharpsplat reconstruct``, ``render``, ``demo``).

- :mod:`.reconstruct`: the driver, frames -> restore -> sfm -> train -> baseline -> deblurred -> render ->
  export -> compare, resumable; :mod:`.settings` (flags, stage list, presets), :mod:`.manifest` (the run
  folder's record), :mod:`.stages` (one function per stage), :mod:`.ground_truth` (``RUN/gt``);
- :mod:`.render` (``sharpsplat render``): novel views of a finished run along a camera path into an MP4 or PNGs,
  with :mod:`.camera_paths` (spiral, orbit, the filmed path smoothed, JSON paths; camera-to-world, OpenCV axes);
- :mod:`.demo` (``sharpsplat demo``): the bundled synthetic scene through the whole pipeline.

In: a video, a folder of frames or a scene folder. Out: a run folder (DESIGN.md): ``manifest.json``,
``deblurred/``, ``splats.ply``, ``renders/``, ``metrics.json``, ``report.html``.
"""
