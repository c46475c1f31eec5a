"""`python -m pytest_ohbench regrade`: every verdict of a real run again from its saved logs, no Docker.

One real run (replayed predictions, real containers) over two suites: a pytest one (results
from pytest's JUnit report) and a shell one whose runner prints `go test -v` lines (results
from the gotest parser over the output). One prediction fixes the bug but has the library
skip a PASS_TO_PASS test: `strict` fails it, `official` (the swebench package's verdict: a
skipped test is in neither list) resolves it, so a re-grade under the other rule must change
exactly that item, as a live run under that rule does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tinysuite import make_tiny_suite

from pytest_ohbench.tools.testing.gitrepo import DOCKERFILE, diff_for, git

pytestmark = pytest.mark.docker

RUNNER = """\
. ./calc.sh
failed=0
check() {
  case " ${SKIP:-} " in *" $1 "*) echo "--- SKIP: $1 (0.00s)"; return;; esac
  if [ "$2" = "$3" ]; then echo "--- PASS: $1 (0.00s)"; else echo "--- FAIL: $1 (0.00s)"; failed=1; fi
}
check TestMul "$(mul 2 3)" 6
exit $failed
"""
CALC = "add() { echo $(($1 - $2)); }\nmul() { echo $(($1 * $2)); }\n"
FIXED = CALC.replace("$1 - $2", "$1 + $2")
SHELL_PREDICTIONS = {
    "gold": FIXED,
    "skip": FIXED + 'SKIP="TestMul"  # the library decides a test does not apply\n',
    "wrong": CALC.replace("$1 - $2", "$1 * $2"),
}


def make_shell_suite(root: Path) -> dict[str, str]:
    """The shell suite (one row per prediction, all at one base commit); predictions by instance."""
    repo = root / "repos" / "shcalc"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.sh").write_text(CALC)
    (repo / "tests" / "run.sh").write_text(RUNNER)
    (root / "Dockerfile").write_text(DOCKERFILE)
    work = root.parent / f".{root.name}-work"
    work.mkdir()
    tests = diff_for(repo, work / "tests", {"tests/run.sh": RUNNER.replace("exit $failed", 'check TestAdd "$(add 2 3)" 5\nexit $failed')})
    base = git(work / "tests", "rev-parse", "HEAD").strip()
    (root / "suite.yaml").write_text(
        "name: shell\nimage: {pull: false, dockerfile: Dockerfile, context: 'repos/{repo_name}'}\n"
        "test: {command: 'bash tests/run.sh', parser: gotest}\ncontainer: {memory: 512m}\n"
    )
    rows, predictions = [], {}
    for name, text in [*SHELL_PREDICTIONS.items(), ("empty", CALC)]:
        instance = f"sh__{name}"
        rows.append({"instance_id": instance, "repo": "shell/shcalc", "base_commit": base, "problem_statement": "add 2 3 prints -1",
                     "patch": "", "test_patch": tests, "FAIL_TO_PASS": ["TestAdd"], "PASS_TO_PASS": ["TestMul"]})
        predictions[instance] = diff_for(repo, work / name, {"calc.sh": text}) if text != CALC else ""
    (root / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return predictions


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command with no Docker engine reachable: a re-grade must not need one."""
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    return subprocess.run([sys.executable, "-m", "pytest_ohbench", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def run_suites(root: Path, run_id: str, *extra: str) -> list[dict]:
    command = [sys.executable, "-m", "pytest", "suites", "--agent", "replay", "--ohbench-predictions", "preds.jsonl",
               "--ohbench-run-id", run_id, "-p", "no:cacheprovider", *extra]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=900, env={**os.environ, "PYTEST_ADDOPTS": ""})
    results = root / "reports" / run_id / "results.jsonl"
    assert results.is_file(), result.stdout[-3000:] + result.stderr[-2000:]
    return [json.loads(line) for line in results.read_text().splitlines()]


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory: pytest.TempPathFactory, base_image: str) -> Path:
    """The project folder with one real run, `reports/strict`."""
    root = tmp_path_factory.mktemp("regrade")
    predictions = make_shell_suite(root / "suites" / "shell")
    patches = make_tiny_suite(root / "suites" / "tiny")
    predictions |= {"tiny__calc-1": patches["gold"]}
    (root / "preds.jsonl").write_text("".join(
        json.dumps({"instance_id": i, "model_name_or_path": "t", "model_patch": p}) + "\n" for i, p in predictions.items()))
    records = {r["instance_id"]: r for r in run_suites(root, "strict")}
    assert {i: r["outcome"] for i, r in records.items()} == {
        "sh__gold": "resolved", "sh__skip": "unresolved", "sh__wrong": "unresolved", "sh__empty": "empty_patch",
        "tiny__calc-1": "resolved"}
    assert records["sh__skip"]["reason"].startswith("skip_not_pass")
    assert records["tiny__calc-1"]["check"]["results_from"] == "junit"
    return root


