"""What the installed agents (Claude Code, Codex, ...) share: their tree, a headless run, its event log.

Each agent's CLI comes from its read-only tree (tree.py) and runs once, non-interactively, in
the task's workspace with the task's prompt on its standard input, at the section's model
through the run's gateway (the item's token as its key), on the sealed network like every
agent that calls the LLM. Its JSON event stream goes to a file in the container, saved as
`logs/<item>/<agent>.events.jsonl` (its `raw_log`, which the harness turns into
trajectory.json), and its standard error to `agent.log`. Subclasses say how to start the CLI
and read its events.
"""

from __future__ import annotations

import json
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


class InstalledAgent(MountedAgent):
    """A CLI agent from its npm release's tree, run headless in the task container."""

    needs_runtime = True
    needs_llm = True
    needs_network = True  # the CLI calls the run's gateway (through the sealed network's relay)
    label: ClassVar[str] = ""  # how messages name it, e.g. "Claude Code"
    work: ClassVar[str] = ""  # its folder in the container: prompt, config, events (never in the repo)
    version_setting: ClassVar[str] = ""  # the AgentSettings field with its release, e.g. "codex_version"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.raw_log = f"{cls.name}.events.jsonl"

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self.version = str(getattr(settings, self.version_setting))

    def agent_version(self) -> str:
        return self.version

    def tree_spec(self) -> InstalledTreeSpec:
        """The tree of its release `self.version`."""
        raise NotImplementedError

    def launch(self, context: AgentContext, llm: LLMConfig) -> tuple[str, dict[str, str], dict[str, str]]:
        """The command (it reads the prompt on stdin, writes events to stdout), its environment,
        and files to write first (0600: they may hold the item's token; removed after)."""
        raise NotImplementedError

    def summarize(self, events: list[dict[str, Any]], llm: LLMConfig) -> AgentResult:
        """Status, the agent's own cost and token figures, calls and steps from its events."""
        raise NotImplementedError

    def tree_mounts(self, runtime: RuntimeProvider) -> list[Mount]:
        return [tree_mount(ensure_installed_tree(runtime, self.tree_spec()))]

    def run(self, context: AgentContext) -> AgentResult:
        runtime, llm = context.runtime, context.llm
        assert runtime is not None and llm is not None
        events_file, stderr_file = f"{self.work}/events.jsonl", f"{self.work}/stderr.log"
        runtime.execute(f"mkdir -p {self.work} && chmod 700 {self.work}")
        runtime.write_file(f"{self.work}/prompt.md", context.prompt)
        command, env, files = self.launch(context, llm)
        for path, text in files.items():
            runtime.write_file(path, text, mode=0o600)
        result = runtime.execute(f"{command} < {self.work}/prompt.md > {events_file} 2> {stderr_file}",
                                 timeout=context.time_limit, env=env)
        if files:
            runtime.execute("rm -f " + " ".join(files))  # the token leaves with them
        secrets = llm.secrets()
        stderr = redact(self._read(runtime, stderr_file), secrets)
        events = read_jsonl(redact(self._read(runtime, events_file), secrets))
        (context.log_dir / "agent.log").write_text(f"$ {command}\n(exit {result.exit_code}, {result.duration:.1f}s)\n{stderr}",
                                                   encoding="utf-8")
        if events:
            (context.log_dir / self.raw_log).write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        if result.timed_out:
            return AgentResult(status=AgentStatus.TIMEOUT, error=f"{self.label} ran past {context.time_limit:g}s", stderr=stderr)
        if not events:
            message = f"{self.label} wrote no events (exit {result.exit_code}): {last_line(stderr or result.output)}"
            return AgentResult(status=AgentStatus.ERROR, error=message, return_code=result.exit_code, stderr=stderr)
        outcome = self.summarize(events, llm)
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

