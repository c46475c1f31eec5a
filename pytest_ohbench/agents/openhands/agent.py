"""The `openhands` agent: the real OpenHands (CodeActAgent by default) inside the task container.

OpenHands and its Python live in one read-only tree per machine and version (see
agent_tree.py), bind-mounted into the task container: nothing is built per task image, and
the image needs no Python of its own. OpenHands runs headless there with `runtime = "cli"`,
so its commands and edits happen in the task's own workspace with the image's own tools,
and calls the --llm-config section's model through the run's gateway (a sealed network:
the gateway and nothing else). Status, cost and tokens come from its saved trajectory; the patch is the
workspace's diff.
"""

from __future__ import annotations

import json
import shlex
import zipfile
from pathlib import Path
from typing import Any

import tomli_w

from pytest_ohbench.agents.agent_tree import PYTHON, TreeError, TreeSpec, ensure_tree, tree_mount
from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentSettings, AgentStatus, TrajectoryStep
from pytest_ohbench.agents.mounted import MountedAgent
from pytest_ohbench.agents.openhands.install import REQUIREMENTS, ensure_wheelhouse
from pytest_ohbench.agents.openhands.settings import agent_section, condenser_section
from pytest_ohbench.agents.openhands.source import (
    Source,
    ensure_source_trees,
    has_release_source,
    inspect_source,
    registered_agent_classes,
    release_source,
    source_version,
)
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.llm import LLMConfig, redact
from pytest_ohbench.runtime.base import Runtime
from pytest_ohbench.runtime.provider import Mount, RuntimeProvider

WORK = "/tmp/ohbench-openhands"  # config, prompt, trajectory, completions (never in the repo)


def tree_spec(version: str, wheelhouse: Path) -> TreeSpec:
    """The agent tree of openhands-ai `version` from `wheelhouse`."""
    wheels = sorted(wheelhouse.glob("openhands_ai-*.whl"))
    if not wheels:
        raise TreeError(f"{wheelhouse}: no openhands_ai wheel in it")
    requirements = wheelhouse / REQUIREMENTS
    # openhands-ai itself without its declared dependencies, then the lock-pinned ones (or its own).
    installs = (("--no-deps", wheels[-1].name), ("-r", requirements.name) if requirements.is_file() else (wheels[-1].name,))
    return TreeSpec(f"openhands-{version}", wheelhouse, installs, check="import openhands.core.main")


def agent_classes(wheelhouse: Path) -> list[str]:
    """The agent classes the openhands-ai wheel registers (in its agenthub)."""
    wheels = sorted(wheelhouse.glob("openhands_ai-*.whl"))
    if not wheels:
        return []
    with zipfile.ZipFile(wheels[-1]) as archive:
        sources = [archive.read(n).decode(errors="replace") for n in archive.namelist()
                   if n.startswith("openhands/agenthub/") and n.endswith("__init__.py")]
    return registered_agent_classes(sources)


def openhands_config(llm: LLMConfig, workdir: str, settings: AgentSettings) -> str:
    """The config.toml OpenHands runs with (it holds the api_key: written 0600, in the container only)."""
    core = {
        "runtime": "cli",
        "workspace_base": workdir,
        "save_trajectory_path": f"{WORK}/trajectory.json",
        "file_store": "local",
        "file_store_path": f"{WORK}/file_store",
        "max_iterations": settings.max_steps,
        "enable_default_condenser": False,
    }
    if settings.max_cost_per_task:
        core["max_budget_per_task"] = settings.max_cost_per_task
    section: dict[str, Any] = {
        "model": llm.model,
        "native_tool_calling": True,
        "log_completions": True,
        "log_completions_folder": f"{WORK}/completions",
    }
    for key in ("api_key", "base_url", "api_version", "temperature", "top_p", "max_input_tokens", "max_output_tokens",
                "num_retries", "input_cost_per_token", "output_cost_per_token", "custom_llm_provider", "drop_params"):
        if getattr(llm, key) is not None:
            section[key] = getattr(llm, key)
    section.update(llm.extra)
    # A TOML writer, not string formatting: table values (extra_headers = {...}) and any string
    # are written validly. (OpenHands itself reads a table inside [llm] as a named LLM section.)
    return tomli_w.dumps({"core": core, "llm": section, "agent": agent_section(settings), "condenser": condenser_section(settings)})


def is_llm_step(event: dict[str, Any]) -> bool:
    """An agent action that came from an LLM call (it carries the call's metrics)."""
    return event.get("source") == "agent" and bool(event.get("action")) and "llm_metrics" in event


def final_status(events: list[dict[str, Any]]) -> tuple[AgentStatus, str | None]:
    """How the agent ended, from its trajectory: (status, error)."""
    states = [e.get("extras", {}).get("agent_state") for e in events if e.get("observation") == "agent_state_changed"]
    errors = [str(e.get("content") or e.get("message") or "") for e in events if e.get("observation") == "error"]
    last_error = errors[-1] if errors else None
    if any(e.get("action") == "finish" for e in events) or (states and states[-1] == "finished"):
        return AgentStatus.FINISHED, None
    if last_error and "maximum iteration" in last_error.lower():
        return AgentStatus.MAX_STEPS, last_error
    if last_error and "budget" in last_error.lower():
        return AgentStatus.MAX_COST, last_error
    if (states and states[-1] in ("error", "rate_limited")) or last_error:
        return AgentStatus.ERROR, (last_error or f"agent state {states[-1]}").splitlines()[0]
    return AgentStatus.STOPPED, None


