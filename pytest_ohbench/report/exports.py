"""Exports in the run folder: SWE-bench predictions, OpenHands' output.jsonl and run_infer tree, run_batch's files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pytest_ohbench.agents.openhands.settings import EvalSettings
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.report.batch import write_batch_outputs
from pytest_ohbench.report.openhands_tree import write_openhands_tree

PREDICTIONS_FILE = "predictions.jsonl"
OPENHANDS_OUTPUT_FILE = "output.jsonl"


def model_name(record: TaskRecord) -> str:
    """`agent` or `agent/model-section`: the SWE-bench model_name_or_path."""
    return f"{record.agent}/{record.model}" if record.model else record.agent


def prediction(record: TaskRecord) -> dict[str, str]:
    """A SWE-bench prediction: the official harness can regrade it."""
    return {"instance_id": record.instance_id, "model_name_or_path": model_name(record), "model_patch": record.patch}


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows), encoding="utf-8")


def write_exports(run_dir: Path, records: list[TaskRecord], root: Path, settings: EvalSettings) -> None:
    """predictions.jsonl, outputs/ (OpenHands' run_infer tree) and output.jsonl (every EvalOutput line of it)."""
    ran = [r for r in records if r.outcome is not Outcome.NOT_RUN]
    _write_jsonl(run_dir / PREDICTIONS_FILE, (prediction(r) for r in ran))
    _write_jsonl(run_dir / OPENHANDS_OUTPUT_FILE, write_openhands_tree(run_dir, ran, root, settings))
    write_batch_outputs(run_dir, ran, root)  # prompt, GitTaskBench and Harbor tasks: run_batch's files
