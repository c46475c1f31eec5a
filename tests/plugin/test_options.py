"""Options declared once (plugin/options.py): the command line, the ini keys and the settings
all come from the table, and a value is read command line, then ini, then environment, then default."""

from __future__ import annotations

import pytest

from pytest_ohbench.plugin.options import OPTIONS


def test_every_declared_option_and_ini_key_is_offered(pytester: pytest.Pytester) -> None:
    shown = pytester.runpytest_subprocess("--help").stdout.str()
    for option in OPTIONS:
        for flag in option.flags:
            assert flag in shown, flag
        if option.ini:
            assert f"  {option.dest} " in shown or f"  {option.dest}(" in shown or f"  {option.dest} (" in shown, option.dest
    assert "(default: reports; ini: ohbench_report_dir)" in " ".join(shown.split())


CONFTEST = """
import json
def pytest_sessionstart(session):
    from pytest_ohbench.plugin.state import run_state
    s = run_state(session.config).settings
    print("SETTINGS " + json.dumps({"limit": s.limit, "retries": s.llm_retries, "prefix": s.image_prefix,
                                    "hints": s.hints, "runtime": s.runtime, "steps": s.agent.max_steps}))
"""


def settings_of(pytester: pytest.Pytester, *args: str) -> str:
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-s", *args)
    line = next(line for line in result.stdout.lines if line.startswith("SETTINGS "))
    return line.removeprefix("SETTINGS ")


def test_command_line_then_ini_then_environment_then_default(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(CONFTEST)
    monkeypatch.delenv("EVAL_DOCKER_IMAGE_PREFIX", raising=False)
    monkeypatch.delenv("USE_HINT_TEXT", raising=False)
    assert settings_of(pytester) == (
        '{"limit": null, "retries": 3, "prefix": null, "hints": false, "runtime": "docker", "steps": 100}'
    )
    pytester.makeini("[pytest]\nohbench_limit = 4\nohbench_llm_retries = 1\nohbench_max_steps = 7\n")
    monkeypatch.setenv("EVAL_DOCKER_IMAGE_PREFIX", "registry.local/ns")
    monkeypatch.setenv("USE_HINT_TEXT", "true")
    assert settings_of(pytester) == (
        '{"limit": 4, "retries": 1, "prefix": "registry.local/ns", "hints": true, "runtime": "docker", "steps": 7}'
    )
    assert settings_of(pytester, "--ohbench-limit", "2", "--ohbench-image-prefix", "other", "--ohbench-max-steps", "9") == (
        '{"limit": 2, "retries": 1, "prefix": "other", "hints": true, "runtime": "docker", "steps": 9}'
    )


def test_a_bad_ini_value_is_a_usage_error_naming_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nohbench_limit = many\n")
    result = pytester.runpytest_subprocess("--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option ohbench_limit (for --ohbench-limit): expected a whole number, got 'many'*"])
