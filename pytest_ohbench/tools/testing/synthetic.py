"""Synthetic run folders: records shaped like the plugin's, for report tests and benchmarks.

Nothing here is a measurement: the outcomes come from a seeded random generator, so a test
can build "the same work rerun with a few random flips" or "a real drop" and know the
truth. `rerun` flips chosen instances of an existing run; `write_run` lays records out as
a run folder (results.jsonl, plus a log folder with a patch per item).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord

FAILURES = (Outcome.UNRESOLVED, Outcome.UNRESOLVED, Outcome.UNRESOLVED, Outcome.EMPTY_PATCH, Outcome.PATCH_APPLY_FAILED, Outcome.AGENT_TIMEOUT)
PATCH = """diff --git a/pkg/module_{n}.py b/pkg/module_{n}.py
--- a/pkg/module_{n}.py
+++ b/pkg/module_{n}.py
@@ -10,7 +10,7 @@ def compute(values):
     total = 0
     for value in values:
-        total += value - 1
+        total += value
     return total
"""


def make_records(
    instances: int,
    models: dict[str, float],
    *,
    run_id: str = "synthetic",
    seed: int = 0,
    agent: str = "mini",
    suite: str = "synthetic",
    attempts: int = 1,
    costs: dict[str, float] | None = None,
) -> list[TaskRecord]:
    """`instances` x models x attempts records; each model resolves about its given rate.

    Every instance has a difficulty drawn once, shared by the models, so models agree on
    easy instances as real ones do. Costs, tokens and times vary per item.
    """
    rng = random.Random(seed)
    difficulty = [rng.random() for _ in range(instances)]
    records = []
    for model, rate in models.items():
        per_item = (costs or {}).get(model, 0.01)
        for index in range(instances):
            instance = f"synth__repo-{index + 1}"
            for attempt in range(1, attempts + 1):
                resolved = difficulty[index] < rate if attempt == 1 else rng.random() < rate
                outcome = Outcome.RESOLVED if resolved else rng.choice(FAILURES)
                total = round(rng.uniform(20, 200), 3)
                tokens_in = rng.randint(5_000, 60_000)
                name = f"{instance}[{model}]" + (f"[a{attempt}]" if attempts > 1 else "")
                records.append(
                    TaskRecord(
                        run_id=run_id, nodeid=f"suites/{suite}/data.jsonl::{name}", instance_id=instance, suite=suite,
                        dataset=f"suites/{suite}/data.jsonl", agent=agent, model=model, attempt=attempt, outcome=outcome,
                        resolved=resolved, agent_status="finished", stage="done",
                        patch="" if outcome is Outcome.EMPTY_PATCH else PATCH.format(n=index),
                        durations={"total": total, "agent": round(total * rng.uniform(0.6, 0.9), 3)},
                        cost_usd=round(per_item * rng.uniform(0.5, 1.5), 6), input_tokens=tokens_in,
                        output_tokens=tokens_in // rng.randint(10, 30), llm_calls=rng.randint(3, 40),
                        log_dir=f"reports/{run_id}/logs/{name}",
                        started_at="2025-01-01T00:00:00+00:00", finished_at="2025-01-01T00:10:00+00:00",
                    )
                )
    return records


def rerun(records: Sequence[TaskRecord], *, lose: Iterable[int] = (), gain: Iterable[int] = (), run_id: str = "rerun") -> list[TaskRecord]:
    """The same work again, with the given record positions flipped: `lose` resolved ones
    become unresolved, `gain` unresolved ones become resolved. Others keep their outcome."""
    lost, gained = set(lose), set(gain)
    again = []
    for position, record in enumerate(records):
        outcome = record.outcome
        if position in lost:
            if not record.resolved:
                raise ValueError(f"record {position} ({record.instance_id}) is not resolved: it cannot be lost")
            outcome = Outcome.UNRESOLVED
        elif position in gained:
            if record.resolved:
                raise ValueError(f"record {position} ({record.instance_id}) is resolved already: it cannot be gained")
            outcome = Outcome.RESOLVED
        data = record.to_dict() | {"run_id": run_id, "outcome": outcome.value, "resolved": outcome is Outcome.RESOLVED}
        again.append(TaskRecord.from_dict(data))
    return again


def random_flips(records: Sequence[TaskRecord], count: int, seed: int) -> tuple[list[int], list[int]]:
    """`count` random flips in each direction: positions to lose and to gain (noise, no trend)."""
    rng = random.Random(seed)
    resolved = [i for i, r in enumerate(records) if r.resolved]
    unresolved = [i for i, r in enumerate(records) if not r.resolved]
    return rng.sample(resolved, count), rng.sample(unresolved, count)


def write_run(folder: Path, records: Sequence[TaskRecord], logs: bool = False) -> Path:
    """Write `records` as the run folder `folder` (results.jsonl; with `logs`, logs/<item>/patch.diff)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "results.jsonl").open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
    if logs:
        for record in records:
            log_dir = folder / "logs" / Path(record.log_dir).name
            log_dir.mkdir(parents=True, exist_ok=True)
            (log_dir / "patch.diff").write_text(record.patch, encoding="utf-8")
    return folder
