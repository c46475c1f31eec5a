"""report.html's part for perf tasks: the speedups chart and the "Performance tasks" section."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from html import escape
from typing import Any

from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.report.charts import Speedup, speedup_chart
from pytest_ohbench.report.page import natural


def _geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _speedups(records: Sequence[TaskRecord]) -> list[Speedup]:
    """Agent and human speedups per perf task and model, from records' `check` (where a
    checker recorded them); several attempts make one bar each, their geometric mean."""
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in records:
        check = record.check or {}
        numbers: dict[str, Any] = check["speedups"] if isinstance(check.get("speedups"), dict) else {}
        agent = numbers.get("agent", check.get("agent_speedup"))
        human = numbers.get("human", check.get("human_speedup"))
        if isinstance(agent, (int, float)) and isinstance(human, (int, float)) and 0 < agent < math.inf and 0 < human < math.inf:
            found[record.instance_id + (f"[{record.model}]" if record.model else "")].append((float(agent), float(human)))
    return [
        Speedup(label, _geomean([a for a, _ in pairs]), _geomean([h for _, h in pairs]))
        for label, pairs in sorted(found.items(), key=lambda item: natural(item[0]))
    ]


def _times(value: float | None, digits: int = 2, unit: str = "x") -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def _replay_cell(replay: dict[str, Any] | None) -> str:
    """Whether the human's commit replays on this machine: its speedup, and the flag when it does not."""
    if not replay:
        return "<td>-</td>"
    speedup = _times(replay.get("human_speedup"))
    if replay.get("valid"):
        return f"<td class='ohbench-replay'>replays: {speedup}</td>"
    return (f"<td class='ohbench-replay invalid'><b>replay_invalid</b>: {speedup} ({escape(str(replay.get('reason')))}, "
            f"bar {replay.get('bar')}x), left out of the rates</td>")


def perf_section(perf: dict[str, Any]) -> str:
    """Perf tasks: each model's speedup next to the human's (a chart and a table), the
    `<provider>_vs_human` comparisons, and every task's figures (summary.json's `perf`)."""
    if not perf:
        return ""
    models = perf.get("models") or {}
    bars = [
        Speedup(model, figures["agent_speedup"], figures["human_speedup"])
        for model, figures in models.items()
        if figures.get("agent_speedup") and figures.get("human_speedup")
    ]
    chart = (
        f"<div class='charts'><figure><figcaption>Speedup over base per model: agent and human (geometric mean over tasks)</figcaption>"
        f"{speedup_chart(bars)}</figure></div>" if bars else ""
    )
    head = "".join(f"<th>{h}</th>" for h in ("model", "provider", "resolved tasks", "timed tasks", "agent speedup", "human speedup", "agent / human"))
    rows = "".join(
        f"<tr><td>{escape(model)}</td><td>{escape(str(f['provider']))}</td><td class='num'>{f['resolved_tasks']} / {f['tasks']}</td>"
        f"<td class='num'>{f['timed_tasks']}</td><td class='num'>{_times(f['agent_speedup'])}</td>"
        f"<td class='num'>{_times(f['human_speedup'])}</td><td class='num'>{_times(f['agent_vs_human'], 3, '')}</td></tr>"
        for model, f in models.items()
    )
    comparisons = "".join(
        f"<li><code>{escape(name)}: {'-' if value is None else f'{value:.3f}'}</code></li>"
        for name, value in (perf.get("comparisons") or {}).items()
    )
    task_head = "".join(
        f"<th>{h}</th>" for h in ("task", "model", "resolved", "timed", "agent speedup", "human speedup", "agent / human", "criterion",
                                  "verdicts", "human commit here")
    )
    replays = perf.get("replay") or {}
    task_rows = "".join(
        f"<tr><td>{escape(task)}</td><td>{escape(model)}</td><td class='num'>{e['resolved']} / {e['attempts']}</td>"
        f"<td class='num'>{e['timed']}</td><td class='num'>{_times(e['agent_speedup'])}</td><td class='num'>{_times(e['human_speedup'])}</td>"
        f"<td class='num'>{_times(e['agent_vs_human'], 3, '')}</td><td>{escape(str(e.get('criterion') or '-'))}</td>"
        f"<td>{escape(', '.join(e.get('reasons') or []))}</td>{_replay_cell(replays.get(task))}</tr>"
        for task, by_model in sorted((perf.get("tasks") or {}).items(), key=lambda item: natural(item[0]))
        for model, e in by_model.items()
    )
    return (
        "<section id='ohbench-perf'><h2>Performance tasks: agent against the human's commit</h2>"
        "<p class='meta'>Speedups are over the base commit, measured in the same interleaved rounds; agent / human is 1.0 "
        "when the agent's change is as fast as the human's (geometric means; timed attempts only).</p>"
        f"{chart}<table id='ohbench-perf-models' class='sortable'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        f"<p class='meta'>Against the human (geometric mean of agent / human over the provider's timed tasks):</p>"
        f"<ul id='ohbench-perf-comparisons'>{comparisons}</ul>"
        f"<table id='ohbench-perf-tasks' class='sortable'><thead><tr>{task_head}</tr></thead><tbody>{task_rows}</tbody></table></section>"
    )




def speedup_figures(records: Sequence[TaskRecord]) -> list[str]:
    """The charts row's figure of agent and human speedups per task, when records have them."""
    speedups = _speedups(records)
    if not speedups:
        return []
    return [f"<figure><figcaption>Speedup over base per task: agent and human</figcaption>{speedup_chart(speedups)}</figure>"]
