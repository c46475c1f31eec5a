"""Resolve a task's image: its own or the suite's name, a tar, a pull, or a cached build."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
from pathlib import Path

import docker
import docker.errors
from filelock import FileLock

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.failures import IMAGE_PULL, OOM_BUILD
from pytest_ohbench.core.machine import LOCK_DIR
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.suite import ImageSettings, SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.runtime.docker.image_tars import load_from_folder, tar_index, with_prefix

BUILD_REPOSITORY = "ohbench-build"
HASH_LABEL = "ohbench.content_hash"  # on every image the harness builds: what prune may remove
MADE_BY_LABELS = ("ohbench.suite", "ohbench.run_id", "ohbench.kind")  # who built it, for people and prune
DOCKERFILE_NAME = ".ohbench.Dockerfile"


@dataclasses.dataclass
class ResolvedImage:
    """The image a task runs in and how it was obtained (local, load, pull, build, cached)."""

    name: str
    source: str
    id: str | None = None  # the image's id when it was read on the way (saves the caller a request)


# Builds this process already resolved: (engine, context, Dockerfile, args, repository) -> the
# files' sizes and times when it was resolved, and the image. A suite's items share one build;
# hashing its context's bytes and asking the engine again for every item cost tens of
# milliseconds of each item's critical path. Within one run the image stays (prune never
# removes what a running session uses); a changed file means a new hash, as before.
_BUILT: dict[tuple[str, str, str, tuple[tuple[str, str], ...], str], tuple[list[tuple[str, int, int, int]], ResolvedImage]] = {}


def _fingerprint(context: Path, dockerfile: Path) -> list[tuple[str, int, int, int]]:
    """Each build input's name, size, modification time and mode: cheap to read, changes with the file."""
    stats = []
    for path in [dockerfile, *_context_files(context)]:
        info = path.stat()
        stats.append((str(path), info.st_size, info.st_mtime_ns, info.st_mode))
    return stats


def _render(template: str, task: Task, what: str) -> str:
    try:
        return template.format(**task.template_fields())
    except (KeyError, IndexError, ValueError) as exc:
        raise HarnessError(
            Outcome.BUILD_ERROR, f"{task.location}: cannot fill {what} template {template!r}: {exc!r}"
        ) from None


