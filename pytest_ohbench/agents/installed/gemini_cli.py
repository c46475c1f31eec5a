"""The `gemini-cli` agent: Google's Gemini CLI (npm `@google/gemini-cli`) in headless mode.

Gemini CLI is JavaScript: its tree brings Node.js (tree.py). It runs as
`gemini -p "" --output-format stream-json --yolo --skip-trust --model <model>`, the prompt on
its standard input (`-p` appends its own, empty, text to it), at the gateway
(`GOOGLE_GEMINI_BASE_URL`, the item's token as `GEMINI_API_KEY`, Gemini's generateContent
protocol). Its home (`GEMINI_CLI_HOME`: settings, chats, history) is a folder under /tmp in the
container, and its settings turn telemetry, usage statistics, auto-update, IDE integration,
checkpointing and the LLM loop check (a side call) off; `model.maxSessionTurns` is
--ohbench-max-steps (one turn per model call) and the section's max_output_tokens its
`maxOutputTokens`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from pytest_ohbench.agents.agent_tree import MOUNT
from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentStatus, TrajectoryStep
from pytest_ohbench.agents.installed.agent import InstalledAgent, bare_model, tool_command
from pytest_ohbench.agents.installed.tree import InstalledTreeSpec, node_cli_tree
from pytest_ohbench.core.llm import LLMConfig

WORK = "/tmp/ohbench-gemini-cli"
# How a failed run's error type ends it (any other error is an agent error).
ERROR_STATUSES = {"FatalTurnLimitedError": AgentStatus.MAX_STEPS, "FatalCancellationError": AgentStatus.STOPPED}


def gemini_cli_tree(version: str) -> InstalledTreeSpec:
    """The tree of Gemini CLI `version`: its bundle and the Node.js that runs it."""
    return node_cli_tree("@google/gemini-cli", version, "gemini", "bundle/gemini.js")


def quiet_settings(auth: str) -> dict[str, Any]:
    """What settings.json turns off in Gemini CLI and in its fork Qwen Code (the same keys): telemetry,
    usage statistics, auto-update, IDE integration, folder trust; `auth` is the auth type it uses."""
    return {
        "general": {"enableAutoUpdate": False},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "ide": {"enabled": False},
        "security": {"auth": {"selectedType": auth}, "folderTrust": {"enabled": False}},
    }


def gemini_settings(max_steps: int, llm: LLMConfig) -> dict[str, Any]:
    """settings.json: nothing phoned home or checked for, the API key as its auth, a turn limit, no loop-check
    side call, and the section's max_output_tokens (an override of the model's generation config)."""
    settings = quiet_settings("gemini-api-key")
    settings["general"].update(enableAutoUpdateNotification=False, checkpointing={"enabled": False})
    settings["model"] = {"maxSessionTurns": max_steps, "disableLoopDetection": True}
    if llm.max_output_tokens:
        limit = {"generateContentConfig": {"maxOutputTokens": llm.max_output_tokens}}
        settings["modelConfigs"] = {"customOverrides": [{"match": {"model": bare_model(llm.model)}, "modelConfig": limit}]}
    return settings


def gemini_environment(llm: LLMConfig) -> dict[str, str]:
    """The gateway (the SDK adds /v1beta itself), the item's token, its home outside the repository."""
    return {
        "GOOGLE_GEMINI_BASE_URL": (llm.base_url or "").removesuffix("/").removesuffix("/v1"),
        "GEMINI_API_KEY": llm.api_key or "",
        "GEMINI_CLI_HOME": f"{WORK}/home",
        "GEMINI_CLI_NO_RELAUNCH": "true",  # no second node process just to raise the heap limit
    }


def answers(events: list[dict[str, Any]]) -> list[TrajectoryStep]:
    """One step per model answer: its text (streamed in deltas), its tool calls, their results.

    An answer is the assistant messages and tool calls between two rounds of tool results."""
    steps: list[TrajectoryStep] = []
    open_answer = False
    for event in events:
        kind = event.get("type")
        if kind == "tool_use" or (kind == "message" and event.get("role") == "assistant"):
            if not open_answer:
                steps.append(TrajectoryStep("", [], [], 0.0, timestamp=event.get("timestamp")))
                open_answer = True
            if kind == "message":
                steps[-1].text += str(event.get("content") or "")
            else:
                steps[-1].commands.append(tool_command(event.get("tool_name"), event.get("parameters") or {}, "run_shell_command"))
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
        settings = json.dumps(gemini_settings(self.settings.max_steps, llm), indent=2)
        return command, gemini_environment(llm), {f"{WORK}/home/.gemini/settings.json": settings}

    def read_result(self, result: dict[str, Any]) -> AgentResult:
        stats = result.get("stats") or {}
        failure = result.get("error") or {}
        status = AgentStatus.FINISHED
        if result.get("status") != "success":
            status = ERROR_STATUSES.get(str(failure.get("type")), AgentStatus.ERROR)
        return AgentResult(
            status=status,
            error=self.error_line(failure.get("message") or failure.get("type")) if status is AgentStatus.ERROR else None,
            input_tokens=int(stats.get("input_tokens") or 0),  # promptTokenCount: cached tokens included
            output_tokens=int(stats.get("output_tokens") or 0),
            cached_tokens=int(stats.get("cached") or 0),
        )

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """One step per model answer of the stream-json events."""
        return answers(data if isinstance(data, list) else [])
