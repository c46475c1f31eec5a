"""The container manager on a real engine: checks started ahead, removals in the background."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from pytest_ohbench.runtime.docker.containers import ContainerManager
from pytest_ohbench.runtime.docker.engines import EngineSlots
from pytest_ohbench.runtime.docker.runtime import RUN_LABEL, DockerRuntime

pytestmark = pytest.mark.docker


def labelled(client: docker.DockerClient, run_id: str) -> list[str]:
    return [c.name or "" for c in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})]


@pytest.fixture
def run_id(docker_client: docker.DockerClient) -> Iterator[str]:
    run = f"mgr-{uuid.uuid4().hex[:8]}"
    yield run
    for container in docker_client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run}"}):
        container.remove(force=True)


def starter(client: docker.DockerClient, image: str, run_id: str, name: str) -> Callable[[], DockerRuntime]:
    return lambda: DockerRuntime.start(client, image, run_id=run_id, instance_id=name, workdir="/tmp")


def test_a_check_started_ahead_is_the_one_handed_out_and_all_are_gone_after_drain(
    docker_client: docker.DockerClient, base_image: str, run_id: str, tmp_path: Path
) -> None:
    slots = EngineSlots(f"unix://{tmp_path}/engine.sock", 3)  # its own slot files: a limit of 3
    manager = ContainerManager(slots)
    agent = manager.start("item-1", starter(docker_client, base_image, run_id, "agent-1"), starter(docker_client, base_image, run_id, "check-1"))
    assert manager.start_ahead("item-2", starter(docker_client, base_image, run_id, "check-2"))
    # Three containers hold the three places: nothing more can start ahead now.
    assert not manager.start_ahead("item-3", starter(docker_client, base_image, run_id, "check-3"))
    check = manager.check_container("item-1", starter(docker_client, base_image, run_id, "never"))
    assert check.container.labels["ohbench.instance_id"] == "check-1"  # the one started with the agent's
    assert check.execute("echo ready").output.strip() == "ready"
    manager.remove_later(agent)
    manager.remove_later(check)
    manager.discard("item-2")  # its item ended without a check
    manager.drain()
    assert labelled(docker_client, run_id) == []
    both = slots.try_acquire(3)  # every place was given back with its container
    assert both is not None
    for slot in both:
        slot.release()
    manager.close()


def test_close_removes_containers_started_ahead_and_never_used(
    docker_client: docker.DockerClient, base_image: str, run_id: str
) -> None:
    manager = ContainerManager()
    assert manager.start_ahead("item-1", starter(docker_client, base_image, run_id, "check-1"))
    assert manager.start_ahead("item-2", starter(docker_client, base_image, run_id, "check-2"))
    manager.close()
    assert labelled(docker_client, run_id) == []


def test_a_failed_start_ahead_is_retried_where_its_error_is_seen(
    docker_client: docker.DockerClient, base_image: str, run_id: str
) -> None:
    manager = ContainerManager()
    manager.start_ahead("item-1", starter(docker_client, "ohbench-test/no-such-image:none", run_id, "bad"))
    with pytest.raises(docker.errors.APIError):  # not found, or the pull the SDK then tries fails
        manager.check_container("item-1", starter(docker_client, "ohbench-test/no-such-image:none", run_id, "bad"))
    check = manager.check_container("item-2", starter(docker_client, base_image, run_id, "check-2"))
    manager.remove_later(check)
    manager.close()
    assert labelled(docker_client, run_id) == []


def test_the_coming_items_are_two_in_a_serial_run_and_one_on_an_xdist_worker(pytester: pytest.Pytester) -> None:
    from pytest_ohbench.plugin.lifecycle import coming_items

    items = pytester.getitems("def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\ndef test_d(): pass\n")
    elsewhere = pytester.getitems(pytester.makepyfile(other="def test_e(): pass\n"))
    items[0].session.items = items
    assert coming_items(items[0], items[1]) == [items[1], items[2]]
    assert coming_items(items[2], items[3]) == [items[3]]  # the last one has none after it
    assert coming_items(items[3], None) == []
    # A next item session.items does not hold (a plugin added or reran it): only it is known.
    assert coming_items(items[0], elsewhere[0]) == [elsewhere[0]]
    # On an xdist worker the scheduler's order is known one item ahead only.
    items[0].config.workerinput = {"workerid": "gw0"}  # type: ignore[attr-defined]
    assert coming_items(items[0], items[1]) == [items[1]]
