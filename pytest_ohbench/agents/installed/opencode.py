"""The `opencode` agent: opencode (npm `opencode-ai`) as `opencode run --format json`.

The release's native program (`opencode-linux-x64`, the package its npm installer picks on
glibc) is a Bun single-file executable linked to glibc; its tree patches it like Claude
Code's (patchelf keeps the Bun payload, which this release carries in an ELF section). It runs
with the prompt on its standard input at the section's model through an `ohbench` provider
(the AI SDK's OpenAI-compatible one, bundled in the program) whose base URL is the gateway
and key the item's token, every permission allowed but web fetch and search (the fix is not
to be looked up), and no update, share, models.dev fetch, LSP download or default plugins:
the sealed network reaches only the gateway; the ripgrep its grep and glob tools would
download comes with its tree. `--title` spares the side call that names the session. Its config, data and cache live under one folder outside the repository;
`--ohbench-max-steps` is its build agent's `steps`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from pytest_ohbench.agents.agent_tree import MOUNT
from pytest_ohbench.agents.base import DEFAULT_CODEX_VERSION, AgentContext, AgentResult, AgentStatus, TrajectoryStep
from pytest_ohbench.agents.installed.agent import InstalledAgent, bare_model
from pytest_ohbench.agents.installed.codex import VENDOR as CODEX_VENDOR
from pytest_ohbench.agents.installed.codex import codex_package
from pytest_ohbench.agents.installed.tree import InstalledTreeSpec
from pytest_ohbench.core.llm import LLMConfig

WORK = "/tmp/ohbench-opencode"
KEY_VARIABLE = "OHBENCH_LLM_API_KEY"
PROVIDER = "ohbench"
# Nothing it would fetch or send besides the model's calls (the sealed network would only make them hang or fail).
QUIET = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
}


def opencode_tree(version: str) -> InstalledTreeSpec:
    """The tree of opencode `version`: its linux-x64 (glibc) package, and a static ripgrep for its
    grep and glob tools (it would download one: npm's ripgrep packages download theirs too, so it
    is the one in a Codex release, all else of that release left out)."""
    return InstalledTreeSpec(
        f"opencode-{version}",
        (f"opencode-linux-x64@{version}", codex_package(DEFAULT_CODEX_VERSION)),
        (("opencode", "node_modules/opencode-linux-x64/bin/opencode"), ("rg", f"{CODEX_VENDOR}/codex-path/rg")),
        check=f"{MOUNT}/bin/opencode --version | grep -F {shlex.quote(version)} && {MOUNT}/bin/rg --version",
        omit=(f"{CODEX_VENDOR}/bin", f"{CODEX_VENDOR}/codex-resources"),
    )


def opencode_config(llm: LLMConfig, max_steps: int) -> dict[str, Any]:
    """opencode.json: the gateway as its one provider, the section's model for every call."""
    model = bare_model(llm.model)
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": f"{PROVIDER}/{model}",
        "small_model": f"{PROVIDER}/{model}",
        "autoupdate": False,
        "share": "disabled",
        "snapshot": False,  # its own git copy of the workspace, for undo: time and disk a run never uses
        "permission": {"*": "allow", "webfetch": "deny", "websearch": "deny"},
        "agent": {"build": {"steps": max_steps}},
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "ohbench gateway",
                "options": {"baseURL": llm.base_url or "", "apiKey": f"{{env:{KEY_VARIABLE}}}"},
                "models": {model: {"name": model}},
            }
        },
    }


def tool_call(part: dict[str, Any]) -> tuple[str, str]:
    """A tool part as the report shows it: bash its command, other tools their name and input; and its output."""
    state = part.get("state") or {}
    arguments = state.get("input") or {}
    output = state.get("output") if state.get("status") == "completed" else state.get("error")
    if part.get("tool") == "bash" and isinstance(arguments, dict) and "command" in arguments:
        return str(arguments["command"]), str(output or "")
    return f"{part.get('tool')} {json.dumps(arguments)}", str(output or "")


