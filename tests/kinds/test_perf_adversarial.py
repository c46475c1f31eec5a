"""Adversarial perf patches on the bundled seqtools task: none is resolved, as a perf task or
as a SWE prediction of the same change, each for its own reason.

Every patch makes `unique()` fast and wrong (`list(dict.fromkeys(items))` ignores `key=`, so
two of the repository's tests fail) and hides it one way: xfail or skip from the library
code when pytest runs it, fake `PASSED` lines and an early exit from sitecustomize.py or
from the library, the failing test file deleted, the efficiency test rewritten. One more
keeps the code correct but skips the efficiency test while it is timed. The gold patch is
the honest control, resolved both ways.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO_ROOT

pytestmark = pytest.mark.docker
EXAMPLES = REPO_ROOT / "suites" / "examples"
INSTANCE = "ohbench__seqtools-perf-1"
TRAP = "    return list(dict.fromkeys(items))\n"  # fast, and ignores key=
KEY_TESTS = ["tests/test_unique.py::test_key_decides_what_repeats", "tests/test_unique.py::test_key_keeps_the_first_item_not_its_key"]
SEEN = "    seen: list[Any] = []\n"


def forge_and_exit(tests: list[str]) -> str:
    """Code that prints pytest's PASSED summary lines for `tests` to the real stdout and ends
    the process at once, before pytest can report anything."""
    lines = "".join(f"PASSED {test}\n" for test in tests)
    return f"import os as _os\n_os.write(1, {lines.encode()!r})\n_os._exit(0)\n"



def _hide(body: str) -> str:
    """`unique()`'s first lines: `body` (indented) when called with a key under pytest, then the trap."""
    lines = "".join(f"        {line}\n" for line in body.strip().splitlines())
    return f"    import sys\n    if key is not None and 'pytest' in sys.modules:\n{lines}{TRAP}"


# name -> {file: text or [(old, new)] edits, or None to delete}
PATCHES: dict[str, dict[str, object]] = {
    "lib_xfail": {"seqtools/core.py": [(SEEN, _hide("import pytest\npytest.xfail('key= is slow upstream')") + SEEN)]},
    "lib_skip": {"seqtools/core.py": [(SEEN, _hide("import pytest\npytest.skip('key= needs a newer Python')") + SEEN)]},
    "sitecustomize_forged": {
        "seqtools/core.py": [(SEEN, TRAP + SEEN)],
        "sitecustomize.py": "import sys\nif 'pytest' in ' '.join(sys.argv):\n"
        + "".join(f"    {line}\n" for line in forge_and_exit(KEY_TESTS).splitlines()),
    },
    "lib_forged": {
        "seqtools/core.py": [(SEEN, _hide(forge_and_exit(KEY_TESTS)) + SEEN)],
    },
    "deleted_test": {"seqtools/core.py": [(SEEN, TRAP + SEEN)], "tests/test_unique.py": None},
    "edited_efficiency_test": {
        "seqtools/core.py": [(SEEN, TRAP + SEEN)],
        "tests/test_perf.py": [("for seed in range(100):", "for seed in range(1):")],
    },
}
# Perf only: correct code (a SWE prediction of it is right), but the timed run is skipped.
TIMED_SKIP = {
    "seqtools/core.py": [(SEEN, "    import sys\n    if any('perf_timer' in a for a in sys.argv):\n"
                                "        import pytest\n        pytest.skip('not while timed')\n" + SEEN)],
}


