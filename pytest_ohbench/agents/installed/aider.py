"""The `aider` agent: aider (PyPI `aider-chat`) headless, with its `diff` edit format.

aider is Python: its tree is a Python tree like the OpenHands ones (agent_tree.py), installed
from a wheelhouse of its release. Its release pins numpy 1.26.4, which has no wheel for
Python 3.13, and so declares Python below 3.13; numpy is only imported for voice input and a
warm-up, so the wheelhouse resolves its other pins as they are with a numpy for 3.13 (and
audioop-lts, since 3.13 no longer has audioop).

It runs once per item in the task's workspace: `aider --message-file <prompt>` with every
question answered yes, no commits, no linting, no repository map, no URL scraping, no
update check or analytics, at `openai/<the section's model>` (weak and editor models too)
through the run's gateway, with the section's max_output_tokens, temperature and top_p. Its
home, caches and history files are in /tmp/ohbench-aider (never in the repository); aider's
model-price cache is filled from litellm's bundled map, so it downloads nothing. It edits with text (SEARCH/REPLACE blocks in the model's answers), so it
has no event stream: its LLM history (every request's messages and the answer) becomes its
events, `logs/<item>/aider.events.jsonl`, and its chat history is kept beside them. It has
no step or cost limit of its own (one message, at most three reflections): the gateway's
budget and the stage's timeout bound it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from pytest_ohbench.agents.agent_tree import MOUNT, PYTHON, TreeError, TreeSpec, ensure_tree, tree_mount
from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentStatus, TrajectoryStep
from pytest_ohbench.agents.installed.agent import InstalledAgent, bare_model
from pytest_ohbench.agents.openhands.install import (
    REQUIREMENTS,
    WheelhouseError,
    download_release,
    ensure_resolved_wheelhouse,
    wheel_requirements,
)
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.llm import LLMConfig, redact
from pytest_ohbench.core.machine import cache_dir
from pytest_ohbench.runtime.base import Runtime
from pytest_ohbench.runtime.provider import Mount, RuntimeProvider

WORK = "/tmp/ohbench-aider"
HOME = f"{WORK}/home"
LLM_HISTORY, CHAT_HISTORY = f"{WORK}/llm.history", f"{WORK}/chat.history.md"
COST_MAP = f"{MOUNT}/lib/python3.13/dist-packages/litellm/model_prices_and_context_window_backup.json"
UNPINNED = {"numpy"}  # its pin has no wheel for Python 3.13 (see above)
PY313_ADDED = ["audioop-lts"]  # pydub, imported at start-up, needs audioop: no longer in Python 3.13's standard library
FLAGS = (
    "--edit-format diff --yes-always --no-auto-commits --no-dirty-commits --no-gitignore --no-auto-lint "
    "--no-check-update --no-show-release-notes --no-analytics --no-show-model-warnings --no-detect-urls "
    "--no-suggest-shell-commands --no-pretty --no-fancy-input --no-stream --map-tokens 0"
)
# The headers of aider's LLM history: a request's messages, then the answer, each line of a
# message prefixed with its role.
HEADER = re.compile(r"^(TO LLM|LLM RESPONSE) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)$")
SEPARATOR = "-------"
REFLECTIONS_EXHAUSTED = "reflections allowed, stopping"


def ensure_aider_wheelhouse(version: str, root: Path | None = None) -> Path:
    """aider-chat `version` and its pinned requirements (numpy resolved for 3.13), once."""

    def requirements(target: Path) -> list[str]:
        wheel = download_release(target, "aider-chat", version)
        pinned = [r.name if r.name.lower() in UNPINNED else f"{r.name}{r.specifier}" for r in wheel_requirements(wheel)]
        return [*pinned, *PY313_ADDED]

    return ensure_resolved_wheelhouse((root or cache_dir()) / f"aider-{version}-cp313", requirements)


def aider_tree(version: str, wheelhouse: Path) -> TreeSpec:
    """The tree of aider `version`: its wheel without its declared requirements, then the resolved ones."""
    wheels = sorted(wheelhouse.glob(f"aider_chat-{version}-*.whl"))
    if not wheels:
        raise TreeError(f"{wheelhouse}: no aider_chat {version} wheel in it")
    check = f"import aider, aider.main; assert aider.__version__ == {version!r}, aider.__version__"
    return TreeSpec(f"aider-{version}", wheelhouse, (("--no-deps", wheels[-1].name), ("-r", REQUIREMENTS)), check=check)


def extra_params(llm: LLMConfig) -> dict[str, Any]:
    """The section's sampling settings aider has no option for, as litellm's parameters."""
    params = {"max_tokens": llm.max_output_tokens, "temperature": llm.temperature, "top_p": llm.top_p}
    return {name: value for name, value in params.items() if value is not None}


def read_llm_history(text: str) -> list[dict[str, Any]]:
    """aider's LLM history as calls: {timestamp, messages: [{role, content}], response}."""
    calls: list[dict[str, Any]] = []
    in_response = False
    for line in text.splitlines():
        header = HEADER.match(line)
        if header:
            in_response = header[1] == "LLM RESPONSE"
            if not in_response:
                calls.append({"type": "call", "timestamp": header[2], "messages": [], "response": ""})
            continue
        if not calls:
            continue
        call = calls[-1]
        role, _, content = line.partition(" ")
        if in_response:
            call["response"] += ("\n" if call["response"] else "") + content
        elif line == SEPARATOR:
            call["messages"].append({"role": "", "content": ""})
        elif call["messages"]:
            message = call["messages"][-1]
            message["content"] += ("\n" if message["role"] else "") + content
            message["role"] = role.lower()
    return calls


