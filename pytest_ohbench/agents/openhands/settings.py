"""OpenHands' own settings from the session's: the [agent] and [condenser] sections, the export's names.

One place for what both the agent (its config.toml) and the run_infer export (metadata.json)
say about the run, so they never disagree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pytest_ohbench.agents.base import AgentSettings
from pytest_ohbench.core.llm import LLMConfig


def agent_section(settings: AgentSettings) -> dict[str, Any]:
    """OpenHands' [agent] section: a headless run needs no Jupyter and no MCP servers."""
    return {"enable_browsing": settings.openhands_enable_browsing, "enable_jupyter": False, "enable_mcp": False}


# The condensers that need no LLM of their own, and the key their size goes in.
CONDENSERS: dict[str, str | None] = {
    "noop": None, "conversation_window": None, "recent": "max_events", "amortized": "max_size",
    "observation_masking": "attention_window",
}


def condenser_section(settings: AgentSettings) -> dict[str, Any]:
    """OpenHands' [condenser] section (`noop`: the whole history goes to the model)."""
    kind = settings.openhands_condenser
    section: dict[str, Any] = {"type": kind}
    size_key = CONDENSERS.get(kind)
    if size_key:
        section[size_key] = settings.openhands_condenser_max_events
    if kind in ("recent", "amortized"):
        section["keep_first"] = 1  # the task itself always stays
    return section


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """What the tree's names and metadata are made of."""

    agent_class: str  # for the openhands agents; other agents use their own name
    max_iterations: int
    note: str = ""
    agent_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    condenser_config: dict[str, Any] = dataclasses.field(default_factory=lambda: {"type": "noop"})
    llms: dict[str, LLMConfig] = dataclasses.field(default_factory=dict)



def eval_settings(settings: Any, llms: dict[str, LLMConfig]) -> EvalSettings:
    """The run_infer export's names and metadata for a session's Settings."""
    agent: AgentSettings = settings.agent
    return EvalSettings(
        agent_class=agent.openhands_agent_class,
        max_iterations=agent.max_steps,
        note=agent.openhands_eval_note,
        agent_config=agent_section(agent),
        condenser_config=condenser_section(agent),
        llms=llms,
    )
