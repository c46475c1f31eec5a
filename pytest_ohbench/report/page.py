"""report.html: one self-contained page that answers the run's question at its top.

Built from the run folder alone (records, summary, compare result, run.json), so the plugin
and `python -m pytest_ohbench report RUN` write the same page. From the top: the headline
(who resolved how much, with 95% intervals, cost, tokens, time, pass@k / pass^k), the gate
verdict, the agents compared (with several), the charts (inline SVG), perf tasks' agent vs human speedups, the comparison with
the baseline, the models x instances matrix, then every item with its verdict, patch, trajectory and log files. A little inline
script sorts and filters the tables; without it the page still reads top to bottom.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from pytest_ohbench.core.kinds import records_by_kind, registered
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.report.charts import OUTCOME_COLORS, Series, cost_vs_rate, outcome_bars
from pytest_ohbench.report.compare import CompareResult, Pair
from pytest_ohbench.report.html import details
from pytest_ohbench.report.run_folder import NO_MODEL
from pytest_ohbench.report.summary import time_line

REPORT_FILE = "report.html"
_DIGITS = re.compile(r"(\d+)")
_ORDER = {outcome.value: rank for rank, outcome in enumerate(Outcome)}  # resolved first

CSS = """
body{font-family:system-ui,sans-serif;margin:1.2em 2em;color:#222;max-width:1500px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid #ddd}
.meta{color:#555;margin:.2em 0 .8em}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f5f5f5}table.sortable th{cursor:pointer;user-select:none}
table.sortable th[data-dir=asc]::after{content:" \\25B2"}table.sortable th[data-dir=desc]::after{content:" \\25BC"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.rate{font-weight:600;font-size:1.1em}.ci{color:#555}
.charts{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
.charts figure{margin:0}.charts figcaption{font-weight:600;margin-bottom:.3em}
.gate{padding:.5em .8em;border-radius:4px;margin:.6em 0;font-family:monospace;white-space:pre-wrap}
.gate.pass{background:#e6f4ea;border:1px solid #1a9850}.gate.fail{background:#fdecea;border:1px solid #d73027}
.warn{background:#fff8e1;border:1px solid #e0b000;padding:.4em .8em;border-radius:4px}
.filters{margin:.4em 0}.filters button{margin:0 .3em .3em 0;padding:2px 8px;border:1px solid #bbb;background:#fff;border-radius:10px;cursor:pointer}
.filters button.on{background:#333;color:#fff}.filters .count{color:#555;margin-left:.5em}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
table.matrix td.cell{text-align:center;min-width:4.5em;color:#111}
tr.item{cursor:pointer}tr.item:hover{background:#f7f7ff}tr.detail td{background:#fafafa}
pre{background:#f6f6f6;padding:6px;overflow:auto;max-height:30em;font-size:12px}
"""

SCRIPT = """
(function(){
function units(t){var many=t.tBodies.length>1;return many?Array.prototype.slice.call(t.tBodies):Array.prototype.slice.call(t.tBodies[0].rows);}
document.querySelectorAll('table.sortable').forEach(function(t){
 t.tHead.addEventListener('click',function(e){
  var th=e.target.closest('th');if(!th)return;
  var i=Array.prototype.indexOf.call(th.parentNode.children,th);
  var dir=th.dataset.dir==='asc'?'desc':'asc';
  t.tHead.querySelectorAll('th').forEach(function(x){delete x.dataset.dir;});th.dataset.dir=dir;
  var many=t.tBodies.length>1,list=units(t);
  function key(u){var c=(many?u.rows[0]:u).cells[i];return c.dataset.v!==undefined?c.dataset.v:c.textContent;}
  var num=list.every(function(u){var k=key(u);return k!==''&&!isNaN(k);});
  list.sort(function(a,b){var x=key(a),y=key(b),r=num?x-y:x.localeCompare(y,undefined,{numeric:true});return dir==='asc'?r:-r;});
  var parent=many?t:t.tBodies[0];list.forEach(function(u){parent.appendChild(u);});
 });
});
document.querySelectorAll('.filters').forEach(function(bar){
 var t=document.getElementById(bar.dataset.for);
 bar.addEventListener('click',function(e){
  var b=e.target.closest('button');if(!b)return;
  bar.querySelectorAll('button').forEach(function(x){x.classList.toggle('on',x===b);});
  var want=b.dataset.outcome,shown=0;
  t.querySelectorAll('[data-outcomes]').forEach(function(u){
   var ok=!want||(' '+u.dataset.outcomes+' ').indexOf(' '+want+' ')>=0;u.hidden=!ok;if(ok)shown++;
   if(!ok&&u.nextElementSibling&&u.nextElementSibling.classList.contains('detail'))u.nextElementSibling.hidden=true;
  });
  bar.querySelector('.count').textContent=shown+' shown';
 });
});
document.querySelectorAll('table.items').forEach(function(t){
 t.addEventListener('click',function(e){
  var row=e.target.closest('tr.item');if(!row||e.target.closest('a'))return;
  var d=row.nextElementSibling;if(d)d.hidden=!d.hidden;
 });
});
})();
"""


def natural(text: str) -> list[Any]:
    """A sort key that puts repo-9 before repo-10."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(text)]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _label(group: dict[str, Any], vary: set[str]) -> str:
    """A group's name in charts: the model, plus agent and suite when those vary."""
    parts = [group["model"] or NO_MODEL]
    parts += [group[key] for key in ("agent", "suite") if key in vary]
    return " / ".join(parts)


def _varying(groups: Sequence[dict[str, Any]]) -> set[str]:
    return {key for key in ("agent", "suite") if len({g[key] for g in groups}) > 1}


def _ci_bar(low: float, rate: float, high: float, width: int = 120) -> str:
    """A small inline interval: the track 0-100%, the 95% interval, the rate."""
    x = lambda v: 4 + (width - 8) * v  # noqa: E731
    return (
        f"<svg class='ci-bar' width='{width}' height='14' role='img'><title>{_pct(rate)} (95% CI {_pct(low)}-{_pct(high)})</title>"
        f"<line x1='4' x2='{width - 4}' y1='7' y2='7' stroke='#ddd' stroke-width='2'/>"
        f"<line x1='{x(low):.1f}' x2='{x(high):.1f}' y1='7' y2='7' stroke='#4575b4' stroke-width='4'/>"
        f"<circle cx='{x(rate):.1f}' cy='7' r='4' fill='#1a9850'/></svg>"
    )


def _at_k(group: dict[str, Any], key: str, mark: str) -> str:
    values = group.get(key)
    if not values:
        return ""
    return " ".join(f"{mark}{k} {v:.2f}" for k, v in values.items())


def headline(summary: dict[str, Any]) -> str:
    """The at-a-glance table: one row per model x agent x suite."""
    groups = summary["groups"]
    with_k = any("pass_at_k" in g for g in groups)
    head = ["model", "agent", "suite", "resolved", "rate (95% CI)", ""]
    if with_k:
        head += ["pass@k", "pass^k"]
    head += ["cost $", "$ / instance", "tokens in / out", "item time", "agent time", "harness time"]
    rows = []
    totals = {**summary["totals"], "model": "total", "agent": "", "suite": ""}
    for group, css in [*((g, "") for g in groups), *([(totals, " class='total'")] if len(groups) > 1 else [])]:
        low, high = group.get("resolved_rate_ci") or (0.0, 1.0)
        cells = [
            f"<td>{escape(group['model'] or NO_MODEL)}</td>", f"<td>{escape(group['agent'] or '-')}</td>",
            f"<td>{escape(group['suite'])}</td>",
            f"<td class='num'>{group['resolved_instances']} / {group['instances']}</td>",
            f"<td class='num'><span class='rate'>{_pct(group['resolved_rate'])}</span> "
            f"<span class='ci'>[{_pct(low)} - {_pct(high)}]</span></td>",
            f"<td>{_ci_bar(low, group['resolved_rate'], high)}</td>",
        ]
        if with_k:
            cells += [f"<td>{_at_k(group, 'pass_at_k', '@')}</td>", f"<td>{_at_k(group, 'pass_hat_k', '^')}</td>"]
        cells += [
            f"<td class='num'>{group['cost_usd']:.4f}</td>", f"<td class='num'>{group['mean_cost_usd']:.4f}</td>",
            f"<td class='num'>{group['input_tokens']:,} / {group['output_tokens']:,}</td>",
            f"<td class='num'>{_seconds(group['item_seconds'])}</td>", f"<td class='num'>{_seconds(group['agent_seconds'])}</td>",
            f"<td class='num'>{_seconds(group['harness_seconds'])}</td>",
        ]
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table id='ohbench-headline'><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def agents_table(section: dict[str, Any]) -> str:
    """The agents compared (summary.json's `agents`): one row each; who resolved what is the matrix below."""
    head = ["agent", "resolved", "rate (95% CI)", "cost $", "$ / instance", "tokens in / out", "item time", "agent time",
            "resolved by it alone"]
    rows = []
    for agent, group in section["by_agent"].items():
        low, high = group.get("resolved_rate_ci") or (0.0, 1.0)
        rows.append(
            f"<tr><td>{escape(agent or '-')}</td><td class='num'>{group['resolved_instances']} / {group['instances']}</td>"
            f"<td class='num' data-v='{group['resolved_rate']}'><span class='rate'>{_pct(group['resolved_rate'])}</span> "
            f"<span class='ci'>[{_pct(low)} - {_pct(high)}]</span></td>"
            f"<td class='num'>{group['cost_usd']:.4f}</td><td class='num'>{group['mean_cost_usd']:.4f}</td>"
            f"<td class='num' data-v='{group['input_tokens'] + group['output_tokens']}'>{group['input_tokens']:,} / {group['output_tokens']:,}</td>"
            f"<td class='num' data-v='{group['item_seconds']}'>{_seconds(group['item_seconds'])}</td>"
            f"<td class='num' data-v='{group['agent_seconds']}'>{_seconds(group['agent_seconds'])}</td>"
            f"<td class='num'>{section['resolved_only_by'].get(agent, 0)}</td></tr>"
        )
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return (
        "<h2>Agents compared</h2>"
        f"<p class='meta'>Resolved by every agent: {section['resolved_by_all']}; by none: {section['resolved_by_none']}.</p>"
        f"<table id='ohbench-agents' class='sortable'><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def charts(summary: dict[str, Any], records: Sequence[TaskRecord]) -> str:
    """The charts row: outcomes per model, cost against rate, and speedups when perf data exist."""
    groups = summary["groups"]
    vary = _varying(groups)
    series = []
    for g in groups:
        low, high = g.get("resolved_rate_ci") or (0.0, 1.0)
        series.append(Series(_label(g, vary), dict(g["outcomes"]), g["resolved_rate"], low, high, g["mean_cost_usd"]))
    figures = [
        f"<figure><figcaption>Outcomes per model</figcaption>{outcome_bars(series)}</figure>",
        f"<figure><figcaption>Resolved rate against cost</figcaption>{cost_vs_rate(series)}</figure>",
    ]
    for kind, own in records_by_kind(records).items():  # e.g. perf tasks' speedups
        figures += kind.report_charts(own)
    return f"<div class='charts'>{''.join(figures)}</div>"


def _filters(target: str, outcomes: Sequence[str], total: int) -> str:
    buttons = ["<button class='on' data-outcome=''>all</button>"]
    buttons += [
        f"<button data-outcome='{o}'><span class='swatch' style='background:{OUTCOME_COLORS.get(o, '#ccc')}'></span>{o}</button>"
        for o in outcomes
    ]
    return f"<div class='filters' data-for='{target}'>{''.join(buttons)}<span class='count'>{total} shown</span></div>"


def _column(record: TaskRecord, vary: set[str]) -> str:
    parts = [record.model or NO_MODEL] + ([record.agent] if "agent" in vary else [])
    return " / ".join(parts)


def matrix(records: Sequence[TaskRecord]) -> str:
    """Instances down, models across, each cell coloured by outcome; sortable and filterable."""
    vary = {"agent"} if len({r.agent for r in records}) > 1 else set()
    several_suites = len({r.suite for r in records}) > 1
    columns = sorted({_column(r, vary) for r in records})
    cells: dict[tuple[str, str], list[TaskRecord]] = defaultdict(list)
    for record in records:
        row = f"{record.suite}/{record.instance_id}" if several_suites else record.instance_id
        cells[(row, _column(record, vary))].append(record)
    rows = []
    for instance in sorted({row for row, _ in cells}, key=natural):
        outcomes: set[str] = set()
        html = []
        resolved_by = 0
        for column in columns:
            attempts = sorted(cells.get((instance, column), []), key=lambda r: r.attempt)
            if not attempts:
                html.append("<td class='cell' data-v='99'></td>")
                continue
            wins = sum(r.resolved for r in attempts)
            shown = Outcome.RESOLVED.value if wins else attempts[0].outcome.value
            outcomes.update(r.outcome.value for r in attempts)
            resolved_by += bool(wins)
            text = f"{wins}/{len(attempts)}" if len(attempts) > 1 else ("&#10003;" if wins else "&#10007;")
            cost = sum(r.cost_usd for r in attempts)
            html.append(
                f"<td class='cell o-{shown}' data-v='{_ORDER.get(shown, 50)}' style='background:{OUTCOME_COLORS.get(shown, '#ccc')}' "
                f"title='{escape(instance)} [{escape(column)}]: {shown}, ${cost:.4f}'>{text}</td>"
            )
        rows.append(
            f"<tr data-outcomes='{' '.join(sorted(outcomes))}'><td>{escape(instance)}</td>"
            f"<td class='num' data-v='{resolved_by}'>{resolved_by}</td>{''.join(html)}</tr>"
        )
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    present = sorted({r.outcome.value for r in records}, key=lambda o: _ORDER.get(o, 50))
    return (
        _filters("ohbench-matrix", present, len(rows))
        + f"<table id='ohbench-matrix' class='matrix sortable'><thead><tr><th>instance</th><th>resolved by</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _log_folder(record: TaskRecord, run_dir: Path, root: Path | None) -> Path | None:
    """The item's logs/<item>/ folder: under the run folder (moves with it), else from the root."""
    if not record.log_dir:
        return None
    local = run_dir / "logs" / Path(record.log_dir).name
    if local.is_dir():
        return local
    if root is not None and (root / record.log_dir).is_dir():
        return root / record.log_dir
    return None


def _log_links(folder: Path | None, run_dir: Path) -> str:
    if folder is None:
        return ""
    try:
        relative = folder.resolve().relative_to(run_dir.resolve())
    except ValueError:
        return ""
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    links = " ".join(f"<a href='{escape(str(relative / name), quote=True)}'>{escape(name)}</a>" for name in files)
    return f"<h4>Logs</h4><p>{links}</p>" if links else ""


REASON_SHOWN = 160  # characters of a reason in the items table; the whole of it is in the verdict below


def _shown_reason(record: TaskRecord) -> str:
    """Why the item failed (its reason, else its harness error), cut to fit a table cell."""
    text = record.reason or (record.error or "" if record.outcome.harness_error else "")
    return text if len(text) <= REASON_SHOWN else text[: REASON_SHOWN - 1] + "…"


def items(records: Sequence[TaskRecord], run_dir: Path, root: Path | None) -> str:
    """Every item: a sortable, filterable row each; a click shows its verdict, patch, trajectory, logs."""
    head = ["instance", "model", "agent", "attempt", "outcome", "cost $", "tokens in / out", "item s", "agent s", "reason"]
    bodies = []
    for record in sorted(records, key=lambda r: (natural(r.instance_id), r.model or "", r.agent, r.attempt)):
        outcome = record.outcome.value
        total, agent = record.durations.get("total", 0.0), record.durations.get("agent", 0.0)
        row = (
            f"<tr class='item'><td class='col-ohbench-instance'>{escape(record.instance_id)}</td>"
            f"<td class='col-ohbench-model'>{escape(record.model or NO_MODEL)}</td><td>{escape(record.agent or '-')}</td>"
            f"<td class='num'>{record.attempt}</td>"
            f"<td class='col-ohbench-outcome' data-v='{_ORDER.get(outcome, 50)}'>"
            f"<span class='swatch' style='background:{OUTCOME_COLORS.get(outcome, '#ccc')}'></span>{outcome}"
            + "".join(f" <b class='ohbench-flag'>{escape(flag)}</b>" for flag in record.flags) + "</td>"
            f"<td class='num col-ohbench-cost' data-v='{record.cost_usd}'>{record.cost_usd:.4f}</td>"
            f"<td class='num' data-v='{record.input_tokens + record.output_tokens}'>{record.input_tokens} / {record.output_tokens}</td>"
            f"<td class='num' data-v='{total}'>{total:.1f}</td><td class='num' data-v='{agent}'>{agent:.1f}</td>"
            f"<td class='col-ohbench-reason'>{escape(_shown_reason(record))}</td></tr>"
        )
        folder = _log_folder(record, run_dir, root)
        inner = "".join(details(record, folder, with_verdict=True)) + _log_links(folder, run_dir)
        detail = f"<tr class='detail' hidden><td colspan='{len(head)}'>{inner}</td></tr>"
        bodies.append(f"<tbody data-outcomes='{outcome}'>{row}{detail}</tbody>")
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    present = sorted({r.outcome.value for r in records}, key=lambda o: _ORDER.get(o, 50))
    return (
        _filters("ohbench-items", present, len(records))
        + f"<table id='ohbench-items' class='items sortable'><thead><tr>{header}</tr></thead>{''.join(bodies)}</table>"
    )


def _pairs_table(pairs: Sequence[Pair], caption: str) -> str:
    if not pairs:
        return ""
    rows = "".join(
        f"<tr><td>{escape(p.name)}{' (flaky)' if p.flaky else ''}</td><td>{escape(p.before)}</td><td>{escape(p.after)}</td>"
        f"<td class='num'>{p.cost_after - p.cost_before:+.4f}</td><td class='num'>{p.tokens_after - p.tokens_before:+,}</td></tr>"
        for p in pairs
    )
    return (
        f"<h3>{escape(caption)} ({len(pairs)})</h3><table class='flips'><thead><tr><th>instance</th><th>baseline</th>"
        f"<th>now</th><th>cost $ change</th><th>tokens change</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def comparison_section(comparison: CompareResult, unlike: Sequence[str]) -> str:
    """Against the baseline: the flips each way, McNemar's test, cost and token deltas."""
    pairs = comparison.pairs
    cost = sum(p.cost_after for p in pairs) - sum(p.cost_before for p in pairs)
    tokens = sum(p.tokens_after for p in pairs) - sum(p.tokens_before for p in pairs)
    base_cost = sum(p.cost_before for p in pairs)
    base_tokens = sum(p.tokens_before for p in pairs)
    relative = lambda change, base: f" ({100 * change / base:+.1f}%)" if base else ""  # noqa: E731
    html = [
        "<h2 id='ohbench-comparison'>Compared with the baseline</h2>",
        f"<p>Baseline: <code>{escape(comparison.baseline)}</code>; {comparison.matched} instance(s) in both runs.</p>",
        f"<p class='mcnemar'>{escape(comparison.flips_line())}. "
        "The p-value is the chance of flips at least this lopsided if the two runs were equally good.</p>",
        f"<p>On the shared instances: cost {cost:+.4f} USD{relative(cost, base_cost)}, "
        f"tokens {tokens:+,}{relative(tokens, base_tokens)}.</p>",
    ]
    if unlike:
        html.append(
            "<div class='warn'><b>The baseline ran with other settings:</b><ul>"
            + "".join(f"<li><code>{escape(line)}</code></li>" for line in unlike)
            + "</ul></div>"
        )
    html.append(_pairs_table(comparison.lost, "Lost: resolved in the baseline, not now"))
    html.append(_pairs_table(comparison.gained, "Gained: resolved now, not in the baseline"))
    for names, caption in ((comparison.only_in_baseline, "Only in the baseline"), (comparison.only_in_current, "Only in this run")):
        if names:
            html.append(f"<p>{caption} (not compared): {escape(', '.join(names))}</p>")
    return "".join(html)


def gate_banner(comparison: CompareResult) -> str:
    if not comparison.results:
        return ""
    verdict = "FAIL" if comparison.failed else "pass"
    lines = "\n".join(f"{'ok  ' if r.passed else 'FAIL'} {r.detail}" for r in comparison.results)
    return f"<div id='ohbench-gate' class='gate {'fail' if comparison.failed else 'pass'}'><b>gate: {verdict}</b>\n{escape(lines)}</div>"


def _settings(info: dict[str, Any] | None) -> str:
    if not info:
        return ""
    shown = {key: info[key] for key in ("plugin_version", "agent", "agent_version", "models", "limits") if key in info}
    return f"<details><summary>Run settings (run.json)</summary><pre>{escape(json.dumps(shown, indent=2, sort_keys=True))}</pre></details>"


def render_page(
    records: Sequence[TaskRecord],
    summary: dict[str, Any],
    run_dir: Path,
    *,
    title: str,
    comparison: CompareResult | None = None,
    unlike: Sequence[str] = (),
    info: dict[str, Any] | None = None,
    root: Path | None = None,
) -> str:
    """The whole page as one string (no external resource)."""
    totals = summary["totals"]
    models = sorted({r.model or NO_MODEL for r in records})
    agents = sorted({r.agent or "-" for r in records})
    meta = (
        f"{len(records)} item(s), {len(models)} model(s): {escape(', '.join(models))}; agent {escape(', '.join(agents))}; "
        f"cost {totals['cost_usd']:.4f} USD. {escape(time_line(summary))}."
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='meta'>{meta}</p>",
        gate_banner(comparison) if comparison is not None else "",
        headline(summary),
        agents_table(summary["agents"]) if summary.get("agents") else "",
        charts(summary, records) if records else "",
        *(kind.report_section(summary[name]) for name, kind in registered().items() if summary.get(name)),
        comparison_section(comparison, unlike) if comparison is not None else "",
        f"<h2>{'Models and agents' if summary.get('agents') else 'Models'} x instances</h2>" + matrix(records) if records else "",
        "<h2>Items</h2><p class='meta'>Click a row for its verdict, patch, trajectory and logs.</p>" + items(records, run_dir, root),
        _settings(info),
        f"<p class='meta'>Generated {escape(summary.get('generated_at', ''))} by pytest-ohbench.</p>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}<script>{SCRIPT}</script></body></html>"
    )


def write_page(run_dir: Path, records: Sequence[TaskRecord], summary: dict[str, Any], **options: Any) -> Path:
    """Write report.html into the run folder (atomically: a browser never reads half a page)."""
    path = run_dir / REPORT_FILE
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(render_page(records, summary, run_dir, **options), encoding="utf-8")
    temporary.replace(path)
    return path
