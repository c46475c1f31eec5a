"""pytest hooks and options for pytest-ohbench (thin wiring; the logic lives elsewhere)."""

from __future__ import annotations

import json
import signal
import threading
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

from pytest_ohbench.agents.base import AgentConfigError, agent_names, load_agent
from pytest_ohbench.agents.replay import PredictionsError, load_predictions, prediction_warnings
from pytest_ohbench.core.errors import HarnessError, TaskFailed
from pytest_ohbench.core.failures import llm_class, retried
from pytest_ohbench.core.llm import redact
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import utc_now
from pytest_ohbench.core.suite import memory_bytes
from pytest_ohbench.plugin import collect_folders, fixtures
from pytest_ohbench.plugin import gateway as gateway_plugin
from pytest_ohbench.plugin.collect import (
    BrokenSuiteFile,
    DatasetFile,
    InvalidRow,
    OhbenchWarning,
    TaskItem,
    broken_suite_file,
    inside_suite,
    is_dataset,
    name_log_folders,
    warns_here,
)
from pytest_ohbench.plugin.controller import RunController
from pytest_ohbench.plugin.lifecycle import COMING_ITEMS, RECORD_KEY, TimeoutWatch, coming_items, record_for, stopped_by_timeout
from pytest_ohbench.plugin.options import add_options
from pytest_ohbench.plugin.remote import LOGS_ATTRIBUTE, REMOTE_PLUGIN, RemoteNodes, is_remote, pack_logs, worker_sections
from pytest_ohbench.plugin.retries import earlier_try, next_settings
from pytest_ohbench.plugin.session_setup import (
    load_baseline,
    load_llm_sections,
    output_limit_warnings,
    preflight,
    preflight_file,
    prepare_installed,
    prepare_openhands,
    prepare_runtime,
    resume_target,
)
from pytest_ohbench.plugin.settings import build_settings
from pytest_ohbench.plugin.state import STATE_KEY, RunState, run_state, shown_text
from pytest_ohbench.report.run_folder import RunFolder, new_run_id
from pytest_ohbench.runtime.provider import controller_id, engine_for_worker

WORKER_RUN_ID = "ohbench_run_id"
WORKER_CONTROLLER = "ohbench_controller"
WORKER_DOCKER_HOST = "ohbench_docker_host"
PREVIOUS_SIGTERM = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Every option and ini key, from the one table (plugin/options.py)."""
    add_options(parser)


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM ends a run as Ctrl-C does: fixtures tear down, finished results are summarized."""
    raise KeyboardInterrupt(f"stopped by signal {signum}")


@pytest.hookimpl(tryfirst=True)  # before pytest-html reads --html
def pytest_configure(config: pytest.Config) -> None:
    try:
        configure(config)
    except pytest.UsageError as exc:  # the paths it names, as they open from where pytest ran
        raise pytest.UsageError(shown_text(str(exc), Path(config.invocation_params.dir))) from None


def configure(config: pytest.Config) -> None:
    """The session's state, settings and plugins (a bad setting is a UsageError)."""
    if threading.current_thread() is threading.main_thread():
        config.stash[PREVIOUS_SIGTERM] = signal.signal(signal.SIGTERM, _interrupt)
    config.pluginmanager.register(fixtures, "ohbench-fixtures")
    config.pluginmanager.register(TimeoutWatch(), "ohbench-timeout-watch")
    settings = build_settings(config)
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    run_id = (workerinput or {}).get(WORKER_RUN_ID) or settings.run_id or new_run_id()
    reports, run_id, resumed = resume_target(settings, settings.report_dir, run_id)
    folder = RunFolder(reports, run_id)
    # A worker on another host gets the sections from the controller, without keys (plugin/remote.py).
    remote = is_remote(workerinput, folder.path)
    sections = worker_sections(workerinput or {}) if remote else None
    config.stash[STATE_KEY] = RunState(
        settings=settings,
        run_id=run_id,
        folder=folder,
        remote=remote,
        is_controller=workerinput is None,
        rootpath=config.rootpath,
        invocation_dir=Path(config.invocation_params.dir),
        controller=(workerinput or {}).get(WORKER_CONTROLLER) or controller_id(),
        llms=sections if sections is not None else load_llm_sections(settings),
        resumed=resumed,
        # A worker is bound to the engine the controller gave it; a serial run uses the first.
        docker_host=(workerinput or {}).get(WORKER_DOCKER_HOST) if workerinput else (settings.docker_hosts or (None,))[0],
    )
    for name in settings.agent_names:
        check_agent(name, settings.agent)
    config.pluginmanager.register(gateway_plugin, "ohbench-gateway")
    gateway_plugin.configure_gateway(config)
    config.pluginmanager.register(BadRowTolerance(), "ohbench-bad-rows")
    if workerinput is None:
        config.pluginmanager.register(RunController(config, load_baseline(settings, reports)), "ohbench-controller")
        state = config.stash[STATE_KEY]
        config.pluginmanager.register(RemoteNodes(config, folder.path, state.llms, settings.retries), REMOTE_PLUGIN)
    if workerinput is None:
        for warning in output_limit_warnings(config.stash[STATE_KEY].llms):
            config.issue_config_time_warning(pytest.PytestConfigWarning(warning), stacklevel=2)
    for name in settings.agent_names:
        if workerinput is not None or config.option.collectonly:
            continue
        if name in ("openhands", "openhands-sdk"):
            prepare_openhands(settings.agent, config.stash[STATE_KEY].runtime_provider(), sdk=name == "openhands-sdk")
        else:
            prepare_installed(name, settings.agent, config.stash[STATE_KEY].runtime_provider())


