"""The machine a run is measured on: CPU model, cores, load (the host's view).

Perf timings mean little without it: each perf record keeps it beside its timings, and
run.json keeps it for the run.
"""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """The harness's cache on this machine (OHBENCH_CACHE_DIR, else ~/.cache/pytest-ohbench):
    wheelhouses, agents' trees, the sealed network's relay."""
    return Path(os.environ.get("OHBENCH_CACHE_DIR") or Path.home() / ".cache" / "pytest-ohbench")


def is_alive(pid: int) -> bool:
    """True while process `pid` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


# The machine's lock files, shared by every process and run (image builds, timing runs, engine slots).
LOCK_DIR = Path(tempfile.gettempdir()) / "pytest-ohbench-locks"


def machine_facts() -> dict[str, Any]:
    """The machine the timings were taken on: CPU model, cores, load (host view)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu_model": model or platform.processor() or platform.machine(),
        "cpus": os.cpu_count() or 0,
        "usable_cpus": usable,
        "load_avg": load,
        "platform": platform.platform(),
        "kernel": platform.release(),
    }
