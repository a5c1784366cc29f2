"""DeblurGS: Gaussian splatting with per-frame in-exposure camera trajectories (Oh et al., arXiv 2404.11358).

Modules: :mod:`.trajectory` (Bezier curves in se(3)), :mod:`.trainer` (config and joint optimisation),
:mod:`.data` (scene input), :mod:`.evaluate` (metrics on synthetic scenes), :mod:`.cli` (``sharpsplat train``).
"""
