"""Loader for performance tasks: ISO-Bench canonical records (JSONL), and their prompt.

A record (one JSON line) names a repository state and the human's optimizing commit:
`repo, instance_id, created_at, base_commit, head_commit, patch, test_patch,
efficiency_test[], duration_changes, human_performance, patch_functions, test_functions,
api, gt_commit_message, setup_commands, install_commands, notes`, plus the optional
`target_files`, `constraints`, `primary_metric`, `problem_statement` (or `objective`) and
`correctness_tests`. `patch` is the human's change to non-test files, `test_patch` to
test files; `efficiency_test` entries are each either the source of a benchmark script
(several lines, as ISO-Bench and GSO store them), a pytest node id, a `.py` path in the
repository, or a shell command.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from typing import Any

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.task import CheckSpec, Reference, Task
from pytest_ohbench.kinds.swe.loader import _seconds

REQUIRED = ("repo", "instance_id", "base_commit", "patch", "efficiency_test")
# Every field of a perf record the harness knows: the one list the unknown-field warning checks
# against. The columns the perf datasets publish, read or not (a record converted from one of
# them keeps its columns, and none of them is a typo), then the optional ones and the harness's.
ISO_BENCH_FIELDS = frozenset({  # ISO-Bench's canonical schema (v1)
    "repo", "instance_id", "created_at", "base_commit", "head_commit", "patch", "test_patch",
    "patch_functions", "test_functions", "efficiency_test", "problem_statement_oracle",
    "problem_statement_realistic", "duration_changes", "human_performance", "version",
    "setup_commands", "install_commands", "api", "gt_commit_message", "notes",
})
GSO_FIELDS = frozenset({  # gso-bench/gso on Hugging Face
    "instance_id", "repo", "base_commit", "opt_commit", "api", "prob_script", "tests", "hints_text",
    "setup_commands", "install_commands", "created_at", "gt_commit_message", "gt_diff", "arch",
    "instance_image_tag",
})
SWEFFICIENCY_FIELDS = frozenset({  # swefficiency/swefficiency on Hugging Face (SWE-bench's columns and more)
    "repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement", "hints_text",
    "created_at", "version", "PASS_TO_PASS", "FAIL_TO_PASS", "environment_setup_commit", "workload",
    "speedup", "covering_tests", "test_cmd", "rebuild_cmd", "image_name", "single_thread_tests",
})
OPTIONAL_FIELDS = frozenset({  # read by the loader besides the above (see the module docstring)
    "target_files", "constraints", "primary_metric", "objective", "correctness_tests",
})
HARNESS_FIELDS = frozenset({"image", "workdir", "timeout"})
KNOWN_FIELDS = ISO_BENCH_FIELDS | GSO_FIELDS | SWEFFICIENCY_FIELDS | OPTIONAL_FIELDS | HARNESS_FIELDS
_NODE_ID = re.compile(r"^[\w./-]+\.py::\S.*$")
_PY_PATH = re.compile(r"^[\w./-]+\.py$")


@dataclasses.dataclass(frozen=True)
class EfficiencyTest:
    """One efficiency test of a record, in one of four forms."""

    kind: str  # "pytest" | "script" | "path" | "command"
    spec: str  # the node id, script source, path or command
    index: int  # position in the record's efficiency_test list

    @property
    def name(self) -> str:
        """A short, stable name (the key of its timings)."""
        return f"script[{self.index}]" if self.kind == "script" else self.spec

    def files(self) -> list[str]:
        """Repository files this test runs (restored to base before judging); scripts have none."""
        if self.kind == "pytest":
            return [self.spec.split("::", 1)[0]]
        if self.kind == "path":
            return [self.spec]
        if self.kind == "command":
            try:
                words = shlex.split(self.spec)
            except ValueError:
                return []
            return [w for w in words if _PY_PATH.match(w) and not w.startswith(("/", "-"))]
        return []


def is_test_path(path: str) -> bool:
    """True for test files and test configuration: `tests/`/`test/` folders, `test_*.py`,
    `*_test.py`, `conftest.py` and pytest's own ini files."""
    parts = path.split("/")
    name = parts[-1]
    return (
        any(part in ("tests", "test", "testing") for part in parts[:-1])
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
        or name in ("conftest.py", "pytest.ini", "tox.ini")
    )


