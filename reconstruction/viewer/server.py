"""The viewer's web server: viser on a loopback port by default, a one-line error for a busy port, a clean stop.

The browser does all the drawing (viser's WebGL client, its Gaussian-splat renderer included); the server only
sends the scene once and the changes after, so it needs no GPU and renders nothing.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deblur2d.io.errors import UserError

from .content import RunContent, read_run, splats_from_model
from .scene import RunViewer

__all__ = ["LOOPBACK", "LiveView", "is_loopback", "check_port", "free_port", "serve", "start_server", "stop_on_signals",
           "wait_forever"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", start: int = 0) -> int:
    """A port that ``host`` can bind now: the first free one from ``start`` up, or any (``start`` 0)."""
    if start == 0:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            return int(s.getsockname()[1])
    for port in range(start, min(start + 1000, 65536)):
        if _port_free(host, port):
            return port
    raise UserError(f"no free port on {host} from {start} to {start + 999}; pass --port 0 for any free one")


def check_port(host: str, port: int) -> None:
    """:class:`UserError` when ``host:port`` cannot be bound, offering the next free port."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: not a port number (0..65535; 0 = any free one)")
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror:
        raise UserError(f"--host {host}: not an address of this machine; the default is 127.0.0.1") from None
    if port and not _port_free(host, port):
        nxt = free_port(host, port + 1)
        raise UserError(f"--port {port}: busy on {host} (another program listens there); the next free one is "
                        f"{nxt}: --port {nxt}")  # fmt: skip


def start_server(host: str = "127.0.0.1", port: int = 8080, label: str = "sharpsplat") -> Any:
    """A started ``viser.ViserServer`` on exactly ``host:port`` (``port`` 0: any free one). Warns on stderr when
    ``host`` is not a loopback address (anyone who reaches it sees the run; there is no password)."""
    check_port(host, port)
    if not is_loopback(host):
        print(f"warning: serving on {host}: anyone who can reach this machine on that port sees the run (there is "
              "no password); the default, 127.0.0.1, serves this machine only", file=sys.stderr)  # fmt: skip
    import viser

    if port == 0:
        port = free_port(host)
    with contextlib.redirect_stdout(io.StringIO()):  # viser prints its own banner; we print one URL line
        server = viser.ViserServer(host=host, port=port, label=label, verbose=False)
    if server.get_port() != port:  # viser moves on to the next port; taken between our check and its bind
        server.stop()
        raise UserError(f"--port {port}: became busy on {host}; the next free one is {server.get_port()}")
    return server


def url_of(server: Any) -> str:
    host = server.get_host()
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{f'[{host}]' if ':' in host else host}:{server.get_port()}/"


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Inside: an event that SIGINT or SIGTERM sets (handlers of their own in the main thread, the previous ones
    restored after). A process started in the background by a non-interactive shell inherits SIGINT *ignored*,
    and Python then never raises KeyboardInterrupt; pycolmap's glog turns SIGTERM into a crash report. Enter it
    before printing the URL, so that a signal sent as soon as the URL is seen already stops the viewer."""
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: a handler set from C, which Python cannot reinstall
                signal.signal(sig, handler)


def wait_forever(server: Any, stop: threading.Event | None = None) -> None:
    """Block until Ctrl-C, SIGINT or SIGTERM (or ``stop`` is set), then stop ``server`` cleanly. Without ``stop``,
    the signal handlers are installed here (:func:`stop_on_signals`)."""
    if stop is None:
        with stop_on_signals() as ev:
            return wait_forever(server, ev)
    try:
        while not stop.is_set():
            time.sleep(0.2)
        print("\nviewer stopped", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nviewer stopped", file=sys.stderr)
    finally:
        with contextlib.redirect_stdout(io.StringIO()):  # "(viser) Server stopped"
            server.stop()


def serve(
    run: str | Path | RunContent,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    run_format: int | None = None,
    block: bool = True,
) -> tuple[Any, RunViewer]:
    """Serve the viewer of ``run`` (a folder or its :class:`RunContent`); prints the URL. With ``block``, returns
    after Ctrl-C (the server stopped); else at once, with the running server and the viewer."""
    content = run if isinstance(run, RunContent) else read_run(run, run_format=run_format)
    server = start_server(host, port, label=f"sharpsplat: {content.run.name}")
    viewer = RunViewer(server, content)
    n = 0 if content.splats is None else len(content.splats)
    line = f"sharpsplat view: {content.run} ({n} Gaussians, {len(content.frames)} cameras) at {url_of(server)}  "
    if block:
        with stop_on_signals() as stop:
            print(line + "(Ctrl-C stops)", flush=True)
            wait_forever(server, stop)
    else:
        print(line + "(Ctrl-C stops)", flush=True)
    return server, viewer


class LiveView:
    """The viewer during ``sharpsplat reconstruct --view``: cameras and splats of the training, redrawn every
    ``every`` steps (:meth:`update`, called by the trainer), then the whole run (:meth:`show_run`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, every: int = 100) -> None:
        self.server = start_server(host, port, label="sharpsplat: training")
        self.every = max(1, int(every))
        self.viewer: RunViewer | None = None
        self.image_dir: Path | None = None
        """Folder of the training frames (shown on the cameras)."""
        self.url = url_of(self.server)
        self.server.gui.add_markdown("Waiting for training to start...")
        print(f"viewer: {self.url} (updated every {self.every} training steps)", flush=True)

    def update(self, trainer: Any, files: list[str]) -> None:
        """Redraw from a ``DeblurGSTrainer`` (``model`` in linear colour, ``traj``, ``K``, ``width``, ``height``)
        training the frames ``files`` (of ``self.image_dir``); the trainer's ``callback``."""
        image_dir = self.image_dir
        import numpy as np

        from .content import FrameView

        splats = splats_from_model(trainer.model, linear=True)
        traj = trainer.traj.to_json()["frames"]
        frames = []
        for f, fr in zip(files, traj):
            sub = np.asarray(fr["c2w_sub"], np.float64).reshape(-1, 4, 4)
            images = {"Blurry input": image_dir / f} if image_dir is not None and (image_dir / f).is_file() else {}
            frames.append(FrameView(f, np.asarray(fr["c2w_mid"], np.float64), sub if len(sub) > 1 else None,
                                    images=images))  # fmt: skip
        if self.viewer is None:
            content = RunContent(
                run=Path(image_dir or "training"),
                width=trainer.width,
                height=trainer.height,
                K=np.asarray(trainer.K.detach().cpu(), np.float64),
                frames=frames,
                splats=splats,
            )
            self.server.gui.reset()
            self.viewer = RunViewer(self.server, content)
        else:
            self.viewer.update_frames(frames)
            self.viewer.update_splats(splats)

    def show_run(self, run: str | Path) -> None:
        """Replace the training view by the finished run's (every layer)."""
        content = read_run(run)
        self.server.scene.reset()
        self.server.gui.reset()
        self.viewer = RunViewer(self.server, content)

    def stop(self) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            self.server.stop()
