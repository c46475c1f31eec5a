"""The agent base class, its settings and results, and the registry (group `pytest_ohbench.agents`).

Agents know nothing of pytest: they are built from a frozen `AgentSettings` (made once from
the options) and get an `AgentContext` per item whose task is the agent's view of it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pytest_ohbench.core.llm import LLMConfig
    from pytest_ohbench.core.task import Reference, Task, TaskView
    from pytest_ohbench.runtime.base import Runtime
    from pytest_ohbench.runtime.provider import Mount, RuntimeProvider

ENTRY_POINT_GROUP = "pytest_ohbench.agents"
DEFAULT_OPENHANDS_VERSION = "0.48.0"
DEFAULT_OPENHANDS_SDK_VERSION = "1.57.0"  # openhands-sdk / openhands-tools (OpenHands V1)
DEFAULT_CLAUDE_CODE_VERSION = "2.1.332"  # npm @anthropic-ai/claude-code
DEFAULT_GEMINI_CLI_VERSION = "0.61.0"  # npm @google/gemini-cli
DEFAULT_QWEN_CODE_VERSION = "0.24.4"  # npm @qwen-code/qwen-code
DEFAULT_AIDER_VERSION = "0.86.2"  # PyPI aider-chat
DEFAULT_CODEX_VERSION = "0.171.0"  # npm @openai/codex
DEFAULT_OPENCODE_VERSION = "1.18.33"  # npm opencode-ai


class AgentStatus(str, enum.Enum):
    """How an agent run ended."""

    FINISHED = "finished"  # the agent said it was done (or returned its patch)
    FAILED = "failed"  # a CLI agent exited non-zero
    STOPPED = "stopped"  # the agent stopped without saying it was done
    FORMAT_ERROR = "format_error"  # the model kept answering in a format the agent cannot use
    MAX_STEPS = "max_steps"  # --ohbench-max-steps reached
    MAX_COST = "max_cost"  # --ohbench-max-cost-per-task reached
    TIMEOUT = "timeout"  # the agent stage ran out of time: outcome agent_timeout
    NO_PREDICTION = "no_prediction"  # replay: the predictions lack the task; outcome empty_patch
    ERROR = "error"  # the harness could not run the agent: outcome agent_error

    def __str__(self) -> str:
        return self.value


class AgentConfigError(ValueError):
    """The agent's settings are unusable (e.g. --agent command without a template): a usage error."""


@dataclasses.dataclass(frozen=True)
class AgentSettings:
    """Every option an agent may read, built once per session from the command line and ini."""

    max_steps: int = 100
    max_cost_per_task: float = 3.0  # USD, 0 for no limit
    command: str = ""  # --ohbench-command template for the `command` agent
    predictions: Path | None = None  # --ohbench-predictions for the `replay` agent
    openhands_version: str = DEFAULT_OPENHANDS_VERSION
    openhands_wheelhouse: Path | None = None
    openhands_agent_class: str = "CodeActAgent"
    openhands_enable_browsing: bool = False  # [agent] enable_browsing
    openhands_condenser: str = "noop"  # [condenser] type
    openhands_condenser_max_events: int = 40  # its size, for the condensers that keep a window
    openhands_eval_note: str = ""  # the `_N_<note>` of the run_infer output folder
    openhands_sdk_version: str = DEFAULT_OPENHANDS_SDK_VERSION
    openhands_source: Path | None = None  # --openhands-source: a checkout or fork, 0.x or V1
    claude_code_version: str = DEFAULT_CLAUDE_CODE_VERSION
    gemini_cli_version: str = DEFAULT_GEMINI_CLI_VERSION
    qwen_code_version: str = DEFAULT_QWEN_CODE_VERSION
    aider_version: str = DEFAULT_AIDER_VERSION
    codex_version: str = DEFAULT_CODEX_VERSION
    opencode_version: str = DEFAULT_OPENCODE_VERSION


