"""The `noop` agent: changes nothing (a baseline, and a check that tests fail at base)."""

from __future__ import annotations

from pytest_ohbench.agents.base import AgentContext, AgentResult, BaseAgent
from pytest_ohbench.core.task import Task


class NoopAgent(BaseAgent):
    """Returns an empty patch."""

    name = "noop"

    def needs_image(self, task: Task) -> bool:
        return False  # no container, and an empty patch is judged without one

    def run(self, context: AgentContext) -> AgentResult:
        return AgentResult(patch="", return_code=0)
