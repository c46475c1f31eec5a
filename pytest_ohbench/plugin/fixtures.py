"""The public fixtures: task, suite, record, Docker, image, agent, runtime, agent run, outcome.

Registered as their own pytest plugin (entry point `ohbench_fixtures`). Each stage is one
fixture so users can override any of them in a conftest.py. Harness trouble raises
HarnessError from a fixture (a pytest error); the judged outcome is returned by
`ohbench_outcome` and asserted by the item's test body (a pytest failure).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentStatus, BaseAgent, load_agent
from pytest_ohbench.core.errors import HarnessError, TaskFailed
from pytest_ohbench.core.llm import LLMConfig, unreachable_reason
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord, bounded, failure_reason, format_verdict
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.gateway.client import ItemLease
from pytest_ohbench.gateway.plugin import settle_llm
from pytest_ohbench.kinds.base import CheckContext, checker_for
from pytest_ohbench.kinds.judge.judge import failing_lines
from pytest_ohbench.plugin.lifecycle import COMING_ITEMS, record_for, stage, stopped_by_timeout
from pytest_ohbench.plugin.state import RunState, run_state
from pytest_ohbench.runtime.base import Runtime
from pytest_ohbench.runtime.docker.containers import ContainerManager
from pytest_ohbench.runtime.docker.engines import EngineSlots, engine_label
from pytest_ohbench.runtime.docker.images import resolve_image
from pytest_ohbench.runtime.docker.runtime import DockerRuntime, docker_client, unreachable_message
from pytest_ohbench.runtime.local import host_path, host_text, start_local
from pytest_ohbench.runtime.workspace import extract_patch, strip_history


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
    path = state.folder.log_dir(request.node.name)
    ohbench_record.log_dir = state.relative(path.resolve())
    return path


@pytest.fixture(scope="session")
def ohbench_docker(pytestconfig: pytest.Config) -> Iterator[docker.DockerClient]:
    """A client for this process's Docker engine (its --ohbench-docker-host, else DOCKER_HOST)."""
    host = run_state(pytestconfig).docker_host
    try:
        client = docker_client(host)
    except Exception as exc:  # the SDK raises several types for "no engine"
        raise HarnessError(Outcome.INFRA_ERROR, unreachable_message(exc, host)) from None
    yield client
    client.close()


def container_manager(config: pytest.Config) -> ContainerManager:
    """This process's ContainerManager, made on first use with its engine's container limit."""
    state = run_state(config)
    if state.containers is None:
        limit = state.settings.max_containers
        state.containers = ContainerManager(EngineSlots(state.docker_host, limit) if limit else None)
    return state.containers


def check_starter(
    client: docker.DockerClient,
    task: Task,
    suite: SuiteConfig,
    state: RunState,
    image: str | None = None,
    cpuset: str | None = None,
) -> Callable[[], DockerRuntime]:
    """Starts `task`'s check container: its image (resolved in the calling thread when not given)."""

    def start() -> DockerRuntime:
        settings = state.settings
        name = image or resolve_image(
            client, task, suite, {"ohbench.run_id": state.run_id}, settings.image_prefix, settings.image_tars
        ).name
        runtime = start_container(client, name, task, suite, state.run_id, state.controller, cpuset=cpuset)
        if cpuset is None:
            prepare_ahead(runtime, task)
        return runtime

    return start


def prepare_ahead(runtime: DockerRuntime, task: Task) -> None:
    """The checker's work that needs nothing of the agent's, done on its fresh container before
    it is handed out (off the critical path when started ahead). Best effort: if it fails, the
    check does that work itself and reports what goes wrong there."""
    try:
        prepare = getattr(checker_for(task), "prepare_ahead", None)
        if prepare is not None:
            prepare(runtime, task)
    except Exception:
        runtime.ahead.clear()


def prestarts_check(task: Task) -> bool:
    """True when the task's checker judges in a fresh container (worth starting ahead)."""
    try:
        return bool(getattr(checker_for(task), "prestart", False))
    except LookupError:
        return False


