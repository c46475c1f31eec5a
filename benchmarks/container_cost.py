"""What one task container costs this machine, stage by stage: the floor under every item.

    .venv/bin/python benchmarks/container_cost.py [--rounds 10]

An item whose agent works in a container pays for two: the agent's and the check's fresh
one (grading integrity: never judged in the agent's own). Each round starts a container of
the bundled ohbench__textkit-2 image with the harness's own DockerRuntime, as an item does,
and times each stage: the start (create, attach to the channel's shell, start), the first
command (through that channel), the history strip, the instance's tests (its suite's test command on its test patch's files), the agent's
diff, and the removal. For each stage it prints the median wall time and the median CPU the
whole machine spent (/proc/stat: dockerd, containerd, shims, runc, the kernel and the
container's processes), with the containers' own share (cgroup accounting). Run it on a quiet
machine: machine CPU counts every process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import docker
from cpu_meter import containers_cpu, machine_cpu

from pytest_ohbench.core.suite import load_suite
from pytest_ohbench.core.task import PatchTestsSpec
from pytest_ohbench.kinds.swe.checker import patch_files
from pytest_ohbench.kinds.swe.loader import swe_bench_task
from pytest_ohbench.runtime.docker.images import resolve_image
from pytest_ohbench.runtime.docker.runtime import DockerRuntime
from pytest_ohbench.runtime.workspace import STRIP_HISTORY, extract_patch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "suites" / "examples" / "swe"
INSTANCE = "ohbench__textkit-2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (EXAMPLES / "swe-bench.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["instance_id"] == INSTANCE)
    suite = load_suite(EXAMPLES)
    assert suite is not None
    task = swe_bench_task(row, f"{EXAMPLES / 'swe-bench.jsonl'}:{INSTANCE}")
    assert isinstance(task.check, PatchTestsSpec)
    client = docker.from_env()
    image = resolve_image(client, task, suite).name  # the image an item of the suite uses, built as it builds it
    test_command = suite.test.command.format(test_files=" ".join(patch_files(task.check.test_patch)))
    stages: dict[str, list[tuple[float, float, float]]] = {}

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        wall, machine, own = time.monotonic(), machine_cpu(), containers_cpu() or 0.0
        yield
        stages.setdefault(name, []).append(
            (time.monotonic() - wall, machine_cpu() - machine, (containers_cpu() or 0.0) - own)
        )

    strip = f"bash -c {shlex.quote(STRIP_HISTORY)} strip {shlex.quote(row['base_commit'])}"
    for index in range(args.rounds):
        with timed("start"):
            runtime = DockerRuntime.start(  # with the suite's limits, as an item's container
                client, image, run_id="container-cost", instance_id=f"r{index}", workdir=suite.container.workdir,
                cpus=suite.container.cpus, memory=suite.container.memory,
            )
        try:
            with timed("first command (via the channel)"):
                runtime.execute("true")
            with timed("history strip"):
                runtime.execute(strip)
            with timed("the instance's tests"):
                runtime.execute(test_command, timeout=120)
            with timed("agent's diff"):
                extract_patch(runtime, row["base_commit"])
        finally:
            with timed("removal"):
                runtime.remove()
    print(f"one task container of {INSTANCE} ({image}), {args.rounds} rounds, medians; machine CPU = every CPU's "
          "busy time (/proc/stat), containers = the container's own processes (cgroup)")
    print(f"  tests: {test_command}")
    total_wall = total_cpu = 0.0
    for name, values in stages.items():
        wall, cpu, own = (statistics.median(v[i] for v in values) for i in range(3))
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        print(f"  {name:36s} wall {wall * 1000:7.1f} ms   machine CPU {cpu * 1000:7.1f} ms   in the container {own * 1000:7.1f} ms")
    print(f"  {'all stages':36s} wall {total_wall * 1000:7.1f} ms   machine CPU {total_cpu * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
