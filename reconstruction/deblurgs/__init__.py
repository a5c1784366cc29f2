"""DeblurGS: Gaussian splatting with per-frame in-exposure camera trajectories (Oh et al., arXiv 2404.11358).

Modules: :mod:`.trajectory` (Bezier curves in se(3)), :mod:`.trainer` (config and joint optimisation),
:mod:`.data` (scene input), :mod:`.evaluate` (metrics on synthetic scenes), :mod:`.cli` (``sharpsplat train``).

In: a posed scene folder (frames as captured, blurry; camera-to-world poses in OpenCV axes; ``K`` in pixels).
Out: a run folder with ``checkpoint.pt``, ``cameras.json``, ``trajectories.json`` (``c2w_sub`` per frame),
``deblurred/`` (sharp mid-exposure frames, sRGB PNG), ``splats.ply``, ``train_log.jsonl``. The blurry frame is
modelled as the mean of sub-frame renders in linear light. Stands on ``splats``, ``io``, ``geometry``.
"""
