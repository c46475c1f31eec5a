"""Grading integrity: adversarial predictions that try to change how they are graded.

One suite, one image, one run of `--agent replay` over one row per trick (all at the same
base commit, none fixing the bug), plus honest fixes. The image is shaped like a SWE-bench
one: the repository is installed in place into an environment inside the workspace
(`.venv`, ignored by git, with a path file putting /testbed on sys.path) and the distro's
own sitecustomize is gone, so every trick below really works against a checker that only
resets the test patch's files and reads the last matching line of the output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest
from conftest import run_output
from tinysuite import BASE_FILES, F2P, FIXED_CALC, NEW_TESTS, P2P, git

from pytest_ohbench.tools.testing import gitrepo

pytestmark = pytest.mark.docker

DOCKERFILE = gitrepo.DOCKERFILE + """\
# Like a SWE-bench image: installed in place (a path file puts the repo on sys.path at
# start-up, as `pip install -e` does) and no distro sitecustomize.
RUN rm -f /usr/lib/python3*/sitecustomize.py /etc/python3*/sitecustomize.py \\
 && python3 -m venv --without-pip --system-site-packages /testbed/.venv \\
 && echo /testbed > "$(/testbed/.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')/_calc.pth"
"""
SUITE_YAML = """\
name: adversarial
image: {pull: false, dockerfile: Dockerfile, context: repo}
test:
  command: ".venv/bin/python -m pytest -rA -p no:cacheprovider {test_files}"
container: {memory: 512m}
"""
REPO_FILES = {
    **BASE_FILES,
    "tests/conftest.py": '"""Shared fixtures."""\n',
    "pyproject.toml": '[project]\nname = "calc"\nversion = "1.0"\n',
    ".gitignore": ".venv/\n__pycache__/\n",
}

# Library-side code the config tricks load with `-p calc_plugin` / PYTEST_PLUGINS.
FLIP_HOOK = '''import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:  # every failure becomes a pass
        report.outcome, report.longrepr = "passed", None
'''
PLUGIN = {"calc_plugin.py": FLIP_HOOK}
SET_ENV = 'import os; os.environ["PYTEST_PLUGINS"] = "calc_plugin"\n'
SHADOW_PYTEST = SET_ENV + '''import runpy, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
import pytest  # the real one
sys.path.append(here)
runpy.run_module("pytest", run_name="__main__", alter_sys=True)
'''
SHADOW_UNITTEST = SET_ENV + '''import sys
here = os.path.dirname(os.path.abspath(__file__))
saved = sys.path[:]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
del sys.modules["unittest"]
import unittest  # the standard library's, which replaces this module
sys.path[:] = saved
'''


def bad_add(body: str) -> str:
    """calc.py whose add() (still wrong) runs `body` first when it sees the new test's data."""
    indented = "".join(f"        {line}\n" for line in body.strip().splitlines())
    return BASE_FILES["calc.py"].replace(
        "def add(a, b):\n", f"def add(a, b):\n    if (a, b) == (2, 3):  # the FAIL_TO_PASS test's data\n{indented}"
    )


# Writes pytest-looking PASSED lines to the real output (pytest captures fd 1) and ends the
# process before pytest can report the failure.
FAKE_PASS_AND_EXIT = """
lines = "".join(f"PASSED tests/test_calc.py::{t}\\n" for t in ("test_mul", "test_mul_zero", "test_add"))
import os
for fd in range(3, 64):
    try:
        if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
            os.write(fd, lines.encode())
    except OSError:
        pass
os._exit(0)
"""
AFTER_SUMMARY = (
    'import atexit\natexit.register(print, "PASSED tests/test_calc.py::test_add")\n\n\n' + BASE_FILES["calc.py"]
)
P2P_SKIP = FIXED_CALC.replace(
    "    return a * b\n",
    "    if (a, b) in ((2, 3), (0, 5)):  # the PASS_TO_PASS tests' data\n"
    "        import pytest\n        pytest.skip('flaky on CI')\n    return a * b + 1\n",
)
# Fixes add() but breaks mul(), and hides that by xfailing the PASS_TO_PASS tests from library
# code: an XFAIL PASS_TO_PASS test passes under both skip rules, unless the code under test raised it.
P2P_XFAIL = P2P_SKIP.replace("pytest.skip('flaky on CI')", "pytest.xfail('upstream bug')")