def check_agent(name: str, settings: Any) -> None:
    """An unknown agent, or one whose settings cannot work, is a usage error before any task."""
    if name not in agent_names():
        raise pytest.UsageError(f"--agent: unknown agent {name!r} (available: {', '.join(agent_names())})")
    try:
        load_agent(name)(settings)
    except AgentConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if name == "replay":
        try:
            load_predictions(settings.predictions)
        except PredictionsError as exc:
            raise pytest.UsageError(f"--ohbench-predictions: {exc}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    if PREVIOUS_SIGTERM in config.stash and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, config.stash[PREVIOUS_SIGTERM])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand the run id to every worker."""
    node.workerinput[WORKER_RUN_ID] = run_state(node.config).run_id
    node.workerinput[WORKER_CONTROLLER] = run_state(node.config).controller
    hosts = run_state(node.config).settings.docker_hosts
    node.workerinput[WORKER_DOCKER_HOST] = engine_for_worker(hosts, str(node.workerinput.get("workerid", "")))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Inside a suite folder only the datasets are items: never the task repos' own tests."""
    folder_verdict = collect_folders.ignore(config, collection_path)
    if folder_verdict is not None:  # prompt folders, GitTaskBench roots, Harbor tasks
        return folder_verdict
    if broken_suite_file(config, collection_path):
        return False
    if inside_suite(config, collection_path) and not is_dataset(config, collection_path):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest's own Dir and Package
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A folder shaped as a Harbor task but incomplete: one error, and nothing in it is collected."""
    return collect_folders.broken_folder(parent, path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_dataset(parent.config, file_path):
        return DatasetFile.from_parent(parent, path=file_path)
    if broken_suite_file(parent.config, file_path):
        return BrokenSuiteFile.from_parent(parent, path=file_path)
    return collect_folders.collector(parent, file_path)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--ohbench-resume keeps judged items; --ohbench-skip-ids drops ids; --ohbench-limit N keeps the first N left."""
    name_log_folders(items)  # before --ohbench-resume drops judged items: a resumed run names them alike
    resumed = run_state(config).resumed
    if resumed:
        done = [item for item in items if item.nodeid in resumed]
        config.hook.pytest_deselected(items=done)
        items[:] = [item for item in items if item.nodeid not in resumed]
    skip = run_state(config).settings.skip_ids
    if skip:
        skipped = [item for item in items if isinstance(item, TaskItem) and item.ohbench_task.instance_id in skip]
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if not (isinstance(item, TaskItem) and item.ohbench_task.instance_id in skip)]
    limit = run_state(config).settings.limit
    tasks = [item for item in items if isinstance(item, TaskItem)]
    if limit is not None and len(tasks) > limit:
        dropped = {id(item) for item in tasks[limit:]}
        config.hook.pytest_deselected(items=[item for item in items if id(item) in dropped])
        items[:] = [item for item in items if id(item) not in dropped]
    run_state(config).tasks_collected = sum(isinstance(item, TaskItem) for item in items)
    predictions = run_state(config).settings.agent.predictions
    if "replay" in run_state(config).settings.agent_names and predictions is not None and warns_here(config):
        ids = [item.ohbench_task.instance_id for item in items if isinstance(item, TaskItem)]
        state = run_state(config)  # the file as it opens from where pytest ran
        for message in prediction_warnings(predictions, ids):
            warnings.warn_explicit(OhbenchWarning(state.shown_text(message)), None, state.shown(predictions), 0)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """Mark the reports of bad dataset rows and unreadable datasets (the mark crosses xdist with the report)."""
    report = yield
    if isinstance(collector, InvalidRow) or getattr(collector, "ohbench_unreadable", False):
        report.ohbench_invalid_row = True
    return report


