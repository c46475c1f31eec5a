"""The compare gate as pure functions: expressions, baseline resolution, verdicts."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.report.compare import Gate, compare_runs, is_flaky, parse_gate, read_flaky_file, report_lines, resolve_baseline
from pytest_ohbench.report.run_folder import load_records
from pytest_ohbench.tools.testing.synthetic import make_records, random_flips, rerun


def rec(instance: str, outcome: str = "resolved", **fields: Any) -> TaskRecord:
    fields.setdefault("agent", "mini")
    return TaskRecord(
        run_id=fields.pop("run_id", "run-1"), nodeid=f"suites/s/d.jsonl::{instance}", instance_id=instance,
        suite="s", dataset="suites/s/d.jsonl", outcome=outcome, resolved=outcome == "resolved", **fields,
    )


def gates(*expressions: str) -> list[Gate]:
    return [parse_gate(e) for e in expressions]


def verdicts(baseline: list[TaskRecord], current: list[TaskRecord], *expressions: str) -> dict[str, bool]:
    return {r.gate.text: r.passed for r in compare_runs(baseline, current, gates(*expressions)).results}


# parse_gate -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gate"),
    [
        ("resolved_rate:-2%", Gate("resolved_rate", -2.0, True, "resolved_rate:-2%")),
        ("resolved_rate:-0%", Gate("resolved_rate", -0.0, True, "resolved_rate:-0%")),
        ("cost:+10%", Gate("cost", 10.0, True, "cost:+10%")),
        ("cost:+0.50", Gate("cost", 0.5, False, "cost:+0.50")),
        ("cost:+.5", Gate("cost", 0.5, False, "cost:+.5")),
        ("tokens:+15%", Gate("tokens", 15.0, True, "tokens:+15%")),
        ("input_tokens:+1000", Gate("input_tokens", 1000.0, False, "input_tokens:+1000")),
        ("output_tokens:+2.5%", Gate("output_tokens", 2.5, True, "output_tokens:+2.5%")),
        ("time:+20%", Gate("time", 20.0, True, "time:+20%")),
        ("  time:+60 ", Gate("time", 60.0, False, "time:+60")),
        ("instance", Gate("instance", text="instance")),
        ("resolved_rate:significant", Gate("resolved_rate", text="resolved_rate:significant", level=0.05)),
        ("resolved_rate: significant @ 0.01", Gate("resolved_rate", text="resolved_rate: significant @ 0.01", level=0.01)),
        ("resolved_rate:significant@10%", Gate("resolved_rate", text="resolved_rate:significant@10%", level=0.1)),
    ],
)
def test_gate_expressions(text: str, gate: Gate) -> None:
    assert parse_gate(text) == gate


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("speed:+1%", "unknown metric 'speed'"),
        ("instances", "unknown metric 'instances'"),
        (":+1%", "no metric"),
        ("", "no metric"),
        ("Cost:+10%", "unknown metric 'Cost'"),
        ("cost", "missing the allowed change"),
        ("cost:", "missing the allowed change"),
        ("cost:10%", "needs a sign"),
        ("cost:+", "missing the number"),
        ("cost:+%", "missing the number"),
        ("tokens:+x", "'x' is not a number"),
        ("tokens:+1e3", "'1e3' is not a number"),
        ("time:+-5%", "'-5' is not a number"),
        ("time:+inf%", "'inf' is not a number"),
        ("cost:-5%", "cost takes a rise"),
        ("resolved_rate:+2%", "resolved_rate takes a drop"),
        ("resolved_rate:-2", "percentage points and needs '%'"),
        ("instance:+1", "'instance' takes no limit"),
        ("resolved_rate:significant@", "level '' is not a number"),
        ("resolved_rate:significant@x", "level 'x' is not a number"),
        ("resolved_rate:significant@1", "must be between 0 and 1"),
        ("resolved_rate:significant@0", "must be between 0 and 1"),
        ("resolved_rate:significant@150%", "must be between 0 and 1"),
        ("cost:significant", "needs a sign"),
    ],
)
def test_bad_gate_expressions_say_why_in_one_line(bad: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_gate(bad)
    message = str(info.value)
    assert message.startswith(f"bad gate {bad!r}: ") and reason in message and "\n" not in message


def test_parse_gate_is_an_argparse_type() -> None:
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--fail", type=parse_gate, action="append")
    assert parser.parse_args(["--fail", "cost:+10%", "--fail", "instance"]).fail == gates("cost:+10%", "instance")
    # argparse shows the message itself, not just "invalid parse_gate value".
    with pytest.raises(argparse.ArgumentError, match="bad gate 'cost:10%': the change needs a sign"):
        parser.parse_args(["--fail", "cost:10%"])


# compare_runs: each metric, pass and fail ------------------------------------------------------


BASE = [
    rec("a", cost_usd=1.0, input_tokens=100, output_tokens=50, durations={"total": 10.0}),
    rec("b", cost_usd=1.0, input_tokens=100, output_tokens=50, durations={"total": 10.0}),
]
ALL = ("resolved_rate:-0%", "cost:+0%", "cost:+0", "tokens:+0%", "input_tokens:+0", "output_tokens:+0%", "time:+0%", "instance")


def test_a_run_compared_with_itself_passes_every_gate() -> None:
    result = compare_runs(BASE, BASE, gates(*ALL))
    assert not result.failed and all(r.passed for r in result.results) and result.matched == 2
    assert result.only_in_baseline == result.only_in_current == []
    assert all(r.change == 0 for r in result.results if r.gate.metric != "instance")


def test_no_gates_never_fails() -> None:
    result = compare_runs(BASE, [rec("a", "unresolved")], [])
    assert not result.failed and result.results == []


def test_resolved_rate_is_in_percentage_points() -> None:
    base = [rec(f"i{n}") for n in range(50)]
    one_lost = [rec("i0", "unresolved"), *base[1:]]  # 100% -> 98%: -2 points exactly
    assert verdicts(base, one_lost, "resolved_rate:-2%", "resolved_rate:-1.9%") == {"resolved_rate:-2%": True, "resolved_rate:-1.9%": False}
    [result] = compare_runs(base, one_lost, gates("resolved_rate:-1.9%")).results
    assert (result.baseline, result.current, result.change) == (100.0, 98.0, pytest.approx(-2.0))
    assert result.message == "resolved_rate: 100.0% -> 98.0% (-2.0 pts, limit -1.9 pts): FAIL"
    # A rise always passes.
    assert verdicts(one_lost, base, "resolved_rate:-0%") == {"resolved_rate:-0%": True}


def test_all_lost_message() -> None:
    [result] = compare_runs([rec("a")], [rec("a", "unresolved")], gates("resolved_rate:-2%")).results
    assert result.message == "resolved_rate: 100.0% -> 0.0% (-100.0 pts, limit -2.0 pts): FAIL"
    assert not result.passed


def test_cost_relative_and_absolute() -> None:
    dearer = [rec("a", cost_usd=1.1), rec("b", cost_usd=1.0)]  # 2.0 -> 2.1 USD: +5%
    assert verdicts(BASE, dearer, "cost:+5%", "cost:+4.9%", "cost:+0.1", "cost:+0.05") == {
        "cost:+5%": True, "cost:+4.9%": False, "cost:+0.1": True, "cost:+0.05": False,
    }
    rel, absolute = compare_runs(BASE, dearer, gates("cost:+4.9%", "cost:+0.05")).results
    assert rel.message == "cost: 2 -> 2.1 USD (+5.0%, limit +4.9%): FAIL"
    assert absolute.message == "cost: 2 -> 2.1 USD (+0.1 USD, limit +0.05 USD): FAIL"
    # Cheaper always passes.
    assert verdicts(BASE, [rec("a"), rec("b")], "cost:+0%") == {"cost:+0%": True}


def test_a_rise_from_zero_fails_relative_gates_and_is_measured_by_absolute_ones() -> None:
    free, paid = [rec("a")], [rec("a", cost_usd=0.01)]
    assert verdicts(free, paid, "cost:+1000%", "cost:+0.01", "cost:+0.001") == {"cost:+1000%": False, "cost:+0.01": True, "cost:+0.001": False}
    [result] = compare_runs(free, paid, gates("cost:+1000%")).results
    assert math.isinf(result.change) and result.to_dict()["change"] is None  # JSON has no infinity
    json.dumps(compare_runs(free, paid, gates("cost:+1000%")).to_dict(), allow_nan=False)


def test_tokens_gates() -> None:
    more = [rec("a", input_tokens=130, output_tokens=50), rec("b", input_tokens=100, output_tokens=65)]
    # tokens 300 -> 345 (+15%); input 200 -> 230 (+15%); output 100 -> 115 (+15%)
    assert verdicts(BASE, more, "tokens:+15%", "tokens:+14%", "input_tokens:+15%", "input_tokens:+29",
                    "output_tokens:+15", "output_tokens:+10%") == {
        "tokens:+15%": True, "tokens:+14%": False, "input_tokens:+15%": True, "input_tokens:+29": False,
        "output_tokens:+15": True, "output_tokens:+10%": False,
    }


def test_time_gates() -> None:
    slower = [rec("a", durations={"total": 13.0}), rec("b", durations={"total": 11.0})]  # 20 s -> 24 s
    assert verdicts(BASE, slower, "time:+20%", "time:+19%", "time:+4", "time:+3.5") == {
        "time:+20%": True, "time:+19%": False, "time:+4": True, "time:+3.5": False,
    }
    [result] = compare_runs(BASE, slower, gates("time:+19%")).results
    assert result.message == "time: 20 -> 24 s (+20.0%, limit +19%): FAIL"


def test_limits_reached_exactly_pass_despite_float_noise() -> None:
    # (1.1 - 1.0) / 1.0 * 100 is 10.000000000000009 in floating point.
    assert verdicts([rec("a", cost_usd=1.0)], [rec("a", cost_usd=1.1)], "cost:+10%", "cost:+0.1") == {"cost:+10%": True, "cost:+0.1": True}
    base = [rec(f"i{n}") for n in range(3)]
    assert verdicts(base, [rec("i0", "unresolved"), *base[1:]], "resolved_rate:-33.333333333333336%") == {"resolved_rate:-33.333333333333336%": True}


def test_instance_gate_lists_every_regressed_instance_with_its_model() -> None:
    base = [rec("a", model="gpt"), rec("b", model="gpt"), rec("c", model="gpt", outcome="unresolved"), rec("a", model="claude")]
    now = [rec("a", "unresolved", model="gpt"), rec("b", "infra_error", model="gpt"), rec("c", model="gpt"), rec("a", model="claude")]
    result = compare_runs(base, now, gates("instance"))
    [verdict] = result.results
    assert not verdict.passed and result.failed
    assert verdict.regressed == ["a[gpt]", "b[gpt]"]  # c improved; a under claude held
    assert verdict.message == "instance: 2 regressed: a[gpt], b[gpt]: FAIL"
    assert "  FAIL instance: 2 regressed: a[gpt], b[gpt]" in result.lines()


def test_records_match_by_instance_and_model_and_by_instance_alone_without_models() -> None:
    # Different agents, no model on either side: oracle vs noop compare instance by instance.
    oracle = [rec("a", agent="oracle"), rec("b", agent="oracle")]
    noop = [rec("a", "empty_patch", agent="noop"), rec("b", "empty_patch", agent="noop")]
    result = compare_runs(oracle, noop, gates("instance", "resolved_rate:-2%"))
    assert result.matched == 2 and result.results[0].regressed == ["a", "b"] and result.failed
    # A model on one side only does not match.
    result = compare_runs([rec("a")], [rec("a", model="gpt")], gates("instance"))
    assert result.matched == 0 and not result.failed
    assert (result.only_in_baseline, result.only_in_current) == (["a"], ["a[gpt]"])


def test_instances_in_one_run_only_are_informational() -> None:
    base = [*BASE, rec("old")]
    now = [*BASE, rec("new", "unresolved", cost_usd=100.0), rec("late", "not_run")]
    result = compare_runs(base, now, gates(*ALL))
    assert not result.failed and result.matched == 2
    assert (result.only_in_baseline, result.only_in_current) == (["old"], ["new"])
    lines = result.lines()
    assert lines[0] == "compared with baseline: 2 instance(s) in both runs"
    assert any("only in the baseline" in line and "old" in line for line in lines)
    assert any("only in this run" in line and "new" in line for line in lines)


def test_not_run_items_are_left_out_not_counted_as_regressions() -> None:
    result = compare_runs(BASE, [BASE[0], rec("b", "not_run")], gates("instance", "resolved_rate:-0%"))
    assert not result.failed and result.matched == 1 and result.only_in_baseline == ["b"]


def test_only_first_attempts_and_latest_records_count() -> None:
    base = [rec("a", attempt=1), rec("a", "unresolved", attempt=2)]
    # The retried first attempt wins over the infra error before it; attempt 2 is ignored.
    now = [rec("a", "infra_error", attempt=1), rec("a", attempt=1), rec("a", "unresolved", attempt=2)]
    assert not compare_runs(base, now, gates("instance", "resolved_rate:-0%")).failed
    assert compare_runs(base, list(reversed(now)), gates("instance")).failed


def test_nothing_in_common_passes_but_says_so() -> None:
    result = compare_runs([rec("a")], [rec("b")], gates("resolved_rate:-2%"))
    assert not result.failed and result.matched == 0
    assert "  nothing to compare: no instance ran in both runs" in result.lines()


def test_lines_and_to_dict() -> None:
    now = [rec("a", "unresolved", cost_usd=1.0), BASE[1]]
    result = compare_runs(BASE, now, gates("resolved_rate:-2%", "cost:+10%"), name="reports/run-0")
    assert result.lines() == [
        "compared with reports/run-0: 2 instance(s) in both runs",
        "  resolved 2 -> 1 of 2: 1 lost, 0 gained (McNemar exact p = 1)",
        "  FAIL resolved_rate: 100.0% -> 50.0% (-50.0 pts, limit -2.0 pts)",
        "  ok   cost: 2 -> 2 USD (+0.0%, limit +10%)",
    ]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["failed"] is True and data["baseline"] == "reports/run-0" and data["matched"] == 2
    assert (data["lost"], data["gained"], data["mcnemar_p"]) == (1, 0, 1.0)
    assert data["gates"][0] == {
        "gate": "resolved_rate:-2%", "metric": "resolved_rate", "limit": -2.0, "percent": True, "level": None, "baseline": 100.0,
        "current": 50.0, "change": -50.0, "passed": False, "regressed": [], "ignored_flaky": [], "p_value": None,
        "message": "resolved_rate: 100.0% -> 50.0% (-50.0 pts, limit -2.0 pts): FAIL",
    }
    assert data["pairs"][0] == {
        "name": "a", "before": "resolved", "after": "unresolved", "cost_before": 1.0, "cost_after": 1.0,
        "tokens_before": 150, "tokens_after": 0, "flaky": False, "flip": "lost",
    }
    assert data["gates"][1]["passed"] is True and data["gates"][1]["message"].endswith(": ok")


def test_compare_from_results_files(tmp_path: Path) -> None:
    for name, records in (("base", BASE), ("now", [rec("a", "unresolved"), BASE[1]])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    result = compare_runs(load_records(tmp_path / "base"), load_records(tmp_path / "now"), gates("instance"))
    assert result.results[0].regressed == ["a"]


# resolve_baseline -------------------------------------------------------------------------


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    (reports / "20250101-000000-aaaa").mkdir(parents=True)
    (reports / "20250102-000000-bbbb").mkdir()
    (reports / "latest").symlink_to("20250102-000000-bbbb", target_is_directory=True)
    return reports


def test_latest_resolves_the_symlink(reports: Path) -> None:
    resolved = resolve_baseline("latest", reports)
    assert resolved == (reports / "20250102-000000-bbbb").resolve() and not resolved.is_symlink()


def test_a_run_id_under_the_reports_dir(reports: Path) -> None:
    assert resolve_baseline("20250101-000000-aaaa", reports) == (reports / "20250101-000000-aaaa").resolve()


def test_a_run_folder_path(reports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "ci" / "baseline"
    elsewhere.mkdir(parents=True)
    assert resolve_baseline(str(elsewhere), reports) == elsewhere.resolve()
    monkeypatch.chdir(tmp_path)
    assert resolve_baseline("ci/baseline", reports) == elsewhere.resolve()


@pytest.mark.parametrize("spec", ["run-9", "latest", "/nonexistent/run"])
def test_a_missing_baseline_is_file_not_found_in_one_line(tmp_path: Path, spec: str) -> None:
    with pytest.raises(FileNotFoundError) as info:
        resolve_baseline(spec, tmp_path / "reports")
    message = str(info.value)
    assert message.startswith(f"baseline run {spec!r} not found (looked in ") and "\n" not in message


def test_a_dangling_latest_link_says_so(reports: Path) -> None:
    (reports / "latest").unlink()
    (reports / "latest").symlink_to("gone")
    with pytest.raises(FileNotFoundError, match="a broken link"):
        resolve_baseline("latest", reports)


# noise: resolved_rate:significant and flaky instances ------------------------------------------

NOISY = ("resolved_rate:significant", "resolved_rate:-2%", "instance")


@pytest.fixture
def baseline_run() -> list[TaskRecord]:
    """80 instances, an LLM agent resolving about half."""
    return make_records(80, {"gpt": 0.5}, seed=7)


@pytest.fixture
def noisy_rerun(baseline_run: list[TaskRecord]) -> list[TaskRecord]:
    """The identical work rerun: random instances flip, 6 lost and 4 gained (a -2.5 pt drift)."""
    lose, gain = random_flips(baseline_run, 6, seed=11)
    return rerun(baseline_run, lose=lose, gain=gain[:4])


@pytest.fixture
def real_drop(baseline_run: list[TaskRecord]) -> list[TaskRecord]:
    """A real regression: 14 resolved instances lost, 1 gained back by chance."""
    lose, gain = random_flips(baseline_run, 14, seed=12)
    return rerun(baseline_run, lose=lose, gain=gain[:1])


def test_significant_passes_a_rerun_of_identical_work_with_random_flips(baseline_run: list[TaskRecord], noisy_rerun: list[TaskRecord]) -> None:
    result = compare_runs(baseline_run, noisy_rerun, gates(*NOISY))
    significant, fixed, instance = result.results
    assert (len(result.lost), len(result.gained)) == (6, 4)
    p = 2 * (1 + 10 + 45 + 120 + 210) / 2**10  # P(at most 4 of 10 fair coins), both sides
    assert significant.passed and significant.p_value == pytest.approx(p)
    # The fixed-threshold gates fail on the very same noise: that is what `significant` is for.
    assert not fixed.passed and fixed.change == pytest.approx(-2.5)
    assert not instance.passed and len(instance.regressed) == 6
    assert "(-2.5 pts; 6 lost, 4 gained, McNemar exact p = 0.754, not significant at 0.05): ok" in significant.message


def test_significant_fails_a_real_drop(baseline_run: list[TaskRecord], real_drop: list[TaskRecord]) -> None:
    [significant] = compare_runs(baseline_run, real_drop, gates("resolved_rate:significant")).results
    p = 2 * (1 + 15) / 2**15  # 14 lost, 1 gained of 15 discordant
    assert not significant.passed and significant.p_value == pytest.approx(p)
    assert significant.change == pytest.approx(-100 * 13 / 80)
    assert significant.message.endswith(f"(-16.2 pts; 14 lost, 1 gained, McNemar exact p = {p:.3g}, significant at 0.05): FAIL")
    # The user's level decides: at 1e-4 the same drop is not enough evidence.
    assert verdicts(baseline_run, real_drop, "resolved_rate:significant@0.0001") == {"resolved_rate:significant@0.0001": True}


def test_significant_never_fails_an_improvement(baseline_run: list[TaskRecord], real_drop: list[TaskRecord]) -> None:
    assert verdicts(real_drop, baseline_run, "resolved_rate:significant@0.5") == {"resolved_rate:significant@0.5": True}
    assert verdicts(baseline_run, baseline_run, "resolved_rate:significant@0.99") == {"resolved_rate:significant@0.99": True}


def test_flaky_instances_are_listed_but_do_not_fail_the_instance_gate(tmp_path: Path) -> None:
    base = [rec("a", model="gpt"), rec("b", model="gpt"), rec("c", model="claude")]
    now = [rec("a", "unresolved", model="gpt"), rec("b", "unresolved", model="gpt"), rec("c", "unresolved", model="claude")]
    flaky_file = tmp_path / "flaky.txt"
    flaky_file.write_text("# known flaky\na   # times out now and then\n\nc[claude]\n")
    patterns = read_flaky_file(flaky_file)
    assert patterns == ["a", "c[claude]"]
    result = compare_runs(base, now, gates("instance"), flaky=patterns)
    [instance] = result.results
    assert not instance.passed and instance.regressed == ["b[gpt]"] and instance.ignored == ["a[gpt]", "c[claude]"]
    assert instance.message == "instance: 1 regressed: b[gpt] (ignored as flaky: a[gpt], c[claude]): FAIL"
    [instance] = compare_runs(base, now, gates("instance"), flaky=["*"]).results
    assert instance.passed and instance.regressed == []
    assert [p.flaky for p in result.pairs] == [True, False, True]
    # The id or id[model] as written, or a glob over either.
    assert is_flaky(("sqlglot-12", "gpt", ""), ["sqlglot-*"]) and not is_flaky(("sqlglot-12", "gpt", ""), ["sqlglot-1"])
    assert is_flaky(("x", "gpt", ""), ["x[gpt]"]) and not is_flaky(("x", "claude", ""), ["x[gpt]"])
    assert is_flaky(("x-1", "gpt", ""), ["x-*[[]gpt]"]) and not is_flaky(("x-1", "claude", ""), ["x-*[[]gpt]"])


def test_report_lines_put_unlike_settings_first_with_their_markup() -> None:
    result = compare_runs([rec("a")], [rec("a", "unresolved")], gates("instance"))
    lines = report_lines(result, ["models.gpt.temperature: baseline 0.0, now 0.7"])
    assert lines[0] == ("ohbench: WARNING: the baseline ran with other settings (1):", "warning")
    assert lines[1] == ("  models.gpt.temperature: baseline 0.0, now 0.7", "warning")
    assert lines[-1] == ("  FAIL instance: 1 regressed: a", "fail")
