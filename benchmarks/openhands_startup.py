"""Per-item overhead of the openhands agent: container start -> first LLM request, and what the tree costs.

    .venv/bin/python benchmarks/openhands_startup.py [--runs 5] [--image ohbench/base:trixie]

For each run: start a task container from IMAGE with the agent tree mounted (as the harness
does), run OpenHands 0.x on a one-line task against the scripted LLM on 127.0.0.1 (it
answers `finish` at once), and take the time from the `containers.run` call to the first
request the server logs. A/B, interleaved in one process: the agent's Python import with the
tree's precompiled bytecode (what runs) against the same import compiling from source
(`-X pycache_prefix` pointed at an empty folder: what a read-only tree without bytecode
would do on every item). Prints medians and the spread, the tree's size and build time, and
the disk one more task image costs (the container's writable layer after a run).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path

import docker

from pytest_ohbench.agents.agent_tree import PYTHON, tree_info
from pytest_ohbench.agents.base import AgentContext, AgentSettings
from pytest_ohbench.agents.openhands.agent import OpenHandsAgent
from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.core.task import TaskView
from pytest_ohbench.runtime.docker.provider import DockerProvider, volumes
from pytest_ohbench.runtime.docker.runtime import DockerRuntime
from pytest_ohbench.runtime.provider import RuntimeSettings, controller_id
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

FINISH = {"tool_calls": [{"name": "finish", "arguments": {"message": "done", "task_completed": "true"}}],
          "usage": {"prompt_tokens": 10, "completion_tokens": 1}}


def container_disk(client: docker.DockerClient, container_id: str) -> int:
    api = client.api
    return int(api._result(api._get(api._url("/containers/{0}/json", container_id), params={"size": 1}), True).get("SizeRw") or 0)


def first_request(client: docker.DockerClient, agent: OpenHandsAgent, image: str, log_dir: Path) -> tuple[float, float, int]:
    """(seconds to the first LLM request, seconds of the whole run, writable-layer bytes) of one item."""
    with ScriptedLLMServer({"scripts": [{"responses": [FINISH]}]}) as server:
        llm = LLMConfig(name="bench", model="openai/bench", api_key="sk-bench", base_url=server.base_url, num_retries=0)
        started = time.time()
        runtime = DockerRuntime.start(client, image, run_id="bench", instance_id=uuid.uuid4().hex[:6],
                                      workdir="/tmp", network="host", volumes=volumes(agent.mounts()))
        try:
            runtime.execute("git init -q /tmp/work 2>/dev/null || true")
            view = TaskView(instance_id="bench", repo="", base_commit="", prompt="Say done.", hints_text="", location="bench")
            agent.run(AgentContext(task=view, runtime=runtime, log_dir=log_dir, llm=llm, time_limit=600, prompt="Say done."))
            ended = time.time()
            disk = container_disk(client, runtime.container.id or "")
        finally:
            runtime.remove()
        posts = [r["time"] for r in server.requests if r.get("method") == "POST"]
    if not posts:
        raise SystemExit("OpenHands made no LLM request: see " + str(log_dir / "agent.log"))
    return posts[0] - started, ended - started, disk


def import_seconds(client: docker.DockerClient, agent: OpenHandsAgent, image: str, from_source: bool) -> float:
    """Seconds for the agent's Python to import OpenHands' entry point in a fresh container."""
    flags = "-X pycache_prefix=/tmp/empty-pycache " if from_source else ""
    code = "import time; t = time.perf_counter(); import openhands.core.main; print(time.perf_counter() - t)"
    output = client.containers.run(image, ["sh", "-c", f"{PYTHON} {flags}-c '{code}' 2>/dev/null | tail -n 1"],
                                   remove=True, network_mode="none", volumes=volumes(agent.mounts()))
    return float(output.decode().strip())


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", default="ohbench/base:trixie")
    parser.add_argument("--logs", type=Path, default=Path("reports/bench-openhands-startup"))
    args = parser.parse_args()
    client = docker.from_env()
    agent = OpenHandsAgent(AgentSettings(max_steps=5))
    tree_started = time.monotonic()
    agent.prepare(DockerProvider(RuntimeSettings(run_id="bench", controller=controller_id())), args.image)  # builds the tree on first use
    tree_seconds = time.monotonic() - tree_started
    [tree] = [mount.source for mount in agent.mounts()]
    info = tree_info(tree)
    print(f"agent tree: {tree} ({info.get('size_bytes', 0) / 1e9:.2f} GB, built in {info.get('build_seconds')} s; "
          f"found in {tree_seconds:.2f} s this time)")
    firsts, totals, disks, compiled, source = [], [], [], [], []
    for number in range(args.runs):
        log_dir = args.logs / f"run-{number}"
        log_dir.mkdir(parents=True, exist_ok=True)
        first, total, disk = first_request(client, agent, args.image, log_dir)
        firsts.append(first)
        totals.append(total)
        disks.append(disk)
        # A/B interleaved: the same container start, bytecode from the tree vs compiled from source.
        compiled.append(import_seconds(client, agent, args.image, from_source=False))
        source.append(import_seconds(client, agent, args.image, from_source=True))
        print(f"run {number}: first LLM request after {first:.2f} s, item done after {total:.2f} s, "
              f"import {compiled[-1]:.2f} s (bytecode) vs {source[-1]:.2f} s (source), disk {disk / 1e6:.2f} MB")
    print(f"container start -> first LLM request: {spread(firsts)}")
    print(f"container start -> agent done (one finish step): {spread(totals)}")
    print(f"import openhands.core.main with the tree's bytecode: {spread(compiled)}")
    print(f"import openhands.core.main compiling from source:   {spread(source)}")
    print(f"disk per item/task image (container writable layer): median {statistics.median(disks) / 1e6:.2f} MB; "
          "no image is built per task image")


if __name__ == "__main__":
    main()