# trick -> (files the prediction writes, paths it must have set aside, reason in the verdict)
TRICKS: dict[str, tuple[dict[str, str], list[str], str]] = {
    "conftest_new": ({"conftest.py": FLIP_HOOK}, ["conftest.py"], "set aside as test infrastructure: conftest.py"),
    "conftest_edit": (
        {"tests/conftest.py": REPO_FILES["tests/conftest.py"] + FLIP_HOOK},
        ["tests/conftest.py"],
        "set aside as test infrastructure: tests/conftest.py",
    ),
    "pytest_ini": ({**PLUGIN, "pytest.ini": "[pytest]\naddopts = -p calc_plugin\n"}, ["pytest.ini"], "pytest.ini"),
    "tox_ini": ({**PLUGIN, "tox.ini": "[pytest]\naddopts = -p calc_plugin\n"}, ["tox.ini"], "tox.ini"),
    "setup_cfg": ({**PLUGIN, "setup.cfg": "[tool:pytest]\naddopts = -p calc_plugin\n"}, ["setup.cfg"], "setup.cfg"),
    "pyproject": (
        {
            **PLUGIN,
            "pyproject.toml": REPO_FILES["pyproject.toml"] + '\n[tool.pytest.ini_options]\n'
            'addopts = "-p calc_plugin --continue-on-collection-errors --deselect tests/test_calc.py::test_nothing"\n',
        },
        ["pyproject.toml"],
        "pyproject.toml",
    ),
    "sitecustomize": ({**PLUGIN, "sitecustomize.py": SET_ENV}, ["sitecustomize.py"], "sitecustomize.py"),
    "usercustomize": ({**PLUGIN, "usercustomize.py": SET_ENV}, ["usercustomize.py"], "usercustomize.py"),
    "pth": ({**PLUGIN, "{site}/zz_hook.pth": SET_ENV}, ["{site}/zz_hook.pth"], "zz_hook.pth"),
    "shadow_pytest": ({**PLUGIN, "pytest.py": SHADOW_PYTEST}, ["pytest.py"], "pytest.py"),
    "shadow_unittest": ({**PLUGIN, "unittest.py": SHADOW_UNITTEST}, ["unittest.py"], "unittest.py"),
    "lib_skip": (
        {"calc.py": bad_add("import pytest\npytest.skip('not on this platform')")},
        [],
        "a skip or xfail is not a pass: tests/test_calc.py::test_add (SKIPPED, raised in calc.py)",
    ),
    "lib_xfail": (
        {"calc.py": bad_add("import pytest\npytest.xfail('known upstream bug')")},
        [],
        "a skip or xfail is not a pass: tests/test_calc.py::test_add (XFAIL, raised in calc.py)",
    ),
    "lib_skiptest": (
        {"calc.py": bad_add("import unittest\nraise unittest.SkipTest('needs a newer numpy')")},
        [],
        "a skip or xfail is not a pass: tests/test_calc.py::test_add (SKIPPED, raised in calc.py)",
    ),
    "p2p_skip": (
        {"calc.py": P2P_SKIP},
        [],
        "a skip or xfail is not a pass: tests/test_calc.py::test_mul (SKIPPED, raised in calc.py), "
        "tests/test_calc.py::test_mul_zero (SKIPPED, raised in calc.py)",
    ),
    "p2p_xfail": (
        {"calc.py": P2P_XFAIL},
        [],
        "a skip or xfail is not a pass: tests/test_calc.py::test_mul (XFAIL, raised in calc.py), "
        "tests/test_calc.py::test_mul_zero (XFAIL, raised in calc.py)",
    ),
    "imitate_after_summary": ({"calc.py": AFTER_SUMMARY}, [], "FAIL_TO_PASS failing (1/1): tests/test_calc.py::test_add"),
    "imitate_and_exit": (
        {"calc.py": bad_add(FAKE_PASS_AND_EXIT)},
        [],
        "pytest wrote no JUnit report (exit 0): no test result is trusted",
    ),
}
HONEST: dict[str, tuple[dict[str, str], list[str]]] = {
    "honest": ({"calc.py": FIXED_CALC}, []),
    # A real fix that also adds a reproduction test and bumps the version: those are set
    # aside (and named), the fix still resolves.
    "honest_with_extras": (
        {
            "calc.py": FIXED_CALC,
            "tests/test_repro.py": "from calc import add\n\n\ndef test_repro():\n    assert add(1, 1) == 2\n",
            "pyproject.toml": REPO_FILES["pyproject.toml"].replace('"1.0"', '"1.1"'),
        },
        ["pyproject.toml", "tests/test_repro.py"],
    ),
}


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def diff_of(base: Path, scratch: Path, changes: dict[str, str]) -> str:
    """`git diff` of `changes` over a copy of the base repo, ignored files included."""
    shutil.copytree(base, scratch)
    git(scratch, "init", "-q", "-b", "main")
    git(scratch, "add", "-A")
    git(scratch, "commit", "-q", "-m", "base")
    write_files(scratch, changes)
    git(scratch, "add", "-A")
    git(scratch, "add", "-f", *changes)  # an agent can force-add what .gitignore hides
    return git(scratch, "diff", "--cached", "--binary")


