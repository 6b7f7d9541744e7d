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
import contextvars
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

from airflow_provider_videotask import metrics
from airflow_provider_videotask.api.common import chunked
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.wait_rules import summarize

log = logging.getLogger(__name__)

# Indirection so tests can run pollers on a fake clock.
_sleep = asyncio.sleep
_now = time.time

# Waiters woken in one step of the event loop before yielding it.
WAKE_SLICE = 200

# What a waiter receives: its tasks after a poll, or the error that poll ended in.
Update = Union[list[VideoTask], BaseException]  # noqa: UP007 - a runtime alias on Python 3.10
PollerKey = tuple[str, str, Union[str, None], tuple[tuple[str, Any], ...]]  # noqa: UP007


class Subscription:
    """One waiter's view of a poller: its ids, its pace, and an inbox of updates."""

    def __init__(self, task_ids: list[str], poll_interval: float, deadline: float | None, due_at: float) -> None:
        self.task_ids = task_ids
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.due_at = due_at  # when its ids are next to be read
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

    def due(self, start: float, slack: float) -> bool:
        """Read in a cycle starting at ``start``: due by then (``slack`` early, so waiters of one pace stay
        in step and share their requests), or at its deadline."""
        return self.due_at <= start + slack or (self.deadline is not None and self.deadline <= start)

    def offer_error(self, error: BaseException) -> None:
        self._errored = True
        self.inbox.put_nowait(error)