@pytest.fixture
def ohbench_image(
    request: pytest.FixtureRequest,
    ohbench_task: Task,
    ohbench_suite: SuiteConfig,
    ohbench_docker: docker.DockerClient,
    ohbench_record: TaskRecord,
) -> str:
    """The task's image name, found, loaded, pulled or built (once per content hash) on this process's engine."""
    ohbench_record.engine = engine_label(run_state(request.config).docker_host)
    with stage(ohbench_record, "image"):
        try:
            settings = run_state(request.config).settings
            resolved = resolve_image(
                ohbench_docker, ohbench_task, ohbench_suite, {"ohbench.run_id": ohbench_record.run_id},
                settings.image_prefix, settings.image_tars,
            )
        except docker.errors.DockerException as exc:
            raise HarnessError(Outcome.BUILD_ERROR, f"image for {ohbench_task.instance_id}: {exc}") from None
    ohbench_record.image, ohbench_record.image_source = resolved.name, resolved.source
    ohbench_record.image_id = resolved.id
    if resolved.id is None:
        with contextlib.suppress(docker.errors.DockerException):
            ohbench_record.image_id = ohbench_docker.images.get(resolved.name).id
    return resolved.name


def start_container(
    client: docker.DockerClient,
    image: str,
    task: Task,
    suite: SuiteConfig,
    run_id: str,
    controller: str,
    network: str | None = None,
    cpuset: str | None = None,
    volumes: dict[str, dict[str, str]] | None = None,
) -> DockerRuntime:
    """A fresh task container from `image` with the suite's limits (infra_error on failure).

    `cpuset` pins it to those CPUs instead of the suite's CPU quota (timing runs).
    """
    try:
        return DockerRuntime.start(
            client,
            image,
            run_id=run_id,
            instance_id=task.instance_id,
            workdir=task.workdir or suite.container.workdir,
            cpus=0.0 if cpuset else suite.container.cpus,
            memory=suite.container.memory,
            network=network or suite.container.network,
            controller=controller,
            cpuset_cpus=cpuset,
            volumes=volumes,
        )
    except (docker.errors.DockerException, ValueError) as exc:
        raise HarnessError(Outcome.INFRA_ERROR, f"cannot start a container from {image}: {exc}") from None


@pytest.fixture
def ohbench_runtime(
    request: pytest.FixtureRequest,
    ohbench_task: Task,
    ohbench_suite: SuiteConfig,
    ohbench_record: TaskRecord,
    ohbench_agent: BaseAgent,
) -> Iterator[Runtime]:
    """The agent's container (or, with --ohbench-runtime local, its host folder); removed in teardown."""
    state = run_state(request.config)
    if state.settings.runtime == "local":
        if type(ohbench_agent).prepare_image is not BaseAgent.prepare_image:
            raise HarnessError(Outcome.AGENT_ERROR, f"--agent {ohbench_agent.name} needs the docker runtime")
        with stage(ohbench_record, "container"):
            runtime: Runtime = start_local(ohbench_task, ohbench_suite, state.run_id)
    else:
        client: docker.DockerClient = request.getfixturevalue("ohbench_docker")
        image: str = request.getfixturevalue("ohbench_image")
        task_image: str = image
        with stage(ohbench_record, "agent_image"):  # e.g. the openhands agent's tree, built once per machine
            try:
                image = ohbench_agent.prepare_image(client, image)
                volumes = ohbench_agent.container_volumes()
            except docker.errors.DockerException as exc:
                raise HarnessError(Outcome.BUILD_ERROR, f"agent image over {image}: {exc}") from None
        with stage(ohbench_record, "container"):
            # The check container starts now too, in the background, while the agent runs.
            later = check_starter(client, ohbench_task, ohbench_suite, state, task_image) if prestarts_check(ohbench_task) else None
            runtime = container_manager(request.config).start(
                request.node.nodeid,
                lambda: start_container(
                    client,
                    image,
                    ohbench_task,
                    ohbench_suite,
                    state.run_id,
                    state.controller,
                    # A CLI agent calls its LLM from inside the container: host loopback only.
                    network="host" if ohbench_agent.needs_network else None,
                    volumes=volumes,
                ),
                later,
            )
    try:
        if ohbench_task.base_commit:
            with stage(ohbench_record, "container"):
                strip_history(runtime, ohbench_task.base_commit)  # no later commits for the agent to read
        copy_inputs(runtime, ohbench_task)
        yield runtime
    finally:
        if isinstance(runtime, DockerRuntime):
            container_manager(request.config).remove_later(runtime)  # drained before the session ends
        else:
            runtime.remove()


