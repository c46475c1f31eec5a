"""Verdicts of a perf task from raw timings: pluggable criteria and a significance guard.

Pure functions over `Samples`: for every efficiency test, the seconds of each state
(`base`, `agent`, `human`), one value per measuring round, rounds aligned across tests and
states (they were taken interleaved). Every criterion reads the same raw timings:

- `gso` (default): the geometric mean over tests of the agent's speedup over base is at
  least 1.2, and the harmonic mean over tests of human time / agent time is above the
  target (default 0.95), as GSO's `opt_base` and `opt_commit`. Human / agent is paired:
  per test the median of the rounds' own ratios, whatever the estimator. Two states of the
  same speed have the same typical round, but not the same minimum: on this machine a run
  now and then is 25-40% faster (an idle sibling hyperthread), and the state those quick
  runs happen to fall on gets the lower minimum (an oracle, identical to the human, was
  once held 25% below the human that way). After the last look (`settle`), a miss of the
  human bar by less than 10% that the rounds cannot tell from noise (the human's rounds not
  significantly faster than target x the agent's, paired Wilcoxon) is not held against the agent;
- `swefficiency`: the speedup ratio, agent speedup / human speedup (geometric means over
  tests); a run whose tests fail counts as speedup 1. Resolved when the agent is faster
  than base, and, with a target, when the ratio reaches it;
- `sweperf`: SWE-Perf's per-test gain: after IQR outlier removal, the largest x (steps of
  0.001, up to 1) for which base * (1 - x) is still significantly slower than the agent
  (one-sided Mann-Whitney U, p < 0.1); their mean must exceed the target (default 0).

The significance guard holds for all of them: a verdict that rests on "the agent is faster
than base" needs a one-sided Wilcoxon signed-rank test of the rounds' own ratios, base /
agent (each round's time the geometric mean over the tests), at p < alpha. The rounds are
paired: round i of base and of the agent ran moments apart, so whatever the machine was
doing then weighs on both, and the test sees the speedup, not the machine's swings (an
unpaired Mann-Whitney U test of the same times has the swings in its variance: on a busy
machine it misses a true 1.3x in 1 run of 10; see benchmarks/perf_noise.py). With alpha
0.01 it needs at least 7 rounds (the smallest one-sided p of n rounds is 2**-n). A faster
point estimate without it is unresolved with the reason `noisy`, never a silent pass.

Point estimates of one state's time use an estimator (default `min`: the workloads are
deterministic and CPU-bound, so interference only ever adds time; see benchmarks/perf_noise.py).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

# numpy and scipy load on first use: importing them costs every worker seconds of CPU, and
# only perf tasks need them (checkers are all imported to find the one for a task).

BASE, AGENT, HUMAN = "base", "agent", "human"
STATES = (BASE, AGENT, HUMAN)
Samples = dict[str, dict[str, list[float]]]  # test -> state -> seconds per round

ESTIMATORS: dict[str, Callable[[Sequence[float]], float]] = {
    "min": min,
    "median": statistics.median,
    "mean": statistics.fmean,
    # Ratios of two states come from each round's pair (median of the per-round ratios);
    # one state's own time shown is its median.
    "paired": statistics.median,
}
DEFAULT_CRITERION = "gso"
DEFAULT_ALPHA = 0.01
DEFAULT_ESTIMATOR = "min"
GSO_MIN_SPEEDUP = 1.2  # GSO's MIN_PROB_SPEEDUP: opt_base needs this speedup over base
GSO_HUMAN_FRACTION = 0.95  # GSO's OPT_THRESH: opt_commit needs this fraction of the human's speed
NEAR_MISS = 0.9  # a verdict this close to its bar is taken again on more rounds
SWEPERF_P = 0.1  # SWE-Perf's significance level for the per-test gain
SWEPERF_STEP = 0.001
SWEPERF_MAX_GAIN = 1.0

# Why a perf task is unresolved (or `resolved`): stored with the verdict.
RESOLVED, TESTS_FAILED, NOT_FASTER, NOISY, BELOW_HUMAN, BELOW_TARGET = (
    "resolved", "tests_failed", "not_faster", "noisy", "below_human", "below_target",
)


@dataclasses.dataclass
class Verdict:
    """A criterion's judgement: resolved or not, why, and every number it used."""

    criterion: str
    resolved: bool
    reason: str
    detail: str
    numbers: dict[str, Any]


# ---------------------------------------------------------------- building blocks


