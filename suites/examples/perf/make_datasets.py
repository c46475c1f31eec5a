"""Build (or --check) perf.jsonl from the repositories in repos/ and the human commits below.

For every task: the repository's files are committed exactly as the suite's Dockerfile does
(so the base sha is the image's), the human's optimization (and its test changes) below is
committed on top with a fixed author and date (so the head sha is reproducible), and
`python -m pytest_ohbench.tools.perf_record` turns the pair into the ISO-Bench record, timing
both states on this host. Then each record is checked: the correctness tests pass at base
and at head, the human speedup on the efficiency test is at least 3x, and every "trap" (a
faster but wrong optimization) breaks at least one correctness test.

    .venv/bin/python suites/examples/perf/make_datasets.py          # rewrite perf.jsonl
    .venv/bin/python suites/examples/perf/make_datasets.py --check  # validate, change nothing

`--check` compares everything but the timings (duration_changes, human_performance, notes),
which are measured afresh and only have to show the 3x speedup again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASET = HERE / "perf.jsonl"
MIN_SPEEDUP = 3.0
TIMED_FIELDS = ("duration_changes", "human_performance", "notes")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".dockerignore")
BASE_ENV = {"GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000"}
HEAD_ENV = {"GIT_AUTHOR_DATE": "2024-02-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2024-02-01T00:00:00+0000"}
ISOLATED_GIT = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}

WORDSTATS_BENCHMARK = '''\
"""Benchmark: the ten most frequent words of 50 texts of 1,200 words (GSO-style script)."""
import random
import time

from wordstats import top_words

rng = random.Random(7)
vocabulary = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 8))) for _ in range(400)]
texts = [" ".join(rng.choice(vocabulary) for _ in range(1200)) for _ in range(50)]


def experiment():
    return [top_words(text, 10) for text in texts]


wall, cpu = time.perf_counter(), time.process_time()
result = experiment()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
for top in result:
    assert len(top) == 10 and top[0][1] >= top[-1][1], top
print(f"Execution time: {wall:.6f}s")
print(f"CPU time: {cpu:.6f}s")
'''

# Edits are {file: [(old, new), ...]} applied with str.replace (old must occur once);
# a file that does not exist yet is created from the one edit ("", text).
TASKS: list[dict] = [
    {
        "instance_id": "ohbench__seqtools-perf-1",
        "repo": "seqtools",
        "message": "unique: remember seen keys in a set\n\nMembership tests on the list of seen keys made unique() "
        "quadratic in the number of distinct items.",
        "objective": "`seqtools.unique` is slow on long inputs with many distinct items.",
        "efficiency_test": ["tests/test_perf.py::test_unique_many_repeats"],
        "target_files": ["seqtools/core.py"],
        "code": {"seqtools/core.py": [
            ("    seen: list[Any] = []\n", "    seen: set[Any] = set()\n"),
            ("            seen.append(marker)\n", "            seen.add(marker)\n"),
        ]},
        "tests": {"tests/test_unique.py": [(
            "def test_tuples():\n",
            "def test_matches_the_definition_on_random_input():\n"
            "    import random\n\n"
            "    rng = random.Random(3)\n"
            "    items = [rng.randint(0, 50) for _ in range(500)]\n"
            "    expected = [x for i, x in enumerate(items) if x not in items[:i]]\n"
            "    assert unique(items) == expected\n\n\n"
            "def test_tuples():\n",
        )]},
        # Faster, and wrong: ignores `key`.
        "traps": {"seqtools/core.py": [(
            '    seen: list[Any] = []\n',
            '    return list(dict.fromkeys(items))\n    seen: list[Any] = []\n',
        )]},
    },
    {
        "instance_id": "ohbench__wordstats-perf-1",
        "repo": "wordstats",
        "message": "word_counts: count in one pass\n\n`words.count(word)` for every distinct word scanned the "
        "whole text once per word.",
        "objective": "`wordstats.top_words` takes too long on long texts with a large vocabulary.",
        "efficiency_test": [WORDSTATS_BENCHMARK],
        "target_files": ["wordstats/counts.py"],
        "code": {"wordstats/counts.py": [(
            "    words = tokenize(text)\n    counts: dict[str, int] = {}\n    for word in words:\n"
            "        if word not in counts:\n            counts[word] = words.count(word)\n    return counts\n",
            "    counts: dict[str, int] = {}\n    for word in tokenize(text):\n"
            "        counts[word] = counts.get(word, 0) + 1\n    return counts\n",
        )]},
        "tests": {},
        # Faster, and wrong: Counter.most_common breaks ties by first appearance, not alphabetically.
        "traps": {"wordstats/counts.py": [
            ("from wordstats.tokens import tokenize\n", "from collections import Counter\n\nfrom wordstats.tokens import tokenize\n"),
            (
                "    ranked = sorted(word_counts(text).items(), key=lambda pair: (-pair[1], pair[0]))\n    return ranked[:k]\n",
                "    return Counter(tokenize(text)).most_common(k)\n",
            ),
        ]},
    },
    {
        "instance_id": "ohbench__gridpaths-perf-1",
        "repo": "gridpaths",
        "message": "count_paths: memoize the walk\n\nThe recursion revisited every cell once per path through it, "
        "exponential in the grid size; each call now caches its own sub-results.",
        "objective": "`gridpaths.count_paths` gets very slow as grids grow.",
        "efficiency_test": ["python3 bench/bench_paths.py --size 8 --grids 250"],
        "target_files": ["gridpaths/paths.py"],
        "code": {"gridpaths/paths.py": [
            ("from __future__ import annotations\n", "from __future__ import annotations\n\nimport functools\n"),
            (
                "    def walk(row: int, col: int) -> int:\n",
                "    @functools.cache  # one cache per call: another grid has other walls\n"
                "    def walk(row: int, col: int) -> int:\n",
            ),
        ]},
        "tests": {"tests/test_paths.py": [(
            "def test_empty_grid():\n",
            "def test_larger_grid_with_walls():\n"
            "    grid = [\n"
            '        "..........",\n        "...#......",\n        "......#...",\n        ".#........",\n'
            '        "....#.....",\n        "........#.",\n        "..#.......",\n        ".....#....",\n'
            '        "...#...#..",\n        "..........",\n'
            "    ]\n"
            "    assert count_paths(grid) == 4328\n\n\n"
            "def test_empty_grid():\n",
        )]},
        # Faster, and wrong: one cache for every grid of the same size.
        "traps": {"gridpaths/paths.py": [
            ('OPEN, BLOCKED = ".", "#"\n', 'OPEN, BLOCKED = ".", "#"\n_SEEN: dict[tuple[int, int, int, int], int] = {}\n'),
            (
                "        return walk(row + 1, col) + walk(row, col + 1)\n",
                "        key = (row, col, height, width)\n"
                "        if key not in _SEEN:\n"
                "            _SEEN[key] = walk(row + 1, col) + walk(row, col + 1)\n"
                "        return _SEEN[key]\n",
            ),
        ]},
    },
]


class Problem(Exception):
    """Why a task cannot be built or is wrong."""


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if check and done.returncode:
        raise Problem(f"{' '.join(command[:4])}: {(done.stderr or done.stdout).strip()[-400:]}")
    return done


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    identity = ["-c", "user.name=ohbench", "-c", "user.email=ohbench@example.invalid"]
    return run(["git", *identity, *args], repo, {**ISOLATED_GIT, **(env or {})}).stdout


def edit(root: Path, edits: dict[str, list[tuple[str, str]]]) -> None:
    for name, replacements in edits.items():
        path = root / name
        text = path.read_text() if path.exists() else ""
        for old, new in replacements:
            if old and text.count(old) != 1:
                raise Problem(f"{name}: expected exactly one {old!r}")
            text = text.replace(old, new) if old else new
        path.write_text(text)


def history(task: dict, repo: Path) -> tuple[str, str]:
    """The base commit (as the Dockerfile makes it) and the human's commit on top."""
    source = HERE / "repos" / task["repo"]
    executable = [p for p in source.rglob("*") if p.is_file() and p.stat().st_mode & stat.S_IXUSR]
    if executable:  # git records the x bit: the sha would depend on the checkout's modes
        raise Problem(f"executable file {executable[0]} (want mode 0644)")
    shutil.copytree(source, repo, ignore=IGNORED)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base", env=BASE_ENV)
    base = git(repo, "rev-parse", "HEAD").strip()
    edit(repo, task["code"])
    edit(repo, task["tests"])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", task["message"], env={**HEAD_ENV, "GIT_AUTHOR_NAME": "maintainer"})
    return base, git(repo, "rev-parse", "HEAD").strip()


