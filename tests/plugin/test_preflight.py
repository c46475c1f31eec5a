"""--ohbench-preflight: before the first item, every image the selected items need is looked up
(here, in a tar, pullable, buildable); a run naming one that cannot be had stops at once with
the list, serial or under xdist, and `off` runs the items anyway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tinysuite import make_tiny_suite

pytestmark = pytest.mark.docker

ABSENT = "ohbench-preflight/absent:1"


@pytest.fixture
def project(tmp_path: Path, base_image: str) -> Path:
    """Three suites: a buildable one, one naming images without a Dockerfile (one here, one
    absent), one whose Dockerfile's base image is absent."""
    make_tiny_suite(tmp_path / "suites" / "tiny")
    row = json.loads((tmp_path / "suites" / "tiny" / "data.jsonl").read_text())
    named = tmp_path / "suites" / "named"
    named.mkdir()
    (named / "suite.yaml").write_text("name: named\nimage: {pull: false}\n")
    rows = [{**row, "instance_id": "named__absent", "image": ABSENT}, {**row, "instance_id": "named__present", "image": base_image}]
    (named / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    nobase = tmp_path / "suites" / "nobase"
    make_tiny_suite(nobase)
    (nobase / "suite.yaml").write_text((nobase / "suite.yaml").read_text().replace("name: tiny", "name: nobase").replace(
        "  dockerfile: Dockerfile\n", "  dockerfile: Dockerfile\n  base: ohbench-preflight/no-base:1\n"))
    (nobase / "data.jsonl").write_text(json.dumps({**row, "instance_id": "nobase__calc-1"}) + "\n")
    return tmp_path


def run(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    command = [sys.executable, "-m", "pytest", "suites", "--agent", "oracle", "-p", "no:cacheprovider", *args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTEST_ADDOPTS": ""})
    return result, time.monotonic() - started


EXPECTED = [
    "ERROR: preflight: 2 image(s) the selected items need cannot be had; no item was run (--ohbench-preflight off runs them anyway):",
    f"  suites/named/data.jsonl:1 (named__absent): {ABSENT} is not here (no tar holds it, pulls are off) and the suite has no Dockerfile to build",
    "  suites/nobase/data.jsonl:1 (nobase__calc-1): base image ohbench-preflight/no-base:1 of the build is not here "
    "(run scripts/bootstrap.sh, or pull it)",
]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_missing_image_stops_the_run_before_any_item_with_the_list(project: Path, workers: list[str]) -> None:
    result, seconds = run(project, *workers)
    assert result.returncode == 4, result.stdout[-2000:] + result.stderr[-2000:]
    output = result.stdout + result.stderr
    start = output.index(EXPECTED[0])
    assert output[start:].splitlines()[:3] == [*EXPECTED[:2], EXPECTED[2] + (" !" if workers else "")]
    assert "named__present" not in output and "tiny__calc-1" not in output  # only what is missing is listed
    assert not list(project.glob("reports/*/results.jsonl"))
    assert seconds < 30, seconds  # seconds, not a build or an item


def test_preflight_off_runs_the_items_and_each_missing_image_is_its_items_error(project: Path) -> None:
    result, _ = run(project, "--ohbench-preflight", "off", "-k", "absent or tiny")
    records = {r["instance_id"]: r for r in map(json.loads, (project / "reports" / "latest" / "results.jsonl").read_text().splitlines())}
    assert {i: r["outcome"] for i, r in records.items()} == {"named__absent": "build_error", "tiny__calc-1": "resolved"}, result.stdout[-2000:]
    # Selected items only: deselecting the ones whose images are missing lets the run start.
    ok, _ = run(project, "-k", "tiny")
    assert ok.returncode == 0, ok.stdout[-2000:]
