"""Shared test helpers: a Docker engine gate that fails (not skips) under CI."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Runner demo projects whose tests fail on purpose (their output is parser test data).
collect_ignore = ["data"]
# pytester gives each test run its own HOME: keep the OpenHands wheelhouse in one shared
# cache (subprocesses inherit this) so it is downloaded once, not per test.
os.environ.setdefault("OHBENCH_CACHE_DIR", str(Path.home() / ".cache" / "pytest-ohbench"))
EXAMPLES_SWE = REPO_ROOT / "suites" / "examples" / "swe"
BASE_IMAGE = os.environ.get("OHBENCH_BASE_IMAGE", "ohbench/base:trixie")


def _unavailable(reason: str) -> None:
    """Skip on a developer machine without Docker; fail under CI, where it must run."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason} (run scripts/bootstrap.sh)", pytrace=False)
    pytest.skip(reason)


def interruptible() -> None:
    """`preexec_fn` of a subprocess a test interrupts: SIGINT back to its default action.

    A run started in the background (`pytest tests &`) ignores SIGINT, and children inherit
    that, so Ctrl-C would never reach them.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_output(client: docker.DockerClient, image: str, command: list[str], **options: object) -> bytes:
    """What `command` prints in a throw-away container with no network.

    Not containers.run(remove=True): under load docker-py can read the logs after the
    removal began and get nothing back.
    """
    container = client.containers.run(image, command, detach=True, network_mode="none", **options)
    try:
        status = container.wait(timeout=120)["StatusCode"]
        output: bytes = container.logs()
        assert status == 0, f"{command} exited {status} in {image}: {output[-500:]!r}"
        return output
    finally:
        container.remove(force=True)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A live Docker client; skips (fails under CI) when no engine answers."""
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # any way of "no engine"
        _unavailable(f"no Docker engine answers: {str(exc).splitlines()[0][:120]}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The base image the bundled suites build on (made by scripts/bootstrap.sh)."""
    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"base image {BASE_IMAGE} is missing")
    return BASE_IMAGE


@pytest.fixture
def swe_suite(pytester: pytest.Pytester) -> Path:
    """A copy of the bundled SWE example suite inside the pytester folder."""
    target = pytester.path / "suites" / "swe"
    shutil.copytree(EXAMPLES_SWE, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return target


OLD_DEBIAN = "ohbench/base:bookworm"  # Python 3.11: below what OpenHands needs
NO_PYTHON = "ohbench/base:bookworm-nopython"


@pytest.fixture(scope="session")
def old_debian_images(docker_client: docker.DockerClient, base_image: str) -> tuple[str, str]:
    """Task base images from Debian bookworm: one with its Python 3.11, one with no Python at all (made once)."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "debian_image.sh"), OLD_DEBIAN, "bookworm", "python3,python3-pytest,git,patch"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        _unavailable(f"cannot make {OLD_DEBIAN}: {result.stderr.strip()[-300:]}")
    try:
        docker_client.images.get(NO_PYTHON)
    except docker.errors.ImageNotFound:
        dockerfile = f"FROM {OLD_DEBIAN}\nRUN rm -rf /usr/bin/python3* /usr/lib/python3* /usr/lib/python3.*\n"
        docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=NO_PYTHON, rm=True, network_mode="none")
    return OLD_DEBIAN, NO_PYTHON
