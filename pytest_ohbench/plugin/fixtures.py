"""The public fixtures: task, suite, record, runtime provider, image, agent, runtime, agent run, outcome.

Registered as their own pytest plugin (entry point `ohbench_fixtures`). Each stage is one
fixture so users can override any of them in a conftest.py. Harness trouble raises
HarnessError from a fixture (a pytest error); the judged outcome is returned by
`ohbench_outcome` and asserted by the item's test body (a pytest failure).
"""

from __future__ import annotations

import contextlib
import dataclasses
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentSettings, AgentStatus, BaseAgent, load_agent
from pytest_ohbench.agents.trajectory import write_trajectory
from pytest_ohbench.core.errors import HarnessError, TaskFailed
from pytest_ohbench.core.failures import OOM_AGENT
from pytest_ohbench.core.llm import LLMConfig, unreachable_reason
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord, bounded, failure_reason, format_verdict
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.gateway.client import GatewayAccess, ItemLease, on_loopback
from pytest_ohbench.kinds.base import CheckContext, checker_for, record_check
from pytest_ohbench.plugin.gateway import ACCESS_KEY, settle_llm
from pytest_ohbench.plugin.lifecycle import COMING_ITEMS, record_for, stage, stopped_by_timeout
from pytest_ohbench.plugin.state import run_state
from pytest_ohbench.runtime.base import Runtime, host_text, oom_kills
from pytest_ohbench.runtime.provider import BuildFailed, RuntimeProvider, Sealed
from pytest_ohbench.runtime.workspace import copy_inputs, extract_patch, strip_history


@dataclasses.dataclass
class TaskOutcome:
    """The judged result of one item, as returned by the `ohbench_outcome` fixture."""

    record: TaskRecord
    detail: str = ""
    logs: str | None = None  # the log folder as printed for the user (relative to where they ran pytest)

    @property
    def outcome(self) -> Outcome:
        return self.record.outcome

    def assert_resolved(self) -> None:
        """Raise TaskFailed with a short verdict unless the task was resolved."""
        if not self.record.resolved:
            raise TaskFailed(format_verdict(self.record, self.detail, self.logs))


@pytest.fixture
def ohbench_task(request: pytest.FixtureRequest) -> Task:
    """The benchmark instance of this item."""
    task = getattr(request.node, "ohbench_task", None)
    if task is None:
        raise pytest.UsageError(f"{request.node.nodeid}: ohbench fixtures only work on suite items")
    return task


@pytest.fixture
def ohbench_suite(request: pytest.FixtureRequest, ohbench_task: Task) -> SuiteConfig:
    """Settings of the suite the item belongs to (suite.yaml)."""
    return request.node.ohbench_suite


@pytest.fixture
def ohbench_record(request: pytest.FixtureRequest, ohbench_task: Task) -> TaskRecord:
    """The item's result record, filled in stage by stage."""
    return record_for(request.node)


@pytest.fixture
def ohbench_log_dir(request: pytest.FixtureRequest, ohbench_record: TaskRecord) -> Path:
    """`reports/<run-id>/logs/<item>/`: patch.diff, test_output.txt, agent and check logs."""
    state = run_state(request.config)
    path = state.folder.log_dir(getattr(request.node, "log_name", request.node.name))
    ohbench_record.log_dir = state.relative(path.resolve())
    return path


@pytest.fixture(scope="session")
def ohbench_runtime_provider(pytestconfig: pytest.Config) -> RuntimeProvider:
    """This process's runtime (--ohbench-runtime: docker, local, or one a plug-in registers):
    where tasks run. It owns its workspaces' life; the session's end closes it."""
    return run_state(pytestconfig).runtime_provider()


def prepare_ahead(runtime: Runtime, task: Task) -> None:
    """The checker's work that needs nothing of the agent's, done on its fresh workspace before
    it is handed out (off the critical path when started ahead). Best effort: if it fails, the
    check does that work itself and reports what goes wrong there."""
    try:
        prepare = getattr(checker_for(task), "prepare_ahead", None)
        if prepare is not None:
            prepare(runtime, task)
    except Exception:
        ahead = getattr(runtime, "ahead", None)
        if ahead is not None:
            ahead.clear()


def prestarts_check(task: Task) -> bool:
    """True when the task's checker judges in a fresh workspace (worth starting ahead)."""
    try:
        return bool(getattr(checker_for(task), "prestart", False))
    except LookupError:
        return False


