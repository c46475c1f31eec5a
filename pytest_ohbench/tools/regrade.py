"""Re-grade a run folder offline: every verdict again from the items' saved logs, no Docker.

Each record goes back to its kind's checker (`regrade`, kinds/base.py), which reads the saved
test output and report the way the live check read them and asks the same judge; the new
result goes into a copy of the record the way the live check records it (`record_check`).
Records without a judged test run (an empty patch, a timeout, an error, a kind that cannot
re-grade) are kept as they are.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.kinds import kind_named
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.kinds.base import record_check
from pytest_ohbench.report.run_folder import RESULTS_FILE, RunFolder
from pytest_ohbench.report.run_info import RUN_INFO_FILE
from pytest_ohbench.report.summary import write_summary


@dataclasses.dataclass
class Regraded:
    """One record and its verdict re-graded (None: kept as recorded, `problem` says why when
    its logs could not be read)."""

    before: TaskRecord
    after: TaskRecord | None = None
    problem: str = ""

    @property
    def changed(self) -> bool:
        """True when the verdict differs: the outcome or the reason (which names the failing tests)."""
        after = self.after
        return after is not None and (after.outcome, after.reason) != (self.before.outcome, self.before.reason)

    @property
    def record(self) -> TaskRecord:
        """The record as it stands after the re-grade."""
        return self.after or self.before

    def to_dict(self) -> dict[str, Any]:
        after = self.after
        return {
            "instance_id": self.before.instance_id, "model": self.before.model, "agent": self.before.agent,
            "attempt": self.before.attempt, "regraded": after is not None, "changed": self.changed,
            "before": {"outcome": self.before.outcome.value, "reason": self.before.reason},
            "after": None if after is None else {"outcome": after.outcome.value, "reason": after.reason},
            "problem": self.problem,
        }


def item_name(record: TaskRecord) -> str:
    """How a line names the item: its instance, model and attempt."""
    return record.instance_id + (f" [{record.model}]" if record.model else "") + (f" (attempt {record.attempt})" if record.attempt > 1 else "")


def regrade_record(record: TaskRecord, folder: Path, skip_rule: str | None = None) -> Regraded:
    """One record re-graded from its logs under `folder` (`logs/<item>/`, wherever the folder now is)."""
    try:
        checker = kind_named(record.kind).checker()
    except LookupError as exc:
        return Regraded(record, problem=str(exc))
    hook = getattr(checker, "regrade", None)
    if hook is None:
        return Regraded(record)
    log_dir = folder / "logs" / Path(record.log_dir).name
    after = TaskRecord.from_dict(json.loads(json.dumps(record.to_dict())))  # a deep copy
    try:
        result = hook(after, log_dir, skip_rule)
    except (OSError, ValueError) as exc:
        return Regraded(record, problem=f"{log_dir}: cannot read the saved test run: {exc}")
    except HarnessError as exc:
        return Regraded(record, problem=f"{item_name(record)}: {exc.message}")
    if result is None:
        return Regraded(record)
    record_check(after, result)
    return Regraded(record, after)


def regrade_run(folder: Path, records: Iterable[TaskRecord], skip_rule: str | None = None) -> list[Regraded]:
    """Every record of a run folder re-graded (`skip_rule` None: each with the rule it was graded with)."""
    return [regrade_record(record, folder, skip_rule) for record in records]


def report_lines(folder: Path, results: list[Regraded], skip_rule: str | None) -> list[str]:
    """What the command prints: a headline, then each changed item and each that could not be read."""
    regraded = [r for r in results if r.after is not None]
    changed = [r for r in results if r.changed]
    problems = [r for r in results if r.problem]
    rule = f"skip rule {skip_rule}" if skip_rule else "the skip rule each item was graded with"
    lines = [f"re-graded {len(regraded)} of {len(results)} item(s) of {folder} with {rule}: "
             f"{len(changed)} changed, {len(results) - len(regraded)} kept as recorded"]
    for result in changed:
        assert result.after is not None
        lines.append(f"  changed {item_name(result.before)}: {result.before.outcome.value} -> {result.after.outcome.value}"
                     + (f" ({result.after.reason})" if result.after.reason else ""))
        if result.before.reason:
            lines.append(f"    was: {result.before.reason}")
    lines += [f"  not re-graded {item_name(r.before)}: {r.problem}" for r in problems]
    return lines


def write_regraded(source: Path, target: Path, results: list[Regraded], wall_seconds: float | None = None) -> None:
    """A run folder at `target` holding the re-graded records: results.jsonl, summary.json and the
    source's run.json, so `compare` and `report` work on it (the logs stay in `source`)."""
    if target.resolve() == source.resolve():
        raise ValueError(f"{target}: the re-graded run goes to a new folder, not over the run it came from")
    if (target / RESULTS_FILE).exists():
        raise ValueError(f"{target}: already holds a run")
    folder = RunFolder(target.parent, target.name)
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.rewrite(r.record.to_dict() for r in results)
    if (source / RUN_INFO_FILE).is_file():
        shutil.copyfile(source / RUN_INFO_FILE, target / RUN_INFO_FILE)
    write_summary(target, [r.record for r in results], wall_seconds)