def step_tokens(part: dict[str, Any]) -> tuple[int, int, int]:
    """A step_finish part's prompt (cache reads and writes included), completion and cached tokens."""
    tokens = part.get("tokens") or {}
    cache = tokens.get("cache") or {}
    cached = int(cache.get("read") or 0)
    prompt = int(tokens.get("input") or 0) + cached + int(cache.get("write") or 0)
    # Its output leaves the reasoning apart; the record's completion counts it.
    return prompt, int(tokens.get("output") or 0) + int(tokens.get("reasoning") or 0), cached


class OpencodeAgent(InstalledAgent):
    """opencode from its npm release, headless in the task container."""

    name = "opencode"
    label = "opencode"
    work = WORK
    version_setting = "opencode_version"

    def tree_spec(self) -> InstalledTreeSpec:
        return opencode_tree(self.version)

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        # Its grep and glob tools take rg from its cache's bin/ when PATH has none.
        command = (f"mkdir -p {WORK}/cache/opencode/bin && ln -sf {MOUNT}/bin/rg {WORK}/cache/opencode/bin/rg && "
                   f"{MOUNT}/bin/opencode run --format json -m {shlex.quote(f'{PROVIDER}/{bare_model(llm.model)}')} --title ohbench")
        env = {
            "OPENCODE_CONFIG": f"{WORK}/opencode.json",
            KEY_VARIABLE: llm.api_key or "",
            # Its config, data (sessions, logs) and cache under WORK; HOME stays the image's for the commands it runs.
            **{f"XDG_{kind}_HOME": f"{WORK}/{kind.lower()}" for kind in ("CONFIG", "DATA", "CACHE", "STATE")},
            **QUIET,
        }
        config = json.dumps(opencode_config(llm, self.settings.max_steps), indent=1)
        return command, env, {f"{WORK}/opencode.json": config}

    def summarize(self, events: list[dict[str, Any]], llm: LLMConfig) -> AgentResult:
        finishes = [e.get("part") or {} for e in events if e.get("type") == "step_finish"]
        errors = [e.get("error") or {} for e in events if e.get("type") == "error"]
        session = next((str(e.get("sessionID")) for e in events if e.get("sessionID")), "")
        prompt = completion = cached = 0
        for part in finishes:
            step_prompt, step_completion, step_cached = step_tokens(part)
            prompt, completion, cached = prompt + step_prompt, completion + step_completion, cached + step_cached
        result = AgentResult(
            status=AgentStatus.FINISHED,
            cost_usd=sum(float(part.get("cost") or 0.0) for part in finishes),  # at its provider's prices: 0 for ours
            input_tokens=prompt,
            output_tokens=completion,
            cached_tokens=cached,
            llm_calls=len(finishes),
            steps=len(finishes),
            session_id=session,
        )
        if errors:
            error = errors[-1]
            message = str((error.get("data") or {}).get("message") or error.get("name") or "error")
            result.status, result.error = AgentStatus.ERROR, f"opencode: {message.strip().splitlines()[0][:300]}"
        elif len(finishes) >= self.settings.max_steps:
            result.status = AgentStatus.MAX_STEPS  # its last step was the one it is told to answer in text only
        elif not finishes or finishes[-1].get("reason") not in ("stop", "end_turn"):
            result.status = AgentStatus.STOPPED  # it ended on a tool call or a cut-off answer
        return result

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """One step per model call (step_start to step_finish): its text, tool calls and their output, its tokens."""
        steps: list[TrajectoryStep] = []
        for event in data if isinstance(data, list) else []:
            part = event.get("part") or {}
            kind = event.get("type")
            if kind == "step_start" or (kind in ("text", "tool_use", "reasoning") and not steps):
                steps.append(TrajectoryStep("", [], [], 0.0))
            if kind == "text":
                steps[-1].text = (steps[-1].text + "\n" + str(part.get("text", ""))).strip()
            elif kind == "tool_use":
                command, output = tool_call(part)
                steps[-1].commands.append(command)
                steps[-1].outputs.append(output)
            elif kind == "step_finish" and steps:
                steps[-1].prompt_tokens, steps[-1].completion_tokens, steps[-1].cached_tokens = step_tokens(part)
        return steps
