"""The 3D viewer (``sharpsplat view``, ``reconstruct --view``) and the report's 3D view, on the tiny reconstruct run
(conftest's ``finished_run``); the browser tests load them in headless Chromium (SwiftShader WebGL) and look at
the pixels. Screenshots land in $SHARPSPLAT_SCREENSHOTS when set, else in the test's tmp folder (printed with
``-s``)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _chromium import CHROMIUM, JS_CAMERA, JS_NODES, Chromium, js_look_away, js_screen_position, js_show_only

from reconstruction.cli import main as cli_main
from reconstruction.geometry.lie import se3_exp_np, se3_log_np
from reconstruction.viewer.content import magnify, read_run
from reconstruction.viewer.server import LiveView, free_port, is_loopback, serve

ROOT = Path(__file__).resolve().parents[1]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium (/usr/bin/chromium) not installed: `apt-get install -y chromium` (.ci/run does it)",
)
CAMERA_NODE = re.compile(r"^/cameras/\d{4}$")
JS_FRUSTA = (
    "(() => { const s = window.__viserSceneTree.getState(); return Object.keys(s).filter(n => "
    "/^\\/cameras\\/\\d{4}$/.test(n) && s[n].message && s[n].message.type === 'CameraFrustumMessage').length; })()"
)


def _n_cameras(run: Path) -> int:
    return len(json.loads((run / "cameras.json").read_text())["c2w_mid"])


def _one_line_error(argv: list[str], capsys) -> str:
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_read_run_has_every_layer(finished_run: Path) -> None:
    from reconstruction.splats.ply import load_ply

    c = read_run(finished_run, run_format=1)
    assert len(c.frames) == _n_cameras(finished_run) == 10
    assert len(c.splats) == len(load_ply(finished_run / "splats.ply")) and c.baseline is not None
    assert c.points is not None and len(c.points) > 50 and c.path is not None and len(c.path) == 6
    for fv in c.frames:
        assert fv.sub is not None and fv.sub.shape[1:] == (4, 4)
        assert set(fv.images) - {"MIMO-UNet"} == {"Blurry input", "DeblurGS"}
        # the true exposure, mapped into SfM's frame, is centred near the recovered mid-exposure pose
        assert fv.true_sub is not None
        assert np.linalg.norm(fv.true_sub[len(fv.true_sub) // 2, :3, 3] - fv.c2w[:3, 3]) < 0.05 * c.scale()
    from deblur2d.weights import default_weights_path

    if default_weights_path() is None:  # no weights: the missing MIMO-UNet version is said, not hidden
        assert any("MIMO-UNet" in n for n in c.notes)
    else:
        assert all("MIMO-UNet" in fv.images for fv in c.frames)
    s = c.splats
    assert s.covariances.shape == (len(s), 3, 3) and np.all(np.linalg.eigvalsh(s.covariances) > 0)
    assert s.rgbs.min() >= 0 and s.rgbs.max() <= 1 and s.opacities.shape == (len(s), 1)
    assert len(s.subset(100)) == 100


def test_magnify_scales_the_motion_in_the_lie_algebra() -> None:
    rng = np.random.default_rng(0)
    mid = se3_exp_np(rng.normal(size=6))
    xi = np.stack([rng.normal(size=6) * 1e-3 for _ in range(5)])
    sub = mid @ se3_exp_np(xi)
    assert np.allclose(magnify(mid, sub, 1.0), sub, atol=1e-12)
    big = magnify(mid, sub, 20.0)
    assert np.allclose(se3_log_np(np.linalg.inv(mid) @ big), 20.0 * xi, atol=1e-9)


def test_bad_input_gets_one_line(finished_run: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert "no splats.ply" in _one_line_error(["view", str(tmp_path / "empty")], capsys)
    assert "no such run folder" in _one_line_error(["view", str(tmp_path / "nope")], capsys)
    old = tmp_path / "old"
    old.mkdir()
    (old / "splats.ply").write_bytes((finished_run / "splats.ply").read_bytes())
    (old / "manifest.json").write_text(json.dumps({"format": 99, "kind": "sharpsplat-reconstruct"}))
    assert "another version" in _one_line_error(["view", str(old)], capsys)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_line_error(["view", str(finished_run), "--port", str(port)], capsys)
    assert f"--port {port}: busy" in line and re.search(r"next free one is (\d+): --port \1$", line), line


def test_only_loopback_is_private() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "::", "example.org"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_view_command_prints_the_url_and_stops_on_ctrl_c(finished_run: Path, sig: int) -> None:
    """Started as a background job is (SIGINT inherited as ignored: Python then raises no KeyboardInterrupt),
    ``view`` still stops on SIGINT, and on SIGTERM, with exit status 0. (This test used to hang when the suite
    itself ran in the background.)"""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconstruction.cli", "view", str(finished_run), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT on a hang dumps every thread's stack
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert url in line and "10 cameras" in line, line
        with urllib.request.urlopen(url, timeout=60) as r:
            assert r.status == 200 and b"<html" in r.read(2000).lower()
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=60)  # drains both pipes: a full pipe would block the child's exit
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"view did not exit within 60 s of signal {sig}; its threads:\n{err[-6000:]}")
        assert proc.returncode == 0 and "viewer stopped" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_live_view_follows_a_training(finished_run: Path) -> None:
    """What ``reconstruct --view`` does every N steps, with a stand-in trainer (model, trajectories, K, size)."""
    import torch

    from reconstruction.deblurgs.trajectory import CameraTrajectories
    from reconstruction.splats.gaussians import GaussianModel

    c = read_run(finished_run)
    c2w = torch.tensor(np.stack([f.c2w for f in c.frames]), dtype=torch.float32)
    traj = CameraTrajectories(c2w, order=3, n_subframes=4, init_noise=1e-3)
    model = GaussianModel.from_points(c.points, c.point_colors)
    trainer = SimpleNamespace(model=model, traj=traj, K=torch.tensor(c.K), width=c.width, height=c.height, step=0)
    live = LiveView("127.0.0.1", 0, every=10)
    try:
        live.image_dir = finished_run / "scene" / "images"
        files = [f.file for f in c.frames]
        live.update(trainer, files)
        v = live.viewer
        assert v is not None and len(v.cams) == 10 and len(v.content.splats) == len(c.points)
        assert v.content.frames[0].images["Blurry input"].is_file()
        with torch.no_grad():
            traj.ctrl_rot.add_(1e-2)
        trainer.model = GaussianModel.from_points(c.points[:20], c.point_colors[:20])
        live.update(trainer, files)
        assert len(v.content.splats) == 20 and live.viewer is v
        assert not np.allclose(v.content.frames[0].sub, c.frames[0].sub)
        live.show_run(finished_run)
        assert len(live.viewer.content.splats) == len(c.splats) and live.viewer.content.path is not None
    finally:
        live.stop()


def _shots(tmp_path: Path) -> Path:
    d = Path(os.environ.get("SHARPSPLAT_SCREENSHOTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _canvas_std(img: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    return float(img[y0:y1, x0:x1].astype(np.float64).std())


def _check_scene_page(b: Chromium, n_cams: int, tmp_path: Path, name: str, box: tuple[int, int, int, int]) -> None:
    """On a loaded viser page: one frustum per training camera, non-blank splats, a click on a camera moves the
    view. Screenshots ``<name>.png``, ``<name>_splats.png``, ``<name>_clicked.png`` in ``tmp_path``."""
    b.wait_for(f"({JS_FRUSTA}) === {n_cams} && !!window.__viserMutable.nodeRefFromName['/splats/deblurgs']")
    assert b.eval(JS_FRUSTA) == n_cams
    assert sum(bool(CAMERA_NODE.match(n)) for n in b.eval(JS_NODES)) == n_cams
    time.sleep(2.0)  # the splats are depth-sorted in a worker and fade in
    b.eval(js_show_only(["/splats"]))
    time.sleep(0.5)
    splats = _canvas_std(b.screenshot(tmp_path / f"{name}_splats.png"), box)
    b.eval(js_look_away())
    time.sleep(0.5)
    blank = _canvas_std(b.screenshot(tmp_path / f"{name}_away.png"), box)
    b.eval(js_look_away())
    assert splats > 12.0 and splats > 3.0 * blank + 2.0, (splats, blank)
    b.eval(js_show_only(["/splats", "/cameras", "/shake", "/novel_path"]))
    time.sleep(0.5)
    before_img = b.screenshot(tmp_path / f"{name}.png")
    before = np.array(b.eval(JS_CAMERA))
    xy = b.eval(js_screen_position("/cameras/0004"))
    assert xy is not None
    b.click(*xy)
    b.wait_for(f"(() => {{ const p = {JS_CAMERA}; return Math.hypot(p[0] - {before[0]}, p[1] - {before[1]}, "
               f"p[2] - {before[2]}) > 1e-3; }})()", timeout=20)  # fmt: skip
    time.sleep(1.0)
    after_img = b.screenshot(tmp_path / f"{name}_clicked.png")
    assert np.abs(after_img.astype(float) - before_img.astype(float)).mean() > 5.0
    print(f"screenshots: {tmp_path}/{name}*.png")


@needs_chromium
def test_viewer_in_chromium(finished_run: Path, tmp_path: Path) -> None:
    tmp_path = _shots(tmp_path)
    server, viewer = serve(finished_run, port=free_port(), block=False)
    try:
        with Chromium(1200, 800) as b:
            b.goto(f"http://127.0.0.1:{server.get_port()}/")
            _check_scene_page(b, _n_cameras(finished_run), tmp_path, "viewer", (40, 160, 840, 760))
            assert viewer.selected == 4  # the server saw the click on frame 4
            b.wait_for("document.body.innerText.includes('frame_00004.png')", timeout=20)
            labels = b.eval("document.body.innerText")
            assert "Blurry input" in labels and "DeblurGS" in labels
            n_img = b.wait_for("(() => { const n = [...document.querySelectorAll('img')].filter(i => "
                               "i.naturalWidth > 16).length; return n >= 2 ? n : 0; })()", timeout=20)  # fmt: skip
            assert n_img >= 2  # the blurry and DeblurGS versions of the frame in the panel
            b.screenshot(tmp_path / "viewer_panel.png")
    finally:
        server.stop()


@needs_chromium
def test_report_3d_view_in_chromium(finished_run: Path, tmp_path: Path) -> None:
    tmp_path = _shots(tmp_path)
    page = finished_run / "report" / "scene3d.html"
    html = (finished_run / "report.html").read_text()
    assert 'src="report/scene3d.html"' in html and page.is_file()
    with Chromium(1000, 700) as b:
        b.goto(page.as_uri())
        b.wait_for("!!window.__sharpsplatPick")
        _check_scene_page(b, _n_cameras(finished_run), tmp_path, "report3d", (40, 160, 900, 680))
        assert b.eval("window.__sharpsplatSelected") == 4
        assert "frame_00004.png" in b.eval("document.body.innerText")
        # offline: nothing but the file itself and what it carries inline
        urls = b.requests()
        assert urls and all(u.startswith(("file:", "data:", "blob:")) for u in urls), urls
        # and inside the report, in its frame
        b.goto((finished_run / "report.html").as_uri())
        b.wait_for("document.readyState === 'complete' && !!document.querySelector('iframe.scene3d')")
        b.eval("document.querySelector('iframe.scene3d').scrollIntoView()")
        r = b.wait_for("(() => { const r = document.querySelector('iframe.scene3d').getBoundingClientRect();"
                       " return r.height > 300 ? [r.left, r.top, r.right, r.bottom] : null; })()")  # fmt: skip
        box = (int(r[0]) + 20, int(r[1]) + 20, int(r[2]) - 20, int(min(r[3], 700)) - 20)
        t0, std = time.monotonic(), 0.0
        while time.monotonic() - t0 < 30 and std <= 12.0:
            time.sleep(1.0)
            std = _canvas_std(b.screenshot(tmp_path / "report_page.png"), box)
        assert std > 12.0, std
        assert all(u.startswith(("file:", "data:", "blob:")) for u in b.requests())
