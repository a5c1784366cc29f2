"""deblur2d training loop, checkpoints and evaluation (fast, CPU)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from deblur2d.dead_leaves import dead_leaves
from deblur2d.io.images import write_image


def test_few_steps_reduce_loss_on_tiny_overfit_case():
    import cv2

    from deblur2d.losses import mimo_loss
    from deblur2d.mimo_unet import MIMOUNet
    from deblur2d.train import zero_output_layers

    torch.manual_seed(0)
    sharp_np = dead_leaves(32, 32, 2)
    blurry_np = cv2.blur(sharp_np, (5, 1))
    sharp = torch.from_numpy(sharp_np).permute(2, 0, 1)[None]
    blurry = torch.from_numpy(blurry_np).permute(2, 0, 1)[None]
    net = MIMOUNet()
    zero_output_layers(net)
    with torch.no_grad():  # zeroed output heads: the network starts as the identity
        assert torch.allclose(net(blurry)[-1], blurry)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4)
    losses = []
    for _ in range(30):
        loss = mimo_loss(net(blurry), sharp)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.75 * losses[0] and min(losses[-5:]) < min(losses[:5])


def _tiny_cfg(out, val_dir, steps):
    from deblur2d.train import TrainConfig

    return TrainConfig(out=out, val_dir=val_dir, steps=steps, batch_size=1, crop=32, lr=1e-3, lr_step=3,
                       dead_leaves=1, photos=False, val_per_level=1, val_size=32, val_every=0, ckpt_every=2,
                       device="cpu", progress=False, seed=5)


def test_checkpoint_resume_gives_identical_state(tmp_path, monkeypatch):
    from deblur2d import datasets
    from deblur2d.train import train

    # small dead-leaves pool images keep this fast; the pool is seeded, so both runs see the same data
    monkeypatch.setattr(datasets.SyntheticPairs, "leaves", lambda self: [dead_leaves(160, 160, 11)])
    val = tmp_path / "val"
    a = train(_tiny_cfg(tmp_path / "a", val, 4))
    train(_tiny_cfg(tmp_path / "b", val, 2))
    b = train(_tiny_cfg(tmp_path / "b", val, 4))  # resumes at step 2
    assert a["step"] == b["step"] == 4
    ca = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    cb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    for k, v in ca["model"].items():
        assert torch.equal(v, cb["model"][k]), k
    assert ca["scheduler"] == cb["scheduler"] and ca["scheduler"]["last_epoch"] == 4
    sa, sb = ca["optimizer"]["state"], cb["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    for name in ("best.safetensors", "last.safetensors", "metrics.json", "val_history.jsonl"):
        assert (tmp_path / "b" / name).is_file()
    hist = [json.loads(line) for line in (tmp_path / "b" / "val_history.jsonl").read_text().splitlines()]
    assert {"mild", "strong", "extreme"} <= set(hist[-1]) and math.isfinite(hist[-1]["mild"]["input_psnr"])
    # the validation set was written once and reused (same meta), blur/sharp per level
    assert sorted(p.name for p in val.iterdir()) == ["extreme", "meta.json", "mild", "strong"]


def test_init_weights_start_a_new_run_from_a_file_and_a_wrong_one_is_refused(tmp_path, monkeypatch):
    """--init-weights: step 0 of a new run is the given network (and its EMA); weights of another architecture
    are a one-line error."""
    from dataclasses import replace

    from deblur2d import datasets
    from deblur2d.io.errors import UserError
    from deblur2d.train import train
    from deblur2d.weights import read_state_dict

    monkeypatch.setattr(datasets.SyntheticPairs, "leaves", lambda self: [dead_leaves(160, 160, 11)])
    val = tmp_path / "val"
    train(_tiny_cfg(tmp_path / "a", val, 2))
    init = tmp_path / "a" / "last.safetensors"
    train(replace(_tiny_cfg(tmp_path / "b", val, 2), init_weights=str(init), stop_at=0, ema=0.9))
    cb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert cb["step"] == 0
    ref = read_state_dict(init)
    for k, v in ref.items():
        torch.testing.assert_close(cb["model"][k], v.float(), rtol=0, atol=0)
        torch.testing.assert_close(cb["ema"][k], v.float(), rtol=0, atol=0)
    with pytest.raises(UserError, match="do not match"):
        train(replace(_tiny_cfg(tmp_path / "c", val, 2), model="mimo-unet-compact", init_weights=str(init)))


def _write_pairs(root, offset_u8=25, n=2):
    rng = np.random.default_rng(0)
    for k in range(n):
        sharp = rng.integers(60, 200, (48, 64, 3)).astype(np.float32) / 255.0
        write_image(root / "seq" / "sharp" / f"{k}.png", sharp)
        write_image(root / "seq" / "blur" / f"{k}.png", sharp + offset_u8 / 255.0)


def test_eval_json_numbers_against_known_psnr(tmp_path, identity_weights):
    from reconstruction.cli import main

    _write_pairs(tmp_path / "pairs")
    expected = 20 * math.log10(255 / 25)  # constant error of 25/255 everywhere
    out = tmp_path / "res.json"
    assert main(["eval-deblur2d", "--pairs", str(tmp_path / "pairs"), "--baseline", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["count"] == 2 and res["protocol"] == "gopro"
    assert res["mean_psnr"] == pytest.approx(expected, abs=1e-3)
    assert all(r["psnr"] == pytest.approx(expected, abs=1e-3) and r["ssim"] < 1 for r in res["images"])
    # through the network (zero weights = identity, clamped to [0, 1]): the same numbers
    out2 = tmp_path / "res2.json"
    argv = ["eval-deblur2d", "--pairs", str(tmp_path / "pairs"), "--weights", str(identity_weights),
            "--device", "cpu", "--out", str(out2)]
    assert main(argv) == 0
    assert json.loads(out2.read_text())["mean_psnr"] == pytest.approx(expected, abs=1e-3)


def test_eval_missing_pairs_is_one_line_error(tmp_path, capsys):
    from reconstruction.cli import main

    assert main(["eval-deblur2d", "--pairs", str(tmp_path / "none")]) == 2
    assert "--pairs" in capsys.readouterr().err


def test_align_recovers_known_small_shift(tmp_path):
    import cv2

    from deblur2d.evaluate import EvalConfig, evaluate, score_pair

    sharp = cv2.GaussianBlur(dead_leaves(96, 96, 6), (0, 0), 1.5)
    shift = np.float32([[1, 0, 2.0], [0, 1, -1.0]])  # content moved 2 px right, 1 px up
    moved = cv2.warpAffine(sharp, shift, (96, 96), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    plain = score_pair(moved, sharp)
    aligned = score_pair(moved * 0.9, sharp, align=True)  # also a global gain: intensity matching removes it
    assert plain["psnr"] < 25
    assert aligned["psnr"] > 40 and aligned["ssim"] > 0.98
    warp = np.array(aligned["warp"])
    assert warp[0, 2] == pytest.approx(2.0, abs=0.05) and warp[1, 2] == pytest.approx(-1.0, abs=0.05)
    # through the command's evaluate() on a pair folder
    write_image(tmp_path / "p" / "blur" / "0.png", moved)
    write_image(tmp_path / "p" / "sharp" / "0.png", sharp)
    res = evaluate(EvalConfig(pairs=tmp_path / "p", baseline=True, align=True))
    assert res["protocol"] == "realblur-aligned" and res["mean_psnr"] > 35


def test_train_cli_preset_and_flags():
    from deblur2d.io.errors import UserError
    from deblur2d.train import parse_args

    cfg = parse_args(["--preset", "cpu", "--steps", "7"])
    assert cfg.steps == 7 and cfg.crop == 128 and cfg.model == "mimo-unet-compact" and cfg.ema == 0.995
    assert cfg.schedule == "cosine" and str(cfg.out) == "runs/deblur2d-cpu"
    gpu = parse_args(["--preset=gpu"])
    assert gpu.crop == 256 and gpu.model == "mimo-unet" and gpu.amp == "bf16" and gpu.blur_on_device == "on"
    with pytest.raises(UserError, match="available"):
        parse_args(["--preset", "nope"])
