"""The prune command against a real engine: what it removes, and what it must keep."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from pytest_ohbench.report.run_folder import IN_USE_FILE
from pytest_ohbench.runtime.docker.images import HASH_LABEL
from pytest_ohbench.runtime.docker.runtime import CONTROLLER_LABEL, RUN_LABEL
from pytest_ohbench.tools.prune import duration, main, size

pytestmark = pytest.mark.docker


def _built_image(client: docker.DockerClient, base: str, run: str, name: str) -> docker.models.images.Image:
    """A tiny image labelled as the harness labels its builds, made by committing a container."""
    container = client.containers.run(base, ["true"], detach=True, network_mode="none")
    container.wait()
    labels = {HASH_LABEL: uuid.uuid4().hex, "ohbench.run_id": run, "ohbench.kind": "task"}
    image = container.commit(repository=f"ohbench-build/prune-test-{name}", tag=run, conf={"Labels": labels})
    container.remove()
    return image


def _exists(client: docker.DockerClient, image_id: str) -> bool:
    try:
        client.images.get(image_id)
        return True
    except docker.errors.ImageNotFound:
        return False


def test_prune_removes_unused_builds_and_keeps_what_is_in_use(
    docker_client: docker.DockerClient, base_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = f"prune-{uuid.uuid4().hex[:8]}"
    unused = _built_image(docker_client, base_image, run, "unused")
    in_use = _built_image(docker_client, base_image, run, "in-use")
    dead = subprocess.Popen(["true"])
    dead.wait()
    user = docker_client.containers.run(in_use.id, ["sleep", "infinity"], detach=True, network_mode="none",
                                        labels={RUN_LABEL: run, CONTROLLER_LABEL: f"{socket.gethostname()}:{os.getpid()}"})
    orphan = docker_client.containers.run(base_image, ["sleep", "infinity"], detach=True, network_mode="none",
                                          labels={RUN_LABEL: run, CONTROLLER_LABEL: f"{socket.gethostname()}:{dead.pid}"})
    try:
        assert main(["--run", run, "--older-than", "0s", "--dry-run"]) == 0
        listed = capsys.readouterr().out
        assert f"would remove image ohbench-build/prune-test-unused:{run}" in listed
        assert "prune-test-in-use" not in listed and orphan.name in listed and user.name not in listed
        assert _exists(docker_client, unused.id), "a dry run removes nothing"
        assert main(["--run", run, "--older-than", "0s"]) == 0
        assert not _exists(docker_client, unused.id)
        assert _exists(docker_client, in_use.id), "an image a container uses is kept"
        assert orphan.id not in {c.id for c in docker_client.containers.list(all=True)}
        user.reload()
        assert user.status == "running", "a live controller's container is kept"
    finally:
        for container in (user, orphan):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
        for image in (unused, in_use):
            if _exists(docker_client, image.id):
                docker_client.images.remove(image.id, force=True)


def test_prune_by_budget_removes_the_oldest_first(docker_client: docker.DockerClient, base_image: str) -> None:
    run = f"prune-{uuid.uuid4().hex[:8]}"
    older = _built_image(docker_client, base_image, run, "older")
    time.sleep(1.1)  # Created has second resolution in some engines
    newer = _built_image(docker_client, base_image, run, "newer")
    try:
        one = int(newer.attrs["Size"])
        assert main(["--run", run, "--images-budget", str(one + one // 2)]) == 0
        assert not _exists(docker_client, older.id) and _exists(docker_client, newer.id)
    finally:
        for image in (older, newer):
            if _exists(docker_client, image.id):
                docker_client.images.remove(image.id, force=True)


def test_prune_run_folders_by_age_keeps_latest_and_running(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    reports = tmp_path / "reports"
    old, latest, running = (reports / name for name in ("old", "newest", "running"))
    for folder in (old, latest, running):
        folder.mkdir(parents=True)
        (folder / "results.jsonl").write_text("{}\n")
        week_ago = time.time() - 8 * 86400
        os.utime(folder / "results.jsonl", (week_ago, week_ago))
    (reports / "latest").symlink_to("newest")
    (running / IN_USE_FILE).write_text(f"{socket.gethostname()}:{os.getpid()}")
    assert main(["--reports", str(reports), "--older-than", "7d", "--run", "no-such-run"]) == 0
    assert not old.exists() and latest.exists() and running.exists()


def test_prune_option_values_are_checked() -> None:
    assert duration("7d") == 7 * 86400 and duration("30m") == 1800 and duration("5") == 5
    assert size("1G") == 2**30
    result = subprocess.run([sys.executable, "-m", "pytest_ohbench.tools.prune", "--older-than", "soon"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "expected a duration like 12h or 7d, got 'soon'" in result.stderr