@dataclasses.dataclass
class AgentResult:
    """What an agent run produced.

    `patch` None means "read the patch from the workspace" (git diff against the base
    commit); agents that only return a patch (oracle, replay) set it directly.
    """

    patch: str | None = None
    status: AgentStatus = AgentStatus.FINISHED
    error: str | None = None  # one line when status is ERROR or TIMEOUT
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    llm_calls: int = 0
    steps: int = 0
    return_code: int | None = None  # the agent process's exit code, where there is one
    stdout: str = ""  # the agent process's output (full text; records keep a bounded copy)
    stderr: str = ""
    session_id: str = ""  # the agent's own id of the conversation, where it has one


@dataclasses.dataclass
class AgentContext:
    """Everything one agent run gets."""

    task: "TaskView"
    runtime: "Runtime | None"  # the task container; None for agents that need none
    log_dir: Path  # write logs and the trajectory here
    llm: "LLMConfig | None"  # the item's --llm-config section
    time_limit: float  # seconds (the suite's timeouts.agent)
    prompt: str  # the prompt (plus hints with --ohbench-hints)
    reference: "Reference | None" = None  # only for agents with wants_reference (the oracle)


@dataclasses.dataclass
class TrajectoryStep:
    """One step of an agent's own log, as its parser reads it (agents/trajectory.py turns a
    list of them into the run's one trajectory format, ATIF). Fields an agent's log does not
    carry stay None and are left out of the file."""

    text: str  # what the model said (or the prompt, for a `user` step)
    commands: list[str]  # its tool calls' commands, in order
    outputs: list[str]  # what the tools answered, in order
    cost_so_far: float  # USD spent up to and including this step
    source: str = "agent"  # agent, user or system
    tool: str = "bash"  # the tool the commands went to
    prompt_tokens: int | None = None  # this step's LLM call, cached tokens included
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None  # this step's own cost (None: from the cost so far)
    timestamp: str | None = None  # ISO 8601
    model_name: str | None = None


class BaseAgent:
    """A coding agent. One instance is made per item from the session's AgentSettings."""

    name: ClassVar[str] = ""
    # False for agents that never touch the workspace (noop, replay): no agent container.
    needs_runtime: ClassVar[bool] = False
    needs_llm: ClassVar[bool] = False  # True: refuse to run without --llm-config
    # True when the agent's process calls the LLM from inside its workspace (a CLI agent,
    # OpenHands): the workspace then reaches the run's LLM gateway, and only that (a sealed
    # network, runtime/sealed.py), unless the suite opts in to the host's network.
    needs_network: ClassVar[bool] = False
    wants_reference: ClassVar[bool] = False  # True only for the oracle: it gets the solution

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings

    def needs_image(self, task: "Task") -> bool:
        """Whether `task`'s item may need its image (its container, or a patch to check): the
        pre-flight check of images (--ohbench-preflight) asks; False only when it surely does not."""
        return True

    def uses_runtime(self, reference: "Reference | None") -> bool:
        """Whether this item needs the agent's container (the oracle's depends on the task)."""
        return self.needs_runtime

    # True for agents whose program comes in on read-only tree mounts (agents/mounted.py):
    # they need a runtime that builds and mounts trees.
    mounts_trees: ClassVar[bool] = False

    def prepare(self, runtime: "RuntimeProvider", image: str | None) -> str | None:
        """The image the agent's workspace starts from (building what it needs on `runtime` first)."""
        return image

    def mounts(self) -> "list[Mount]":
        """Host folders the agent's workspace sees (read-only trees), after prepare."""
        return []

    def run(self, context: AgentContext) -> AgentResult:
        """Work on `context.task`; the patch is returned or left in the workspace."""
        raise NotImplementedError

    # The agent's own log in log_dir (e.g. "mini.traj.json"; ".jsonl": one event a line), which
    # trajectory_steps reads; "" when it keeps none. The harness writes trajectory.json beside it.
    raw_log: ClassVar[str] = ""

    def agent_version(self) -> str | None:
        """The version of what the agent runs (a library, a checkout), where it has one."""
        return None

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """The steps of this agent's own log (`raw_log`, parsed), in order."""
        return []


def agent_names() -> list[str]:
    """Names of the registered agents (entry-point group `pytest_ohbench.agents`)."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


@functools.cache  # scanning the installed distributions costs tens of ms, once per item otherwise
def load_agent(name: str) -> type[BaseAgent]:
    """The registered agent `name`, imported only now (some pull in heavy libraries)."""
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        raise KeyError(name)
    return matches[0].load()
