"""The `claude-code` agent: Anthropic's Claude Code (npm `@anthropic-ai/claude-code`) in print mode.

The release's native program (`@anthropic-ai/claude-code-linux-x64`, the package its npm
installer copies) runs from its tree as `claude -p --output-format stream-json --verbose`
with permissions bypassed (`--dangerously-skip-permissions`; IS_SANDBOX=1 lets it do so as
root, which task containers are), `--max-turns` from --ohbench-max-steps, telemetry,
auto-update and non-essential traffic off, and every model it would call (the main one, the
small/fast one, subagents') set to the section's model at the gateway. Cost limits are the
gateway's (its prices are the section's, not Claude Code's list prices).
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

WORK = "/tmp/ohbench-claude-code"
# How the result event's subtype ends a run.
RESULT_STATUSES = {
    "success": AgentStatus.FINISHED,
    "error_max_turns": AgentStatus.MAX_STEPS,
    "error_max_budget_usd": AgentStatus.MAX_COST,
}


def claude_code_tree(version: str) -> InstalledTreeSpec:
    """The tree of Claude Code `version`: the linux-x64 package that holds its program."""
    return InstalledTreeSpec(
        f"claude-code-{version}",
        (f"@anthropic-ai/claude-code-linux-x64@{version}",),
        (("claude", "node_modules/@anthropic-ai/claude-code-linux-x64/claude"),),
        check=f"{MOUNT}/bin/claude --version | grep -F {shlex.quote(version)}",
    )


def claude_environment(llm: LLMConfig) -> dict[str, str]:
    """Claude Code's environment: the gateway, the item's token, the model everywhere, nothing phoned home."""
    model = bare_model(llm.model)
    env = {
        "ANTHROPIC_BASE_URL": (llm.base_url or "").removesuffix("/").removesuffix("/v1"),  # it adds /v1 itself
        "ANTHROPIC_API_KEY": llm.api_key or "",
        "CLAUDE_CONFIG_DIR": f"{WORK}/config",  # its settings and session files, outside the repository
        "IS_SANDBOX": "1",  # --dangerously-skip-permissions as root: the container is the sandbox
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "CLAUDE_CODE_SUBAGENT_MODEL": model,
    }
    if llm.max_output_tokens:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(llm.max_output_tokens)
    return env


def tool_command(block: dict[str, Any]) -> str:
    """A tool_use block as the report shows it: Bash its command, other tools their name and input."""
    arguments = block.get("input") or {}
    if block.get("name") == "Bash" and isinstance(arguments, dict) and "command" in arguments:
        return str(arguments["command"])
    return f"{block.get('name')} {json.dumps(arguments)}"


def tool_output(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


class ClaudeCodeAgent(InstalledAgent):
    """Claude Code from its npm release, headless in the task container."""

    name = "claude-code"
    label = "Claude Code"
    work = WORK
    version_setting = "claude_code_version"

    def tree_spec(self) -> InstalledTreeSpec:
        return claude_code_tree(self.version)

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        command = (f"{MOUNT}/bin/claude -p --output-format stream-json --verbose --dangerously-skip-permissions "
                   f"--model {shlex.quote(bare_model(llm.model))} --max-turns {self.settings.max_steps}")
        return command, claude_environment(llm), {}

    def summarize(self, events: list[dict[str, Any]], llm: LLMConfig) -> AgentResult:
        results = [e for e in events if e.get("type") == "result"]
        calls = len({str((e.get("message") or {}).get("id")) for e in events if e.get("type") == "assistant"})
        session = next((str(e.get("session_id")) for e in events if e.get("session_id")), "")
        if not results:
            return AgentResult(status=AgentStatus.STOPPED, llm_calls=calls, steps=calls, session_id=session)
        result = results[-1]
        usage = result.get("usage") or {}
        cached = int(usage.get("cache_read_input_tokens") or 0)
        # Anthropic counts cache reads and writes apart from input_tokens; the record's input counts them all.
        prompt = int(usage.get("input_tokens") or 0) + cached + int(usage.get("cache_creation_input_tokens") or 0)
        status = RESULT_STATUSES.get(str(result.get("subtype")), AgentStatus.ERROR)
        if result.get("is_error") and status is AgentStatus.FINISHED:
            status = AgentStatus.ERROR  # the API failed (its message is the result)
        error = None
        if status is AgentStatus.ERROR:
            error = f"Claude Code: {str(result.get('result') or result.get('subtype') or 'error').strip().splitlines()[0][:300]}"
        return AgentResult(
            status=status,
            error=error,
            cost_usd=float(result.get("total_cost_usd") or 0.0),  # at Claude Code's own list prices
            input_tokens=prompt,
            output_tokens=int(usage.get("output_tokens") or 0),
            cached_tokens=cached,
            llm_calls=calls,
            steps=int(result.get("num_turns") or calls),
            session_id=session,
        )

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """One step per model answer of the stream-json events: its text, tool calls and their results."""
        steps: list[TrajectoryStep] = []
        answer = None
        for event in data if isinstance(data, list) else []:
            message = event.get("message") or {}
            blocks = [b for b in message.get("content") or [] if isinstance(b, dict)] if isinstance(message.get("content"), list) else []
            if event.get("type") == "assistant":
                if message.get("id") != answer or not steps:
                    answer = message.get("id")
                    usage = message.get("usage") or {}
                    cached = int(usage.get("cache_read_input_tokens") or 0)
                    prompt = int(usage.get("input_tokens") or 0) + cached + int(usage.get("cache_creation_input_tokens") or 0)
                    # Its output_tokens is the stream's start (1), not the answer's: left out.
                    steps.append(TrajectoryStep("", [], [], 0.0, prompt_tokens=prompt, cached_tokens=cached, model_name=message.get("model")))
                for block in blocks:
                    if block.get("type") == "text":
                        steps[-1].text = (steps[-1].text + "\n" + str(block.get("text", ""))).strip()
                    elif block.get("type") == "tool_use":
                        steps[-1].commands.append(tool_command(block))
            elif event.get("type") == "user" and steps:
                steps[-1].outputs.extend(tool_output(b) for b in blocks if b.get("type") == "tool_result")
        return steps
