"""Where CPU time goes, read from the kernel: the whole machine, the containers, the Docker
daemons and this process's waited-for children. For the benchmarks (imported with
benchmarks/ on sys.path, as a script's own folder is)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CONTAINER_CGROUPS = (
    Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"),  # v1, cgroupfs driver: nanoseconds
    Path("/sys/fs/cgroup/docker/cpu.stat"),  # v2, cgroupfs driver: usage_usec
    Path("/sys/fs/cgroup/system.slice/cpu.stat"),  # v2, systemd driver (docker-*.scope are in it, with more)
)


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (every CPU, all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def containers_cpu() -> float | None:
    """CPU seconds of every container process, removed containers included (cgroup accounting)."""
    for path in CONTAINER_CGROUPS:
        if path.is_file():
            text = path.read_text()
            if path.name == "cpuacct.usage":
                return int(text) / 1e9
            return int(next(line.split()[1] for line in text.splitlines() if line.startswith("usage_usec"))) / 1e6
    return None


def daemons_cpu() -> float:
    """CPU seconds of the running dockerd and containerd processes."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if name in ("dockerd", "containerd"):
            total += (int(rest[11]) + int(rest[12])) / CLOCK_TICKS  # utime, stime
    return total


def cpu_now() -> dict[str, float | None]:
    """CPU seconds so far: machine, containers (None: no cgroup found), daemons, and `pytest`:
    this process's waited-for children (a benchmark's pytest runs and their workers)."""
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"machine": machine_cpu(), "containers": containers_cpu(), "daemons": daemons_cpu(),
            "pytest": own.ru_utime + own.ru_stime}


def cpu_spent(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, float]:
    """CPU seconds spent between two cpu_now() readings, by where; `rest` is the machine's remainder."""
    spent = {key: after[key] - before[key] for key in before if before[key] is not None and after[key] is not None}  # type: ignore[operator]
    spent["rest"] = spent["machine"] - sum(v for k, v in spent.items() if k != "machine")
    return spent