@pytest.fixture
def ohbench_image(
    ohbench_task: Task,
    ohbench_suite: SuiteConfig,
    ohbench_runtime_provider: RuntimeProvider,
    ohbench_record: TaskRecord,
) -> str | None:
    """The task's image name, found, loaded, pulled or built (once per content hash) by this
    process's runtime; None for a runtime without images."""
    ohbench_record.engine = ohbench_runtime_provider.label
    with stage(ohbench_record, "image"):
        try:
            found = ohbench_runtime_provider.image(ohbench_task, ohbench_suite)
        except BuildFailed as exc:
            raise HarnessError(Outcome.BUILD_ERROR, str(exc), exc.failure_class) from None
    ohbench_record.image, ohbench_record.image_source, ohbench_record.image_id = found.name, found.source, found.id
    return found.name


def agent_network(agent: BaseAgent, suite: SuiteConfig, gateway: GatewayAccess | None, allow_internet: bool) -> str | Sealed:
    """The network of `agent`'s workspace: "host", "none" or a `Sealed` one.

    The host's when the run (--ohbench-allow-internet) or the suite (container.network: host;
    a Harbor task's `allow_internet = true`) opts in. Otherwise an agent that calls its LLM from
    inside (needs_network) gets a sealed one: loopback only, and the run's gateway at its usual
    URL through a relay; any other agent gets none at all.
    """
    if allow_internet or suite.container.network == "host":
        return "host"
    if not agent.needs_network or gateway is None or not gateway.socket:
        return "none"  # no LLM called from inside, or no gateway this run (`command` without --llm-config)
    port = urllib.parse.urlsplit(gateway.url).port
    assert port is not None, gateway.url
    return Sealed(Path(gateway.socket), port)


@pytest.fixture
def ohbench_runtime(
    request: pytest.FixtureRequest,
    ohbench_task: Task,
    ohbench_suite: SuiteConfig,
    ohbench_record: TaskRecord,
    ohbench_agent: BaseAgent,
    ohbench_runtime_provider: RuntimeProvider,
) -> Iterator[Runtime]:
    """The agent's workspace (a container; with --ohbench-runtime local, a host folder); removed in teardown."""
    provider = ohbench_runtime_provider
    if ohbench_agent.mounts_trees and not provider.isolated:
        raise HarnessError(Outcome.AGENT_ERROR, f"--agent {ohbench_agent.name} needs the docker runtime")
    image: str | None = request.getfixturevalue("ohbench_image")
    with stage(ohbench_record, "agent_image"):  # e.g. the openhands agent's tree, built once per machine
        try:
            image = ohbench_agent.prepare(provider, image)
        except BuildFailed as exc:
            raise HarnessError(Outcome.BUILD_ERROR, f"agent image over {image}: {exc}", exc.failure_class) from None
    network = agent_network(ohbench_agent, ohbench_suite, request.config.stash.get(ACCESS_KEY, None),
                            run_state(request.config).settings.allow_internet)
    # Recorded as it is: a runtime without isolation runs the agent with the host's network.
    ohbench_record.network = ("sealed" if isinstance(network, Sealed) else network) if provider.isolated else "host"
    with stage(ohbench_record, "container"):
        # The check's workspace starts now too, in the background, while the agent runs.
        runtime = provider.start_agent(
            request.node.nodeid, ohbench_task, ohbench_suite, image, network=network,
            mounts=ohbench_agent.mounts(), check_ahead=prestarts_check(ohbench_task), prepare=prepare_ahead,
        )
    try:
        if ohbench_task.base_commit:
            with stage(ohbench_record, "container"):
                strip_history(runtime, ohbench_task.base_commit)  # no later commits for the agent to read
        copy_inputs(runtime, ohbench_task)
        yield runtime
    finally:
        provider.release(runtime)  # removed in the background, drained before the session ends


def start_next_check(item: pytest.Item, settings: AgentSettings, provider: RuntimeProvider) -> None:
    """Start the coming items' check workspaces now, while this item is checked, when their
    agent needs no workspace (a gold patch, a replayed prediction): nothing else would
    overlap them. Two ahead where the order is known (a serial run): one container start
    takes about as long as an oracle item, so one ahead is often not ready in time."""
    for following in item.stash.get(COMING_ITEMS, []):
        task = getattr(following, "ohbench_task", None)
        if task is None or not prestarts_check(task):
            return
        agent = load_agent(following.ohbench_agent_name)(settings)  # type: ignore[attr-defined]
        if agent.uses_runtime(task.reference if agent.wants_reference else None):
            return  # its check workspace starts with its agent's
        if not provider.start_ahead(following.nodeid, task, following.ohbench_suite, prepare_ahead):  # type: ignore[attr-defined]
            return  # no free place now


@pytest.fixture
def ohbench_llm(ohbench_llm_lease: ItemLease | None) -> LLMConfig | None:
    """The item's LLM section (from --llm-config) as its agent sees it, or None when none was given.

    Its base_url is the run's LLM gateway and its api_key the item's token: never the real key.
    """
    return ohbench_llm_lease.llm if ohbench_llm_lease else None


