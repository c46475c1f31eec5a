"""The background HTTP server the LLM gateway and the scripted LLM server share: real sockets, real requests."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.gateway.http_server import BackgroundHTTPServer, BackgroundUnixHTTPServer, socket_folder


def _handler(release: threading.Event, waiting: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/slow":
                waiting.set()
                release.wait(60)  # held until the test lets go
            body = f"{self.path} on {self.server.server_address[1]}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_serves_on_a_free_port_and_frees_it_on_stop(host: str) -> None:
    server = BackgroundHTTPServer(host, 0, _handler(threading.Event(), threading.Event()), "test-http")
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"  # `localhost` shows as the address it bound
        assert _get(server.url + "/ping") == f"/ping on {server.port}"
    finally:
        server.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    again = BackgroundHTTPServer("127.0.0.1", server.port, _handler(threading.Event(), threading.Event()), "test-http")
    try:
        assert _get(again.url + "/x") == f"/x on {server.port}"  # the port was free to bind again
    finally:
        again.stop()


def test_stop_does_not_wait_for_a_request_still_being_answered() -> None:
    release, waiting = threading.Event(), threading.Event()
    server = BackgroundHTTPServer("127.0.0.1", 0, _handler(release, waiting), "test-http")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        try:
            connection.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            assert waiting.wait(10), "the request never reached the handler"
            server.stop()  # returns while the handler is still held
            assert not release.is_set()
            assert [t for t in threading.enumerate() if t.name == "test-http"] == []  # the serving thread is gone
        finally:
            release.set()


def test_an_ipv6_loopback_is_served_in_brackets() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this host has no IPv6 loopback")
    server = BackgroundHTTPServer("::1", 0, _handler(threading.Event(), threading.Event()), "test-http")
    try:
        assert server.url == f"http://[::1]:{server.port}"
        assert _get(server.url + "/six") == f"/six on {server.port}"
    finally:
        server.stop()


def _unix_get(path: Path, target: str) -> bytes:
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(10)
        connection.connect(str(path))
        connection.sendall(f"GET {target} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        return b"".join(iter(lambda: connection.recv(65536), b""))


def test_a_unix_socket_server_serves_any_user_and_removes_its_folder_on_stop() -> None:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # as the gateway's: must not break the unix server

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = f"{self.path} over unix".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = BackgroundUnixHTTPServer(Handler, "test-unix")
    try:
        assert server.path.name == "gateway.sock" and len(str(server.path)) < 108
        # Any uid may connect (a container's agent may not be root); the folder is not listable.
        assert (stat.S_IMODE(server.path.stat().st_mode), stat.S_IMODE(server.folder.stat().st_mode)) == (0o666, 0o711)
        assert _unix_get(server.path, "/ping").endswith(b"\r\n\r\n/ping over unix")
    finally:
        server.stop()
    assert not server.folder.exists()


def test_socket_folders_of_processes_that_are_gone_are_removed() -> None:
    prefix = f"ohbench-test-{os.getpid()}"
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process
    base = Path(tempfile.gettempdir())
    stale, live = base / f"{prefix}-{gone.pid}-abc", base / f"{prefix}-{os.getpid()}-def"
    stale.mkdir()
    live.mkdir()
    try:
        made = socket_folder(prefix)
        assert (stale.exists(), live.exists(), made.name.startswith(f"{prefix}-{os.getpid()}-")) == (False, True, True)
        assert stat.S_IMODE(made.stat().st_mode) == 0o711
    finally:
        for folder in base.glob(f"{prefix}-*"):
            shutil.rmtree(folder)
