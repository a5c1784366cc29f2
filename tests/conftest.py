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
