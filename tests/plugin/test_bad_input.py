"""Bad or surprising input meets the plugin: one clear line, and the rest still runs (no Docker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from tinysuite import ROW

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.suite import load_suite


def row(instance_id: str, **fields: object) -> str:
    return json.dumps({**ROW, "instance_id": instance_id, **fields})


def write_suite(folder: Path, files: dict[str, bytes | str], suite_yaml: str = "name: demo\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(suite_yaml)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def results(folder: Path) -> dict[str, dict]:
    lines = (folder / "latest" / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["instance_id"]: json.loads(line) for line in lines}


# --- datasets that cannot be read --------------------------------------------------------


def test_a_non_utf8_byte_is_an_error_naming_the_line_and_the_rest_runs(pytester: pytest.Pytester) -> None:
    # Latin-1 text in a UTF-8 file: the \xe9 of "café" is not valid UTF-8.
    latin1 = json.dumps({**ROW, "instance_id": "octo__lib-2", "problem_statement": "caf\u00e9"}, ensure_ascii=False)
    bad = (latin1 + "\n").encode("latin-1") + (row("octo__lib-3") + "\n").encode()
    write_suite(pytester.path / "suite", {"good.jsonl": row("octo__lib-1") + "\n", "bad.jsonl": bad})
    result = pytester.runpytest_subprocess("suite", "--agent", "noop")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.fnmatch_lines(["*bad.jsonl:1: not UTF-8: byte 0xe9 at column *"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert set(results(pytester.path / "reports")) == {"octo__lib-1", "octo__lib-3"}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_any_unexpected_error_reading_a_dataset_is_one_collection_error(pytester: pytest.Pytester, workers: list[str]) -> None:
    # A Multi-SWE-bench row whose resolved_issues is a number trips the loader (a TypeError).
    strange = {"org": "octo", "repo": "lib", "number": 5, "base": {"sha": "abc"}, "fix_patch": "",
               "test_patch": "", "f2p_tests": ["t::a"], "resolved_issues": 5}
    files = {"good.jsonl": row("octo__lib-1") + "\n", "strange.jsonl": row("octo__lib-9") + "\n" + json.dumps(strange) + "\n"}
    write_suite(pytester.path / "suite", files)
    result = pytester.runpytest_subprocess("suite", "--agent", "noop", *workers)
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.fnmatch_lines(["*strange.jsonl: cannot read the dataset: TypeError: *"])
    result.stdout.fnmatch_lines(["*1 failed, 1 error*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert set(results(pytester.path / "reports")) == {"octo__lib-1"}


def test_an_empty_dataset_is_a_warning_naming_it(pytester: pytest.Pytester) -> None:
    write_suite(pytester.path / "suite", {"good.jsonl": row("octo__lib-1") + "\n", "empty.jsonl": "\n  \n"})
    result = pytester.runpytest_subprocess("suite", "--agent", "noop")
    result.stdout.fnmatch_lines(["*OhbenchWarning: *suite/empty.jsonl: empty dataset: it has no rows*"])
    result.assert_outcomes(failed=1, warnings=1)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_unknown_row_fields_warn_once_per_dataset_with_the_nearest_known_one(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    lines = [row("octo__lib-1", test_cmd="pytest -x"), row("octo__lib-2", test_cmd="pytest -x", zzz_notes="n")]
    write_suite(pytester.path / "suite", {"data.jsonl": "\n".join(lines) + "\n"})
    result = pytester.runpytest_subprocess("suite", "--agent", "noop", *workers)
    message = ("OhbenchWarning: *suite/data.jsonl: row fields the harness does not read, ignored: "
               "'test_cmd' (did you mean 'test_command'?), 'zzz_notes'")
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert result.stdout.str().count("'test_cmd' (did you mean") == 1
    result.assert_outcomes(failed=2)


def test_every_unknown_suite_yaml_key_is_in_one_error_and_files_outside_datasets_are_never_read(
    pytester: pytest.Pytester,
) -> None:
    suite_yaml = (
        "name: demo\ndatasets: ['data*.jsonl']\nimgae: {pull: false}\nzzz: 1\n"
        "container: {cpu: 2, memroy: 1g}\ntimeouts: {task: 60, agnet: 30}\n"
    )
    outside = row("octo__lib-9", test_cmd="x") + "\n{not json\n"  # never read: not a dataset
    write_suite(pytester.path / "suite", {"data.jsonl": row("octo__lib-1") + "\n", "data2.jsonl": row("octo__lib-2") + "\n",
                                          "other.jsonl": outside}, suite_yaml)
    result = pytester.runpytest_subprocess("suite", "--agent", "noop", "-rN")
    text = result.stdout.str()
    assert text.count("unknown keys") == 1, text  # one error for the file, not one per dataset
    result.stdout.fnmatch_lines([
        "*suite.yaml: unknown keys 'imgae' (did you mean 'image'?), 'zzz' (known: *), 'container.cpu' "
        "(did you mean 'container.cpus'?), 'container.memroy' (did you mean 'container.memory'?), "
        "'timeouts.agnet' (did you mean 'timeouts.agent'?)"
    ])
    assert "other.jsonl" not in text
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # Fixed: the datasets run, their unknown row fields are one warning per dataset, other.jsonl is not read.
    (pytester.path / "suite" / "suite.yaml").write_text("name: demo\ndatasets: ['data*.jsonl']\n")
    (pytester.path / "suite" / "data2.jsonl").write_text(row("octo__lib-2", test_cmd="x", instnce="y") + "\n")
    result = pytester.runpytest_subprocess("suite", "--agent", "noop")
    text = result.stdout.str()
    assert "other.jsonl" not in text
    assert text.count("row fields the harness does not read") == 1
    result.stdout.fnmatch_lines(["*data2.jsonl: row fields the harness does not read, ignored: 'instnce' (did you mean "
                                 "'instance_id'?), 'test_cmd' (did you mean 'test_command'?)"])
    result.assert_outcomes(failed=2, warnings=1)


def test_the_bundled_datasets_use_only_known_fields(pytester: pytest.Pytester) -> None:
    examples = REPO_ROOT / "suites" / "examples" / "swe"
    result = pytester.runpytest_subprocess(str(examples), "--collect-only", "-q", "-W", "error::pytest.PytestWarning")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()


# --- suite.yaml types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("container: {cpus: two}", "container.cpus: expected a number, got 'two'"),
        ("container: {cpus: true}", "container.cpus: expected a number, got True"),
        ("container: {memory: lots}", "container.memory: invalid memory size 'lots' (expected e.g. 512m or 2g)"),
        ("container: {workdir: [a]}", "container.workdir: expected a string, got ['a']"),
        ("container: {network: bridge}", "container.network: expected none (sealed: an agent reaches the run's LLM "
         "gateway only) or host (the host's network, the internet included), got 'bridge'"),
        ("timeouts: {tests: '30'}", "timeouts.tests: expected a number, got '30'"),
        ("image: {pull: maybe}", "image.pull: expected true or false, got 'maybe'"),
        ("image: {build_args: [A]}", "image.build_args: expected a mapping, got ['A']"),
        ("image: {build_args: {PY: [3]}}", "image.build_args.PY: expected a string, got [3]"),
        ("test: {report_file: 5}", "test.report_file: expected a string or null, got 5"),
        ("datasets: 5", "datasets: expected a list of strings, got 5"),
        ("name: [a, b]", "name: expected a string, got ['a', 'b']"),
    ],
)
def test_wrongly_typed_suite_values_are_refused_at_load_naming_the_key(tmp_path: Path, yaml_text: str, message: str) -> None:
    (tmp_path / "suite.yaml").write_text(yaml_text + "\n")
    with pytest.raises(DatasetError) as excinfo:
        load_suite(tmp_path)
    assert str(excinfo.value) == f"{tmp_path / 'suite.yaml'}: {message}"


def test_a_suite_yaml_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"suite.yaml: cannot read: 'utf-8' codec can't decode byte 0xe9"):
        load_suite(tmp_path)


def test_well_typed_suite_values_load(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text(
        "datasets: one.jsonl\ncontainer: {cpus: 2, memory: 1073741824}\ntimeouts: {task: 60}\n"
        "image: {build_args: {PY: '3.12'}, tar: null, pull: false}\n"
    )
    suite = load_suite(tmp_path)
    assert suite is not None
    assert (suite.container.cpus, suite.container.memory, suite.timeouts.task) == (2, 1073741824, 60)
    assert suite.datasets == ["one.jsonl"] and suite.image.build_args == {"PY": "3.12"} and suite.image.pull is False


def test_a_wrongly_typed_suite_value_is_one_collection_error(pytester: pytest.Pytester) -> None:
    write_suite(pytester.path / "suite", {"data.jsonl": row("octo__lib-1") + "\n"}, "container: {cpus: two}\n")
    result = pytester.runpytest_subprocess("suite", "--agent", "noop")
    result.stdout.fnmatch_lines(["*suite/suite.yaml: container.cpus: expected a number, got 'two'"])
    result.stdout.no_fnmatch_line("*Traceback*")
    assert result.ret == pytest.ExitCode.INTERRUPTED


# --- --timeout precedence -----------------------------------------------------------------

SHOW_TIMEOUTS = """
def pytest_collection_modifyitems(items):
    for item in items:
        print("TIMEOUT", item.name, item.get_closest_marker("timeout").args[0])
