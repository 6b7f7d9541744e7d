"""One poll for many waiters: the batch poller shared by the triggers of one account.

A triggerer runs many ``VideoTaskTrigger``s in one event loop, and a fanned-out video pipeline has
hundreds waiting on the same account. Instead of each polling for itself, every trigger subscribes
its task ids to the poller of its (connection, vendor, module, event loop); each cycle the poller
sends one batch request per 50 pending ids and wakes the subscribers whose tasks changed.

The poller is only a cache: everything a trigger needs to resume after a triggerer restart is in
its own kwargs. It starts with its first subscriber and stops when the last one leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from itertools import chain
from typing import Union

from airflow_provider_videotask.api.common import unique
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.hooks.base import VideoTaskHook

log = logging.getLogger(__name__)

# Indirection so tests can run pollers on a fake clock.
_sleep = asyncio.sleep
_now = time.time

# What a waiter receives: its tasks after a poll, or the error that poll ended in.
Update = Union[list[VideoTask], BaseException]  # noqa: UP007 - a runtime alias on Python 3.10
PollerKey = tuple[str, str, Union[str, None]]  # noqa: UP007


class Subscription:
    """One waiter's view of a poller: its ids, its pace, and an inbox of updates."""

    def __init__(self, task_ids: list[str], poll_interval: float, deadline: float | None) -> None:
        self.task_ids = task_ids
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.inbox: asyncio.Queue[Update] = asyncio.Queue()
        self._last: list[VideoTask] | None = None
        self._errored = False

    def offer(self, tasks: list[VideoTask], now: float) -> None:
        """Wake the waiter when there is something to decide: a change, an unknown id, a recovery, its deadline."""
        if (
            tasks != self._last
            or self._errored
            # their grace periods run on
            or any(task.state is TaskState.UNKNOWN or task.unrecognised_state or task.missing_video for task in tasks)
            or (self.deadline is not None and now >= self.deadline)
        ):
            self.inbox.put_nowait(tasks)
        self._last = tasks
        self._errored = False

    def offer_error(self, error: BaseException) -> None:
        self._errored = True
        self.inbox.put_nowait(error)


class BatchPoller:
    """Polls the ids of all its subscribers, one batch request per 50 ids, at the pace of the quickest."""

    def __init__(
        self, hook: VideoTaskHook, module: str | None, on_stop: Callable[[BatchPoller], None] | None = None
    ) -> None:
        self.hook = hook
        self.module = module
        self.subscriptions: list[Subscription] = []
        self.cycles = 0
        self._task: asyncio.Task[None] | None = None
        self._on_stop = on_stop

    def subscribe(self, task_ids: list[str], poll_interval: float, deadline: float | None) -> Subscription:
        subscription = Subscription(task_ids, poll_interval, deadline)
        self.subscriptions.append(subscription)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="videotask-batch-poller")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self.subscriptions.remove(subscription)
        if not self.subscriptions and self._task is not None:
            # Stop now, in this same step of the loop, so a newcomer finds no half-stopped poller.
            self._task.cancel()
            self._task = None
            if self._on_stop is not None:
                self._on_stop(self)

    async def _run(self) -> None:
        failures = 0
        delay = 0.0  # the first cycle polls at once: its first subscriber has already waited
        # No "nobody left" check is needed inside: the last waiter to leave cancels this task at once.
        try:
            while self.subscriptions:
                if delay > 0:
                    await _sleep(delay)
                snapshot = list(self.subscriptions)  # ids that arrive during the request join the next cycle
                self.cycles += 1
                try:
                    ids = unique(chain.from_iterable(s.task_ids for s in snapshot))
                    tasks = await self.hook.aget_tasks(ids, self.module)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # every error reaches every waiter, which applies its own bound
                    failures += 1
                    for subscription in snapshot:
                        subscription.offer_error(error)
                else:
                    failures = 0
                    by_id = {task.task_id: task for task in tasks}
                    now = _now()
                    for subscription in snapshot:
                        subscription.offer([by_id[task_id] for task_id in subscription.task_ids], now)
                # Let the waiters just woken decide (and leave) before the next cycle is planned.
                await asyncio.sleep(0)
                delay = self._next_delay(failures)
        finally:
            await self.hook.aclose()

    def _next_delay(self, failures: int) -> float:
        interval = min(s.poll_interval for s in self.subscriptions)
        if failures:
            interval = min(interval * 2 ** (failures - 1), max(interval, 1.0) * 10)
        deadlines = [s.deadline for s in self.subscriptions if s.deadline is not None]
        if deadlines:
            # Poll at the nearest deadline too, so a task that finished just in time still counts.
            interval = min(interval, max(0.0, min(deadlines) - _now()))
        return interval


_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[PollerKey, BatchPoller]] = (
    weakref.WeakKeyDictionary()
)


def shared_poller(conn_id: str, conn_type: str, module: str | None, make_hook: type[VideoTaskHook]) -> BatchPoller:
    """The poller of this connection, vendor and module in the running event loop (created if needed)."""
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    key: PollerKey = (conn_id, conn_type, module)
    poller = pollers.get(key)
    if poller is None:

        def forget(stopped: BatchPoller) -> None:
            if pollers.get(key) is stopped:
                del pollers[key]

        poller = pollers[key] = BatchPoller(make_hook(conn_id), module, on_stop=forget)
    return poller


def private_poller(conn_id: str, module: str | None, make_hook: type[VideoTaskHook]) -> BatchPoller:
    """A poller for one trigger alone: each trigger polls for itself (the naive way, for benchmarks)."""
    return BatchPoller(make_hook(conn_id), module)


# A seam for benchmarks and tests, not a setting: False gives every trigger a private poller.
SHARE_POLLERS = True


def poller_for(conn_id: str, conn_type: str, module: str | None, make_hook: type[VideoTaskHook]) -> BatchPoller:
    """The poller a new trigger subscribes to."""
    if SHARE_POLLERS:
        return shared_poller(conn_id, conn_type, module, make_hook)
    return private_poller(conn_id, module, make_hook)
