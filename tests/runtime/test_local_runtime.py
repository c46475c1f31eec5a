"""The local runtime: a host folder behind the Runtime protocol, and the same behaviour as a container."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import PatchTestsSpec, Task
from pytest_ohbench.runtime.base import host_path
from pytest_ohbench.runtime.docker.runtime import DockerRuntime
from pytest_ohbench.runtime.local import LocalRuntime, start_local


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime.start(run_id="t", instance_id="demo/1 x", workdir="/workspace", base=tmp_path)
    yield runtime
    runtime.remove()


def test_the_folder_stands_for_the_container_root(local: LocalRuntime, tmp_path: Path) -> None:
    assert local.root.parent == tmp_path and local.root.name.startswith("ohbench-t-demo-1-x-")
    assert local.workdir == f"{local.root}/workspace" and Path(local.workdir).is_dir()
    assert local.path("/ohbench/check/a.py") == f"{local.root}/ohbench/check/a.py"
    assert local.path("/../../etc/passwd") == f"{local.root}/etc/passwd"  # never above the root
    assert local.path("out/x.csv") == f"{local.workdir}/out/x.csv"
    assert local.path(f"{local.workdir}/x") == f"{local.workdir}/x"
    assert host_path(local, "/tmp/p.md") == f"{local.root}/tmp/p.md"


def test_execute(local: LocalRuntime) -> None:
    result = local.execute("echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.timed_out) == (3, False) and "out" in result.output and "err" in result.output
    assert local.execute("pwd").output.strip() == local.workdir
    local.write_file("sub/keep.txt", "x")
    assert local.execute("pwd", cwd="sub").output.strip() == f"{local.workdir}/sub"
    assert local.execute("echo $GREETING:$OHBENCH_ROOT", env={"GREETING": "hi"}).output.strip() == f"hi:{local.root}"


def test_a_timeout_kills_the_whole_process_group(local: LocalRuntime) -> None:
    started = time.monotonic()
    result = local.execute("sleep 60 & echo $! > child.pid; wait", timeout=1)
    assert result.timed_out and result.exit_code == 124 and time.monotonic() - started < 10
    child = int(Path(local.workdir, "child.pid").read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists(), "the background child survived the timeout"


def test_files(local: LocalRuntime, tmp_path: Path) -> None:
    local.write_file("/ohbench/check/run.sh", "echo ran", mode=0o755)
    assert (local.root / "ohbench" / "check" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert local.execute('"$OHBENCH_ROOT/ohbench/check/run.sh"').output.strip() == "ran"
    assert local.read_file("/ohbench/check/run.sh") == b"echo ran"
    with pytest.raises(FileNotFoundError):
        local.read_file("/nope")
    source = tmp_path / "src"
    (source / "deep").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "deep" / "b.txt").write_text("b")
    local.write_tree("/data", source)
    local.write_tree("/single", source / "a.txt")
    assert local.read_tree("/data") == {"a.txt": b"a", "deep/b.txt": b"b"}
    assert local.read_tree("/single") == {"a.txt": b"a"}
    assert local.read_tree("/missing") == {}


def test_remove_deletes_the_folder(tmp_path: Path) -> None:
    runtime = LocalRuntime.start(run_id="t", instance_id="x", workdir="/w", base=tmp_path)
    runtime.write_file("/a/b", "c")
    runtime.remove()
    assert not runtime.root.exists()


def test_tasks_that_need_their_image_are_refused() -> None:
    suite = SuiteConfig(root=Path("."), name="s")
    swe = Task(instance_id="x", kind="swe", prompt="p", check=PatchTestsSpec(), source_file="d.jsonl", source_line=3)
    with pytest.raises(HarnessError, match="a swe task needs its image: the local runtime runs gittaskbench and prompt"):
        start_local(swe, suite, "run")


def script(runtime) -> list:
    """The same operations on either runtime; what they return, with the runtime's paths taken out."""
    outputs = []
    runtime.write_file("/tmp/ohb/in.txt", "line1\nline2\n")
    outputs.append(runtime.read_file("/tmp/ohb/in.txt"))
    outputs.append(runtime.execute(f"wc -l < {host_path(runtime, '/tmp/ohb/in.txt')}").output.strip())
    outputs.append(runtime.execute("printf x > made.txt; cat made.txt; exit 4").exit_code)
    outputs.append(runtime.read_file(f"{runtime.workdir}/made.txt"))
    outputs.append(runtime.execute("sleep 20", timeout=1).timed_out)
    outputs.append(sorted(runtime.read_tree(runtime.workdir)))
    outputs.append(runtime.execute("test -e nothing-here").exit_code)
    return outputs


@pytest.mark.docker
def test_local_and_docker_runtimes_behave_alike(
    local: LocalRuntime, docker_client: docker.DockerClient, base_image: str
) -> None:
    container = DockerRuntime.start(docker_client, base_image, run_id="parity", instance_id="p", workdir="/workspace")
    try:
        container.execute("mkdir -p /tmp/ohb /workspace")
        assert script(local) == script(container) == [b"line1\nline2\n", "2", 4, b"x", True, ["made.txt"], 1]
    finally:
        container.remove()
    assert os.path.isdir(local.workdir)


def test_a_containers_shell_startup_file_is_not_sourced_on_the_host(local: LocalRuntime) -> None:
    rc = Path(local.workdir, "rc.sh")
    rc.write_text("echo SOURCED\n")
    result = local.execute("echo ran", env={"BASH_ENV": str(rc), "PAGER": "cat"})
    assert result.output.strip() == "ran"
    assert local.execute("echo $PAGER", env={"PAGER": "cat"}).output.strip() == "cat"
