"""report.html from records: the headline, the charts, the matrix, the comparison; clicked in Chromium."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pngcheck import colour_counts, hex_rgb

from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.report.charts import OUTCOME_COLORS, nice_ticks
from pytest_ohbench.report.compare import compare_runs, parse_gate
from pytest_ohbench.report.page import render_page, write_page
from pytest_ohbench.report.summary import summarize
from pytest_ohbench.tools.testing.synthetic import make_records, random_flips, rerun, write_run


def page_of(records: list[TaskRecord], tmp_path: Path, **options: object) -> str:
    return render_page(records, summarize(records), tmp_path, title="ohbench run t", **options)  # type: ignore[arg-type]


@pytest.fixture
def records() -> list[TaskRecord]:
    return make_records(20, {"gpt": 0.6, "claude": 0.3}, seed=4, costs={"gpt": 0.02, "claude": 0.06})


def test_headline_shows_each_models_rate_with_its_interval_cost_tokens_and_times(records: list[TaskRecord], tmp_path: Path) -> None:
    page = page_of(records, tmp_path)
    headline = page[page.index("<table id='ohbench-headline'>") : page.index("</table>", page.index("ohbench-headline"))]
    rows = re.findall(r"<tr(?: class='total')?>(.*?)</tr>", headline[headline.index("<tbody>") :])
    assert len(rows) == 3  # claude, gpt, total
    summary = summarize(records)
    for row, group in zip(rows, [*summary["groups"], summary["totals"]], strict=True):
        low, high = group["resolved_rate_ci"]
        assert f"<span class='rate'>{100 * group['resolved_rate']:.1f}%</span>" in row
        assert f"[{100 * low:.1f}% - {100 * high:.1f}%]" in row
        assert f"{group['resolved_instances']} / {group['instances']}" in row and f"{group['cost_usd']:.4f}" in row
    assert "pass@k" not in headline  # one attempt each
    assert "wall time 600.0 s (from time stamps); item time summed " in page


def test_pass_at_k_columns_appear_with_attempts(tmp_path: Path) -> None:
    page = page_of(make_records(6, {"gpt": 0.5}, attempts=3, seed=1), tmp_path)
    assert "<th>pass@k</th><th>pass^k</th>" in page and "@1 0." in page and "^3 0." in page


def test_charts_are_inline_svg_with_one_bar_and_one_point_per_model(records: list[TaskRecord], tmp_path: Path) -> None:
    page = page_of(records, tmp_path)
    assert "<script src" not in page and "<link" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    bars = page[page.index("ohbench-chart-outcomes") : page.index("</svg>", page.index("ohbench-chart-outcomes"))]
    per_model: dict[str, int] = {}
    for label, count in re.findall(r"<title>(\w+): (\d+) \w+</title>", bars):
        per_model[label] = per_model.get(label, 0) + int(count)
    assert per_model == {"claude": 20, "gpt": 20}
    assert page.count("class='ohbench-point'") == 2
    assert "ohbench-chart-speedup" not in page  # no perf data: no speedup chart


def test_speedup_chart_only_when_records_carry_perf_numbers(records: list[TaskRecord], tmp_path: Path) -> None:
    records[0].check = {"kind": "perf", "speedups": {"agent": 1.8, "human": 2.4, "agent_vs_human": 0.75}}
    records[1].check = {"kind": "perf", "speedups": {"agent": 0.9, "human": 1.5}}
    records[2].check = {"kind": "perf", "speedups": {"agent": None, "human": 1.5}}  # not measured: left out
    for record in records[:3]:
        record.kind = "perf"  # the perf kind draws the chart of its records
    page = page_of(records, tmp_path)
    charts_row = page.split("<section id='ohbench-perf'>")[0]  # the perf section has a per-model chart of its own
    assert charts_row.count("class='ohbench-speedup'") == 4
    assert "data-who='agent' data-value='1.8'" in page and "data-who='human' data-value='2.4'" in page


def test_perf_section_shows_each_model_against_the_human_and_the_comparison(tmp_path: Path) -> None:
    """Two models, two perf tasks, two attempts each: one bar per task and model (geometric
    mean of its attempts), one per model, the per-model table and `<provider>_vs_human`."""
    records = make_records(2, {"openai/gpt": 1.0, "anthropic/claude": 0.0}, attempts=2, seed=3)
    figures = {"openai/gpt": [(2.0, 4.0), (8.0, 4.0)], "anthropic/claude": [(1.0, 4.0), (1.0, 4.0)]}
    seen: dict[tuple[str, str], int] = {}
    for record in records:
        record.kind = "perf"
        index = seen.setdefault((record.instance_id, record.model or ""), 0)
        seen[(record.instance_id, record.model or "")] += 1
        agent, human = figures[record.model or ""][index]
        record.check = {"kind": "perf", "criterion": "gso", "reason": "resolved" if agent > 1.2 else "not_faster",
                        "speedups": {"agent": agent, "human": human, "agent_vs_human": agent / human}}
    summary = summarize(records)
    assert summary["perf"]["comparisons"] == {"anthropic_vs_human": 0.25, "openai_vs_human": 1.0}
    page = render_page(records, summary, tmp_path, title="perf")
    per_task = page[page.index("Speedup over base per task") : page.index("</svg>", page.index("Speedup over base per task"))]
    assert per_task.count("data-who='agent'") == 4  # 2 tasks x 2 models, attempts folded together
    assert "data-who='agent' data-value='4'" in per_task  # gpt: geometric mean of 2x and 8x
    section = page[page.index("id='ohbench-perf'") : page.index("</section>", page.index("id='ohbench-perf'"))]
    assert section.count("data-who='human'") == 2  # the per-model chart: one pair per model
    assert "<td>openai/gpt</td><td>openai</td><td class='num'>2 / 2</td><td class='num'>2</td><td class='num'>4.00x</td>" in section
    assert "<code>anthropic_vs_human: 0.250</code>" in section and "<code>openai_vs_human: 1.000</code>" in section
    assert section.count("<tr><td>synth__repo-") == 4  # the per-task table
    assert "id='ohbench-perf'" not in page_of(make_records(2, {"gpt": 0.5}, seed=1), tmp_path)  # no perf task: no section


def test_matrix_has_a_cell_per_model_and_instance_coloured_by_outcome(records: list[TaskRecord], tmp_path: Path) -> None:
    page = page_of(records, tmp_path)
    matrix = page[page.index("id='ohbench-matrix'") :]
    matrix = matrix[: matrix.index("</table>")]
    cells = re.findall(r"<td class='cell o-(\w+)'", matrix)
    assert len(cells) == 40
    assert cells.count("resolved") == sum(r.resolved for r in records)
    assert f"style='background:{OUTCOME_COLORS['resolved']}'" in matrix
    # repo-2 before repo-10 (natural order)
    assert matrix.index(">synth__repo-2<") < matrix.index(">synth__repo-10<")


def test_untrusted_text_is_escaped(records: list[TaskRecord], tmp_path: Path) -> None:
    records[0].instance_id = "<script>alert(1)</script>"
    records[0].patch = "</pre><img src=x onerror=alert(1)>"
    page = page_of(records, tmp_path)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_comparison_section_lists_flips_with_deltas_and_the_paired_test(records: list[TaskRecord], tmp_path: Path) -> None:
    lose, gain = random_flips(records, 3, seed=9)
    now = rerun(records, lose=lose, gain=gain[:1])
    now[lose[0]].cost_usd += 1.0
    result = compare_runs(records, now, [parse_gate("resolved_rate:significant"), parse_gate("instance")], "reports/base")
    page = page_of(now, tmp_path, comparison=result, unlike=["limits.attempts: baseline 1, now 3"])
    assert "gate: FAIL" in page and "FAIL instance: 3 regressed" in page
    before = sum(r.resolved for r in records)
    assert f"resolved {before} -&gt; {before - 2} of 40: 3 lost, 1 gained (McNemar exact p = 0.625)" in page  # 2*(1+4)/16
    assert "<h3>Lost: resolved in the baseline, not now (3)</h3>" in page and "<h3>Gained: resolved now, not in the baseline (1)</h3>" in page
    assert "<td class='num'>+1.0000</td>" in page  # the dearer lost instance
    assert "limits.attempts: baseline 1, now 3" in page
    # The gate banner comes before the charts: the answer first.
    assert page.index("id='ohbench-gate'") < page.index("ohbench-chart-outcomes") < page.index("id='ohbench-comparison'")


def test_nice_ticks() -> None:
    assert nice_ticks(0.0) == [0.0, 1.0]
    assert nice_ticks(0.055) == [0.0, 0.02, 0.04, 0.06]
    assert nice_ticks(7.0) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert nice_ticks(100.0) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]


# In Chromium, as a person would use it --------------------------------------------------------

browser_module = pytest.importorskip("pytest_ohbench.tools.testing.browser")


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    try:
        with browser_module.Browser() as opened:
            yield opened
    except browser_module.BrowserError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but chromium cannot run: {exc} (bash scripts/bootstrap.sh --test installs it)", pytrace=False)
        pytest.skip(str(exc))


def visible(browser, table: str) -> list[str]:  # type: ignore[no-untyped-def]
    rows = f"#{table} tbody[data-outcomes]:not([hidden]) tr.item" if table == "ohbench-items" else f"#{table} tbody tr:not([hidden])"
    return browser.evaluate(f"Array.from(document.querySelectorAll('{rows}')).map(r => r.cells[0].textContent)")


def test_sort_filter_and_expand_by_clicking(browser, records: list[TaskRecord], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records[0].check, records[0].kind = {"speedups": {"agent": 1.5, "human": 2.0}}, "perf"
    folder = write_run(tmp_path / "run", records, logs=True)
    page = write_page(folder, records, summarize(records), title="ohbench run clicks")
    browser.open(page)
    assert browser.evaluate("document.title") == "ohbench run clicks"
    every = visible(browser, "ohbench-matrix")
    assert len(every) == 20
    # Filter the matrix by an outcome: only instances with that outcome stay.
    browser.click(".filters[data-for='ohbench-matrix'] button[data-outcome='resolved']")
    with_resolved = sorted({r.instance_id for r in records if r.resolved})
    assert sorted(visible(browser, "ohbench-matrix")) == with_resolved
    assert browser.evaluate("document.querySelector(\".filters[data-for='ohbench-matrix'] .count\").textContent") == f"{len(with_resolved)} shown"
    browser.click(".filters[data-for='ohbench-matrix'] button[data-outcome='']")
    assert len(visible(browser, "ohbench-matrix")) == 20
    # Sort by "resolved by", twice: descending puts instances both models solved first.
    browser.click("#ohbench-matrix thead th:nth-child(2)")
    browser.click("#ohbench-matrix thead th:nth-child(2)")
    counts = browser.evaluate("Array.from(document.querySelectorAll('#ohbench-matrix tbody tr')).map(r => +r.cells[1].textContent)")
    assert counts == sorted(counts, reverse=True) and counts[0] == 2 and counts[-1] == 0
    # Items: sort by cost, filter failures, expand one to see its patch.
    browser.click("#ohbench-items thead th:nth-child(6)")
    costs = browser.evaluate("Array.from(document.querySelectorAll('#ohbench-items tbody tr.item')).map(r => +r.cells[5].dataset.v)")
    assert costs == sorted(costs) and len(costs) == 40
    browser.click(".filters[data-for='ohbench-items'] button[data-outcome='unresolved']")
    assert len(visible(browser, "ohbench-items")) == sum(r.outcome.value == "unresolved" for r in records)
    assert browser.evaluate("document.querySelector('#ohbench-items tbody:not([hidden]) tr.detail').hidden") is True
    browser.click("#ohbench-items tbody:not([hidden]) tr.item")
    shown = browser.evaluate("document.querySelector('#ohbench-items tbody:not([hidden]) tr.detail').innerText")
    assert "Patch" in shown and "diff --git" in shown and "patch.diff" in shown
    # The charts are drawn: coloured pixels in the outcome bars, the speedup chart present.
    png = browser.screenshot(".charts")
    colours = colour_counts(png)
    assert colours[hex_rgb(OUTCOME_COLORS["resolved"])] > 500 and colours[hex_rgb(OUTCOME_COLORS["unresolved"])] > 100
    # The charts row's (the first; the perf section draws one per model below it).
    assert browser.evaluate("document.querySelector('.ohbench-chart-speedup').querySelectorAll('rect.ohbench-speedup').length") == 2
