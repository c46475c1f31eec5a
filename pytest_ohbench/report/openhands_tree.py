"""OpenHands' run_infer output tree, for the tools that read it.

    outputs/<dataset>-<split>/<AgentClass>/<model>_maxiter_<N>[_N_<note>]/
        output.jsonl          one EvalOutput per instance: exactly OpenHands' fields
        metadata.json         EvalMetadata: agent class, model config (key masked), max iterations, ...
        llm_completions/<instance_id>/   the agent's logged LLM completions
        infer_logs/instance_<id>.log     the agent's log

The names follow OpenHands' evaluation/utils/shared.py (`make_metadata`): the model part is
the model name after its last `/` with `:` -> `_` and `@` -> `-`; the dataset part is
`<suite>__<dataset file stem>` and the split is `test`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_ohbench.agents.openhands.settings import EvalSettings
from pytest_ohbench.agents.trajectory import raw_log, read_log
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.kinds.rows import load_jsonl

OUTPUTS_DIR = "outputs"
SPLIT = "test"
# OpenHands' EvalOutput, field for field (evaluation/utils/shared.py).
EVAL_OUTPUT_FIELDS = ("instance_id", "test_result", "instruction", "metadata", "history", "metrics", "error", "instance")
EVAL_METADATA_FIELDS = ("agent_class", "llm_config", "agent_config", "max_iterations", "eval_output_dir", "start_time",
                        "git_commit", "dataset", "data_split", "details", "condenser_config")
MASKED = "**********"  # how pydantic writes a SecretStr
LLM_KEYS = ("model", "base_url", "api_version", "temperature", "top_p", "max_input_tokens", "max_output_tokens",
            "num_retries", "input_cost_per_token", "output_cost_per_token", "custom_llm_provider", "drop_params")


def model_path(model: str) -> str:
    """OpenHands' folder name for a model: `openai/gpt-4o:x@y` -> `gpt-4o_x-y`."""
    return model.split("/")[-1].replace(":", "_").replace("@", "-")


def dataset_name(record: TaskRecord) -> str:
    return f"{record.suite}__{Path(record.dataset).stem}".replace("/", "__")


def agent_class(record: TaskRecord, settings: EvalSettings) -> str:
    return settings.agent_class if record.agent.startswith("openhands") else record.agent


def model_of(record: TaskRecord, settings: EvalSettings) -> str:
    llm = settings.llms.get(record.model or "")
    return llm.model if llm else (record.model or record.agent)


def output_dir(record: TaskRecord, settings: EvalSettings, several_attempts: bool = False) -> Path:
    """`<dataset>-<split>/<AgentClass>/<model>_maxiter_<N>[_N_<note>]` for the record.

    With several attempts each has its own folder, `_N_<note>-run_<attempt>`, as OpenHands'
    run_infer.sh names its N_RUNS runs (one output.jsonl line per instance and run)."""
    note = f"{settings.note}-run_{record.attempt}" if several_attempts else settings.note
    note = f"_N_{note}" if note else ""
    return (Path(f"{dataset_name(record)}-{SPLIT}") / agent_class(record, settings)
            / f"{model_path(model_of(record, settings))}_maxiter_{settings.max_iterations}{note}")


def llm_config(record: TaskRecord, settings: EvalSettings) -> dict[str, Any]:
    """The model's section as OpenHands dumps its LLMConfig: the key masked, never written."""
    llm = settings.llms.get(record.model or "")
    if llm is None:
        return {"model": model_of(record, settings), "api_key": None}
    config: dict[str, Any] = {key: getattr(llm, key) for key in LLM_KEYS}
    config["api_key"] = MASKED if llm.api_key else None
    config.update({k: MASKED if k in dict.fromkeys(llm.secrets()) else v for k, v in llm.extra.items()})
    return config


def git_commit(root: Path) -> str:
    """The benchmark checkout's commit ("" outside git)."""
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def eval_metadata(record: TaskRecord, settings: EvalSettings, folder: Path, start_time: str, commit: str) -> dict[str, Any]:
    return {
        "agent_class": agent_class(record, settings),
        "llm_config": llm_config(record, settings),
        "agent_config": settings.agent_config or None,
        "max_iterations": settings.max_iterations,
        "eval_output_dir": str(folder),
        "start_time": start_time,
        "git_commit": commit,
        "dataset": dataset_name(record),
        "data_split": SPLIT,
        "details": {"harness": "pytest-ohbench", "run_id": record.run_id},
        "condenser_config": settings.condenser_config,
    }


