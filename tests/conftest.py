import os

import pytest

# Keep the 2-core CI machine responsive and results reproducible.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see reconstruction/cli.py


@pytest.fixture
def identity_weights(tmp_path):
    """A MIMO-UNet checkpoint with all weights zero: the network is then the identity (output = 0 + input)."""
    import torch

    from deblur2d import MIMOUNet
    from deblur2d.weights import save_weights

    m = MIMOUNet()
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    path = tmp_path / "identity.safetensors"
    save_weights(m, path, "mimo-unet")
    return path


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The tiny synthetic scene (10 frames of 128x96, strong shake, ground truth), made once per session."""
    from reconstruction.synthetic import make_scene

    return make_scene(tmp_path_factory.mktemp("scene") / "tiny", preset="tiny", seed=0, blur="strong", progress=False)


@pytest.fixture(scope="session")
def finished_run(tiny, tmp_path_factory):
    """``sharpsplat reconstruct`` of ``tiny``'s video to the end (~30 s), once per session; tests that change it
    leave it complete."""
    from reconstruction.cli import main

    out = tmp_path_factory.mktemp("runs") / "run"
    argv = ["reconstruct", str(tiny / "video.mp4"), "--out", str(out), "--preset", "tiny", "--ground-truth",
            str(tiny), "--no-progress", "--threads", "2"]  # fmt: skip
    assert main(argv) == 0
    return out
