"""The sealed network's relay on its own: built on this machine, run in a real container of an
old image without Python, carrying requests both ways to a unix socket on the host."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import docker
import pytest

from pytest_ohbench.gateway.http_server import BackgroundUnixHTTPServer
from pytest_ohbench.runtime.docker.provider import volumes
from pytest_ohbench.runtime.docker.runtime import DockerRuntime
from pytest_ohbench.runtime.provider import BuildFailed, Sealed
from pytest_ohbench.runtime.sealed import NO_COMPILER, relay_binary, relay_command, sealed_mounts

PORT = 41873  # any port: the container's loopback is its own


class Echo(BaseHTTPRequestHandler):
    """Answers a POST with its body's size and hash, in several writes (as a streamed answer comes)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        chunks = [f"{self.path} {len(body)} ".encode(), hashlib.sha256(body).hexdigest().encode()]
        self.send_response(200)
        self.send_header("Content-Length", str(sum(map(len, chunks))))
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk)
            self.wfile.flush()


@pytest.fixture
def sealed_container(docker_client: docker.DockerClient, old_debian_images: tuple[str, str]) -> Iterator[DockerRuntime]:
    """A container of Debian bookworm without Python, `--network none`, the relay at 127.0.0.1:PORT."""
    server = BackgroundUnixHTTPServer(Echo, "test-sealed")
    sealed = Sealed(server.path, PORT)
    runtime = DockerRuntime.start(
        docker_client, old_debian_images[1], run_id="test-sealed", instance_id="relay", workdir="/", network="none",
        volumes=volumes(sealed_mounts(sealed, relay_binary())), wrapper=relay_command(sealed),
    )
    try:
        yield runtime
    finally:
        runtime.remove()
        server.stop()


def test_the_relay_carries_a_large_request_both_ways_in_an_image_without_python(sealed_container: DockerRuntime) -> None:
    body_file = "/tmp/body"
    sealed_container.execute(f"head -c 300000 /dev/urandom > {body_file}", timeout=30)
    want = sealed_container.execute(f"sha256sum {body_file} | cut -d' ' -f1", timeout=30).output.strip()
    request = (
        f"exec 3<>/dev/tcp/127.0.0.1/{PORT} && "
        f"{{ printf 'POST /v1/echo HTTP/1.0\\r\\nContent-Length: 300000\\r\\n\\r\\n'; cat {body_file}; }} >&3 && "
        "tail -n 1 <&3"
    )
    result = sealed_container.execute(request, timeout=30)
    assert (result.exit_code, result.output.strip()) == (0, f"/v1/echo 300000 {want}")
    # Many connections at once, each its own relay process.
    many = sealed_container.execute(
        f"for i in $(seq 20); do ( exec 3<>/dev/tcp/127.0.0.1/{PORT} && printf 'POST /n%s HTTP/1.0\\r\\nContent-Length: 1\\r\\n\\r\\nx' $i >&3 "
        "&& tail -n 1 <&3 | cut -d' ' -f1; echo ) & done; wait", timeout=60)
    assert sorted(many.output.split()) == sorted(f"/n{i}" for i in range(1, 21))


def test_the_container_has_loopback_only(sealed_container: DockerRuntime) -> None:
    interfaces = sealed_container.execute("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", timeout=30).output.split()
    assert interfaces == ["lo"]
    outside = sealed_container.execute("timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.1/80'", timeout=30)
    assert outside.exit_code != 0 and "Network is unreachable" in outside.output


def test_without_a_compiler_the_build_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcc, no cc
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(BuildFailed) as info:
        relay_binary()
    assert NO_COMPILER in str(info.value)


def asks_for_a_loader(elf: bytes) -> bool:
    """True when a 64-bit little-endian ELF has a PT_INTERP program header (a dynamic loader)."""
    offset, = struct.unpack_from("<Q", elf, 0x20)
    size, count = struct.unpack_from("<HH", elf, 0x36)
    return any(struct.unpack_from("<I", elf, offset + i * size)[0] == 3 for i in range(count))


def test_the_relay_is_built_once_per_machine_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHBENCH_CACHE_DIR", str(tmp_path))
    built = relay_binary()
    assert built.parent == tmp_path / "relay" and built.stat().st_mode & 0o111
    assert not asks_for_a_loader(built.read_bytes())  # static: runs whatever libc the image has, or none
    stamp = built.stat().st_mtime_ns
    assert relay_binary() == built and built.stat().st_mtime_ns == stamp
