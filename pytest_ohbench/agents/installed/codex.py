"""The `codex` agent: OpenAI's Codex CLI (npm `@openai/codex`) as `codex exec`.

The release's native program (the `@openai/codex-linux-x64` package its npm installer picks,
published as `@openai/codex@<version>-linux-x64`; static, musl) runs from its tree as
`codex exec --json` with approvals and its own sandbox bypassed (the container is the
sandbox) at the section's model, through a `[model_providers.ohbench]` that points at the
gateway with the Responses API and takes the item's token from the environment. Its config
lives in a CODEX_HOME outside the repository, with the update check, analytics, feedback and
web search off: the sealed network reaches only the gateway, and a search could find the fix.
Codex has no turn limit of its own (--ohbench-max-steps does not apply); the suite's agent
timeout and the gateway's budget bound it.
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

# Not under /tmp: Codex refuses to put its helper aliases (apply_patch, ...) in a temporary folder.
WORK = "/var/lib/ohbench-codex"
KEY_VARIABLE = "OHBENCH_LLM_API_KEY"
VENDOR = "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl"
# The item types that are tool calls (the rest: agent_message, reasoning, error, todo_list).
TOOL_ITEMS = {"command_execution", "file_change", "mcp_tool_call", "web_search"}


def codex_package(version: str) -> str:
    """The npm spec of Codex `version`'s linux-x64 package, an alias of the main package's platform release."""
    return f"@openai/codex-linux-x64@npm:@openai/codex@{version}-linux-x64"


def codex_tree(version: str) -> InstalledTreeSpec:
    """The tree of Codex `version`: its linux-x64 package (an npm alias of the main one), less the voice host."""
    return InstalledTreeSpec(
        f"codex-{version}",
        (codex_package(version),),
        (("codex", f"{VENDOR}/bin/codex"),),
        check=f"{MOUNT}/bin/codex --version | grep -F {shlex.quote(version)}",
        omit=(f"{VENDOR}/codex-resources/voice",),  # audio for the app's voice mode: 51 MB, glibc-linked
    )


def codex_config(llm: LLMConfig) -> str:
    """config.toml: the gateway as the model provider, nothing else phoned."""
    config = {
        "model": bare_model(llm.model),
        "model_provider": "ohbench",
        "web_search": "disabled",
        "check_for_update_on_startup": False,
    }
    provider = {"name": "ohbench gateway", "base_url": llm.base_url or "", "wire_api": "responses", "env_key": KEY_VARIABLE}
    lines = [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    lines += ["", "[model_providers.ohbench]", *(f"{key} = {json.dumps(value)}" for key, value in provider.items())]
    lines += ["", "[analytics]", "enabled = false", "", "[feedback]", "enabled = false", ""]
    return "\n".join(lines)  # JSON strings and booleans are TOML too


def shell_command(command: str) -> str:
    """`/bin/bash -lc 'ls'` -> `ls`: the command the model gave, without the shell Codex wraps it in."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command
    if len(argv) == 3 and argv[0].endswith("sh") and argv[1] in ("-c", "-lc"):
        return argv[2]
    return command


def tool_call(item: dict[str, Any]) -> tuple[str, str]:
    """A tool item as the report shows it: its command and what it answered."""
    kind = item.get("type")
    if kind == "command_execution":
        return shell_command(str(item.get("command", ""))), str(item.get("aggregated_output") or "")
    if kind == "file_change":
        changes = ", ".join(f"{c.get('kind')} {c.get('path')}" for c in item.get("changes") or [] if isinstance(c, dict))
        return f"apply_patch: {changes}", str(item.get("status", ""))
    if kind == "mcp_tool_call":
        result = item.get("error") or item.get("result") or ""
        return f"{item.get('server')}.{item.get('tool')} {json.dumps(item.get('arguments'))}", json.dumps(result)
    return f"{kind} {json.dumps(item.get('query', ''))}", ""


class CodexAgent(InstalledAgent):
    """The Codex CLI from its npm release, headless in the task container."""

    name = "codex"
    label = "Codex"
    work = WORK
    version_setting = "codex_version"

    def tree_spec(self) -> InstalledTreeSpec:
        return codex_tree(self.version)

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        command = (f"{MOUNT}/bin/codex exec --json --dangerously-bypass-approvals-and-sandbox --skip-git-repo-check "
                   f"--color never -m {shlex.quote(bare_model(llm.model))} -")
        env = {"CODEX_HOME": WORK, KEY_VARIABLE: llm.api_key or ""}
        return command, env, {f"{WORK}/config.toml": codex_config(llm)}

    def summarize(self, events: list[dict[str, Any]], llm: LLMConfig) -> AgentResult:
        completed = [e for e in events if e.get("type") == "turn.completed"]
        failed = [e for e in events if e.get("type") == "turn.failed"]
        session = next((str(e.get("thread_id")) for e in events if e.get("type") == "thread.started"), "")
        steps = len(CodexAgent.trajectory_steps(events))
        input_tokens = output_tokens = cached = 0
        for event in completed + failed:
            usage = event.get("usage") or {}
            input_tokens += int(usage.get("input_tokens") or 0)  # cached tokens included, as the record counts them
            output_tokens += int(usage.get("output_tokens") or 0)
            cached += int(usage.get("cached_input_tokens") or 0)
        result = AgentResult(status=AgentStatus.FINISHED, input_tokens=input_tokens, output_tokens=output_tokens,
                             cached_tokens=cached, steps=steps, session_id=session)
        if failed or not completed:
            # Its `error` events are also retries it recovered from; only a failed turn or none completed ends the run.
            errors = [str((e.get("error") or {}).get("message") or "") for e in failed]
            errors += [str(e.get("message") or "") for e in events if e.get("type") == "error"]
            message = next((m for m in reversed(errors) if m), "")
            result.status = AgentStatus.ERROR if message else AgentStatus.STOPPED
            if message:
                result.error = f"Codex: {message.strip().splitlines()[0][:300]}"
        return result

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """One step per model answer, as far as the events show it: a message or reasoning opens
        a step and its tool calls follow (Codex's JSONL has no call boundaries or per-call usage)."""
        steps: list[TrajectoryStep] = []
        last = ""
        for event in data if isinstance(data, list) else []:
            item = event.get("item") if event.get("type") == "item.completed" else None
            if not isinstance(item, dict):
                continue
            kind = str(item.get("type"))
            if kind in ("agent_message", "reasoning"):
                # Reasoning and then a message are one answer; anything after a call or a message is the next.
                if not steps or steps[-1].commands or last == "agent_message" or (kind == "reasoning" and steps[-1].text):
                    steps.append(TrajectoryStep("", [], [], 0.0))
                steps[-1].text = (steps[-1].text + "\n" + str(item.get("text", ""))).strip()
            elif kind in TOOL_ITEMS:
                if not steps or last in TOOL_ITEMS:
                    steps.append(TrajectoryStep("", [], [], 0.0))
                command, output = tool_call(item)
                steps[-1].commands.append(command)
                steps[-1].outputs.append(output)
            else:
                continue
            last = kind
        return steps