def trailing_user_text(messages: list[dict[str, Any]]) -> str:
    """The user messages after a request's last assistant message: what aider said back."""
    tail: list[str] = []
    for message in reversed(messages):
        if message.get("role") == "assistant":
            break
        if message.get("role") == "user":
            tail.insert(0, str(message.get("content", "")))
    return "\n".join(tail)


class AiderAgent(InstalledAgent):
    """aider from its release's Python tree, headless in the task container."""

    name = "aider"
    label = "aider"
    work = WORK
    version_setting = "aider_version"

    def tree_mounts(self, runtime: RuntimeProvider) -> list[Mount]:
        try:
            wheelhouse = ensure_aider_wheelhouse(self.version)
        except WheelhouseError as exc:
            raise TreeError(f"cannot get aider-chat {self.version} wheels for Python 3.13 ({exc})") from None
        return [tree_mount(ensure_tree(runtime, aider_tree(self.version, wheelhouse)))]

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        model = shlex.quote("openai/" + bare_model(llm.model))
        base_url, key = llm.base_url or "", llm.api_key or ""
        # Its model-price cache, filled from litellm's bundled map: else aider downloads one.
        prices = f"{HOME}/.aider/caches/model_prices_and_context_window.json"
        command = (
            f"mkdir -p {HOME}/.aider/caches && cp {COST_MAP} {prices} && "
            f"{PYTHON} -m aider --message-file {WORK}/prompt.md --model {model} --weak-model {model} --editor-model {model} "
            f"{FLAGS} --env-file {WORK}/aider.env --input-history-file {WORK}/input.history "
            f"--chat-history-file {CHAT_HISTORY} --llm-history-file {LLM_HISTORY}"
        )
        env = {"HOME": HOME, "OPENAI_API_BASE": base_url, "OPENAI_API_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        # aider loads .env files (the repository's too) over its environment, its --env-file last:
        # the gateway's settings go there as well, so no .env of the task's can override them.
        files = {f"{WORK}/aider.env": f"OPENAI_API_BASE={base_url}\nOPENAI_API_KEY={key}\n"}
        params = extra_params(llm)
        if params:  # aider merges the settings named aider/extra_params into every model's call
            files[f"{WORK}/model-settings.yml"] = json.dumps([{"name": "aider/extra_params", "extra_params": params}])
            command += f" --model-settings-file {WORK}/model-settings.yml"
        return command, env, files

    def events(self, runtime: Runtime, stdout: str, secrets: list[str]) -> list[dict[str, Any]]:
        """Its calls from the LLM history, then how the run ended (from its output)."""
        calls = read_llm_history(redact(self._read(runtime, LLM_HISTORY), secrets))
        if not calls:
            return []
        errors = [line for line in stdout.splitlines() if "error" in line.lower() or "exception" in line.lower()]
        end = {"type": "end", "reflections_exhausted": REFLECTIONS_EXHAUSTED in stdout,
               "error": errors[-1].strip()[:300] if errors and not calls[-1]["response"] else None}
        return [*calls, end]

    def console(self, stdout: str, stderr: str) -> str:
        """aider's output: its standard output (what it said and did), then its standard error."""
        return stdout + (f"\n--- stderr ---\n{stderr}" if stderr.strip() else "")

    def run(self, context: AgentContext) -> AgentResult:
        outcome = super().run(context)
        assert context.runtime is not None and context.llm is not None
        chat = redact(self._read(context.runtime, CHAT_HISTORY), context.llm.secrets())
        if chat:  # its own account of the session, for people: kept beside the events
            (context.log_dir / "aider.chat.history.md").write_text(chat, encoding="utf-8")
        return outcome

    def summarize(self, events: list[dict[str, Any]], llm: LLMConfig) -> AgentResult:
        calls = [e for e in events if e.get("type") == "call"]
        end = next((e for e in events if e.get("type") == "end"), {})
        if end.get("error") or (calls and not calls[-1]["response"]):
            error = f"aider: {end.get('error') or 'no answer from the model'}"
            return AgentResult(status=AgentStatus.ERROR, error=last_line(error), llm_calls=len(calls), steps=len(calls))
        status = AgentStatus.MAX_STEPS if end.get("reflections_exhausted") else AgentStatus.FINISHED
        return AgentResult(status=status, llm_calls=len(calls), steps=len(calls))

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """One step per LLM call: the model's answer (its edit blocks included) and what aider said back."""
        calls = [e for e in data if isinstance(e, dict) and e.get("type") == "call"] if isinstance(data, list) else []
        steps = []
        for number, call in enumerate(calls):
            later = calls[number + 1]["messages"] if number + 1 < len(calls) else []
            reply = trailing_user_text(later)
            steps.append(TrajectoryStep(str(call.get("response", "")), [], [reply] if reply else [], 0.0,
                                        tool="edit", timestamp=call.get("timestamp")))
        return steps