def estimate(values: Sequence[float], estimator: str = DEFAULT_ESTIMATOR) -> float:
    """One state's time from its repeats."""
    if not values:
        raise ValueError("no timings to estimate from")
    return float(ESTIMATORS[estimator](values))


def ratio(before: float, after: float) -> float:
    """before / after (a speedup when both are times); infinite when `after` is 0."""
    return before / after if after > 0 else math.inf


def time_ratio(before: Sequence[float], after: Sequence[float], estimator: str = DEFAULT_ESTIMATOR) -> float:
    """How many times `after` fits in `before` (a speedup): est(before) / est(after), or with
    `paired` the median of the rounds' own ratios (rounds are aligned and taken close in time)."""
    if estimator == "paired":
        return float(statistics.median(ratio(b, a) for b, a in zip(before, after, strict=True)))
    return ratio(estimate(before, estimator), estimate(after, estimator))


def geometric_mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("geometric mean of nothing")
    if any(v <= 0 for v in values):
        return 0.0
    return math.exp(statistics.fmean(math.log(v) for v in values))


def harmonic_mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("harmonic mean of nothing")
    if any(v <= 0 for v in values):
        return 0.0
    return len(values) / sum(1.0 / v for v in values)


def iqr_filter(values: Sequence[float], k: float = 1.0) -> list[float]:
    """Values within [q1 - k*IQR, q3 + k*IQR], as SWE-Perf filters durations (k = 1)."""
    if not values:
        return []
    import numpy as np

    data = np.asarray(values, dtype=float)
    q1, q3 = np.percentile(data, 25), np.percentile(data, 75)
    spread = q3 - q1
    return [float(v) for v in data[(data >= q1 - k * spread) & (data <= q3 + k * spread)]]


def p_faster(sample: Sequence[float], reference: Sequence[float]) -> float:
    """One-sided Mann-Whitney U p-value of "`sample` takes less time than `reference`"."""
    if len(sample) < 2 or len(reference) < 2:
        return 1.0
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(sample, reference, alternative="less").pvalue)


def p_faster_paired(sample: Sequence[float], reference: Sequence[float], margin: float = 1.0) -> float:
    """One-sided Wilcoxon signed-rank p-value of "`sample` takes less time than `reference` /
    `margin`", over the aligned rounds' log ratios log(reference / sample) - log(margin)."""
    if len(sample) != len(reference):
        raise ValueError(f"paired rounds differ in number: {len(sample)} and {len(reference)}")
    if any(v <= 0 for v in (*sample, *reference)):
        return 1.0  # a zero time has no ratio; nothing is proven
    shift = math.log(margin)
    diffs = [math.log(r) - math.log(s) - shift for s, r in zip(sample, reference, strict=True)]
    if sum(1 for d in diffs if d != 0) < 2:
        return 1.0
    from scipy.stats import wilcoxon

    return float(wilcoxon(diffs, alternative="greater").pvalue)


def round_times(samples: Samples, state: str) -> list[float]:
    """Per round, the geometric mean over the tests of `state`'s time (one value per round)."""
    series = [samples[test][state] for test in samples]
    rounds = {len(s) for s in series}
    if len(rounds) != 1:
        raise ValueError(f"{state}: tests have different numbers of rounds {sorted(rounds)}")
    return [geometric_mean(values) for values in zip(*series, strict=True)]


def significance(samples: Samples, state: str = AGENT, reference: str = BASE) -> float:
    """The guard's p-value of "`state` is faster than `reference`": paired, over the rounds."""
    return p_faster_paired(round_times(samples, state), round_times(samples, reference))


def sweperf_gain(after: Sequence[float], before: Sequence[float], p: float = SWEPERF_P) -> float:
    """SWE-Perf's gain: the largest x on a 0.001 grid up to 1 with before*(1-x) still
    significantly slower than `after` (after IQR filtering of both); 0 when none is."""
    after_kept, before_kept = iqr_filter(after), iqr_filter(before)

    def significant(steps: int) -> bool:
        shrunk = [v * (1 - steps * SWEPERF_STEP) for v in before_kept]
        return p_faster(after_kept, shrunk) < p

    # The p-value only grows as base shrinks, so the significant steps are a prefix: bisect.
    if not significant(0):
        return 0.0
    low, high = 0, round(SWEPERF_MAX_GAIN / SWEPERF_STEP)
    if significant(high):
        return SWEPERF_MAX_GAIN
    while high - low > 1:
        middle = (low + high) // 2
        if significant(middle):
            low = middle
        else:
            high = middle
    return round(low * SWEPERF_STEP, 6)


# ---------------------------------------------------------------- replay of the human's commit