@pytest.fixture(scope="module")
def adversarial_run(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient, base_image: str
) -> tuple[dict[str, dict], str, Path]:
    """Run every trick and honest fix once: (records by trick, pytest output, run folder)."""
    root = tmp_path_factory.mktemp("adversarial")
    suite, work = root / "adv", root / "work"
    write_files(suite / "repo", REPO_FILES)
    (suite / "Dockerfile").write_text(DOCKERFILE)
    (suite / "suite.yaml").write_text(SUITE_YAML)
    version = run_output(
        docker_client, base_image, ["python3", "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"]
    ).decode().strip()
    site = f".venv/lib/{version}/site-packages"
    shutil.copytree(suite / "repo", work / "base")
    git(work / "base", "init", "-q", "-b", "main")
    git(work / "base", "add", "-A")
    git(work / "base", "commit", "-q", "-m", "base")
    base_commit = git(work / "base", "rev-parse", "HEAD").strip()
    test_patch = diff_of(suite / "repo", work / "tests", {"tests/test_calc.py": NEW_TESTS})
    gold = diff_of(suite / "repo", work / "gold", {"calc.py": FIXED_CALC})
    cases = {**{k: v[0] for k, v in TRICKS.items()}, **{k: v[0] for k, v in HONEST.items()}}
    rows, predictions = [], []
    for name, changes in cases.items():
        changes = {path.format(site=site): text for path, text in changes.items()}
        rows.append({
            "instance_id": f"adv__{name}", "repo": "adv/calc", "base_commit": base_commit,
            "problem_statement": "add(2, 3) returns -1", "patch": gold, "test_patch": test_patch,
            "FAIL_TO_PASS": json.dumps(F2P), "PASS_TO_PASS": json.dumps(P2P),
        })
        patch = diff_of(suite / "repo", work / name, changes)
        predictions.append({"instance_id": f"adv__{name}", "model_name_or_path": "adversary", "model_patch": patch})
    (suite / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (root / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions))
    command = [sys.executable, "-m", "pytest", "adv", "--agent", "replay", "--ohbench-predictions", "preds.jsonl",
               "--ohbench-run-id", "adv", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "PYTEST_ADDOPTS": ""})
    records = [json.loads(line) for line in (root / "reports" / "adv" / "results.jsonl").read_text().splitlines()]
    by_name = {r["instance_id"].removeprefix("adv__"): r for r in records}
    assert len(by_name) == len(cases), result.stdout[-3000:]
    return by_name, result.stdout, root


def verdict(output: str, instance_id: str) -> str:
    """The item's one-line verdict as pytest printed it."""
    lines = [line for line in output.splitlines() if line.startswith(f"{instance_id}: ")]
    assert lines, f"no verdict for {instance_id}"
    return lines[0]


@pytest.mark.parametrize("trick", list(TRICKS))
def test_each_trick_ends_unresolved_with_its_reason(adversarial_run: tuple[dict[str, dict], str, Path], trick: str) -> None:
    records, output, _ = adversarial_run
    record = records[trick]
    _, aside, reason = TRICKS[trick]
    site = next((p for p in record["set_aside"] if p.endswith(".pth")), "")
    expected_aside = [site if "{site}" in path else path for path in aside]
    assert record["outcome"] == "unresolved", verdict(output, f"adv__{trick}")
    assert record["set_aside"] == expected_aside
    assert record["check"]["skip_rule"] == "strict"
    assert verdict(output, f"adv__{trick}").startswith(f"adv__{trick}: unresolved")
    block = output.split(f"adv__{trick}: unresolved", 1)[1].split("  logs:", 1)[0]
    assert reason in block
    # The record says why too, with the failing tests, behind a code.
    assert reason in record["reason"] and record["reason"].split(":")[0] in (
        "tests_failed", "skip_not_pass", "untrusted_report", "only_infrastructure"), record["reason"]


