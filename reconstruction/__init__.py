"""sharpsplat's 3D half: shaky, blurry frames in; a sharp Gaussian-splat scene, sharp frames, novel views out.

Packages, lowest layer first (imports run down this list, never up; tests/test_layering.py checks it):
``geometry`` -> ``io`` -> ``synthetic`` -> ``splats`` -> ``sfm`` -> ``deblurgs`` -> ``evaluation`` ->
``pipeline`` -> ``cli``, all above ``deblur2d`` and its ground floor ``deblur2d.io``. This root imports nothing.
"""
