"""`python -m pytest_ohbench`: look at run folders offline, without running anything.

    python -m pytest_ohbench summary RUN                 the summary table (or --json)
    python -m pytest_ohbench compare BASE RUN --fail EXPR ...   the plugin's gate, offline
    python -m pytest_ohbench list [REPORTS]              run folders with their headline numbers
    python -m pytest_ohbench report RUN [--baseline BASE]   rebuild summary.json and report.html
    python -m pytest_ohbench regrade RUN [--skip-rule R]  every verdict again from the saved logs

RUN and BASE are a run folder, a run id under --reports (default `reports`) or `latest`.
Exit codes are pytest's, as the plugin's gate gives them: 0 all gates pass, 1 a gate failed
(regrade: an item's logs could not be read), 4 a usage error (bad gate expression, no such
run, unreadable results), each one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import SKIP_RULES
from pytest_ohbench.plugin.converters import gate_expression
from pytest_ohbench.report.compare import CompareResult, Gate, compare_runs, parse_gate, read_flaky_file, report_lines, resolve_baseline
from pytest_ohbench.report.page import REPORT_FILE, write_page
from pytest_ohbench.report.run_folder import LATEST_LINK, RESULTS_FILE, latest_records, load_records
from pytest_ohbench.report.run_info import differences, load_run_info
from pytest_ohbench.report.summary import format_table, load_summary, summarize, write_summary
from pytest_ohbench.tools.regrade import regrade_run, write_regraded
from pytest_ohbench.tools.regrade import report_lines as regrade_lines

OK, GATE_FAILED, USAGE_ERROR = 0, 1, 4  # pytest.ExitCode values, without importing pytest
COMPARE_FILE = "compare.json"


class UsageError(Exception):
    """A one-line problem with what was asked: exit 4."""


class Parser(argparse.ArgumentParser):
    """argparse, exiting with pytest's usage-error code (4) instead of 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _run(spec: str, reports: Path, what: str) -> tuple[Path, list[TaskRecord]]:
    """A run folder and its records (the newest per item); UsageError naming the problem."""
    try:
        folder = resolve_baseline(spec, reports, what)
        return folder, latest_records(load_records(folder))
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _flaky(files: Sequence[str]) -> list[str]:
    patterns: list[str] = []
    for name in files:
        try:
            patterns += read_flaky_file(Path(name))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--flaky {name}: cannot read it: {exc}") from None
    return patterns


def _wall(folder: Path) -> float | None:
    """The measured wall time of an earlier summary.json (None: estimate from time stamps)."""
    earlier = load_summary(folder)
    if earlier and earlier.get("wall_source") == "measured" and earlier.get("wall_seconds") is not None:
        return float(earlier["wall_seconds"])
    return None


def comparison(
    base: str, run: str, reports: Path, gates: Sequence[Gate], flaky: Sequence[str]
) -> tuple[CompareResult, list[str], Path, list[TaskRecord]]:
    """Compare two run folders as the plugin does: the result, the unlike settings, the run."""
    base_dir, base_records = _run(base, reports, "baseline run")
    run_dir, records = _run(run, reports, "run")
    result = compare_runs(base_records, records, gates, str(base_dir), flaky)
    base_info, info = load_run_info(base_dir), load_run_info(run_dir)
    unlike = differences(base_info, info) if base_info is not None and info is not None else []
    return result, unlike, run_dir, records


def cmd_summary(args: argparse.Namespace) -> int:
    folder, records = _run(args.run, args.reports, "run")
    summary = summarize(records, _wall(folder))
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print(f"{folder}:")
        print("\n".join(format_table(summary)))
    return OK


def cmd_compare(args: argparse.Namespace) -> int:
    result, unlike, _, _ = comparison(args.base, args.run, args.reports, args.fail, _flaky(args.flaky))
    if args.json:
        print(json.dumps({**result.to_dict(), "unlike_settings": unlike}, indent=2))
    else:
        for line, _markup in report_lines(result, unlike):
            print(line)
    return GATE_FAILED if result.failed else OK


