"""What the installed agents (Claude Code, Codex, aider, ...) share: their tree, a headless run, its event log.

Each agent's CLI comes from its read-only tree (tree.py, or a Python tree: agent_tree.py) and
runs once, non-interactively, in the task's workspace with the task's prompt on its standard
input, at the section's model through the run's gateway (the item's token as its key), on the
sealed network like every agent that calls the LLM. Its JSON event stream goes to a file in
the container, saved as `logs/<item>/<agent>.events.jsonl` (its `raw_log`, which the harness
turns into trajectory.json), and its standard error to `agent.log`; an agent without an event
stream (aider) makes its events from the log it keeps. Subclasses say how to start the CLI
and read its events.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any, ClassVar

from pytest_ohbench.agents.agent_tree import tree_mount
from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentSettings, AgentStatus
from pytest_ohbench.agents.installed.tree import InstalledTreeSpec, ensure_installed_tree
from pytest_ohbench.agents.mounted import MountedAgent
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.llm import LLMConfig, redact
from pytest_ohbench.runtime.base import Runtime
from pytest_ohbench.runtime.provider import Mount, RuntimeProvider


def bare_model(model: str) -> str:
    """`anthropic/claude-sonnet-4-5` -> `claude-sonnet-4-5`: the CLIs name models without a provider."""
    return model.split("/", 1)[-1]


def read_jsonl(text: str) -> list[dict[str, Any]]:
    """The JSON objects of an event stream, one a line (other lines, a CLI's warnings, skipped)."""
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


def tool_command(name: Any, arguments: Any, shell: str) -> str:
    """A tool call as the report shows it: the CLI's shell tool (`shell`) its command, other tools their name and input."""
    if name == shell and isinstance(arguments, dict) and "command" in arguments:
        return str(arguments["command"])
    return f"{name} {json.dumps(arguments)}"


def tool_output(block: dict[str, Any]) -> str:
    """A tool_result block's text (Anthropic's shape, which Claude Code's and Qwen Code's events share)."""
    content = block.get("content")
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


class InstalledAgent(MountedAgent):
    """A CLI agent from its npm release's tree, run headless in the task container."""

    needs_runtime = True
    needs_llm = True
    needs_network = True  # the CLI calls the run's gateway (through the sealed network's relay)
    label: ClassVar[str] = ""  # how messages name it, e.g. "Claude Code"
    work: ClassVar[str] = ""  # its folder in the container: prompt, config, events (never in the repo)
    version_setting: ClassVar[str] = ""  # the AgentSettings field naming its release, e.g. "claude_code_version"
    # Exit codes that say how a run ended when the CLI wrote no final event (e.g. its turn limit).
    exit_statuses: ClassVar[dict[int, AgentStatus]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.raw_log = f"{cls.name}.events.jsonl"

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self.version = str(getattr(settings, self.version_setting))

    def agent_version(self) -> str:
        return self.version

    def tree_spec(self) -> InstalledTreeSpec:
        """Its release's tree (self.version)."""
        raise NotImplementedError

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        """The command (it reads the prompt on stdin, writes events to stdout), its environment,
        and files to write first (their folders made, 0600: they may hold the item's token; removed after)."""
        raise NotImplementedError

    def summarize(self, events: list[dict[str, Any]], llm: LLMConfig) -> AgentResult:
        """Status, the agent's own cost and token figures, calls and steps from its events: its
        final `result` event's (read_result), one call a trajectory step, the session's id."""
        calls = len(self.trajectory_steps(events))
        results = [e for e in events if e.get("type") == "result"]
        outcome = self.read_result(results[-1]) if results else AgentResult(status=AgentStatus.STOPPED)
        outcome.llm_calls, outcome.steps = calls, outcome.steps or calls
        outcome.session_id = next((str(e.get("session_id")) for e in events if e.get("session_id")), "")
        return outcome

    def read_result(self, result: dict[str, Any]) -> AgentResult:
        """Status, error and the agent's own figures (tokens, cost, steps) from its final `result` event."""
        raise NotImplementedError

    def error_line(self, message: Any) -> str:
        """An error the CLI reported, as the record's one line."""
        return f"{self.label}: {str(message or 'error').strip().splitlines()[0][:300]}"

    def tree_mounts(self, runtime: RuntimeProvider) -> list[Mount]:
        return [tree_mount(ensure_installed_tree(runtime, self.tree_spec()))]

    def events(self, runtime: Runtime, stdout: str, secrets: list[str]) -> list[dict[str, Any]]:
        """The run's events (its raw log): the JSON lines of its standard output. An agent
        with no event stream reads them from its own files (scrubbed of `secrets`)."""
        return read_jsonl(stdout)

    def console(self, stdout: str, stderr: str) -> str:
        """What agent.log keeps of the run's output: its standard error (stdout is the events)."""
        return stderr

    def run(self, context: AgentContext) -> AgentResult:
        runtime, llm = context.runtime, context.llm
        assert runtime is not None and llm is not None
        stdout_file, stderr_file = f"{self.work}/stdout.log", f"{self.work}/stderr.log"
        command, env, files = self.launch(context, llm)
        folders = sorted({self.work, *(str(PurePosixPath(path).parent) for path in files)})
        runtime.execute(f"mkdir -p {' '.join(folders)} && chmod 700 {self.work}")
        runtime.write_file(f"{self.work}/prompt.md", context.prompt)
        for path, text in files.items():
            runtime.write_file(path, text, mode=0o600)
        result = runtime.execute(f"{command} < {self.work}/prompt.md > {stdout_file} 2> {stderr_file}",
                                 timeout=context.time_limit, env=env)
        if files:
            runtime.execute("rm -f " + " ".join(files))  # the token leaves with them
        secrets = llm.secrets()
        stdout, stderr = (redact(self._read(runtime, path), secrets) for path in (stdout_file, stderr_file))
        events = self.events(runtime, stdout, secrets)
        (context.log_dir / "agent.log").write_text(
            f"$ {command}\n(exit {result.exit_code}, {result.duration:.1f}s)\n{self.console(stdout, stderr)}", encoding="utf-8")
        if events:
            (context.log_dir / self.raw_log).write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        if result.timed_out:
            return AgentResult(status=AgentStatus.TIMEOUT, error=f"{self.label} ran past {context.time_limit:g}s", stderr=stderr)
        if not events:
            message = f"{self.label} wrote no events (exit {result.exit_code}): {last_line(stderr or stdout or result.output)}"
            return AgentResult(status=AgentStatus.ERROR, error=message, return_code=result.exit_code, stderr=stderr)
        outcome = self.summarize(events, llm)
        if outcome.status is AgentStatus.STOPPED and result.exit_code in self.exit_statuses:
            outcome.status = self.exit_statuses[result.exit_code]
        outcome.return_code, outcome.stderr = result.exit_code, stderr
        if outcome.error:
            outcome.error = redact(outcome.error, secrets)
        return outcome

    @staticmethod
    def _read(runtime: Runtime, path: str) -> str:
        try:
            return runtime.read_file(path).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

