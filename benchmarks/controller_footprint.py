"""A large oracle run: the controller's memory and the report page's load time.

    .venv/bin/python benchmarks/controller_footprint.py [--items 1000] [--workers 2] [--loads 5]

Items: copies of the bundled ohbench__textkit-2 instance (llm_throughput.make_suite: one
image, built once by a 2-item warm-up run), run by `--agent oracle` in one
`pytest -n WORKERS` subprocess, so every item goes through the whole pipeline (its check
container, the tests, the record, the reports). The footprint plugin (footprint_plugin.py)
reads each process's peak resident memory (VmHWM) from the kernel at session end: the
controller's is the figure the target is about (< 150 MiB), the workers' are shown beside
it. Then the run's own report.html is opened `--loads` times in headless Chromium (a fresh
navigation each time, until the load event, and the page's own loadEventEnd); medians with
min and max are printed (target: < 2 s). Nothing is compared, so no A/B interleaving.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llm_throughput import ROOT, make_suite
from report_page import figures, load_page

from pytest_ohbench.tools.testing.browser import Browser, BrowserError

CONTROLLER_TARGET_MIB = 150
LOAD_TARGET_S = 2.0


def oracle_run(suite: Path, workers: int, reports: Path, run_id: str, footprint: Path) -> tuple[float, subprocess.CompletedProcess]:
    """One `pytest -n workers --agent oracle` run of `suite`: its wall seconds and the process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks"), "OHBENCH_FOOTPRINT": str(footprint)}
    command = [sys.executable, "-m", "pytest", str(suite), "--agent", "oracle", "-n", str(workers), "-p", "footprint_plugin",
               "-p", "no:cacheprovider", "-q", "--ohbench-report-dir", str(reports), "--ohbench-run-id", run_id,
               "--ohbench-progress", "0"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=suite.parent, env=env, capture_output=True, text=True)
    return time.monotonic() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loads", type=int, default=5, help="times the report page is opened")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ohbench-controller-") as name:
        folder = Path(name)
        warm, _ = make_suite(folder, 2)
        reports, footprint = folder / "reports", folder / "footprint.jsonl"
        oracle_run(warm, 1, reports, "warm-up", folder / "warm.jsonl")  # builds the image once
        suite, _ = make_suite(folder, args.items)
        wall, done = oracle_run(suite, args.workers, reports, "big", footprint)
        run = reports / "big"
        results = run / "results.jsonl"
        if not results.is_file():
            print(f"no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}", file=sys.stderr)
            return 1
        records = [json.loads(line) for line in results.read_text().splitlines()]
        lines = {line["process"]: line for line in map(json.loads, footprint.read_text().splitlines())}
        page = run / "report.html"
        loads, navigation = [], []
        try:
            with Browser() as browser:
                for _ in range(args.loads):
                    load, load_event_end = load_page(browser, page)
                    loads.append(load)
                    navigation.append(load_event_end)
        except BrowserError as exc:
            print(f"controller_footprint: {exc}", file=sys.stderr)
            return 1
        outcomes = sorted({r["outcome"] for r in records})
        size = page.stat().st_size
    controller = lines["controller"]["peak_rss_mib"]
    print(f"{args.items} copies of ohbench__textkit-2, --agent oracle, -n {args.workers}, {os.cpu_count()} CPUs: "
          f"{len(records)} records, outcomes {outcomes}, wall {wall:.0f} s ({wall / args.items:.2f} s per item)")
    print(f"  controller peak resident (VmHWM)  {controller:7.1f} MiB   target < {CONTROLLER_TARGET_MIB} MiB: "
          f"{'met' if controller < CONTROLLER_TARGET_MIB else 'NOT met'}")
    for process, line in sorted(lines.items()):
        if process != "controller":
            print(f"  {process + ' peak resident':33s} {line['peak_rss_mib']:7.1f} MiB   total {line['total_cpu_s']:.1f} CPU-s")
    print(f"report.html: {size / 1024:.0f} KiB")
    print(f"  load (navigate -> load event)  {figures(loads, 'ms', 1000)}")
    print(f"  load (loadEventEnd)            {figures(navigation, 'ms', 1000)}   target < "
          f"{LOAD_TARGET_S * 1000:.0f} ms: {'met' if statistics.median(loads) < LOAD_TARGET_S else 'NOT met'}")
    print("measured: peak resident memory from the kernel (VmHWM) at each process's session end; page loads in headless "
          "Chromium over the DevTools protocol, a fresh navigation each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
