"""A second host on this machine for the remote-worker tests: a network namespace with its own
address, its own sshd and its own Docker engine.

    with NamespaceHost(base_image) as host:
        host.tx_spec(python, chdir)   # an xdist --tx ssh=... spec for a worker there
        host.die()                    # the host goes away: its worker, engine and sshd killed, link down

The namespace shares this machine's files (as a host with the same checkout would) but not
its network: it reaches this host's address on the veth pair and nothing else, and its
engine (its own data root and socket, no bridge) starts containers this machine's engine
knows nothing of. sshd sets DOCKER_HOST for the sessions it serves, as a host's default
engine would be. Needs root, iproute2 and openssh-server (scripts/bootstrap.sh --test).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


class NamespaceHost:
    """The second host: up on enter, gone (processes stopped by their pids, links and files removed) on exit."""

    def __init__(self, image: str) -> None:
        self.image = image  # loaded into the host's engine: its tasks' base image
        suffix = f"{os.getpid() % 10000}"
        self.name = f"ohbns{suffix}"
        subnet = random.randint(1, 250)
        self.address, self.peer = f"10.79.{subnet}.2", f"10.79.{subnet}.1"  # the host's; this machine's on the link
        self.home = Path(f"/run/{self.name}")
        self.data_root = Path(f"/var/lib/{self.name}-docker")
        self.docker_host = f"unix://{self.home}/docker.sock"
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> NamespaceHost:
        try:
            self._network()
            self._engine()
            self._sshd()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _network(self) -> None:
        _run("ip", "netns", "add", self.name)
        _run("ip", "link", "add", f"{self.name}h", "type", "veth", "peer", "name", f"{self.name}n")
        _run("ip", "link", "set", f"{self.name}n", "netns", self.name)
        _run("ip", "addr", "add", f"{self.peer}/24", "dev", f"{self.name}h")
        _run("ip", "link", "set", f"{self.name}h", "up")
        inside = ["ip", "netns", "exec", self.name]
        _run(*inside, "ip", "addr", "add", f"{self.address}/24", "dev", f"{self.name}n")
        _run(*inside, "ip", "link", "set", f"{self.name}n", "up")
        _run(*inside, "ip", "link", "set", "lo", "up")

    def _in_namespace(self, command: list[str], log: Path) -> subprocess.Popen:
        # nsenter --net only: `ip netns exec` would remount /sys, and dockerd needs its cgroups.
        process = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{self.name}", *command],
                                   stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def _engine(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._in_namespace(["dockerd", "--data-root", str(self.data_root), "--exec-root", str(self.home / "exec"),
                            "--pidfile", str(self.home / "dockerd.pid"), "-H", self.docker_host, "--bridge", "none",
                            "--iptables=false", "--ip6tables=false"], self.home / "dockerd.log")
        for _ in range(60):
            if subprocess.run(["docker", "-H", self.docker_host, "version"], capture_output=True).returncode == 0:
                break
            time.sleep(1)
        else:
            raise RuntimeError(f"the namespace host's dockerd did not answer: {(self.home / 'dockerd.log').read_text()[-2000:]}")
        # Its base image, as `docker save | docker load` would carry it to another host.
        saver = subprocess.Popen(["docker", "save", self.image], stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", self.docker_host, "load", "-q"], stdin=saver.stdout, check=True, capture_output=True)
        saver.wait()

    def _sshd(self) -> None:
        keys = self.home / "ssh"
        keys.mkdir(exist_ok=True)
        for key in ("host_key", "client_key"):
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / key))
        shutil.copy(keys / "client_key.pub", keys / "authorized_keys")
        (keys / "sshd_config").write_text(
            f"ListenAddress {self.address}\nPort 22\nHostKey {keys / 'host_key'}\nAuthorizedKeysFile {keys / 'authorized_keys'}\n"
            f"PermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\nUsePAM no\n"
            f"PidFile {keys / 'sshd.pid'}\nSetEnv DOCKER_HOST={self.docker_host}\n"
        )
        self.ssh_config = keys / "ssh_config"
        self.ssh_config.write_text(
            f"Host {self.address}\n  IdentityFile {keys / 'client_key'}\n  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 5\n"
            # A host that dies without closing its connections: ssh gives up after 3 unanswered 2 s probes.
            "  ServerAliveInterval 2\n  ServerAliveCountMax 3\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation folder
        self._in_namespace([shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f", str(keys / "sshd_config")], self.home / "sshd.log")
        for _ in range(50):
            if subprocess.run(["ssh", "-F", str(self.ssh_config), f"root@{self.address}", "true"], capture_output=True).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the namespace host's sshd did not answer: {(self.home / 'sshd.log').read_text()[-2000:]}")

    def tx_spec(self, python: str, chdir: Path) -> str:
        """An xdist --tx spec for one worker on this host, in `chdir` (a folder of its own)."""
        return f"ssh=root@{self.address}//python={python}//ssh_config={self.ssh_config}//chdir={chdir}"

    @contextlib.contextmanager
    def client(self) -> Iterator[docker.DockerClient]:
        """A client of the host's engine, closed after."""
        client = docker.DockerClient(base_url=self.docker_host, timeout=60)
        try:
            yield client
        finally:
            client.close()

    def die(self) -> None:
        """The host goes down at once: its link cut, everything that runs in its namespace killed,
        and its containers' processes (each in a network namespace of its own) with them."""
        subprocess.run(["ip", "link", "set", f"{self.name}h", "down"], capture_output=True)
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout.split()
        try:
            with self.client() as client:
                containers = [c.id for c in client.containers.list()]
        except Exception:
            containers = []  # its engine is gone already
        for container in containers:
            procs = Path(f"/sys/fs/cgroup/pids/docker/{container}/cgroup.procs")  # cgroup v1, as this machine has
            if procs.is_file():
                pids += procs.read_text().split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.die()  # whatever the namespace still runs (containers' processes)
        subprocess.run(["ip", "link", "del", f"{self.name}h"], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.data_root, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
