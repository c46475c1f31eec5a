"""The `qwen-code` agent: Qwen Code (npm `@qwen-code/qwen-code`) in headless mode.

Qwen Code is JavaScript: its tree brings Node.js (tree.py). It runs as
`qwen -p "" --output-format stream-json --yolo --auth-type openai --model <model>
--max-session-turns <--ohbench-max-steps>`, the prompt on its standard input, at the gateway
with OpenAI's chat completions (`OPENAI_BASE_URL`, the item's token as `OPENAI_API_KEY`). Its
home (`QWEN_HOME`: settings, chats, usage records) is a folder under /tmp in the container,
and its settings turn telemetry, usage statistics, auto-update, IDE integration and the
background memory extraction (side calls to the model) off. Its stream-json events are
Claude Code's shape; at its turn limit it writes no result event and exits 53.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, ClassVar

from pytest_ohbench.agents.agent_tree import MOUNT
from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentStatus, TrajectoryStep
from pytest_ohbench.agents.installed.agent import InstalledAgent, bare_model, tool_command, tool_output
from pytest_ohbench.agents.installed.gemini_cli import quiet_settings
from pytest_ohbench.agents.installed.tree import InstalledTreeSpec, node_cli_tree
from pytest_ohbench.core.llm import LLMConfig

WORK = "/tmp/ohbench-qwen-code"
TURN_LIMIT_EXIT = 53  # its FatalTurnLimitedError


def qwen_code_tree(version: str) -> InstalledTreeSpec:
    """The tree of Qwen Code `version`: its bundle and the Node.js that runs it."""
    return node_cli_tree("@qwen-code/qwen-code", version, "qwen", "cli-entry.js")


def qwen_settings() -> dict[str, Any]:
    """settings.json: nothing phoned home, checked for or extracted in the background; the OpenAI protocol."""
    settings = quiet_settings("openai")
    settings["memory"] = {"enableManagedAutoMemory": False, "enableManagedAutoDream": False}
    return settings


def qwen_environment(llm: LLMConfig) -> dict[str, str]:
    """The gateway (OpenAI's base URL, /v1 included), the item's token, the model, its home outside the repository."""
    env = {
        "OPENAI_BASE_URL": llm.base_url or "",
        "OPENAI_API_KEY": llm.api_key or "",
        "OPENAI_MODEL": bare_model(llm.model),
        "QWEN_HOME": f"{WORK}/home",
        "QWEN_USAGE_STATISTICS_ENABLED": "false",
        "QWEN_CODE_SUPPRESS_YOLO_WARNING": "1",  # the container is the sandbox
    }
    if llm.max_output_tokens:
        env["QWEN_CODE_MAX_OUTPUT_TOKENS"] = str(llm.max_output_tokens)  # its requests' max_tokens
    return env


def answers(events: list[dict[str, Any]]) -> list[TrajectoryStep]:
    """One step per model answer: the assistant events between two user events (an answer's
    text and its tool calls come as separate events, the last one with the call's usage)."""
    steps: list[TrajectoryStep] = []
    open_answer = False
    for event in events:
        message = event.get("message") or {}
        blocks = [b for b in message.get("content") or [] if isinstance(b, dict)] if isinstance(message.get("content"), list) else []
        if event.get("type") == "assistant" and not event.get("parent_tool_use_id"):  # a subagent's are its own
            if not open_answer:
                steps.append(TrajectoryStep("", [], [], 0.0, model_name=message.get("model")))
                open_answer = True
            step = steps[-1]
            for block in blocks:
                if block.get("type") == "text":
                    step.text = (step.text + "\n" + str(block.get("text", ""))).strip()
                elif block.get("type") == "tool_use":
                    step.commands.append(tool_command(block.get("name"), block.get("input") or {}, "run_shell_command"))
            usage = message.get("usage") or {}
            if usage.get("input_tokens") or usage.get("output_tokens"):
                step.prompt_tokens = int(usage.get("input_tokens") or 0)
                step.completion_tokens = int(usage.get("output_tokens") or 0)
                step.cached_tokens = int(usage.get("cache_read_input_tokens") or 0)
        elif event.get("type") == "user" and not event.get("parent_tool_use_id"):
            if steps:
                steps[-1].outputs.extend(tool_output(b) for b in blocks if b.get("type") == "tool_result")
            open_answer = False
    return steps


class QwenCodeAgent(InstalledAgent):
    """Qwen Code from its npm release, headless in the task container."""

    name = "qwen-code"
    label = "Qwen Code"
    work = WORK
    version_setting = "qwen_code_version"
    exit_statuses: ClassVar[dict[int, AgentStatus]] = {TURN_LIMIT_EXIT: AgentStatus.MAX_STEPS}

    def tree_spec(self) -> InstalledTreeSpec:
        return qwen_code_tree(self.version)

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        command = (f"{MOUNT}/bin/qwen -p '' --output-format stream-json --yolo --auth-type openai "
                   f"--model {shlex.quote(bare_model(llm.model))} --max-session-turns {self.settings.max_steps}")
        settings = json.dumps(qwen_settings(), indent=2)
        return command, qwen_environment(llm), {f"{WORK}/home/settings.json": settings}

    def read_result(self, result: dict[str, Any]) -> AgentResult:
        usage = result.get("usage") or {}
        failed = bool(result.get("is_error")) or result.get("subtype") != "success"
        failure = (result.get("error") or {}).get("message") or result.get("result") or result.get("subtype")
        return AgentResult(
            status=AgentStatus.ERROR if failed else AgentStatus.FINISHED,
            error=self.error_line(failure) if failed else None,
            input_tokens=int(usage.get("input_tokens") or 0),  # the chat completions' prompt_tokens: cached included
            output_tokens=int(usage.get("output_tokens") or 0),
            cached_tokens=int(usage.get("cache_read_input_tokens") or 0),
            steps=int(result.get("num_turns") or 0),
        )

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """One step per model answer of the stream-json events."""
        return answers(data if isinstance(data, list) else [])