def metrics(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The last accumulated llm_metrics of the trajectory."""
    for event in reversed(events):
        if isinstance(event.get("llm_metrics"), dict):
            return event["llm_metrics"]
    return {}


class OpenHandsAgent(MountedAgent):
    """OpenHands from its read-only tree, run headless in the task container."""

    name = "openhands"
    raw_log = "openhands.trajectory.json"  # OpenHands' own trajectory (a list of events)
    needs_runtime = True
    needs_llm = True
    needs_network = True  # OpenHands calls the LLM from inside the container

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self.version = settings.openhands_version
        self.agent_class = settings.openhands_agent_class
        self.max_steps, self.max_cost = settings.max_steps, settings.max_cost_per_task

    def wheelhouse(self) -> Path:
        return self.settings.openhands_wheelhouse or ensure_wheelhouse(self.version)

    def source(self) -> Source | None:
        """The checkout to run (--openhands-source), or the version's sdist when it has no 3.13 wheel."""
        if self.settings.openhands_source:
            return inspect_source(self.settings.openhands_source)
        if not self.settings.openhands_wheelhouse and has_release_source(self.version):
            return release_source(self.version)
        return None

    def tree_mounts(self, runtime: RuntimeProvider) -> list[Mount]:
        """OpenHands' read-only tree(s) on this machine (built on first use), as docker volumes."""
        source = self.source()
        if source is not None:
            return ensure_source_trees(runtime, source).mounts()
        return [tree_mount(ensure_tree(runtime, tree_spec(self.version, self.wheelhouse())))]

    def run(self, context: AgentContext) -> AgentResult:
        runtime, llm = context.runtime, context.llm
        assert runtime is not None and llm is not None
        runtime.execute(f"mkdir -p {WORK} && chmod 700 {WORK}")
        runtime.write_file(f"{WORK}/config.toml", openhands_config(llm, runtime.workdir, self.settings), mode=0o600)
        runtime.write_file(f"{WORK}/prompt.md", context.prompt)
        command = (
            f"LITELLM_LOCAL_MODEL_COST_MAP=True {PYTHON} -m openhands.core.main "
            f"--config-file {WORK}/config.toml -f {WORK}/prompt.md -c {shlex.quote(self.agent_class)}"
        )
        result = runtime.execute(command, timeout=context.time_limit)
        runtime.execute(f"rm -f {WORK}/config.toml")  # the key leaves with it
        secrets = llm.secrets()
        (context.log_dir / "agent.log").write_text(redact(result.output, secrets), encoding="utf-8")
        events = self._collect(runtime, context.log_dir, secrets)
        output = redact(result.output, secrets)
        if result.timed_out:
            return AgentResult(
                status=AgentStatus.TIMEOUT, error=f"OpenHands ran past {context.time_limit:g}s", stdout=output
            )
        if not events:
            last = last_line(result.output)
            message = redact(f"OpenHands saved no trajectory (exit {result.exit_code}): {last}", secrets)
            return AgentResult(status=AgentStatus.ERROR, error=message, return_code=result.exit_code, stdout=output)
        status, error = final_status(events)
        usage = metrics(events).get("accumulated_token_usage", {})
        calls = sum(1 for e in events if is_llm_step(e))
        return AgentResult(
            status=status,
            return_code=result.exit_code,
            stdout=output,
            error=redact(error, secrets) if status is AgentStatus.ERROR and error else None,
            cost_usd=float(metrics(events).get("accumulated_cost", 0.0)),
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int(usage.get("cache_read_tokens", 0)),
            llm_calls=calls,
            steps=calls,  # CodeActAgent makes one LLM call per step
        )

    def agent_version(self) -> str:
        source = self.settings.openhands_source
        return source_version(source) if source is not None else self.version

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """The LLM steps of an OpenHands trajectory (a list of events), each with what its call
        added to the accumulated tokens and cost."""
        steps: list[TrajectoryStep] = []
        before: dict[str, float] = {"cost": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "cache_read_tokens": 0}
        for event in data if isinstance(data, list) else []:
            if is_llm_step(event):
                args = event.get("args") or {}
                command = args.get("command") or args.get("path") or event["action"]
                llm_metrics = event["llm_metrics"]
                usage = llm_metrics.get("accumulated_token_usage") or {}
                now = {"cost": float(llm_metrics.get("accumulated_cost", 0.0)),
                       **{key: int(usage.get(key) or 0) for key in ("prompt_tokens", "completion_tokens", "cache_read_tokens")}}
                steps.append(TrajectoryStep(
                    str(event.get("message") or ""), [str(command)], [], now["cost"], tool=str(event["action"]),
                    prompt_tokens=int(now["prompt_tokens"] - before["prompt_tokens"]),
                    completion_tokens=int(now["completion_tokens"] - before["completion_tokens"]),
                    cached_tokens=int(now["cache_read_tokens"] - before["cache_read_tokens"]),
                    timestamp=event.get("timestamp"),
                ))
                before = now
            elif event.get("observation") and steps:
                steps[-1].outputs.append(str(event.get("content") or event.get("message") or ""))
        return steps

    def _collect(self, runtime: Runtime, log_dir: Path, secrets: list[str]) -> list[dict[str, Any]]:
        """Copy the trajectory and completions out (scrubbed); the trajectory's events."""
        try:
            raw = runtime.read_file(f"{WORK}/trajectory.json").decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        (log_dir / self.raw_log).write_text(redact(raw, secrets), encoding="utf-8")
        for name, data in runtime.read_tree(f"{WORK}/completions").items():
            target = log_dir / "completions" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(redact(data.decode("utf-8", errors="replace"), secrets), encoding="utf-8")
        events = json.loads(raw)
        return events if isinstance(events, list) else []
