"""Headless Chromium driven over the DevTools protocol (a websocket), for tests that need a real browser.

``Chromium()`` starts ``/usr/bin/chromium --headless`` with a fresh profile, no network services and WebGL on
SwiftShader (software, so no GPU is needed), opens one page and gives: ``goto(url)``, ``eval(js)`` (the value,
JSON-able), ``wait_for(js, timeout)``, ``click(x, y)``, ``screenshot(path)`` (a PNG, returned as an RGB array)
and ``requests()`` (every URL the page asked for). Use it as a context manager; it ends only its own process.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",  # WebGL in software: the canvas draws without a GPU
    "--enable-unsafe-swiftshader",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]


class Chromium:
    def __init__(self, width: int = 1200, height: int = 800, binary: Path = CHROMIUM, timeout: float = 60.0) -> None:
        import websocket  # websocket-client (dev extra)

        self.profile = tempfile.mkdtemp(prefix="sharpsplat-chromium-")
        self.proc = subprocess.Popen(
            [str(binary), *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        t0, port = time.monotonic(), None
        while port is None:
            line = self.proc.stderr.readline()
            if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                port = int(m.group(1))
            elif self.proc.poll() is not None or time.monotonic() - t0 > timeout:
                self.close()
                raise RuntimeError(f"chromium did not start: {line.strip()}")
        tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=timeout))
        page = next(t for t in tabs if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.cmd("Page.enable")
        self.cmd("Network.enable")
        self.cmd("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def cmd(self, method: str, **params: Any) -> dict[str, Any]:
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def goto(self, url: str) -> None:
        self.cmd("Page.navigate", url=url)

    def eval(self, js: str) -> Any:
        r = self.cmd("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{js[:80]}: {r['exceptionDetails'].get('exception', {}).get('description')}")
        return r["result"].get("value")

    def wait_for(self, js: str, timeout: float = 60.0) -> Any:
        """Poll ``js`` until it is truthy; its value, or TimeoutError."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                v = self.eval(js)
            except RuntimeError:
                v = None
            if v:
                return v
            time.sleep(0.25)
        raise TimeoutError(f"not true after {timeout} s: {js[:100]}")

    def click(self, x: float, y: float) -> None:
        self.cmd("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.cmd("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path | None = None) -> np.ndarray:
        """The page as RGB uint8 ``[H, W, 3]``; also written to ``path`` (PNG) when given."""
        import cv2

        data = base64.b64decode(self.cmd("Page.captureScreenshot", format="png")["data"])
        if path is not None:
            Path(path).write_bytes(data)
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def requests(self) -> list[str]:
        self.eval("1")  # collect pending events
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# JavaScript for viser pages (live or played back): window.__viserMutable / __viserSceneTree are the client's own
# test hooks (viser's e2e tests use them).
JS_NODES = "window.__viserSceneTree ? Object.keys(window.__viserSceneTree.getState()) : null"
JS_CAMERA = "(() => { const p = window.__viserMutable.camera.position; return [p.x, p.y, p.z]; })()"


_JS_SCREEN = (
    "(() => { const m = window.__viserMutable, o = m.nodeRefFromName[NODE]; if (!o) return null;"
    " o.updateWorldMatrix(true, false); const v = o.position.clone().setFromMatrixPosition(o.matrixWorld)"
    ".project(m.camera); if (v.z > 1) return null; const r = m.canvas.getBoundingClientRect();"
    " return [r.left + (v.x + 1) / 2 * r.width, r.top + (1 - v.y) / 2 * r.height]; })()"
)
_JS_SHOW_ONLY = (  # viser sets each scene node's own .visible every frame: hide the objects inside the nodes
    "(() => { const m = window.__viserMutable, keep = KEEP, nodes = new Set(Object.values(m.nodeRefFromName));"
    " for (const [n, o] of Object.entries(m.nodeRefFromName)) { if (!o || n.split('/').length !== 2) continue;"
    " const on = keep.some(k => n.startsWith(k)); o.traverse(c => { if (!nodes.has(c)) c.visible = on; }); }"
    " if (m.requestRender) m.requestRender(); return true; })()"
)
_JS_LOOK_AWAY = (  # turn the view around (AWAY true) to see the empty background, or back (false)
    "(() => { const m = window.__viserMutable, c = m.cameraControl, p = m.camera.position.clone();"
    " const t = p.clone(); c.getTarget(t); c.setLookAt(p.x, p.y, p.z, 2 * p.x - t.x, 2 * p.y - t.y, 2 * p.z - t.z,"
    " false); if (m.requestRender) m.requestRender(); return true; })()"
)


def js_screen_position(node: str) -> str:
    """JS giving the page coordinates ``[x, y]`` of scene node ``node``'s origin (null when behind the view)."""
    return _JS_SCREEN.replace("NODE", json.dumps(node))


def js_show_only(prefixes: list[str]) -> str:
    """JS hiding every top-level scene node but those under ``prefixes`` (to measure one layer)."""
    return _JS_SHOW_ONLY.replace("KEEP", json.dumps(prefixes))


def js_look_away() -> str:
    """JS turning the view by 180 degrees about the camera (twice: back); for a blank reference."""
    return _JS_LOOK_AWAY