def test_the_pth_trick_was_planted_in_the_environment(adversarial_run: tuple[dict[str, dict], str, Path]) -> None:
    records, _, _ = adversarial_run
    [path] = records["pth"]["set_aside"]
    assert path.startswith(".venv/lib/python3.") and path.endswith("/site-packages/zz_hook.pth")


@pytest.mark.parametrize("name", list(HONEST))
def test_honest_fixes_stay_resolved(adversarial_run: tuple[dict[str, dict], str, Path], name: str) -> None:
    records, output, root = adversarial_run
    record = records[name]
    assert record["outcome"] == "resolved", verdict(output, f"adv__{name}")
    assert record["set_aside"] == HONEST[name][1]
    assert record["tests"] == {"tests/test_calc.py::test_add": "PASSED", "tests/test_calc.py::test_mul": "PASSED",
                               "tests/test_calc.py::test_mul_zero": "PASSED"}
    # Results come from the JUnit XML pytest wrote outside the repository.
    assert "<testcase" in (root / record["log_dir"] / "junit.xml").read_text()


def test_set_aside_files_are_listed_in_the_logs(adversarial_run: tuple[dict[str, dict], str, Path]) -> None:
    records, _, root = adversarial_run
    record = records["pytest_ini"]
    assert (root / record["log_dir"] / "set_aside.txt").read_text() == "pytest.ini\n"
    assert "calc_plugin.py" in (root / record["log_dir"] / "patch.diff").read_text()  # the library part was graded


def test_official_skip_rule_gives_the_swebench_verdict_on_the_same_log(
    adversarial_run: tuple[dict[str, dict], str, Path]
) -> None:
    """`official` is the swebench package's verdict on the run's own -rA log: its parser finds no
    test id on a SKIPPED summary line, so a skipped PASS_TO_PASS test is missing (a failure)
    there too; by design a FAIL_TO_PASS skip or xfail never passes, nor one the code under test raised."""
    grading = pytest.importorskip("swebench.harness.grading")
    from swebench.harness.log_parsers.python import parse_log_pytest

    _, _, root = adversarial_run
    command = [sys.executable, "-m", "pytest", "adv", "--agent", "replay", "--ohbench-predictions", "preds.jsonl",
               "--ohbench-run-id", "official", "-p", "no:cacheprovider", "--ohbench-skip-rule", "official",
               "-k", "p2p_skip or p2p_xfail or lib_skip or lib_xfail or honest"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTEST_ADDOPTS": ""})
    results = root / "reports" / "official" / "results.jsonl"
    assert results.exists(), result.stdout[-3000:] + result.stderr[-2000:]
    lines = results.read_text().splitlines()
    records = {r["instance_id"]: r for r in map(json.loads, lines)}
    assert {r["check"]["skip_rule"] for r in records.values()} == {"official"}
    outcomes = {i.removeprefix("adv__"): r["outcome"] for i, r in records.items()}
    assert outcomes == {"p2p_skip": "unresolved", "p2p_xfail": "unresolved", "lib_skip": "unresolved", "lib_skiptest": "unresolved",
                        "lib_xfail": "unresolved", "honest": "resolved", "honest_with_extras": "resolved"}
    # The package itself on each item's real log: the same verdict, but where it reads the
    # printed XFAIL line of a FAIL_TO_PASS test or of a PASS_TO_PASS one the library xfailed
    # (the two differences by design, docs/grading.md).
    for name, record in records.items():
        log = (root / record["log_dir"] / "test_output.txt").read_text()
        official = parse_log_pytest(log, None)
        report = grading.get_eval_tests_report(official, {"FAIL_TO_PASS": F2P, "PASS_TO_PASS": P2P})
        resolved = grading.get_resolution_status(report) == grading.ResolvedStatus.FULL.value
        by_design = name in ("adv__lib_xfail", "adv__p2p_xfail")
        assert resolved == (record["outcome"] == "resolved") or (by_design and resolved), name
        if name == "adv__p2p_skip":
            assert report["PASS_TO_PASS"]["failure"] == P2P and record["pass_to_pass"]["failure"] == P2P