# The speedup over base the human's commit must show on this machine for the task to count:
# GSO keeps only tasks whose human commit is at least its 1.2x bar; the other criteria need
# the commit to be faster at all. Either way the rounds must show it (the guard's test).
REPLAY_BARS = {"gso": GSO_MIN_SPEEDUP, "swefficiency": 1.0, "sweperf": 1.0}
REPLAY_BELOW_BAR, REPLAY_NOT_SIGNIFICANT = "below_bar", "not_significant"


def replay(samples: Samples, criterion: str = DEFAULT_CRITERION, alpha: float = DEFAULT_ALPHA,
           estimator: str = DEFAULT_ESTIMATOR) -> dict[str, Any]:
    """Does the human's commit replay here? `samples`: per test, the rounds of `base` and `human`.

    Valid when the geometric mean over tests of the human's speedup reaches the criterion's
    bar and the paired one-sided Wilcoxon test of the rounds finds the human faster at
    p < alpha. A published audit found most perf-benchmark reference commits do not replay
    across machines: a task whose commit does not is left out of the rates.
    """
    if criterion not in REPLAY_BARS:
        raise ValueError(f"unknown perf criterion {criterion!r} (known: {', '.join(REPLAY_BARS)})")
    per_test = {test: time_ratio(states[BASE], states[HUMAN], estimator) for test, states in samples.items()}
    speedup = geometric_mean(list(per_test.values()))
    p_value = significance(samples, HUMAN, BASE)
    bar = REPLAY_BARS[criterion]
    reason = REPLAY_BELOW_BAR if speedup < bar else (REPLAY_NOT_SIGNIFICANT if p_value >= alpha else "")
    return {
        "valid": not reason, "reason": reason, "criterion": criterion, "bar": bar, "human_speedup": speedup,
        "p_value": p_value, "alpha": alpha, "estimator": estimator, "per_test": per_test,
        "rounds": len(next(iter(samples.values()))[BASE]),
    }


# ---------------------------------------------------------------- shared numbers


def common_numbers(samples: Samples, estimator: str, alpha: float) -> dict[str, Any]:
    """Estimates, speedups and the guard's p-value that every criterion reports."""
    if not samples:
        raise ValueError("no efficiency tests were timed")
    per_test: dict[str, dict[str, float]] = {}
    for test, states in samples.items():
        base, agent, human = (states[s] for s in STATES)
        per_test[test] = {
            "base": estimate(base, estimator),
            "agent": estimate(agent, estimator),
            "human": estimate(human, estimator),
            "agent_speedup": time_ratio(base, agent, estimator),
            "human_speedup": time_ratio(base, human, estimator),
            "human_over_agent": time_ratio(human, agent, estimator),  # > 1: the agent beat the human
        }
    agent_speedup = geometric_mean([t["agent_speedup"] for t in per_test.values()])
    human_speedup = geometric_mean([t["human_speedup"] for t in per_test.values()])
    p_agent = significance(samples, AGENT, BASE)
    return {
        "estimator": estimator,
        "alpha": alpha,
        "rounds": len(next(iter(samples.values()))[BASE]),
        "per_test": per_test,
        "agent_speedup": agent_speedup,
        "human_speedup": human_speedup,
        "agent_vs_human": ratio(agent_speedup, human_speedup),
        "p_value": p_agent,
        "guard": "wilcoxon signed-rank, paired rounds, one-sided",
        "significant": p_agent < alpha,
        # For comparison only: the unpaired test the guard used to be.
        "mann_whitney_p_value": p_faster(round_times(samples, AGENT), round_times(samples, BASE)),
        "human_p_value": significance(samples, HUMAN, BASE),
    }


def _speed(numbers: dict[str, Any]) -> str:
    return (
        f"agent {numbers['agent_speedup']:.2f}x, human {numbers['human_speedup']:.2f}x over base "
        f"(p={numbers['p_value']:.3g})"
    )


def human_bar(samples: Samples, fraction: float) -> tuple[dict[str, float], float, float]:
    """GSO's human bar, paired: per test the median of the rounds' own human / agent time
    ratios, their harmonic mean over tests, and the p-value of "the human's rounds are
    faster than `fraction` x the agent's" (one-sided Wilcoxon over the rounds). A miss of the
    bar without that p below alpha may be the machine's noise (see needs_more and settle)."""
    per_test = {test: time_ratio(states[HUMAN], states[AGENT], "paired") for test, states in samples.items()}
    below_p = p_faster_paired(round_times(samples, HUMAN), round_times(samples, AGENT), 1 / fraction)
    return per_test, harmonic_mean(list(per_test.values())), below_p


