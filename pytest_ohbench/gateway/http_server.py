"""An HTTP server on the host, served from a background thread: the LLM gateway's and the scripted LLM's.

Both serve for as long as a run (or a test) needs them and must stop at once, even while a
slow request is still being answered: the request threads are daemons, and `stop` only
waits a few seconds for the serving thread.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class BackgroundHTTPServer:
    """Binds `host:port` (port 0: the OS picks a free one) and serves `handler` until `stop()`."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], thread_name: str) -> None:
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self._server = server_class((host, port), handler)
        self._server.daemon_threads = True  # a slow answer (a scripted latency, an upstream call) must not block stop()
        self._thread = threading.Thread(target=self._server.serve_forever, name=thread_name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """`http://<bound address>:<port>` (an IPv6 address in brackets; `localhost` as the address it bound)."""
        address = str(self._server.server_address[0])
        return f"http://{f'[{address}]' if ':' in address else address}:{self.port}"

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
