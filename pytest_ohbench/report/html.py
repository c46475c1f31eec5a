"""Per-item HTML (verdict, failing tests, patch, trajectory), shared by report.html and by
pytest-html when the user asks for its page too (`--html FILE`): ohbench columns and details.

The controller keeps every item's record (from its teardown report); pytest-html builds
its rows after the teardown report, so each row can show the item's final record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from pytest_ohbench.agents.base import agent_names, load_agent
from pytest_ohbench.agents.trajectory import load_trajectory
from pytest_ohbench.core.record import TaskRecord, format_verdict

COLUMNS = ("Instance", "Model", "Outcome", "Cost $", "Tokens in/out")
OUTPUT_LIMIT = 2000  # characters of a command's output shown in the trajectory
MODELS_CSS = (
    "#ohbench-models{border-collapse:collapse;margin-bottom:1em}"
    "#ohbench-models td,#ohbench-models th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    ".ohbench-resolved{color:#080}"
)


def _cell(name: str, value: str) -> str:
    return f'<td class="col-ohbench-{name}">{escape(value)}</td>'


def row_cells(record: TaskRecord | None) -> list[str]:
    """The ohbench cells of one result row (empty cells for non-ohbench tests)."""
    if record is None:
        return [_cell(name, "") for name in ("instance", "model", "outcome", "cost", "tokens")]
    return [
        _cell("instance", record.instance_id),
        _cell("model", record.model or "-"),
        _cell("outcome", record.outcome.value),
        _cell("cost", f"{record.cost_usd:.4f}"),
        _cell("tokens", f"{record.input_tokens}/{record.output_tokens}"),
    ]


def _trajectory(log_dir: Path, agent: str) -> list[str]:
    """The item's trajectory (ATIF, agents/trajectory.py): each step's message, commands,
    outputs, tokens and cost."""
    try:
        data = load_trajectory(log_dir, load_agent(agent) if agent in agent_names() else None)
    except (OSError, ValueError):  # an unreadable log: the rest of the item still shows
        return []
    if data is None:
        return []
    totals = data.get("final_metrics") or {}
    html = [f"<h4>Trajectory</h4><p class='meta'>{escape(_totals(totals))}</p><ol class='ohbench-trajectory'>"]
    for step in data.get("steps", []):
        metrics = step.get("metrics") or {}
        figures = [f"{metrics['prompt_tokens']} in / {metrics.get('completion_tokens', 0)} out"] if "prompt_tokens" in metrics else []
        figures += [f"${metrics['cost_usd']:.4f}"] if "cost_usd" in metrics else []
        head = f"[{step.get('source', '')}]" + (" " + ", ".join(figures) if figures else "")
        message = str(step.get("message", ""))[:OUTPUT_LIMIT]
        if step.get("source") == "agent":
            html.append(f"<li><span class='ohbench-step'>{escape(head)}</span> {escape(message)}")
        else:  # a system prompt or the task: long, folded under its first line
            html.append(f"<li><details><summary><span class='ohbench-step'>{escape(head)}</span> "
                        f"{escape(message.strip().splitlines()[0][:120] if message.strip() else '')}</summary><pre>{escape(message)}</pre></details>")
        for call in step.get("tool_calls", []):
            arguments = call.get("arguments") or {}
            shown = arguments.get("command") if isinstance(arguments.get("command"), str) else json.dumps(arguments)
            html.append(f"<pre class='ohbench-command'>$ {escape(str(shown))}</pre>")
        for result in (step.get("observation") or {}).get("results", []):
            html.append(f"<pre class='ohbench-output'>{escape(str(result.get('content', ''))[:OUTPUT_LIMIT])}</pre>")
        html.append("</li>")
    html.append("</ol>")
    return html


def _totals(totals: dict[str, Any]) -> str:
    """One line of a trajectory's final metrics."""
    parts = [f"{totals.get('total_steps', 0)} agent steps"]
    if "total_prompt_tokens" in totals:
        parts.append(f"{totals['total_prompt_tokens']} tokens in / {totals.get('total_completion_tokens', 0)} out")
    if "total_cost_usd" in totals:
        parts.append(f"${totals['total_cost_usd']:.4f}")
    return ", ".join(parts)


def details(record: TaskRecord, log_dir: Path | None, with_verdict: bool) -> list[str]:
    """The per-item extra HTML: verdict, failing tests, the patch as a diff, the trajectory
    (read from `log_dir`, the item's logs folder, when given)."""
    html = [f"<h4>Verdict</h4><pre class='ohbench-verdict'>{escape(format_verdict(record))}</pre>"] if with_verdict else []
    failing = record.fail_to_pass.get("failure", []) + record.pass_to_pass.get("failure", [])
    if failing:
        html.append("<h4>Failing tests</h4><ul>" + "".join(f"<li>{escape(t)}</li>" for t in failing) + "</ul>")
    if record.patch:
        html.append(f"<h4>Patch</h4><pre class='ohbench-patch'>{escape(record.patch)}</pre>")
    if log_dir is not None:
        html.extend(_trajectory(log_dir, record.agent))
    return html


def models_table(records: list[TaskRecord]) -> str:
    """Instances down, models (and agents, when several ran) across: who resolved what, at what cost."""
    several = len({r.agent for r in records}) > 1
    column = lambda r: f"{r.model or '-'} / {r.agent}" if several else r.model or "-"  # noqa: E731
    models = sorted({column(r) for r in records})
    by_key = {(r.instance_id, column(r)): r for r in records}
    head = "".join(f"<th>{escape(m)}</th>" for m in models)
    rows = []
    for instance in sorted({r.instance_id for r in records}):
        cells = []
        for model in models:
            record = by_key.get((instance, model))
            cells.append(
                "<td></td>" if record is None else
                f"<td class='ohbench-{record.outcome.value}'>{record.outcome.value} ${record.cost_usd:.4f}</td>"
            )
        rows.append(f"<tr><td>{escape(instance)}</td>{''.join(cells)}</tr>")
    return (
        f"<style>{MODELS_CSS}</style><h2>Models side by side</h2><table id='ohbench-models'>"
        f"<tr><th>instance</th>{head}</tr>{''.join(rows)}</table>"
    )


class HtmlReport:
    """pytest-html hooks; `records` maps node ids to records, filled by the controller."""

    def __init__(
        self, run_id: str, records: dict[str, TaskRecord], root: Path, all_records: Callable[[], list[TaskRecord]]
    ) -> None:
        self.run_id, self.records, self.root, self.all_records = run_id, records, root, all_records

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"ohbench run {self.run_id}"

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[2:2] = [f'<th class="sortable" data-column-type="ohbench-{c.split()[0].lower()}">{c}</th>' for c in COLUMNS]

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        cells[2:2] = row_cells(self.records.get(report.nodeid))

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        record = self.records.get(report.nodeid)
        if record is not None and report.when in ("call", "setup") and (report.when == "call" or report.failed or report.skipped):
            # A failed item's log already starts with the verdict (its repr_failure).
            log_dir = self.root / record.log_dir if record.log_dir else None
            data[:0] = details(record, log_dir, with_verdict=not report.failed)

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str], session: Any) -> None:
        records = self.all_records()
        if records:
            postfix.append(models_table(records))
