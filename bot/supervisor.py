"""Background tasks that are watched: a task that dies is logged and restarted.

The tracker, the feed sender and every scheduler run under one ``Supervisor``
per process. A task that raises is logged with its traceback and restarted
after an exponential back-off; while it waits to restart it counts as down,
so the health check fails and ``/status`` names it. A task that returns on
its own while the process is not stopping is treated the same way: nothing
we run is meant to end by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[None]]


@dataclass
class TaskState:
    """What ``/status`` and the health check know of one supervised task."""

    name: str
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    down_since: float | None = None  # monotonic time the task last died
    restart_at: float | None = None  # monotonic time of the next start


class Supervisor:
    def __init__(
        self,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        stable_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``stable_after``: a task that ran this long resets its back-off. ``clock``
        measures how long a task ran (tests move it); back-offs are real waits."""
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self._clock = clock
        self._states: dict[str, TaskState] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ending: dict[str, asyncio.Event] = {}
        self._stopping = False

    def start(self, name: str, factory: TaskFactory) -> None:
        """Run ``factory()`` now and again whenever it ends, until ``stop``."""
        if name in self._tasks:
            raise ValueError(f"a task named {name!r} is already supervised")
        state = TaskState(name)
        self._states[name] = state
        self._ending[name] = asyncio.Event()
        self._tasks[name] = asyncio.create_task(
            self._watch(state, factory, self._ending[name]), name=name
        )

    async def _watch(self, state: TaskState, factory: TaskFactory, ending: asyncio.Event) -> None:
        failures = 0
        while not ending.is_set():
            started = self._clock()
            state.running, state.restart_at = True, None
            try:
                await factory()
            except asyncio.CancelledError:
                state.running = False
                raise
            except Exception as exc:
                state.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("background task %r died", state.name)
            else:
                if ending.is_set():
                    break
                state.last_error = "ended on its own"
                log.error("background task %r ended on its own", state.name)
            state.running = False
            if ending.is_set():
                break
            now = self._clock()
            state.down_since = now
            failures = 1 if now - started >= self.stable_after else failures + 1
            wait = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))
            state.restart_at = now + wait
            log.warning("restarting background task %r in %.1f s", state.name, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ending.wait(), wait)
            if ending.is_set():
                break
            state.restarts += 1
            state.down_since = None
            log.info("background task %r restarted (restart %d)", state.name, state.restarts)
        state.running = False

    def states(self) -> list[TaskState]:
        return list(self._states.values())

    def down(self) -> list[TaskState]:
        return [s for s in self._states.values() if not s.running]

    def healthy(self) -> bool:
        """Every supervised task is running (none is waiting to be restarted)."""
        return not self._stopping and not self.down()

    async def stop(self, name: str | None = None, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Stop one task (or all): a task told to stop by its owner (an event, say) has
        ``timeout`` seconds to end by itself, then it is cancelled. A task that returns
        after this call is not restarted."""
        names = [name] if name is not None else list(self._tasks)
        if name is None:
            self._stopping = True
        for n in names:
            if n in self._ending:
                self._ending[n].set()
        tasks = [self._tasks.pop(n) for n in names if n in self._tasks]
        for n in names:
            self._states.pop(n, None)
            self._ending.pop(n, None)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            log.warning(
                "background task %r did not stop in %.1f s: cancelled", task.get_name(), timeout
            )
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error(
                    "background task %r failed while stopping",
                    task.get_name(),
                    exc_info=task.exception(),
                )
