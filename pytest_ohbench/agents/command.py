"""The `command` agent: any CLI agent, run in the task container from a command template.

    pytest suites/ --agent command --llm-config gpt \\
        --ohbench-command "my-agent --task {prompt_file} --repo {workspace} --model {model}"

The prompt is written to {prompt_file}; the LLM section reaches the command as environment
variables (LLM_MODEL, LLM_API_KEY, LLM_BASE_URL, OPENAI_*). The container's network is
sealed: the CLI reaches the run's LLM gateway at that base_url and nothing else (unless the
suite says `container.network: host`). The patch is the workspace's diff to the base commit.
"""

from __future__ import annotations

import shlex

from pytest_ohbench.agents.base import AgentConfigError, AgentContext, AgentResult, AgentSettings, AgentStatus, BaseAgent
from pytest_ohbench.core.llm import redact
from pytest_ohbench.runtime.base import host_path

PROMPT_FILE = "/tmp/ohbench_prompt.md"


class CommandAgent(BaseAgent):
    """Runs `--ohbench-command` in the container; exit 0 is "finished", else "failed"."""

    name = "command"
    needs_runtime = True
    needs_network = True

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self.template = settings.command
        if not self.template:
            raise AgentConfigError("--agent command needs --ohbench-command TEMPLATE")

    def run(self, context: AgentContext) -> AgentResult:
        assert context.runtime is not None
        runtime, llm = context.runtime, context.llm
        runtime.write_file(PROMPT_FILE, context.prompt)
        try:
            command = self.template.format(
                prompt_file=host_path(runtime, PROMPT_FILE),
                workspace=shlex.quote(runtime.workdir),
                model=shlex.quote(llm.model if llm else ""),
            )
        except (KeyError, IndexError, ValueError) as exc:
            return AgentResult(status=AgentStatus.ERROR, error=f"--ohbench-command: bad placeholder {exc}")
        result = runtime.execute(command, timeout=context.time_limit, env=llm.to_env() if llm else {})
        secrets = llm.secrets() if llm else []
        (context.log_dir / "agent.log").write_text(
            redact(f"$ {command}\n(exit {result.exit_code}, {result.duration:.1f}s)\n{result.output}", secrets),
            encoding="utf-8",
        )
        output = redact(result.output, secrets)
        if result.timed_out:
            return AgentResult(
                status=AgentStatus.TIMEOUT, error=f"the command ran past {context.time_limit:g}s", stdout=output
            )
        return AgentResult(
            status=AgentStatus.FINISHED if result.exit_code == 0 else AgentStatus.FAILED,
            return_code=result.exit_code,
            stdout=output,
        )
