"""The official SWE-bench harness's test command and log parser for a row it knows.

For a row with a `version` whose repo and version the official `swebench` package knows:
its eval script's environment and test command, its test-file selection (directives), and
its per-repository log parser over the part of the log between its start/end markers.
The patch check (kinds/swe/checker.py) uses this plan unless the row or suite.yaml chose a
command or parser; it grades the statuses by the run's skip rule (kinds/judge/grading.py), and
with `official` the verdict is the package's own.

It needs the optional extra `pytest-ohbench[swebench]`; a row that needs it without it is
an infra_error naming the extra. The package's tables are used as they are, never copied.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.suite import TestSettings
from pytest_ohbench.core.task import PatchTestsSpec, Task
from pytest_ohbench.kinds.judge.logparsers import LogParser

EXTRA = "pytest-ohbench[swebench]"
START, END = ">>>>> Start Test Output", ">>>>> End Test Output"
EXIT_VARIABLE = "OHBENCH_TEST_EXIT_CODE"


@dataclasses.dataclass
class OfficialPlan:
    """The command to run in the workspace and how to read its output."""

    command: str
    parse: LogParser
    source: str  # "swebench <version>": recorded, so a verdict says whose rules it used


@cache
def _swebench() -> Any:
    """The swebench package's modules the plan uses (imported once; ImportError if missing)."""
    import swebench
    from swebench.harness import constants, grading, log_parsers
    from swebench.harness.test_spec import create_scripts, test_spec

    return dataclasses.make_dataclass("SweBench", ["version", "constants", "grading", "parsers", "scripts", "spec"])(
        getattr(swebench, "__version__", "?"), constants, grading, log_parsers, create_scripts, test_spec
    )


def swebench_available() -> bool:
    """Whether the official package (4.x: it carries the per-repo, per-version tables) imports."""
    try:
        _swebench()
    except ImportError:
        return False
    return True


def _script(lines: list[str], base_commit: str) -> str:
    """The official eval script without the steps the patch check did already.

    Kept: the environment (conda activation, `eval_commands`, `install`, `build`) and the
    test command between the official markers; dropped: the informational git commands and
    the reset/apply of the test files. The test command's exit code becomes the script's.
    """
    dropped = (f"git checkout {base_commit} ", "git apply", "git status", "git show", "git -c core.fileMode=false diff",
               "git config --global --add safe.directory", 'echo "No test files to reset"')
    kept: list[str] = ["set -uxo pipefail"]
    for line in lines:
        if line.startswith(dropped):
            continue
        if line == f": '{END}'":
            kept += [f"{EXIT_VARIABLE}=$?", line, f"exit ${EXIT_VARIABLE}"]
            break
        kept.append(line)
    return "\n".join(kept) + "\n"


def wants_official(task: Task, settings: TestSettings) -> bool:
    """Whether the official harness's rules would grade `task`: a SWE-bench row with a `version`
    and no test command or parser of its own or of suite.yaml."""
    spec = task.check
    if not isinstance(spec, PatchTestsSpec) or spec.test_command:
        return False
    if {"command", "parser", "report_file"} & settings.given:
        return False
    return task.fields.get("version") not in (None, "")


def missing_extra_message(task: Task, count: int = 1) -> str:
    """One line: which row needs the extra, what to install, how to do without it."""
    rows = f" and {count - 1} more row(s)" if count > 1 else ""
    return (
        f"{task.location}: {task.repo} {task.fields.get('version')}{rows}: graded with the official SWE-bench test "
        f"command and log parser, which need the swebench package: pip install '{EXTRA}' "
        "(or set test.command and test.parser in suite.yaml)"
    )


