"""Reproducible runs: every task container gets a fixed time zone, hash seed and locale unless
the suite says otherwise, and run.json records them with the engines, kernels and images, so
two runs can be told apart."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tinysuite import make_tiny_suite

pytestmark = pytest.mark.docker

# Printed by the check's own test command, inside the real check container, before pytest runs
# (whose exit status stays the command's). hash() of a str changes per process without a seed.
# The command is a template: shell braces are doubled.
SHOW = (
    "echo \"ENV TZ=${{TZ-unset}} PYTHONHASHSEED=${{PYTHONHASHSEED-unset}} LANG=${{LANG-unset}} LC_ALL=${{LC_ALL-unset}}\"; "
    "python3 -c 'import locale, time; print(\"HASH\", hash(\"ohbench\"), \"ZONE\", time.strftime(\"%Z\"), "
    "\"LOCALE\", locale.setlocale(locale.LC_ALL, \"\"))'; "
    "python3 -m pytest -rA -p no:cacheprovider {test_files}"
)


def suite_yaml(extra: str = "") -> str:
    return f"test:\n  command: {json.dumps(SHOW)}\n" + extra


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, base_image: str) -> Path:
    root = tmp_path_factory.mktemp("reproducible")
    make_tiny_suite(root / "suites" / "fixed", suite_yaml())
    make_tiny_suite(root / "suites" / "own", suite_yaml())
    own = root / "suites" / "own"
    (own / "suite.yaml").write_text((own / "suite.yaml").read_text().replace("name: tiny", "name: own").replace(
        "container:\n  memory: 512m\n", "container:\n  memory: 512m\n  env: {TZ: Asia/Tokyo, PYTHONHASHSEED: null, LANG: C}\n"))
    data = own / "data.jsonl"  # another id: an item's logs folder is named by it
    data.write_text(data.read_text().replace("tiny__calc-1", "own__calc-1"))
    (root / "suites" / "fixed" / "suite.yaml").write_text(
        (root / "suites" / "fixed" / "suite.yaml").read_text().replace("name: tiny", "name: fixed"))
    return root


def run(project: Path, run_id: str) -> dict[str, dict[str, str]]:
    """One oracle run of both suites; what each item's check container printed, by suite."""
    command = [sys.executable, "-m", "pytest", "suites", "--agent", "oracle", "--ohbench-run-id", run_id, "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTEST_ADDOPTS": ""})
    records = [json.loads(line) for line in (project / "reports" / run_id / "results.jsonl").read_text().splitlines()]
    assert [r["outcome"] for r in records] == ["resolved", "resolved"], result.stdout[-3000:]
    seen = {}
    for record in records:
        log = (project / record["log_dir"] / "test_output.txt").read_text()
        env = dict(re.findall(r"(\w+)=(\S+)", re.search(r"^ENV (.*)$", log, re.M).group(1)))
        shown = re.search(r"^HASH (-?\d+) ZONE (\S+) LOCALE (\S+)$", log, re.M)
        seen[record["suite"]] = {**env, "hash": shown.group(1), "zone": shown.group(2), "locale": shown.group(3)}
    return seen


def test_containers_get_a_fixed_zone_seed_and_locale_unless_the_suite_says_otherwise(project: Path) -> None:
    first, second = run(project, "one"), run(project, "two")
    fixed, own = first["fixed"], first["own"]
    assert (fixed["TZ"], fixed["PYTHONHASHSEED"], fixed["LANG"], fixed["LC_ALL"]) == ("UTC", "0", "C.UTF-8", "C.UTF-8")
    assert (fixed["zone"], fixed["locale"]) == ("UTC", "C.UTF-8")
    assert second["fixed"]["hash"] == fixed["hash"]  # the same seed: the same hash in another run's container
    # The suite's own: its TZ and LANG, and no seed (so Python picks a random one per process).
    assert (own["TZ"], own["PYTHONHASHSEED"], own["LANG"], own["LC_ALL"]) == ("Asia/Tokyo", "unset", "C", "C.UTF-8")
    assert second["own"]["hash"] != own["hash"]
    info = json.loads((project / "reports" / "one" / "run.json").read_text())
    assert info["environment"] == {
        "fixed": {"TZ": "UTC", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
        "own": {"TZ": "Asia/Tokyo", "LANG": "C", "LC_ALL": "C.UTF-8"},
    }
    [engine] = info["engines"].values()
    assert engine["version"] and engine["api_version"] and engine["kernel"] and engine["os"] == "linux"
    assert info["machine"]["kernel"] == os.uname().release
    assert len(info["images"]) == 2  # one build per suite, each by the digest of its content
    for image in info["images"].values():
        assert image["id"].startswith("sha256:") and image["source"] in ("build", "cached")


def test_compare_lists_a_changed_container_environment(project: Path) -> None:
    own = project / "suites" / "own" / "suite.yaml"
    original = own.read_text()
    own.write_text(original.replace("TZ: Asia/Tokyo", "TZ: UTC"))
    try:
        run(project, "three")
    finally:
        own.write_text(original)
    compared = subprocess.run([sys.executable, "-m", "pytest_ohbench", "compare", "one", "three"], cwd=project,
                              capture_output=True, text=True, timeout=60)
    assert 'environment.own.TZ: baseline "Asia/Tokyo", now "UTC"' in compared.stdout, compared.stdout
