"""This process's task containers: started ahead of need, removed in the background.

Starting a container (about 150-180 ms) and removing one (about 50 ms) used to sit on every
item's critical path. Here a check container is started while the agent still runs (or,
when the next item's agent needs no container, while this item is checked), and removals
run on a small thread pool. `drain()` at the end of the session waits for every removal and
removes what was started but never used, so nothing of the run outlives pytest; the
controller's sweep by run label stays as the last guarantee (a killed worker).

With a per-engine limit (engines.EngineSlots) every container holds one slot until it is
gone. An item that will hold two containers at once (its agent's and its check's) takes
both slots together, so items waiting for slots never hold one while waiting.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable

from pytest_ohbench.runtime.docker.engines import EngineSlots, Slot
from pytest_ohbench.runtime.docker.runtime import DockerRuntime

Starter = Callable[[], DockerRuntime]


class ContainerManager:
    """Starts, hands out and removes one process's containers (see the module docstring)."""

    def __init__(self, slots: EngineSlots | None = None) -> None:
        self.slots = slots
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="ohbench-containers")
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._ahead: dict[str, concurrent.futures.Future[DockerRuntime]] = {}  # key -> a check container starting
        self._reserved: dict[str, list[Slot]] = {}  # key -> slots taken for a container not started yet
        self.removal_errors: list[str] = []

    # --- slots -------------------------------------------------------------------------
    def _acquire(self, count: int) -> list[Slot]:
        return self.slots.acquire(count) if self.slots is not None else []

    def _try_acquire(self, count: int) -> list[Slot] | None:
        return self.slots.try_acquire(count) if self.slots is not None else []

    # --- starting ----------------------------------------------------------------------
    def start(self, key: str, starter: Starter, check_starter: Starter | None = None) -> DockerRuntime:
        """Start the agent's container for item `key`; with `check_starter`, its check
        container too, in the background, while the agent runs."""
        want_check = check_starter is not None and key not in self._ahead
        slots = self._try_acquire(2 if want_check else 1)
        if slots is None and key in self._ahead:
            # Holding the early check container while waiting could deadlock: give it up.
            self.discard(key)
            want_check = check_starter is not None
        if slots is None:
            slots = self._acquire(2 if want_check else 1)
        try:
            runtime = self._started(starter, slots[:1])
        except BaseException:
            self._release(slots[1:])
            raise
        if want_check and check_starter is not None:
            self._start_ahead(key, check_starter, slots[1:])
        else:
            self._release(slots[1:])
        return runtime

    def start_ahead(self, key: str, starter: Starter) -> bool:
        """Start item `key`'s check container in the background if a slot is free now."""
        if key in self._ahead:
            return True
        slots = self._try_acquire(1)
        if slots is None:
            return False
        self._start_ahead(key, starter, slots)
        return True

    def _start_ahead(self, key: str, starter: Starter, slots: list[Slot]) -> None:
        self._ahead[key] = self._executor.submit(self._started, starter, slots)

    def _started(self, starter: Starter, slots: list[Slot]) -> DockerRuntime:
        try:
            runtime = starter()
        except BaseException:
            self._release(slots)
            raise
        runtime.slots = slots
        return runtime

    def check_container(self, key: str, starter: Starter) -> DockerRuntime:
        """Item `key`'s check container: the one started ahead, or a new one now."""
        future = self._ahead.pop(key, None)
        if future is not None:
            try:
                return future.result()
            except Exception:
                pass  # it failed in the background: start it here, where the error is reported
            except BaseException:  # the item's time limit struck while waiting: remove it once started
                self._track(self._executor.submit(self._remove_started, future))
                raise
        return self.started(starter)

    def started(self, starter: Starter) -> DockerRuntime:
        """A new container now (waiting for a slot under a limit)."""
        return self._started(starter, self._acquire(1))

    # --- removing ----------------------------------------------------------------------
    def remove_later(self, runtime: DockerRuntime) -> None:
        """Remove `runtime`'s container on the pool (its slot is freed once it is gone)."""
        self._track(self._executor.submit(self._remove, runtime))

    def _track(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _remove(self, runtime: DockerRuntime) -> None:
        try:
            runtime.remove()
        except Exception as exc:  # the sweep by run label removes it at the end
            self.removal_errors.append(f"{runtime.name}: {exc}")
        finally:
            self._release(getattr(runtime, "slots", []))

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def discard(self, key: str) -> None:
        """Item `key` will not use the check container started for it: remove it."""
        future = self._ahead.pop(key, None)
        if future is not None:
            self._track(self._executor.submit(self._remove_started, future))

    def _remove_started(self, future: concurrent.futures.Future[DockerRuntime]) -> None:
        try:
            runtime = future.result()
        except Exception:
            return  # a failed start released its slots and left no container
        self._remove(runtime)

    @staticmethod
    def _release(slots: list[Slot]) -> None:
        for slot in slots:
            slot.release()

    def drain(self, timeout: float = 120.0) -> None:
        """Remove every container started ahead and not used; wait for all removals."""
        for key in list(self._ahead):
            future = self._ahead.pop(key)
            try:
                self.remove_later(future.result(timeout=timeout))
            except Exception:
                pass  # never started (the sweep by label covers a half-started one)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # A removal queued by discard() may arrive after a wait began: wait until none is left.
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            concurrent.futures.wait(pending, timeout=max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Drain, then stop the pool's threads."""
        self.drain()
        self._executor.shutdown(wait=True)
