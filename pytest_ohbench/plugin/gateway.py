"""The gateway in a pytest run: started on the controller, leased per item, settled into the record.

One gateway per run, in the controller process (the serial process, or xdist's master):
the run's budget is then counted in one place, and workers reach it on 127.0.0.1, or on the
address --ohbench-gateway-host names for workers on other hosts (its address and admin
secret travel in xdist's workerinput, like the run id). Each item with
an LLM leases a token from it (`ohbench_llm_lease`); its agent sees the gateway's URL and
that token instead of the section's base_url and key (`ohbench_llm`). When the agent is
done the lease is closed and the gateway's figures go into the record, the agent's own
beside them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.agents.base import AgentResult, AgentStatus
from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.gateway.cassette import CASSETTE_DIR, cassette_name
from pytest_ohbench.gateway.client import GatewayAccess, GatewayClient, GatewayError, ItemLease, agent_view
from pytest_ohbench.gateway.forwarder import forwarder_for
from pytest_ohbench.gateway.meter import Meter
from pytest_ohbench.gateway.server import Gateway
from pytest_ohbench.plugin.lifecycle import record_for
from pytest_ohbench.plugin.state import run_state
from pytest_ohbench.report.run_folder import LATEST_LINK, spent_usd

WORKER_GATEWAY = "ohbench_gateway"
ACCESS_KEY = pytest.StashKey["GatewayAccess | None"]()
GATEWAY_KEY = pytest.StashKey[Gateway]()


def replay_folder(spec: str, reports: Path, start_dir: Path) -> Path:
    """The run folder --ohbench-llm-replay names (a path, a run id, or `latest`); UsageError if none."""
    given = start_dir / Path(spec).expanduser()  # an absolute path stays itself
    candidates = [reports / LATEST_LINK] if spec == LATEST_LINK else [given, reports / spec]
    for candidate in candidates:
        if (candidate / CASSETTE_DIR).is_dir():
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise pytest.UsageError(
        f"--ohbench-llm-replay {spec}: no run folder with cassettes (looked in {looked}); "
        "record one with --ohbench-llm-record"
    )


def configure_gateway(config: pytest.Config) -> None:
    """Controller: start the run's gateway when its items call an LLM. Worker: note its address."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        raw = workerinput.get(WORKER_GATEWAY)
        access = GatewayAccess(**raw) if raw else None
        if access is not None and run_state(config).remote:
            # The gateway's socket is on the controller's host: sealed containers here use one
            # of this host's that forwards to the gateway's address.
            forwarder = forwarder_for(access.url)
            config.add_cleanup(forwarder.stop)
            access = dataclasses.replace(access, socket=str(forwarder.path))
        config.stash[ACCESS_KEY] = access
        return
    config.stash[ACCESS_KEY] = None
    state = run_state(config)
    settings = state.settings
    if not state.llms or not settings.agent_names or config.option.collectonly:
        return
    start_dir = Path(config.invocation_params.dir)
    replay = replay_folder(settings.llm_replay, settings.report_dir, start_dir) if settings.llm_replay else None
    try:
        gateway = Gateway(
            state.llms,
            run_budget=settings.max_cost,
            spent=spent_usd(state.folder.results_path),  # a resumed run has spent some already
            record_dir=state.folder.path if settings.llm_record else None,
            replay_dir=replay,
            retries=settings.llm_retries,
            host=settings.gateway_host,
        )
    except ValueError as exc:
        raise pytest.UsageError(f"--llm-config: {exc}") from None
    except OSError as exc:
        raise pytest.UsageError(f"--ohbench-gateway-host {settings.gateway_host}: cannot listen there ({exc.strerror or exc})") from None
    gateway.start()
    config.add_cleanup(gateway.stop)
    config.stash[GATEWAY_KEY] = gateway
    config.stash[ACCESS_KEY] = GatewayAccess(gateway.url, gateway.admin_secret, str(gateway.socket_path))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand the gateway's address to every worker."""
    access = node.config.stash.get(ACCESS_KEY, None)
    node.workerinput[WORKER_GATEWAY] = None if access is None else dataclasses.asdict(access)


def run_spent(config: pytest.Config, results_path: Path) -> float:
    """USD the run has spent: the results written so far, or the gateway's live count if higher."""
    spent = spent_usd(results_path)
    access = config.stash.get(ACCESS_KEY, None)
    if access is not None:
        with contextlib.suppress(GatewayError):
            spent = max(spent, GatewayClient(access).run_spent())
    return spent


@pytest.fixture
def ohbench_llm_lease(request: pytest.FixtureRequest) -> Iterator[ItemLease | None]:
    """The item's lease on the run's LLM gateway (None for items without --llm-config).

    Closed at teardown whatever happened, and its figures land in the record then if the
    agent stage did not settle them (an agent that crashed still spent money).
    """
    name = getattr(request.node, "ohbench_llm", None)
    if not name:
        yield None
        return
    access = request.config.stash.get(ACCESS_KEY, None)
    if access is None:
        raise HarnessError(Outcome.INFRA_ERROR, "the run's LLM gateway is not running: no agent may call an LLM")
    node = request.node
    task = node.ohbench_task
    state = run_state(request.config)
    client = GatewayClient(access)
    try:
        token = client.open_lease(
            node.nodeid,
            cassette_name(node.ohbench_suite.name, task.instance_id, name, getattr(node, "ohbench_attempt", 1),
                          node.ohbench_agent_name if len(state.settings.agent_names) > 1 else ""),
            name,
            state.settings.agent.max_cost_per_task,
        )
    except GatewayError as exc:
        raise HarnessError(Outcome.INFRA_ERROR, str(exc)) from None
    upstream = None if state.settings.llm_replay else state.llms[name].base_url
    lease = ItemLease(token, agent_view(state.llms[name], access.url + "/v1", token), client, upstream)
    try:
        yield lease
    finally:
        if lease.meter is None:
            with contextlib.suppress(GatewayError):
                record_meter(record_for(node), None, lease.close())


def record_meter(record: TaskRecord, result: AgentResult | None, meter: Meter) -> None:
    """The gateway's figures as the record's cost and tokens; the agent's own kept beside them."""
    if result is not None:
        reported = {
            "cost_usd": result.cost_usd,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "cached_tokens": result.cached_tokens,
            "llm_calls": result.llm_calls,
        }
        record.agent_reported = reported if any(reported.values()) else None
    record.cost_usd = round(meter.cost_usd, 10)
    record.input_tokens, record.output_tokens = meter.input_tokens, meter.output_tokens
    record.cached_tokens, record.reasoning_tokens = meter.cached_tokens, meter.reasoning_tokens
    record.llm_calls = meter.calls
    record.llm = meter.to_dict()


def settle_llm(record: TaskRecord, result: AgentResult, lease: ItemLease | None) -> None:
    """After the agent: close the item's lease, meter the record, and apply the gateway's verdicts.

    A request the budget refused makes the run end in `max_cost` (outcome budget_exceeded),
    whatever the agent did with the error; a request a replay cassette did not hold is a
    harness error naming the item and the step.
    """
    if lease is None:
        return
    try:
        meter = lease.close()
    except GatewayError as exc:
        raise HarnessError(Outcome.INFRA_ERROR, str(exc)) from None
    record_meter(record, result, meter)
    if meter.replay_error:
        raise HarnessError(Outcome.INFRA_ERROR, meter.replay_error)
    if meter.refused:
        result.status, result.error = AgentStatus.MAX_COST, meter.refusal
        record.agent_status = result.status.value
