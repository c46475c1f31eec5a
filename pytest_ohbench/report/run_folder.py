"""The run folder: `reports/<run-id>/` with results.jsonl, logs/, and `reports/latest`; reading results back."""

from __future__ import annotations

import datetime
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_ohbench.core.record import TaskRecord, safe_name

RESULTS_FILE = "results.jsonl"
LATEST_LINK = "latest"
IN_USE_FILE = ".controller"  # "<host>:<pid>" of the session writing the folder; gone when it ends
NO_MODEL = "-"  # how a record without an LLM (model None) is shown and grouped


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a short random suffix."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"




class RunFolder:
    """Paths of one run, and the append-only results file written by the controller."""

    def __init__(self, reports_dir: Path, run_id: str) -> None:
        self.run_id = run_id
        self.path = reports_dir / run_id
        self.results_path = self.path / RESULTS_FILE

    def create(self, controller: str = "") -> None:
        """Make the folder, mark it in use, and point `latest` at it (a relative symlink, replaced atomically)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if controller:
            (self.path / IN_USE_FILE).write_text(controller, encoding="utf-8")
        latest = self.path.parent / LATEST_LINK
        temporary = self.path.parent / f".{LATEST_LINK}.{os.getpid()}"
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        temporary.symlink_to(self.run_id, target_is_directory=True)
        os.replace(temporary, latest)

    def release(self) -> None:
        """The session is over: the folder is no longer in use."""
        (self.path / IN_USE_FILE).unlink(missing_ok=True)

    def log_dir(self, item_name: str) -> Path:
        """`logs/<item>/`, created on demand (workers write their own logs)."""
        path = self.path / "logs" / safe_name(item_name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def append(self, record: dict[str, Any]) -> None:
        """Append one line and flush it to disk, so a killed run keeps every finished item."""
        with self.results_path.open("a+b") as handle:
            # A run killed mid-write leaves a cut last line: start ours on a line of its own.
            handle.seek(0, os.SEEK_END)
            if handle.tell():
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
            handle.write((json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace results.jsonl atomically (after a resume or retries: one line per item)."""
        temporary = self.results_path.with_suffix(".jsonl.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, sort_keys=True) + "\n")
        os.replace(temporary, self.results_path)


def load_records(run_dir: Path) -> list[TaskRecord]:
    """Every record of `run_dir/results.jsonl`, in file order (duplicates kept).

    A malformed line raises ValueError naming file:line, except a cut-off last line (no
    newline at its end): a run killed while writing leaves one, and its item reruns on resume.
    """
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results (is {run_dir} a run folder?)")
    # Bytes, decoded line by line: a cut can also split a multi-byte character.
    data = path.read_bytes()
    lines = data.split(b"\n")
    cut_last = not data.endswith(b"\n")  # split leaves b"" last when the file ends cleanly
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = TaskRecord.from_dict(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, TypeError, AttributeError) as exc:
            if cut_last and number == len(lines):
                break
            raise ValueError(f"{path}:{number}: not a result record: {exc}") from None
        records.append(record)
    return records


def spent_usd(results_path: Path) -> float:
    """Total cost recorded so far in a results.jsonl that may be being appended to."""
    if not results_path.is_file():
        return 0.0
    total = 0.0
    for line in results_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            total += float(json.loads(line).get("cost_usd", 0.0))
        except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
            continue  # a line being written right now
    return total


def record_key(record: TaskRecord) -> tuple[str, str, str, str, str, int]:
    """What identifies one item across retries and resumes: not the node id, which changes
    with the number of models (`id` vs `id[gpt]`)."""
    return (record.suite, record.dataset, record.instance_id, record.model or NO_MODEL, record.agent, record.attempt)


def latest_records(records: Iterable[TaskRecord]) -> list[TaskRecord]:
    """One record per item and attempt: the last one written wins (retries, resume)."""
    latest: dict[tuple[str, str, str, str, str, int], TaskRecord] = {}
    for record in records:
        latest.pop(record_key(record), None)  # re-insert: order follows the winning record
        latest[record_key(record)] = record
    return list(latest.values())
