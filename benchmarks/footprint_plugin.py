"""A pytest plugin the benchmarks load (`-p footprint_plugin`, benchmarks/ on PYTHONPATH).

Every process of the run (the controller and each xdist worker) appends one JSON line to
$OHBENCH_FOOTPRINT: its CPU seconds and resident memory when collection finished (the fixed
start-up: interpreter, imports, configure, collection) and at session end (peak resident,
total CPU). Read from the kernel (getrusage, /proc/self/status), not estimated.
"""

from __future__ import annotations

import json
import os
import resource
from typing import Any

import pytest

STARTUP = pytest.StashKey[dict[str, float]]()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _status(field: str) -> float:
    """A /proc/self/status memory field (VmRSS, VmHWM) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[STARTUP] = {"startup_cpu_s": _cpu(), "startup_rss_mib": _status("VmRSS")}


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("OHBENCH_FOOTPRINT")
    if not target:
        return
    worker: Any = getattr(session.config, "workerinput", None)
    line = {
        "process": worker["workerid"] if worker else "controller",
        **session.config.stash.get(STARTUP, {}),
        "total_cpu_s": _cpu(),
        "peak_rss_mib": _status("VmHWM"),
    }
    with open(target, "a") as out:
        out.write(json.dumps(line) + "\n")
