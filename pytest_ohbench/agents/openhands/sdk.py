"""The `openhands-sdk` agent: OpenHands V1, the software-agent SDK's default coding agent, in the task container.

openhands-sdk and openhands-tools (`--openhands-sdk-version`) are installed offline from a
pinned wheelhouse into their own read-only agent tree (agent_tree.py), mounted like the 0.x
agent's, so any task image works. A small runner (sdk_runner.py) builds the SDK's
LLM from the --llm-config section, runs `get_default_agent(cli_mode=True)` (terminal, file
editor, task tracker) in the task's workspace and saves the event log and metrics. Status,
cost and tokens come from those; the patch is the workspace's diff.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from pytest_ohbench.agents.agent_tree import PYTHON, TreeSpec, ensure_tree, tree_mount
from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentSettings, AgentStatus, TrajectoryStep
from pytest_ohbench.agents.mounted import MountedAgent
from pytest_ohbench.agents.openhands.install import REQUIREMENTS, ensure_sdk_wheelhouse
from pytest_ohbench.agents.openhands.source import ensure_source_trees, inspect_source, source_version
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.llm import LLMConfig, redact
from pytest_ohbench.runtime.provider import Mount, RuntimeProvider

WORK = "/tmp/ohbench-openhands-sdk"  # settings, prompt, events, completions (never in the repo)
RUNNER = Path(__file__).with_name("sdk_runner.py")
# [llm.<name>] keys the SDK's LLM takes under the same names.
LLM_KEYS = ("model", "api_key", "base_url", "api_version", "temperature", "top_p", "max_input_tokens",
            "max_output_tokens", "num_retries", "input_cost_per_token", "output_cost_per_token",
            "custom_llm_provider", "drop_params")


def sdk_tree_spec(version: str, wheelhouse: Path) -> TreeSpec:
    """The agent tree of openhands-sdk/openhands-tools `version` from its pinned wheelhouse."""
    return TreeSpec(f"openhands-sdk-{version}", wheelhouse, (("-r", REQUIREMENTS),),
                    check="import openhands.sdk, openhands.tools.preset.default")


def sdk_llm(llm: LLMConfig) -> dict[str, Any]:
    """The SDK LLM's keyword arguments from the section (the key included: written 0600, deleted after)."""
    values = {key: getattr(llm, key) for key in LLM_KEYS if getattr(llm, key) is not None}
    values.update(llm.extra)
    values.setdefault("retry_min_wait", 1)  # the SDK's default waits 8-64 s between retries
    values.setdefault("retry_max_wait", 4)
    return values


def final_status(result: dict[str, Any], events: list[dict[str, Any]], max_iterations: int) -> tuple[AgentStatus, str | None]:
    """How the conversation ended: (status, error)."""
    if result.get("error"):
        return AgentStatus.ERROR, str(result["error"])
    finished = any(is_finish(e) for e in events)
    status = result.get("status")
    if finished or status == "finished":
        return AgentStatus.FINISHED, None
    if status == "error":
        errors = [str(e.get("error") or e.get("detail") or "") for e in events if "error" in str(e.get("kind", "")).lower()]
        return AgentStatus.ERROR, (errors[-1] if errors and errors[-1] else "the conversation ended in error")
    if sum(1 for e in events if is_llm_step(e)) >= max_iterations:
        return AgentStatus.MAX_STEPS, f"stopped after {max_iterations} iterations"
    return AgentStatus.STOPPED, None


def is_llm_step(event: dict[str, Any]) -> bool:
    """An action the agent took (one per tool call of an LLM response)."""
    return event.get("kind") == "ActionEvent" and event.get("source") == "agent"


def is_finish(event: dict[str, Any]) -> bool:
    return is_llm_step(event) and event.get("tool_name") == "finish"


