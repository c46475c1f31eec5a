"""The CI gate: compare this run with a baseline run, pytest-benchmark style.

Gate expressions (`--ohbench-compare-fail EXPR`, repeatable), each failing the run when
exceeded (reaching the limit exactly passes):

    resolved_rate:-N%   the resolved rate fell by more than N percentage POINTS
    cost:+N%            total cost rose by more than N% of the baseline's
    cost:+N             total cost rose by more than N USD
    tokens:+N% | +N     input+output tokens rose by more than N% | N tokens
    input_tokens:+N% | +N, output_tokens:+N% | +N   the same, one direction only
    time:+N% | +N       summed item time (durations["total"]) rose by more than N% | N seconds
    resolved_rate:significant[@LEVEL]
                        the resolved rate fell and McNemar's exact test on the flipped
                        instances says the drop is real: p < LEVEL (default 0.05; 0.01 or 1%)
    instance            an instance resolved in the baseline is not resolved now (instances
                        declared flaky are listed but do not fail it)

Grammar: `instance` | `resolved_rate:significant` ["@" LEVEL] | METRIC ":" SIGN NUMBER ["%"],
SIGN "+" or "-", NUMBER like 2, 2.5 or .5; resolved_rate takes "-" and needs "%", every
other metric takes "+"; LEVEL is a number between 0 and 1 or a percentage; surrounding
whitespace is ignored. A relative limit against a baseline total of 0 fails on any rise.

Which to use: agent runs are noisy (a rerun of identical work flips some instances both
ways). `resolved_rate:-N%` fails on any drop beyond N points, noise included: right for
large suites or deterministic agents (oracle, replay). `resolved_rate:significant` fails
only on a drop the flips cannot explain by chance: right for LLM agents on small suites,
where a few points are noise. `instance` is the strictest; pair it with known-flaky
instances (`--ohbench-flaky`) so that it guards the instances that must never regress.

Records match by (instance_id, model) - by instance_id alone when neither run has a model,
so runs of different agents compare; when a run has several agents (`--agent a --agent b`),
by (instance_id, model, agent), so each agent is compared with itself. Only first attempts count, and items that did not run
(`not_run`) or whose perf task does not replay on this machine (`replay_invalid`) are left out; metrics are totals over the instances present in both runs.
Instances in only one run are listed, never a failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord, counted
from pytest_ohbench.report.run_folder import LATEST_LINK, NO_MODEL, latest_records
from pytest_ohbench.report.stats import mcnemar_exact

INSTANCE = "instance"
RATE = "resolved_rate"
METRICS = (RATE, "cost", "tokens", "input_tokens", "output_tokens", "time")
_UNITS = {"cost": " USD", "time": " s"}  # absolute changes of the others are plain counts
_NUMBER = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
SIGNIFICANT = "significant"
DEFAULT_LEVEL = 0.05
_EXAMPLES = "resolved_rate:-2%, resolved_rate:significant, cost:+10%, cost:+0.50, tokens:+15%, time:+20%, instance"

Key = tuple[str, str, str]  # (instance_id, model or "-", agent when a run has several, else "")


class GateError(ValueError, argparse.ArgumentTypeError):
    """A bad gate expression. A ValueError; also an ArgumentTypeError, so argparse shows
    its message as is (for a plain ValueError it prints only "invalid ... value")."""


@dataclasses.dataclass(frozen=True)
class Gate:
    """One parsed expression: the metric and its allowed change.

    `limit` is signed (negative for resolved_rate); `percent` tells a relative limit (in %
    of the baseline) from an absolute one; for resolved_rate it is always percentage points.
    `level` is set only for `resolved_rate:significant`: the significance level of the test.
    """

    metric: str
    limit: float = 0.0
    percent: bool = False
    text: str = ""
    level: float | None = None

    @property
    def significant(self) -> bool:
        """True for `resolved_rate:significant`."""
        return self.level is not None


def parse_gate(expression: str) -> Gate:
    """A gate expression as a Gate; GateError (a ValueError) with a one-line, user-facing message.

    Meant as an argparse `type=` converter (see the module docstring for the grammar).
    """
    text = expression.strip()
    bad = f"bad gate {expression!r}"
    if text == INSTANCE:
        return Gate(INSTANCE, text=text)
    metric, colon, rest = text.partition(":")
    metric = metric.strip()
    if metric == INSTANCE:
        raise GateError(f"{bad}: 'instance' takes no limit, write just 'instance'")
    if metric not in METRICS:
        known = ", ".join((*METRICS, INSTANCE))
        what = f"unknown metric {metric!r}" if metric else "no metric"
        raise GateError(f"{bad}: {what} (known: {known}; e.g. {_EXAMPLES})")
    direction = "-" if metric == RATE else "+"
    example = "resolved_rate:-2%" if metric == RATE else f"{metric}:+10%"
    rest = rest.strip()
    if metric == RATE and rest.split("@")[0].strip() == SIGNIFICANT:
        return Gate(RATE, text=text, level=_level(rest.partition("@")[2].strip(), bad) if "@" in rest else DEFAULT_LEVEL)
    if not colon or not rest:
        raise GateError(f"{bad}: missing the allowed change after '{metric}:', e.g. {example}")
    sign, rest = rest[0], rest[1:]
    if sign not in "+-":
        raise GateError(f"{bad}: the change needs a sign, e.g. {example}")
    if sign != direction:
        change = "a drop" if metric == RATE else "a rise"
        raise GateError(f"{bad}: {metric} takes {change} ('{direction}'), e.g. {example}")
    percent = rest.endswith("%")
    number = rest[:-1] if percent else rest
    if not number:
        raise GateError(f"{bad}: missing the number after '{sign}', e.g. {example}")
    if not _NUMBER.match(number):
        raise GateError(f"{bad}: {number!r} is not a number, e.g. {example}")
    if metric == RATE and not percent:
        # "-2" could mean points or a fraction (-0.02): make the unit explicit.
        raise GateError(f"{bad}: resolved_rate is in percentage points and needs '%', e.g. {example}")
    limit = float(number) * (-1 if sign == "-" else 1)
    return Gate(metric, limit, percent, text)


def _level(text: str, bad: str) -> float:
    """The LEVEL of `resolved_rate:significant@LEVEL`: 0.01 or 1%, strictly between 0 and 1."""
    example = "e.g. resolved_rate:significant@0.01"
    percent = text.endswith("%")
    number = text[:-1] if percent else text
    if not _NUMBER.match(number):
        raise GateError(f"{bad}: the significance level {text!r} is not a number, {example}")
    level = float(number) / (100 if percent else 1)
    if not 0 < level < 1:
        raise GateError(f"{bad}: the significance level must be between 0 and 1 (or 0% and 100%), {example}")
    return level


def resolve_baseline(spec: str, reports_dir: Path, what: str = "baseline run") -> Path:
    """The run folder `spec` names, resolved: `latest` (the symlink in `reports_dir`),
    a run folder path, or a run id under `reports_dir`. FileNotFoundError if none exists."""
    if spec == LATEST_LINK:
        candidates = [reports_dir / LATEST_LINK]
    else:
        given = Path(spec).expanduser()
        candidates = [given] if given.is_absolute() else [given, reports_dir / spec]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    looked = ", ".join(str(c) + (" (a broken link)" if c.is_symlink() else "") for c in candidates)
    raise FileNotFoundError(f"{what} {spec!r} not found (looked in {looked})")


def _key(record: TaskRecord, by_agent: bool) -> Key:
    return record.instance_id, record.model or NO_MODEL, record.agent if by_agent else ""


def _name(key: Key) -> str:
    instance, model, agent = key
    params = [part for part in (agent, model if model != NO_MODEL else "") if part]
    return f"{instance}[{'-'.join(params)}]" if params else instance


def _value(metric: str, records: list[TaskRecord]) -> float:
    """The baseline or current value of a metric over the matched records."""
    if metric == RATE:
        return 100.0 * sum(r.resolved for r in records) / len(records) if records else 0.0
    if metric == "cost":
        return sum(r.cost_usd for r in records)
    if metric == "time":
        return sum(r.durations.get("total", 0.0) for r in records)
    if metric == "tokens":
        return float(sum(r.input_tokens + r.output_tokens for r in records))
    return float(sum(getattr(r, metric) for r in records))


def _within(change: float, limit: float, upward: bool) -> bool:
    """True when `change` does not exceed `limit`; float noise at the limit passes
    (1.0 -> 1.1 is +10.000000000000009%)."""
    if math.isclose(change, limit, rel_tol=1e-9, abs_tol=1e-9):
        return True
    return change <= limit if upward else change >= limit


def is_flaky(key: Key, patterns: Iterable[str]) -> bool:
    """Whether an instance is declared flaky: a pattern equals its id or its `id[model]`
    name, or matches one of them as a glob (`*`, `?`; `[..]` is a character class there)."""
    names = (key[0], _name(key))
    return any(pattern in names or any(fnmatch.fnmatchcase(name, pattern) for name in names) for pattern in patterns)


def read_flaky_file(path: Path) -> list[str]:
    """The instance ids / patterns of a flaky list: one a line, `#` starts a comment.

    OSError or UnicodeDecodeError when it cannot be read (the callers name the option)."""
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        pattern = line.split("#", 1)[0].strip()
        if pattern:
            patterns.append(pattern)
    return patterns


@dataclasses.dataclass
class Pair:
    """One instance present in both runs: its outcomes and what it cost before and now."""

    name: str  # instance or instance[model]
    before: str  # outcome values
    after: str
    cost_before: float
    cost_after: float
    tokens_before: int  # input + output
    tokens_after: int
    flaky: bool = False

    @property
    def flip(self) -> str:
        """'lost' (resolved -> not), 'gained' (not -> resolved) or '' (no change in resolved)."""
        was, now = self.before == Outcome.RESOLVED.value, self.after == Outcome.RESOLVED.value
        return "lost" if was and not now else "gained" if now and not was else ""

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "flip": self.flip}


@dataclasses.dataclass
class GateResult:
    """One gate's verdict; `baseline`, `current` and `change` are None for `instance`."""

    gate: Gate
    passed: bool
    detail: str  # the measurement, without the verdict (the terminal line adds it in front)
    baseline: float | None = None
    current: float | None = None
    change: float | None = None  # pts for resolved_rate, % when relative, else absolute
    regressed: list[str] = dataclasses.field(default_factory=list)  # `instance` only
    ignored: list[str] = dataclasses.field(default_factory=list)  # `instance`: regressed but declared flaky
    p_value: float | None = None  # `resolved_rate:significant` only

    @property
    def message(self) -> str:
        """`detail: ok` or `detail: FAIL`, a standalone human message."""
        return f"{self.detail}: {'ok' if self.passed else 'FAIL'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate.text,
            "metric": self.gate.metric,
            "limit": self.gate.limit,
            "percent": self.gate.percent,
            "level": self.gate.level,
            "baseline": self.baseline,
            "current": self.current,
            # JSON has no infinity: a rise from a baseline of 0 is reported as null.
            "change": self.change if self.change is None or math.isfinite(self.change) else None,
            "passed": self.passed,
            "regressed": self.regressed,
            "ignored_flaky": self.ignored,
            "p_value": self.p_value,
            "message": self.message,
        }


