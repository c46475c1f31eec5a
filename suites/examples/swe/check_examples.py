"""Check every row of the example datasets with real git and pytest on the host.

For each row of swe-bench.jsonl and multi-swe-bench.jsonl: rebuild the repository's base
commit exactly as the suite's Dockerfile does and compare its sha with the row; apply the
test patch and run the test files it touches (every FAIL_TO_PASS test must fail, every
PASS_TO_PASS test pass); apply the gold patch and run them again (all must pass). The gold
patch must touch no test file and the test patch only test files. Multi-SWE-bench rows also
have their recorded run/test/fix statuses compared with what pytest reports.

Stdlib only; needs git, and pytest in the Python that runs this script. Exits 1 on any problem.

    python3 suites/examples/swe/check_examples.py
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = ("swe-bench.jsonl", "multi-swe-bench.jsonl")
# What the Dockerfile's commit sees: .dockerignore keeps these out of the COPY.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".dockerignore")
COMMIT_ENV = {
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    # The image's git has no user or system config; neither may the host's change the commit.
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
PYTEST = [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider"]
# Like the container, which has no pytest plugins, and leaves no caches in the repos.
PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
# "FAILED tests/t.py::test_x - AssertionError: ..." in the -rA short summary.
SUMMARY_LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\s+(\S+?::\S.*?)(?:\s+-\s+.*)?$")
MSWE_STATUS = {"PASSED": "PASS", "FAILED": "FAIL", "ERROR": "FAIL", "SKIPPED": "SKIP"}


class Problem(Exception):
    """Something about an instance that makes it unusable."""


@dataclasses.dataclass
class Instance:
    """A dataset row in the terms both formats share."""

    instance_id: str
    repo_name: str  # the folder under repos/
    base_commit: str
    gold_patch: str
    test_patch: str
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    mswe_statuses: dict[str, dict[str, str]] | None = None  # test -> {run, test, fix}


def git(cwd: Path, *args: str) -> str:
    """Run git with the Dockerfile's identity and dates; its stdout."""
    command = ["git", "-c", "user.name=ohbench", "-c", "user.email=ohbench@example.invalid", *args]
    done = subprocess.run(command, cwd=cwd, env={**os.environ, **COMMIT_ENV}, capture_output=True, text=True)
    if done.returncode:
        raise Problem(f"git {' '.join(args)}: {'; '.join(done.stderr.strip().splitlines())}")
    return done.stdout


def base_checkout(repo_name: str, into: Path) -> str:
    """Copy repos/<repo_name> to `into` and commit it as the Dockerfile does; the sha."""
    source = HERE / "repos" / repo_name
    if not source.is_dir():
        raise Problem(f"no repository {source}")
    executable = [p for p in source.rglob("*") if p.is_file() and p.stat().st_mode & stat.S_IXUSR]
    if executable:  # git records the x bit, so the sha would depend on the checkout's modes
        raise Problem(f"executable file {executable[0]} (want mode 0644)")
    shutil.copytree(source, into, ignore=IGNORED)
    git(into, "init", "-q", "-b", "main")
    git(into, "add", "-A")
    git(into, "commit", "-q", "-m", "base")
    return git(into, "rev-parse", "HEAD").strip()


def patched_files(patch: str) -> list[str]:
    """The paths a git diff changes (new side)."""
    return re.findall(r"^diff --git a/\S+ b/(\S+)$", patch, re.M)


def is_test_file(path: str) -> bool:
    parts = Path(path).parts
    return "tests" in parts[:-1] or parts[-1].startswith("test_") or parts[-1].endswith("_test.py")


def apply(checkout: Path, patch: str, what: str) -> None:
    (checkout.parent / f"{what}.diff").write_text(patch)
    try:
        git(checkout, "apply", str(checkout.parent / f"{what}.diff"))
    except Problem as exc:
        raise Problem(f"{what} does not apply: {exc}") from None


def run_tests(checkout: Path, files: list[str]) -> dict[str, str]:
    """{node id: PASSED/FAILED/...} from the -rA short summary of a pytest run of `files`."""
    present = [f for f in files if (checkout / f).is_file()]
    if not present:
        return {}
    done = subprocess.run(
        [*PYTEST, *present], cwd=checkout, env={**os.environ, **PYTEST_ENV}, capture_output=True, text=True, timeout=300
    )
    statuses = {m.group(2): m.group(1) for line in done.stdout.splitlines() if (m := SUMMARY_LINE.match(line))}
    if not statuses:
        raise Problem(f"pytest reported no tests (exit {done.returncode}): {done.stdout[-300:]}{done.stderr[-300:]}")
    return statuses


def _test_list(row: dict, key: str) -> list[str]:
    value = row[key]
    if not isinstance(value, str):
        raise Problem(f"{key} must be a JSON-encoded string, as in SWE-bench")
    tests = json.loads(value)
    if not (isinstance(tests, list) and all(isinstance(t, str) for t in tests)):
        raise Problem(f"{key} must encode a list of test names")
    return tests


def from_swe_bench(row: dict) -> Instance:
    org, _, name = row["repo"].partition("/")
    if row["environment_setup_commit"] != row["base_commit"]:
        raise Problem("environment_setup_commit differs from base_commit")
    return Instance(
        instance_id=row["instance_id"],
        repo_name=name or org,
        base_commit=row["base_commit"],
        gold_patch=row["patch"],
        test_patch=row["test_patch"],
        fail_to_pass=_test_list(row, "FAIL_TO_PASS"),
        pass_to_pass=_test_list(row, "PASS_TO_PASS"),
    )


