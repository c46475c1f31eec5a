"""Critical-path time of an oracle item on the bundled SWE suite: what the harness adds to the tests.

    .venv/bin/python benchmarks/oracle_overhead.py [--rounds 7] [--baseline-python OTHER/.venv/bin/python]

Each round runs `pytest suites/examples/swe --agent oracle` (serial: every item's time is on
the critical path) in a fresh report folder and reads results.jsonl: an item's time is
durations.total (setup to teardown, as pytest sees it), its tests' own time is
check.test_seconds (the test command in the container), and the overhead is the difference:
image lookup, container start, history strip, patch transfer and application, test patch,
report read, removal. With --baseline-python (the interpreter of another checkout's venv)
the same suite runs under it too, A/B interleaved round by round, so load drift hits both.
Prints medians over all items of all rounds; nothing is asserted. It also prints the CPU the
whole machine spent per item (/proc/stat over each run, divided by its items: pytest's
start-up and collection included): a serial run overlaps the next items' container starts
with each item's tests, so on a small machine the items share its CPUs with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cpu_meter import machine_cpu

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "suites" / "examples" / "swe"


def run_once(python: str, reports: Path, run_id: str, spent: list[float] | None = None) -> list[dict]:
    """One serial oracle run of the bundled suite; its records (the machine's CPU seconds per
    item appended to `spent`)."""
    # -P: the checkout the interpreter's venv has installed, not the one in the current directory.
    command = [python, "-P", "-m", "pytest", str(SUITE), "--agent", "oracle", "-p", "no:cacheprovider", "-q",
               "--ohbench-report-dir", str(reports), "--ohbench-run-id", run_id, "--ohbench-progress", "0"]
    before = machine_cpu()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    used = machine_cpu() - before
    results = reports / run_id / "results.jsonl"
    if not results.is_file():
        sys.exit(f"no results from {' '.join(command)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    records = [json.loads(line) for line in results.read_text().splitlines()]
    if spent is not None:
        spent.append(used / len(records))
    return records


def describe(name: str, records: list[dict], spent: list[float]) -> None:
    totals = [r["durations"]["total"] for r in records]
    tests = [r["check"].get("test_seconds") for r in records]
    known = [(total, test) for total, test in zip(totals, tests, strict=True) if test is not None]
    overheads = [total - test for total, test in known]
    print(f"  {name}: {len(records)} items, outcomes {sorted({r['outcome'] for r in records})}")
    print(f"    item time      median {statistics.median(totals):.3f} s  (min {min(totals):.3f}, max {max(totals):.3f})")
    if known:
        print(f"    tests' own     median {statistics.median(t for _, t in known):.3f} s")
        print(f"    overhead       median {statistics.median(overheads):.3f} s  (item time minus tests' own time)")
    else:
        print("    (this checkout does not record check.test_seconds: no overhead split)")
    stages: dict[str, list[float]] = {}
    for record in records:
        for stage, seconds in record["durations"].items():
            stages.setdefault(stage, []).append(seconds)
    print("    stages (median s): " + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in sorted(stages.items())))
    print(f"    machine CPU    median {statistics.median(spent):.3f} s per item (each run's whole machine CPU / its "
          f"items, start-up included; {os.cpu_count()} CPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline-python", default=None, help="interpreter of another checkout's venv (A/B)")
    args = parser.parse_args()
    pythons = {"this checkout": sys.executable}
    if args.baseline_python:
        pythons["baseline"] = args.baseline_python
    records: dict[str, list[dict]] = {name: [] for name in pythons}
    spent: dict[str, list[float]] = {name: [] for name in pythons}
    with tempfile.TemporaryDirectory(prefix="ohbench-oracle-bench-") as folder:
        for name, python in pythons.items():  # warm-up: images built, caches filled
            run_once(python, Path(folder), f"warm-{len(records[name])}-{name.replace(' ', '-')}")
        order = list(pythons)
        for round_number in range(args.rounds):
            for name in order if round_number % 2 == 0 else order[::-1]:
                records[name] += run_once(pythons[name], Path(folder), f"r{round_number}-{name.replace(' ', '-')}", spent[name])
    print(f"oracle items of {SUITE.relative_to(ROOT)}, serial, {args.rounds} rounds after a warm-up"
          + (", A/B interleaved (order alternating)" if len(pythons) > 1 else ""))
    for name in pythons:
        describe(name, records[name], spent[name])


if __name__ == "__main__":
    main()