def start_next_check(item: pytest.Item, agent: BaseAgent, client: docker.DockerClient, state: RunState) -> None:
    """Start the coming items' check containers now, while this item is checked, when their
    agent needs no container (a gold patch, a replayed prediction): nothing else would
    overlap them. Two ahead where the order is known (a serial run): one container start
    takes about as long as an oracle item, so one ahead is often not ready in time."""
    manager = container_manager(item.config)
    for following in item.stash.get(COMING_ITEMS, []):
        task = getattr(following, "ohbench_task", None)
        if task is None or not prestarts_check(task):
            return
        if agent.uses_runtime(task.reference if agent.wants_reference else None):
            return  # its check container starts with its agent's container
        starter = check_starter(client, task, following.ohbench_suite, state)  # type: ignore[attr-defined]
        if not manager.start_ahead(following.nodeid, starter):
            return  # no free place on the engine now


def copy_inputs(runtime: Runtime, task: Task) -> None:
    """The task's input files, into the agent's container before the agent starts."""
    for entry in task.inputs:
        target = entry.target if entry.target.startswith("/") else f"{runtime.workdir}/{entry.target}"
        if not entry.source.exists():
            raise HarnessError(Outcome.INFRA_ERROR, f"{task.location}: input {entry.source} does not exist")
        if entry.source.is_dir():
            runtime.write_tree(target, entry.source)
        else:
            # host_path: on the local runtime an absolute target is below its folder, never the host's /.
            runtime.execute(f"mkdir -p {shlex.quote(host_path(runtime, os.path.dirname(target) or '/'))}")
            runtime.write_file(target, entry.source.read_bytes())


@pytest.fixture
def ohbench_llm(ohbench_llm_lease: ItemLease | None) -> LLMConfig | None:
    """The item's LLM section (from --llm-config) as its agent sees it, or None when none was given.

    Its base_url is the run's LLM gateway and its api_key the item's token: never the real key.
    """
    return ohbench_llm_lease.llm if ohbench_llm_lease else None


@pytest.fixture
def ohbench_agent(pytestconfig: pytest.Config, ohbench_llm: LLMConfig | None) -> BaseAgent:
    """The agent chosen with --agent, made fresh for this item from the session's settings."""
    state = run_state(pytestconfig)
    name = state.agent
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
    context = AgentContext(
        task=view,
        runtime=runtime,
        log_dir=ohbench_log_dir,
        llm=ohbench_llm,
        time_limit=ohbench_task.agent_timeout or ohbench_suite.timeouts.agent,
        prompt=host_text(runtime, agent_prompt(ohbench_task, run_state(request.config).settings.hints)),
        reference=reference,
    )
    ohbench_record.instruction = context.prompt
    # The agent talks to the gateway; what must answer is the gateway's upstream.
    upstream = ohbench_llm_lease.upstream if ohbench_llm_lease else None
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
    if result.status == AgentStatus.ERROR:
        raise HarnessError(Outcome.AGENT_ERROR, result.error or f"agent {ohbench_agent.name} failed")
    return result


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

    @contextlib.contextmanager
    def fresh_runtime(cpuset: str | None = None) -> Iterator[Runtime]:
        if state.settings.runtime == "local":
            local = start_local(ohbench_task, ohbench_suite, record.run_id)
            try:
                yield local
            finally:
                local.remove()
            return
        client = request.getfixturevalue("ohbench_docker")
        image = request.getfixturevalue("ohbench_image")
        manager = container_manager(request.config)
        start_next_check(request.node, ohbench_agent, client, state)
        starter = check_starter(client, ohbench_task, ohbench_suite, state, image, cpuset)
        # A pinned timing container is never the one started ahead (unpinned).
        runtime = manager.started(starter) if cpuset else manager.check_container(request.node.nodeid, starter)
        try:
            yield runtime
        finally:
            manager.remove_later(runtime)

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
    record.tests, record.check = result.tests, result.details
    # The record's reason names the failing tests too (the terminal prints them from the grade).
    failing = failing_lines(result.grade) if result.grade is not None else []
    record.reason = failure_reason(result.outcome, result.reason, "; ".join([*failing, result.detail] if result.detail else failing))
    record.set_aside, record.flags = result.set_aside, result.flags
    if result.grade is not None:
        record.fail_to_pass, record.pass_to_pass = result.grade.fail_to_pass, result.grade.pass_to_pass
    record.set_outcome(result.outcome)
    annotate = getattr(checker, "annotate_record", None)
    if annotate is not None:
        annotate(record, ohbench_llm)
    return TaskOutcome(record, result.detail, logs)