def human_bar_unsettled(hm: float, below_p: float, fraction: float, alpha: float) -> bool:
    """A miss of the human bar more rounds could change: by less than 10%, or not shown to
    be real (the human's rounds not significantly faster than the bar allows)."""
    return hm <= fraction and (hm >= NEAR_MISS * fraction or below_p >= alpha)


def human_bar_waived(hm: float, below_p: float, fraction: float, alpha: float) -> bool:
    """After the last look: a miss of the human bar by less than 10% that the rounds cannot
    tell from noise is not held against the agent."""
    return fraction >= hm >= NEAR_MISS * fraction and below_p >= alpha


# ---------------------------------------------------------------- criteria


def gso(samples: Samples, correct: bool, target: float | None, alpha: float, estimator: str) -> Verdict:
    """GSO: geometric-mean speedup >= 1.2 over base and harmonic mean of human/agent > target."""
    numbers = common_numbers(samples, estimator, alpha)
    fraction = GSO_HUMAN_FRACTION if target is None else target
    per_test, hm, below_p = human_bar(samples, fraction)
    for test, paired in per_test.items():
        numbers["per_test"][test]["human_over_agent_paired"] = paired
    numbers.update(
        below_human_p_value=below_p,
        # "The agent's speedup is below the 1.2x bar", paired as the guard: base's rounds take
        # less than 1.2 x the agent's. Until it is significant a miss of the bar is not settled.
        bar_p_value=p_faster_paired(round_times(samples, BASE), round_times(samples, AGENT), 1 / GSO_MIN_SPEEDUP),
        gm_speedup_agent_base=numbers["agent_speedup"],
        hm_human_over_agent=hm,
        min_speedup=GSO_MIN_SPEEDUP,
        target=fraction,
        opt_base=numbers["agent_speedup"] >= GSO_MIN_SPEEDUP and numbers["significant"],
        opt_commit=hm > fraction,
    )
    speed = _speed(numbers)
    if not correct:
        return Verdict("gso", False, TESTS_FAILED, f"correctness tests fail; {speed}", numbers)
    if numbers["agent_speedup"] < GSO_MIN_SPEEDUP:
        return Verdict("gso", False, NOT_FASTER, f"{speed}: below the {GSO_MIN_SPEEDUP}x bar", numbers)
    if not numbers["significant"]:
        return Verdict("gso", False, NOISY, f"{speed}: not significant at alpha={alpha:g}", numbers)
    if hm <= fraction:
        return Verdict("gso", False, BELOW_HUMAN, f"{speed}: human/agent time {hm:.3f} (paired) <= {fraction:g}", numbers)
    return Verdict("gso", True, RESOLVED, f"{speed}; human/agent time {hm:.3f} (paired)", numbers)


def swefficiency(samples: Samples, correct: bool, target: float | None, alpha: float, estimator: str) -> Verdict:
    """SWE-fficiency: speedup ratio agent/human (failures count as speedup 1)."""
    numbers = common_numbers(samples, estimator, alpha)
    effective = numbers["agent_speedup"] if correct else 1.0
    numbers.update(speedup_ratio=ratio(effective, numbers["human_speedup"]), target=target)
    speed = f"{_speed(numbers)}, speedup ratio {numbers['speedup_ratio']:.3f}"
    if not correct:
        return Verdict("swefficiency", False, TESTS_FAILED, f"correctness tests fail; {speed}", numbers)
    if numbers["agent_speedup"] <= 1.0:
        return Verdict("swefficiency", False, NOT_FASTER, speed, numbers)
    if not numbers["significant"]:
        return Verdict("swefficiency", False, NOISY, f"{speed}: not significant at alpha={alpha:g}", numbers)
    if target is not None and numbers["speedup_ratio"] < target:
        return Verdict("swefficiency", False, BELOW_TARGET, f"{speed} < target {target:g}", numbers)
    return Verdict("swefficiency", True, RESOLVED, speed, numbers)


