"""Make an ISO-Bench perf record from a repository and a commit pair (base..head).

    python -m pytest_ohbench.tools.perf_record REPO BASE HEAD \\
        --efficiency-test tests/test_perf.py::test_big --repeats 10 -o perf.jsonl

`git diff BASE HEAD` is split by path into `patch` (source) and `test_patch` (test files:
under a `tests`/`test` folder, `test_*.py`, `*_test.py`, `conftest.py`). The efficiency tests
are the ones given (`--efficiency-test`, repeatable: a pytest node id, a `.py` path, a shell
command, or `@FILE` for the source of a benchmark script), or else found: the test functions
the commit adds or changes whose names speak of speed (perf, bench, speed, fast, slow, large,
timing). Both states are exported from git into temporary folders (base with the test
patch applied, so both run the same tests), every efficiency test is timed in both,
interleaved, on this host (`--python`), and the timings go into `duration_changes`
(`[{"base": [...], "head": [...]}]`, one entry per efficiency test) with their speedup in
`human_performance` (geometric mean over the tests of min(base) / min(head)).
The record is printed, or appended to `-o FILE`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pytest_ohbench.core.machine import machine_facts
from pytest_ohbench.kinds.perf.criteria import estimate, geometric_mean, ratio
from pytest_ohbench.kinds.perf.loader import EfficiencyTest, is_test_path, parse_efficiency_test
from pytest_ohbench.kinds.perf.measure import TimedRunner, measure
from pytest_ohbench.runtime.local import LocalRuntime

_SPEED_WORDS = re.compile(r"perf|bench|speed|fast|slow|large|timing", re.IGNORECASE)
_HUNK_FUNCTION = re.compile(r"^@@ [^@]* @@ (?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)
_CHANGED_DEF = re.compile(r"^[+-]\s*(?:async\s+)?def\s+(\w+)", re.MULTILINE)
_FILE_HEADER = re.compile(r"^diff --git a/\S+ b/(\S+)$", re.MULTILINE)


class RecordError(Exception):
    """Why no record can be made; printed as one line."""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RecordError(f"git {' '.join(args)}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
    return done.stdout


def split_diff(repo: Path, base: str, head: str) -> tuple[str, str]:
    """(patch, test_patch): the commit's diff, source files apart from test files."""
    names = [n for n in git(repo, "diff", "--no-renames", "--name-only", base, head).splitlines() if n]
    tests = [n for n in names if is_test_path(n)]
    code = [n for n in names if not is_test_path(n)]

    def diff(paths: list[str]) -> str:
        if not paths:
            return ""
        return git(repo, "diff", "--no-color", "--no-ext-diff", "--no-renames", "--binary", base, head, "--", *paths)

    return diff(code), diff(tests)


def changed_functions(repo: Path, base: str, head: str, paths: list[str], tests_only: bool = False) -> list[str]:
    """`file::function` for the functions a diff touches: the enclosing def git names in each
    hunk header, and defs on changed lines. For tests only the changed defs count: an
    inserted test would otherwise also name the test above it."""
    if not paths:
        return []
    text = git(repo, "diff", "-U0", "--no-color", "--no-renames", base, head, "--", *paths)
    found: list[str] = []
    for block in re.split(r"(?=^diff --git )", text, flags=re.MULTILINE):
        header = _FILE_HEADER.search(block)
        if not header:
            continue
        names = ([] if tests_only else _HUNK_FUNCTION.findall(block)) + _CHANGED_DEF.findall(block)
        for name in names:
            if tests_only and not name.startswith("test"):
                continue
            found.append(f"{header.group(1)}::{name}")
    return list(dict.fromkeys(found))


def find_efficiency_tests(repo: Path, base: str, head: str, test_files: list[str]) -> list[str]:
    """Test functions the commit adds or changes whose names speak of speed."""
    functions = changed_functions(repo, base, head, [f for f in test_files if f.endswith(".py")], tests_only=True)
    return [f for f in functions if _SPEED_WORDS.search(f.split("::", 1)[1])]


