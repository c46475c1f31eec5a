"""A persistent command channel into a container: one bash kept open, its stdin attached.

Each `docker exec` costs tens of milliseconds (and as much CPU); an agent runs hundreds of
commands. The channel keeps one `bash` in the container and sends every command through it:
each runs in its own `bash -c` (its own cwd, env and stdin from /dev/null, so commands stay
independent as with exec) under coreutils `timeout`, which kills the command and not the
channel. Its output and exit code come back framed by a random token the command cannot guess.

The bash is the container's own main process (MAIN_COMMAND), attached to before the start:
no exec at all (an exec costs 40 ms of machine CPU, an attach about 5). When it ends, the
main process prints an end line and sleeps on, so the container stays up for exec.
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
import struct
import threading
import time
from typing import Any

from pytest_ohbench.runtime.base import TIMEOUT_EXIT_CODES, ExecResult, under_timeout

OUTPUT_LIMIT = 8 * 2**20  # bytes of one command's output kept in memory (the tail)
SLACK = 15.0  # seconds past a command's own timeout before the channel is given up as broken


class ChannelBroken(Exception):
    """The channel cannot take a command (closed, or the write failed): nothing ran, use exec."""


# The container's main process: the channel's bash, then (when it ends, however) the end line
# "\n<$1>\n" and an idle sleep that keeps the container up for exec. $1 is a per-container token.
MAIN_COMMAND = 'bash --noprofile --norc; printf "\\n%s\\n" "$1"; exec sleep infinity'


def main_command(end_token: str) -> list[str]:
    """The argv of a container whose main process is the channel's shell."""
    return ["sh", "-c", MAIN_COMMAND, "sh", end_token]