def history(record: TaskRecord, root: Path) -> list:
    """The agent's events when its own log is a list (OpenHands' JSON, a CLI's JSONL), else []."""
    if not record.log_dir:
        return []
    path = raw_log(root / record.log_dir, record.agent)
    if path is None:
        return []
    try:
        data = read_log(path)
    except ValueError:  # a log cut short by a kill
        return []
    return data if isinstance(data, list) else []


def metrics(record: TaskRecord, events: list) -> dict[str, Any]:
    """OpenHands' own accumulated metrics from its last event that has them, else the record's."""
    for event in reversed(events):
        if isinstance(event, dict) and isinstance(event.get("llm_metrics"), dict):
            return event["llm_metrics"]
    return {
        "accumulated_cost": record.cost_usd,
        "accumulated_token_usage": {
            "prompt_tokens": record.input_tokens,
            "completion_tokens": record.output_tokens,
            "cache_read_tokens": record.cached_tokens,
        },
    }


def eval_output(record: TaskRecord, root: Path, metadata: dict[str, Any] | None, instance: dict[str, Any] | None) -> dict:
    """One output.jsonl line: OpenHands' EvalOutput, nothing outside it."""
    events = history(record, root)
    return {
        "instance_id": record.instance_id,
        "test_result": {"git_patch": record.patch},
        "instruction": record.instruction,
        "metadata": metadata,
        "history": events,
        "metrics": metrics(record, events),
        "error": record.error if record.outcome.harness_error else None,
        "instance": instance,
    }


def instances(records: Iterable[TaskRecord], root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The dataset rows of the records, by (dataset, instance_id), read again from their files."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for dataset in sorted({r.dataset for r in records if r.dataset}):
        path = root / dataset
        if path.is_file() and path.suffix == ".jsonl":
            for task in load_jsonl(path):
                if not isinstance(task, Exception):
                    rows[(dataset, task.instance_id)] = task.fields
    return rows


def _jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def write_openhands_tree(run_dir: Path, records: list[TaskRecord], root: Path, settings: EvalSettings) -> list[dict]:
    """Write `outputs/...` for the items that ran; returns every EvalOutput line (all folders)."""
    ran = [r for r in records if r.outcome is not Outcome.NOT_RUN]
    rows = instances(ran, root)
    start = min((r.started_at for r in ran), default="")
    start_time = time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(start[:19], "%Y-%m-%dT%H:%M:%S")) if start else ""
    commit = git_commit(root)
    folders: dict[Path, list[TaskRecord]] = {}
    several_attempts = any(r.attempt > 1 for r in ran)
    for record in ran:
        folders.setdefault(output_dir(record, settings, several_attempts), []).append(record)
    lines: list[dict] = []
    for relative, members in folders.items():
        folder = run_dir / OUTPUTS_DIR / relative
        shutil.rmtree(folder, ignore_errors=True)  # a resumed run writes it whole again
        (folder / "infer_logs").mkdir(parents=True)
        (folder / "llm_completions").mkdir()
        metadata = eval_metadata(members[0], settings, folder, start_time, commit)
        (folder / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
        outputs = [eval_output(r, root, metadata, rows.get((r.dataset, r.instance_id))) for r in members]
        _jsonl(folder / "output.jsonl", outputs)
        lines.extend(outputs)
        for record in members:
            logs = root / record.log_dir if record.log_dir else None
            log = next((p for p in (logs / "agent.log", logs / "agent_output.txt") if p.is_file()), None) if logs else None
            (folder / "infer_logs" / f"instance_{record.instance_id}.log").write_text(
                log.read_text(encoding="utf-8", errors="replace") if log else "", encoding="utf-8")
            completions = folder / "llm_completions" / record.instance_id
            if logs and (logs / "completions").is_dir():
                shutil.copytree(logs / "completions", completions)
            else:
                completions.mkdir()
    return lines
