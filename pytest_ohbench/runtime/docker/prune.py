"""What prune may remove from the Docker engine (tools/prune.py): containers of runs whose
controller is gone, images the harness built that no container uses."""

from __future__ import annotations

import dataclasses
import datetime

import docker
import docker.errors

from pytest_ohbench.runtime.docker.images import HASH_LABEL
from pytest_ohbench.runtime.docker.runtime import CONTROLLER_LABEL, RUN_LABEL, docker_client
from pytest_ohbench.runtime.provider import RuntimeUnavailable, controller_alive

ENGINE_KINDS = ("container", "image")


def open_engine() -> docker.DockerClient:
    """A client of the default engine (RuntimeUnavailable when none answers)."""
    try:
        return docker_client()
    except Exception as exc:  # the SDK raises several types for "no engine"
        raise RuntimeUnavailable(f"Docker engine unreachable ({str(exc).splitlines()[0][:160]})") from None


@dataclasses.dataclass
class Candidate:
    """One thing prune would remove, and why."""

    kind: str  # container | image | run | cache
    name: str
    size_bytes: int
    reason: str


def _age_seconds(created: str) -> float:
    """Seconds since a Docker timestamp like 2026-11-23T09:00:00.123456789Z."""
    stamp = datetime.datetime.fromisoformat(created[:26].rstrip("Z").rstrip(".") + "+00:00")
    return (datetime.datetime.now(datetime.timezone.utc) - stamp).total_seconds()


def container_candidates(client: docker.DockerClient, run: str | None = None) -> list[Candidate]:
    """Labelled containers (of run `run` only, if given) whose controller is gone."""
    found = []
    label = f"{RUN_LABEL}={run}" if run else RUN_LABEL
    # ignore_removed: a container another run removes while this lists is not an error.
    for container in client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
        owner = (container.labels or {}).get(CONTROLLER_LABEL, "")
        if owner and not controller_alive(owner):
            found.append(Candidate("container", container.name or "", 0, f"its controller {owner} is gone"))
    return found


def image_candidates(
    client: docker.DockerClient, older_than: float | None, budget: int | None, run: str | None = None
) -> list[Candidate]:
    """Harness-built images (built by run `run` only, if given) no container uses: past the age,
    then the oldest while the built images exceed the budget."""
    # The listing's own ImageID (sparse: no inspect per container, so a container removed
    # meanwhile, or its image, cannot fail the listing).
    used = {c.attrs.get("ImageID") for c in client.containers.list(all=True, sparse=True)}
    built = []
    labels = [HASH_LABEL, f"ohbench.run_id={run}"] if run else [HASH_LABEL]
    for image in client.images.list(filters={"label": labels}):
        if image.id in used:
            continue
        attrs = image.attrs
        built.append((_age_seconds(attrs["Created"]), image, int(attrs.get("Size", 0))))
    built.sort(key=lambda entry: entry[0], reverse=True)  # oldest first
    chosen: list[Candidate] = []
    total = sum(size for _, _, size in built)
    for age, image, size in built:
        name = image.tags[0] if image.tags else (image.id or "")
        if older_than is not None and age >= older_than:
            chosen.append(Candidate("image", name, size, f"built {age / 86400:.1f} days ago"))
            total -= size
        elif budget is not None and total > budget:
            chosen.append(Candidate("image", name, size, "oldest over the images budget"))
            total -= size
    return chosen


def remove_from_engine(client: docker.DockerClient, candidate: Candidate) -> None:
    """Remove one container or image candidate (already gone is fine)."""
    try:
        if candidate.kind == "container":
            client.containers.get(candidate.name).remove(force=True)
        elif candidate.kind == "image":
            client.images.remove(candidate.name, noprune=False)
    except docker.errors.NotFound:
        pass


