"""The controller's end of a run: results.jsonl, progress, summary, report page, exports,
the gate, the sweep.

Registered only on the controller (the serial process, or xdist's master), which sees
every item's teardown report with its record.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.agents.openhands.settings import eval_settings
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import load_suite
from pytest_ohbench.plugin.remote import LOGS_ATTRIBUTE, REMOTE_PLUGIN, unpack_logs
from pytest_ohbench.plugin.state import run_state
from pytest_ohbench.report.compare import CompareResult, Gate, compare_runs, report_lines
from pytest_ohbench.report.crashes import crash_record
from pytest_ohbench.report.exports import write_exports
from pytest_ohbench.report.html import HtmlReport
from pytest_ohbench.report.page import write_page
from pytest_ohbench.report.progress import Progress
from pytest_ohbench.report.run_folder import latest_records, load_records
from pytest_ohbench.report.run_info import differences, run_info, write_run_info
from pytest_ohbench.report.summary import format_table, load_summary, write_summary
from pytest_ohbench.runtime.provider import runtime_named


@dataclasses.dataclass
class Baseline:
    """A run to compare against (--ohbench-compare), loaded before this run starts."""

    path: Path
    records: list[TaskRecord]
    gates: list[Gate]
    info: dict[str, Any] | None = None  # its run.json (None for runs made before run.json)


class RunController:
    """Writes results as items finish; summarizes, exports and gates when the loop ends."""

    def __init__(self, config: pytest.Config, baseline: Baseline | None = None) -> None:
        self.config = config
        self.state = run_state(config)
        self.baseline = baseline
        self.written = 0
        self.summary: dict[str, Any] | None = None
        self.comparison: CompareResult | None = None
        self.unlike: list[str] = []  # settings in which the baseline run differs from this one
        self.records: dict[str, TaskRecord] = {}  # this session's, by node id (the HTML rows)
        self.announced: dict[str, str] = {}  # node id -> the location's domain its worker sent at logstart
        self.final_records: list[TaskRecord] = []  # the whole run folder's, after the loop
        every = self.state.settings.progress
        # Only benchmark runs (an agent chosen) report progress, not a plain test session.
        quiet = self.state.agent is None or (every is None and config.get_verbosity() < 0)
        self.progress = Progress(0 if quiet else every)
        self.started = time.monotonic()  # reset when the test loop starts
        # A resumed run's wall time adds up its sessions: read the earlier ones' before rewriting.
        earlier = load_summary(self.state.folder.path) if self.state.settings.resume is not None else None
        self.earlier_wall = float(earlier.get("wall_seconds") or 0.0) if earlier and earlier.get("wall_source") == "measured" else 0.0
        if config.pluginmanager.hasplugin("html") and getattr(config.option, "htmlpath", None):
            # The user asked for pytest-html's page too (--html): give it the ohbench columns.
            html = HtmlReport(self.state.run_id, self.records, self.state.rootpath, lambda: self.final_records)
            config.pluginmanager.register(html, "ohbench-html")

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.announced[nodeid] = location[2]

    @pytest.hookimpl(tryfirst=True)  # before pytest-html builds the item's rows
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Append each finished item's record right away (xdist forwards worker reports)."""
        record = getattr(report, "ohbench_record", None)
        if report.outcome == "rerun":  # xdist's report of a crashed item put back in the queue (plugin/remote.py)
            return
        if report.when == "???" and report.nodeid not in self.records:
            # xdist's report for an item whose worker died: it must still be counted.
            crashed = crash_record(
                report.nodeid,
                self.announced.get(report.nodeid),
                self.state.run_id,
                list(self.state.settings.agent_names),
                list(self.state.llms),
                self.state.rootpath,
                f"worker crashed: {report.longreprtext.strip().splitlines()[0] if report.longreprtext.strip() else ''}",
            )
            record = crashed.to_dict()
        elif report.when != "teardown" or record is None:
            return
        record = self.from_remote(report, record)
        if not self.written:  # the first result makes the run folder the `latest` one
            self.state.folder.create(self.state.controller)
        self.state.folder.append(record)
        self.records[report.nodeid] = TaskRecord.from_dict(record)
        self.written += 1
        self.show_progress(record)

    def from_remote(self, report: pytest.TestReport, record: dict[str, Any]) -> dict[str, Any]:
        """The record as this run folder keeps it: a remote worker's logs unpacked into it, and the
        crashes of workers that ran the item before in its retry_history."""
        logs = getattr(report, LOGS_ATTRIBUTE, None)
        if logs and record.get("log_dir"):
            folder = self.state.folder.log_dir(Path(record["log_dir"]).name)
            unpack_logs(logs, folder)
            record = {**record, "log_dir": self.state.relative(folder.resolve())}
        remote = self.config.pluginmanager.get_plugin(REMOTE_PLUGIN)
        crashes = remote.earlier_crashes(report.nodeid) if remote is not None else []
        if crashes:
            history = crashes + list(record.get("retry_history") or [])
            record = {**record, "retry_history": history, "retries": len(history)}
        return record

    def show_progress(self, record: dict[str, Any]) -> None:
        """Count a finished item; print the progress line when one is due."""
        line = self.progress.finished(bool(record.get("resolved")), float(record.get("cost_usd") or 0.0))
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if line and reporter is not None:
            # Under xdist the result letters do not mark the line as started: end it here.
            started_line: int = getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0)
            if reporter.currentfspath is None and started_line:
                reporter.write("\n")
            reporter.write_line(line)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The total for the progress line (a serial run collects here)."""
        self.progress.total = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The total under xdist: every worker collects the same items; the first one tells."""
        if not self.progress.total:
            self.progress.total = len(ids)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, Any, Any]:
        """After the loop, even an interrupted one: one line per item, summary.json, exports,
        report.html, the gate."""
        self.started = self.progress.started = self.progress.last_line_at = time.monotonic()
        try:
            result = yield
        except BaseException:  # Ctrl-C or SIGTERM: what finished still gets its summary and exports
            self.finish(session, gate=False)
            raise
        self.finish(session, gate=True)
        return result

    def finish(self, session: pytest.Session, gate: bool) -> None:
        """Write the run's files from results.jsonl; with `gate`, compare and count a failing gate."""
        wall = self.earlier_wall + time.monotonic() - self.started
        folder = self.state.folder.path
        if self.state.folder.results_path.is_file() and (self.written or self.state.resumed):
            records = self.final_records = latest_records(load_records(folder))
            self.state.folder.rewrite(r.to_dict() for r in records)
            self.summary = write_summary(folder, records, wall)
            write_exports(folder, records, self.state.rootpath, eval_settings(self.state.settings, self.state.llms))
            info = self.run_info(records)
            write_run_info(folder, info)
            if self.baseline is not None and self.baseline.info is not None:
                self.unlike = differences(self.baseline.info, info)
            if self.baseline is not None and gate:
                self.comparison = compare_runs(
                    self.baseline.records, records, self.baseline.gates, str(self.baseline.path), self.state.settings.flaky
                )
                write_compare(folder, self.comparison, self.unlike)
                if self.comparison.failed:
                    # Like pytest-cov's fail-under: a failure counted after the loop, so
                    # pytest exits 1 without a traceback.
                    session.testsfailed += 1
            write_page(
                folder, records, self.summary, title=f"ohbench run {self.state.run_id}", comparison=self.comparison,
                unlike=self.unlike, info=info, root=self.state.rootpath,
            )

    def run_info(self, records: list[TaskRecord]) -> dict[str, Any]:
        """This run's run.json, from its settings and the records (under xdist only workers collect)."""
        datasets = {self.state.rootpath / record.dataset for record in records if record.dataset}
        timeouts: dict[str, dict[str, float]] = {}
        environments: dict[str, dict[str, str]] = {}
        for dataset in datasets:
            suite = load_suite(dataset.parent) if dataset.is_file() else None
            if suite is not None:
                timeouts[suite.name] = dataclasses.asdict(suite.timeouts)
                environments[suite.name] = suite.container.environment
        engines = runtime_named(self.state.settings.runtime).facts(self.state.runtime_settings())
        return run_info(self.state.settings, self.state.llms, datasets, timeouts, records, self.state.rootpath, environments, engines)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Remove any container this session still has labeled with its run (crashes, Ctrl-C, killed workers)."""
        if self.written:
            self.state.folder.release()
        # Under xdist only workers collect: the results written tell that tasks ran.
        if not (self.written or self.state.tasks_collected) or session.config.option.collectonly:
            return
        runtime_named(self.state.settings.runtime).finish_session(self.state.runtime_settings())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.summary is not None:
            terminalreporter.write_sep("-", "ohbench summary")
            for line in format_table(self.summary):
                terminalreporter.write_line(line)
        if self.comparison is not None or self.unlike:
            for line, markup in report_lines(self.comparison, self.unlike):
                terminalreporter.write_line(line, red=markup == "fail", yellow=markup == "warning")
        if self.written:
            path = self.state.shown(self.state.folder.path)
            terminalreporter.write_sep("-", f"ohbench: {self.written} results in {path}/results.jsonl")
            if self.summary is not None:
                terminalreporter.write_line(f"ohbench: report {path}/report.html")


def write_compare(folder: Path, comparison: CompareResult, unlike: list[str]) -> None:
    """compare.json: the gates' verdicts, the flips, and the settings the runs differ in."""
    document = {**comparison.to_dict(), "unlike_settings": unlike}
    (folder / "compare.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
