"""Inline SVG charts for report.html: drawn in Python, no script and no network needed to see them.

Every chart is a plain `<svg>` string with a `<title>` (what a screen reader and a hover
show) and class names the page's tests and styles use. Colours come from OUTCOME_COLORS, one
per outcome, shared with the matrix and the tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from pytest_ohbench.core.outcomes import Outcome

# Red-to-green for judged outcomes (resolved green, the judged failures warm), purples for
# harness errors, grey for not run: readable in print and for the common colour blindness.
OUTCOME_COLORS = {
    Outcome.RESOLVED.value: "#1a9850",
    Outcome.UNRESOLVED.value: "#d73027",
    Outcome.EMPTY_PATCH.value: "#fc8d59",
    Outcome.PATCH_APPLY_FAILED.value: "#fee08b",
    Outcome.TEST_TIMEOUT.value: "#91bfdb",
    Outcome.AGENT_TIMEOUT.value: "#4575b4",
    Outcome.BUILD_ERROR.value: "#762a83",
    Outcome.AGENT_ERROR.value: "#9970ab",
    Outcome.INFRA_ERROR.value: "#c2a5cf",
    Outcome.NOT_RUN.value: "#d9d9d9",
}
FONT = "font-family='system-ui,sans-serif' font-size='12'"


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `high` (1-2-5 steps), about `count` of them."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < high - 1e-12:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.4g}"


@dataclass
class Series:
    """One bar or point: a label, and what the chart shows of it."""

    label: str
    outcomes: dict[str, int]  # outcome value -> count
    rate: float = 0.0  # resolved rate, 0..1
    low: float = 0.0  # its interval
    high: float = 1.0
    cost: float = 0.0  # USD per instance that ran


def outcome_bars(series: Sequence[Series], width: int = 560) -> str:
    """Stacked horizontal bars: one per series, its items split by outcome, with a legend."""
    label_width, bar_height, gap = 150, 22, 10
    present = [o for o in OUTCOME_COLORS if any(s.outcomes.get(o) for s in series)]
    legend_rows = math.ceil(len(present) / 3) if present else 0
    height = 20 + len(series) * (bar_height + gap) + legend_rows * 18 + 10
    plot = width - label_width - 50
    parts = [
        f"<svg class='ohbench-chart ohbench-chart-outcomes' role='img' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' xmlns='http://www.w3.org/2000/svg' {FONT}><title>Outcomes per model</title>"
    ]
    for row, entry in enumerate(series):
        y = 10 + row * (bar_height + gap)
        total = sum(entry.outcomes.values()) or 1
        parts.append(f"<text x='{label_width - 6}' y='{y + 15}' text-anchor='end'>{escape(entry.label)}</text>")
        x = float(label_width)
        for outcome in present:
            count = entry.outcomes.get(outcome, 0)
            if not count:
                continue
            w = plot * count / total
            parts.append(
                f"<rect class='ohbench-bar' data-outcome='{outcome}' data-count='{count}' x='{x:.2f}' y='{y}' "
                f"width='{w:.2f}' height='{bar_height}' fill='{OUTCOME_COLORS[outcome]}'>"
                f"<title>{escape(entry.label)}: {count} {outcome}</title></rect>"
            )
            if w > 18:  # the count inside the segment when it fits
                parts.append(f"<text x='{x + w / 2:.2f}' y='{y + 15}' text-anchor='middle' fill='#111'>{count}</text>")
            x += w
        parts.append(f"<text x='{width - 45}' y='{y + 15}'>{sum(entry.outcomes.values())}</text>")
    top = 10 + len(series) * (bar_height + gap) + 4
    for index, outcome in enumerate(present):
        x, y = 10 + (index % 3) * (width // 3), top + (index // 3) * 18
        parts.append(
            f"<rect x='{x}' y='{y}' width='12' height='12' fill='{OUTCOME_COLORS[outcome]}'/>"
            f"<text x='{x + 16}' y='{y + 10}'>{outcome}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def cost_vs_rate(series: Sequence[Series], width: int = 460, height: int = 300) -> str:
    """Resolved rate (with its 95% interval) against cost per instance, one point per series."""
    left, right, top, bottom = 50, 20, 15, 45
    plot_w, plot_h = width - left - right, height - top - bottom
    x_ticks = nice_ticks(max((s.cost for s in series), default=0.0) * 1.1)
    x_max = x_ticks[-1]

    def px(cost: float) -> float:
        return left + plot_w * cost / x_max

    def py(rate: float) -> float:
        return top + plot_h * (1 - rate)

    parts = [
        f"<svg class='ohbench-chart ohbench-chart-cost' role='img' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' xmlns='http://www.w3.org/2000/svg' {FONT}><title>Resolved rate against cost per instance</title>",
        f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' stroke='#999'/>",
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = py(tick)
        parts.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{y:.2f}' y2='{y:.2f}' stroke='#eee'/>"
            f"<text x='{left - 5}' y='{y + 4:.2f}' text-anchor='end'>{100 * tick:.0f}%</text>"
        )
    for tick in x_ticks:
        x = px(tick)
        parts.append(f"<text x='{x:.2f}' y='{top + plot_h + 15}' text-anchor='middle'>${_fmt(tick)}</text>")
    parts.append(
        f"<text x='{left + plot_w / 2}' y='{height - 8}' text-anchor='middle'>cost per instance (USD)</text>"
        f"<text transform='translate(12 {top + plot_h / 2}) rotate(-90)' text-anchor='middle'>resolved (95% CI)</text>"
    )
    for index, entry in enumerate(series):
        x = px(entry.cost)
        hue = (index * 137) % 360  # well-spread hues, stable per position
        color = f"hsl({hue},60%,40%)"
        parts.append(
            f"<g class='ohbench-point' data-label='{escape(entry.label, quote=True)}'>"
            f"<title>{escape(entry.label)}: {100 * entry.rate:.1f}% [{100 * entry.low:.1f}-{100 * entry.high:.1f}%], "
            f"${entry.cost:.4f} per instance</title>"
            f"<line x1='{x:.2f}' x2='{x:.2f}' y1='{py(entry.low):.2f}' y2='{py(entry.high):.2f}' stroke='{color}' stroke-width='2'/>"
            f"<line x1='{x - 5:.2f}' x2='{x + 5:.2f}' y1='{py(entry.low):.2f}' y2='{py(entry.low):.2f}' stroke='{color}'/>"
            f"<line x1='{x - 5:.2f}' x2='{x + 5:.2f}' y1='{py(entry.high):.2f}' y2='{py(entry.high):.2f}' stroke='{color}'/>"
            f"<circle cx='{x:.2f}' cy='{py(entry.rate):.2f}' r='6' fill='{color}'/>"
            f"<text x='{x + 9:.2f}' y='{py(entry.rate) - 6:.2f}' fill='{color}'>{escape(entry.label)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class Speedup:
    """One perf task's speedups over its base state: the agent's and the human's."""

    label: str
    agent: float
    human: float


