"""Noise calibration of the perf check on this machine: A/A false positives and power at 1.3x.

    .venv/bin/python benchmarks/perf_noise.py                 # 20 runs, the suite defaults
    .venv/bin/python benchmarks/perf_noise.py --runs 40 --output reports/noise.json
    .venv/bin/python benchmarks/perf_noise.py --timings reports/noise.json   # judge them again

How it measures: a calibration task whose work is known exactly (pytest_ohbench.tools.testing.
perf_calibration: `spin()` does SCALE units of work; base SCALE 1365). Every run starts three
fresh containers of its image, as the perf check does, pinned to the same CPU when the engine
allows: `base`, `noop` (base again: an A/A pair) and `fast` (SCALE 1050: a true 1.3x
speedup). It times the benchmark script in all three with the checker's own code
(perf_measure: warm-ups, then interleaved rounds in rotating order, each run timed inside
its container, CPU and wall time). As the checker does, it measures 7 rounds and 5 more
while a verdict is not settled (perf_criteria.needs_more), up to the cap ("7+5..20"), and
judges with perf_criteria, that way and on the first 3 and 7 rounds only, on both clocks:

- A/A false positives: noop judged faster than base, by the significance guard alone
  (one-sided Wilcoxon signed-rank of the paired rounds, p < alpha) and by GSO's full
  "faster" test (that, and a geometric-mean speedup >= 1.2), with a 95% upper bound;
- power: the 1.3x state judged faster by the same GSO test;
- the identical pair: base as the "human" and noop as the "agent", how often GSO's
  human/agent > 0.95 holds (what an oracle needs to resolve);
- the true speedup of `fast`, from the minimum over all its runs.

It exits 1 when, with the checker's procedure on the chosen clock, the A/A rate exceeds 5%
or the power is below 95%.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
from scipy.stats import beta

from pytest_ohbench.core.machine import machine_facts
from pytest_ohbench.kinds.perf import criteria as pc
from pytest_ohbench.kinds.perf.checker import rounds_to_add
from pytest_ohbench.kinds.perf.loader import parse_efficiency_test
from pytest_ohbench.kinds.perf.measure import TimedRunner, measure
from pytest_ohbench.kinds.perf.settings import PerfSettings
from pytest_ohbench.runtime.docker.images import build_cached
from pytest_ohbench.runtime.docker.provider import engine_pinning, pinned_starter
from pytest_ohbench.tools.testing import perf_calibration as calib

FP_TARGET, POWER_TARGET, ORACLE_FRACTION = 0.05, 0.95, pc.GSO_HUMAN_FRACTION


def _verdict(timings: dict[str, list[float]], agent: str, k: int, settings: PerfSettings) -> pc.Verdict:
    """GSO's verdict on the first k rounds, `agent` as the agent state and `fast` as the human."""
    samples = {"t": {"base": timings["base"][:k], "agent": timings[agent][:k], "human": timings["fast"][:k]}}
    return pc.judge(samples, alpha=settings.alpha, estimator=settings.estimator)


def _oracle_bar(timings: dict[str, list[float]], k: int) -> tuple[float, float]:
    """GSO's human bar (perf_criteria.human_bar, paired) on an identical pair, first k rounds:
    base as the human, noop as the agent: (human/agent time, p of "the human's rounds are
    faster than the bar allows")."""
    pair = {"t": {"base": timings["base"][:k], "agent": timings["noop"][:k], "human": timings["base"][:k]}}
    _, ratio, p = pc.human_bar(pair, ORACLE_FRACTION)
    return ratio, p


def _oracle_needs_more(timings: dict[str, list[float]], k: int, settings: PerfSettings) -> bool:
    """As perf_criteria.needs_more for a miss of the human bar."""
    return pc.human_bar_unsettled(*_oracle_bar(timings, k), ORACLE_FRACTION, settings.alpha)


def _oracle_passes(timings: dict[str, list[float]], k: int, settings: PerfSettings, last_look: bool) -> bool:
    """The identical pair passes the human bar (after the last look, as perf_criteria.settle:
    a miss by less than 10% the timings cannot tell from noise passes)."""
    ratio, p = _oracle_bar(timings, k)
    return ratio > ORACLE_FRACTION or (last_look and pc.human_bar_waived(ratio, p, ORACLE_FRACTION, settings.alpha))


def _looks(settings: PerfSettings, available: int) -> list[int]:
    """The numbers of rounds the checker judges on: repeats, then + extra while asked, up to the cap."""
    looks, k = [settings.repeats], settings.repeats
    while (more := rounds_to_add(k, settings.extra_repeats, settings.max_repeats)) and k + more <= available:
        k += more
        looks.append(k)
    return looks


def _needs_more(timings: dict[str, list[float]], k: int, settings: PerfSettings) -> bool:
    return (
        pc.needs_more(_verdict(timings, "noop", k, settings))
        or pc.needs_more(_verdict(timings, "fast", k, settings))
        or _oracle_needs_more(timings, k, settings)
    )


