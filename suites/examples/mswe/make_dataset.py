"""Build (or --check) multi-swe-bench.jsonl by running each instance's three harness scripts.

Each instance is a real bug in `image/repos/<repo>` (the base commit), a gold fix and new
tests, written below as text replacements and turned into `git diff`s by real git. The
instance image is built exactly as the harness builds it (same context, Dockerfile and build
args, so the same content-hashed tag), then, each in a fresh container as the Multi-SWE-bench
harness does: `run.sh` (no patch), `test-run.sh` (test patch), `fix-run.sh` (test + fix
patch). Their logs are parsed with the `auto` parser and the maps are what those runs show:
p2p = PASS with the test patch and after the fix, f2p = FAIL then PASS, s2p = SKIP then PASS,
n2p = absent then PASS; each entry keeps its run/test/fix statuses, and the rows carry the
three TestResults as the official dataset does.

    .venv/bin/python suites/examples/mswe/make_dataset.py          # rewrite the .jsonl
    .venv/bin/python suites/examples/mswe/make_dataset.py --check  # fail if it is stale
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pytest_ohbench.kinds.mswe.checker import STAGE
from pytest_ohbench.kinds.judge.parsers.auto import parse_auto
from pytest_ohbench.runtime.docker.runtime import DockerRuntime, docker_client
from pytest_ohbench.runtime.docker.images import build_cached

HERE = Path(__file__).resolve().parent
DATASET = HERE / "multi-swe-bench.jsonl"
BASE_IMAGE = os.environ.get("OHBENCH_TOOLCHAIN_IMAGE", "ohbench/toolchains:trixie")
COMMIT_ENV = {"GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000"}

# Edits are {file: [(old, new), ...]}, applied with str.replace (old must occur once).
INSTANCES: list[dict] = [
    {
        "repo": "semver",
        "number": 1,
        "title": "Compare versions numerically",
        "issue": {
            "number": 7,
            "title": "1.10.0 is older than 1.9.0 according to Compare",
            "body": (
                "```go\nv10, _ := semver.Parse(\"1.10.0\")\nv9, _ := semver.Parse(\"1.9.0\")\n"
                "fmt.Println(semver.Compare(v10, v9))           // -1\n"
                "fmt.Println(semver.Latest(v9, v10))            // 1.9.0\n```\n\n"
                "A version with a two-digit part sorts before one with a single digit: I expected `1` and `1.10.0`. "
                "`2.0.0` vs `10.0.0` goes wrong the same way."
            ),
        },
        "gold": {
            "semver.go": [(
                "\ta, b := v.String(), w.String()\n\tswitch {\n\tcase a < b:\n\t\treturn -1\n\tcase a > b:\n\t\treturn 1\n\t}\n\treturn 0\n",
                "\tfor _, d := range [3]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {\n"
                "\t\tswitch {\n\t\tcase d < 0:\n\t\t\treturn -1\n\t\tcase d > 0:\n\t\t\treturn 1\n\t\t}\n\t}\n\treturn 0\n",
            )]
        },
        "tests": {
            "semver_test.go": [(
                "func TestCompareSingleDigits(",
                "func TestCompareMultiDigit(t *testing.T) {\n"
                "\tif Compare(mustParse(t, \"1.10.0\"), mustParse(t, \"1.9.0\")) != 1 {\n"
                "\t\tt.Fatal(\"1.10.0 should be newer than 1.9.0\")\n\t}\n"
                "\tif Compare(mustParse(t, \"2.0.0\"), mustParse(t, \"10.0.0\")) != -1 {\n"
                "\t\tt.Fatal(\"2.0.0 should be older than 10.0.0\")\n\t}\n}\n\n"
                "func TestLatestIsNumeric(t *testing.T) {\n"
                "\tgot := Latest(mustParse(t, \"1.9.0\"), mustParse(t, \"1.10.0\"), mustParse(t, \"1.2.0\"))\n"
                "\tif got != (Version{1, 10, 0}) {\n\t\tt.Fatalf(\"Latest = %v, want 1.10.0\", got)\n\t}\n}\n\n"
                "func TestCompareSingleDigits(",
            )]
        },
    },
    {
        "repo": "csvline",
        "number": 1,
        "title": "Keep quoted commas and doubled quotes in one field",
        "issue": {
            "number": 3,
            "title": "split breaks quoted fields apart",
            "body": (
                "```java\nCsvLine.split(\"x,\\\"y,z\\\"\")        // [x, y, z]\n"
                "CsvLine.split(\"\\\"say \\\"\\\"hi\\\"\\\"\\\"\")   // [say hi]\n```\n\n"
                "The javadoc says a quoted field may hold commas and that a doubled quote is one quote, so I expected "
                "`[x, y,z]` and `[say \"hi\"]`. Splitting what `join` wrote does not give back the fields either."
            ),
        },
        "gold": {
            "src/main/java/ohbench/csv/CsvLine.java": [(
                "        for (int i = 0; i < line.length(); i++) {\n"
                "            char c = line.charAt(i);\n"
                "            if (c == ',') {\n",
                "        boolean quoted = false;\n"
                "        for (int i = 0; i < line.length(); i++) {\n"
                "            char c = line.charAt(i);\n"
                "            if (c == '\"' && quoted && i + 1 < line.length() && line.charAt(i + 1) == '\"') {\n"
                "                field.append('\"');\n"
                "                i++;\n"
                "            } else if (c == '\"') {\n"
                "                quoted = !quoted;\n"
                "            } else if (c == ',' && !quoted) {\n",
            ), (
                "            } else if (c != '\"') {\n                field.append(c);\n",
                "            } else {\n                field.append(c);\n",
            )]
        },
        "tests": {
            "src/test/java/ohbench/csv/CsvLineTest.java": [(
                "    @Test\n    void joinQuotesFieldsWithCommas() {\n",
                "    @Test\n    void quotedCommaStaysInField() {\n"
                "        assertEquals(List.of(\"x\", \"y,z\"), CsvLine.split(\"x,\\\"y,z\\\"\"));\n    }\n\n"
                "    @Test\n    void doubledQuoteIsOneQuote() {\n"
                "        assertEquals(List.of(\"say \\\"hi\\\"\"), CsvLine.split(\"\\\"say \\\"\\\"hi\\\"\\\"\\\"\"));\n    }\n\n"
                "    @Test\n    void splitUndoesJoin() {\n"
                "        List<String> fields = List.of(\"a\", \"b,c\", \"\", \"q\\\"d\");\n"
                "        assertEquals(fields, CsvLine.split(CsvLine.join(fields)));\n    }\n\n"
                "    @Test\n    void joinQuotesFieldsWithCommas() {\n",
            )]
        },
    },
]


def git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=ohbench", "-c", "user.email=ohbench@example.invalid", *args]
    return subprocess.run(command, cwd=cwd, env={**os.environ, **COMMIT_ENV}, check=True, capture_output=True, text=True).stdout


def diff(repo: Path, edits: dict[str, list[tuple[str, str]]]) -> str:
    """A real `git diff` of `edits` applied to a copy of the repository."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "repo"
        subprocess.run(["cp", "-a", str(repo), str(work)], check=True)
        git(work, "init", "-q", "-b", "main")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "base")
        for name, replacements in edits.items():
            text = (work / name).read_text()
            for old, new in replacements:
                if text.count(old) != 1:
                    sys.exit(f"{repo.name}/{name}: edit target occurs {text.count(old)} times: {old[:60]!r}")
                text = text.replace(old, new)
            (work / name).write_text(text)
        return git(work, "diff")


