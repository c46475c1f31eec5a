"""Several Docker engines: which engine a process uses, and a per-engine container limit.

`--ohbench-docker-host URL` given several times spreads xdist workers over the engines
(worker i gets engine i mod n), each worker bound to one for the whole run. The limit on
concurrent containers per engine (`--ohbench-max-containers N`) is shared by every process
on this host, this run's workers and other runs alike: it is a set of N lock files per
engine, one held (flock) per running container.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import time

from pytest_ohbench.core.machine import LOCK_DIR

SLOT_DIR = LOCK_DIR / "engine-slots"


def engine_label(host: str | None) -> str:
    """A short name of an engine for records and messages (the URL, or DOCKER_HOST's)."""
    return host or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


class Slot:
    """One held place on an engine: released once, when its container is gone."""

    def __init__(self, handle: int) -> None:
        self._handle: int | None = handle

    def release(self) -> None:
        if self._handle is not None:
            # Closing the descriptor drops the flock (also when the process dies: no stale slot).
            os.close(self._handle)
            self._handle = None


class EngineSlots:
    """`limit` places on one engine, shared through lock files by all processes of the host."""

    def __init__(self, host: str | None, limit: int) -> None:
        if limit < 2:
            # An item can hold its agent's container and its check container at once.
            raise ValueError(f"the container limit per engine must be at least 2, got {limit}")
        self.limit = limit
        digest = hashlib.sha256(engine_label(host).encode()).hexdigest()[:16]
        self.folder = SLOT_DIR / digest
        self.folder.mkdir(parents=True, exist_ok=True)

    def try_acquire(self, count: int = 1) -> list[Slot] | None:
        """`count` free places at once, or None (and nothing held) when fewer are free."""
        held: list[Slot] = []
        for index in random.sample(range(self.limit), self.limit):  # spread contention
            if len(held) == count:
                break
            handle = os.open(self.folder / f"{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(handle)
                continue
            held.append(Slot(handle))
        if len(held) == count:
            return held
        for slot in held:
            slot.release()
        return None

    def acquire(self, count: int = 1, poll: float = 0.05) -> list[Slot]:
        """`count` places, waiting until they are free together.

        All or nothing, never holding some while waiting for more: two items that each
        need two places cannot deadlock holding one each.
        """
        count = min(count, self.limit)
        delay = poll
        while True:
            slots = self.try_acquire(count)
            if slots is not None:
                return slots
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 1.5, 1.0)