def record(task: dict, repo: Path, base: str, head: str, repeats: int, work: Path) -> dict:
    """The record from the commit-to-record command, run for real."""
    command = [sys.executable, "-m", "pytest_ohbench.tools.perf_record", str(repo), base, head,
               "--instance-id", task["instance_id"], "--repo-name", f"ohbench/{task['repo']}",
               "--objective", task["objective"], "--repeats", str(repeats), "--python", sys.executable]
    for number, test in enumerate(task["efficiency_test"]):
        if "\n" in test:
            script = work / f"efficiency_{number}.py"
            script.write_text(test)
            test = f"@{script}"
        command += ["--efficiency-test", test]
    for target in task["target_files"]:
        command += ["--target-file", target]
    done = run(command, HERE, PYTEST_ENV, check=False)
    if done.returncode:
        raise Problem(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "perf_record failed")
    return json.loads(done.stdout)


def correctness(repo: Path, commit: str, patches: list[str], work: Path, name: str) -> dict[str, str]:
    """pytest statuses of the whole test suite at `commit` with `patches` applied."""
    folder = work / name
    git(repo, "worktree", "add", "-q", "--detach", str(folder), commit)
    for patch in patches:
        if patch.strip():
            done = subprocess.run(["git", "apply", "-"], cwd=folder, input=patch, text=True, capture_output=True)
            if done.returncode:
                raise Problem(f"{name}: a patch does not apply: {done.stderr.strip()[-200:]}")
    tests = run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "tests"], folder, PYTEST_ENV, check=False)
    statuses = {}
    for line in tests.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASSED", "FAILED", "ERROR") and "::" in rest:
            statuses[rest.split(" - ")[0]] = status
    if not statuses:
        raise Problem(f"{name}: pytest found no tests: {tests.stdout[-300:]}")
    return statuses