class BadRowTolerance:
    """Bad dataset rows are collection errors that do not stop the good rows from running.

    pytest interrupts a session with collection errors; when every one of them is a bad
    row or an unreadable dataset (already reported with file and line), the run goes on
    and still exits non-zero.
    """

    def __init__(self) -> None:
        self.bad_rows = 0

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and getattr(report, "ohbench_invalid_row", False):
            self.bad_rows += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.bad_rows and session.testsfailed == self.bad_rows:
            session.config.option.continue_on_collection_errors = True


NO_AGENT = (
    "no agent chosen: pass --llm-config SECTION to run OpenHands with that model, "
    "or --agent NAME (e.g. oracle, noop, replay)"
)


@pytest.hookimpl(tryfirst=True)  # a worker's finding is written before xdist tells the controller it collected
def pytest_collection_finish(session: pytest.Session) -> None:
    state = run_state(session.config)
    if not state.tasks_collected or session.config.option.collectonly:
        return
    if not state.is_controller:
        # Workers leave errors to the controller (one raised here would crash the worker); every
        # worker collects the same items, so the first one checks them for it.
        if getattr(session.config, "workerinput", {}).get("workerid") == "gw0":
            preflight_file(state.run_id).write_text(images_problem(session, state) or "", encoding="utf-8")
        return
    if state.agent is None:
        raise pytest.UsageError(NO_AGENT)
    prepare_engine(session.config)
    problem = images_problem(session, state)
    if problem:
        raise pytest.UsageError(problem)


