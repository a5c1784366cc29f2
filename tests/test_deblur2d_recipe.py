"""MIMO-UNet family, self-describing weights, the short-schedule recipe, device-side blur (CPU, fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deblur2d.dead_leaves import dead_leaves


def test_family_members_keep_official_keys_and_infer_back():
    from deblur2d.mimo_unet import MIMOUNet, arch_from_state_dict, build_model, model_name_of, parse_arch

    full = set(MIMOUNet().state_dict())
    for c, n in [(16, 4), (24, 2), (8, 1)]:
        m = MIMOUNet(c, n)
        sd = m.state_dict()
        # same key names as the official network, just fewer residual blocks
        assert set(sd) <= full or all(k.split(".layers.")[0] in {x.split(".layers.")[0] for x in full} for k in sd)
        assert sd["feat_extract.0.main.0.weight"].shape[0] == c
        a = arch_from_state_dict(sd)
        assert (a.base_channels, a.num_res) == (c, n)
        assert parse_arch(model_name_of(a)) == a or model_name_of(a) == "mimo-unet-compact"
    assert model_name_of(arch_from_state_dict(build_model("mimo-unet-plus").state_dict())) == "mimo-unet-plus"
    assert sum(p.numel() for p in build_model("mimo-unet-c16-b4").parameters()) == 929_987
    with pytest.raises(ValueError):
        parse_arch("mimo-unet-xl")
    with pytest.raises(ValueError):
        MIMOUNet(base_channels=10)


def test_weights_record_architecture_and_load_without_flags(tmp_path):
    from deblur2d.mimo_unet import MIMOUNet
    from deblur2d.restorer import Restorer
    from deblur2d.weights import arch_of, load_network, read_metadata, save_weights

    torch.manual_seed(0)
    net = MIMOUNet(8, 1)
    path = tmp_path / "w.safetensors"
    save_weights(net, path, "mimo-unet-c8-b1", metadata={"step": 3})
    meta = read_metadata(path)
    assert meta["base_channels"] == "8" and meta["num_res"] == "1" and meta["step"] == "3"
    loaded, name = load_network(path)
    assert name == "mimo-unet-c8-b1" and (loaded.base_channels, loaded.num_res) == (8, 1)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded(x)[-1], net.half().float()(x)[-1], atol=1e-5)
    # an official-style pickle ({'model': sd}, no metadata): the shapes say what it is
    pkl = tmp_path / "official.pkl"
    torch.save({"model": MIMOUNet(8, 2).state_dict()}, pkl)
    assert (arch_of(pkl).base_channels, arch_of(pkl).num_res) == (8, 2)
    r = Restorer(weights=str(pkl), device="cpu", precision="fp32")
    assert r.model_name == "mimo-unet-c8-b2" and "mimo-unet-c8-b2" in r.describe()
    from deblur2d.io.errors import UserError

    with pytest.raises(UserError, match="--model auto"):
        Restorer(model="mimo-unet", weights=str(pkl), device="cpu")


def test_centroid_target_removes_the_offset_between_blurry_and_sharp():
    from deblur2d.blur_synthesis import ShakeConfig, sample_shake

    def offsets(cfg):
        out = []
        for seed in range(40):
            shake = sample_shake(np.random.default_rng(seed), (96, 96), 0.05, cfg)
            pts = np.array([[x, y, 1.0] for x in (8, 48, 88) for y in (8, 48, 88)])
            q = np.einsum("kij,pj->kpi", shake.homographies, pts)
            q = q[..., :2] / q[..., 2:]
            out.append(float(np.linalg.norm(q.mean(0) - pts[:, :2], axis=1).mean()))  # blur centroid vs target
        return np.array(out)

    mid, mean = offsets(ShakeConfig(reference="mid")), offsets(ShakeConfig(reference="mean"))
    assert np.percentile(mid, 90) > 3.0  # 32 px of blur: the mid-exposure target sits pixels off the centroid
    assert np.percentile(mean, 90) < 0.05 * np.percentile(mid, 90) and mean.max() < 1.5


def test_synthetic_pairs_keep_the_sharp_brightness():
    from deblur2d.blur_synthesis import ShakeConfig
    from deblur2d.datasets import SyntheticPairs, skimage_photo

    photos = [skimage_photo("astronaut"), skimage_photo("chelsea")]
    biased = SyntheticPairs(photos, crop=64, seed=1, cfg=ShakeConfig(keep_low_frequencies=0,
                                                                     highlight_gain=(4.0, 6.0)))
    # (the noise model, clipped at 0, adds a little light in the dark: part of what is left below)
    fixed = SyntheticPairs(photos, crop=64, seed=1, cfg=ShakeConfig(highlight_gain=(4.0, 6.0)))
    from deblur2d.io.color import srgb_to_linear

    def gap(b, s):  # in linear light, where a camera's blur keeps the mean
        return float(srgb_to_linear(b).mean() - srgb_to_linear(s).mean())

    d_biased = [gap(*biased.sample(i)) for i in range(10)]
    d_fixed = [gap(*fixed.sample(i)) for i in range(10)]
    assert np.mean(d_biased) > 0.004  # boosted highlights add light the clipped target does not hold
    assert abs(np.mean(d_fixed)) < 0.4 * np.mean(d_biased) and abs(np.mean(d_fixed)) < 0.003


def test_curriculum_grows_the_largest_blur_with_the_step():
    from deblur2d.blur_synthesis import ShakeConfig
    from deblur2d.datasets import SyntheticPairs

    ds = SyntheticPairs([dead_leaves(300, 300, 1)], crop=32, cfg=ShakeConfig(blur_range=(0.003, 0.08)),
                        curriculum=(0.02, 100), batch_size=4)
    assert ds.max_blur(0) == pytest.approx(0.02) and ds.max_blur(100) == pytest.approx(0.08)
    assert ds.max_blur(50) == pytest.approx(np.sqrt(0.02 * 0.08))
    early = [ds._blur_for(np.random.default_rng(i), i) for i in range(40)]  # steps 0..9
    late = [ds._blur_for(np.random.default_rng(i), 1000 + i) for i in range(40)]
    assert max(early) <= ds.max_blur(9) + 1e-12 and max(late) > 0.03


def test_device_blur_matches_the_opencv_path():
    from deblur2d.blur_synthesis import ShakeConfig, margin_for, synthesize_blur
    from deblur2d.blur_torch import blur_batch, draw_raw

    cfg = ShakeConfig()
    src = dead_leaves(160, 160, 4)
    m = margin_for(48, cfg)
    win = src[: 48 + 2 * m, : 48 + 2 * m]
    for blur in ("mild", "extreme"):
        ref, sharp, _ = synthesize_blur(np.random.default_rng(2), win, m, blur, cfg, noise=False, jpeg=False)
        b, s = blur_batch([draw_raw(np.random.default_rng(2), win, m, blur, cfg)], m, cfg, "cpu", noise=False)
        assert np.abs(b[0].permute(1, 2, 0).numpy() - ref).max() < 0.01
        assert np.array_equal(s[0].permute(1, 2, 0).numpy(), sharp)
        assert np.abs(ref - sharp).mean() > 0.01  # it did blur


def test_lr_schedule_warmup_then_cosine():
    from deblur2d.train import TrainConfig, lr_factor

    cfg = TrainConfig(schedule="cosine", lr=1e-3, warmup_steps=10, min_lr=1e-5, steps=110)
    f = [lr_factor(cfg, s) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0) and f[60] == pytest.approx(0.505, abs=1e-3)
    assert all(a >= b for a, b in zip(f[10:], f[11:])) and f[-1] > 0.01 - 1e-9
    assert lr_factor(TrainConfig(schedule="step", lr_step=5, lr_gamma=0.5), 12) == 0.25


def _recipe_cfg(out, val_dir, steps, **kw):
    from deblur2d.train import TrainConfig

    base = dict(out=out, val_dir=val_dir, steps=steps, batch_size=2, crop=32, model="mimo-unet-c8-b1",
                optimizer="adamw", schedule="cosine", lr=2e-3, warmup_steps=2, grad_clip=0.5, ema=0.9,
                curriculum_start=0.01, curriculum_steps=4, dead_leaves=1, photos=False, val_per_level=1,
                val_size=32, val_every=0, ckpt_every=2, device="cpu", progress=False, seed=3, amp="off")
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("blur_on_device", ["off", "on"])
def test_recipe_trains_resumes_exactly_and_exports_ema(tmp_path, monkeypatch, blur_on_device):
    from deblur2d import datasets
    from deblur2d.train import train
    from deblur2d.weights import load_network, read_metadata

    monkeypatch.setattr(datasets.SyntheticPairs, "leaves", lambda self: [dead_leaves(160, 160, 11)])
    val = tmp_path / "val"
    a = train(_recipe_cfg(tmp_path / "a", val, 4, blur_on_device=blur_on_device))
    first = train(_recipe_cfg(tmp_path / "b", val, 4, blur_on_device=blur_on_device, stop_at=2))
    assert first["step"] == 2 and not first["finished"] and first["stopped_early"]
    b = train(_recipe_cfg(tmp_path / "b", val, 4, blur_on_device=blur_on_device))
    assert a["step"] == b["step"] == 4 and a["model"] == "mimo-unet-c8-b1"
    ca = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    cb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    if blur_on_device == "off":  # the device path draws noise from torch's generator, reseeded on resume
        for k in ca["model"]:
            assert torch.equal(ca["model"][k], cb["model"][k]), k
    ema_differs = any(not torch.equal(ca["ema"][k], ca["model"][k]) for k in ca["model"])
    assert ema_differs  # the EMA is its own set of weights
    net, name = load_network(tmp_path / "a" / "last.safetensors")
    assert name == "mimo-unet-c8-b1"
    for k, v in net.state_dict().items():  # what is exported is the EMA
        assert torch.allclose(v, ca["ema"][k].half().float()), k
    assert read_metadata(tmp_path / "a" / "best.safetensors")["ema"] == "0.9"
    log = [json.loads(x) for x in (tmp_path / "a" / "train_log.jsonl").read_text().splitlines()]
    assert log and all(0 <= r["data_wait_fraction"] <= 1 for r in log)
    assert 0 <= a["data_wait_fraction_this_run"] <= 1


def test_pipeline_can_overfit_one_batch():
    """Diagnosis of short runs: the model, loss and optimiser do learn (one fixed batch, far above the input)."""
    import cv2

    from deblur2d.losses import mimo_loss
    from deblur2d.metrics import psnr
    from deblur2d.mimo_unet import MIMOUNet
    from deblur2d.train import zero_output_layers

    torch.manual_seed(0)
    sharp_np = [cv2.GaussianBlur(dead_leaves(32, 32, s), (0, 0), 0.7) for s in range(2)]
    sharp = torch.stack([torch.from_numpy(x).permute(2, 0, 1) for x in sharp_np])
    blurry = torch.stack([torch.from_numpy(cv2.blur(x, (7, 1))).permute(2, 0, 1) for x in sharp_np])
    net = MIMOUNet(8, 1)
    zero_output_layers(net)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    before = float(psnr(blurry, sharp))
    for _ in range(150):
        loss = mimo_loss(net(blurry), sharp)["total"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()
    with torch.no_grad():
        after = float(psnr(net(blurry)[-1].clamp(0, 1), sharp))
    assert after > before + 4.0
