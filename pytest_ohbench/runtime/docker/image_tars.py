"""A folder of `docker save` tars (as Multi-SWE-bench images are shipped), loaded on demand.

Each tar's manifest.json names the tags it holds; the folder is indexed once per process
(reading only those small members) and a tar is `docker load`ed the first time a task needs
one of its images, under a file lock so xdist workers load it once.
"""

from __future__ import annotations

import json
import tarfile
from functools import cache
from pathlib import Path

import docker
from filelock import FileLock

from pytest_ohbench.core.task import PREFIXED_IMAGE_NAMESPACE as IMAGE_NAMESPACE


def _tags(path: Path) -> list[str]:
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile("manifest.json")
            manifest = json.loads(member.read()) if member else []
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError):
        return []  # not an image tar
    return [tag for entry in manifest if isinstance(entry, dict) for tag in entry.get("RepoTags") or []]


@cache
def tar_index(folder: Path) -> dict[str, Path]:
    """Image tag -> the tar in `folder` that holds it (`name:latest` also under `name`)."""
    index: dict[str, Path] = {}
    for path in sorted(folder.glob("*.tar")):
        for tag in _tags(path):
            index[tag] = path
            if tag.endswith(":latest"):
                index[tag.rsplit(":", 1)[0]] = path
    return index


def load_from_folder(client: docker.DockerClient, folder: Path, name: str, lock_dir: Path) -> bool:
    """`docker load` the tar of `folder` holding `name`; False when none holds it."""
    path = tar_index(folder.resolve()).get(name)
    if path is None:
        return False
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_dir / f"load-{path.name}.lock")):
        try:
            client.images.get(name)
            return True  # another worker loaded it meanwhile
        except docker.errors.ImageNotFound:
            pass
        with path.open("rb") as handle:
            client.images.load(handle)
    return True


def with_prefix(name: str, prefix: str | None) -> str:
    """`name` with the harness's image namespace (`mswebench/`) replaced by `prefix`.

    Like EVAL_DOCKER_IMAGE_PREFIX: `--ohbench-image-prefix registry.example/team` turns
    `mswebench/org_m_repo:pr-1` into `registry.example/team/org_m_repo:pr-1`.
    """
    if not prefix or not name.startswith(f"{IMAGE_NAMESPACE}/"):
        return name
    return f"{prefix.rstrip('/')}/{name[len(IMAGE_NAMESPACE) + 1:]}"