class OpenHandsSDKAgent(MountedAgent):
    """OpenHands V1 (openhands-sdk) from its read-only tree, run headless in the task container."""

    name = "openhands-sdk"
    raw_log = "openhands-sdk.events.json"  # the conversation's event log
    needs_runtime = True
    needs_llm = True
    needs_network = True  # the SDK calls the LLM from inside the container

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self.version = settings.openhands_sdk_version

    def tree_mounts(self, runtime: RuntimeProvider) -> list[Mount]:
        """The SDK's read-only tree(s): a V1 checkout (--openhands-source) or the release's wheelhouse."""
        if self.settings.openhands_source:
            return ensure_source_trees(runtime, inspect_source(self.settings.openhands_source)).mounts()
        return [tree_mount(ensure_tree(runtime, sdk_tree_spec(self.version, ensure_sdk_wheelhouse(self.version))))]

    def run(self, context: AgentContext) -> AgentResult:
        runtime, llm = context.runtime, context.llm
        assert runtime is not None and llm is not None
        runtime.execute(f"mkdir -p {WORK}/out && chmod 700 {WORK}")
        settings = {"llm": sdk_llm(llm), "workdir": runtime.workdir, "prompt_file": f"{WORK}/prompt.md",
                    "max_iterations": self.settings.max_steps, "out": f"{WORK}/out"}
        runtime.write_file(f"{WORK}/settings.json", json.dumps(settings), mode=0o600)
        runtime.write_file(f"{WORK}/prompt.md", context.prompt)
        runtime.write_file(f"{WORK}/runner.py", RUNNER.read_bytes())
        command = (f"LITELLM_LOCAL_MODEL_COST_MAP=True OPENHANDS_SUPPRESS_BANNER=1 {PYTHON} {WORK}/runner.py "
                   f"{shlex.quote(WORK + '/settings.json')}")
        result = runtime.execute(command, timeout=context.time_limit)
        runtime.execute(f"rm -f {WORK}/settings.json")  # the key leaves with it
        secrets = llm.secrets()
        output = redact(result.output, secrets)
        (context.log_dir / "agent.log").write_text(output, encoding="utf-8")
        if result.timed_out:
            return AgentResult(status=AgentStatus.TIMEOUT, error=f"OpenHands SDK ran past {context.time_limit:g}s", stdout=output)
        files = {name: redact(data.decode("utf-8", errors="replace"), secrets) for name, data in runtime.read_tree(f"{WORK}/out").items()}
        if "events.json" not in files or "result.json" not in files:
            last = last_line(output)
            return AgentResult(status=AgentStatus.ERROR, error=f"the OpenHands SDK saved no events (exit {result.exit_code}): {last}",
                               return_code=result.exit_code, stdout=output)
        (context.log_dir / self.raw_log).write_text(files["events.json"], encoding="utf-8")
        for name, text in files.items():
            if name.startswith("completions/"):
                target = context.log_dir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        events, outcome = json.loads(files["events.json"]), json.loads(files["result.json"])
        status, error = final_status(outcome, events, self.settings.max_steps)
        metrics = outcome.get("metrics") or {}
        usage = metrics.get("accumulated_token_usage") or {}
        responses = len({e.get("llm_response_id") for e in events if is_llm_step(e)})
        return AgentResult(
            status=status,
            error=redact(error, secrets) if error and status is AgentStatus.ERROR else None,
            return_code=result.exit_code,
            stdout=output,
            cost_usd=float(metrics.get("accumulated_cost") or 0.0),
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(usage.get("cache_read_tokens") or 0),
            llm_calls=len(metrics.get("token_usages") or []) or responses,
            steps=responses,
        )

    def agent_version(self) -> str:
        source = self.settings.openhands_source
        return source_version(source) if source is not None else self.version

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """The agent's actions and their observations, from the SDK's event log."""
        steps: list[TrajectoryStep] = []
        for event in data if isinstance(data, list) else []:
            if is_llm_step(event):
                action = event.get("action") or {}
                command = action.get("command") or action.get("path") or event.get("tool_name") or ""
                steps.append(TrajectoryStep(str(event.get("thought") or ""), [str(command)], [], 0.0,
                                            tool=str(event.get("tool_name") or "bash"), timestamp=event.get("timestamp")))
            elif event.get("kind") == "ObservationEvent" and steps:
                steps[-1].outputs.append(json.dumps(event.get("observation") or {})[:2000])
        return steps
