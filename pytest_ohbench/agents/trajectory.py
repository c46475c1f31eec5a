"""One trajectory format for every agent: ATIF, Harbor's Agent Trajectory Interchange Format.

Each agent keeps its own log in the item's log folder (`BaseAgent.raw_log`) and supplies one
parser, `trajectory_steps`, from that log to `TrajectoryStep`s. This module turns those steps
into `trajectory.json` beside the log (schema in docs/results.md), which the report reads
whatever the agent. The first step is the task's prompt (source `user`); each agent step
carries its tool calls, their outputs as the observation, and its tokens and cost where the
agent's log has them.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from pytest_ohbench.agents.base import BaseAgent, TrajectoryStep, agent_names, load_agent

SCHEMA_VERSION = "ATIF-v1.4"
TRAJECTORY = "trajectory.json"
SOURCES = ("system", "user", "agent")
# What a parser's steps carry into an ATIF step's metrics (ATIF name, TrajectoryStep name).
METRICS = (("prompt_tokens", "prompt_tokens"), ("completion_tokens", "completion_tokens"), ("cached_tokens", "cached_tokens"))
TOTALS = {"prompt_tokens": "total_prompt_tokens", "completion_tokens": "total_completion_tokens",
          "cached_tokens": "total_cached_tokens", "cost_usd": "total_cost_usd"}


def is_atif(data: Any) -> bool:
    """True for a parsed trajectory in this format."""
    return isinstance(data, dict) and str(data.get("schema_version", "")).startswith("ATIF-")


def read_log(path: Path) -> Any:
    """An agent's own log, parsed: JSON, or for `.jsonl` the list of its lines' objects."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def raw_log_path(agent: type[BaseAgent], log_dir: Path) -> Path | None:
    """The agent's own log in `log_dir`, or None when it left none.

    An agent that names no `raw_log` but wrote its own format to trajectory.json has it moved
    aside to `<agent>.raw.json` first, so trajectory.json is always the one format.
    """
    if agent.raw_log:
        path = log_dir / agent.raw_log
        return path if path.is_file() else None
    own = log_dir / TRAJECTORY
    if not own.is_file() or is_atif(_parsed(own)):
        return None
    aside = log_dir / f"{agent.name or 'agent'}.raw.json"
    own.replace(aside)
    return aside


def raw_log(log_dir: Path, agent: str) -> Path | None:
    """The own log of the agent named `agent` in an item's log folder (for the tools that want
    it as the agent wrote it): its `raw_log`, or an older run's own-format trajectory.json."""
    own = log_dir / load_agent(agent).raw_log if agent in agent_names() and load_agent(agent).raw_log else None
    if own is not None and own.is_file():
        return own
    old = log_dir / TRAJECTORY
    return old if old.is_file() and not is_atif(_parsed(old)) else None


