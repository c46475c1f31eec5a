"""The gate's noise options through pytest: --ohbench-flaky files, the ohbench_flaky ini, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_a_missing_flaky_file_or_bad_level_is_a_usage_error(pytester: pytest.Pytester, swe_suite: Path) -> None:
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-flaky", "nope.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "--ohbench-flaky: no such file: nope.txt" in result.stderr.str()
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-compare-fail", "resolved_rate:significant@2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "the significance level must be between 0 and 1" in result.stderr.str()


@pytest.mark.docker
def test_flaky_instances_do_not_fail_the_instance_gate(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    assert pytester.runpytest_subprocess("suites", "--agent", "oracle", "-k", "textkit-1 or textkit-2", "--ohbench-run-id", "base").ret == 0
    (pytester.path / "flaky.txt").write_text("# flips now and then\nohbench__textkit-1\n")
    pytester.makeini("[pytest]\nohbench_flaky =\n    ohbench__intervals-*\n")
    result = pytester.runpytest_subprocess(
        "suites", "--agent", "noop", "-k", "textkit-1 or textkit-2", "--ohbench-compare", "reports/base",
        "--ohbench-compare-fail", "instance", "--ohbench-flaky", "flaky.txt",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["  FAIL instance: 1 regressed: ohbench__textkit-2 (ignored as flaky: ohbench__textkit-1)"])
    document = json.loads(next((pytester.path / "reports").glob("2*/compare.json")).read_text())
    assert document["flaky"] == ["ohbench__intervals-*", "ohbench__textkit-1"]
    assert document["gates"][0]["ignored_flaky"] == ["ohbench__textkit-1"] and document["gates"][0]["regressed"] == ["ohbench__textkit-2"]
