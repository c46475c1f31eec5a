"""What the sealed network costs an agent: container start, and an HTTP call to the gateway from
inside the container, sealed (relay to the unix socket) vs on the host's network (straight to
127.0.0.1), and `--network none` without either for reference.

    .venv/bin/python benchmarks/sealed_overhead.py [--starts 5] [--requests 300]

The server is a trivial HTTP handler answering at once, served both on 127.0.0.1 and on a
unix socket as the gateway is; the calls are made from inside each container by the image's
python3, a fresh connection per call (what the relay does per connection is the cost) and
then one kept-alive connection. Medians; the containers alternate so load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import docker

from pytest_ohbench.gateway.http_server import BackgroundHTTPServer, BackgroundUnixHTTPServer
from pytest_ohbench.runtime.docker.provider import volumes
from pytest_ohbench.runtime.docker.runtime import DockerRuntime
from pytest_ohbench.runtime.provider import Sealed
from pytest_ohbench.runtime.sealed import relay_binary, relay_command, sealed_mounts

IMAGE = "ohbench/base:trixie"
CLIENT = """
import http.client, json, statistics, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
fresh, kept = [], []
for _ in range(n):
    started = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port); c.request("POST", "/v1/chat/completions", body=b"x" * 4000); c.getresponse().read(); c.close()
    fresh.append(time.perf_counter() - started)
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    started = time.perf_counter()
    c.request("POST", "/v1/chat/completions", body=b"x" * 4000); c.getresponse().read()
    kept.append(time.perf_counter() - started)
print(json.dumps([statistics.median(fresh) * 1000, statistics.median(kept) * 1000]))
"""


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the gateway's handler

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"choices": [{"message": {"content": "ok"}}]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    client = docker.from_env()
    tcp, unix = BackgroundHTTPServer("127.0.0.1", 0, Answer, "bench-tcp"), BackgroundUnixHTTPServer(Answer, "bench-unix")
    sealed = Sealed(unix.path, tcp.port)
    relay = relay_binary()
    kinds = {
        "sealed": {"network": "none", "volumes": volumes(sealed_mounts(sealed, relay)), "wrapper": relay_command(sealed)},
        "host": {"network": "host"},
        "none": {"network": "none"},  # no relay, no gateway: what the start of a network namespace costs
    }
    starts: dict[str, list[float]] = {kind: [] for kind in kinds}
    calls: dict[str, list[float]] = {}
    try:
        for round_ in range(args.starts):
            for kind, options in kinds.items():
                started = time.perf_counter()
                runtime = DockerRuntime.start(client, IMAGE, run_id="bench-sealed", instance_id=f"{kind}-{round_}", workdir="/",
                                              **options)  # type: ignore[arg-type]
                runtime.execute("true", timeout=30)
                starts[kind].append(time.perf_counter() - started)
                if round_ == 0 and kind != "none":
                    result = runtime.execute(f"python3 -c '{CLIENT}' {tcp.port} {args.requests}", timeout=600)
                    calls[kind] = json.loads(result.output.strip().splitlines()[-1])
                runtime.remove()
    finally:
        tcp.stop()
        unix.stop()
    for kind in kinds:
        fresh, kept = calls.get(kind, (float("nan"), float("nan")))
        print(f"{kind:7} start {statistics.median(starts[kind]):.3f} s   call: fresh connection {fresh:.2f} ms, kept alive {kept:.2f} ms")


if __name__ == "__main__":
    main()
