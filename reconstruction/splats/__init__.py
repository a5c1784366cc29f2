"""3D Gaussian splats: the scene model, its rasterizers, its files, and plain 3DGS training.

- :mod:`.gaussians`: ``GaussianModel`` (means in world units, log-scales, quaternions, logit opacities, SH
  colour) and checkpoints; :mod:`.densify`: clone / split / prune (3DGS, with annealing for DeblurGS);
- :mod:`.render`: ``render(splats, viewmats [C,4,4], Ks [C,3,3], width, height) -> (rgb [C,H,W,3], alpha,
  info)``, gsplat's signature, with a gsplat (CUDA) and a pure-PyTorch backend that agree;
- :mod:`.ply`: the 3DGS PLY layout, written and read back bit for bit;
- :mod:`.train_3dgs`: the plain 3DGS trainer (``sharpsplat train-3dgs``) and the pieces DeblurGS reuses;
- :mod:`.run_io`: a finished run folder (``checkpoint.pt`` + ``cameras.json``) loaded back and rendered to sRGB.

In: camera-to-world poses (OpenCV axes) and pixel intrinsics; out: float32 images in [0, 1] (linear or sRGB as
the trainer says), checkpoints and PLY files. Stands on ``io``, ``geometry`` and ``deblur2d``; knows nothing of
SfM, DeblurGS's motion model or the evaluation.
"""
