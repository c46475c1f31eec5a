"""An HTTP server on the host, served from a background thread: the LLM gateway's and the scripted LLM's.

Both serve for as long as a run (or a test) needs them and must stop at once, even while a
slow request is still being answered: the request threads are daemons, and `stop` only
waits a few seconds for the serving thread.

The gateway also serves on a unix socket (`BackgroundUnixHTTPServer`): sealed agent
containers, which have no network but loopback, reach it through that socket, bind-mounted
into them (runtime/sealed.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import socketserver
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pytest_ohbench.core.machine import is_alive

SOCKET_NAME = "gateway.sock"


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    # Not HTTPServer: its server_bind reads a (host, port) address.
    daemon_threads = True
    request_queue_size = 128  # many containers' agents at once: the default 5 would make them wait


class _Serving:
    """A socketserver served from a daemon thread until `stop()`."""

    def __init__(self, server: socketserver.BaseServer, thread_name: str) -> None:
        self._server = server
        self._thread = threading.Thread(target=self._server.serve_forever, name=thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the address."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class BackgroundHTTPServer(_Serving):
    """Binds `host:port` (port 0: the OS picks a free one) and serves `handler` until `stop()`."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], thread_name: str) -> None:
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        server = server_class((host, port), handler)
        server.daemon_threads = True  # a slow answer (a scripted latency, an upstream call) must not block stop()
        self._address = server.server_address
        super().__init__(server, thread_name)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._address[1])

    @property
    def url(self) -> str:
        """`http://<bound address>:<port>` (an IPv6 address in brackets; `localhost` as the address it bound)."""
        address = str(self._address[0])
        return f"http://{f'[{address}]' if ':' in address else address}:{self.port}"


class BackgroundUnixHTTPServer(_Serving):
    """Serves `handler` on a unix socket in a fresh folder of its own until `stop()`, which removes both.

    The socket (`path`) accepts any user (an agent in a container may run as any uid); the
    folder can be entered but not listed by others.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], thread_name: str) -> None:
        self.folder = socket_folder()
        self.path = self.folder / SOCKET_NAME
        # TCP_NODELAY does not apply to a unix socket (setting it fails).
        unix_handler = type(f"Unix{handler.__name__}", (handler,), {"disable_nagle_algorithm": False})
        try:
            server = _UnixServer(str(self.path), unix_handler)
            self.path.chmod(0o666)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        super().__init__(server, thread_name)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def socket_folder(prefix: str = "ohbench-gw") -> Path:
    """A fresh folder for a unix socket, with a path short enough for one (108 bytes); the folders
    that processes of this host that are gone (a SIGKILL) left behind are removed first."""
    base = Path(tempfile.gettempdir())
    if len(str(base)) > 60:
        base = Path("/tmp")
    for stale in base.glob(f"{prefix}-*-*"):
        pid = stale.name.split("-")[-2]
        if pid.isdigit() and not is_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-{os.getpid()}-", dir=base))
    folder.chmod(0o711)
    return folder