class ShellChannel:
    """One bash in a container, spoken to over its attached stdin/stdout (Docker's stream framing)."""

    def __init__(self, attached: Any, end_token: str | None = None) -> None:
        """`attached`: the hijacked socket; `end_token`: the end line's token of an attached main process."""
        self._socket: socket.socket = getattr(attached, "_sock", attached)
        self._socket.settimeout(None)
        self._end = f"\n{end_token}\n".encode() if end_token else None
        self._buffer = b""
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def attach(cls, api: Any, container_id: str, end_token: str) -> ShellChannel:
        """The channel of a created, not yet started container running main_command(end_token).

        Attached before the start, so nothing the shell writes is missed.
        """
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        return cls(api.attach_socket(container_id, params=params), end_token)

    @classmethod
    def by_exec(cls, api: Any, container_id: str) -> ShellChannel:
        """A channel whose bash is started with exec (a container running something else)."""
        exec_id = api.exec_create(
            container_id, ["bash", "--noprofile", "--norc"], stdin=True, stdout=True, stderr=True, tty=False
        )["Id"]
        return cls(api.exec_start(exec_id, socket=True, tty=False))

    def close(self) -> None:
        """Let go of the shell: an exec'd one ends with its stdin; the main process's idles
        until the container is removed."""
        self._closed = True
        try:
            self._socket.close()
        except OSError:
            pass

    def _read_frame(self, deadline: float) -> bytes:
        """The payload of the next stdout/stderr frame (8-byte header: stream, 0, 0, 0, size)."""
        header = self._read_exact(8, deadline)
        (size,) = struct.unpack(">I", header[4:])
        return self._read_exact(size, deadline)

    def _read_exact(self, count: int, deadline: float) -> bytes:
        while len(self._buffer) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelBroken("no reply from the channel in time")
            self._socket.settimeout(remaining)
            try:
                chunk = self._socket.recv(max(65536, count - len(self._buffer)))
            except (TimeoutError, OSError) as exc:
                raise ChannelBroken(f"channel read failed: {exc}") from None
            if not chunk:
                raise ChannelBroken("the channel's shell ended")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def run(
        self, command: str, timeout: float | None, cwd: str, env: dict[str, str] | None = None
    ) -> ExecResult:
        """Run `command` with bash in `cwd`; past `timeout` seconds it is killed and timed_out set."""
        if self._closed:
            raise ChannelBroken("the channel is closed")
        token = secrets.token_hex(16)
        argv = ["bash", "-c", command]
        if env:
            argv = ["env", *(f"{key}={value}" for key, value in env.items()), *argv]
        argv = under_timeout(argv, timeout)
        # The output ends with a newline of ours, then the token and the exit code.
        line = (
            f"cd {shlex.quote(cwd)} && {shlex.join(argv)} </dev/null 2>&1; "
            f"printf '\\n{token} %d\\n' $?\n"
        )
        deadline = time.monotonic() + (timeout if timeout is not None else 24 * 3600) + SLACK
        with self._lock:
            try:
                self._socket.sendall(line.encode())
            except OSError as exc:  # nothing was sent: the caller may run the command another way
                self.close()
                raise ChannelBroken(f"channel write failed: {exc}") from None
            try:
                return self._reply(f"\n{token} ".encode(), deadline, timeout)
            except BaseException:
                # Interrupted mid-reply (Ctrl-C, the item's time limit): the stream is out of step
                # with the commands, so the channel is never used again.
                self.close()
                raise

    def _reply(self, marker: bytes, deadline: float, timeout: float | None) -> ExecResult:
        """Read one command's output up to `marker` and its exit code; a lost channel is exit -1."""
        started = time.monotonic()
        received = bytearray()
        cut = 0  # bytes dropped from the front to keep memory bounded
        searched = 0  # how much of `received` was searched for the markers already
        while True:
            try:
                received += self._read_frame(deadline)
                # Only the new bytes (and a marker's length before them) are searched: searching the
                # whole buffer at every frame cost 9.7 s of CPU for 128 MiB of text instead of 0.2.
                start = max(0, searched - len(marker) - 32)
                found = received.find(marker, start)
                if found >= 0 and received.find(b"\n", found + len(marker)) >= 0:
                    break
                if self._end is not None and found < 0 and received.find(self._end, start) >= 0:
                    raise ChannelBroken("the channel's shell ended")
            except ChannelBroken as exc:
                # The command was sent and may have run: report, never run it again.
                self.close()
                elapsed = time.monotonic() - started
                text = _tail(received, cut) + f"\n[ohbench: command channel lost: {exc}]"
                return ExecResult(-1, text, timeout is not None and elapsed >= timeout, elapsed)
            searched = len(received)
            if len(received) > 2 * OUTPUT_LIMIT:
                # Dropped in large steps: trimming at every frame moved the buffer each time (0.4 s
                # of CPU for 128 MiB instead of 0.2).
                drop = len(received) - OUTPUT_LIMIT
                del received[:drop]
                cut += drop
                searched -= drop
        tail = bytes(received[found + len(marker):]).split(b"\n", 1)[0]
        exit_code = int(tail.decode() or "-1")
        timed_out = timeout is not None and exit_code in TIMEOUT_EXIT_CODES
        return ExecResult(exit_code, _tail(received[:found], cut), timed_out, time.monotonic() - started)


def _tail(output: bytearray, cut: int) -> str:
    """The last OUTPUT_LIMIT bytes of a command's output as text, saying how much was cut."""
    if len(output) > OUTPUT_LIMIT:
        cut += len(output) - OUTPUT_LIMIT
        output = output[-OUTPUT_LIMIT:]
    text = bytes(output).decode("utf-8", errors="replace")
    return f"[... {cut} bytes of output cut ...]\n{text}" if cut else text


def channel_enabled() -> bool:
    """The channel is on unless OHBENCH_CHANNEL=0 (every command then uses docker exec)."""
    return os.environ.get("OHBENCH_CHANNEL", "1") != "0"


class ChannelHolder:
    """A container's ShellChannel: the attached one, or one opened with exec on first use.

    After one failure, stays with exec.
    """

    def __init__(self, api: Any, container_id: str, attached: ShellChannel | None = None) -> None:
        self.api, self.container_id = api, container_id
        self.channel: ShellChannel | None = attached
        self.failed = api is None or not channel_enabled()

    def get(self) -> ShellChannel | None:
        """The open channel, opening it on first use; None when exec must be used."""
        if self.channel is not None and self.channel._closed:
            self.channel, self.failed = None, True
        if self.channel is None and not self.failed:
            try:
                self.channel = ShellChannel.by_exec(self.api, self.container_id)
            except Exception:  # the engine refused the exec of a shell: one exec per command still works
                self.failed = True
        return self.channel

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.channel, self.failed = None, True