@pytest.fixture
def ohbench_agent(request: pytest.FixtureRequest, ohbench_llm: LLMConfig | None) -> BaseAgent:
    """The item's agent (one of --agent), made fresh for this item from the session's settings."""
    state = run_state(request.config)
    name = getattr(request.node, "ohbench_agent_name", "")
    if not name:
        raise pytest.UsageError("no agent chosen: pass --llm-config SECTION (OpenHands) or --agent NAME")
    agent = load_agent(name)(state.settings.agent)
    if agent.needs_llm and ohbench_llm is None:
        raise HarnessError(Outcome.AGENT_ERROR, f"--agent {name} needs a model: pass --llm-config NAME")
    return agent


def agent_prompt(task: Task, hints: bool) -> str:
    """What the agent is asked: the task's prompt, and the hints when asked for."""
    if hints and task.hints_text.strip():
        return f"{task.prompt}\n\nHints:\n{task.hints_text}"
    return task.prompt


@pytest.fixture
def ohbench_agent_run(
    request: pytest.FixtureRequest,
    ohbench_task: Task,
    ohbench_agent: BaseAgent,
    ohbench_llm: LLMConfig | None,
    ohbench_suite: SuiteConfig,
    ohbench_record: TaskRecord,
    ohbench_log_dir: Path,
    ohbench_llm_lease: ItemLease | None,
) -> AgentResult:
    """Run the agent on the task; its patch is returned or read from the workspace."""
    reference = ohbench_task.reference if ohbench_agent.wants_reference else None
    uses_runtime = ohbench_agent.uses_runtime(reference)
    runtime = request.getfixturevalue("ohbench_runtime") if uses_runtime else None
    # On the local runtime the workspace is a host folder: the prompt names it, not the task's workdir.
    view = ohbench_task.view()
    view = dataclasses.replace(view, prompt=host_text(runtime, view.prompt), hints_text=host_text(runtime, view.hints_text))
    llm = ohbench_llm
    if llm is not None and llm.base_url and ohbench_record.network == "sealed":
        # In a sealed container the gateway is the relay on the container's own loopback, at
        # the gateway's port, whatever address the gateway listens on (--ohbench-gateway-host).
        llm = dataclasses.replace(llm, base_url=on_loopback(llm.base_url))
    context = AgentContext(
        task=view,
        runtime=runtime,
        log_dir=ohbench_log_dir,
        llm=llm,
        time_limit=ohbench_task.agent_timeout or ohbench_suite.timeouts.agent,
        prompt=host_text(runtime, agent_prompt(ohbench_task, run_state(request.config).settings.hints)),
        reference=reference,
    )
    ohbench_record.instruction = context.prompt
    # The agent talks to the gateway; what must answer is the gateway's upstream. A worker on
    # another host cannot tell (the gateway calls it from the controller's host).
    upstream = ohbench_llm_lease.upstream if ohbench_llm_lease and not run_state(request.config).remote else None
    if upstream and (reason := unreachable_reason(upstream)):
        message = f"{ohbench_agent.name}: LLM endpoint {upstream} unreachable ({reason})"
        raise HarnessError(Outcome.AGENT_ERROR, message)
    with stage(ohbench_record, "agent"):
        try:
            result = ohbench_agent.run(context)
        except HarnessError:
            raise
        except pytest.fail.Exception as exc:
            if not stopped_by_timeout(request.node, exc):
                raise
            result = AgentResult(status=AgentStatus.TIMEOUT, error=str(exc).splitlines()[0])
        except Exception as exc:
            raise HarnessError(
                Outcome.AGENT_ERROR, f"agent {ohbench_agent.name} crashed: {type(exc).__name__}: {exc}"
            ) from None
        if oom_kills(runtime):  # the agent's work was cut by the container's memory limit
            ohbench_record.failure_class = OOM_AGENT
        if result.patch is None and runtime is not None and ohbench_task.base_commit and result.status != AgentStatus.ERROR:
            result.patch = extract_patch(runtime, ohbench_task.base_commit)
    record = ohbench_record
    record.agent_status = result.status.value
    record.patch = result.patch or ""
    record.cost_usd, record.llm_calls, record.agent_steps = result.cost_usd, result.llm_calls, result.steps
    record.input_tokens, record.output_tokens = result.input_tokens, result.output_tokens
    record.cached_tokens = result.cached_tokens
    record.agent_return_code, record.agent_session_id = result.return_code, result.session_id
    record.agent_stdout, record.agent_stderr = bounded(result.stdout), bounded(result.stderr)
    settle_llm(record, result, ohbench_llm_lease)  # the gateway's cost and tokens; its budget verdict
    (ohbench_log_dir / "patch.diff").write_text(record.patch, encoding="utf-8")
    save_trajectory(ohbench_agent, ohbench_log_dir, record, metered=ohbench_llm_lease is not None)
    if result.status == AgentStatus.ERROR:
        raise HarnessError(Outcome.AGENT_ERROR, result.error or f"agent {ohbench_agent.name} failed")
    return result


