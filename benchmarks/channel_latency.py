"""Per-command latency: the persistent shell channel vs `docker exec` (CLI and SDK), one run.

    .venv/bin/python benchmarks/channel_latency.py [--rounds 200] [--image ohbench/base:trixie]

One container; each round runs `true` once through each path, in an order that rotates every
round (A/B/C interleaved, so drifting machine load hits all three alike). Prints medians, p90
and the ratios of the medians, plus the CPU time this process spent per command on each path.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import time
from collections.abc import Callable

import docker

from pytest_ohbench.runtime.docker.runtime import DockerRuntime


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children (the docker CLI)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--image", default="ohbench/base:trixie")
    args = parser.parse_args()
    client = docker.from_env()
    runtime = DockerRuntime.start(client, args.image, run_id="bench-channel", instance_id="bench", workdir="/tmp")
    name = runtime.name
    paths: dict[str, Callable[[], object]] = {
        "channel": lambda: runtime.execute("true"),
        "sdk exec": lambda: runtime.exec("true"),
        "docker exec CLI": lambda: subprocess.run(["docker", "exec", name, "true"], check=True, capture_output=True),
    }
    times: dict[str, list[float]] = {key: [] for key in paths}
    cpu: dict[str, float] = dict.fromkeys(paths, 0.0)
    try:
        for warm in paths.values():  # open the channel, warm the CLI's caches
            warm()
        order = list(paths)
        for round_number in range(args.rounds):
            shift = round_number % len(order)
            for key in order[shift:] + order[:shift]:
                cpu_before, started = cpu_seconds(), time.perf_counter()
                paths[key]()
                times[key].append(time.perf_counter() - started)
                cpu[key] += cpu_seconds() - cpu_before
    finally:
        runtime.remove()
    print(f"per-command latency of `true`, {args.rounds} rounds, paths interleaved (rotating order), one container")
    medians = {key: statistics.median(values) for key, values in times.items()}
    for key, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(
            f"  {key:16s} median {medians[key] * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms   "
            f"client CPU {cpu[key] / len(values) * 1000:6.2f} ms/command"
        )
    for key in ("sdk exec", "docker exec CLI"):
        print(f"  {key} / channel median ratio: {medians[key] / medians['channel']:.1f}x")


if __name__ == "__main__":
    main()
