"""The Docker runtime and image builds against a real engine (fail, not skip, under CI)."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from conftest import run_output

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.suite import ImageSettings, SuiteConfig
from pytest_ohbench.core.task import PatchTestsSpec, Task
from pytest_ohbench.runtime.docker.images import BUILD_REPOSITORY, ResolvedImage, resolve_image
from pytest_ohbench.runtime.docker.runtime import INSTANCE_LABEL, RUN_LABEL, DockerRuntime, remove_run_containers

pytestmark = pytest.mark.docker


@pytest.fixture
def runtime(docker_client: docker.DockerClient, base_image: str) -> DockerRuntime:
    started = DockerRuntime.start(
        docker_client, base_image, run_id="test-runtime", instance_id="demo__x-1", workdir="/tmp", memory="256m", cpus=0.5
    )
    yield started
    started.remove()


def test_container_has_labels_limits_and_no_network(runtime: DockerRuntime) -> None:
    runtime.container.reload()
    attrs = runtime.container.attrs
    assert attrs["Config"]["Labels"][RUN_LABEL] == "test-runtime"
    assert attrs["Config"]["Labels"][INSTANCE_LABEL] == "demo__x-1"
    assert attrs["HostConfig"]["NetworkMode"] == "none"
    assert attrs["HostConfig"]["Memory"] == 256 * 1024 * 1024
    assert attrs["HostConfig"]["NanoCpus"] == 500_000_000
    result = runtime.execute("cat /sys/class/net/*/operstate 2>/dev/null | sort | tr '\\n' ' '; ls /sys/class/net")
    assert result.output.split()[-1] == "lo"  # only loopback exists


def test_execute_output_exit_code_and_timeout(runtime: DockerRuntime) -> None:
    result = runtime.execute("echo out; echo err >&2; exit 3")
    assert result.exit_code == 3 and "out" in result.output and "err" in result.output and not result.timed_out
    slow = runtime.execute("sleep 30", timeout=1)
    assert slow.timed_out and slow.duration < 10
    assert runtime.execute("pwd", cwd="/etc").output.strip() == "/etc"
    assert runtime.execute("echo $GREETING", env={"GREETING": "hi"}).output.strip() == "hi"


def test_files_in_and_out(runtime: DockerRuntime) -> None:
    runtime.write_file("/tmp/hello.txt", "héllo\n")
    assert runtime.read_file("/tmp/hello.txt") == "héllo\n".encode()
    runtime.write_file("/tmp/run.sh", "echo ran", mode=0o755)
    assert runtime.execute("/tmp/run.sh").output.strip() == "ran"
    with pytest.raises(FileNotFoundError):
        runtime.read_file("/tmp/missing")


def test_sweep_removes_only_this_sessions_containers_of_its_run(docker_client: docker.DockerClient, base_image: str) -> None:
    def start(run_id: str, name: str, controller: str = "host:1") -> DockerRuntime:
        return DockerRuntime.start(docker_client, base_image, run_id=run_id, instance_id=name, workdir="/", controller=controller)

    mine = [start("sweep-me", f"i{n}") for n in range(2)]
    other = start("keep-me", "o")
    # Another live session that was given the same run id: its containers are its own.
    twin = start("sweep-me", "twin", controller="host:2")
    try:
        assert remove_run_containers(docker_client, "sweep-me", "host:1") == 2
        assert [c.name for c in docker_client.containers.list(all=True, filters={"label": f"{RUN_LABEL}=sweep-me"})] == [twin.name]
        for kept in (other, twin):
            kept.container.reload()
            assert kept.container.status == "running"
        assert remove_run_containers(docker_client, "sweep-me") == 1  # no controller named: the whole run
    finally:
        for runtime in (other, twin, *mine):
            runtime.remove()


def _build_suite(tmp_path: Path, marker: str) -> SuiteConfig:
    (tmp_path / "repos" / "demo").mkdir(parents=True, exist_ok=True)
    (tmp_path / "repos" / "demo" / "README").write_text(marker)
    (tmp_path / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY . /testbed\n")
    return SuiteConfig(
        root=tmp_path, name="unit", image=ImageSettings(pull=False, dockerfile="Dockerfile", context="repos/{repo_name}")
    )


def test_build_once_per_content_hash(tmp_path: Path, docker_client: docker.DockerClient, base_image: str) -> None:
    task = Task(instance_id="org__demo-1", kind="swe", repo="org/demo", base_commit="HEAD", prompt="", check=PatchTestsSpec())
    first = resolve_image(docker_client, task, _build_suite(tmp_path, "one"))
    again = resolve_image(docker_client, task, _build_suite(tmp_path, "one"))
    changed = resolve_image(docker_client, task, _build_suite(tmp_path, "two"))
    try:
        assert first.source == "build" or first.source == "cached"
        assert (again.name, again.source) == (first.name, "cached")
        assert again.id == docker_client.images.get(first.name).id
        assert changed.name != first.name and changed.name.startswith(f"{BUILD_REPOSITORY}/unit-demo:")
        assert run_output(docker_client, changed.name, ["cat", "/testbed/README"]) == b"two"
    finally:
        for name in {first.name, changed.name}:
            docker_client.images.remove(name, force=True)


def test_missing_image_without_dockerfile_is_a_build_error(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    suite = SuiteConfig(root=tmp_path, name="unit", image=ImageSettings(template="ohbench-absent/{instance_id}:v1", pull=False))
    task = Task(instance_id="x-1", kind="swe", repo="o/x", base_commit="HEAD", prompt="", check=PatchTestsSpec(), source_file="d.jsonl", source_line=3)
    with pytest.raises(HarnessError, match=r"d.jsonl:3: no image for x-1: ohbench-absent/x-1:v1 is not local.*no Dockerfile"):
        resolve_image(docker_client, task, suite)


def test_local_image_then_docker_load_from_the_suite_tar(
    tmp_path: Path, docker_client: docker.DockerClient, base_image: str
) -> None:
    task = Task(instance_id="org__demo-7", kind="swe", repo="org/demo", base_commit="HEAD", prompt="", check=PatchTestsSpec())
    local = SuiteConfig(root=tmp_path, name="unit", image=ImageSettings(template=base_image, pull=False))
    assert resolve_image(docker_client, task, local).source == "local"
    name = "ohbench-test-load/org__demo-7:v1"
    docker_client.images.get(base_image).tag(name)
    with (tmp_path / "images.tar").open("wb") as handle:
        for chunk in docker_client.images.get(name).save(named=True):
            handle.write(chunk)
    docker_client.images.remove(name)
    suite = SuiteConfig(
        root=tmp_path, name="unit",
        image=ImageSettings(template="ohbench-test-load/{instance_id}:v1", tar="images.tar", pull=False),
    )
    try:
        assert resolve_image(docker_client, task, suite) == ResolvedImage(name, "load")
    finally:
        docker_client.images.remove(name, force=True)


@pytest.mark.parametrize("inline", [True, False], ids=["with-the-output", "as-a-file"])
def test_the_agents_diff_comes_back_whole(runtime: DockerRuntime, monkeypatch: pytest.MonkeyPatch, inline: bool) -> None:
    """The agent's diff as git wrote it, whether it comes back with the command's output or
    (too big for that) as a file: a new binary file, a line without its newline, CRLF lines,
    a committed change, git's warnings kept out, the marker not in it."""
    from pytest_ohbench.runtime import workspace

    if not inline:
        monkeypatch.setattr(workspace, "INLINE_DIFF_LIMIT", 10)
    setup = (
        "set -e; mkdir -p /tmp/repo && cd /tmp/repo && git init -q && git config user.email t@t && git config user.name t; "
        "printf 'a\\nb\\n' > keep.txt; printf 'x\\r\\ny\\r\\n' > dos.txt; git add -A; git commit -qm base; "
        "printf 'a\\nB' > keep.txt; printf 'x\\r\\nY\\r\\n' > dos.txt; printf 'bin\\0ary\\377\\376' > blob.bin; head -c 300 /dev/urandom >> blob.bin; "
        "git config core.autocrlf true; echo later > later.txt; git add later.txt; git commit -qm agent"
    )
    assert runtime.execute(setup).exit_code == 0
    base = runtime.execute("git rev-parse HEAD~1", cwd="/tmp/repo").output.strip()
    runtime.workdir = "/tmp/repo"
    patch = workspace.extract_patch(runtime, base)
    written = runtime.read_file(workspace.DIFF_PATH).decode("utf-8", errors="replace")
    assert patch == written
    assert "GIT binary patch" in patch and "\\ No newline at end of file" in patch and "+Y\r\n" in patch
    assert "+later" in patch and "warning" not in patch.split("diff --git", 1)[0]
    # It applies to the base as git wrote it.
    check = runtime.execute(
        f"cd /tmp && rm -rf copy && git clone -q repo copy && cd copy && git checkout -q {base} && "
        f"git -c core.autocrlf=false apply --binary {workspace.DIFF_PATH} && cat blob.bin | wc -c && cat later.txt"
    )
    assert check.exit_code == 0 and check.output.split()[-2:] == ["309", "later"], check.output