def test_regrade_reproduces_every_verdict_of_the_run(stored_run: Path) -> None:
    result = run_cli("regrade", "strict", "--json", cwd=stored_run)
    assert result.returncode == 0, result.stderr
    items = {i["instance_id"]: i for i in json.loads(result.stdout)["items"]}
    assert {i for i, item in items.items() if item["regraded"]} == {"sh__gold", "sh__skip", "sh__wrong", "tiny__calc-1"}
    assert not items["sh__empty"]["regraded"] and not items["sh__empty"]["problem"]  # nothing was judged: kept
    for item in items.values():
        assert not item["changed"] and not item["problem"], item
    # The whole re-graded record equals the stored one: statuses, halves, reason, check details.
    out = stored_run / "reports" / "same"
    assert run_cli("regrade", "strict", "--out", str(out), cwd=stored_run).returncode == 0
    before = (stored_run / "reports" / "strict" / "results.jsonl").read_text().splitlines()
    after = (out / "results.jsonl").read_text().splitlines()
    assert sorted(after) == sorted(before)
    text = run_cli("regrade", "strict", cwd=stored_run).stdout
    assert text.startswith("re-graded 4 of 5 item(s) of ") and ": 0 changed, 1 kept as recorded" in text.splitlines()[0]


def test_another_skip_rule_changes_the_items_it_should_as_a_live_run_does(stored_run: Path) -> None:
    out = stored_run / "reports" / "regraded-official"
    result = run_cli("regrade", "strict", "--skip-rule", "official", "--out", str(out), cwd=stored_run)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert ": 1 changed, 1 kept as recorded" in lines[0]
    assert lines[1] == "  changed sh__skip: unresolved -> resolved"
    assert lines[2] == "    was: skip_not_pass: PASS_TO_PASS failing (1/1): TestMul; a skip or xfail is not a pass: TestMul (SKIPPED)"
    regraded = {r["instance_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert regraded["sh__skip"]["check"]["skip_rule"] == "official" and regraded["sh__skip"]["resolved"]
    # A live run under `official` judges the same: the re-grade is that judge, on those logs.
    live = {r["instance_id"]: r for r in run_suites(stored_run, "official", "--ohbench-skip-rule", "official")}
    for instance, record in live.items():
        assert (regraded[instance]["outcome"], regraded[instance]["reason"]) == (record["outcome"], record["reason"]), instance
        assert regraded[instance]["tests"] == record["tests"]
    # The re-graded folder is a run folder: compare reads it.
    compared = run_cli("compare", "strict", str(out), cwd=stored_run)
    assert compared.returncode == 0 and "1 gained" in compared.stdout, compared.stdout


def test_missing_logs_are_named_and_the_other_items_still_regraded(stored_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "moved-run"  # a run folder moved elsewhere (a CI artifact) still finds its logs
    shutil.copytree(stored_run / "reports" / "strict", copy)
    [log] = [p for p in copy.glob("logs/*/test_output.txt") if "sh__wrong" in str(p)]
    log.unlink()
    result = run_cli("regrade", str(copy), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert ": 0 changed, 2 kept as recorded" in lines[0]
    assert lines[1].startswith("  not re-graded sh__wrong: ") and "test_output.txt" in lines[1] and "cannot read the saved test run" in lines[1]
    assert run_cli("regrade", "no-such-run", cwd=tmp_path).returncode == 4
