"""Throughput on LLM-latency-bound items with -n 1, 2, 4, 8, and each process's footprint.

    .venv/bin/python benchmarks/llm_throughput.py [--items 64 16] [--workers 1 2 4 8] [--latency 1.0]

Items: copies of the bundled ohbench__textkit-2 instance (one image, built once). The agent
is `mini` against the scripted LLM server on 127.0.0.1, which waits `--latency` seconds
before each answer: first the fix (written to patch.txt and applied), then the submission
(`cat patch.txt`); the patch is then graded in its own container, so every item goes
through the whole pipeline (agent container, check container, tests). Every run is one
`pytest -n N` subprocess, timed from start to exit (start-up included). Each (items, N)
pair runs --repeat times, all pairs interleaved round by round; medians are printed, with
throughput relative to -n 1. The footprint plugin (footprint_plugin.py) reports each
process's CPU seconds and resident memory at the end of collection (the fixed start-up)
and its peak, from the kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpu_meter import cpu_now, cpu_spent

from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "suites" / "examples" / "swe"
INSTANCE = "ohbench__textkit-2"
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"


def make_suite(folder: Path, items: int) -> tuple[Path, str]:
    """A suite of `items` copies of INSTANCE; returns its folder and the gold patch."""
    suite = folder / f"suite{items}"
    shutil.copytree(EXAMPLES, suite, ignore=shutil.ignore_patterns("__pycache__", "*.jsonl"))
    rows = [json.loads(line) for line in (EXAMPLES / "swe-bench.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["instance_id"] == INSTANCE)
    with (suite / "swe-bench.jsonl").open("w") as out:
        for index in range(items):
            out.write(json.dumps({**row, "instance_id": f"{INSTANCE}-copy{index:03d}"}) + "\n")
    text = (suite / "suite.yaml").read_text()
    (suite / "suite.yaml").write_text(text.replace(', "multi-swe-bench.jsonl"', ""))
    return suite, row["patch"]


def script(patch: str, latency: float) -> dict:
    fix = f"cat > patch.txt <<'OHBENCH_EOF'\n{patch}OHBENCH_EOF\ngit apply patch.txt"
    call = lambda command, tokens: {  # noqa: E731
        "content": "ok", "tool_calls": [{"name": "bash", "arguments": {"command": command}}],
        "usage": {"prompt_tokens": tokens, "completion_tokens": 20}, "latency": latency,
    }
    return {"scripts": [{"responses": [call(fix, 1000), call(SUBMIT, 1200)]}]}


def run(
    suite: Path, workers: int, config: Path, footprint: Path, reports: Path
) -> tuple[float, list[dict], list[dict], dict[str, float]]:
    """One `pytest -n workers` run: wall seconds, records, footprint lines, CPU seconds by where."""
    footprint.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks"), "OHBENCH_FOOTPRINT": str(footprint)}
    run_id = f"n{workers}-{suite.name}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "pytest", str(suite), "--agent", "mini", "--llm-config", "bench", "--ohbench-config",
               str(config), "-n", str(workers), "-p", "footprint_plugin", "-p", "no:cacheprovider", "-q",
               "--ohbench-report-dir", str(reports), "--ohbench-run-id", run_id, "--ohbench-progress", "0"]
    started, before = time.monotonic(), cpu_now()
    done = subprocess.run(command, cwd=suite.parent, env=env, capture_output=True, text=True)
    wall, spent = time.monotonic() - started, cpu_spent(before, cpu_now())
    results = reports / run_id / "results.jsonl"
    if not results.is_file():
        sys.exit(f"no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    records = [json.loads(line) for line in results.read_text().splitlines()]
    lines = [json.loads(line) for line in footprint.read_text().splitlines()] if footprint.is_file() else []
    return wall, records, lines, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the server waits before each answer")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ohbench-throughput-") as name:
        folder = Path(name)
        suites = {items: make_suite(folder, items) for items in args.items}
        patch = next(iter(suites.values()))[1]
        with ScriptedLLMServer(script(patch, args.latency)) as server:
            config = folder / "config.toml"
            config.write_text(f'[llm.bench]\nmodel = "openai/scripted"\napi_key = "sk-bench"\nbase_url = "{server.base_url}"\n'
                              "input_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n")
            reports = folder / "reports"
            warm_suite = suites[min(args.items)][0]
            run(warm_suite, 1, config, folder / "fp.jsonl", reports)  # builds the image once
            walls: dict[tuple[int, int], list[float]] = {}
            prints: dict[tuple[int, int], list[dict]] = {}
            cpu: dict[tuple[int, int], list[dict[str, float]]] = {}
            outcomes: dict[tuple[int, int], set[str]] = {}
            pairs = [(items, workers) for items in args.items for workers in args.workers]
            for round_number in range(args.repeat):
                for pair in pairs if round_number % 2 == 0 else pairs[::-1]:
                    wall, records, lines, spent = run(suites[pair[0]][0], pair[1], config, folder / "fp.jsonl", reports)
                    walls.setdefault(pair, []).append(wall)
                    cpu.setdefault(pair, []).append(spent)
                    prints[pair] = lines
                    outcomes.setdefault(pair, set()).update(r["outcome"] for r in records)
                    if len(records) != pair[0]:
                        sys.exit(f"{pair}: {len(records)} records for {pair[0]} items")
    print(f"mini agent, scripted LLM on 127.0.0.1 answering after {args.latency:g} s (2 calls per item), "
          f"copies of {INSTANCE} graded in their own container; {os.cpu_count()} CPUs; "
          f"wall time of each whole `pytest -n N` run (start-up included), median of {args.repeat}, runs interleaved")
    for items in args.items:
        base = statistics.median(walls[(items, args.workers[0])])
        for workers in args.workers:
            wall = statistics.median(walls[(items, workers)])
            print(f"  {items:3d} items  -n {workers}: {wall:7.1f} s  {items / wall:5.2f} items/s  "
                  f"{base / wall:4.1f}x -n {args.workers[0]}  outcomes {sorted(outcomes[(items, workers)])}")
    print("CPU seconds per item, by where (median over the runs; machine = all CPUs busy, kernel figures)")
    for (items, workers), spents in sorted(cpu.items()):
        keys = [k for k in ("machine", "containers", "daemons", "pytest", "rest") if all(k in s for s in spents)]
        print(f"  {items:3d} items -n {workers}: " + "  ".join(
            f"{key} {statistics.median(s[key] for s in spents) / items:5.2f}" for key in keys))
    cpus = os.cpu_count() or 1
    print(f"the most this machine allows ({cpus} CPUs busy all the time, each item costing the machine CPU it cost at "
          f"-n {args.workers[0]}): items/s <= {cpus} / CPU-s per item")
    for items in args.items:
        serial = (items, args.workers[0])
        per_item = statistics.median(s["machine"] for s in cpu[serial]) / items
        bound = cpus / per_item
        rate = items / statistics.median(walls[serial])
        print(f"  {items:3d} items: {per_item:.2f} machine CPU-s per item -> at most {bound:.2f} items/s, "
              f"{bound / rate:.1f}x -n {args.workers[0]} with no start-up and no contention")
        # The bound is CPU's; -n 1 is latency-bound far below it, so only the wide runs can reach it.
        reached = "  ".join(f"-n {workers} {items / statistics.median(walls[(items, workers)]) / bound:4.0%}"
                            for workers in args.workers)
        print(f"  {items:3d} items: reached fraction of that bound: {reached} (target >= 90% at -n 8)")
    print("footprint per process (kernel figures: CPU s and resident MiB at end of collection = fixed start-up; peak = VmHWM)")
    for (items, workers), lines in sorted(prints.items()):
        for line in sorted(lines, key=lambda x: x["process"]):
            # Under xdist the controller does not collect: it has no start-up figure of its own.
            startup = (f"start-up {line['startup_cpu_s']:5.2f} CPU-s {line['startup_rss_mib']:6.1f} MiB"
                       if "startup_cpu_s" in line else f"{'start-up n/a (no collection)':33s}")
            print(f"  {items:3d} items -n {workers} {line['process']:10s} {startup}   peak {line['peak_rss_mib']:6.1f} MiB   "
                  f"total {line['total_cpu_s']:6.2f} CPU-s")


if __name__ == "__main__":
    main()
