"""Cleanup users can run and trust: what the harness built or left behind, by age or disk budget.

    python -m pytest_ohbench.tools.prune --older-than 7d --dry-run
    python -m pytest_ohbench.tools.prune --images-budget 20G --reports reports

Removes, never touching what a running session uses:
- containers of runs whose controller process is gone (label `ohbench.controller`);
- images the harness built (label `ohbench.content_hash`: task builds, agent layers) that no
  container uses, older than `--older-than`, or the oldest first until the built images fit
  in `--images-budget`;
- run folders under `--reports` older than `--older-than`, except `latest`'s target and
  folders whose session is still running (their `.controller` process is alive);
- the OpenHands wheelhouse cache folders older than `--older-than` (with `--caches`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import docker
import docker.errors
import docker.utils

from pytest_ohbench.agents.openhands.install import cache_dir
from pytest_ohbench.report.run_folder import IN_USE_FILE, LATEST_LINK, RESULTS_FILE
from pytest_ohbench.runtime.docker.images import HASH_LABEL
from pytest_ohbench.runtime.docker.runtime import CONTROLLER_LABEL, RUN_LABEL, docker_client, is_alive


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


def _controller_alive(owner: str) -> bool:
    """True unless `owner` (<host>:<pid>) names a process on this host that is gone."""
    host, _, pid = owner.strip().rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host's session: not ours to judge
    return is_alive(int(pid))


def container_candidates(client: docker.DockerClient, run: str | None = None) -> list[Candidate]:
    """Labelled containers (of run `run` only, if given) whose controller is gone."""
    found = []
    label = f"{RUN_LABEL}={run}" if run else RUN_LABEL
    # ignore_removed: a container another run removes while this lists is not an error.
    for container in client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
        owner = (container.labels or {}).get(CONTROLLER_LABEL, "")
        if owner and not _controller_alive(owner):
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


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def run_candidates(reports: Path, older_than: float) -> list[Candidate]:
    """Run folders past the age, except `latest` and folders of sessions still running."""
    if not reports.is_dir():
        return []
    latest = (reports / LATEST_LINK).resolve() if (reports / LATEST_LINK).is_symlink() else None
    found = []
    for folder in sorted(p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()):
        if folder.resolve() == latest or not (folder / RESULTS_FILE).exists():
            continue
        marker = folder / IN_USE_FILE
        if marker.is_file() and _controller_alive(marker.read_text(encoding="utf-8")):
            continue
        age = time.time() - (folder / RESULTS_FILE).stat().st_mtime
        if age >= older_than:
            found.append(Candidate("run", str(folder), _folder_size(folder), f"last written {age / 86400:.1f} days ago"))
    return found


def cache_candidates(older_than: float) -> list[Candidate]:
    """Wheelhouse folders in the harness cache past the age (a lock file beside one is its build)."""
    root = cache_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        age = time.time() - folder.stat().st_mtime
        if age >= older_than:
            found.append(Candidate("cache", str(folder), _folder_size(folder), f"unused for {age / 86400:.1f} days"))
    return found


def remove(client: docker.DockerClient, candidate: Candidate) -> None:
    """Remove one candidate (already gone is fine)."""
    try:
        if candidate.kind == "container":
            client.containers.get(candidate.name).remove(force=True)
        elif candidate.kind == "image":
            client.images.remove(candidate.name, noprune=False)
        else:
            shutil.rmtree(candidate.name, ignore_errors=True)
    except docker.errors.NotFound:
        pass


def duration(value: str) -> float:
    """argparse type: 30m, 12h, 7d (or plain seconds) in seconds."""
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if value and value[-1] in scale:
            return float(value[:-1]) * scale[value[-1]]
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 12h or 7d, got {value!r}") from None


def size(value: str) -> int:
    """argparse type: 20G, 500M, ... in bytes."""
    try:
        return int(docker.utils.parse_bytes(value))
    except docker.errors.DockerException:
        raise argparse.ArgumentTypeError(f"expected a size like 20G, got {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """The prune command: list (and unless --dry-run remove) what is no longer needed."""
    parser = argparse.ArgumentParser(prog="python -m pytest_ohbench.tools.prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--older-than", type=duration, default=None, help="age past which images, runs, caches go (e.g. 7d)")
    parser.add_argument("--images-budget", type=size, default=None, help="keep the built images within this size (e.g. 20G)")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="the folder of run folders (default: reports)")
    parser.add_argument("--run", default=None, help="only the images and containers this run id made")
    parser.add_argument("--caches", action="store_true", help="also the OpenHands wheelhouse caches past --older-than")
    parser.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    args = parser.parse_args(argv)
    try:
        client = docker_client()
    except Exception as exc:  # the SDK raises several types for "no engine"
        print(f"prune: Docker engine unreachable ({str(exc).splitlines()[0][:160]})", file=sys.stderr)
        return 2
    candidates = container_candidates(client, args.run) + image_candidates(
        client, args.older_than, args.images_budget, args.run
    )
    if args.older_than is not None:
        candidates += run_candidates(args.reports, args.older_than)
        if args.caches:
            candidates += cache_candidates(args.older_than)
    for candidate in candidates:
        if not args.dry_run:
            remove(client, candidate)
        verb = "would remove" if args.dry_run else "removed"
        print(f"{verb} {candidate.kind} {candidate.name} ({candidate.size_bytes / 2**20:.1f} MiB): {candidate.reason}")
    freed = sum(c.size_bytes for c in candidates)
    print(f"prune: {len(candidates)} {'to remove' if args.dry_run else 'removed'}, {freed / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