def official_plan(task: Task, spec: PatchTestsSpec, workdir: str) -> OfficialPlan | None:
    """The official harness's plan for a row with a `version`, or None when it has none for it."""
    version = task.fields.get("version")
    if version in (None, ""):
        return None
    try:
        sb = _swebench()
    except ImportError:
        raise HarnessError(Outcome.INFRA_ERROR, missing_extra_message(task)) from None
    specs = sb.constants.MAP_REPO_VERSION_TO_SPECS.get(task.repo, {}).get(str(version))
    parser = sb.parsers.MAP_REPO_TO_PARSER.get(task.repo)
    if specs is None or parser is None:
        return None  # a repo or version the official harness does not know: the suite's rules
    instance = {
        "instance_id": task.instance_id,
        "repo": task.repo,
        "version": str(version),
        "base_commit": task.base_commit,
        "test_patch": spec.test_patch,
        "FAIL_TO_PASS": spec.fail_to_pass,
        "PASS_TO_PASS": spec.pass_to_pass,
    }
    lines = sb.scripts.make_eval_script_list(instance, specs, "testbed", workdir, task.base_commit, spec.test_patch)
    test_spec = sb.spec.TestSpec(
        instance_id=task.instance_id, repo=task.repo, version=str(version), repo_script_list=[],
        eval_script_list=lines, env_script_list=[], arch="x86_64", FAIL_TO_PASS=spec.fail_to_pass,
        PASS_TO_PASS=spec.pass_to_pass, language=sb.constants.MAP_REPO_TO_EXT.get(task.repo, "py"),
        docker_specs={}, namespace=None,
    )

    def parse(text: str) -> dict[str, str]:
        # As the official get_logs_eval: the part between the markers, else the whole log.
        part = text.split(START, 1)[1].split(END, 1)[0] if START in text and END in text else text
        return dict(parser(part, test_spec) or parser(text, test_spec))

    return OfficialPlan(_script(lines, task.base_commit), parse, f"swebench {sb.version}")


# Our log parsers whose format the official package parses too, and its parser for it.
OFFICIAL_LOG_PARSERS = {
    "pytest": ("python", "parse_log_pytest"),
    "gotest": ("go", "parse_log_gotest"),
    "cargo": ("rust", "parse_log_cargo"),
    "tap": ("javascript", "parse_log_tap"),
}


def _official_package(what: str) -> Any:
    try:
        return _swebench()
    except ImportError:
        raise HarnessError(
            Outcome.INFRA_ERROR,
            f"{what} needs the official swebench package: pip install '{EXTRA}' (or use the skip rule strict)",
        ) from None


def official_view(statuses: dict[str, str], source: str, log: str) -> dict[str, str]:
    """The results as the official package's parser for the run's log format reads them.

    `source` "swebench": they are its parser's already. "junit" (pytest's report): pytest's
    `-rA` summary, which the official parser reads, names every test but a skipped one
    ("SKIPPED [1] file:line: reason"), so a skip is missing there. A parser the package has
    a counterpart for: that counterpart on the same log. Any other format: as they are (the
    package has no parser for it; its rules then apply to ours).
    """
    if source == "swebench":
        return statuses
    if source == "junit":
        return {test: status for test, status in statuses.items() if status != "SKIPPED"}
    if source in OFFICIAL_LOG_PARSERS:
        module, name = OFFICIAL_LOG_PARSERS[source]
        _official_package("the skip rule official")
        import importlib

        parser = getattr(importlib.import_module(f"swebench.harness.log_parsers.{module}"), name)
        return dict(parser(log, None))
    return statuses


def official_report(statuses: dict[str, str], fail_to_pass: list[str], pass_to_pass: list[str], repo: str = "") -> dict[str, Any]:
    """The package's get_eval_tests_report (fail-only for the repositories it grades so)."""
    sb = _official_package("the skip rule official")
    constants = sb.constants
    eval_type = constants.EvalType.FAIL_ONLY if repo in constants.FAIL_ONLY_REPOS else constants.EvalType.PASS_AND_FAIL
    return dict(sb.grading.get_eval_tests_report(
        statuses, {"FAIL_TO_PASS": fail_to_pass, "PASS_TO_PASS": pass_to_pass}, eval_type=eval_type
    ))