def stage_run(client, image: str, repo: str, script: str, patches: dict[str, str]) -> dict[str, str]:
    """Run one harness script in a fresh container; the per-test stage statuses of its log."""
    runtime = DockerRuntime.start(client, image, run_id="make-dataset", instance_id=repo, workdir=f"/home/{repo}", memory="2g")
    try:
        for path, text in patches.items():
            runtime.write_file(path, text)
        result = runtime.execute(f"bash /home/{script}", timeout=600)
    finally:
        runtime.remove()
    return {name: STAGE.get(status, "FAIL") for name, status in parse_auto(result.output).items()}


def test_result(stage: dict[str, str]) -> dict:
    """The harness's TestResult of one stage."""
    groups = {status: sorted(n for n, s in stage.items() if s == status) for status in ("PASS", "FAIL", "SKIP")}
    return {
        "passed_count": len(groups["PASS"]), "failed_count": len(groups["FAIL"]), "skipped_count": len(groups["SKIP"]),
        "passed_tests": groups["PASS"], "failed_tests": groups["FAIL"], "skipped_tests": groups["SKIP"],
    }


def make_row(client, instance: dict) -> dict:
    repo = instance["repo"]
    source = HERE / "image" / "repos" / repo
    fix_patch, test_patch = diff(source, instance["gold"]), diff(source, instance["tests"])
    built = build_cached(client, HERE / "image", HERE / "Dockerfile", {"REPO": repo, "BASE_IMAGE": BASE_IMAGE},
                         "ohbench-build/examples-mswe-image")
    base_sha = DockerRuntime.start(client, built.name, run_id="make-dataset", instance_id=repo, workdir="/")
    try:
        sha = base_sha.read_file("/ohbench_base_commit").decode().strip()
    finally:
        base_sha.remove()
    run = stage_run(client, built.name, repo, "run.sh", {})
    test = stage_run(client, built.name, repo, "test-run.sh", {"/home/test.patch": test_patch})
    fix = stage_run(client, built.name, repo, "fix-run.sh", {"/home/test.patch": test_patch, "/home/fix.patch": fix_patch})
    maps: dict[str, dict] = {"p2p_tests": {}, "f2p_tests": {}, "s2p_tests": {}, "n2p_tests": {}}
    kind = {"PASS": "p2p_tests", "FAIL": "f2p_tests", "SKIP": "s2p_tests", "NONE": "n2p_tests"}
    for name in sorted(set(run) | set(test) | set(fix)):
        entry = {"run": run.get(name, "NONE"), "test": test.get(name, "NONE"), "fix": fix.get(name, "NONE")}
        if entry["fix"] == "PASS":
            maps[kind[entry["test"]]][name] = entry
        elif entry["test"] == "PASS":
            sys.exit(f"{repo}: {name} passes with the test patch and fails after the fix")
    if not maps["f2p_tests"]:
        sys.exit(f"{repo}: the fix turns no test from failing to passing")
    issue = instance["issue"]
    return {
        "org": "ohbench", "repo": repo, "number": instance["number"], "instance_id": f"ohbench__{repo}-{instance['number']}",
        "state": "closed", "title": instance["title"], "body": f"Fixes #{issue['number']}.",
        "base": {"label": "ohbench:main", "ref": "main", "sha": sha},
        "resolved_issues": [issue], "fix_patch": fix_patch, "test_patch": test_patch,
        **maps,
        "run_result": test_result(run), "test_patch_result": test_result(test), "fix_patch_result": test_result(fix),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the dataset is stale")
    args = parser.parse_args()
    client = docker_client()
    text = "".join(json.dumps(make_row(client, instance)) + "\n" for instance in INSTANCES)
    if args.check:
        if DATASET.read_text() != text:
            print(f"{DATASET.name} is stale: run make_dataset.py", file=sys.stderr)
            return 1
        print(f"{DATASET.name}: up to date ({len(INSTANCES)} instances)")
        return 0
    DATASET.write_text(text)
    print(f"wrote {DATASET.name} ({len(INSTANCES)} instances)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