"""


@pytest.mark.parametrize(
    ("suite_yaml", "args", "expected"),
    [
        ("timeouts: {task: 600}\n", [], {"octo__lib-1": 7, "octo__lib-2": 600}),
        ("timeouts: {task: 600}\n", ["--timeout", "30"], {"octo__lib-1": 7, "octo__lib-2": 30}),
        ("name: demo\n", [], {"octo__lib-1": 7, "octo__lib-2": 1800}),
    ],
    ids=["suite", "command-line", "default"],
)
def test_task_timeout_precedence_row_then_option_then_suite_then_default(
    pytester: pytest.Pytester, suite_yaml: str, args: list[str], expected: dict[str, float]
) -> None:
    write_suite(pytester.path / "suite", {"data.jsonl": row("octo__lib-1", timeout=7) + "\n" + row("octo__lib-2") + "\n"}, suite_yaml)
    pytester.makeconftest(SHOW_TIMEOUTS)
    result = pytester.runpytest_subprocess("suite", "--collect-only", "-q", "-s", *args)
    shown = {line.split()[1]: float(line.split()[2]) for line in result.stdout.lines if line.startswith("TIMEOUT ")}
    assert shown == expected


def test_a_row_timeout_that_is_not_a_number_is_a_row_error(pytester: pytest.Pytester) -> None:
    write_suite(pytester.path / "suite", {"data.jsonl": row("octo__lib-1", timeout="soon") + "\n"})
    result = pytester.runpytest_subprocess("suite", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*data.jsonl:1: field 'timeout' must be a number of seconds, got 'soon'*"])


# --- where reports go ---------------------------------------------------------------------


def test_report_paths_are_relative_to_the_invocation_directory(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # A suite outside the project, with its own ini file: pytest's rootdir is the suite folder.
    suite = write_suite(pytester.path / "elsewhere" / "suite", {"data.jsonl": row("octo__lib-1") + "\n"})
    (suite / "pytest.ini").write_text("[pytest]\n")
    project = pytester.mkdir("project")
    monkeypatch.chdir(project)
    result = pytester.runpytest_subprocess(str(suite), "--agent", "noop", "--ohbench-run-id", "r1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (project / "reports" / "r1" / "results.jsonl").is_file()
    result = pytester.runpytest_subprocess(str(suite), "--agent", "noop", "--ohbench-report-dir", "out", "--ohbench-run-id", "r2")
    assert (project / "out" / "r2" / "results.jsonl").is_file()
    absolute = pytester.path / "abs-reports"
    pytester.runpytest_subprocess(str(suite), "--agent", "noop", "--ohbench-report-dir", str(absolute), "--ohbench-run-id", "r3")
    assert (absolute / "r3" / "results.jsonl").is_file()
    assert not (suite / "reports").exists() and not (suite / "out").exists()
    # The record's log folder is where the logs really are (relative to the rootdir, or absolute).
    record = results(project / "reports")["octo__lib-1"]
    assert (suite / record["log_dir"]).resolve() == (project / "reports" / "r1" / "logs" / "octo__lib-1").resolve()


def test_ini_report_dir_is_relative_to_the_invocation_directory(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_suite(pytester.path / "suite", {"data.jsonl": row("octo__lib-1") + "\n"})
    pytester.makeini("[pytest]\nohbench_report_dir = out\n")
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)
    result = pytester.runpytest_subprocess(str(pytester.path / "suite"), "--agent", "noop", "--ohbench-run-id", "r1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (sub / "out" / "r1" / "results.jsonl").is_file()
    assert not (pytester.path / "out").exists()


# --- replayed predictions -----------------------------------------------------------------


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_missing_predictions_are_judged_failures_with_one_warning(pytester: pytest.Pytester, workers: list[str]) -> None:
    ids = ["octo__lib-1", "octo__lib-2", "octo__lib-3"]
    write_suite(pytester.path / "suite", {"data.jsonl": "\n".join(row(i) for i in ids) + "\n"})
    preds = pytester.path / "preds.jsonl"
    preds.write_text("\n".join([
        json.dumps({"instance_id": "octo__lib-1", "model_name_or_path": "m", "model_patch": "first"}),
        json.dumps({"instance_id": "octo__lib-1", "model_name_or_path": "m", "model_patch": ""}),
    ]) + "\n")
    result = pytester.runpytest_subprocess("suite", "--agent", "replay", "--ohbench-predictions", str(preds), *workers)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*OhbenchWarning: *preds.jsonl: no prediction for 2 of 3 selected instances: octo__lib-2, octo__lib-3*"])
    result.stdout.fnmatch_lines(["*OhbenchWarning: *preds.jsonl:2: duplicate prediction for 'octo__lib-1' (first at line 1); the last one is used*"])
    assert result.stdout.str().count("no prediction for 2 of 3") == 1
    result.stdout.fnmatch_lines(["*octo__lib-2: empty_patch (no prediction for octo__lib-2 in *preds.jsonl)*"])
    records = results(pytester.path / "reports")
    assert {i: (r["outcome"], r["reason"].split(":")[0]) for i, r in records.items()} == {
        "octo__lib-1": ("empty_patch", "empty_patch"),  # the last of the duplicates: an empty patch
        "octo__lib-2": ("empty_patch", "no_prediction"),
        "octo__lib-3": ("empty_patch", "no_prediction"),
    }
    reason = records["octo__lib-2"]["reason"]
    assert reason.startswith("no_prediction: no prediction for octo__lib-2 in ") and reason.endswith("preds.jsonl")