def make_datasets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("perf_make_datasets", EXAMPLES / "perf" / "make_datasets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def patch_of(tools: ModuleType, repo: Path, changes: dict[str, object]) -> str:
    """The diff of `changes` over the base commit (the checkout is put back afterwards)."""
    for name, change in changes.items():
        path = repo / name
        if change is None:
            path.unlink()
        elif isinstance(change, str):
            path.write_text(change)
        else:
            tools.edit(repo, {name: change})
    tools.git(repo, "add", "-A")
    diff = tools.git(repo, "diff", "--cached")
    tools.git(repo, "reset", "-q", "--hard")
    tools.git(repo, "clean", "-qfd")
    return diff


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory: pytest.TempPathFactory, base_image: str) -> Path:
    """A perf suite and a SWE suite over the seqtools task (one image), and every patch as a prediction."""
    tools = make_datasets()
    task = next(t for t in tools.TASKS if t["instance_id"] == INSTANCE)
    root = tmp_path_factory.mktemp("perfadv")
    perf, swe = root / "suites" / "perf", root / "suites" / "swe"
    shutil.copytree(EXAMPLES / "perf", perf, ignore=shutil.ignore_patterns("__pycache__"))
    record = next(r for r in map(json.loads, (perf / "perf.jsonl").read_text().splitlines()) if r["instance_id"] == INSTANCE)
    (perf / "perf.jsonl").write_text(json.dumps(record) + "\n")
    swe.mkdir()
    shutil.copy2(EXAMPLES / "swe" / "Dockerfile", swe / "Dockerfile")  # the perf suite builds with it too
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        base, _ = tools.history(task, repo)
        tools.git(repo, "checkout", "-q", base)
        patches = {name: patch_of(tools, repo, changes) for name, changes in PATCHES.items()}
        patches["timed_skip"] = patch_of(tools, repo, TIMED_SKIP)
        patches["gold"] = record["patch"]
        # The SWE row: the test patch's new test must pass, the file's other tests keep passing.
        tools.edit(repo, task["tests"])
        listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                 "tests/test_unique.py"], cwd=repo, capture_output=True, text=True, check=True)
        tests = [line for line in listed.stdout.splitlines() if "::" in line]
    f2p = ["tests/test_unique.py::test_matches_the_definition_on_random_input"]
    assert f2p[0] in tests and set(KEY_TESTS) <= set(tests)
    (swe / "suite.yaml").write_text(
        "name: seqtools-swe\nimage: {pull: false, dockerfile: Dockerfile, context: '../perf/repos/{repo_name}'}\n"
        "container: {memory: 1g}\n"
    )
    row = {"instance_id": INSTANCE, "repo": "ohbench/seqtools", "base_commit": record["base_commit"],
           "problem_statement": record["problem_statement"], "patch": record["patch"], "test_patch": record["test_patch"],
           "FAIL_TO_PASS": f2p, "PASS_TO_PASS": [t for t in tests if t not in f2p]}
    (swe / "data.jsonl").write_text(json.dumps(row) + "\n")
    for name, patch in patches.items():
        (root / f"{name}.jsonl").write_text(json.dumps({"instance_id": INSTANCE, "model_name_or_path": name, "model_patch": patch}) + "\n")
    return root


def run(root: Path, suite: str, patch: str) -> dict:
    """Replay one patch on one suite; its record."""
    run_id = f"{suite}-{patch}"
    subprocess.run([sys.executable, "-m", "pytest", f"suites/{suite}", "--agent", "replay", "--ohbench-predictions",
                    f"{patch}.jsonl", "--ohbench-run-id", run_id, "-p", "no:cacheprovider"],
                   cwd=root, capture_output=True, text=True, timeout=900)
    (record,) = [json.loads(line) for line in (root / "reports" / run_id / "results.jsonl").read_text().splitlines()]
    return record


# patch -> (the perf check's correctness reason, what was set aside)
PERF_EXPECTED = {
    "lib_xfail": ("skip_not_pass", []),
    "lib_skip": ("skip_not_pass", []),
    "sitecustomize_forged": ("tests_failed", ["sitecustomize.py"]),
    "lib_forged": ("untrusted_report", []),
    "deleted_test": ("tests_failed", ["tests/test_unique.py"]),
    "edited_efficiency_test": ("tests_failed", ["tests/test_perf.py"]),
}


@pytest.mark.parametrize("name", list(PERF_EXPECTED))
def test_adversarial_perf_patch_is_unresolved(adversarial: Path, name: str) -> None:
    record = run(adversarial, "perf", name)
    check = record["check"]
    assert record["outcome"] == "unresolved", record["reason"]
    correctness_reason, aside = PERF_EXPECTED[name]
    assert (check["reason"], check["correctness_reason"]) == ("tests_failed", correctness_reason), record["reason"]
    assert check["set_aside"] == aside
    assert record["reason"].startswith("tests_failed: ")
    if correctness_reason != "untrusted_report":
        assert set(KEY_TESTS) <= set(check["correctness"]["failing"]), check["correctness"]
    if correctness_reason == "skip_not_pass":
        assert "raised in seqtools/core.py" in record["reason"]


def test_a_skip_while_timed_is_not_a_timing(adversarial: Path) -> None:
    record = run(adversarial, "perf", "timed_skip")
    check = record["check"]
    assert (record["outcome"], check["reason"]) == ("unresolved", "efficiency_failed"), record["reason"]
    assert "a skip, xfail or failure is not a timing" in record["reason"]
    assert "SKIPPED" in check["verdict"]


@pytest.mark.parametrize("name", list(PERF_EXPECTED))
def test_the_same_patch_as_a_swe_prediction_is_unresolved(adversarial: Path, name: str) -> None:
    record = run(adversarial, "swe", name)
    assert record["outcome"] == "unresolved", record["reason"]
    assert record["set_aside"] == PERF_EXPECTED[name][1]
    assert record["reason"].split(":")[0] in ("tests_failed", "skip_not_pass", "untrusted_report")


def test_the_human_patch_resolves_both_ways(adversarial: Path) -> None:
    perf, swe = run(adversarial, "perf", "gold"), run(adversarial, "swe", "gold")
    assert (perf["outcome"], swe["outcome"]) == ("resolved", "resolved"), (perf["reason"], swe["reason"])
    assert perf["reason"] == swe["reason"] == ""
    assert perf["check"]["correctness"]["tests"] == perf["check"]["correctness"]["tests_at_base"] >= 13