def parse_efficiency_test(entry: str, index: int) -> EfficiencyTest:
    """Tell the form of an efficiency_test entry: script source, node id, path or command."""
    text = entry.strip()
    if "\n" in text:
        return EfficiencyTest("script", entry, index)
    if _NODE_ID.match(text):
        return EfficiencyTest("pytest", text, index)
    if _PY_PATH.match(text):
        return EfficiencyTest("path", text, index)
    return EfficiencyTest("command", text, index)


@dataclasses.dataclass
class PerfSpec(CheckSpec):
    """What the perf checker needs: the human's change, the tests, and the reference timings."""

    patch: str  # the human's non-test change (the "human" state is base + patch + test_patch)
    test_patch: str
    efficiency_tests: list[EfficiencyTest]
    head_commit: str = ""
    correctness_tests: list[str] = dataclasses.field(default_factory=list)  # [] = the whole test suite
    setup_commands: list[str] = dataclasses.field(default_factory=list)  # before the patches, each state
    install_commands: list[str] = dataclasses.field(default_factory=list)  # after the patches, each state
    duration_changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    human_performance: float | None = None
    target_files: list[str] = dataclasses.field(default_factory=list)
    reference_note: str = ""  # the prompt's paragraph naming the human's commit (suite opt-in)


def _text(row: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = row.get(key)
    if value is None:
        if required:
            raise DatasetError(f"{where}: missing required field '{key}'")
        return ""
    if not isinstance(value, str):
        raise DatasetError(f"{where}: field '{key}' must be a string")
    if required and not value.strip():
        raise DatasetError(f"{where}: field '{key}' is empty")
    return value


def _strings(row: dict[str, Any], key: str, where: str) -> list[str]:
    """A list of strings; null is empty, and a JSON-encoded list (SWE-bench style) is decoded."""
    value = row.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else [value]
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: field '{key}' is not a JSON list: {exc.msg}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{where}: field '{key}' must be a list of strings")
    return value


def _number(row: dict[str, Any], key: str, where: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DatasetError(f"{where}: field '{key}' must be a number")
    return float(value)


def is_perf_row(row: dict[str, Any]) -> bool:
    """True for a perf record (it has efficiency tests); the JSONL dispatcher asks this."""
    return "efficiency_test" in row


def perf_spec(row: dict[str, Any], where: str) -> PerfSpec:
    """Validate a perf record and return its check spec; DatasetError names `where`."""
    missing = [key for key in REQUIRED if key not in row or row[key] is None]
    if missing:
        raise DatasetError(f"{where}: missing required field '{missing[0]}'")
    for key in ("repo", "instance_id", "base_commit", "patch"):
        _text(row, key, where, required=True)
    entries = _strings(row, "efficiency_test", where)
    if not entries or not all(e.strip() for e in entries):
        raise DatasetError(f"{where}: field 'efficiency_test' lists no test (or an empty one), so nothing can be timed")
    _strings(row, "constraints", where)  # prompt fields: checked here so a bad row fails at collection
    for key in ("problem_statement", "objective", "primary_metric", "gt_commit_message"):
        _text(row, key, where)
    changes = row.get("duration_changes") or []
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise DatasetError(f"{where}: field 'duration_changes' must be a list of objects")
    return PerfSpec(
        patch=_text(row, "patch", where),
        test_patch=_text(row, "test_patch", where),
        efficiency_tests=[parse_efficiency_test(entry, i) for i, entry in enumerate(entries)],
        head_commit=_text(row, "head_commit", where),
        correctness_tests=_strings(row, "correctness_tests", where),
        setup_commands=_strings(row, "setup_commands", where),
        install_commands=_strings(row, "install_commands", where),
        duration_changes=changes,
        human_performance=_number(row, "human_performance", where),
        target_files=_strings(row, "target_files", where),
    )


_OWN_TIMES = " (`Execution time: <s>s`, `CPU time: <s>s`)"


def _test_instructions(test: EfficiencyTest, python: str) -> str:
    if test.kind == "pytest":
        return f"- the pytest test `{test.spec}` (only its call is timed): `{python} -m pytest {test.spec}`"
    if test.kind == "path":
        return f"- the script `{test.spec}` in the repository, timed as `{python} {test.spec}`"
    if test.kind == "command":
        return f"- the command `{test.spec}`, timed from start to exit, or by the times it prints{_OWN_TIMES}"
    fence = "````" if "```" in test.spec else "```"
    return (
        f"- this benchmark script, run with `{python}` from the repository root, timed from start to exit "
        f"or by the times it prints{_OWN_TIMES}:\n{fence}python\n{test.spec.rstrip()}\n{fence}"
    )


def perf_prompt(row: dict[str, Any], spec: PerfSpec, python: str = "python3") -> str:
    """The agent's instructions, generated from the record.

    Never the human patch, the head commit or its message: those are only in
    `spec.reference_note`, which a suite adds with `perf.reveal_reference` (reveal_reference()).
    """
    objective = (row.get("problem_statement") or row.get("objective") or "").strip()
    api = row.get("api")
    lines = [
        f"Make the code of this repository ({row['repo']} at commit {row['base_commit'][:12]}, your "
        "working directory) run faster, without changing what it does.",
        "",
    ]
    if objective:
        lines += ["Objective:", objective, ""]
    elif isinstance(api, str) and api.strip():
        lines += [f"Objective: speed up `{api.strip()}` and the code paths the efficiency tests exercise.", ""]
    tests = spec.efficiency_tests
    lines.append(
        f"Your change is judged by the run time of {'this efficiency test' if len(tests) == 1 else 'these efficiency tests'}, "
        "measured on the original code, on your version and on a reference solution, several times each:"
    )
    lines += [_test_instructions(test, python) for test in tests]
    lines.append("")
    if spec.target_files:
        lines.append("Files you may change: " + ", ".join(f"`{f}`" for f in spec.target_files) + ".")
    else:
        lines.append("Files you may change: any source file of the repository, but not its tests.")
    lines += [
        "",
        "Constraints:",
        "- All existing tests must pass.",
        "- Do not change tests, benchmark scripts or test configuration: they are put back before judging.",
        "- Keep the public behaviour and API the same; do not add dependencies.",
    ]
    lines += [f"- {c}" for c in _strings(row, "constraints", row["instance_id"])]
    metric = row.get("primary_metric")
    if isinstance(metric, str) and metric.strip():
        lines += ["", f"Primary metric: {metric.strip()}"]
    return "\n".join(lines).rstrip() + "\n"


def _reference_note(row: dict[str, Any], spec: PerfSpec) -> str:
    message = (row.get("gt_commit_message") or "").strip()
    note = f"Reference: the maintainers optimized this in commit {spec.head_commit or '(not recorded)'}."
    return f"{note}\nIts message:\n{message}\n" if message else note + "\n"


def perf_task(row: dict[str, Any], where: str) -> Task:
    """A Task from an ISO-Bench record: the generated prompt, the perf spec, the human patch
    as the oracle's reference."""
    spec = perf_spec(row, where)
    spec.reference_note = _reference_note(row, spec)
    workdir = row.get("workdir")
    if workdir is not None and not isinstance(workdir, str):
        raise DatasetError(f"{where}: field 'workdir' must be a string")
    return Task(
        instance_id=str(row["instance_id"]),
        kind="perf",
        prompt=perf_prompt(row, spec),
        check=spec,
        reference=Reference(patch=spec.patch),
        repo=str(row["repo"]),
        base_commit=str(row["base_commit"]),
        hints_text=_text(row, "hints_text", where),
        image=row.get("image") or None,
        workdir=workdir or None,
        timeout=_seconds(row, "timeout", where),
        fields=row,
    )


def reveal_reference(task: Task) -> Task:
    """`task` with the human's commit named in its prompt (a suite's `perf.reveal_reference`)."""
    if not isinstance(task.check, PerfSpec) or not task.check.reference_note:
        return task
    return dataclasses.replace(task, prompt=f"{task.prompt}\n{task.check.reference_note}")