def _exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def _context_files(context: Path) -> list[Path]:
    """Files sent to the build, sorted; Python caches are left out."""
    return sorted(
        p for p in context.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def _context_hash(context: Path, dockerfile: Path, build_args: dict[str, str], base_id: str) -> str:
    """Hash of everything a build depends on: files (paths, modes, bytes), args, base image."""
    digest = hashlib.sha256()
    digest.update(dockerfile.read_bytes())
    digest.update(repr(sorted(build_args.items())).encode())
    digest.update(base_id.encode())
    for path in _context_files(context):
        digest.update(str(path.relative_to(context)).encode())
        digest.update(oct(path.stat().st_mode & 0o111).encode())  # git keeps only the x bit
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _context_tar(context: Path, dockerfile: Path) -> io.BytesIO:
    """The build context as a tar, with the Dockerfile inside under a name COPY ignores.

    Made by hand because the SDK, for a Dockerfile outside the context, rewrites the
    context's .dockerignore, and a `COPY .` then copies that rewritten file.
    """
    ignore = context / ".dockerignore"
    patterns = ignore.read_text() if ignore.is_file() else ""
    extra = {DOCKERFILE_NAME: dockerfile.read_bytes(), ".dockerignore": f"{patterns}\n{DOCKERFILE_NAME}\n.dockerignore\n".encode()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in _context_files(context):
            name = str(path.relative_to(context))
            if name in extra:
                continue
            info = archive.gettarinfo(str(path), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as handle:
                archive.addfile(info, handle)
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_cached(
    client: docker.DockerClient,
    context: Path,
    dockerfile: Path,
    build_args: dict[str, str],
    repository: str,
    labels: dict[str, str] | None = None,
) -> ResolvedImage:
    """Build once per content hash (files, Dockerfile, args, base image id), across workers.

    The tag is `<repository>:<hash>`; a build that exists is reused, and a file lock keeps
    parallel xdist workers from building the same thing twice. `labels` (which suite and run
    made it) are not part of the hash: the first build's stay.
    """
    key = (str(client.api.base_url), str(context), str(dockerfile), tuple(sorted(build_args.items())), repository)
    fingerprint = _fingerprint(context, dockerfile)
    if key in _BUILT and _BUILT[key][0] == fingerprint:
        return _BUILT[key][1]
    try:
        base_id = client.images.get(build_args["BASE_IMAGE"]).id
    except docker.errors.ImageNotFound:
        raise HarnessError(
            Outcome.BUILD_ERROR,
            f"base image {build_args['BASE_IMAGE']} not found (run scripts/bootstrap.sh to create it)",
        ) from None
    content_hash = _context_hash(context, dockerfile, build_args, base_id or "")
    tag = f"{repository}:{content_hash}"
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with FileLock(str(LOCK_DIR / f"{content_hash}.lock")):
        try:
            found: ResolvedImage | None = ResolvedImage(tag, "cached", client.images.get(tag).id)
        except docker.errors.ImageNotFound:
            found = None
        if found is not None:
            _BUILT[key] = (fingerprint, found)
            return found
        try:
            built, _ = client.images.build(
                fileobj=_context_tar(context, dockerfile),
                custom_context=True,
                dockerfile=DOCKERFILE_NAME,
                tag=tag,
                buildargs=build_args,
                labels={**(labels or {}), HASH_LABEL: content_hash},
                rm=True,
                forcerm=True,
                network_mode="none",
            )
        except docker.errors.BuildError as exc:
            tail = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)[-400:]
            last = [line for line in tail.splitlines() if line.strip()][-1:] or [str(exc)]
            # A step killed with SIGKILL (137): the kernel's OOM killer, as far as a build log tells.
            killed = OOM_BUILD if "code: 137" in last[0] or "exit code: 137" in str(exc) else ""
            raise HarnessError(Outcome.BUILD_ERROR, f"build of {tag} failed: {last[0]}", killed) from None
    _BUILT[key] = (fingerprint, ResolvedImage(tag, "cached", built.id))
    return ResolvedImage(tag, "build", built.id)


def build_image(
    client: docker.DockerClient, task: Task, suite: SuiteConfig, labels: dict[str, str] | None = None
) -> ResolvedImage:
    """Build the suite's Dockerfile for `task` (once per content hash)."""
    settings: ImageSettings = suite.image
    assert settings.dockerfile
    dockerfile = (suite.root / settings.dockerfile).resolve()
    context = (suite.root / _render(settings.context, task, "image.context")).resolve()
    if not dockerfile.is_file():
        raise HarnessError(Outcome.BUILD_ERROR, f"{suite.root}/suite.yaml: Dockerfile {dockerfile} not found")
    if not context.is_dir():
        raise HarnessError(Outcome.BUILD_ERROR, f"{task.location}: build context {context} is not a directory")
    build_args = {k: _render(v, task, f"image.build_args.{k}") for k, v in settings.build_args.items()}
    build_args.setdefault("BASE_IMAGE", settings.base)
    repository = f"{BUILD_REPOSITORY}/{suite.name.lower()}-{context.name.lower()}"
    made_by = {"ohbench.suite": suite.name, "ohbench.kind": "task", **(labels or {})}
    return build_cached(client, context, dockerfile, build_args, repository, made_by)


def resolve_image(
    client: docker.DockerClient,
    task: Task,
    suite: SuiteConfig,
    labels: dict[str, str] | None = None,
    prefix: str | None = None,
    tar_folder: Path | None = None,
) -> ResolvedImage:
    """The image for `task`: local name, else `docker load` a tar (the folder's, the suite's), else pull, else build.

    `prefix` replaces the Multi-SWE-bench namespace of the name (--ohbench-image-prefix);
    `tar_folder` is a folder of image tars loaded on demand (--ohbench-image-tars).
    """
    settings = suite.image
    name = task.image or (_render(settings.template, task, "image.template") if settings.template else None)
    name = with_prefix(name, prefix) if name else name
    if name and _exists(client, name):
        return ResolvedImage(name, "local")
    if name and tar_folder is not None and load_from_folder(client, tar_folder, name, LOCK_DIR) and _exists(client, name):
        return ResolvedImage(name, "load")
    if name and settings.tar:
        tar = suite.root / _render(settings.tar, task, "image.tar")
        if tar.is_file():
            with tar.open("rb") as handle:
                client.images.load(handle)
            if _exists(client, name):
                return ResolvedImage(name, "load")
    pull_error = ""
    if name and settings.pull and os.environ.get("OHBENCH_NO_PULL") != "1":
        try:
            client.images.pull(name)
            return ResolvedImage(name, "pull")
        except docker.errors.APIError as exc:
            pull_error = f"; pull failed: {str(exc.explanation or exc).splitlines()[0]}"
    if settings.dockerfile:
        return build_image(client, task, suite, labels)
    raise HarnessError(
        Outcome.BUILD_ERROR,
        f"{task.location}: no image for {task.instance_id}: {name or 'no image name'} is not local"
        f"{pull_error}, and the suite has no Dockerfile to build",
        IMAGE_PULL if pull_error else "",
    )


def image_problem(
    client: docker.DockerClient,
    task: Task,
    suite: SuiteConfig,
    prefix: str | None = None,
    tar_folder: Path | None = None,
) -> str | None:
    """Why `resolve_image` could not get the task's image here, or None when it could: the
    same order (local, a tar, a pull, a build), without loading, pulling or building anything.

    A pull is taken as possible when the suite allows one (the registry is asked only at
    the item's turn); a build needs its Dockerfile, its context and its base image here.
    """
    settings = suite.image
    where = (f"{task.source_file}:{task.source_line}" if task.source_line else task.source_file) or task.location
    where = f"{where} ({task.instance_id})"
    try:
        name = task.image or (_render(settings.template, task, "image.template") if settings.template else None)
        name = with_prefix(name, prefix) if name else name
        if name and _exists(client, name):
            return None
        if name and tar_folder is not None and name in tar_index(tar_folder.resolve()):
            return None
        if name and settings.tar and (suite.root / _render(settings.tar, task, "image.tar")).is_file():
            return None
        if name and settings.pull and os.environ.get("OHBENCH_NO_PULL") != "1":
            return None
        if settings.dockerfile:
            dockerfile = (suite.root / settings.dockerfile).resolve()
            context = (suite.root / _render(settings.context, task, "image.context")).resolve()
            base = _render(settings.build_args.get("BASE_IMAGE", settings.base), task, "image.build_args.BASE_IMAGE")
            if not dockerfile.is_file():
                return f"{suite.root}/suite.yaml: Dockerfile {dockerfile} not found"
            if not context.is_dir():
                return f"{where}: build context {context} is not a directory"
            if not _exists(client, base):
                return f"{where}: base image {base} of the build is not here (run scripts/bootstrap.sh, or pull it)"
            return None
    except HarnessError as exc:
        return exc.message
    how = "no tar holds it, pulls are off" if name else "the suite names no image"
    return f"{where}: {name or 'no image'} is not here ({how}) and the suite has no Dockerfile to build"
