"""The plugin as a user meets it: collection, selection, bad input, outcomes without Docker."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES_SWE
from tinysuite import ROW, make_suite


def results(pytester: pytest.Pytester) -> list[dict]:
    path = pytester.path / "reports" / "latest" / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_collect_only_lists_one_item_per_row(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1", "octo__lib-2"])
    result = pytester.runpytest_subprocess("suite", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["suite/data.jsonl::octo__lib-1", "suite/data.jsonl::octo__lib-2"])
    assert result.ret == 0
    assert not (pytester.path / "reports").exists()  # nothing ran, nothing written


def test_jsonl_without_suite_yaml_is_not_collected(pytester: pytest.Pytester) -> None:
    (pytester.path / "data.jsonl").write_text(json.dumps({**ROW, "instance_id": "a"}) + "\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_k_selection_and_limit(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1", "octo__lib-2", "other__x-3", "other__x-4"])
    result = pytester.runpytest_subprocess("suite", "--collect-only", "-q", "-k", "other")
    result.stdout.fnmatch_lines(["suite/data.jsonl::other__x-3", "suite/data.jsonl::other__x-4", "*2/4 tests collected (2 deselected)*"])
    result = pytester.runpytest_subprocess("suite", "--collect-only", "-q", "-k", "other", "--ohbench-limit", "1")
    result.stdout.fnmatch_lines(["suite/data.jsonl::other__x-3", "*1/4 tests collected (3 deselected)*"])


def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"])
    result = pytester.runpytest_subprocess("suite", "--ohbench-limit", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ohbench-limit/--eval-n-limit: expected a number >= 1, got 0*"])
    result = pytester.runpytest_subprocess("suite")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no agent chosen: pass --llm-config SECTION to run OpenHands with that model, or --agent NAME*"])
    result = pytester.runpytest_subprocess("suite", "--agent", "replay")
    result.stderr.fnmatch_lines(["*--agent replay needs --ohbench-predictions FILE*"])


def test_unknown_agent_is_a_usage_error_listing_the_known_ones(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"])
    result = pytester.runpytest_subprocess("suite", "--agent", "gpt-engineer")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--agent: unknown agent 'gpt-engineer' (available: aider, claude-code, codex, command, gemini-cli, "
                                 "mini, noop, opencode, openhands, openhands-sdk, oracle, qwen-code, replay)*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_bad_rows_are_collection_errors_and_good_rows_still_run(pytester: pytest.Pytester, workers: list[str]) -> None:
    make_suite(pytester, ["octo__lib-1", "octo__lib-2"], extra_lines=("{oops", json.dumps({"instance_id": "x"})))
    result = pytester.runpytest_subprocess("suite", "--agent", "noop", *workers)
    result.stdout.fnmatch_lines([
        "*data.jsonl:3: invalid JSON*",
        "*data.jsonl:4: missing required field 'repo'*",
    ])
    result.stdout.fnmatch_lines(["*2 failed, 2 errors*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    records = results(pytester)
    assert sorted(r["instance_id"] for r in records) == ["octo__lib-1", "octo__lib-2"]
    assert {r["outcome"] for r in records} == {"empty_patch"}


def test_broken_suite_yaml_names_the_file(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"], suite_yaml="name: demo\nimage:\n  dockerfiel: Dockerfile\n")
    result = pytester.runpytest_subprocess("suite", "--agent", "noop")
    result.stdout.fnmatch_lines(["*suite.yaml: unknown key 'image.dockerfiel'*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_noop_records_empty_patch_with_a_short_verdict(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"])
    result = pytester.runpytest_subprocess("suite", "--agent", "noop")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["octo__lib-1: empty_patch (the agent produced no changes)", "  logs: reports/*/logs/octo__lib-1"])
    result.stdout.no_fnmatch_line("*Traceback*")
    [record] = results(pytester)
    assert record["outcome"] == "empty_patch" and record["agent"] == "noop" and not record["resolved"]
    assert record["nodeid"] == "suite/data.jsonl::octo__lib-1"
    assert record["durations"]["total"] >= 0 and record["finished_at"]
    assert (pytester.path / record["log_dir"] / "patch.diff").read_text() == ""


def test_printed_paths_open_from_the_folder_pytest_ran_in(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a sub-folder of the rootdir: every path the harness prints resolves from there."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")  # the rootdir, above where the user stands
    work = pytester.mkdir("work")
    suite = work / "suite"
    suite.mkdir()
    (suite / "suite.yaml").write_text("name: demo\n")
    lines = [json.dumps({**ROW, "instance_id": "octo__lib-1", "test_cmd": "x"}), "{not json"]
    (suite / "data.jsonl").write_text("\n".join(lines) + "\n")
    (work / "prompts").mkdir()
    (work / "prompts" / "empty.md").write_text("")
    monkeypatch.chdir(work)
    result = pytester.runpytest_subprocess("suite", "prompts", "--agent", "noop", "--ohbench-runtime", "local")
    text = result.stdout.str()
    assert f"rootdir: {pytester.path}" in text

    def printed(pattern: str) -> list[Path]:
        found = [Path(p) for p in re.findall(pattern, text, re.M)]
        assert found, f"nothing printed matches {pattern}"
        return found

    for logs in printed(r"^  logs: (\S+)$"):  # the verdict
        assert (work / logs / "patch.diff").is_file(), logs
    for results_file in printed(r"ohbench: \d+ results in (\S+)"):  # the terminal summary
        assert (work / results_file).is_file(), results_file
    for report in printed(r"^ohbench: report (\S+)$"):
        assert (work / report).is_file(), report
    for named in printed(r"^(\S+?)(?::\d+)?: (?:invalid JSON|empty prompt)"):  # collection errors
        assert not named.is_absolute() and (work / named).is_file(), named
    for named in printed(r"OhbenchWarning: (\S+?): row fields"):  # the warning
        assert not named.is_absolute() and (work / named).is_file(), named
    # Records keep their paths relative to the rootdir, as before (data, not output).
    [record] = [json.loads(line) for line in (work / "reports" / "latest" / "results.jsonl").read_text().splitlines()]
    assert record["log_dir"].startswith("work/reports/") and (pytester.path / record["log_dir"]).is_dir()
    assert record["dataset"] == "work/suite/data.jsonl"


def test_replay_reads_predictions_and_openhands_output(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1", "octo__lib-2", "octo__lib-3"])
    preds = pytester.path / "preds.jsonl"
    preds.write_text("\n".join([
        json.dumps({"instance_id": "octo__lib-1", "model_name_or_path": "m", "model_patch": ""}),
        json.dumps({"instance_id": "octo__lib-2", "test_result": {"git_patch": ""}, "history": []}),
    ]) + "\n")
    result = pytester.runpytest_subprocess("suite", "--agent", "replay", "--ohbench-predictions", str(preds))
    outcomes = {r["instance_id"]: r["outcome"] for r in results(pytester)}
    assert outcomes == {"octo__lib-1": "empty_patch", "octo__lib-2": "empty_patch", "octo__lib-3": "empty_patch"}
    result.stdout.fnmatch_lines(["*octo__lib-3: empty_patch (no prediction for octo__lib-3 in *preds.jsonl)*"])
    result.assert_outcomes(failed=3, warnings=1)


def test_broken_predictions_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"])
    preds = pytester.path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": "a", "model_patch": ""}) + "\n{broken\n")
    result = pytester.runpytest_subprocess("suite", "--agent", "replay", "--ohbench-predictions", str(preds))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ohbench-predictions: *preds.jsonl:2: invalid JSON*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_unreachable_docker_engine_is_one_usage_error_at_start(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    make_suite(pytester, ["octo__lib-1", "octo__lib-2"])
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-such.sock")
    result = pytester.runpytest_subprocess("suite", "--agent", "oracle", *workers)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("Docker engine unreachable at unix://") == 1
    assert "no-such.sock" in output and "scripts/bootstrap.sh" in output
    # Nothing ran: no results anywhere, and `latest` was not pointed at this run.
    assert not list(pytester.path.glob("reports/*/results.jsonl"))
    assert not (pytester.path / "reports" / "latest").exists()


@pytest.mark.docker
def test_the_same_instance_in_two_suites_keeps_two_log_folders(pytester: pytest.Pytester, base_image: str) -> None:
    """Two copies of the bundled SWE suite, one renamed: each item's logs stay its own."""
    for folder, name in (("first", "examples-swe"), ("second", "examples-swe-copy")):
        target = pytester.path / "suites" / folder
        shutil.copytree(EXAMPLES_SWE, target, ignore=shutil.ignore_patterns("__pycache__"))
        suite_yaml = target / "suite.yaml"
        suite_yaml.write_text(re.sub(r"(?m)^name: .*$", f"name: {name}", suite_yaml.read_text()))
    result = pytester.runpytest_subprocess("suites", "--agent", "oracle", "-k", "textkit-2 or intervals-1", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    lines = (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    folders = {(r["suite"], r["instance_id"]): r["log_dir"] for r in records}
    assert len(folders) == 4 and len(set(folders.values())) == 4, folders
    assert Path(folders[("examples-swe-copy", "ohbench__textkit-2")]).name == "examples-swe-copy.ohbench__textkit-2"
    for (suite, instance), log_dir in folders.items():
        logs = pytester.path / log_dir
        assert (logs / "test_output.txt").is_file() and (logs / "patch.diff").is_file()
        assert Path(log_dir).name == f"{suite}.{instance}"