def one_run(client: docker.DockerClient, image: str, patch: str, cpuset: str | None, settings: PerfSettings) -> dict[str, Any]:
    """Fresh base, noop and fast containers, measured as the checker measures: `repeats` rounds
    after the warm-ups, then `extra_repeats` more while a verdict asks for them (any of the
    A/A, the 1.3x or the identical pair), up to `max_repeats`. Every timing, on both clocks:
    {"cpu": {state: [...]}, "wall": {state: [...]}}."""
    start = pinned_starter(
        client, image, run_id="perf-noise", instance_id="calib", workdir="/testbed", memory="512m", cpuset=cpuset
    )
    test = parse_efficiency_test(calib.BENCHMARK, 0)
    runners: dict[str, TimedRunner] = {}
    with start("base") as base, start("noop") as noop, start("fast") as fast:
        fast.write_file("/tmp/fast.patch", patch)
        applied = fast.execute("git apply /tmp/fast.patch", timeout=60)
        if applied.exit_code:
            raise SystemExit(f"perf_noise: the 1.3x patch does not apply: {applied.output.strip()}")
        for name, runtime in (("base", base), ("noop", noop), ("fast", fast)):
            runners[name] = TimedRunner(runtime, "/ohbench/perf")
            runners[name].prepare([test])
        result = measure(runners, [test], repeats=settings.repeats, warmups=settings.warmups, timeout=120, clock=settings.clock)
        while (
            not result.failure
            and (more := rounds_to_add(result.repeats, settings.extra_repeats, settings.max_repeats))
            and _needs_more(result.timings[test.name], result.repeats, settings)
        ):
            result = measure(runners, [test], repeats=more, warmups=0, timeout=120, clock=settings.clock, more_of=result)
    if result.failure:
        raise SystemExit(f"perf_noise: a timed run failed: {result.failure}")
    return {clock: result.clock_timings(clock)[test.name] for clock in ("cpu", "wall")}


def analyse(runs: list[dict[str, Any]], clock: str, settings: PerfSettings, k: int | None) -> dict[str, Any]:
    """Rates over the runs on `clock`: judged on the first k rounds, or (k None) as the checker
    does: on `repeats` rounds, and on more while the verdict asks for them."""
    guard_fp = gso_fp = detected = oracle_ok = 0
    rounds = []

    def stop(timings: dict[str, list[float]], needs: Callable[[dict[str, list[float]], int], bool]) -> int:
        """Where the checker stops: the first look that no longer asks for more."""
        if k is not None:
            return k
        looks = _looks(settings, len(timings["base"]))
        return next((n for n in looks if not needs(timings, n)), looks[-1])

    for run in runs:
        timings = run[clock]
        aa_k = stop(timings, lambda t, n: pc.needs_more(_verdict(t, "noop", n, settings)))
        fast_k = stop(timings, lambda t, n: pc.needs_more(_verdict(t, "fast", n, settings)))
        oracle_k = stop(timings, lambda t, n: _oracle_needs_more(t, n, settings))
        aa = _verdict(timings, "noop", aa_k, settings)
        guard_fp += aa.numbers["p_value"] < settings.alpha
        gso_fp += bool(aa.numbers["opt_base"])
        detected += bool(_verdict(timings, "fast", fast_k, settings).numbers["opt_base"])
        oracle_ok += _oracle_passes(timings, oracle_k, settings, last_look=k is None)
        rounds.append(max(aa_k, fast_k, oracle_k))
    n = len(runs)
    return {
        "aa_guard_fp": guard_fp, "aa_gso_fp": gso_fp, "power_1.3x": detected, "oracle_ok": oracle_ok, "runs": n,
        "mean_rounds": sum(rounds) / n,
    }


