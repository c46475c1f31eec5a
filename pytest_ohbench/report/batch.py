"""run_batch-compatible outputs in the run folder: batch_results.jsonl, trajectories/, batch_run.log.

OpenHands' `run_batch.py` (used with GitTaskBench) writes one JSON line per prompt file; a
run of prompt, GitTaskBench or Harbor tasks writes the same, from the records, on the
controller. `status` is the agent run's, as the script writes it: `success` (the agent
finished, exit code 0), `failed`, `timeout` or `error`; `return_code` is -1 on timeout or
error. Whether the check passed is in the extra fields `outcome` and `resolved`.
--ohbench-resume reruns the tasks whose status was not `success`, as the script skips the
ones that succeeded.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

from pytest_ohbench.agents.trajectory import TRAJECTORY, raw_log
from pytest_ohbench.core.kinds import kind_named, registered
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord, safe_name

BATCH_RESULTS_FILE = "batch_results.jsonl"
BATCH_LOG_FILE = "batch_run.log"
TRAJECTORIES_DIR = "trajectories"
SUCCESS, FAILED, TIMEOUT, ERROR = "success", "failed", "timeout", "error"
# run_batch's fields, in its order; each line then adds the check's verdict.
BATCH_FIELDS = (
    "task_name", "prompt_file", "status", "return_code", "elapsed_time_seconds", "stdout", "stderr",
    "total_cost", "total_input_tokens", "total_output_tokens", "total_tokens", "cache_read_tokens",
    "cache_write_tokens", "session_id",
)


def batch_status(record: TaskRecord) -> str:
    """run_batch's status of the agent run: success, failed, timeout or error."""
    if record.outcome is Outcome.AGENT_TIMEOUT or record.agent_status == "timeout":
        return TIMEOUT
    if record.outcome.harness_error or record.outcome is Outcome.NOT_RUN:
        return ERROR
    if record.agent_status == "finished" and record.agent_return_code in (None, 0):
        return SUCCESS
    return FAILED


def kept_on_resume(record: TaskRecord) -> bool:
    """Whether --ohbench-resume keeps a record: a batch task's if it succeeded, others' if judged."""
    if is_batch(record):
        return batch_status(record) == SUCCESS
    return record.outcome.judged


def is_batch(record: TaskRecord) -> bool:
    """True for a record of a kind run_batch's files hold (prompt, GitTaskBench, Harbor tasks)."""
    kind = registered().get(record.kind)
    return kind is not None and kind.batch


def batch_names(record: TaskRecord, root: Path) -> tuple[str, str]:
    """(task_name, prompt_file) as run_batch writes them, by the record's kind (a prompt: the
    file's name and path; GitTaskBench: `<task>.md` and its query.json; Harbor: the folder
    and its instruction.md)."""
    source = Path(record.dataset)
    source = source if source.is_absolute() else root / source
    return kind_named(record.kind).batch_names(record, source)


def batch_line(record: TaskRecord, root: Path) -> dict[str, Any]:
    """One batch_results.jsonl line: run_batch's fields, then the check's verdict."""
    status = batch_status(record)
    return_code = -1 if status in (TIMEOUT, ERROR) else record.agent_return_code
    if return_code is None:  # an agent that is not a process (noop, oracle returning a patch)
        return_code = 0 if status == SUCCESS else 1
    stderr = record.agent_stderr
    if status == ERROR and not stderr:
        stderr = f"Batch script error during task execution: {record.error or record.outcome.value}"
    return {
        "task_name": batch_names(record, root)[0],
        "prompt_file": batch_names(record, root)[1],
        "status": status,
        "return_code": return_code,
        "elapsed_time_seconds": round(record.durations.get("agent", 0.0), 2),
        "stdout": record.agent_stdout,
        "stderr": stderr,
        "total_cost": record.cost_usd,
        "total_input_tokens": record.input_tokens,
        "total_output_tokens": record.output_tokens,
        "total_tokens": record.input_tokens + record.output_tokens,
        "cache_read_tokens": record.cached_tokens,
        "cache_write_tokens": 0,  # not reported by the agents' usage blocks
        "session_id": record.agent_session_id or None,
        "outcome": record.outcome.value,
        "resolved": record.resolved,
        "model": record.model,
        "nodeid": record.nodeid,
    }


