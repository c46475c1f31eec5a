"""A sealed network: an agent's workspace reaches the run's LLM gateway and nothing else.

An agent that calls its LLM from inside its container (`command`, the OpenHands agents, an
installed CLI) used to get the host's network so it could reach the gateway on 127.0.0.1,
and with it every service of the host, every other container's published port and the
internet. Sealed instead:

    agent --TCP--> 127.0.0.1:<gateway port>   (the container's own loopback: `--network none`)
          relay (a static binary, mounted read-only, the container's main command)
          --unix socket--> <run's socket dir>/gateway.sock   (bind-mounted read-only)
          the run's gateway, which listens on that socket beside its 127.0.0.1 port

The container has no interface but `lo`, so nothing but the relay's one socket leads out: no
route to the host, to other containers or anywhere else, and no traffic through a Docker
bridge. The relay listens on the gateway's own port number, so the agent's base_url
(`http://127.0.0.1:<port>/v1`) is the same as on the host and no agent changes.

Why this shape:
- A unix socket crosses the network namespace through the file system: a bind mount is all
  it takes; no bridge, veth, iptables or proxy container, nothing that can leak further.
- The gateway itself serves the socket (gateway/server.py): no relay on the host, one
  socket per run, gone with the gateway.
- The in-container relay must run in any task image (no Python, an old glibc, no socat), so
  it is C built static with the host's compiler once per machine (`relay.c`, about 150
  lines; cached by a hash of its source, under a file lock for xdist workers).
- It is started as the container's main command, which it then `exec`s: it listens before
  anything in the container runs (no race with the agent, no `docker exec`, which costs
  40-50 ms), and a server grandchild adopted by the container's init keeps serving.
- Both mounts are read-only: an agent cannot replace the socket other items' agents use,
  nor the binary.

The local runtime cannot seal anything: its agents run as host processes.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from pathlib import Path

from filelock import FileLock

from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.machine import cache_dir
from pytest_ohbench.runtime.provider import BuildFailed, Mount, Sealed

SOURCE = Path(__file__).with_name("relay.c")
RELAY_DIR = "/opt/ohbench-relay"  # in the container: the binary, and the socket's folder
RELAY = f"{RELAY_DIR}/relay"
SOCKET_DIR = f"{RELAY_DIR}/gateway"
CFLAGS = ("-static", "-s", "-Os", "-Wall", "-Wextra")  # no -Werror: a newer compiler's new warning must not stop a run
NO_COMPILER = "install gcc and a static libc (Debian: apt-get install gcc libc6-dev), or set suite.yaml container.network: host"


def relay_key() -> str:
    """A hash of what the binary is made from (its source, flags and machine)."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(repr((CFLAGS, platform.machine())).encode())
    return digest.hexdigest()[:12]


def _compiler() -> str:
    for name in (os.environ.get("CC", ""), "gcc", "cc"):
        if name and shutil.which(name):
            return name
    raise BuildFailed(f"the sealed network's relay is built with a C compiler and none was found: {NO_COMPILER}")


def _build(target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    result = subprocess.run([_compiler(), *CFLAGS, "-o", str(partial), str(SOURCE)], capture_output=True, text=True)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildFailed(f"building the sealed network's relay failed ({last_line(result.stderr)}): {NO_COMPILER}")
    # It must at least run here (the engine's machine): without arguments it prints its usage.
    probe = subprocess.run([str(partial)], capture_output=True, text=True)
    if probe.returncode != 125 or "usage: ohbench-relay" not in probe.stderr:
        partial.unlink(missing_ok=True)
        raise BuildFailed(f"the relay built from {SOURCE} does not run: {last_line(probe.stderr, str(probe.returncode))}")
    partial.chmod(0o755)
    partial.replace(target)


def relay_binary() -> Path:
    """The relay, built once per machine with the host's C compiler (BuildFailed when it cannot be)."""
    target = cache_dir() / "relay" / f"ohbench-relay-{relay_key()}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.is_file():
            _build(target)
    return target


def sealed_mounts(sealed: Sealed, relay: Path) -> list[Mount]:
    """The relay binary and the gateway socket's folder, both read-only."""
    return [Mount(relay, RELAY), Mount(sealed.socket.parent, SOCKET_DIR)]


def relay_command(sealed: Sealed) -> list[str]:
    """The argv that goes before the container's main command: the relay, which then runs it."""
    return [RELAY, str(sealed.port), f"{SOCKET_DIR}/{sealed.socket.name}", "--"]
