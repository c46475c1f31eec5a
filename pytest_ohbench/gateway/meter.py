"""What the gateway counts per item (a lease) and per run, and the budgets it enforces.

Budgets are checked when a request arrives, before anything goes upstream:

- per item: once the item has spent its budget, its next request is refused; an agent
  makes one request at a time, so an item overshoots by at most its last request;
- per run: a request is refused once the run has spent its budget. So that parallel items
  cannot all slip in at the end, a request may only start while the money already spent,
  plus a reserve for every request in flight (its own included), fits in the budget; the
  reserve is the dearest request seen so far. Otherwise it waits for the requests in
  flight, and a request alone in flight always starts. The run's total therefore exceeds
  the budget by at most one request, as long as no request costs more than the dearest
  one before it. Before any request has finished, the reserve is unknown: requests go one
  at a time.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from typing import Any

from pytest_ohbench.core.llm import BUDGET_EXCEEDED, LLMConfig
from pytest_ohbench.gateway.usage import Usage


class BudgetRefused(Exception):
    """A request the budget does not allow; the message is what the agent is told."""


@dataclasses.dataclass
class Meter:
    """One item's LLM traffic as the gateway saw it (plain JSON through `to_dict`)."""

    calls: int = 0  # agent requests answered by the upstream (or a cassette), error answers included
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0  # summed over calls: request in to response out
    upstream_requests: int = 0  # HTTP requests sent upstream, retries included (0 when replayed)
    retries: int = 0  # upstream 429/5xx answers (or dropped connections) retried
    upstream_errors: dict[str, int] = dataclasses.field(default_factory=dict)  # status -> answers passed to the agent
    usage_missing: int = 0  # successful calls whose response carried no usage (counted at 0 tokens)
    refused: int = 0  # requests refused for budget
    refusal: str | None = None  # what the first refusal said
    replay_error: str | None = None  # the first request a replay cassette did not hold
    replayed: bool = False
    replay_changed: int = 0  # replayed requests whose text differed from the recording (same shape)
    models: dict[str, int] = dataclasses.field(default_factory=dict)  # model asked for -> calls

    def add(self, usage: Usage, cost: float) -> None:
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cached_tokens += usage.cached_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        self.cost_usd += cost

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["cost_usd"] = round(self.cost_usd, 10)
        data["latency_s"] = round(self.latency_s, 4)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Meter":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclasses.dataclass
class Lease:
    """An item's right to call the LLM through the gateway: its token, section and meter."""

    token: str
    item: str  # the node id, for messages
    cassette: str  # relative cassette path, e.g. examples-swe/ohbench__textkit-2/gpt-a1.jsonl
    llm: LLMConfig  # the real section (with the real key): only the gateway holds it
    budget: float  # USD, 0 for no limit
    meter: Meter = dataclasses.field(default_factory=Meter)
    steps: int = 0  # requests admitted so far: the step numbers of the cassette
    closed: bool = False


class Ledger:
    """The run's spending across every item, and the admission of requests (see module docstring)."""

    def __init__(self, run_budget: float | None, spent: float = 0.0) -> None:
        self.run_budget = run_budget
        self.spent = spent  # USD, including what a resumed run had spent before
        self.dearest = -1.0  # the most a single request cost so far; -1: none finished yet
        self.in_flight = 0
        self._changed = threading.Condition()

    def admit(self, lease: Lease) -> int:
        """Reserve a place for one request of `lease` and return its step number, or raise BudgetRefused."""
        with self._changed:
            while True:
                if lease.budget and lease.meter.cost_usd >= lease.budget:
                    raise BudgetRefused(
                        f"{BUDGET_EXCEEDED}: task {lease.item} has spent ${lease.meter.cost_usd:.4f} of its "
                        f"${lease.budget:g} (--ohbench-max-cost-per-task); no more LLM calls for this task"
                    )
                if self.run_budget is not None and self.spent >= self.run_budget:
                    raise BudgetRefused(
                        f"{BUDGET_EXCEEDED}: the run has spent ${self.spent:.4f} of its ${self.run_budget:g} "
                        "(--ohbench-max-cost); no more LLM calls in this run"
                    )
                if self._fits():
                    break
                self._changed.wait()
            self.in_flight += 1
            lease.steps += 1
            return lease.steps

    def _fits(self) -> bool:
        if self.run_budget is None or self.in_flight == 0:
            return True
        reserve = self.dearest if self.dearest >= 0 else math.inf
        return self.spent + (self.in_flight + 1) * reserve <= self.run_budget

    def settle(self, lease: Lease, usage: Usage | None, cost: float, latency: float) -> None:
        """Book one finished request (usage None: an error answer, or no usage reported)."""
        with self._changed:
            self.in_flight -= 1
            self.spent += cost
            lease.meter.calls += 1
            lease.meter.latency_s += latency
            if usage is not None:
                self.dearest = max(self.dearest, cost)
                lease.meter.add(usage, cost)
            self._changed.notify_all()

    def release(self, lease: Lease) -> None:
        """A request admitted but never answered (a replay miss): it takes no step, and the agent may try it again."""
        with self._changed:
            self.in_flight -= 1
            lease.steps -= 1
            self._changed.notify_all()