def _parsed(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def to_atif(steps: list[TrajectoryStep], *, agent: str, version: str, model: str | None, session_id: str,
            prompt: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ATIF trajectory from a parser's steps (`prompt`: the task, as the first `user` step)."""
    if prompt and not any(step.source == "user" for step in steps):
        steps = [TrajectoryStep(prompt, [], [], 0.0, source="user"), *steps]
    out: list[dict[str, Any]] = []
    spent = 0.0
    # A log with no cost anywhere (the OpenHands SDK's events) claims none, rather than $0.
    priced = any(step.cost_usd is not None or step.cost_so_far for step in steps)
    for number, step in enumerate(steps, start=1):
        entry: dict[str, Any] = {"step_id": number, "source": step.source if step.source in SOURCES else "agent",
                                 "message": step.text}
        if step.timestamp:
            entry["timestamp"] = step.timestamp
        if step.model_name:
            entry["model_name"] = step.model_name
        if step.commands:
            entry["tool_calls"] = [
                {"tool_call_id": f"call_{number}_{i}", "function_name": step.tool, "arguments": {"command": command}}
                for i, command in enumerate(step.commands, start=1)
            ]
        if step.outputs:
            # An output answers the call of the same place; one past the calls answers none.
            calls = entry.get("tool_calls", [])
            entry["observation"] = {"results": [
                {"source_call_id": calls[i]["tool_call_id"], "content": output} if i < len(calls) else {"content": output}
                for i, output in enumerate(step.outputs)
            ]}
        if entry["source"] == "agent":
            metrics = {name: getattr(step, field) for name, field in METRICS if getattr(step, field) is not None}
            cost = step.cost_usd if step.cost_usd is not None else max(step.cost_so_far - spent, 0.0)
            spent = step.cost_so_far if step.cost_usd is None else spent + step.cost_usd
            if priced:
                metrics["cost_usd"] = round(cost, 10)
            if metrics:
                entry["metrics"] = metrics
        out.append(entry)
    trajectory: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "session_id": session_id,
        "agent": {"name": agent, "version": version, **({"model_name": model} if model else {})},
        "steps": out,
        "final_metrics": final_metrics(out),
    }
    if extra:
        trajectory["extra"] = extra
    return trajectory


def final_metrics(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The sums over the steps' metrics (a total only where some step has it), and the step count."""
    totals: dict[str, Any] = {"total_steps": sum(1 for s in steps if s["source"] == "agent")}
    for name, total in TOTALS.items():
        values = [s["metrics"][name] for s in steps if name in s.get("metrics", {})]
        if values:
            totals[total] = round(sum(values), 10) if name == "cost_usd" else sum(values)
    return totals


def validate(data: Any) -> list[str]:
    """What keeps `data` from being a valid ATIF trajectory (the fields it requires), or []."""
    if not is_atif(data):
        return ["schema_version is not ATIF-*"]
    problems = [f"{key} missing" for key in ("session_id", "agent", "steps") if key not in data]
    agent = data.get("agent") or {}
    problems += [f"agent.{key} missing" for key in ("name", "version") if not isinstance(agent.get(key), str)]
    for position, step in enumerate(data.get("steps") or [], start=1):
        if step.get("step_id") != position:
            problems.append(f"step {position}: step_id {step.get('step_id')!r}")
        if step.get("source") not in SOURCES or not isinstance(step.get("message"), str):
            problems.append(f"step {position}: source or message")
        ids = {call.get("tool_call_id") for call in step.get("tool_calls", [])}
        for call in step.get("tool_calls", []):
            if not (isinstance(call.get("function_name"), str) and isinstance(call.get("arguments"), dict)):
                problems.append(f"step {position}: tool call {call.get('tool_call_id')!r}")
        for result in (step.get("observation") or {}).get("results", []):
            if "source_call_id" in result and result["source_call_id"] not in ids:
                problems.append(f"step {position}: observation answers no call ({result['source_call_id']})")
    return problems


def write_trajectory(agent: BaseAgent, log_dir: Path, *, model: str | None, session_id: str, prompt: str,
                     metered: dict[str, Any] | None = None) -> Path | None:
    """trajectory.json from the agent's own log in `log_dir`; None when it left no log.

    `metered`: the gateway's figures for the item, kept in `extra` beside the steps' own sums.
    """
    raw = raw_log_path(type(agent), log_dir)
    if raw is None:
        return None
    steps = type(agent).trajectory_steps(read_log(raw))
    extra = {"raw_log": raw.name, **({"metered": metered} if metered else {})}
    data = to_atif(steps, agent=agent.name, version=agent.agent_version() or harness_version(), model=model, session_id=session_id,
                   prompt=prompt, extra=extra)
    path = log_dir / TRAJECTORY
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def harness_version() -> str:
    """pytest-ohbench's version: that of the agents that run no library of their own."""
    try:
        return metadata.version("pytest-ohbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def load_trajectory(log_dir: Path, agent: type[BaseAgent] | None) -> dict[str, Any] | None:
    """The item's trajectory in this format: its trajectory.json, or one made now from an
    older run folder's own-format log (`agent`: who wrote it, when it is installed)."""
    data = _parsed(log_dir / TRAJECTORY)
    if is_atif(data):
        return data
    if agent is None:
        return None
    own = log_dir / agent.raw_log if agent.raw_log else None
    raw = own if own is not None and own.is_file() else log_dir / TRAJECTORY
    if not raw.is_file():
        return None
    return to_atif(agent.trajectory_steps(read_log(raw)), agent=agent.name, version="unknown", model=None, session_id="")