class BatchPoller:
    """Polls the ids of its subscribers, ``batch_size`` ids per request, each at its own pace.

    The schedule, in one place:

    - Each subscriber is read once per interval of its own: a waiter expecting a callback only every
      ``callback_fallback_interval``, the others every ``poll_interval``. A cycle reads every subscriber
      due by its start, or due within half the quickest interval (so waiters of one pace stay in step and
      share their requests), and the next cycle starts when the next subscriber is due; one that overran
      is followed at once, and that is logged once.
    - A subscriber's first poll is due when it subscribes (its trigger has already waited one interval):
      one that joins between cycles, or while a request is in flight, gets a short extra cycle of its
      own at once rather than waiting for the next one.
    - A cycle's batch requests run concurrently, at most the connection's ``parallel_reads`` at a time
      (default 4), and each subscriber is told as soon as every one of its ids has been answered.
    - After failed cycles the interval backs off (doubling, at most 10 intervals); a deadline near at
      hand brings the next cycle forward, so a task that finished just in time still counts.
    """

    def __init__(
        self, hook: VideoTaskHook, module: str | None, on_stop: Callable[[BatchPoller], None] | None = None
    ) -> None:
        self.hook = hook
        self.module = module
        # An ordered set: joining and leaving cost O(1) whatever the number of subscribers.
        self.subscriptions: dict[Subscription, None] = {}
        self.cycles = 0
        self._task: asyncio.Task[None] | None = None
        self._on_stop = on_stop
        self._joined = asyncio.Event()
        # Subscribed since the last cycle began: not polled yet, and their first poll is already due.
        self._newcomers: dict[Subscription, None] = {}
        self._overrun_logged = False

    def subscribe(self, task_ids: list[str], poll_interval: float, deadline: float | None) -> Subscription:
        subscription = Subscription(task_ids, poll_interval, deadline, due_at=_now())
        self.subscriptions[subscription] = None
        self._newcomers[subscription] = None
        self._joined.set()
        if self._task is None:
            # In a context of its own: the poller serves every waiter, so its lines (and its hook's) go to
            # the triggerer's log, not to the task log of whichever trigger happened to start it.
            loop = asyncio.get_running_loop()
            self._task = contextvars.Context().run(loop.create_task, self._run(), name="videotask-batch-poller")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.pop(subscription, None)
        self._newcomers.pop(subscription, None)
        if not self.subscriptions and self._task is not None:
            # Stop now, in this same step of the loop, so a newcomer finds no half-stopped poller.
            self._task.cancel()
            self._task = None
            metrics.waiters(0, vendor=self.hook.conn_type, conn_id=self.hook.conn_id, module=self.module)
            if self._on_stop is not None:
                self._on_stop(self)

    async def _run(self) -> None:
        failures = 0
        next_start = _now()
        # No "nobody left" check is needed inside: the last subscriber to leave cancels this task at once.
        try:
            while self.subscriptions:
                if self._newcomers and self.cycles and _now() < next_start:
                    newcomers = list(self._newcomers)
                    self._newcomers.clear()
                    joined = _now()
                    await self._cycle(newcomers)  # the short extra cycle of those who just joined
                    self._polled(newcomers, joined)
                    continue
                if (wait := next_start - _now()) > 0:
                    await self._nap(wait)
                    continue  # woken early by a newcomer, or on time: look again
                started = _now()
                self._newcomers.clear()  # this cycle polls them with everyone else
                slack = self._quickest() / 2
                due = [subscription for subscription in self.subscriptions if subscription.due(started, slack)]
                if due:
                    failures = 0 if await self._cycle(due) else failures + 1
                    self._polled(due, started)
                    self._note_overrun(_now() - started)
                next_start = self._next_start(started, failures)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug of ours must not leave waiters waiting on a dead poller
            log.exception("%s: the batch poller stopped", self.hook.vendor)
            await self._tell(list(self.subscriptions), error=error)
        finally:
            await self.hook.aclose()

    def _polled(self, subscriptions: list[Subscription], started: float) -> None:
        """After a cycle: when each of its subscribers is due next."""
        for subscription in subscriptions:
            subscription.due_at = started + subscription.poll_interval

    def _quickest(self) -> float:
        return min(s.poll_interval for s in self.subscriptions) if self.subscriptions else 0.0

    def _note_overrun(self, took: float) -> None:
        interval = self._quickest() if self.subscriptions else took
        if took > interval and not self._overrun_logged:
            self._overrun_logged = True
            log.warning(
                "%s: a poll cycle took %.1fs, longer than the poll interval of %.0fs; the next starts at once "
                "(logged once)",
                self.hook.vendor,
                took,
                interval,
            )

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if someone subscribes meanwhile."""
        self._joined.clear()
        sleeper = asyncio.ensure_future(_sleep(seconds))
        waker = asyncio.ensure_future(self._joined.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _cycle(self, snapshot: list[Subscription]) -> bool:
        """Poll the snapshot's ids, batches in parallel; True when every batch was answered."""
        self.cycles += 1
        # Who waits on each id, and how many of its ids each still misses: an answered batch touches
        # only its own ids' waiters (O(ids) per cycle, not O(batches x waiters)).
        owners: dict[str, list[Subscription]] = {}
        missing: dict[Subscription, int] = {}
        for subscription in snapshot:
            own = set(subscription.task_ids)
            missing[subscription] = len(own)
            for task_id in own:
                owners.setdefault(task_id, []).append(subscription)
        ids = list(owners)
        try:
            settings = await self.hook.aget_settings()  # re-reads the connection now and then
        except asyncio.CancelledError:
            raise
        except Exception as error:  # deleted, or made invalid, meanwhile: every waiter applies its own bound
            await self._tell(snapshot, error=error)
            return False
        batches = list(chunked(ids, settings.batch_size))
        by_id: dict[str, VideoTask] = {}
        bound = asyncio.Semaphore(settings.parallel_reads)
        answered = True

        async def read(batch: list[str]) -> None:
            nonlocal answered
            try:
                async with bound:
                    tasks = await self.hook.aget_tasks(batch, self.module)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # every error reaches its waiters, which apply their own bound
                answered = False
                failed = {s: None for task_id in batch for s in owners[task_id] if missing.pop(s, None) is not None}
                await self._tell(failed, error=error)
                return
            by_id.update((task.task_id, task) for task in tasks)
            done = []
            for task_id in batch:
                for subscription in owners[task_id]:
                    if subscription in missing:
                        missing[subscription] -= 1
                        if not missing[subscription]:
                            del missing[subscription]
                            done.append(subscription)
            await self._tell(done, by_id=by_id)

        started = _now()
        await asyncio.gather(*(read(batch) for batch in batches))
        self._log_cycle(len(snapshot), len(ids), len(batches), _now() - started, by_id)
        # Let the waiters just woken decide (and leave) before the next cycle is planned.
        await asyncio.sleep(0)
        return answered

    def _log_cycle(self, waiters: int, ids: int, requests: int, took: float, by_id: dict[str, VideoTask]) -> None:
        """One line per cycle for all the waiters (each waiter logs only its own changes, and rarely)."""
        metrics.waiters(
            len(self.subscriptions), vendor=self.hook.conn_type, conn_id=self.hook.conn_id, module=self.module
        )
        log.info(
            "%s poller, connection %r%s: %d waits on %d task ids, %d requests in %.1fs; %s",
            self.hook.vendor,
            self.hook.conn_id,
            f", module {self.module}" if self.module else "",
            waiters,
            ids,
            requests,
            took,
            summarize(list(by_id.values())) if by_id else "no answer",
        )

    async def _tell(
        self,
        subscriptions: Iterable[Subscription],
        *,
        by_id: dict[str, VideoTask] | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Wake waiters in slices, yielding to the loop between them: thousands never hold it at once."""
        now = _now()
        for count, subscription in enumerate(subscriptions, start=1):
            if subscription not in self.subscriptions:
                continue  # left meanwhile
            if error is not None:
                subscription.offer_error(error)
            elif by_id is not None:
                subscription.offer([by_id[task_id] for task_id in subscription.task_ids], now)
            if count % WAKE_SLICE == 0:
                await asyncio.sleep(0)

    def _next_start(self, started: float, failures: int) -> float:
        """When the next cycle starts: the next subscriber due or, after failed cycles, a backed-off
        interval (doubling, at most 10 intervals); never after the nearest deadline to come, so a task
        that finished just in time still counts."""
        if not self.subscriptions:
            return started
        if failures:
            quickest = self._quickest()
            start: float = started + min(quickest * 2.0 ** (failures - 1), max(quickest, 1.0) * 10)
        else:
            start = min(s.due_at for s in self.subscriptions)
        deadlines = [
            deadline for s in self.subscriptions if (deadline := s.deadline) is not None and deadline > started
        ]
        return min([start, *deadlines])


_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[PollerKey, BatchPoller]] = (
    weakref.WeakKeyDictionary()
)


def shared_poller(
    conn_id: str,
    conn_type: str,
    module: str | None,
    make_hook: type[VideoTaskHook],
    hook_kwargs: Mapping[str, Any] | None = None,
) -> BatchPoller:
    """The poller of this connection, vendor, module and hook arguments in the running event loop (created
    if needed): waits whose hooks shape their requests differently (HiDream's ``api_user_id``) never share one."""
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    key: PollerKey = (conn_id, conn_type, module, tuple(sorted((hook_kwargs or {}).items())))
    poller = pollers.get(key)
    if poller is None:

        def forget(stopped: BatchPoller) -> None:
            if pollers.get(key) is stopped:
                del pollers[key]

        poller = pollers[key] = BatchPoller(make_hook(conn_id, **(hook_kwargs or {})), module, on_stop=forget)
    return poller


def private_poller(
    conn_id: str, module: str | None, make_hook: type[VideoTaskHook], hook_kwargs: Mapping[str, Any] | None = None
) -> BatchPoller:
    """A poller for one trigger alone: each trigger polls for itself (the naive way, for benchmarks)."""
    return BatchPoller(make_hook(conn_id, **(hook_kwargs or {})), module)


# A seam for benchmarks and tests, not a setting: False gives every trigger a private poller.
SHARE_POLLERS = True


def poller_for(
    conn_id: str,
    conn_type: str,
    module: str | None,
    make_hook: type[VideoTaskHook],
    hook_kwargs: Mapping[str, Any] | None = None,
) -> BatchPoller:
    """The poller a new trigger subscribes to."""
    if SHARE_POLLERS:
        return shared_poller(conn_id, conn_type, module, make_hook, hook_kwargs)
    return private_poller(conn_id, module, make_hook, hook_kwargs)