def speedup_chart(speedups: Sequence[Speedup], width: int = 560) -> str:
    """Agent against human speedup per perf task: paired bars on a log scale, 1x marked."""
    label_width, row_height = 170, 30
    height = 30 + len(speedups) * row_height + 30
    plot = width - label_width - 90  # room for the "1.70x / 2.10x" after the longest bar
    values = [v for s in speedups for v in (s.agent, s.human) if v > 0]
    low = min([*values, 1.0]) / 1.25
    high = max([*values, 1.0]) * 1.25
    span = math.log(high) - math.log(low)

    def px(value: float) -> float:
        return label_width + plot * (math.log(max(value, low)) - math.log(low)) / span

    one = px(1.0)
    parts = [
        f"<svg class='ohbench-chart ohbench-chart-speedup' role='img' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' xmlns='http://www.w3.org/2000/svg' {FONT}><title>Agent and human speedup per task</title>",
        f"<line x1='{one:.2f}' x2='{one:.2f}' y1='10' y2='{height - 25}' stroke='#333' stroke-dasharray='3 3'/>",
        f"<text x='{one:.2f}' y='{height - 10}' text-anchor='middle'>1x (base)</text>",
    ]
    for row, entry in enumerate(speedups):
        y = 15 + row * row_height
        parts.append(f"<text x='{label_width - 6}' y='{y + 13}' text-anchor='end'>{escape(entry.label)}</text>")
        for offset, (who, value, color) in enumerate((("agent", entry.agent, "#4575b4"), ("human", entry.human, "#999"))):
            x0, x1 = sorted((one, px(value)))
            parts.append(
                f"<rect class='ohbench-speedup' data-who='{who}' data-value='{value:.4g}' x='{x0:.2f}' y='{y + offset * 10}' "
                f"width='{max(x1 - x0, 1):.2f}' height='9' fill='{color}'><title>{escape(entry.label)}: {who} {value:.3g}x</title></rect>"
            )
        parts.append(f"<text x='{max(px(entry.agent), px(entry.human)) + 4:.2f}' y='{y + 13}'>{entry.agent:.2f}x / {entry.human:.2f}x</text>")
    legend_y = height - 22
    parts.append(
        f"<rect x='10' y='{legend_y}' width='12' height='9' fill='#4575b4'/><text x='26' y='{legend_y + 9}'>agent</text>"
        f"<rect x='80' y='{legend_y}' width='12' height='9' fill='#999'/><text x='96' y='{legend_y + 9}'>human</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
