"""A unix socket on this host that forwards every connection to the gateway's TCP address.

Sealed agent containers reach the run's gateway through a unix socket bind-mounted into
them (runtime/sealed.py). On the controller's host that is the gateway's own socket; a
worker on another host (xdist `--tx ssh=`) cannot mount a socket of another machine, so it
serves one of its own here and passes the bytes on to the gateway's TCP address
(--ohbench-gateway-host). The gateway still sees only item tokens: no key crosses.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import socketserver
import threading
from urllib.parse import urlsplit

from pytest_ohbench.gateway.http_server import SOCKET_NAME, socket_folder

CHUNK = 64 * 1024


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy `source` to `target` until `source` ends, then end `target`'s writing side."""
    with contextlib.suppress(OSError):
        while data := source.recv(CHUNK):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            upstream = socket.create_connection(self.server.target, timeout=30)
        except OSError:
            return  # the relay in the container sees the connection close: the agent's call fails
        upstream.settimeout(None)
        with upstream:
            back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
            back.start()
            _pump(self.request, upstream)
            back.join()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, target: tuple[str, int]) -> None:
        self.target = target
        super().__init__(path, _Handler)


class GatewayForwarder:
    """Serves `path` (a fresh folder's socket) until `stop()`; each connection goes on to `host:port`."""

    def __init__(self, host: str, port: int) -> None:
        self.folder = socket_folder("ohbench-fw")
        self.path = self.folder / SOCKET_NAME
        try:
            self._server = _Server(str(self.path), (host, port))
            self.path.chmod(0o666)  # the agent in the container may run as any uid
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name="ohbench-gateway-forwarder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


def forwarder_for(url: str) -> GatewayForwarder:
    """A forwarder to the gateway at `url` (`http://host:port`)."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"not a gateway address: {url!r}")
    return GatewayForwarder(parts.hostname, parts.port)