def validate(task: dict, row: dict, repo: Path, work: Path) -> None:
    base, head = row["base_commit"], row["head_commit"]
    at_base = correctness(repo, base, [row["test_patch"]], work, "base")
    at_head = correctness(repo, head, [], work, "head")
    for where, statuses in (("base + test_patch", at_base), ("head", at_head)):
        failing = [t for t, s in statuses.items() if s != "PASSED"]
        if failing:
            raise Problem(f"correctness tests fail at {where}: {failing}")
    scratch = work / "trap"
    git(repo, "worktree", "add", "-q", "--detach", str(scratch), base)
    edit(scratch, task["traps"])
    trap = git(scratch, "diff")
    caught = [t for t, s in correctness(repo, base, [trap, row["test_patch"]], work, "trapped").items() if s != "PASSED"]
    if not caught:
        raise Problem("the trap (a faster, wrong optimization) passes every correctness test")
    if row["human_performance"] < MIN_SPEEDUP:
        raise Problem(f"the human commit is only {row['human_performance']}x faster on its efficiency test (want >= {MIN_SPEEDUP}x)")
    print(f"     traps caught by: {', '.join(caught)}")


def build(task: dict, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="ohbench-perf-make-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        base, head = history(task, repo)
        row = record(task, repo, base, head, repeats, work)
        validate(task, row, repo, work)
        return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="validate and compare, write nothing")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per state (default 5)")
    args = parser.parse_args()
    rows = []
    for task in TASKS:
        try:
            row = build(task, args.repeats)
        except Problem as exc:
            print(f"FAIL {task['instance_id']}: {exc}")
            return 1
        print(f"ok   {task['instance_id']}: base {row['base_commit'][:12]}, head {row['head_commit'][:12]}, "
              f"human speedup {row['human_performance']}x")
        rows.append(row)
    if args.check:
        written = [json.loads(line) for line in DATASET.read_text().splitlines()] if DATASET.is_file() else []
        strip = lambda r: {k: v for k, v in r.items() if k not in TIMED_FIELDS}  # noqa: E731
        if [strip(r) for r in written] != [strip(r) for r in rows]:
            print(f"out of date: {DATASET.name} (run make_datasets.py)")
            return 1
        print(f"{DATASET.name} is up to date")
        return 0
    DATASET.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {DATASET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
