"""See a run in 3D: an interactive viewer in the browser (viser), and a self-contained 3D view for the report.

- :mod:`.content`: what is drawn, read from a run folder (``splats.ply``, ``baseline/splats.ply``,
  ``cameras.json``, ``trajectories.json``, ``gt/cameras.json``, ``scene/sparse/0``, ``renders/path.path.json``, the
  frames of ``compare.json``'s methods) or from a training in progress;
- :mod:`.scene`: those drawn into a viser scene: splats, training cameras with their frames, in-exposure
  trajectories magnified, SfM points, novel path; toggles, a shake slider, click a camera to look through it;
- :mod:`.server` (``sharpsplat view``, ``reconstruct --view``): the web server, loopback by default;
- :mod:`.embed`: the scene as one HTML file that plays back offline (``report/scene3d.html``).

In: a run folder (world units of SfM, camera-to-world in OpenCV axes, sRGB PLY colours). Out: a web page;
nothing is rendered on the server (the browser draws the splats with WebGL). Below :mod:`reconstruction.evaluation`
so that the report can embed the view; imports viser only when a view is made.
"""
