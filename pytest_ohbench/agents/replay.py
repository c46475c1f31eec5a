"""The `replay` agent: submits a recorded patch from a predictions file.

Reads SWE-bench predictions (JSON list, JSON object keyed by instance_id, or JSONL with
`instance_id` and `model_patch`) and OpenHands eval `output.jsonl` (`test_result.git_patch`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from pytest_ohbench.agents.base import AgentConfigError, AgentContext, AgentResult, AgentSettings, AgentStatus, BaseAgent
from pytest_ohbench.core.task import Task


class PredictionsError(ValueError):
    """A predictions file that cannot be read; the message names file (and line)."""


def _patch_of(row: dict[str, Any], where: str) -> str:
    if "model_patch" in row:
        patch = row["model_patch"]
    elif isinstance(row.get("test_result"), dict) and "git_patch" in row["test_result"]:
        patch = row["test_result"]["git_patch"]
    else:
        raise PredictionsError(f"{where}: no 'model_patch' or 'test_result.git_patch' field")
    if patch is not None and not isinstance(patch, str):
        raise PredictionsError(f"{where}: the patch must be a string")
    return patch or ""


def _rows(path: Path) -> list[tuple[dict[str, Any], str, str]]:
    """The file's entries with where each came from (`file:line`, and `line N` / `entry N`):
    whole-file JSON first, else JSONL."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None  # not one JSON document: read it as JSON lines
    if isinstance(data, (list, dict)):
        if isinstance(data, dict) and "instance_id" not in data:
            data = [{"instance_id": key, **value} for key, value in data.items() if isinstance(value, dict)]
        rows = data if isinstance(data, list) else [data]
        return [(row, f"{path}: entry {i + 1}", f"entry {i + 1}") for i, row in enumerate(rows)]
    result = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result.append((json.loads(line), f"{path}:{number}", f"line {number}"))
        except json.JSONDecodeError as exc:
            raise PredictionsError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
    return result


@functools.lru_cache(maxsize=8)
def read_predictions(path: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """instance_id -> patch, from any supported predictions file, and one line per duplicate id.

    A duplicate keeps the last entry, as the SWE-bench harness does.
    """
    if not path.is_file():
        raise PredictionsError(f"{path}: predictions file not found")
    predictions: dict[str, str] = {}
    first: dict[str, str] = {}
    duplicates: list[str] = []
    for row, where, place in _rows(path):
        if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
            raise PredictionsError(f"{where}: expected an object with an 'instance_id'")
        instance_id = row["instance_id"]
        if instance_id in first:
            duplicates.append(
                f"{where}: duplicate prediction for '{instance_id}' (first at {first[instance_id]}); the last one is used"
            )
        first.setdefault(instance_id, place)
        predictions[instance_id] = _patch_of(row, where)
    return predictions, tuple(duplicates)


def load_predictions(path: Path) -> dict[str, str]:
    """instance_id -> patch, from any supported predictions file."""
    return read_predictions(path)[0]


def prediction_warnings(path: Path, instance_ids: list[str]) -> list[str]:
    """What to warn about before a replay: duplicate ids, and the selected instances with no entry."""
    predictions, duplicates = read_predictions(path)
    selected = list(dict.fromkeys(instance_ids))
    missing = [instance_id for instance_id in selected if instance_id not in predictions]
    messages = list(duplicates)
    if missing:
        shown = ", ".join(missing[:20]) + (f", ... (+{len(missing) - 20})" if len(missing) > 20 else "")
        messages.append(
            f"{path}: no prediction for {len(missing)} of {len(selected)} selected instances: {shown} "
            "(each is judged empty_patch, reason no_prediction)"
        )
    return messages


class ReplayAgent(BaseAgent):
    """Returns the patch recorded for the same instance_id in `--ohbench-predictions`."""

    name = "replay"

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        if settings.predictions is None:
            raise AgentConfigError("--agent replay needs --ohbench-predictions FILE")
        self.path = settings.predictions

    def needs_image(self, task: Task) -> bool:
        """An instance without a prediction, or with an empty one, is judged without a container."""
        try:
            return bool(load_predictions(self.path).get(task.instance_id, "").strip())
        except (OSError, PredictionsError):
            return True  # the item reports the file's problem itself

    def run(self, context: AgentContext) -> AgentResult:
        task = context.task
        predictions = load_predictions(self.path)
        if task.instance_id not in predictions:
            # SWE-bench's convention: an instance without a prediction is a failure, not an error.
            return AgentResult(
                patch="", status=AgentStatus.NO_PREDICTION, error=f"no prediction for {task.instance_id} in {self.path}"
            )
        return AgentResult(patch=predictions[task.instance_id])
