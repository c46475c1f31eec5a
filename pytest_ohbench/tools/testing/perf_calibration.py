"""A perf task whose speedups are known in advance, for noise calibration and tests.

`calib.work.spin()` does `SCALE` units of pure-Python work, so a patch that changes `SCALE`
changes the run time by exactly that factor (the benchmark script times `spin()` alone and
prints GSO's `Execution time: <s>s` and its `CPU time: <s>s`). The base has SCALE = 1365; `scale_patch(1300)` is a
1.05x speedup, `scale_patch(1050)` 1.3x, and the record's human patch (SCALE = 273) 5x.

    write_calibration_suite(folder)   # suite.yaml, Dockerfile, repos/calib, perf.jsonl
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from pytest_ohbench.tools.testing.gitrepo import DOCKERFILE, base_checkout, diff_for

BASE_SCALE = 1365
HUMAN_SCALE = 273
UNIT_LOOPS = 400  # loop iterations per unit: 1365 units take about 0.05-0.1 s

WORK = '''"""A fixed amount of pure-Python work."""

SCALE = {scale}


def spin(units: int | None = None) -> int:
    """Do `units` (default SCALE) units of work; the result depends only on `units`."""
    total = 0
    for i in range((SCALE if units is None else units) * {loops}):
        total = (total + i * i) % 1000003
    return total
'''
TESTS = '''from calib.work import spin


def test_spin_is_deterministic():
    assert spin(3) == spin(3)


def test_spin_of_one_unit():
    assert spin(1) == {one}


def test_spin_of_nothing():
    assert spin(0) == 0
'''
BENCHMARK = '''"""Benchmark: one spin() at the module's SCALE."""
import time

from calib.work import spin

wall, cpu = time.perf_counter(), time.process_time()
spin()
print(f"Execution time: {time.perf_counter() - wall:.6f}s")
print(f"CPU time: {time.process_time() - cpu:.6f}s")
'''
SUITE_YAML = """name: perf-calibration
datasets: ["perf.jsonl"]
image:
  pull: false
  dockerfile: Dockerfile
  context: "repos/{repo_name}"
  base: %s
container:
  memory: 512m
timeouts:
  task: 600
  agent: 60
  tests: 120
"""


def _one_unit() -> int:
    total = 0
    for i in range(UNIT_LOOPS):
        total = (total + i * i) % 1000003
    return total


def repo_files(scale: int = BASE_SCALE) -> dict[str, str]:
    return {
        "calib/__init__.py": '"""calib: work of a known size."""\n',
        "calib/work.py": WORK.format(scale=scale, loops=UNIT_LOOPS),
        "tests/test_work.py": TESTS.format(one=_one_unit()),
        ".dockerignore": "**/__pycache__\n**/*.pyc\n**/.pytest_cache\n.dockerignore\n",
    }


def scale_patch(scale: int, repo: Path) -> str:
    """The git diff that sets SCALE to `scale` in the calibration repository at `repo`."""
    with tempfile.TemporaryDirectory(prefix="ohbench-calib-") as tmp:
        return diff_for(repo, Path(tmp) / "repo", {"calib/work.py": WORK.format(scale=scale, loops=UNIT_LOOPS)})


def write_calibration_suite(root: Path, base_image: str = "ohbench/base:trixie") -> dict[str, str]:
    """Write the suite into `root`; returns its record (as a dict) under "record" and patches."""
    repo = root / "repos" / "calib"
    for name, text in repo_files().items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (root / "Dockerfile").write_text(DOCKERFILE)  # as the bundled suites'
    (root / "suite.yaml").write_text(SUITE_YAML % base_image)
    with tempfile.TemporaryDirectory(prefix="ohbench-calib-") as tmp:
        base = base_checkout(repo, Path(tmp) / "repo")
    record = {
        "repo": "ohbench/calib",
        "instance_id": "ohbench__calib-perf-1",
        "created_at": "2024-01-01T00:00:00Z",
        "base_commit": base,
        "head_commit": "",
        "patch": scale_patch(HUMAN_SCALE, repo),
        "test_patch": "",
        "efficiency_test": [BENCHMARK],
        "duration_changes": [],
        "human_performance": BASE_SCALE / HUMAN_SCALE,
        "target_files": ["calib/work.py"],
        "problem_statement": "`calib.work.spin` is slow.",
    }
    (root / "perf.jsonl").write_text(json.dumps(record) + "\n")
    return {
        "record": json.dumps(record),
        "x1.05": scale_patch(1300, repo),
        "x1.3": scale_patch(1050, repo),
        "human": str(record["patch"]),
    }
