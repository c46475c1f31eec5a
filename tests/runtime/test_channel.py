"""The command channel against a real container: one shell kept open, each command on its own,
a timeout or a killed shell never loses the session (fail, not skip, under CI)."""

from __future__ import annotations

import docker
import pytest

from pytest_ohbench.runtime.docker.channel import OUTPUT_LIMIT
from pytest_ohbench.runtime.docker.runtime import DockerRuntime

pytestmark = pytest.mark.docker

# The pid of the channel's shell: the nearest ancestor of this command that is it (empty under exec).
CHANNEL_PID = (
    "p=$$; while [ \"$p\" -gt 1 ]; do "
    "case \"$(tr '\\0' ' ' </proc/$p/cmdline)\" in 'bash --noprofile --norc '*) echo $p; break;; esac; "
    "p=$(cut -d' ' -f4 /proc/$p/stat); done"
)


@pytest.fixture
def runtime(docker_client: docker.DockerClient, base_image: str) -> DockerRuntime:
    started = DockerRuntime.start(docker_client, base_image, run_id="test-channel", instance_id="channel", workdir="/tmp")
    yield started
    started.remove()


def test_commands_share_one_shell_and_no_exec(runtime: DockerRuntime) -> None:
    first = runtime.execute(CHANNEL_PID).output.strip()
    assert first.isdigit(), "the command did not run through the channel's shell"
    assert runtime.execute(CHANNEL_PID, timeout=30).output.strip() == first
    runtime.container.reload()
    # The shell is the container's own main process, reached over attach: no exec was made.
    assert not runtime.container.attrs["ExecIDs"]
    # Its output is not kept a second time in a container log on the engine's disk.
    assert runtime.container.attrs["HostConfig"]["LogConfig"]["Type"] == "none"


def test_commands_do_not_share_state(runtime: DockerRuntime) -> None:
    assert runtime.execute("cd /etc && export LEFT=over && echo $LEFT").output.strip() == "over"
    assert runtime.execute("pwd; echo \"[$LEFT]\"").output.split() == ["/tmp", "[]"]
    assert runtime.execute("cat; echo done", timeout=10).output.strip() == "done"  # stdin is /dev/null


def test_a_timeout_kills_the_command_not_the_channel(runtime: DockerRuntime) -> None:
    shell = runtime.execute(CHANNEL_PID).output.strip()
    slow = runtime.execute("echo started; sleep 47", timeout=1)
    assert slow.timed_out and "started" in slow.output and slow.duration < 10
    assert runtime.execute(CHANNEL_PID).output.strip() == shell
    left = runtime.execute("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '").output
    assert "sleep 47" not in left


def test_a_killed_channel_falls_back_to_exec(runtime: DockerRuntime) -> None:
    shell = runtime.execute(CHANNEL_PID).output.strip()
    lost = runtime.execute(f"echo before; kill -9 {shell}; sleep 1; echo after", timeout=30)
    assert lost.exit_code == -1 and "command channel lost" in lost.output
    # The container lives on; the next commands run with exec, outside any channel shell.
    after = runtime.execute(f"echo alive; {CHANNEL_PID}", timeout=30)
    assert after.exit_code == 0 and after.output.split() == ["alive"]
    assert runtime.execute("exit 4").exit_code == 4


def test_output_is_bounded_and_bytes_are_kept(runtime: DockerRuntime) -> None:
    big = runtime.execute("head -c 9437184 /dev/zero | tr '\\0' a; printf '\\377\\376 end'; exit 2", timeout=60)
    assert big.exit_code == 2
    assert big.output.startswith("[... ") and "bytes of output cut" in big.output.splitlines()[0]
    assert big.output.endswith("a\ufffd\ufffd end")
    # The tail is kept: the limit, give or take the last frame read past it (at most 64 KiB).
    assert OUTPUT_LIMIT <= len(big.output.encode()) <= OUTPUT_LIMIT + 2**16 + 128
    assert runtime.execute("echo next").output.strip() == "next"