@dataclasses.dataclass
class CompareResult:
    """Every gate's verdict, the matched pairs and their flips, and the unmatched instances."""

    baseline: str  # what the baseline was (its folder), for the messages
    results: list[GateResult]
    only_in_baseline: list[str]
    only_in_current: list[str]
    matched: int = 0  # instances present (and run) in both
    pairs: list[Pair] = dataclasses.field(default_factory=list)
    flaky: list[str] = dataclasses.field(default_factory=list)  # the patterns declared flaky

    @property
    def failed(self) -> bool:
        return any(not result.passed for result in self.results)

    @property
    def lost(self) -> list[Pair]:
        return [pair for pair in self.pairs if pair.flip == "lost"]

    @property
    def gained(self) -> list[Pair]:
        return [pair for pair in self.pairs if pair.flip == "gained"]

    @property
    def p_value(self) -> float:
        """McNemar's exact two-sided p-value of the flips (1.0 when nothing flipped)."""
        return mcnemar_exact(len(self.lost), len(self.gained))

    def flips_line(self) -> str:
        """How many instances flipped each way, and whether that can be chance."""
        before = sum(p.before == Outcome.RESOLVED.value for p in self.pairs)
        after = sum(p.after == Outcome.RESOLVED.value for p in self.pairs)
        return (
            f"resolved {before} -> {after} of {self.matched}: {len(self.lost)} lost, {len(self.gained)} gained "
            f"(McNemar exact p = {self.p_value:.3g})"
        )

    def lines(self) -> list[str]:
        """The terminal summary: a header, the flips, one `ok`/`FAIL` line per gate, then the unmatched."""
        lines = [f"compared with {self.baseline}: {self.matched} instance(s) in both runs"]
        if not self.matched:
            lines.append("  nothing to compare: no instance ran in both runs")
        else:
            lines.append(f"  {self.flips_line()}")
        lines += [f"  {'ok  ' if r.passed else 'FAIL'} {r.detail}" for r in self.results]
        if self.only_in_baseline:
            lines.append(f"  only in the baseline (absent or not run here; not compared): {', '.join(self.only_in_baseline)}")
        if self.only_in_current:
            lines.append(f"  only in this run (not compared): {', '.join(self.only_in_current)}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """compare.json."""
        return {
            "baseline": self.baseline,
            "failed": self.failed,
            "matched": self.matched,
            "lost": len(self.lost),
            "gained": len(self.gained),
            "mcnemar_p": self.p_value,
            "gates": [result.to_dict() for result in self.results],
            "only_in_baseline": self.only_in_baseline,
            "only_in_current": self.only_in_current,
            "flaky": self.flaky,
            "pairs": [pair.to_dict() for pair in self.pairs],
        }


def _significant(gate: Gate, old: list[TaskRecord], new: list[TaskRecord]) -> GateResult:
    """`resolved_rate:significant`: fail on a drop that McNemar's exact test calls real."""
    level = gate.level if gate.level is not None else DEFAULT_LEVEL
    lost = sum(a.resolved and not b.resolved for a, b in zip(old, new, strict=True))
    gained = sum(b.resolved and not a.resolved for a, b in zip(old, new, strict=True))
    p = mcnemar_exact(lost, gained)
    before, after = _value(RATE, old), _value(RATE, new)
    passed = not (lost > gained and p < level)
    detail = (
        f"{RATE}: {before:.1f}% -> {after:.1f}% ({after - before:+.1f} pts; {lost} lost, {gained} gained, "
        f"McNemar exact p = {p:.3g}, {'significant' if p < level else 'not significant'} at {level:g})"
    )
    return GateResult(gate, passed, detail, before, after, after - before, p_value=p)


def _check(gate: Gate, pairs: list[tuple[Key, TaskRecord, TaskRecord]], flaky: Sequence[str]) -> GateResult:
    """One gate over the matched (key, baseline record, current record) triples."""
    if gate.metric == INSTANCE:
        regressed = [key for key, old, new in pairs if old.resolved and not new.resolved]
        failing = [_name(key) for key in regressed if not is_flaky(key, flaky)]
        ignored = [_name(key) for key in regressed if is_flaky(key, flaky)]
        detail = f"instance: {len(failing)} regressed" + (f": {', '.join(failing)}" if failing else "")
        if ignored:
            detail += f" (ignored as flaky: {', '.join(ignored)})"
        return GateResult(gate, not failing, detail, regressed=failing, ignored=ignored)
    olds, news = [old for _, old, _ in pairs], [new for _, _, new in pairs]
    if gate.significant:
        return _significant(gate, olds, news)
    old, new = _value(gate.metric, olds), _value(gate.metric, news)
    if gate.metric == RATE:
        change = new - old  # percentage points
        detail = f"{RATE}: {old:.1f}% -> {new:.1f}% ({change:+.1f} pts, limit {gate.limit:+.1f} pts)"
        return GateResult(gate, _within(change, gate.limit, upward=False), detail, old, new, change)
    unit = _UNITS.get(gate.metric, "")
    if gate.percent:
        # From nothing, any rise is infinitely many percent: it fails every relative gate.
        change = (new - old) / old * 100 if old else (0.0 if new == old else math.inf)
        shown, limit = f"{change:+.1f}%", f"{gate.limit:+g}%"
    else:
        change = new - old
        shown, limit = f"{change:+.6g}{unit}", f"{gate.limit:+g}{unit}"
    detail = f"{gate.metric}: {old:.6g} -> {new:.6g}{unit} ({shown}, limit {limit})"
    return GateResult(gate, _within(change, gate.limit, upward=True), detail, old, new, change)


def _first_attempts(records: list[TaskRecord], by_agent: bool) -> dict[Key, TaskRecord]:
    # First attempts only: runs with different --ohbench-attempts stay comparable.
    return {
        _key(r, by_agent): r for r in latest_records(records) if r.attempt == 1 and r.outcome is not Outcome.NOT_RUN and counted(r)
    }


def compare_runs(
    baseline: list[TaskRecord],
    current: list[TaskRecord],
    gates: Sequence[Gate],
    name: str = "baseline",
    flaky: Sequence[str] = (),
) -> CompareResult:
    """Judge `current` against `baseline` with `gates`, over the instances both ran.

    `name` says what the baseline was in the messages (its folder, say); `flaky` holds
    instance ids or patterns the `instance` gate ignores (see `is_flaky`).
    """
    # A run of several agents has one record per agent: then each agent's records match its own.
    by_agent = any(len({r.agent for r in records}) > 1 for records in (baseline, current))
    before, after = _first_attempts(baseline, by_agent), _first_attempts(current, by_agent)
    common = sorted(before.keys() & after.keys())
    triples = [(key, before[key], after[key]) for key in common]
    pairs = [
        Pair(
            _name(key), old.outcome.value, new.outcome.value, old.cost_usd, new.cost_usd,
            old.input_tokens + old.output_tokens, new.input_tokens + new.output_tokens, is_flaky(key, flaky),
        )
        for key, old, new in triples
    ]
    return CompareResult(
        baseline=name,
        results=[_check(gate, triples, flaky) for gate in gates],
        only_in_baseline=sorted(map(_name, before.keys() - after.keys())),
        only_in_current=sorted(map(_name, after.keys() - before.keys())),
        matched=len(common),
        pairs=pairs,
        flaky=list(flaky),
    )


def report_lines(comparison: CompareResult | None, unlike: Sequence[str]) -> list[tuple[str, str]]:
    """What the plugin's terminal summary and `python -m pytest_ohbench compare` print, as
    (line, markup) with markup "warning", "fail" or "": the unlike settings, then the
    comparison (None: an interrupted run, not gated)."""
    lines = []
    if unlike:
        lines.append((f"ohbench: WARNING: the baseline ran with other settings ({len(unlike)}):", "warning"))
        lines += [(f"  {line}", "warning") for line in unlike]
    if comparison is not None:
        lines += [(line, "fail" if line.startswith("  FAIL ") else "") for line in comparison.lines()]
    return lines
