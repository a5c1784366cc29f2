"""`sharpsplat weights list|get`: downloads from a local server into the cache, kept only when they load strictly."""

from __future__ import annotations

import http.server
import threading

import pytest
import torch

pytest.importorskip("gdown")


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over ``tmp_path / "www"``; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _official_pkl(path):
    from deblur2d.mimo_unet import MIMOUNet

    torch.manual_seed(0)
    torch.save({"model": MIMOUNet().state_dict()}, path)


def test_get_verifies_caches_and_resolves_by_name(server, tmp_path, monkeypatch, capsys):
    from reconstruction.cli import main

    root, base = server
    monkeypatch.setenv("SHARPSPLAT_CACHE", str(tmp_path / "cache"))
    _official_pkl(root / "good.pkl")
    assert main(["weights", "get", "MIMO-UNet", "--url", f"{base}/good.pkl"]) == 0
    cached = tmp_path / "cache" / "weights" / "MIMO-UNet.pkl"
    assert cached.is_file() and sorted(p.name for p in cached.parent.iterdir()) == ["MIMO-UNet.pkl"]
    from deblur2d.hub import resolve_weights
    from deblur2d.restorer import Restorer

    assert resolve_weights("mimo-unet") == cached  # names are case-insensitive
    r = Restorer(weights="MIMO-UNet", device="cpu", precision="fp32")
    assert r.model_name == "mimo-unet" and str(cached) in r.describe()
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "MIMO-UNet " in out and "cached" in out and "MIMO-UNetPlus-RealBlur" in out


@pytest.mark.parametrize("kind", ["truncated", "html", "missing"])
def test_bad_downloads_are_one_line_errors_and_leave_nothing(server, tmp_path, monkeypatch, capsys, kind):
    from reconstruction.cli import main

    root, base = server
    monkeypatch.setenv("SHARPSPLAT_CACHE", str(tmp_path / "cache"))
    if kind == "truncated":
        _official_pkl(tmp_path / "full.pkl")
        data = (tmp_path / "full.pkl").read_bytes()
        (root / "f.pkl").write_bytes(data[: len(data) // 2])
    elif kind == "html":
        (root / "f.pkl").write_text("<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title>"
                                    "</head><body>Too many users have viewed or downloaded this file</body></html>")
    assert main(["weights", "get", "MIMO-UNet", "--url", f"{base}/f.pkl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("sharpsplat weights: error:") and "MIMO-UNet" in err[-1]
    if kind == "html":
        assert "HTML page" in err[-1]
    cache = tmp_path / "cache" / "weights"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_unknown_names_and_missing_cache_say_what_to_run(tmp_path, monkeypatch):
    from deblur2d.hub import resolve_weights
    from deblur2d.io.errors import UserError
    from reconstruction.cli import main

    monkeypatch.setenv("SHARPSPLAT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="sharpsplat weights get MIMO-UNetPlus"):
        resolve_weights("MIMO-UNetPlus")
    with pytest.raises(UserError, match="no such file"):
        resolve_weights(tmp_path / "nope.pkl")
    assert main(["weights", "get", "MIMO-UNet-XL"]) == 2