def sweperf(samples: Samples, correct: bool, target: float | None, alpha: float, estimator: str) -> Verdict:
    """SWE-Perf: mean over tests of the per-test significant gain (IQR, Mann-Whitney p < 0.1)."""
    numbers = common_numbers(samples, estimator, alpha)
    bar = 0.0 if target is None else target
    gains = {test: sweperf_gain(states[AGENT], states[BASE]) for test, states in samples.items()}
    human = {test: sweperf_gain(states[HUMAN], states[BASE]) for test, states in samples.items()}
    gain = statistics.fmean(gains.values()) if correct else 0.0
    numbers.update(
        gain=gain,
        human_gain=statistics.fmean(human.values()),
        per_test_gain=gains,
        per_test_human_gain=human,
        target=bar,
    )
    speed = f"{_speed(numbers)}, gain {gain:.3f} (human {numbers['human_gain']:.3f})"
    if not correct:
        return Verdict("sweperf", False, TESTS_FAILED, f"correctness tests fail; {speed}", numbers)
    if gain <= 0.0:
        # SWE-Perf's own test found no significant gain: unproven if the estimate looked faster.
        reason = NOISY if numbers["agent_speedup"] > 1.0 else NOT_FASTER
        return Verdict("sweperf", False, reason, f"{speed}: no significant gain at p < {SWEPERF_P}", numbers)
    if not numbers["significant"]:
        return Verdict("sweperf", False, NOISY, f"{speed}: not significant at alpha={alpha:g}", numbers)
    if gain <= bar:
        return Verdict("sweperf", False, BELOW_TARGET, f"{speed} <= target {bar:g}", numbers)
    return Verdict("sweperf", True, RESOLVED, speed, numbers)


def needs_more(verdict: Verdict) -> bool:
    """True for a verdict more rounds could change: `noisy` (faster by the estimate, not yet
    significant); under GSO a miss of the 1.2x bar by less than 10%, or any miss of it the
    rounds cannot tell from noise (`bar_p_value` >= alpha: they do not show the agent's
    speedup to be below 1.2x, e.g. an agent state whose first rounds were all slowed down);
    a miss of the human bar by less than 10% or not shown to be real."""
    if verdict.reason == NOISY:
        return True
    numbers = verdict.numbers
    if verdict.reason == BELOW_HUMAN:
        return human_bar_unsettled(
            numbers["hm_human_over_agent"], numbers["below_human_p_value"], numbers["target"], numbers["alpha"]
        )
    if verdict.reason == NOT_FASTER and verdict.criterion == "gso":
        return bool(numbers["agent_speedup"] >= NEAR_MISS * GSO_MIN_SPEEDUP) or numbers["bar_p_value"] >= numbers["alpha"]
    return False


def settle(verdict: Verdict) -> Verdict:
    """The verdict after the last look (no more rounds to come). A miss of GSO's human bar by
    less than 10% that the timings cannot tell from noise is not held against the agent:
    resolved, with `human_bar_within_noise` set. Everything else stands. The 1.2x over base
    and its significance are never waived."""
    numbers = verdict.numbers
    if verdict.reason != BELOW_HUMAN or not human_bar_waived(
        numbers["hm_human_over_agent"], numbers["below_human_p_value"], numbers["target"], numbers["alpha"]
    ):
        return verdict
    numbers["human_bar_within_noise"] = True
    return Verdict(
        verdict.criterion, True, RESOLVED,
        f"{verdict.detail}, within the noise (p={numbers['below_human_p_value']:.3g} >= alpha {numbers['alpha']:g})",
        numbers,
    )


Criterion = Callable[[Samples, bool, "float | None", float, str], Verdict]
CRITERIA: dict[str, Criterion] = {"gso": gso, "swefficiency": swefficiency, "sweperf": sweperf}


def judge(
    samples: Samples,
    *,
    correct: bool = True,
    criterion: str = DEFAULT_CRITERION,
    target: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    estimator: str = DEFAULT_ESTIMATOR,
    wall: Samples | None = None,
) -> Verdict:
    """The verdict of `criterion` on `samples` (ValueError for an unknown criterion or estimator).

    `wall`: the same runs' wall times, when `samples` are CPU times: their speedup (best wall
    times) is reported as `wall_agent_speedup`, for information only. On a busy machine the
    wall clock mostly measures the other processes (benchmarks/perf_noise.py), so it cannot
    overrule the CPU-time verdict.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown perf criterion {criterion!r} (known: {', '.join(CRITERIA)})")
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r} (known: {', '.join(ESTIMATORS)})")
    for test, states in samples.items():
        missing = [s for s in STATES if not states.get(s)]
        if missing:
            raise ValueError(f"{test}: no timings for {', '.join(missing)}")
    verdict = CRITERIA[criterion](samples, correct, target, alpha, estimator)
    if wall is not None:
        speedup = geometric_mean([ratio(min(states[BASE]), min(states[AGENT])) for states in wall.values()])
        verdict.numbers["wall_agent_speedup"] = speedup
    return verdict
