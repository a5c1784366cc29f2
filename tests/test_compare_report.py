"""`sharpsplat compare` and report.html on a tiny fake run whose answers are known (64x48 frames, CPU, seconds)."""

from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur2d.io.errors import UserError
from deblur2d.io.images import read_image, write_image
from reconstruction.deblurgs.data import downscale_image
from reconstruction.evaluation.compare import compare_run, main
from reconstruction.evaluation.grids import choose_crops
from reconstruction.evaluation.measures import comparison_size, sharpness
from reconstruction.evaluation.plots import Series, line_plot, nice_ticks
from reconstruction.evaluation.training_curves import read_train_log
from reconstruction.evaluation.trajectories import image_plane_path
from reconstruction.geometry.lie import se3_exp_np

W, H, N = 64, 48, 3
FILES = [f"frame_{i:05d}.png" for i in range(N)]
SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


def _gt_image(rng: np.random.Generator) -> np.ndarray:
    base = rng.random((H // 8, W // 8, 3)).astype(np.float32)
    img = cv2.resize(base, (W, H), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    img[H // 4 : H // 2, W // 4 : W // 2] = rng.random((H // 4, W // 4, 3)) > 0.5  # a block of fine detail
    return img


def _rot(phi) -> np.ndarray:
    return se3_exp_np(np.array([0.0, 0.0, 0.0, *phi]))


def make_run(run: Path) -> Path:
    """Ground truth; methods = ground truth + blur / noise of known size, DeblurGS at half resolution; a missing
    method; trajectories (estimate = true path played backwards, in another world frame); two training logs."""
    rng = np.random.default_rng(0)
    est, true = [], []
    world = se3_exp_np(np.array([1.0, -2.0, 0.5, 0.3, -0.2, 0.1]))  # the estimate lives in another world frame
    for i, f in enumerate(FILES):
        gt = _gt_image(rng)
        write_image(run / "gt/sharp" / f, gt)
        write_image(run / "scene/images" / f, cv2.GaussianBlur(gt, (0, 0), 1.5))
        write_image(run / "scene/restored" / f, np.clip(gt + rng.normal(0, 0.05, gt.shape), 0, 1))
        write_image(run / "baseline/deblurred" / f, np.clip(gt + rng.normal(0, 0.1, gt.shape), 0, 1))
        half = downscale_image(gt, 2)
        write_image(run / "deblurred" / f, np.clip(half + rng.normal(0, 0.01, half.shape), 0, 1))
        mid = np.eye(4)
        mid[:3, 3] = [i, 0.0, 0.0]
        ang = np.linspace(-0.01, 0.01, 7)
        true.append(
            {"file": f, "c2w_mid": mid.tolist(), "c2w_sub": [(mid @ _rot([0.3 * a, a, 0])).tolist() for a in ang]}
        )
        emid = world @ mid
        est.append(
            {
                "c2w_mid": emid.tolist(),
                "c2w_sub": [(emid @ _rot([0.3 * a, a, 0])).tolist() for a in ang[::-1]],
                "positions": np.linspace(0, 1, 7).tolist(),
            }
        )
    (run / "trajectories.json").write_text(json.dumps({"files": FILES, "order": 3, "n_subframes": 7, "frames": est}))
    (run / "gt/cameras.json").write_text(json.dumps({"width": W, "height": H, "frames": true}))
    for name, off in (("train_log.jsonl", 0.0), ("baseline/train_log.jsonl", -2.0)):
        lines = [
            json.dumps({"step": s, "loss": 0.2 * math.exp(-s / 30) + 0.01, "psnr": 20 + off + s / 10})
            for s in range(0, 101, 10)
        ]
        (run / name).write_text("\n".join(lines) + '\n{"step": 11')  # a last line still being written
    spec = {
        "files": FILES,
        "methods": {
            "Blurry input": "scene/images",
            "MIMO-UNet": "scene/restored",
            "3DGS on blurry": "baseline/deblurred",
            "DeblurGS": "deblurred",
            "Other": "missing/folder",
        },
        "ground_truth": "gt/sharp",
        "trajectories": "trajectories.json",
        "true_trajectories": "gt/cameras.json",
        "train_logs": {"DeblurGS": "train_log.jsonl", "3DGS on blurry": "baseline/train_log.jsonl"},
        "title": "Tiny fake run",
        "notes": ["made by the tests"],
    }
    (run / "compare.json").write_text(json.dumps(spec))
    return run


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("run"))
    metrics = compare_run(run, crops=2, max_grid_frames=2)
    return run, metrics


class _Imgs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def _img_srcs(html: str) -> list[str]:
    p = _Imgs()
    p.feed(html)
    p.close()
    return p.srcs


def test_metrics_match_direct_computation(done):
    from skimage.metrics import structural_similarity

    run, m = done
    assert m["resolution"] == [W // 2, H // 2] and m["reference"] == "ground truth"
    dirs = {"Blurry input": "scene/images", "MIMO-UNet": "scene/restored", "3DGS on blurry": "baseline/deblurred"}
    dirs["DeblurGS"] = "deblurred"
    assert list(m["methods"]) == list(dirs)
    for name, d in dirs.items():
        row = m["methods"][name]
        factor = 1 if name == "DeblurGS" else 2
        assert row["downscale"] == factor and row["source_resolution"] == ([W, H] if factor == 2 else [W // 2, H // 2])
        for i, f in enumerate(FILES):
            ref = downscale_image(read_image(run / "gt/sharp" / f)[0], 2).astype(np.float64)
            img = downscale_image(read_image(run / d / f)[0], factor).astype(np.float64)
            assert img.shape == ref.shape == (H // 2, W // 2, 3)
            expected = 10 * math.log10(1.0 / np.mean((img - ref) ** 2))
            assert row["per_frame"]["psnr"][i] == pytest.approx(expected, abs=1e-6)
            s = structural_similarity(
                img, ref, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
            )
            assert row["per_frame"]["ssim"][i] == pytest.approx(s, abs=1e-4)
        assert row["psnr"] == pytest.approx(np.mean(row["per_frame"]["psnr"]))
    p = {n: r["psnr"] for n, r in m["methods"].items()}
    assert p["DeblurGS"] > p["MIMO-UNet"] > p["3DGS on blurry"] > p["Blurry input"]
    assert m["methods"]["Blurry input"]["sharpness"] < m["ground_truth"]["sharpness"] / 5  # blur removes detail
    # the missing method is a note, not an error; the spec's notes are kept
    assert "Other" not in m["methods"]
    assert any("Other left out" in n and "missing/folder" in n for n in m["notes"])
    assert "made by the tests" in m["notes"]
    on_disk = json.loads((run / "report/metrics.json").read_text())
    assert on_disk["methods"] == m["methods"] and on_disk["files"] == FILES
    assert on_disk["table_markdown"].startswith("| Method | PSNR (dB) | SSIM |")
    assert m["report"] == str(run / "report.html")


def test_grids_and_crops(done):
    run, m = done
    assert [g["file"] for g in m["grids"]] == [FILES[0], FILES[-1]]  # 2 of 3 frames, evenly spaced
    for g in m["grids"]:
        grid = cv2.imread(str(run / g["grid"]))
        crops = cv2.imread(str(run / g["crops"]))
        # 5 tiles (4 methods + ground truth) in 3 columns, each enlarged 8x to 256 px, 4 px gaps
        assert grid.shape[1] == 3 * 256 + 4 * 4
        assert crops is not None and crops.shape[1] > crops.shape[0]
        boxes = m["crops"][g["file"]]
        assert len(boxes) == 2
        (x0, y0, s0, _), (x1, y1, s1, _) = boxes
        assert s0 == s1 == 8 and 0 <= x0 <= W // 2 - 8 and 0 <= y0 <= H // 2 - 8
        assert abs(x0 - x1) >= 8 or abs(y0 - y1) >= 8  # no overlap
        # the first window sits on the block of fine detail (rows 6-11, columns 8-15 at 32x24)
        overlap = max(0, min(x0 + 8, 16) - max(x0, 8)) * max(0, min(y0 + 8, 12) - max(y0, 6))
        assert overlap >= 32


def test_choose_crops_and_sizes():
    score = np.zeros((40, 50))
    score[30:34, 5:9] = 1.0
    score[2:4, 40:44] = 0.5
    boxes = choose_crops(score, 6, 3)
    (x0, y0, s, _), (x1, y1, _, _) = boxes[:2]
    assert s == 6 and x0 <= 5 and x0 + 6 >= 9 and y0 <= 30 and y0 + 6 >= 34  # the strongest patch, whole
    assert x1 <= 40 and x1 + 6 >= 44 and y1 <= 2  # then the weaker one
    assert len(boxes) == 3
    assert comparison_size({"a": (48, 64), "b": (24, 32), "c": (49, 65)}) == ((24, 32), {"a": 2, "b": 1, "c": 2})
    with pytest.raises(UserError, match="integer multiple"):
        comparison_size({"a": (48, 64), "b": (30, 40)})
    flat = np.full((20, 20, 3), 0.5, np.float32)
    assert sharpness(flat) == 0.0
    assert sharpness(np.random.default_rng(0).random((20, 20, 3)).astype(np.float32)) > 10


def test_image_plane_path():
    theta = 0.02
    sub = np.stack([np.eye(4), _rot([0, theta, 0]), _rot([theta, 0, 0])])
    p = image_plane_path(sub, np.eye(4))
    # yaw right (about +y, y down): the scene moves left; pitch about +x: it moves down
    np.testing.assert_allclose(p, [[0, 0], [-math.degrees(theta), 0], [0, math.degrees(theta)]], atol=1e-9)
    t = se3_exp_np(np.array([3.0, 1.0, -2.0, 0.5, 1.0, -0.7]))  # any world frame gives the same path
    np.testing.assert_allclose(image_plane_path(t @ sub, t @ np.eye(4)), p, atol=1e-9)


def test_trajectory_svg(done):
    run, m = done
    root = ET.parse(run / "report/trajectories.svg").getroot()
    assert root.tag == SVG + "svg"
    assert len(root.findall(f".//{SVG}polyline")) == 2 * N  # estimate + true per frame
    t = m["trajectories"]
    assert len(t["frames"]) == N
    assert all(fr["reversed"] for fr in t["frames"])  # the estimate runs backwards in time
    assert t["mean_error_deg"] < 1e-6  # same rotation path, other world frame: no error
    expected_len = 2 * math.degrees(math.atan(0.01 * math.hypot(1, 0.3)))
    assert t["mean_length_deg"] == pytest.approx(expected_len, rel=2e-3)


def test_training_curves(done, tmp_path):
    run, _ = done
    log = read_train_log(run / "train_log.jsonl")
    assert log["step"] == list(range(0, 101, 10))  # the half-written last line is skipped
    assert log["psnr"][-1] == pytest.approx(30.0)
    root = ET.parse(run / "report/training.svg").getroot()
    assert len(root.findall(f".//{SVG}polyline")) == 2 * 2  # PSNR and loss, two methods each
    svg = line_plot([Series("a", [0, 1, 2], [1.0, 0.1, 0.01])], log_y=True, title="t")
    assert len(ET.fromstring(svg).findall(f".//{SVG}polyline")) == 1
    assert nice_ticks(0, 1) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(3, 97) == pytest.approx([20, 40, 60, 80])


def test_report_html_images_resolve(done):
    run, m = done
    html = (run / "report.html").read_text()
    srcs = _img_srcs(html)
    assert len(srcs) == 2 * len(m["grids"])  # grid + crops per frame
    for s in srcs:
        assert not s.startswith(("http:", "https:", "/"))
        assert (run / s).is_file(), s
    assert "Tiny fake run" in html and "32&times;24" in html
    assert html.count("<svg ") >= 2  # plots inlined


def test_cli_method_flags_and_embed(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    out = tmp_path / "out"
    rc = main(
        [
            "--method",
            f"Blurry={run / 'scene/images'}",
            "--method",
            f"Sharp={run / 'deblurred'}",
            "--gt",
            str(run / "gt/sharp"),
            "--out",
            str(out),
            "--embed",
            "--max-grid-frames",
            "1",
        ]
    )
    assert rc == 0
    stdout = capsys.readouterr().out
    assert "| Method | PSNR (dB) | SSIM |" in stdout and "| Blurry |" in stdout and "| Sharp |" in stdout
    assert f"report: {out / 'report.html'}" in stdout
    srcs = _img_srcs((out / "report.html").read_text())
    assert len(srcs) == 2
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        assert cv2.imdecode(np.frombuffer(base64.b64decode(s.split(",", 1)[1]), np.uint8), 1) is not None
    # no ground truth: no-reference sharpness only, clearly labelled
    out2 = tmp_path / "out2"
    main(["--method", f"Blurry={run / 'scene/images'}", "--method", f"Sharp={run / 'deblurred'}", "--out", str(out2)])
    m = json.loads((out2 / "report/metrics.json").read_text())
    assert m["reference"] == "none" and m["methods"]["Sharp"]["psnr"] is None
    assert m["methods"]["Sharp"]["sharpness"] > m["methods"]["Blurry"]["sharpness"]
    assert "No ground truth" in (out2 / "report.html").read_text()
    # a rerun replaces report/ whole (a stale file goes); a foreign report/ folder is refused
    (out2 / "report/stale.png").write_bytes(b"x")
    main(["--method", f"Blurry={run / 'scene/images'}", "--out", str(out2)])
    assert not (out2 / "report/stale.png").exists()
    foreign = tmp_path / "foreign"
    (foreign / "report").mkdir(parents=True)
    (foreign / "report/mine.txt").write_text("keep")
    with pytest.raises(UserError, match="not a sharpsplat report"):
        main(["--method", f"Blurry={run / 'scene/images'}", "--out", str(foreign)])
    assert (foreign / "report/mine.txt").read_text() == "keep"


def test_odd_file_names_link_correctly(tmp_path):
    from urllib.parse import unquote

    rng = np.random.default_rng(1)
    for f in ("a b#1.png", "c?d.png"):
        img = rng.random((24, 32, 3)).astype(np.float32)
        write_image(tmp_path / "x" / f, img)
        write_image(tmp_path / "y" / f, np.clip(img + 0.1, 0, 1))
    main(["--method", f"X={tmp_path / 'x'}", "--method", f"Y={tmp_path / 'y'}", "--out", str(tmp_path / "out")])
    srcs = _img_srcs((tmp_path / "out/report.html").read_text())
    assert len(srcs) == 4
    for s in srcs:
        assert "#" not in s and "?" not in s and " " not in s
        assert (tmp_path / "out" / unquote(s)).is_file(), s


def test_user_errors(tmp_path, capsys):
    from reconstruction.cli import main as sharpsplat

    run = make_run(tmp_path / "run")
    with pytest.raises(UserError, match="no methods"):
        compare_run(run, {"files": FILES, "methods": {}})
    with pytest.raises(UserError, match="nothing to compare"):
        compare_run(run, {"files": FILES, "methods": {"A": "nope", "B": "gt"}})
    shutil.copytree(run / "gt/sharp", run / "gt2")
    (run / "gt2" / FILES[1]).unlink()
    with pytest.raises(UserError, match="lacks 1 of 3"):
        compare_run(run, {"files": FILES, "methods": {"A": "scene/images"}, "ground_truth": "gt2"})
    odd = run / "odd"
    for f in FILES:
        write_image(odd / f, np.zeros((30, 40, 3), np.float32))
    with pytest.raises(UserError, match="40x30 is not an integer multiple|not an integer multiple of 40x30"):
        compare_run(run, {"files": FILES, "methods": {"A": "scene/images", "B": "odd"}})
    (run / "bad.json").write_text("{not json")
    cases = [
        (["compare", str(run), "--spec", str(run / "bad.json")], "not valid JSON"),
        (["compare", "--method", "A"], "expected NAME=PATH"),
        (["compare", "--method", f"A={run / 'scene/images'}"], "--out DIR is required"),
        (["compare", str(tmp_path / "empty")], "run folder not found"),
        (
            [
                "compare",
                "--method",
                f"A={run / 'odd'}",
                "--method",
                f"B={run / 'scene/images'}",
                "--out",
                str(tmp_path),
            ],
            "integer multiple",
        ),
    ]
    for argv, msg in cases:
        capsys.readouterr()
        assert sharpsplat(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        errors = [line for line in err if "error" in line]  # stage lines ([compare] ...) may come first
        assert errors == [err[-1]] and err[-1].startswith("sharpsplat compare: error:") and msg in err[-1], err


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium (/usr/bin/chromium) not installed")
def test_report_renders_in_chromium(done, tmp_path):
    run, _ = done
    shot = tmp_path / "shot.png"
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/check_report.py"),
            str(run / "report.html"),
            "--screenshot",
            str(shot),
            "--window-size",
            "1000,1400",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] and out["images"] == 4 and out["missing"] == []
    img = cv2.imread(str(shot))
    assert img.shape[:2] == (1400, 1000) and img.std() > 10  # a page was drawn, not a blank window
    # a broken link is reported
    (run / "report.html").write_text((run / "report.html").read_text().replace("report/grid_", "report/nope_"))
    try:
        res = subprocess.run(
            [sys.executable, str(ROOT / "scripts/check_report.py"), str(run / "report.html")],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert res.returncode == 1 and json.loads(res.stdout)["missing"][0]["why"].startswith("file not found")
    finally:
        (run / "report.html").write_text((run / "report.html").read_text().replace("report/nope_", "report/grid_"))
