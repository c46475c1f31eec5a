"""The result record: one per item, plain JSON types so it crosses xdist on the report."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any

from pytest_ohbench.core.outcomes import Outcome

OUTPUT_LIMIT = 20_000  # characters of agent output kept in a record
# A perf task whose human commit does not replay on this machine (kinds/perf/checker.py): its
# records are judged as usual but left out of rates and of the gate.
REPLAY_INVALID = "replay_invalid"


def bounded(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """`text`, cut to its last `limit` characters (the end of a log says most)."""
    return text if len(text) <= limit else f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:]


def utc_now() -> str:
    """An ISO-8601 UTC timestamp, seconds precision."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass
class TaskRecord:
    """Everything recorded about one item; one line of results.jsonl."""

    run_id: str
    nodeid: str
    instance_id: str
    suite: str
    dataset: str
    kind: str = "swe"
    agent: str = ""
    model: str | None = None  # LLM config section name; None for agents without an LLM
    attempt: int = 1  # 1..k with --ohbench-attempts k
    retries: int = 0  # reruns this record took for an infrastructure failure (--ohbench-retries)
    # The infrastructure cause of a failure (core/failures.py: oom_agent, engine, ...), "" for none.
    failure_class: str = ""
    # The earlier tries of a retried item: outcome, failure class, error and memory limit of each.
    retry_history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    memory: int | None = None  # the containers' memory limit in bytes when a retry raised the suite's
    instruction: str = ""  # the prompt the agent got
    outcome: Outcome = Outcome.INFRA_ERROR  # overwritten as soon as the item is judged
    resolved: bool = False
    agent_status: str = ""  # how the agent ended: an AgentStatus value (finished, failed, timeout, ...)
    agent_return_code: int | None = None  # the agent process's exit code, where there is one
    agent_stdout: str = ""  # the agent process's output, at most OUTPUT_LIMIT characters (full text in logs/)
    agent_stderr: str = ""
    agent_session_id: str = ""
    stage: str = "setup"  # last stage reached: setup, image, container, agent, check, done
    error: str | None = None  # one line, for harness errors and timeouts
    # Why a judged failure failed, one line: `<code>: <detail>` (see failure_reason), e.g.
    # "tests_failed: FAIL_TO_PASS failing (1/1): tests/test_a.py::test_x"; "" when resolved.
    reason: str = ""
    image: str | None = None
    image_id: str | None = None  # the engine's id of `image`
    image_source: str | None = None  # how it was obtained: local, loaded, pulled, build, cached
    # The agent's workspace's network: sealed (the run's LLM gateway only), none, or host (opted in:
    # --ohbench-allow-internet, container.network: host, a Harbor task's allow_internet = true);
    # "" for an agent without a workspace (noop, replay).
    network: str = ""
    engine: str = ""  # the Docker engine the item ran on (an --ohbench-docker-host URL); "" without one
    patch: str = ""
    tests: dict[str, str] = dataclasses.field(default_factory=dict)  # test name -> status
    set_aside: list[str] = dataclasses.field(default_factory=list)  # agent-changed test infrastructure, not graded
    flags: list[str] = dataclasses.field(default_factory=list)  # e.g. replay_invalid: left out of rates
    fail_to_pass: dict[str, list[str]] = dataclasses.field(
        default_factory=lambda: {"success": [], "failure": []}
    )
    pass_to_pass: dict[str, list[str]] = dataclasses.field(
        default_factory=lambda: {"success": [], "failure": []}
    )
    check: dict[str, Any] = dataclasses.field(default_factory=dict)  # the checker's kind-specific findings
    durations: dict[str, float] = dataclasses.field(default_factory=dict)  # stage -> seconds
    # Cost and tokens: metered by the LLM gateway for items with an LLM (whatever the agent says).
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    llm_calls: int = 0
    llm: dict[str, Any] = dataclasses.field(default_factory=dict)  # the gateway's meter: latency, retries, refusals...
    agent_reported: dict[str, Any] | None = None  # the agent's own cost and tokens, when it reported any
    agent_steps: int = 0
    log_dir: str = ""
    started_at: str = dataclasses.field(default_factory=utc_now)
    finished_at: str | None = None

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.outcome)  # records read back from JSON carry the plain value

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict (the results.jsonl line)."""
        data = dataclasses.asdict(self)
        data["outcome"] = self.outcome.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskRecord":
        """Load a results.jsonl line, ignoring keys this version does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def set_outcome(self, outcome: Outcome, error: str | None = None) -> None:
        """The item's final outcome (and one-line error): the record is done."""
        self.outcome = outcome
        self.resolved = outcome is Outcome.RESOLVED
        self.stage = "done"
        if error is not None:
            self.error = error.strip().splitlines()[0] if error.strip() else error
        if not self.reason:  # every judged failure says why (a checker's reason is set before)
            self.reason = failure_reason(outcome, "", error or "")


def counted(record: TaskRecord) -> bool:
    """True when the record counts in rates and gates (not flagged replay_invalid)."""
    return REPLAY_INVALID not in record.flags


def failure_reason(outcome: Outcome, code: str = "", detail: str = "") -> str:
    """A judged failure's one-line reason: `<code>: <detail>`; the outcome is the code when the
    checker gave none (empty_patch, test_timeout, ...). "" for anything but a judged failure."""
    if not outcome.judged or outcome is Outcome.RESOLVED:
        return ""
    code = code or outcome.value
    detail = " ".join(detail.split()).removeprefix(f"{code}: ")  # one line, the code once
    return f"{code}: {detail}" if detail and detail != code else code


def reason_code(reason: str) -> str:
    """The code of a record's reason (the part before its first colon)."""
    return reason.split(":", 1)[0].strip()


def format_verdict(record: TaskRecord, detail: str = "", logs: str | None = None) -> str:
    """The short verdict a failing item prints instead of a traceback (`logs`: the log folder as
    the reader should see it, default the record's own, relative to the rootdir)."""
    lines = [f"{record.instance_id}: {record.outcome.value}" + (f" ({detail})" if detail else "")]
    if record.reason and not detail:  # a verdict rebuilt from the record alone (report.html) says why
        lines.append(f"  reason: {record.reason}")
    for label, split in (("FAIL_TO_PASS", record.fail_to_pass), ("PASS_TO_PASS", record.pass_to_pass)):
        failing = split.get("failure", [])
        total = len(failing) + len(split.get("success", []))
        if failing:
            shown = ", ".join(failing[:5]) + (f", ... (+{len(failing) - 5})" if len(failing) > 5 else "")
            lines.append(f"  {label} failing ({len(failing)}/{total}): {shown}")
    if record.error:
        lines.append(f"  error: {record.error}")
    if record.log_dir:
        lines.append(f"  logs: {logs or record.log_dir}")
    return "\n".join(lines)

def safe_name(name: str) -> str:
    """A file-name-safe version of an instance id or node name."""
    return re.sub(r"[^A-Za-z0-9_.\[\]-]+", "_", name).strip("._") or "item"
