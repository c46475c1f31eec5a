"""summary.json: per model x agent x suite, outcome counts, rates, cost, tokens, time, pass@k.

Definitions (also the meaning of every summary.json field):

- A record's *instance* is (suite, dataset, instance_id) run by one (model, agent); its
  *attempts* are its records numbered 1..k (`--ohbench-attempts k`).
- Several records with the same instance, model, agent and attempt (retries, resume): the
  last one written wins, as it is the newest verdict on that item.
- `items` counts records (every attempt, not_run included); `outcomes` counts them by
  outcome, with every Outcome value present.
- `instances` counts the distinct instances with at least one attempt that ran (outcome not
  `not_run`); `resolved_instances` those resolved by at least one of their attempts, and
  `resolved_rate` = resolved_instances / instances (0.0 when nothing ran). With one attempt
  each this is simply resolved / instances run. `resolved_rate_ci` is its 95% Wilson
  interval [low, high] (instances are the trials).
- `resolved` counts resolved records (attempts), equal to outcomes["resolved"].
- `cost_usd`, tokens and times are sums over all records; `mean_cost_usd` is per record
  that ran.
- Times, in seconds, never mixed up: `item_seconds` sums every item's own duration
  (durations["total"], setup to teardown); `agent_seconds` the part the agent ran
  (durations["agent"]); `harness_seconds` the rest (image, container, check, clean-up).
  Items run in parallel under xdist, so `item_seconds` exceeds the time the run took; that
  is the top-level `wall_seconds`: measured by the controller from the start of the test
  loop to its end (summed over the sessions of a resumed run) when `wall_source` is
  "measured", else estimated from the first record's start to the last one's finish
  ("timestamps", one-second resolution; offline rebuilds of older runs).
- `pass_at_k` and `pass_hat_k` (only when some instance has more than one attempt that ran):
  for k = 1 .. min(n) over the instances, the mean over instances of the unbiased pass@k
  (some of k attempts resolve, Chen et al. 2021) and pass^k (all k resolve, tau-bench), n
  attempts that ran and c of them resolved.
- `replay_invalid`: the perf instances whose human commit does not replay on this machine
  (below the criterion's bar or not significant, kinds/perf/checker.py); their records are counted
  in `items` and `outcomes` but left out of `instances`, the resolved counts and rates,
  pass@k and the gate.
- `failure_reasons`: the judged failures (outcome judged, not resolved) counted by the code
  of their `reason` (`tests_failed`, `skip_not_pass`, `empty_patch`, `below_human`, ...;
  the part before the colon of each record's one-line reason).
- `agents` (only when the records come from several agents, `--agent a --agent b`): the
  agents compared. `by_agent` holds each agent's statistics over all its records (the
  fields above); `instances` one entry per (suite, instance, model) with each agent's
  outcome (`resolved` when one of its attempts resolved, else its first attempt's) and
  `resolved_by`, the agents that resolved it; `resolved_by_all`, `resolved_by_none` and
  `resolved_only_by` (agent -> instances only it resolved) count them.
- one section per task kind that has one, under the kind's name (core/kinds.py): `perf` (only
  when some record is a perf task): agent vs human speedups per task and per model, see
  kinds/perf/summary.py.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_ohbench.core.kinds import records_by_kind, registered
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord, counted, reason_code, utc_now
from pytest_ohbench.report.run_folder import NO_MODEL, latest_records, record_key
from pytest_ohbench.report.stats import pass_at_k, pass_hat_k, wilson_interval

__all__ = ["SUMMARY_FILE", "format_table", "load_summary", "pass_at_k", "pass_hat_k", "summarize", "time_line", "timestamp_span", "write_summary"]

SUMMARY_FILE = "summary.json"

_NOT_RUN = Outcome.NOT_RUN.value
_RESOLVED = Outcome.RESOLVED.value


def _seconds(records: list[TaskRecord], stage: str) -> float:
    return round(sum(r.durations.get(stage, 0.0) for r in records), 3)


def _group(records: list[TaskRecord]) -> dict[str, Any]:
    """The statistics of one group of (already de-duplicated) records."""
    counts = {outcome.value: 0 for outcome in Outcome}
    for record in records:
        counts[record.outcome.value] = counts.get(record.outcome.value, 0) + 1
    ran = [r for r in records if r.outcome != _NOT_RUN]
    # Per instance, the resolved flag of each attempt that ran: the rate and pass@k. A perf
    # task whose human commit does not replay on this machine is left out of them.
    attempts: dict[tuple[str, ...], list[bool]] = defaultdict(list)
    for record in ran:
        if counted(record):
            attempts[record_key(record)[:-1]].append(record.resolved)
    invalid = {record_key(r)[:-1] for r in ran if not counted(r)}
    instances = len(attempts)
    resolved_instances = sum(any(results) for results in attempts.values())
    cost = sum(r.cost_usd for r in records)
    item_seconds, agent_seconds = _seconds(records, "total"), _seconds(records, "agent")
    low, high = wilson_interval(resolved_instances, instances)
    group: dict[str, Any] = {
        "items": len(records),
        "instances": instances,
        "outcomes": counts,
        "resolved": counts[_RESOLVED],
        "resolved_instances": resolved_instances,
        "resolved_rate": resolved_instances / instances if instances else 0.0,
        "resolved_rate_ci": [round(low, 6), round(high, 6)],
        "cost_usd": round(cost, 6),
        "mean_cost_usd": round(cost / len(ran), 6) if ran else 0.0,
        "input_tokens": sum(r.input_tokens for r in records),
        "output_tokens": sum(r.output_tokens for r in records),
        "cached_tokens": sum(r.cached_tokens for r in records),
        "item_seconds": item_seconds,
        "agent_seconds": agent_seconds,
        "harness_seconds": round(max(0.0, item_seconds - agent_seconds), 3),
        "reasoning_tokens": sum(r.reasoning_tokens for r in records),
        "replay_invalid": len(invalid),
    }
    failures = Counter(reason_code(r.reason) or r.outcome.value for r in ran if r.outcome.judged and not r.resolved)
    group["failure_reasons"] = dict(sorted(failures.items()))
    reasons = sorted({r.error for r in records if r.outcome == _NOT_RUN and r.error})
    if reasons:
        group["not_run_reasons"] = reasons
    sizes = [len(results) for results in attempts.values()]
    if sizes and max(sizes) > 1:
        # Up to the smallest n: a larger k is undefined for some instance, and averaging
        # over a changing set of instances would make pass@k non-monotonic in k.
        ks = range(1, min(sizes) + 1)
        for name, estimator in (("pass_at_k", pass_at_k), ("pass_hat_k", pass_hat_k)):
            group[name] = {
                str(k): round(sum(estimator(len(r), sum(r), k) for r in attempts.values()) / instances, 6) for k in ks
            }
    return group


def _parse_time(text: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def timestamp_span(records: Iterable[TaskRecord]) -> float | None:
    """Seconds from the first record's start to the last one's finish (None without times)."""
    starts = [t for r in records if r.outcome != _NOT_RUN and (t := _parse_time(r.started_at))]
    ends = [t for r in records if r.outcome != _NOT_RUN and (t := _parse_time(r.finished_at))]
    if not starts or not ends:
        return None
    return round(max(0.0, (max(ends) - min(starts)).total_seconds()), 3)


def summarize(records: Iterable[TaskRecord | dict[str, Any]], wall_seconds: float | None = None) -> dict[str, Any]:
    """The content of summary.json: `groups` by (model, agent, suite), `totals`, run ids, wall time.

    Accepts records or results.jsonl dicts; duplicates are resolved with `latest_records`.
    `wall_seconds` is the run's measured wall time; without it, the records' time stamps
    give an estimate (see the module docstring).
    """
    loaded = latest_records(r if isinstance(r, TaskRecord) else TaskRecord.from_dict(r) for r in records)
    by_key: dict[tuple[str, str, str], list[TaskRecord]] = defaultdict(list)
    for record in loaded:
        by_key[(record.model or NO_MODEL, record.agent, record.suite)].append(record)
    groups = [{"model": m, "agent": a, "suite": s, **_group(rs)} for (m, a, s), rs in sorted(by_key.items())]
    source = "measured" if wall_seconds is not None else "timestamps"
    if wall_seconds is None:
        wall_seconds = timestamp_span(loaded)
    summary = {
        "generated_at": utc_now(),
        "run_ids": sorted({r.run_id for r in loaded}),
        "wall_seconds": None if wall_seconds is None else round(wall_seconds, 3),
        "wall_source": source if wall_seconds is not None else None,
        "groups": groups,
        "totals": _group(loaded),
    }
    compared = agents_section(loaded)
    if compared is not None:
        summary["agents"] = compared
    for kind, records_of_kind in records_by_kind(loaded).items():  # e.g. perf: agent vs human speedups
        section = kind.summary_section(records_of_kind)
        if section is not None:
            summary[kind.name] = section
    return summary


def agents_section(records: list[TaskRecord]) -> dict[str, Any] | None:
    """The agents side by side (see the module docstring); None with one agent."""
    by_agent: dict[str, list[TaskRecord]] = defaultdict(list)
    for record in records:
        by_agent[record.agent].append(record)
    if len(by_agent) < 2:
        return None
    agents = sorted(by_agent)
    outcomes: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for record in sorted(records, key=lambda r: r.attempt):
        if record.outcome == _NOT_RUN or not counted(record):
            continue
        shown = outcomes[(record.suite, record.instance_id, record.model or NO_MODEL)]
        if record.resolved or record.agent not in shown:
            shown[record.agent] = record.outcome.value
    instances = [
        {"suite": suite, "instance_id": instance, "model": model, "outcomes": dict(sorted(shown.items())),
         "resolved_by": [a for a in agents if shown.get(a) == _RESOLVED]}
        for (suite, instance, model), shown in sorted(outcomes.items())
    ]
    return {
        "by_agent": {agent: _group(by_agent[agent]) for agent in agents},
        "instances": instances,
        "resolved_by_all": sum(len(i["resolved_by"]) == len(agents) for i in instances),
        "resolved_by_none": sum(not i["resolved_by"] for i in instances),
        "resolved_only_by": {a: sum(i["resolved_by"] == [a] for i in instances) for a in agents},
    }


def agents_lines(section: dict[str, Any]) -> list[str]:
    """The agents compared, for the terminal: one row each, then who alone resolved what."""
    header = ("agent", "instances", "resolved", "rate", "cost $", "tokens in/out", "item s", "agent s")
    rows = [header] + [
        (agent, str(g["instances"]), str(g["resolved_instances"]), _rate(g), f"{g['cost_usd']:.4f}",
         f"{g['input_tokens']}/{g['output_tokens']}", f"{g['item_seconds']:.1f}", f"{g['agent_seconds']:.1f}")
        for agent, g in section["by_agent"].items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["agents compared:"] + [
        "  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows
    ]
    alone = ", ".join(f"{agent} {count}" for agent, count in section["resolved_only_by"].items())
    lines.append(f"  instances resolved by every agent: {section['resolved_by_all']}; by none: {section['resolved_by_none']}; "
                 f"by one alone: {alone}")
    return lines


def _rate(group: dict[str, Any]) -> str:
    return f"{100 * group['resolved_rate']:.1f}%"


def _interval(group: dict[str, Any]) -> str:
    low, high = group.get("resolved_rate_ci") or (0.0, 1.0)
    return f"{100 * low:.0f}-{100 * high:.0f}%"


def time_line(summary: dict[str, Any]) -> str:
    """Wall time and summed item time, named apart (they differ under xdist)."""
    totals = summary["totals"]
    wall = summary.get("wall_seconds")
    shown = "unknown" if wall is None else f"{wall:.1f} s" + (" (from time stamps)" if summary.get("wall_source") == "timestamps" else "")
    return (
        f"wall time {shown}; item time summed {totals['item_seconds']:.1f} s "
        f"= agent {totals['agent_seconds']:.1f} s + harness {totals['harness_seconds']:.1f} s"
    )


def format_table(summary: dict[str, Any]) -> list[str]:
    """Lines of a compact fixed-width table of the summary's groups, for the terminal.

    One column per outcome other than resolved that occurs in some group; a `total` row when
    there are several groups; a `pass@k` line under a group that has one; the times last.
    """
    groups = summary["groups"]
    others = [o.value for o in Outcome if o is not Outcome.RESOLVED and any(g["outcomes"].get(o.value) for g in groups)]
    header = ("model", "agent", "suite", "n", "resolved", "rate", "95% CI", *others, "cost $", "tokens in/out", "item s", "agent s")

    def row(group: dict[str, Any], model: str, agent: str, suite: str) -> tuple[str, ...]:
        return (
            model, agent, suite, str(group["items"]), str(group["resolved"]), _rate(group), _interval(group),
            *(str(group["outcomes"].get(o, 0)) for o in others), f"{group['cost_usd']:.4f}",
            f"{group['input_tokens']}/{group['output_tokens']}", f"{group['item_seconds']:.1f}", f"{group['agent_seconds']:.1f}",
        )

    rows: list[tuple[str, ...]] = [header]
    for group in groups:
        rows.append(row(group, group["model"] or NO_MODEL, group["agent"] or "-", group["suite"]))
        if "pass_at_k" in group:
            at_k = "pass@k " + " ".join(f"@{k}={v:.3f}" for k, v in group["pass_at_k"].items())
            hat_k = "pass^k " + " ".join(f"^{k}={v:.3f}" for k, v in group.get("pass_hat_k", {}).items())
            rows.append(("",) * 5 + (f"{at_k}   {hat_k}",))  # one wide cell: not counted in column widths
    if len(groups) > 1:
        rows.append(row(summary["totals"], "total", "", ""))
    widths = [max(len(r[i]) for r in rows if len(r) == len(header)) for i in range(len(header))]
    lines = []
    for cells in rows:
        if len(cells) != len(header):  # the pass@k line: indented to the rate column
            lines.append(" " * (sum(widths[:5]) + 2 * 5) + cells[-1])
            continue
        lines.append("  ".join(c.rjust(w) if 3 <= i < len(cells) else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip())
    if summary.get("agents"):
        lines += agents_lines(summary["agents"])
    if "totals" in summary and "item_seconds" in summary["totals"]:
        lines.append(time_line(summary))
    for name, kind in registered().items():
        if summary.get(name):
            lines += kind.terminal_lines(summary[name])
    return lines


def write_summary(run_dir: Path, records: Iterable[TaskRecord | dict[str, Any]], wall_seconds: float | None = None) -> dict[str, Any]:
    """Write summary.json into `run_dir` and return it."""
    summary = summarize(records, wall_seconds)
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def load_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run folder's summary.json, or None when it is missing or unreadable."""
    try:
        data = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
