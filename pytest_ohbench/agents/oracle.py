"""The `oracle` agent: submits the task's reference solution (validates tasks and the harness)."""

from __future__ import annotations

import shlex

from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentStatus, BaseAgent
from pytest_ohbench.core.task import SOLUTION_DIR, Reference
from pytest_ohbench.runtime.base import host_path

WORKSPACE_ENV = "OHBENCH_WORKSPACE"


class OracleAgent(BaseAgent):
    """Returns the gold patch, or runs the solution script in the workspace; the only agent given either."""

    name = "oracle"
    wants_reference = True

    def uses_runtime(self, reference: Reference | None) -> bool:
        # A gold patch is returned as it is; a solution script runs in the agent's container.
        return reference is not None and not reference.patch.strip() and bool(reference.command)

    def run(self, context: AgentContext) -> AgentResult:
        reference = context.reference
        if reference is None or not (reference.patch.strip() or reference.command):
            return AgentResult(
                patch="", status=AgentStatus.ERROR, error=f"{context.task.location}: the task has no reference solution"
            )
        if reference.patch.strip():
            return AgentResult(patch=reference.patch)
        runtime = context.runtime
        assert runtime is not None
        if reference.files is not None:
            runtime.write_tree(SOLUTION_DIR, reference.files)
        # The workspace as this runtime has it (the host folder on the local runtime), for a
        # solution that uses absolute paths as the prompt gives them.
        env = {WORKSPACE_ENV: runtime.workdir}
        result = runtime.execute(reference.command, timeout=context.time_limit, cwd=runtime.workdir, env=env)
        (context.log_dir / "agent.log").write_text(
            f"$ {reference.command}\n(exit {result.exit_code}, {result.duration:.1f}s)\n{result.output}", encoding="utf-8"
        )
        # The solution's files are the oracle's tools, not its work: they leave before the check.
        runtime.execute(f"rm -rf {shlex.quote(host_path(runtime, SOLUTION_DIR))}")
        if result.timed_out:
            return AgentResult(status=AgentStatus.TIMEOUT, error=f"the solution ran past {context.time_limit:g}s")
        return AgentResult(
            status=AgentStatus.FINISHED if result.exit_code == 0 else AgentStatus.FAILED,
            return_code=result.exit_code,
            stdout=result.output,
        )
