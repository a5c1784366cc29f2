"""Check that a report page (``sharpsplat compare``'s ``report.html``) renders in headless Chromium.

Chromium loads the page from the file system (no network: external addresses would fail) and prints the DOM it
built (``--dump-dom``); every ``<img>`` in it must be a decodable data URI or a file that exists beside the page
and decodes as an image. Optionally a screenshot of the first ``--window-size`` pixels is written. Prints one JSON
object ``{"ok", "images", "missing", "screenshot", "chromium"}``; exit status 0 when ok, 1 when not, 2 when
Chromium is missing or fails.

    python scripts/check_report.py runs/demo/report.html --screenshot /tmp/report.png
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.srcs.append(dict(attrs).get("src") or "")


def image_sources(html: str) -> list[str]:
    """The ``src`` of every ``<img>`` in ``html``, in order (empty string for a missing one)."""
    p = _Images()
    p.feed(html)
    return p.srcs


def _decodes(data: bytes) -> bool:
    import cv2
    import numpy as np

    if data.lstrip().startswith(b"<svg") or data.lstrip().startswith(b"<?xml"):
        return True
    return bool(data) and cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None


def check_source(src: str, page: Path) -> str | None:
    """None when ``src`` resolves to a readable image for ``page``; otherwise why not."""
    if not src:
        return "empty src"
    if src.startswith("data:"):
        head, _, payload = src.partition(",")
        try:
            data = base64.b64decode(payload, validate=True) if head.endswith(";base64") else unquote(payload).encode()
        except (binascii.Error, ValueError):
            return "data URI does not decode"
        return None if _decodes(data) else "data URI is not an image"
    url = urlparse(src)
    if url.scheme in ("http", "https"):
        return "external address (the report must be self-contained)"
    path = Path(unquote(url.path)) if url.scheme == "file" else page.parent / unquote(url.path)
    if not path.is_file():
        return f"file not found: {path}"
    return None if _decodes(path.read_bytes()) else f"not a decodable image: {path}"


def find_chromium(given: str | None) -> str | None:
    """``given`` when it is an executable (and nothing else when given); else $CHROMIUM, /usr/bin/chromium, PATH."""
    if given:
        return given if Path(given).is_file() and os.access(given, os.X_OK) else None
    for cand in (
        os.environ.get("CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def _chromium(binary: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="check-report-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def check_report(
    page: Path,
    screenshot: Path | None = None,
    chromium: str | None = None,
    window: str = "1280,2400",
    timeout: float = 120.0,
) -> dict:
    """Load ``page`` in headless Chromium; returns the JSON object of the module docstring. Raises
    FileNotFoundError without Chromium, RuntimeError when it fails."""
    binary = find_chromium(chromium)
    if binary is None and chromium:
        raise FileNotFoundError(f"--chromium {chromium}: not an executable file; give the Chromium binary")
    if binary is None:
        raise FileNotFoundError(
            "Chromium not found (looked for --chromium, $CHROMIUM, /usr/bin/chromium, chromium on PATH); install it "
            "with `apt-get install -y chromium` (Debian) and rerun"
        )
    page = page.resolve()
    url = page.as_uri()
    res = _chromium(binary, ["--dump-dom", url], timeout)
    if res.returncode != 0 or "<html" not in res.stdout.lower():
        tail = (res.stderr or "").strip().splitlines()[-3:]
        raise RuntimeError(f"chromium --dump-dom failed (exit {res.returncode}): {' | '.join(tail)}")
    srcs = image_sources(res.stdout)
    missing = []
    for s in srcs:
        why = check_source(s, page)
        if why:
            missing.append({"src": s if len(s) < 200 else s[:60] + "...", "why": why})
    shot = None
    if screenshot is not None:
        screenshot = screenshot.resolve()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        tmp = screenshot.with_name(f".{screenshot.stem}.partial{screenshot.suffix}")
        res = _chromium(binary, [f"--screenshot={tmp}", f"--window-size={window}", url], timeout)
        if res.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tail = (res.stderr or "").strip().splitlines()[-3:]
            raise RuntimeError(f"chromium --screenshot failed (exit {res.returncode}): {' | '.join(tail)}")
        os.replace(tmp, screenshot)
        shot = str(screenshot)
    return {
        "ok": bool(srcs) and not missing,
        "images": len(srcs),
        "missing": missing,
        "screenshot": shot,
        "chromium": binary,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path, help="report.html to check")
    ap.add_argument("--screenshot", type=Path, default=None, help="write a PNG screenshot here")
    ap.add_argument("--window-size", default="1280,2400", help="screenshot size W,H in pixels")
    ap.add_argument("--chromium", default=None, help="Chromium binary (default: /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per Chromium run")
    a = ap.parse_args(argv)
    if not a.report.is_file():
        print(f"check_report: error: {a.report}: file not found", file=sys.stderr)
        return 2
    try:
        out = check_report(a.report, a.screenshot, a.chromium, a.window_size, a.timeout)
    except FileNotFoundError as e:
        print(f"check_report: error: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"check_report: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
