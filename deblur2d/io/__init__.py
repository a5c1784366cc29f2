"""The ground floor of sharpsplat: generic helpers that every package and stage stands on.

In: paths, numpy arrays and torch tensors. Out: files written atomically, images as float32 ``[H, W, 3]`` in
[0, 1] (sRGB unless a name says ``linear``), video frames one at a time, one-line errors for the user.

- :mod:`.atomic`: write to a temporary sibling, then rename (files and whole folders);
- :mod:`.errors`: :class:`~.errors.UserError`, printed by the CLIs as one line (exit status 2);
- :mod:`.images`: read / write / encode 8- and 16-bit images, EXIF orientation;
- :mod:`.video`: probe, decode frame by frame, encode;
- :mod:`.color`: ``srgb_to_linear`` / ``linear_to_srgb`` (gamma 2.2 by default), numpy or torch.

Imports nothing else of the project (tests/test_layering.py): ``deblur2d`` and ``reconstruction`` import it.
"""
