"""How good is it: sharp frames and novel views compared with the inputs, the baselines and the ground truth.

- :mod:`.compare` (``sharpsplat compare``): frame-by-frame comparison of methods (blurry input, MIMO-UNet,
  3DGS on blurry, DeblurGS), with :mod:`.compare_spec` (what is compared), :mod:`.measures` (PSNR in dB, SSIM,
  no-reference sharpness at a common resolution), :mod:`.grids` (crops and image grids),
  :mod:`.trajectories` (in-exposure paths in degrees of view angle), :mod:`.training_curves`;
- :mod:`.novel_views`: held-out ground-truth views rendered by a run, at the pose mapped by Sim(3) alignment
  and after test-time pose optimisation;
- :mod:`.report` (``report.html``) and :mod:`.plots` (dependency-free SVG plots).

In: folders of frames (float32 sRGB in [0, 1] once read), ``trajectories.json`` / ``gt/cameras.json``
(camera-to-world), training logs. Out: ``report/metrics.json``, PNG grids, SVG plots, ``report.html``.
"""