def upper_bound(count: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen `count` times in `n`."""
    return 1.0 if count >= n else float(beta.ppf(confidence, count + 1, n - count))


def main() -> int:
    defaults = PerfSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="independent runs (default 20)")
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help=f"first look, rounds (default {defaults.repeats})")
    parser.add_argument("--extra-repeats", type=int, default=defaults.extra_repeats,
                        help=f"rounds added while a verdict asks for more (default {defaults.extra_repeats})")
    parser.add_argument("--max-repeats", type=int, default=defaults.max_repeats, help=f"cap (default {defaults.max_repeats})")
    parser.add_argument("--warmups", type=int, default=defaults.warmups)
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--estimator", default=defaults.estimator, choices=sorted(pc.ESTIMATORS))
    parser.add_argument("--clock", default=defaults.clock, choices=("cpu", "wall"), help="the clock the verdicts use")
    parser.add_argument("--cpuset", default=defaults.cpuset, help="auto, none, or CPUs such as 1")
    parser.add_argument("--base-image", default="ohbench/base:trixie")
    parser.add_argument("--output", help="write every timing and the machine facts to this JSON file")
    parser.add_argument("--timings", help="measure nothing: judge the timings an earlier --output wrote")
    args = parser.parse_args()
    if (args.runs < 20 and not args.timings) or args.repeats < 3:
        parser.error("need --runs >= 20 and --repeats >= 3")
    settings = PerfSettings(
        repeats=args.repeats, extra_repeats=args.extra_repeats, max_repeats=max(args.max_repeats, args.repeats),
        warmups=args.warmups, alpha=args.alpha, estimator=args.estimator, clock=args.clock,
    )

    if args.timings:
        # Judge the timings of an earlier run again (e.g. after a change of the criteria):
        # the checker's procedure then stops where it would have, within the rounds measured.
        saved = json.loads(Path(args.timings).read_text())
        runs, pinning, seconds = saved["runs"], saved["pinning"], saved["seconds"]
        before, after = saved["machine_before"], saved["machine_after"]
        print(f"timings of {args.timings} judged again: {min(len(r['cpu']['base']) for r in runs)} or more rounds per run")
    else:
        client = docker.from_env()
        with tempfile.TemporaryDirectory(prefix="ohbench-noise-") as tmp:
            suite = Path(tmp)
            patches = calib.write_calibration_suite(suite, args.base_image)
            image = build_cached(
                client, suite / "repos" / "calib", suite / "Dockerfile", {"BASE_IMAGE": args.base_image},
                "ohbench-build/perf-calibration",
            ).name
        pinning = engine_pinning(client, args.cpuset)
        before = machine_facts()
        started = time.monotonic()
        runs = [one_run(client, image, patches["x1.3"], pinning["cpuset"], settings) for _ in range(args.runs)]
        seconds = time.monotonic() - started
        after = machine_facts()

    fast_min = min(v for run in runs for v in run[args.clock]["fast"])
    base_min = min(v for run in runs for v in run[args.clock]["base"])
    procedure = f"{settings.repeats}+{settings.extra_repeats}..{settings.max_repeats}"
    print(f"machine: {before['cpu_model']}, {before['cpus']} CPUs ({before['usable_cpus']} usable), "
          f"load {before['load_avg']} before, {after['load_avg']} after; {before['platform']}")
    print(f"pinning: {pinning}")
    print(f"how: {args.runs} runs, each 3 fresh containers (base, noop = base again, fast = a true 1.3x), "
          f"{settings.warmups} warm-up + {settings.repeats} interleaved rotating rounds, {settings.extra_repeats} more "
          f"while a verdict is not settled (up to {settings.max_repeats}), each run timed in its container "
          f"by the checker's timer; GSO verdicts, alpha {settings.alpha}, estimator {settings.estimator}; "
          f"{seconds:.0f} s in all")
    print(f"calibration ({args.clock} clock): base min {base_min * 1000:.1f} ms, fast min {fast_min * 1000:.1f} ms: "
          f"true speedup {base_min / fast_min:.3f}x (designed 1.3x)")
    header = ("clock", "rounds", "A/A p<alpha", "A/A judged faster", "1.3x detected", "identical pair >= 0.95", "mean rounds")
    print("  ".join(header))
    table: dict[str, dict[str, Any]] = {}
    rows = [(args.clock, None, procedure)] + [
        (clock, k, str(k)) for clock in (args.clock, "wall" if args.clock == "cpu" else "cpu") for k in (3, settings.repeats)
    ]
    for clock, k, label in rows:
        row = table[f"{clock} {label}"] = analyse(runs, clock, settings, k)
        n = row["runs"]
        cells = [f"{clock:<5}", f"{label:>6}"] + [
            f"{row[key]:>3}/{n} {row[key] / n:>6.1%}".rjust(len(title))
            for key, title in zip(("aa_guard_fp", "aa_gso_fp", "power_1.3x", "oracle_ok"), header[2:6], strict=True)
        ] + [f"{row['mean_rounds']:>11.1f}"]
        print("  ".join(cells))
    chosen = table[f"{args.clock} {procedure}"]
    n = chosen["runs"]
    fp = max(chosen["aa_guard_fp"], chosen["aa_gso_fp"])
    power = chosen["power_1.3x"] / n
    verdict = fp / n <= FP_TARGET and power >= POWER_TARGET
    print(f"{args.clock} clock, the checker's procedure ({procedure} rounds): A/A false-positive rate {fp}/{n} = "
          f"{fp / n:.1%} (95% upper bound {upper_bound(fp, n):.1%}; target <= {FP_TARGET:.0%}), 1.3x detected "
          f"{chosen['power_1.3x']}/{n} = {power:.1%} (target >= {POWER_TARGET:.0%}), identical pair passes the human bar "
          f"{chosen['oracle_ok']}/{n}: {'PASS' if verdict else 'FAIL'}")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps({
            "machine_before": before, "machine_after": after, "pinning": pinning, "args": vars(args),
            "runs": runs, "table": table, "seconds": round(seconds, 1),
        }, indent=1))
        print(f"timings: {args.output}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
