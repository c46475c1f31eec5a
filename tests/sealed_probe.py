"""Probes of an agent container's network, from inside it, for the sealed-network tests.

`PROBE_CONFTEST` overrides `ohbench_runtime` in a pytester run: before the agent starts, it
runs `PROBE` in the agent's own container (its network namespace, through the harness's
command channel) and writes what it saw to `network_probe.json` in the item's log folder.
`HostServer` is a TCP server on the host's 127.0.0.1 that counts the connections it gets:
a sealed container must not reach it.

No probe sends anything past the container: a non-loopback connection is tried only when the
container has no interface but `lo` (the kernel then refuses it locally, with no route), to
192.0.2.1 (TEST-NET-1, standing for any public address) and to `PROBE_TARGETS`: the host's
own non-loopback addresses and another container's (`outside_targets`). Each try is timed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any

import docker

# bash only (no Python, no curl, no ip): runs in any test image. One "key: value" line each.
PROBE = r"""
tcp() { timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2" 2>&1 | tail -n 1; [ "${PIPESTATUS[0]}" = 0 ] && echo CONNECTED; true; }
ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | paste -sd, -)
echo "interfaces: $ifaces"
echo "routes: $(tail -n +2 /proc/net/route | wc -l)"
echo "host_loopback_server: $(tcp 127.0.0.1 "$PROBE_HOST_PORT" | paste -sd' ' -)"
if [ "$ifaces" = lo ]; then
  echo "outside: $(tcp 192.0.2.1 80 | paste -sd' ' -)"
  for target in $PROBE_TARGETS; do
    start=$(date +%s%N)
    said=$(tcp "${target%:*}" "${target##*:}" | paste -sd' ' -)
    echo "target $target: $(( ($(date +%s%N) - start) / 1000000 )) ms $said"
  done
fi
if exec 3<>"/dev/tcp/127.0.0.1/$PROBE_GATEWAY_PORT"; then
  printf 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  echo "gateway: $(head -n 1 <&3 | tr -d '\r')"
  exec 3<&-
else
  echo "gateway: no connection"
fi
"""

# A conftest.py for the pytester run (it cannot import this module: it is self-contained).
PROBE_CONFTEST = f"""
import json, os, urllib.parse
import pytest

PROBE = {PROBE!r}


@pytest.fixture
def ohbench_runtime(ohbench_runtime, ohbench_log_dir, ohbench_llm):
    # The agent's container, probed from inside before the agent runs.
    port = urllib.parse.urlsplit(ohbench_llm.base_url).port if ohbench_llm else 9
    env = {{"PROBE_HOST_PORT": os.environ["PROBE_HOST_PORT"], "PROBE_GATEWAY_PORT": str(port),
            "PROBE_TARGETS": os.environ.get("PROBE_TARGETS", "")}}
    result = ohbench_runtime.execute(PROBE, timeout=60, env=env)
    found = {{"raw": result.output}}
    container = ohbench_runtime.container  # the engine's view of it
    container.reload()
    found["network_mode"] = container.attrs["HostConfig"]["NetworkMode"]
    found["mounts"] = {{m["Destination"]: m["RW"] for m in container.attrs["Mounts"]}}
    found["targets"] = {{}}
    for line in result.output.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("target "):
            found["targets"][key.split()[1]] = value.strip()
        elif sep and key.replace("_", "").isalpha():
            found[key] = value.strip()
    (ohbench_log_dir / "network_probe.json").write_text(json.dumps(found))
    yield ohbench_runtime
"""


def read_probe(run_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """What the probe saw in one item's agent container."""
    return json.loads((run_dir / record["log_dir"] / "network_probe.json").read_text())


def assert_sealed(probe: dict[str, Any]) -> None:
    """Loopback only, no route, the host's 127.0.0.1 and the outside refused, the gateway answering."""
    assert probe.get("interfaces") == "lo", probe["raw"]
    assert probe.get("routes") == "0", probe["raw"]
    assert "Connection refused" in probe.get("host_loopback_server", ""), probe["raw"]
    assert "Network is unreachable" in probe.get("outside", ""), probe["raw"]
    # The host's other addresses and another container's: refused at once, nothing sent.
    targets = probe["targets"]
    assert targets and set(targets) == set(os.environ["PROBE_TARGETS"].split()), probe["raw"]
    for said in targets.values():
        assert "Network is unreachable" in said and "CONNECTED" not in said and int(said.split()[0]) < 1000, probe["raw"]
    # The relay at the agent's base_url reaches the gateway: 401 without an item's token.
    assert probe.get("gateway", "").startswith("HTTP/1.") and " 401 " in probe["gateway"] + " ", probe["raw"]


SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def outside_targets(client: docker.DockerClient, other: docker.models.containers.Container, port: int) -> str:
    """`ip:port` of the host's non-loopback addresses (its bridge address among them) and of
    `other`, a container on the default bridge: what PROBE_TARGETS holds."""
    bridge = client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    other.reload()
    addresses = {bridge, other.attrs["NetworkSettings"]["IPAddress"]}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            with contextlib.suppress(OSError):  # an interface without an IPv4 address
                addresses.add(socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)[20:24]))
    return " ".join(f"{a}:{port}" for a in sorted(addresses) if a and not a.startswith("127."))


class HostServer:
    """A TCP server on the host's 127.0.0.1 (a free port) counting the connections it accepts."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            client.close()

    def close(self) -> None:
        self._socket.close()
