"""A task kind and a runtime from another package, through entry points alone, end to end.

The test writes a small distribution next to the run (a module and its dist-info with two
entry points: `toy` in `pytest_ohbench.kinds`, `toybox` in `pytest_ohbench.runtimes`), puts it
on the path of a real pytest run, and runs a dataset of its rows on its runtime with the
oracle and the noop agents. Nothing of the harness names the toy: collection, the check,
the record, summary.json, the terminal summary and report.html all come from the kind, the
workspaces from the runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TOY = '''
"""A toy kind: write a word into answer.txt; and a toy runtime: a folder per workspace."""

import dataclasses
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pytest_ohbench.core.kinds import TaskKind
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.task import CheckSpec, Reference, Task
from pytest_ohbench.kinds.base import CheckResult
from pytest_ohbench.runtime.base import ExecResult
from pytest_ohbench.runtime.provider import RuntimeProvider


@dataclasses.dataclass
class WordSpec(CheckSpec):
    word: str = ""


class WordChecker:
    def check(self, context):
        spec = context.task.check
        if context.agent_runtime is not None:
            return self._judge(context.agent_runtime, spec)
        with context.fresh_runtime() as runtime:
            return self._judge(runtime, spec)

    @staticmethod
    def _judge(runtime, spec):
        try:
            written = runtime.read_file(runtime.workdir + "/answer.txt").decode().strip()
        except FileNotFoundError:
            written = ""
        if written == spec.word:
            return CheckResult(Outcome.RESOLVED, details={"written": written})
        return CheckResult(Outcome.UNRESOLVED, detail=f"answer.txt holds {written!r}, not {spec.word!r}",
                           reason="wrong_word", details={"written": written})


class ToyKind(TaskKind):
    name = "toy"
    checker = WordChecker
    row_priority = 99
    known_fields = frozenset({"toy_id", "word"})
    host_workspace = True

    def claims_row(self, row):
        return "toy_id" in row

    def task_from_row(self, row, where):
        word = row["word"]
        return Task(instance_id=row["toy_id"], kind="toy", prompt=f"Write the word {word} into answer.txt.",
                    check=WordSpec(word=word), reference=Reference(command=f"printf %s {word} > answer.txt"),
                    workdir="/work", fields=row)

    def summary_section(self, records):
        return {"words": len(records), "written": sum(r.resolved for r in records)}

    def terminal_lines(self, section):
        return [f"toy: {section['written']} of {section['words']} words written"]

    def report_section(self, section):
        return f"<section id='ohbench-toy'>toy words written: {section['written']}/{section['words']}</section>"


class Box:
    """A workspace: a folder standing for the sandbox's /, commands as subprocesses in it."""

    def __init__(self, workdir):
        self.root = Path(tempfile.mkdtemp(prefix="toybox-"))
        self.workdir = workdir
        Path(self.path(workdir)).mkdir(parents=True)
        (self.root / "STARTED_BY_TOYBOX").write_text("yes")

    def path(self, path):
        return str(self.root / path.lstrip("/"))

    def execute(self, command, timeout=None, cwd=None, env=None):
        started = time.monotonic()
        done = subprocess.run(["bash", "-c", command], cwd=self.path(cwd or self.workdir), capture_output=True,
                              text=True, timeout=timeout, env={"PATH": "/usr/bin:/bin", **(env or {})})
        return ExecResult(done.returncode, done.stdout + done.stderr, duration=time.monotonic() - started)

    def write_file(self, path, content, mode=0o644):
        target = Path(self.path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)

    def write_files(self, files):
        for path, content in files.items():
            self.write_file(path, content)

    def read_file(self, path):
        return Path(self.path(path)).read_bytes()

    def read_tree(self, path):
        base = Path(self.path(path))
        return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}

    def write_tree(self, path, source):
        shutil.copytree(source, self.path(path), dirs_exist_ok=True)

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


class ToyBox(RuntimeProvider):
    name = "toybox"
    isolated = False
    started = 0

    @property
    def label(self):
        return "toybox"

    def start_agent(self, key, task, suite, image, *, network=None, mounts=None, check_ahead=False, prepare=None):
        return Box(task.workdir)

    def check_runtime(self, key, task, suite, *, cpuset=None, prepare=None):
        return Box(task.workdir)
'''

ENTRY_POINTS = """\
[pytest_ohbench.kinds]
toy = toy_plugin:ToyKind

[pytest_ohbench.runtimes]
toybox = toy_plugin:ToyBox
"""


def make_distribution(root: Path) -> Path:
    """A distribution on disk (a module and its dist-info): what `pip install` of a plug-in leaves."""
    site = root / "site"
    (site / "toy_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "toy_plugin.py").write_text(TOY)
    (site / "toy_plugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (site / "toy_plugin-0.1.dist-info" / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


def run(root: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "PYTEST_ADDOPTS": ""}
    return subprocess.run([sys.executable, "-m", "pytest", "toys", "-p", "no:cacheprovider", "--ohbench-runtime", "toybox", *args],
                          cwd=root, capture_output=True, text=True, timeout=300, env=env)


def test_a_kind_and_a_runtime_from_another_package_run_end_to_end(tmp_path: Path) -> None:
    site = make_distribution(tmp_path)
    (tmp_path / "toys").mkdir()
    (tmp_path / "toys" / "suite.yaml").write_text("name: toys\n")
    rows = [{"toy_id": "toy-1", "word": "apple"}, {"toy_id": "toy-2", "word": "pear"}]
    (tmp_path / "toys" / "words.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    oracle = run(tmp_path, site, "--agent", "oracle", "--ohbench-run-id", "oracle")
    assert oracle.returncode == 0, oracle.stdout[-3000:] + oracle.stderr[-2000:]
    assert "toy: 2 of 2 words written" in oracle.stdout
    records = [json.loads(line) for line in (tmp_path / "reports" / "oracle" / "results.jsonl").read_text().splitlines()]
    assert {(r["instance_id"], r["kind"], r["outcome"], r["engine"]) for r in records} == {
        ("toy-1", "toy", "resolved", "toybox"), ("toy-2", "toy", "resolved", "toybox")}
    summary = json.loads((tmp_path / "reports" / "oracle" / "summary.json").read_text())
    assert summary["toy"] == {"words": 2, "written": 2}
    assert "toy words written: 2/2" in (tmp_path / "reports" / "oracle" / "report.html").read_text()

    noop = run(tmp_path, site, "--agent", "noop", "--ohbench-run-id", "noop")
    assert noop.returncode == 1, noop.stdout[-3000:]
    records = [json.loads(line) for line in (tmp_path / "reports" / "noop" / "results.jsonl").read_text().splitlines()]
    assert {r["outcome"] for r in records} == {"unresolved"}
    assert {r["reason"] for r in records} == {"wrong_word: answer.txt holds '', not 'apple'", "wrong_word: answer.txt holds '', not 'pear'"}
    assert "toy: 0 of 2 words written" in noop.stdout

    # Without the distribution on the path the runtime is unknown: a usage error naming the known ones.
    bare = subprocess.run([sys.executable, "-m", "pytest", "toys", "-p", "no:cacheprovider", "--ohbench-runtime", "toybox",
                           "--agent", "noop"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTEST_ADDOPTS": ""})
    assert bare.returncode == 4 and "--ohbench-runtime: expected one of docker, local, got 'toybox'" in bare.stderr
