"""MIMO-UNet matches the official release: parameter counts, key names, shapes, forward semantics, loading."""

import pytest
import torch
import torch.nn.functional as F

from deblur2d import MIMOUNet, MIMOUNetPlus
from deblur2d.io.errors import UserError
from deblur2d.weights import load_weights, read_state_dict, save_weights


@pytest.mark.parametrize("cls, n_params, n_tensors", [(MIMOUNet, 6_807_171, 244), (MIMOUNetPlus, 16_107_651, 532)])
def test_parameter_and_tensor_counts(cls, n_params, n_tensors):
    m = cls()
    assert sum(p.numel() for p in m.parameters()) == n_params
    assert len(m.state_dict()) == n_tensors
    assert list(m.buffers()) == []
    convs = [mod for mod in m.modules() if isinstance(mod, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert all(c.bias is not None for c in convs)
    assert not any(isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) for mod in m.modules())


def test_official_key_names_and_shapes():
    sd = MIMOUNet().state_dict()
    expected = {
        "Encoder.0.layers.0.main.0.main.0.weight": (32, 32, 3, 3),
        "Encoder.2.layers.7.main.1.main.0.bias": (128,),
        "Decoder.1.layers.3.main.1.main.0.weight": (64, 64, 3, 3),
        "feat_extract.0.main.0.weight": (32, 3, 3, 3),
        "feat_extract.3.main.0.weight": (128, 64, 4, 4),  # ConvTranspose2d: [in, out, k, k]
        "feat_extract.4.main.0.weight": (64, 32, 4, 4),
        "feat_extract.5.main.0.weight": (3, 32, 3, 3),
        "Convs.0.main.0.weight": (64, 128, 1, 1),
        "Convs.1.main.0.weight": (32, 64, 1, 1),
        "ConvsOut.0.main.0.weight": (3, 128, 3, 3),
        "ConvsOut.1.main.0.weight": (3, 64, 3, 3),
        "AFFs.0.conv.0.main.0.weight": (32, 224, 1, 1),
        "AFFs.1.conv.1.main.0.weight": (64, 64, 3, 3),
        "FAM1.merge.main.0.weight": (128, 128, 3, 3),
        "FAM2.merge.main.0.weight": (64, 64, 3, 3),
        "SCM1.main.3.main.0.weight": (125, 64, 1, 1),
        "SCM2.main.3.main.0.weight": (61, 32, 1, 1),
        "SCM1.conv.main.0.weight": (128, 128, 1, 1),
    }
    for k, shape in expected.items():
        assert tuple(sd[k].shape) == shape, k
    assert isinstance(MIMOUNet().feat_extract[3].main[0], torch.nn.ConvTranspose2d)
    plus = MIMOUNetPlus().state_dict()
    assert "Encoder.0.layers.19.main.1.main.0.weight" in plus and "Encoder.0.layers.20.main.0.main.0.weight" not in plus
    drops = [m for m in MIMOUNetPlus().modules() if isinstance(m, torch.nn.Dropout2d)]
    assert len(drops) == 2 and all(d.p == 0.1 for d in drops)


def test_forward_outputs_are_residuals_on_nearest_downsampled_input():
    torch.manual_seed(0)
    m = MIMOUNet().eval()
    for p in m.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(2, 3, 36, 52)
    out = m(x)
    assert [tuple(o.shape) for o in out] == [(2, 3, 9, 13), (2, 3, 18, 26), (2, 3, 36, 52)]
    x2 = F.interpolate(x, scale_factor=0.5, mode="nearest")
    torch.testing.assert_close(out[1], x2, rtol=0, atol=0)
    torch.testing.assert_close(out[0], F.interpolate(x2, scale_factor=0.5, mode="nearest"), rtol=0, atol=0)
    torch.testing.assert_close(out[2], x, rtol=0, atol=0)


def test_forward_not_clamped_and_needs_multiple_of_4():
    torch.manual_seed(0)
    m = MIMOUNet().eval()
    with torch.no_grad():
        m.feat_extract[5].main[0].bias.fill_(2.0)  # pushes the full-scale output above 1
        y = m(torch.rand(1, 3, 16, 16))[-1]
    assert y.max() > 1.5
    with pytest.raises(ValueError, match="divisible by 4"):
        m(torch.rand(1, 3, 18, 16))


def _official_style_pkl(path, model, legacy):
    """Write a checkpoint the way the official training code does: torch.save({'model': state_dict}),
    in the pre-1.6 (legacy, pickle protocol 2) or the zip serialisation, keys with a DataParallel prefix."""
    sd = {"module." + k: v for k, v in model.state_dict().items()}
    torch.save({"model": sd}, path, _use_new_zipfile_serialization=not legacy, pickle_protocol=2)


@pytest.mark.parametrize("legacy", [True, False])
def test_load_official_pkl(tmp_path, legacy):
    torch.manual_seed(1)
    src = MIMOUNet()
    pkl = tmp_path / "MIMO-UNet.pkl"
    _official_style_pkl(pkl, src, legacy)
    dst = MIMOUNet()
    load_weights(dst, pkl)
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), k


def test_safetensors_half_round_trip(tmp_path):
    torch.manual_seed(1)
    src = MIMOUNet()

    st = tmp_path / "w.safetensors"
    save_weights(src, st, "mimo-unet", half=True)
    sd = read_state_dict(st)
    assert all(v.dtype == torch.float16 for v in sd.values())
    dst2 = MIMOUNet()
    load_weights(dst2, st)
    w = dst2.state_dict()["Encoder.0.layers.0.main.0.main.0.weight"]
    assert w.dtype == torch.float32
    torch.testing.assert_close(w, src.state_dict()["Encoder.0.layers.0.main.0.main.0.weight"], atol=1e-3, rtol=1e-3)


def test_mismatch_lists_missing_and_unexpected_keys(tmp_path):
    sd = MIMOUNet().state_dict()
    sd.pop("FAM1.merge.main.0.weight")
    sd["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pkl"
    torch.save({"model": sd}, path)
    with pytest.raises(UserError) as e:
        load_weights(MIMOUNet(), path)
    msg = str(e.value)
    assert "missing keys: FAM1.merge.main.0.weight" in msg and "unexpected keys: extra.weight" in msg
    assert "\n" not in msg

    plus = tmp_path / "plus.pkl"
    torch.save({"model": MIMOUNetPlus().state_dict()}, plus)
    with pytest.raises(UserError, match="--model mimo-unet-plus"):
        load_weights(MIMOUNet(), plus, model_name="mimo-unet")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_unreadable_weights_file(tmp_path, content):
    path = tmp_path / "w.pkl"
    path.write_bytes(content)
    with pytest.raises(UserError, match=str(path.name)):
        load_weights(MIMOUNet(), path)