def save_trajectory(agent: BaseAgent, log_dir: Path, record: TaskRecord, metered: bool) -> None:
    """trajectory.json (ATIF) from the agent's own log, beside it. Best effort: a log its parser
    cannot read costs the item its trajectory view, never its verdict."""
    figures = {key: getattr(record, key) for key in ("cost_usd", "input_tokens", "output_tokens", "cached_tokens", "llm_calls")}
    try:
        write_trajectory(agent, log_dir, model=record.model, session_id=record.agent_session_id or record.nodeid,
                         prompt=record.instruction, metered=figures if metered else None)
    except Exception as exc:  # the agent's parser, on whatever the agent wrote
        (log_dir / "trajectory.error").write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")


@pytest.fixture
def ohbench_outcome(
    request: pytest.FixtureRequest,
    ohbench_task: Task,
    ohbench_suite: SuiteConfig,
    ohbench_agent: BaseAgent,
    ohbench_agent_run: AgentResult,
    ohbench_record: TaskRecord,
    ohbench_log_dir: Path,
    ohbench_llm: LLMConfig | None,
) -> TaskOutcome:
    """Judge the agent's work with the checker of the task's check spec: the item's outcome."""
    record = ohbench_record
    logs = run_state(request.config).shown(ohbench_log_dir)
    if ohbench_agent_run.status == AgentStatus.TIMEOUT:
        record.set_outcome(Outcome.AGENT_TIMEOUT, ohbench_agent_run.error)
        return TaskOutcome(record, "the agent ran out of time", logs)
    if ohbench_agent_run.status == AgentStatus.NO_PREDICTION:
        # Nothing was submitted for this task (SWE-bench's convention): a judged failure.
        detail = ohbench_agent_run.error or "no prediction"
        record.reason = failure_reason(Outcome.EMPTY_PATCH, AgentStatus.NO_PREDICTION.value, detail)
        record.set_outcome(Outcome.EMPTY_PATCH)
        return TaskOutcome(record, detail, logs)
    if ohbench_agent_run.status == AgentStatus.MAX_COST:
        budget = run_state(request.config).settings.agent.max_cost_per_task
        spent = f"spent ${record.cost_usd:.4f}" + (f" of ${budget:g}" if budget else "")
        record.set_outcome(Outcome.BUDGET_EXCEEDED, ohbench_agent_run.error or f"the task's budget ran out: {spent}")
        return TaskOutcome(record, f"the budget ran out ({spent})", logs)
    try:
        checker = checker_for(ohbench_task)
    except LookupError as exc:
        raise HarnessError(Outcome.INFRA_ERROR, f"{ohbench_task.location}: {exc}") from None
    reference = ohbench_task.reference if ohbench_agent.wants_reference else None
    agent_runtime = request.getfixturevalue("ohbench_runtime") if ohbench_agent.uses_runtime(reference) else None

    state = run_state(request.config)

    provider: RuntimeProvider = request.getfixturevalue("ohbench_runtime_provider")

    @contextlib.contextmanager
    def fresh_runtime(cpuset: str | None = None) -> Iterator[Runtime]:
        request.getfixturevalue("ohbench_image")  # the task's image, found or built, in the record
        start_next_check(request.node, state.settings.agent, provider)
        runtime = provider.check_runtime(request.node.nodeid, ohbench_task, ohbench_suite, cpuset=cpuset, prepare=prepare_ahead)
        try:
            yield runtime
        finally:
            provider.release(runtime)

    context = CheckContext(
        task=ohbench_task,
        suite=ohbench_suite,
        log_dir=ohbench_log_dir,
        agent=ohbench_agent_run,
        patch=record.patch,
        agent_runtime=agent_runtime,
        fresh_runtime=fresh_runtime,
        test_timeout=ohbench_suite.timeouts.tests,
        skip_rule=run_state(request.config).settings.skip_rule,
        run_dir=state.folder.path,
        pinning=provider.pinning,
    )
    with stage(record, "check"):
        try:
            result = checker.check(context)
        except pytest.fail.Exception as exc:
            if not stopped_by_timeout(request.node, exc):
                raise
            # The item's time limit struck while its work was judged: a judged test_timeout,
            # so the test body fails it (raised from this fixture it would be a pytest error).
            record.set_outcome(Outcome.TEST_TIMEOUT, f"{str(exc).splitlines()[0]} during stage check")
            return TaskOutcome(record, "the item ran past its time limit while its tests ran", logs)
    record_check(record, result)
    annotate = getattr(checker, "annotate_record", None)
    if annotate is not None:
        annotate(record, ohbench_llm)
    return TaskOutcome(record, result.detail, logs)