def export(repo: Path, commit: str, into: Path) -> None:
    """The tree of `commit` as plain files in `into` (no .git)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=repo, capture_output=True, check=False)
    if archive.returncode:
        raise RecordError(f"git archive {commit}: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def apply_patch(folder: Path, patch: str, what: str) -> None:
    if not patch.strip():
        return
    done = subprocess.run(["git", "apply", "-"], cwd=folder, input=patch, text=True, capture_output=True, check=False)
    if done.returncode:
        raise RecordError(f"{what} does not apply: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")


def read_test_argument(value: str) -> str:
    """`@FILE` reads a benchmark script's source; anything else is the test itself."""
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.is_file():
            raise RecordError(f"--efficiency-test {value}: no such file")
        return path.read_text(encoding="utf-8")
    return value


def commit_info(repo: Path, commit: str) -> tuple[str, str]:
    """(ISO date, full message) of `commit`."""
    date = git(repo, "show", "-s", "--format=%cI", commit).strip()
    message = git(repo, "show", "-s", "--format=%B", commit).strip()
    return date, message


def interpreter_version(python: str) -> str:
    """`Python 3.x.y` of the interpreter that ran the tests (not its path: records travel)."""
    done = subprocess.run([python, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip() or Path(python).name


def make_record(args: argparse.Namespace) -> dict[str, Any]:
    repo = Path(args.repo).resolve()
    if not (repo / ".git").exists() and not git(repo, "rev-parse", "--git-dir").strip():
        raise RecordError(f"{repo} is not a git repository")
    base = git(repo, "rev-parse", "--verify", f"{args.base}^{{commit}}").strip()
    head = git(repo, "rev-parse", "--verify", f"{args.head}^{{commit}}").strip()
    patch, test_patch = split_diff(repo, base, head)
    if not patch.strip():
        raise RecordError(f"{args.base}..{args.head} changes no source file (only tests?): nothing to optimize")
    test_files = [n for n in git(repo, "diff", "--no-renames", "--name-only", base, head).splitlines() if is_test_path(n)]
    entries = [read_test_argument(v) for v in args.efficiency_test] or find_efficiency_tests(repo, base, head, test_files)
    if not entries:
        raise RecordError("no efficiency test given and none found among the changed tests: pass --efficiency-test")
    tests = [parse_efficiency_test(entry, i) for i, entry in enumerate(entries)]
    timings = time_states(repo, base, head, test_patch, tests, args)
    per_test = [
        ratio(estimate(timings[t.name]["base"], args.estimator), estimate(timings[t.name]["head"], args.estimator))
        for t in tests
    ]
    created_at, message = commit_info(repo, head)
    org, _, name = (args.repo_name or f"local/{repo.name}").partition("/")
    code_files = [n for n in git(repo, "diff", "--no-renames", "--name-only", base, head).splitlines() if not is_test_path(n)]
    machine = machine_facts()
    record: dict[str, Any] = {
        "repo": f"{org}/{name}",
        "instance_id": args.instance_id or f"{org}__{name}-{head[:7]}",
        "created_at": created_at,
        "base_commit": base,
        "head_commit": head,
        "patch": patch,
        "test_patch": test_patch,
        "efficiency_test": entries,
        "duration_changes": [{"base": timings[t.name]["base"], "head": timings[t.name]["head"]} for t in tests],
        "human_performance": round(geometric_mean(per_test), 4),
        "patch_functions": changed_functions(repo, base, head, [f for f in code_files if f.endswith(".py")]),
        "test_functions": changed_functions(repo, base, head, [f for f in test_files if f.endswith(".py")], tests_only=True),
        "api": args.api,
        "gt_commit_message": message,
        "setup_commands": args.setup_command,
        "install_commands": args.install_command,
        "notes": (
            f"duration_changes: {args.clock} seconds, {args.repeats} interleaved rounds after {args.warmups} warm-up, "
            f"timed with {interpreter_version(args.python)} on {machine['cpu_model']} ({machine['cpus']} CPUs, load {machine['load_avg']}); "
            f"human_performance: geometric mean of {args.estimator}(base) / {args.estimator}(head)"
        ),
    }
    if args.target_file:
        record["target_files"] = args.target_file
    if args.constraint:
        record["constraints"] = args.constraint
    if args.objective:
        record["problem_statement"] = args.objective
    return record


def time_states(
    repo: Path, base: str, head: str, test_patch: str, tests: list[EfficiencyTest], args: argparse.Namespace
) -> dict[str, dict[str, list[float]]]:
    """Export both states and time every test in both, interleaved."""
    with tempfile.TemporaryDirectory(prefix="ohbench-perf-record-") as tmp:
        root = Path(tmp)
        runners: dict[str, TimedRunner] = {}
        for state, commit in (("base", base), ("head", head)):
            folder = root / state
            export(repo, commit, folder)
            if state == "base":
                apply_patch(folder, test_patch, "the test patch at base")
            runtime = LocalRuntime.on_host(folder)
            for command in [*args.setup_command, *args.install_command]:
                done = runtime.execute(command, timeout=args.timeout)
                if done.exit_code:
                    raise RecordError(f"{state}: `{command}` failed (exit {done.exit_code}): {done.output.strip()[-200:]}")
            runner = TimedRunner(runtime, str(root / f"support-{state}"), python=args.python)
            runner.prepare(tests)
            for test in tests:
                check = runner.exists_command(test)
                if check and runtime.execute(check, timeout=args.timeout).exit_code:
                    raise RecordError(f"efficiency test {test.name} does not exist at {state} ({commit[:12]})")
            runners[state] = runner
        log = Path(args.log) if args.log else None
        result = measure(
            runners, tests, repeats=args.repeats, warmups=args.warmups, timeout=args.timeout, clock=args.clock, log_path=log
        )
        if result.failure:
            failure = result.failure
            raise RecordError(
                f"efficiency test {failure['test']} fails at {failure['state']} (exit {failure['exit_code']}): "
                f"{failure['output'].strip().splitlines()[-1] if failure['output'].strip() else 'no output'}"
            )
        return result.timings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_ohbench.tools.perf_record", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("repo", help="path to the git repository")
    parser.add_argument("base", help="the commit before the optimization")
    parser.add_argument("head", help="the optimizing commit")
    parser.add_argument("--efficiency-test", action="append", default=[], metavar="TEST",
                        help="node id, .py path, shell command, or @FILE with a benchmark script's source (repeatable)")
    parser.add_argument("--instance-id", help="default: <org>__<name>-<head[:7]>")
    parser.add_argument("--repo-name", help="owner/name for the record (default: local/<folder name>)")
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds per state (default 10)")
    parser.add_argument("--warmups", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--estimator", choices=("min", "median", "mean"), default="min",
                        help="how human_performance summarizes the timings (default min)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu: user + system seconds (default); wall: elapsed seconds")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs the tests (default: this one)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run (default 300)")
    parser.add_argument("--setup-command", action="append", default=[], help="run in each state first (repeatable)")
    parser.add_argument("--install-command", action="append", default=[], help="run in each state after setup (repeatable)")
    parser.add_argument("--target-file", action="append", default=[], help="a file the agent may change (repeatable)")
    parser.add_argument("--constraint", action="append", default=[], help="an extra line for the prompt (repeatable)")
    parser.add_argument("--objective", help="the task's problem statement")
    parser.add_argument("--api", help="the API the commit speeds up")
    parser.add_argument("--log", help="append every timed run to this file")
    parser.add_argument("-o", "--output", help="append the record to this JSONL file (default: print it)")
    args = parser.parse_args(argv)
    if args.repeats < 2:
        parser.error("--repeats must be at least 2")
    if args.warmups < 0:
        parser.error("--warmups must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        record = make_record(args)
    except RecordError as exc:
        print(f"perf_record: error: {exc}", file=sys.stderr)
        return 1
    line = json.dumps(record)
    if args.output:
        with open(args.output, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        speed = record["human_performance"]
        print(f"perf_record: {record['instance_id']}: human speedup {speed}x, appended to {args.output}", file=sys.stderr)
    else:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
