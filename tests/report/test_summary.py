"""summary.json, its terminal table and results.jsonl loading, as pure functions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.report.run_folder import RunFolder, latest_records, load_records
from pytest_ohbench.report.summary import format_table, pass_at_k, summarize, write_summary


def rec(instance: str, outcome: str = "resolved", **fields: Any) -> TaskRecord:
    """A record as the plugin writes it; the node id carries model and attempt like collect.py."""
    fields.setdefault("agent", "mini")
    suffix = "-".join(p for p in (fields.get("model"), f"a{fields['attempt']}" if "attempt" in fields else None) if p)
    return TaskRecord(
        run_id=fields.pop("run_id", "run-1"), nodeid=f"suites/s/d.jsonl::{instance}" + (f"[{suffix}]" if suffix else ""),
        instance_id=instance, suite=fields.pop("suite", "s"), dataset=fields.pop("dataset", "suites/s/d.jsonl"),
        outcome=outcome, resolved=outcome == "resolved", **fields,
    )


def write_results(run_dir: Path, text: str) -> Path:
    run_dir.mkdir(exist_ok=True)
    (run_dir / "results.jsonl").write_text(text, encoding="utf-8")
    return run_dir


def line(record: TaskRecord) -> str:
    return json.dumps(record.to_dict(), sort_keys=True)


# pass@k ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (3, 1, 1, 1 / 3), (3, 1, 2, 2 / 3), (3, 1, 3, 1.0),  # one success in three
        (3, 0, 1, 0.0), (3, 0, 3, 0.0), (3, 3, 1, 1.0),
        (4, 2, 2, 1 - 1 / 6),  # C(2,2)/C(4,2) = 1/6
        (5, 1, 2, 1 - 6 / 10),  # C(4,2)/C(5,2)
        (1, 1, 1, 1.0), (1, 0, 1, 0.0),
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "c", "k"), [(3, 1, 4), (3, 1, 0), (2, 3, 1)])
def test_pass_at_k_rejects_undefined_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(n, c, k)


def test_summary_pass_at_k_averages_instances_up_to_the_smallest_n() -> None:
    records = [
        rec("a", "resolved", attempt=1), rec("a", "unresolved", attempt=2), rec("a", "unresolved", attempt=3),
        rec("b", "resolved", attempt=1), rec("b", "resolved", attempt=2), rec("b", "unresolved", attempt=3),
        rec("c", "unresolved", attempt=1), rec("c", "unresolved", attempt=2), rec("c", "empty_patch", attempt=3),
    ]
    [group] = summarize(records)["groups"]
    # a: n=3 c=1 -> 1/3, 2/3, 1; b: n=3 c=2 -> 2/3, 1, 1; c: 0, 0, 0
    assert group["pass_at_k"] == {
        "1": pytest.approx((1 / 3 + 2 / 3) / 3, abs=1e-6),
        "2": pytest.approx((2 / 3 + 1) / 3, abs=1e-6),
        "3": pytest.approx(2 / 3, abs=1e-6),
    }
    # Instance c had fewer attempts that ran: k stops at 2; its not_run attempt is not an attempt.
    records[-1] = rec("c", "not_run", attempt=3)
    [group] = summarize(records)["groups"]
    assert list(group["pass_at_k"]) == ["1", "2"]
    assert group["pass_at_k"]["1"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3, abs=1e-6)


def test_no_pass_at_k_with_single_attempts() -> None:
    summary = summarize([rec("a"), rec("b", "unresolved")])
    assert "pass_at_k" not in summary["groups"][0] and "pass_at_k" not in summary["totals"]


# summarize --------------------------------------------------------------------------------


def test_group_counts_rates_costs_tokens_and_times() -> None:
    records = [
        rec("a", cost_usd=0.5, input_tokens=100, output_tokens=10, cached_tokens=40, durations={"total": 2.0, "agent": 1.5}),
        rec("b", "unresolved", cost_usd=0.25, input_tokens=50, output_tokens=5, durations={"total": 1.0, "agent": 0.5}),
        rec("c", "infra_error", durations={"total": 0.5}),
        rec("d", "not_run", error="run budget spent: $1 of $1"),
    ]
    summary = summarize(records)
    assert summary["run_ids"] == ["run-1"] and summary["generated_at"].endswith("+00:00")
    [group] = summary["groups"]
    assert (group["model"], group["agent"], group["suite"]) == ("-", "mini", "s")
    assert set(group["outcomes"]) == {o.value for o in Outcome}  # every outcome, 0 if none
    assert group["outcomes"] == {o.value: 0 for o in Outcome} | {"resolved": 1, "unresolved": 1, "infra_error": 1, "not_run": 1}
    assert (group["items"], group["instances"], group["resolved"], group["resolved_instances"]) == (4, 3, 1, 1)
    assert group["resolved_rate"] == pytest.approx(1 / 3)  # d did not run: not in the denominator
    assert (group["cost_usd"], group["mean_cost_usd"]) == (0.75, 0.25)  # mean over the 3 that ran
    assert (group["input_tokens"], group["output_tokens"], group["cached_tokens"]) == (150, 15, 40)
    assert (group["item_seconds"], group["agent_seconds"], group["harness_seconds"]) == (3.5, 2.0, 1.5)
    assert group["resolved_rate_ci"] == [pytest.approx(0.0615, abs=1e-4), pytest.approx(0.7923, abs=1e-4)]  # Wilson, 1 of 3
    assert group["not_run_reasons"] == ["run budget spent: $1 of $1"]
    assert summary["totals"] == {k: v for k, v in group.items() if k not in ("model", "agent", "suite")}


def test_resolved_rate_counts_an_instance_resolved_by_any_attempt() -> None:
    records = [rec("a", "unresolved", attempt=1), rec("a", "resolved", attempt=2), rec("b", "unresolved", attempt=1), rec("b", "unresolved", attempt=2)]
    [group] = summarize(records)["groups"]
    assert (group["resolved"], group["resolved_instances"], group["resolved_rate"]) == (1, 1, 0.5)


def test_nothing_ran_gives_zero_rates_not_errors() -> None:
    summary = summarize([rec("a", "not_run")])
    assert summary["totals"]["resolved_rate"] == 0.0 and summary["totals"]["mean_cost_usd"] == 0.0
    empty = summarize([])
    assert empty["groups"] == [] and empty["totals"]["items"] == 0 and empty["run_ids"] == []


def test_groups_by_model_agent_and_suite_and_totals_keep_models_apart() -> None:
    records = [
        rec("a", model="gpt"), rec("a", "unresolved", model="claude"),
        rec("a", agent="oracle", run_id="run-2"), rec("x", suite="perf", dataset="suites/perf/p.jsonl", agent="oracle"),
    ]
    summary = summarize(records)
    keys = [(g["model"], g["agent"], g["suite"], g["resolved_rate"]) for g in summary["groups"]]
    assert keys == [("-", "oracle", "perf", 1.0), ("-", "oracle", "s", 1.0), ("claude", "mini", "s", 0.0), ("gpt", "mini", "s", 1.0)]
    # "a" under two models is two instances, not one resolved by either.
    assert (summary["totals"]["instances"], summary["totals"]["resolved_rate"]) == (4, 0.75)
    assert summary["run_ids"] == ["run-1", "run-2"]


def test_dicts_are_accepted_as_records() -> None:
    summary = summarize([rec("a").to_dict(), rec("b", "unresolved").to_dict() | {"future_field": 1}])
    assert summary["totals"]["resolved"] == 1 and summary["totals"]["items"] == 2


def test_last_record_wins_for_the_same_instance_model_agent_and_attempt() -> None:
    first = rec("a", "infra_error", cost_usd=0.1)
    retried = rec("a", "resolved", cost_usd=0.2)
    other_attempt = rec("a", "unresolved", attempt=2)
    # A resumed run with one more model names the item a[gpt]: still the same item.
    renamed = [rec("b", "unresolved", model="gpt"), dataclasses.replace(rec("b", model="gpt"), nodeid="suites/s/d.jsonl::b")]
    latest = latest_records([first, other_attempt, retried, *renamed])
    assert [(r.instance_id, r.attempt, r.outcome) for r in latest] == [("a", 2, "unresolved"), ("a", 1, "resolved"), ("b", 1, "resolved")]
    totals = summarize([first, retried])["totals"]
    assert (totals["items"], totals["resolved"], totals["outcomes"]["infra_error"], totals["cost_usd"]) == (1, 1, 0, 0.2)
    # Only the newest verdict counts, even when it is worse.
    assert summarize([retried, first])["totals"]["resolved"] == 0


def test_same_instance_id_in_two_suites_is_not_a_duplicate() -> None:
    records = [rec("a"), rec("a", "unresolved", suite="other", dataset="suites/other/d.jsonl")]
    assert len(latest_records(records)) == 2


def test_write_summary_writes_summary_json(tmp_path: Path) -> None:
    summary = write_summary(tmp_path, [rec("a")])
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


# format_table -----------------------------------------------------------------------------


def test_table_columns_nonzero_outcomes_pass_at_k_and_totals() -> None:
    records = [
        rec("a", model="gpt", attempt=1, cost_usd=0.5, input_tokens=1200, output_tokens=30, durations={"total": 12.25}),
        rec("a", "agent_timeout", model="gpt", attempt=2),
        rec("b", "empty_patch", attempt=1), rec("b", "empty_patch", attempt=2),
    ]
    lines = format_table(summarize(records))
    header = lines[0].split()
    assert header == [
        "model", "agent", "suite", "n", "resolved", "rate", "95%", "CI", "empty_patch", "agent_timeout", "cost", "$",
        "tokens", "in/out", "item", "s", "agent", "s",
    ]
    assert lines[1].split() == ["-", "mini", "s", "2", "0", "0.0%", "0-79%", "2", "0", "0.0000", "0/0", "0.0", "0.0"]
    assert "pass@k @1=0.000 @2=0.000" in lines[2] and "pass^k ^1=0.000 ^2=0.000" in lines[2]
    assert lines[3].split() == ["gpt", "mini", "s", "2", "1", "100.0%", "21-100%", "0", "1", "0.5000", "1200/30", "12.2", "0.0"]
    assert lines[4].strip().startswith("pass@k @1=0.500 @2=1.000   pass^k ^1=0.500 ^2=0.000")
    assert lines[5].split()[:7] == ["total", "4", "1", "50.0%", "9-91%", "2", "1"]
    assert lines[6] == "wall time unknown; item time summed 12.2 s = agent 0.0 s + harness 12.2 s"
    # Fixed width: every table row is as wide as the header's columns.
    assert lines[1].index("0.0%") + len("0.0%") == lines[0].index("rate") + len("rate")
    assert lines[2].index("pass@k") == lines[0].index("rate") - len("100.0%") + len("rate")


def test_table_of_a_single_group_has_no_totals_row_and_shows_model_none_as_dash() -> None:
    lines = format_table(summarize([rec("a"), rec("b", "unresolved")]))
    assert len(lines) == 3 and lines[1].split()[:6] == ["-", "mini", "s", "2", "1", "50.0%"]
    assert lines[0].split()[8] == "unresolved" and lines[2].startswith("wall time ")


def test_table_of_an_empty_summary_is_a_header() -> None:
    assert format_table(summarize([]))[0].startswith("model")


# load_records -----------------------------------------------------------------------------


def test_load_records_reads_every_line_in_order(tmp_path: Path) -> None:
    run = write_results(tmp_path / "run", "".join(line(r) + "\n" for r in (rec("a"), rec("a", "unresolved"), rec("b"))) + "\n")
    assert [(r.instance_id, r.outcome) for r in load_records(run)] == [("a", "resolved"), ("a", "unresolved"), ("b", "resolved")]


def test_a_truncated_last_line_is_skipped_silently(tmp_path: Path) -> None:
    whole = line(rec("b"))
    run = write_results(tmp_path / "run", line(rec("a")) + "\n" + whole[: len(whole) // 2])
    assert [r.instance_id for r in load_records(run)] == ["a"]


def test_a_last_line_cut_inside_a_multibyte_character_is_skipped(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    whole = json.dumps(rec("b", instruction="é" * 10).to_dict(), ensure_ascii=False).encode()
    cut = whole[: whole.index("é".encode()) + 1]  # half of the two-byte character
    (run / "results.jsonl").write_bytes((line(rec("a")) + "\n").encode() + cut)
    assert [r.instance_id for r in load_records(run)] == ["a"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"run_id": "r", "node\n' + line(rec("a")) + "\n", ":1: not a result record"),  # cut, then more
        (line(rec("a")) + "\nnot json\n", ":2: not a result record"),  # complete but bad last line
        (line(rec("a")) + '\n{"run_id": "r"}\n', ":2: not a result record"),  # missing fields
        (line(rec("a")) + "\n[1, 2]\n" + line(rec("b")), ":2: not a result record"),  # not an object
    ],
)
def test_a_malformed_line_names_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    run = write_results(tmp_path / "run", text)
    with pytest.raises(ValueError, match=f"results.jsonl{where}") as info:
        load_records(run)
    assert str(run) in str(info.value) and "\n" not in str(info.value)


def test_a_folder_without_results_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no results"):
        load_records(tmp_path)


def test_loaded_duplicates_summarize_with_the_last_one(tmp_path: Path) -> None:
    run = write_results(tmp_path / "run", line(rec("a", "agent_error")) + "\n" + line(rec("a")) + "\n" + '{"run_id": "r", "no')
    records = load_records(run)
    assert len(records) == 2
    totals = summarize(records)["totals"]
    assert (totals["items"], totals["resolved"], totals["outcomes"]["agent_error"]) == (1, 1, 0)


def test_append_after_a_cut_line_starts_a_new_line(tmp_path: Path) -> None:
    """A resumed run appends after a line a killed run cut short; both stay readable."""
    folder = RunFolder(tmp_path, "run")
    folder.path.mkdir()
    folder.results_path.write_text('{"run_id": "run", "nod')
    record = TaskRecord(run_id="run", nodeid="s/d.jsonl::a", instance_id="a", suite="s", dataset="d.jsonl")
    folder.append(record.to_dict())
    lines = folder.results_path.read_text().splitlines()
    assert lines[0] == '{"run_id": "run", "nod' and json.loads(lines[1])["instance_id"] == "a"


# times and pass^k ------------------------------------------------------------------------------


def test_wall_time_is_measured_or_estimated_and_named_apart_from_item_time() -> None:
    records = [
        rec("a", durations={"total": 10.0, "agent": 6.0}, started_at="2025-01-01T00:00:00+00:00", finished_at="2025-01-01T00:00:10+00:00"),
        rec("b", durations={"total": 12.5, "agent": 7.0}, started_at="2025-01-01T00:00:01+00:00", finished_at="2025-01-01T00:00:13+00:00"),
        rec("c", "not_run", started_at="2025-01-01T01:00:00+00:00", finished_at="2025-01-01T01:00:00+00:00"),
    ]
    # Two items in parallel: 22.5 s of item time in a 13.3 s run.
    measured = summarize(records, wall_seconds=13.3)
    assert (measured["wall_seconds"], measured["wall_source"]) == (13.3, "measured")
    totals = measured["totals"]
    assert (totals["item_seconds"], totals["agent_seconds"], totals["harness_seconds"]) == (22.5, 13.0, 9.5)
    # Offline, without a measurement: first start to last finish of the items that ran.
    estimated = summarize(records)
    assert (estimated["wall_seconds"], estimated["wall_source"]) == (13.0, "timestamps")
    assert format_table(estimated)[-1] == "wall time 13.0 s (from time stamps); item time summed 22.5 s = agent 13.0 s + harness 9.5 s"
    assert summarize([rec("a", started_at="bad", finished_at=None)])["wall_seconds"] is None


def test_pass_hat_k_is_all_k_attempts_resolved() -> None:
    records = [
        rec("a", "resolved", attempt=1), rec("a", "resolved", attempt=2), rec("a", "unresolved", attempt=3),
        rec("b", "resolved", attempt=1), rec("b", "resolved", attempt=2), rec("b", "resolved", attempt=3),
    ]
    [group] = summarize(records)["groups"]
    # a: n=3 c=2 -> ^1 2/3, ^2 C(2,2)/C(3,2) = 1/3, ^3 0; b: 1, 1, 1
    assert group["pass_hat_k"] == {"1": pytest.approx(5 / 6, abs=1e-6), "2": pytest.approx(2 / 3, abs=1e-6), "3": 0.5}
    assert group["pass_at_k"] == {"1": pytest.approx(5 / 6, abs=1e-6), "2": 1.0, "3": 1.0}