def _stored_comparison(folder: Path) -> tuple[str, list[Gate], list[str]] | None:
    """The baseline, gates and flaky list of the run's compare.json, if it names a folder still there."""
    try:
        stored = json.loads((folder / COMPARE_FILE).read_text(encoding="utf-8"))
        base = str(stored["baseline"])
        gates = [parse_gate(g["gate"]) for g in stored.get("gates", [])]
        flaky = [str(p) for p in stored.get("flaky", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (base, gates, flaky) if Path(base).is_dir() else None


def cmd_report(args: argparse.Namespace) -> int:
    folder, records = _run(args.run, args.reports, "run")
    base, gates, flaky = args.baseline, list(args.fail), _flaky(args.flaky)
    if base is None and not args.fail and not args.flaky:
        base, gates, flaky = _stored_comparison(folder) or (None, [], [])
    result: CompareResult | None = None
    unlike: list[str] = []
    if base is not None:
        result, unlike, _, _ = comparison(base, str(folder), args.reports, gates, flaky)
        (folder / COMPARE_FILE).write_text(json.dumps({**result.to_dict(), "unlike_settings": unlike}, indent=2) + "\n", encoding="utf-8")
    summary = write_summary(folder, records, _wall(folder))
    page = write_page(
        folder, records, summary, title=f"ohbench run {folder.name}", comparison=result, unlike=unlike, info=load_run_info(folder)
    )
    print(f"wrote {folder / 'summary.json'} and {page}")
    if result is not None:
        for line, _markup in report_lines(result, unlike):
            print(line)
    return GATE_FAILED if result is not None and result.failed else OK


def cmd_regrade(args: argparse.Namespace) -> int:
    folder, records = _run(args.run, args.reports, "run")
    results = regrade_run(folder, records, args.skip_rule)
    if args.out is not None:
        try:
            write_regraded(folder, args.out, results, _wall(folder))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--out {args.out}: {exc}") from None
    if args.json:
        print(json.dumps({"run": str(folder), "skip_rule": args.skip_rule, "items": [r.to_dict() for r in results]}, indent=2))
    else:
        print("\n".join(regrade_lines(folder, results, args.skip_rule)))
        if args.out is not None:
            print(f"wrote the re-graded run to {args.out}")
    return GATE_FAILED if any(r.problem for r in results) else OK


def _headline(folder: Path) -> dict[str, Any]:
    """A run folder's numbers: summary.json when it is newer than results.jsonl, else summarized now."""
    summary = load_summary(folder)
    results = folder / RESULTS_FILE
    if summary is None or (folder / "summary.json").stat().st_mtime < results.stat().st_mtime:
        summary = summarize(load_records(folder), _wall(folder))
    return summary


def cmd_list(args: argparse.Namespace) -> int:
    reports = Path(args.reports_dir)
    if not reports.is_dir():
        raise UsageError(f"{reports}: no such folder of run folders")
    latest = (reports / LATEST_LINK).resolve() if (reports / LATEST_LINK).is_dir() else None
    rows = [("run", "agent", "models", "items", "resolved", "rate", "cost $", "wall", "report")]
    for folder in sorted(p for p in reports.iterdir() if p.is_dir() and not p.is_symlink() and (p / RESULTS_FILE).is_file()):
        try:
            summary = _headline(folder)
        except (OSError, ValueError) as exc:
            print(f"{folder.name}: unreadable: {exc}", file=sys.stderr)
            continue
        groups, totals = summary["groups"], summary["totals"]
        wall = summary.get("wall_seconds")
        rows.append((
            folder.name + (" *" if folder.resolve() == latest else ""),
            ",".join(sorted({g["agent"] or "-" for g in groups})) or "-",
            ",".join(sorted({g["model"] for g in groups})) or "-",
            str(totals["items"]),
            f"{totals['resolved_instances']}/{totals['instances']}",
            f"{100 * totals['resolved_rate']:.1f}%",
            f"{totals['cost_usd']:.4f}",
            "-" if wall is None else f"{wall:.1f}s",
            REPORT_FILE if (folder / REPORT_FILE).is_file() else "-",
        ))
    if len(rows) == 1:
        print(f"no run folders in {reports}")
        return OK
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if latest is not None:
        print(f"* {LATEST_LINK}")
    return OK


def build_parser() -> Parser:
    parser = Parser(prog="python -m pytest_ohbench", description="Look at pytest-ohbench run folders without running anything.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def add(name: str, help_text: str) -> Parser:
        sub: Parser = commands.add_parser(name, help=help_text, description=help_text)
        return sub

    def reports_option(sub: Parser) -> None:
        sub.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR",
                         help="folder of run folders that run ids and 'latest' refer to (default: reports)")

    def gate_options(sub: Parser) -> None:
        sub.add_argument("--fail", action="append", default=[], type=gate_expression, metavar="EXPR",
                         help="a gate, as --ohbench-compare-fail: resolved_rate:-2%%, resolved_rate:significant, cost:+10%%, instance ...")
        sub.add_argument("--flaky", action="append", default=[], metavar="FILE",
                         help="instances the `instance` gate ignores: ids or patterns, one a line (as --ohbench-flaky)")

    summary = add("summary", "Print a run's summary table, computed from its results.jsonl.")
    summary.add_argument("run", metavar="RUN")
    summary.add_argument("--json", action="store_true", help="print summary.json instead")
    reports_option(summary)
    summary.set_defaults(func=cmd_summary)

    compare = add("compare", "Compare RUN with BASE and apply the gates; exit 1 when one fails, as the plugin does.")
    compare.add_argument("base", metavar="BASE")
    compare.add_argument("run", metavar="RUN")
    gate_options(compare)
    compare.add_argument("--json", action="store_true", help="print the comparison as compare.json instead")
    reports_option(compare)
    compare.set_defaults(func=cmd_compare)

    listing = add("list", "List the run folders with their headline numbers.")
    listing.add_argument("reports_dir", nargs="?", default="reports", metavar="REPORTS")
    listing.set_defaults(func=cmd_list)

    report = add("report", "Rebuild summary.json and report.html of a run folder (with its comparison).")
    report.add_argument("run", metavar="RUN")
    report.add_argument("--baseline", metavar="BASE",
                        help="add the comparison with this run (default: the one in compare.json, if its folder is still there)")
    gate_options(report)
    reports_option(report)
    report.set_defaults(func=cmd_report)

    regrade = add("regrade", "Judge every item again from its saved test logs and reports (no Docker); list the changed verdicts.")
    regrade.add_argument("run", metavar="RUN")
    regrade.add_argument("--skip-rule", choices=SKIP_RULES, default=None,
                         help="grade with this skip rule, as --ohbench-skip-rule (default: the one each item was graded with)")
    regrade.add_argument("--out", type=Path, metavar="DIR",
                         help="write the re-graded results as a new run folder (results.jsonl, summary.json, run.json) for compare/report")
    regrade.add_argument("--json", action="store_true", help="print each item's verdict before and after as JSON")
    reports_option(regrade)
    regrade.set_defaults(func=cmd_regrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
