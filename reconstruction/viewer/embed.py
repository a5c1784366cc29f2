"""A run's 3D view as one self-contained HTML file that plays back without a server (for ``report.html``).

viser (>= 1.0) serialises a scene (``server.scene.as_html()``): its whole web client (one HTML file of the
wheel's ``client/build/``, scripts, styles, the splat sorter's WebAssembly and the environment map inlined) with
the scene as a zstd-compressed base64 string. Nothing is fetched from a network, so the file works offline and
from ``file://``. A playback client has no server to answer clicks; the small script added here does it in the
page: a click near a training camera moves the view onto that camera (using the client's
``window.__viserMutable``: camera, camera controls, scene nodes) and names the frame. The scene tree (top
right of the page) toggles each layer.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from deblur2d.io.atomic import atomic_path

from .content import RunContent, read_run
from .scene import RunViewer

__all__ = ["EMBED_MAX_SPLATS", "scene_html", "write_scene_html"]

#: Gaussians kept of each scene in an embedded view (the most opaque and largest): a 300k-splat scene would make
#: a ~10 MB page; this keeps it near 5 MB and the drawing smooth on a laptop.
EMBED_MAX_SPLATS = 150_000

_CLICK_JS = """
<style>#sharpsplat-caption{position:fixed;left:12px;bottom:12px;z-index:1000;font:13px sans-serif;
background:rgba(255,255,255,.85);padding:4px 8px;border-radius:4px;pointer-events:none}</style>
<script>
(function () {
  var FRAMES = __FRAMES__, FOVY_DEG = __FOVY__, DIST = __DIST__;
  var HELP = "drag: orbit, scroll: zoom, click a camera: look through it; layers: the scene tree, top right";
  function ready() { var m = window.__viserMutable; return m && m.camera && m.cameraControl && m.canvas; }
  function caption(text) {
    var el = document.getElementById("sharpsplat-caption");
    if (!el) { el = document.createElement("div"); el.id = "sharpsplat-caption"; document.body.appendChild(el); }
    el.textContent = text;
  }
  function cameras() {
    var out = [], refs = window.__viserMutable.nodeRefFromName;
    for (var name in refs) {
      var obj = refs[name];
      if (obj && /^\\/cameras\\/\\d+$/.test(name)) out.push([name, obj]);
    }
    return out;
  }
  function visible(obj) { for (var o = obj; o; o = o.parent) { if (!o.visible) return false; } return true; }
  function pick(x, y) {
    var m = window.__viserMutable, r = m.canvas.getBoundingClientRect(), best = null, bestD = 40;
    cameras().forEach(function (c) {
      var obj = c[1];
      if (!visible(obj) && obj !== hidden) return;
      obj.updateWorldMatrix(true, false);
      var p = obj.position.clone().setFromMatrixPosition(obj.matrixWorld).project(m.camera);
      if (p.z > 1 || p.z < -1) return;
      var d = Math.hypot(r.left + (p.x + 1) / 2 * r.width - x, r.top + (1 - p.y) / 2 * r.height - y);
      if (d < bestD) { bestD = d; best = c; }
    });
    if (best) jump(best[0], best[1]);
    else if (hidden) { hidden.visible = true; hidden = null; frames(true); caption(HELP); }
  }
  function frames(on) {
    cameras().forEach(function (c) {
      c[1].traverse(function (o) { if (o.isMesh && o.material && o.material.map) o.visible = on; });
    });
  }
  var hidden = null;
  function jump(name, obj) {
    var m = window.__viserMutable, e = obj.matrixWorld.elements;
    if (hidden) hidden.visible = true;  // the chosen frustum is hidden: its frame would cover the view
    obj.visible = false;
    hidden = obj;
    frames(false);  // so would the frames on the cameras beside it: hidden until a click on no camera
    var pos = obj.position.clone().setFromMatrixPosition(obj.matrixWorld);
    var fwd = obj.position.clone().set(e[8], e[9], e[10]).normalize();
    var tgt = pos.clone().add(fwd.multiplyScalar(DIST));
    m.camera.fov = FOVY_DEG;
    m.camera.updateProjectionMatrix();
    m.cameraControl.setLookAt(pos.x, pos.y, pos.z, tgt.x, tgt.y, tgt.z, false);
    if (m.requestRender) m.requestRender();
    var i = parseInt(name.split("/").pop(), 10);
    window.__sharpsplatSelected = i;
    caption("frame " + (i + 1) + " of " + FRAMES.length + ": " + FRAMES[i] + " (click elsewhere: frames back)");
  }
  function install() {
    var m = window.__viserMutable, down = null;
    m.canvas.addEventListener("pointerdown", function (ev) { down = [ev.clientX, ev.clientY]; }, true);
    m.canvas.addEventListener("pointerup", function (ev) {
      if (down && Math.hypot(ev.clientX - down[0], ev.clientY - down[1]) < 5) pick(ev.clientX, ev.clientY);
      down = null;
    }, true);
    window.__sharpsplatPick = pick;
    caption(HELP);
  }
  var timer = setInterval(function () { if (ready()) { clearInterval(timer); install(); } }, 100);
})();
</script>
"""


def scene_html(content: RunContent) -> str:
    """The self-contained HTML of ``content``'s 3D view (default layers, trajectories magnified 20x)."""
    from .server import start_server

    with contextlib.redirect_stdout(io.StringIO()):  # viser prints "(viser) Server stopped"
        server = start_server("127.0.0.1", 0, label="sharpsplat")
        try:
            viewer = RunViewer(server, content, gui=False)
            html = server.scene.as_html()
        finally:
            server.stop()
    fwd_dist = max(float(abs((content.scene_centre() - content.centres.mean(0)).dot(content.frames[0].c2w[:3, 2]))),
                   0.5 * viewer.size)  # fmt: skip
    js = (_CLICK_JS.replace("__FRAMES__", json.dumps([f.file for f in content.frames]))
          .replace("__FOVY__", f"{content.fov_y * 180.0 / 3.141592653589793:.4f}")
          .replace("__DIST__", f"{fwd_dist:.6g}"))  # fmt: skip
    end = html.rindex("</body>") if "</body>" in html else len(html)
    return html[:end] + js + html[end:]


def write_scene_html(run: str | Path | RunContent, out: str | Path, max_splats: int = EMBED_MAX_SPLATS) -> Path:
    """Write the 3D view of ``run`` (a run folder or its content) to ``out`` (atomically); returns ``out``."""
    content = run if isinstance(run, RunContent) else read_run(run, max_splats=max_splats)
    html = scene_html(content)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(html, encoding="utf-8")
    return out