def from_multi_swe_bench(row: dict) -> Instance:
    expected_id = f"{row['org']}__{row['repo']}-{row['number']}"
    if row["instance_id"] != expected_id:
        raise Problem(f"instance_id should be {expected_id}")
    if not row.get("resolved_issues") or not row["resolved_issues"][0].get("body"):
        raise Problem("resolved_issues has no issue body")
    statuses = {**row["f2p_tests"], **row["p2p_tests"], **row.get("s2p_tests", {}), **row.get("n2p_tests", {})}
    return Instance(
        instance_id=row["instance_id"],
        repo_name=row["repo"],
        base_commit=row["base"]["sha"],
        gold_patch=row["fix_patch"],
        test_patch=row["test_patch"],
        fail_to_pass=list(row["f2p_tests"]),
        # s2p and n2p tests must pass after the fix too.
        pass_to_pass=[*row["p2p_tests"], *row.get("s2p_tests", {}), *row.get("n2p_tests", {})],
        mswe_statuses=statuses,
    )


def load_instances() -> list[tuple[str, Instance | Problem]]:
    """(where, instance) for every row of both datasets; a Problem where a row is malformed."""
    loaded: list[tuple[str, Instance | Problem]] = []
    for name, convert in zip(DATASETS, (from_swe_bench, from_multi_swe_bench), strict=True):
        if not (HERE / name).is_file():
            continue  # the Multi-SWE-bench examples moved to suites/examples/mswe
        for number, line in enumerate((HERE / name).read_text().splitlines(), start=1):
            where = f"{name}:{number}"
            try:
                loaded.append((where, convert(json.loads(line))))
            except Problem as exc:
                loaded.append((where, exc))
            except (KeyError, TypeError, ValueError) as exc:
                loaded.append((where, Problem(f"malformed row: {exc!r}")))
    return loaded


def check(instance: Instance, work: Path) -> list[str]:
    """What is wrong with `instance` (empty when nothing)."""
    problems: list[str] = []
    try:
        _check(instance, work, problems)
    except Problem as exc:  # a step that stops the rest: no checkout, a patch that does not apply
        problems.append(str(exc))
    return problems


def _check(instance: Instance, work: Path, problems: list[str]) -> None:
    if not instance.fail_to_pass or len(instance.pass_to_pass) < 2:
        problems.append("want at least one FAIL_TO_PASS and two PASS_TO_PASS tests")
    test_files = patched_files(instance.test_patch)
    gold_files = patched_files(instance.gold_patch)
    problems.extend([f"test patch touches non-test file {f}" for f in test_files if not is_test_file(f)])
    problems.extend([f"gold patch touches test file {f}" for f in gold_files if is_test_file(f)])
    if not test_files or not gold_files:
        problems.append("empty test patch or gold patch")
    checkout = work / "testbed"
    sha = base_checkout(instance.repo_name, checkout)
    if sha != instance.base_commit:
        raise Problem(f"base commit is {sha}, the row says {instance.base_commit}")
    missing = [f for f in test_files if not (checkout / f).is_file()]
    problems.extend([f"test patch creates {f} instead of changing an existing test file" for f in missing])

    run = run_tests(checkout, test_files) if instance.mswe_statuses else {}
    apply(checkout, instance.test_patch, "test_patch")
    before = run_tests(checkout, test_files)
    apply(checkout, instance.gold_patch, "gold_patch")
    after = run_tests(checkout, test_files)

    for test in instance.fail_to_pass:
        if before.get(test) not in ("FAILED", "ERROR"):
            problems.append(f"F2P {test} is {before.get(test, 'missing')} at base, should fail")
    for test in instance.pass_to_pass:
        if before.get(test) != "PASSED":
            problems.append(f"P2P {test} is {before.get(test, 'missing')} at base, should pass")
    for test in [*instance.fail_to_pass, *instance.pass_to_pass]:
        if after.get(test) != "PASSED":
            problems.append(f"{test} is {after.get(test, 'missing')} with the gold patch, should pass")
    for test, recorded in (instance.mswe_statuses or {}).items():
        seen = {stage: MSWE_STATUS.get(result.get(test, ""), "NONE") for stage, result in
                (("run", run), ("test", before), ("fix", after))}
        if recorded != seen:
            problems.append(f"{test}: recorded {recorded}, pytest gives {seen}")


def main() -> int:
    failed = 0
    seen_ids: set[str] = set()
    instances = load_instances()
    for where, instance in instances:
        if isinstance(instance, Problem):
            print(f"FAIL {where}: {instance}")
            failed += 1
            continue
        with tempfile.TemporaryDirectory(prefix="ohbench-check-") as tmp:
            problems = check(instance, Path(tmp))
        if instance.instance_id in seen_ids:
            problems.append("duplicate instance_id")
        seen_ids.add(instance.instance_id)
        if problems:
            failed += 1
            print(f"FAIL {instance.instance_id} ({where}): " + "; ".join(problems))
        else:
            print(
                f"ok   {instance.instance_id} ({where}): {instance.repo_name}@{instance.base_commit[:12]}, "
                f"{len(instance.fail_to_pass)} F2P, {len(instance.pass_to_pass)} P2P"
            )
    print(f"{len(instances)} instances, {failed} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