def trajectory_name(record: TaskRecord) -> str:
    """The file name under trajectories/: the agent's session id, else the item's name."""
    item = record.nodeid.split("::")[-1]
    return safe_name(record.agent_session_id or item) + ".json"


def copy_trajectory(record: TaskRecord, root: Path, folder: Path) -> bool:
    """trajectories/<name>.json: the agent's own trajectory (as it wrote it), else its
    trajectory.json, else its log as {"log": ...}."""
    logs = root / record.log_dir if record.log_dir else None
    if logs is None or not logs.is_dir():
        return False
    target = folder / trajectory_name(record)
    own = raw_log(logs, record.agent) or logs / TRAJECTORY
    if own.is_file():
        shutil.copyfile(own, target)
        return True
    if (logs / "agent.log").is_file():
        text = (logs / "agent.log").read_text(encoding="utf-8", errors="replace")
        target.write_text(json.dumps({"task_name": batch_names(record, root)[0], "agent": record.agent, "log": text}, indent=2))
        return True
    return False


def _stamp(iso: str | None) -> str:
    """run_batch's logging time format (UTC) from a record's ISO timestamp."""
    try:
        moment = datetime.datetime.fromisoformat(iso or "")
    except ValueError:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S,000")


def batch_log(records: list[TaskRecord], lines: list[dict[str, Any]], run_dir: Path) -> str:
    """batch_run.log: the run's steps in run_batch's log format, from the records."""
    first = min((r.started_at for r in records), default=None)
    last = max((r.finished_at or r.started_at for r in records), default=None)
    out = [f"{_stamp(first)} - INFO - Starting batch run...", f"{_stamp(first)} - INFO - Found {len(records)} prompt files."]
    for record, line in zip(records, lines, strict=True):
        start, end = _stamp(record.started_at), _stamp(record.finished_at or record.started_at)
        level = "INFO" if line["status"] in (SUCCESS, FAILED) else "ERROR"
        out += [
            f"{start} - INFO - --- Running task: {line['task_name']} ---",
            f"{end} - {level} - --- Finished task: {line['task_name']} ({line['status']}) ---",
            f"{end} - INFO -     Time: {line['elapsed_time_seconds']:.2f}s",
            f"{end} - INFO -     Cost: ${line['total_cost']}",
            f"{end} - INFO -     Input Tokens: {line['total_input_tokens']}",
            f"{end} - INFO -     Output Tokens: {line['total_output_tokens']}",
            f"{end} - INFO -     Check: {line['outcome']}",
        ]
        if record.error:
            out.append(f"{end} - {level} -     Error: {record.error}")
    out += [
        f"{_stamp(last)} - INFO - " + "-" * 30,
        f"{_stamp(last)} - INFO - Batch processing complete.",
        f"{_stamp(last)} - INFO - Results saved to: {run_dir / BATCH_RESULTS_FILE}",
        f"{_stamp(last)} - INFO - Trajectories saved in: {run_dir / TRAJECTORIES_DIR}",
    ]
    return "\n".join(out) + "\n"


def write_batch_outputs(run_dir: Path, records: list[TaskRecord], root: Path) -> None:
    """batch_results.jsonl, trajectories/ and batch_run.log for the batch tasks that ran."""
    ran = [r for r in records if is_batch(r) and r.outcome is not Outcome.NOT_RUN]
    if not ran:
        return
    lines = [batch_line(r, root) for r in ran]
    (run_dir / BATCH_RESULTS_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    trajectories = run_dir / TRAJECTORIES_DIR
    trajectories.mkdir(exist_ok=True)
    for record in ran:
        copy_trajectory(record, root, trajectories)
    (run_dir / BATCH_LOG_FILE).write_text(batch_log(ran, lines, run_dir), encoding="utf-8")