def images_problem(session: pytest.Session, state: RunState) -> str | None:
    """--ohbench-preflight: the images of the selected items that cannot be had, as one message
    naming the files as they open from where pytest ran (None: all can, or no check)."""
    if not state.settings.preflight or state.agent is None or state.agent not in agent_names():
        return None
    try:
        agent = load_agent(state.agent)(state.settings.agent)
    except AgentConfigError:
        return None  # said at configure time
    needs = [(item.ohbench_task, item.ohbench_suite) for item in session.items
             if isinstance(item, TaskItem) and agent.needs_image(item.ohbench_task)]
    problem = preflight(state.settings.runtime, state.runtime_settings(), needs)
    return state.shown_text(problem) if problem else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist controller: refuse to run tasks without an agent, as a serial run does."""
    config = node.config
    if not any(
        is_dataset(config, path) or collect_folders.is_task_file(config, path)
        for path in (config.rootpath / nodeid.split("::")[0] for nodeid in ids)
    ):
        return
    if run_state(config).agent is None:
        pytest.exit(f"ERROR: {NO_AGENT}", returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        prepare_engine(config)
    except pytest.UsageError as exc:
        pytest.exit(f"ERROR: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    finding = preflight_file(run_state(config).run_id)
    if run_state(config).settings.preflight and node.gateway.id == "gw0" and finding.is_file():  # the first worker's preflight, before any item is sent
        problem = finding.read_text(encoding="utf-8")
        finding.unlink()
        if problem:
            pytest.exit(f"ERROR: {problem}", returncode=pytest.ExitCode.USAGE_ERROR)


def prepare_engine(config: pytest.Config) -> None:
    """Once per run, before any task: the runtime can be used (its engines answer), and what
    killed controllers of earlier runs left is removed (usage error when it cannot be used)."""
    state = run_state(config)
    if state.engine_checked:
        return
    state.engine_checked = True
    lines = prepare_runtime(state.settings.runtime, state.runtime_settings())
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        for line in lines:
            reporter.write_line(f"ohbench: {line}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """--ohbench-max-cost: once the run's results add up to the budget, start no new task."""
    state = run_state(item.config)
    budget = state.settings.max_cost
    if not isinstance(item, TaskItem) or budget is None:
        return
    spent = gateway_plugin.run_spent(item.config, state.folder.results_path)  # finished items, or the gateway's live count
    if spent >= budget:
        record = record_for(item)
        record.set_outcome(Outcome.NOT_RUN, f"run budget spent: ${spent:.4f} of ${budget:g}")
        pytest.skip(record.error or "run budget spent")


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A check container started for this item and not used (empty patch, agent error) goes."""
    runtime = run_state(item.config).runtime
    if runtime is not None:
        runtime.discard(item.nodeid)


@pytest.hookimpl(tryfirst=True)  # before the controller's sweep by run label
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every container this process started is gone before it ends (removals were in the background)."""
    state = run_state(session.config)
    if state.runtime is not None:
        state.runtime.close()
        state.runtime = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """--ohbench-retries N: rerun an item that failed for an infrastructure cause (core/failures.py),
    an OOM-killed agent stage with twice the memory; the last try is reported."""
    # The coming items' check containers can start while this one is checked (fixtures.py).
    item.stash[COMING_ITEMS] = coming_items(item, nextitem)
    retries = run_state(item.config).settings.retries
    if not isinstance(item, TaskItem) or not retries:
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    original = item.ohbench_suite
    history: list[dict[str, Any]] = []
    try:
        for retry in range(retries + 1):
            # Between tries everything is torn down (nextitem None): with nextitem=item pytest
            # would keep the item set up, its fixtures' values (the agent's container, the
            # outcome) or its setup error, and the next try would only repeat them.
            last = retry == retries
            reports = runtestprotocol(item, nextitem=nextitem if last else None, log=False)
            record = record_for(item)
            settings = next_settings(record, item.ohbench_suite, original)
            if last or not retried(record) or settings is None:
                break
            history.append(earlier_try(record))
            item.ohbench_suite = settings
            del item.stash[RECORD_KEY]  # a fresh record for the next try
            record = record_for(item)
            record.retries, record.retry_history = retry + 1, list(history)
            if settings.container.memory != original.container.memory:
                record.memory = memory_bytes(settings.container.memory)
    finally:
        item.ohbench_suite = original
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _classify(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Give an item that stopped on an exception its outcome, unless a stage already did."""
    record = record_for(item)
    error = excinfo.value
    if isinstance(error, TaskFailed) or record.stage == "done":
        return
    if isinstance(error, HarnessError):
        record.failure_class = error.failure_class or record.failure_class
        record.set_outcome(error.outcome, error.message)
    elif stopped_by_timeout(item, error):
        outcome = {"agent": Outcome.AGENT_TIMEOUT, "check": Outcome.TEST_TIMEOUT}.get(record.stage, Outcome.INFRA_ERROR)
        record.set_outcome(outcome, f"{str(error).splitlines()[0]} during stage {record.stage}")
    else:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        record.set_outcome(Outcome.INFRA_ERROR, f"{type(error).__name__}: {message}".rstrip(": "))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Classify how the item ended and attach its record to the teardown report."""
    report = yield
    if not isinstance(item, TaskItem):
        return report
    if call.when == "setup":
        item.stash[STARTED_KEY] = call.start
    if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
        _classify(item, call.excinfo)
        if isinstance(call.excinfo.value, HarnessError):
            # Setup errors bypass Item.repr_failure: print the one-line verdict here too.
            report.longrepr = item.repr_failure(call.excinfo)
    if call.when == "teardown":
        record = record_for(item)
        if record.stage != "done":  # skipped, or stopped before anything judged it
            record.set_outcome(Outcome.NOT_RUN, "the item did not run")
        # A resolved item did not fail; a failure whose cause no stage named may be the LLM's.
        record.failure_class = "" if record.resolved else record.failure_class or llm_class(record)
        record.finished_at = utc_now()
        record.durations["total"] = round(call.stop - item.stash.get(STARTED_KEY, call.start), 3)
        # No api_key leaves the worker: not in the record, nor in the failure text.
        secrets = run_state(item.config).secrets()
        report.ohbench_record = json.loads(redact(json.dumps(record.to_dict()), secrets))
        state = run_state(item.config)
        if state.remote and record.log_dir:  # the controller's run folder is on another host: send the logs along
            setattr(report, LOGS_ATTRIBUTE, pack_logs(state.rootpath / record.log_dir))
        if isinstance(report.longrepr, str):
            report.longrepr = redact(report.longrepr, secrets)
    return report


STARTED_KEY = pytest.StashKey[float]()


