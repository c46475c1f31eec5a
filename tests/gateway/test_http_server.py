"""The background HTTP server the LLM gateway and the scripted LLM server share: real sockets, real requests."""

from __future__ import annotations

import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from pytest_ohbench.gateway.http_server import BackgroundHTTPServer


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
