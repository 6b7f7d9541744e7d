"""VideoTaskTrigger: poll a batch of vendor tasks from the triggerer and fire one event when the wait is over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from airflow_provider_videotask.api.common import normalize_task_ids
from airflow_provider_videotask.api.errors import VideoTaskError
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.registry import hook_class
from airflow_provider_videotask.triggers import poller
from airflow_provider_videotask.triggers.poller import BatchPoller, Subscription
from airflow_provider_videotask.wait_rules import (
    DEFAULT_POLL_INTERVAL,
    Verdict,
    Wait,
    WaitSettings,
    check_seconds,
    stopped_waiting,
)

# A task instance resumed from its deferral (by a callback, since its trigger is being cancelled): running
# again, or already through. A person's mark success leaves "success" too: with callbacks on, that one
# case goes without the warning (telling them apart would cost a vendor read for every resumed task).
_RESUMED = frozenset({"scheduled", "queued", "running", "success"})

# Indirection so tests can run the trigger on a fake clock: see its waits without waiting.
_sleep = asyncio.sleep
_now = time.time


class VideoTaskTrigger(BaseTrigger):
    """Wait in the triggerer until a batch of vendor tasks is over, then fire exactly one event.

    Everything it needs to resume after a triggerer restart is in its (primitive) arguments; the
    deadline is wall-clock time, so a restarted trigger keeps the original one. Every trigger of one
    connection, vendor and module in a triggerer polls through one shared batch poller.

    :param conn_id: the Airflow connection (type ``hidream`` or ``hailuo``).
    :param video_task_ids: the vendor task ids to wait for.
    :param module: HiDream module the tasks belong to (HiDream only; default: the connection's).
    :param poll_interval: seconds between two polls; the first poll also waits this long, because
        the sensor has just looked.
    :param deadline: Unix time after which the wait ends with a ``timeout`` event (None: no deadline).
    :param conn_type: the connection's type, resolved by the sensor (None: read from the connection).
    :param wait_started_at: Unix time the wait began (for the unknown grace period).
    :param callback_fallback_interval: set when the vendor is to call back (``callbacks/``): the callback
        resumes the task through the api-server, and this trigger reads the tasks only this often, as the
        safety net for a callback lost (None: no callback; poll every ``poll_interval``).
    :param hook_kwargs: what the hook that submitted the tasks was built with to shape its requests (HiDream's
        ``api_user_id``): the reads go out the same way, and waits that differ in it never share a request.
    :param task_ids: the name ``video_task_ids`` had in 0.1, read from triggers serialized by it.
    :param shared: serialized by 0.1 and ignored: every trigger shares its poller now.
    :param wait: how the wait judges what it sees, the fields of ``wait_rules.WaitSettings`` (``fail_on``,
        ``unknown_grace_period``, ``max_consecutive_errors``, ``unrecognised_state_grace_period``,
        ``progress_interval``), declared and defaulted there only.

    Events: ``{"status": "success" | "failed" | "timeout" | "error", "message": str,
    "tasks": [VideoTask.to_dict(), ...], "failed_task_ids": [...]}``.
    """

    def __init__(
        self,
        conn_id: str,
        video_task_ids: str | Iterable[str] | None = None,
        module: str | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
        conn_type: str | None = None,
        wait_started_at: float | None = None,
        task_ids: str | Iterable[str] | None = None,
        shared: Any = None,  # serialized by 0.1; every trigger shares its poller now
        callback_fallback_interval: float | None = None,
        hook_kwargs: dict[str, Any] | None = None,
        **wait: Any,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # untyped on Airflow 3.0
        check_seconds("poll_interval", poll_interval)
        if callback_fallback_interval is not None:
            check_seconds("callback_fallback_interval", callback_fallback_interval)
        self.wait_settings = WaitSettings(**wait)
        self.conn_id = conn_id
        ids = video_task_ids if video_task_ids is not None else task_ids if task_ids is not None else []
        self.video_task_ids = normalize_task_ids(ids, argument="video_task_ids")
        self.module = module
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.conn_type = conn_type
        self.wait_started_at = _now() if wait_started_at is None else wait_started_at
        self.callback_fallback_interval = callback_fallback_interval
        self.hook_kwargs = dict(hook_kwargs or {})
        self._poller: BatchPoller | None = None
        self._subscription: Subscription | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "video_task_ids": list(self.video_task_ids),
                "module": self.module,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                **self.wait_settings.as_kwargs(),
                "conn_type": self.conn_type,
                "wait_started_at": self.wait_started_at,
                "callback_fallback_interval": self.callback_fallback_interval,
                "hook_kwargs": self.hook_kwargs or None,
            },
        )

    @property
    def read_interval(self) -> float:
        """How often the tasks are read: every poll interval, or seldom while a callback is expected."""
        if self.callback_fallback_interval is None:
            return self.poll_interval
        return self.callback_fallback_interval

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._wait()
        self.log.info("Video tasks %s: %s", event["status"], event["message"])
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _wait(self) -> dict[str, Any]:
        """Follow the tasks until the wait is over; return the one event."""
        wait = Wait(self.wait_settings, started_at=self.wait_started_at, deadline=self.deadline, log=self.log)
        try:
            make_hook = await self._hook_class()
        except VideoTaskError as error:
            return Verdict("error", [], str(error)).to_event()
        # Airflow can fail a task whose trigger fires within seconds of deferring, and the sensor has
        # just looked: the first poll comes one interval later (never past the deadline).
        interval, remaining = self.read_interval, wait.remaining(_now())
        await _sleep(interval if remaining is None else max(0.0, min(interval, remaining)))
        if (remaining := wait.remaining(_now())) is not None and remaining <= 0:
            return Verdict("timeout", [], "timed out before the first poll").to_event()
        self._poller = poller.poller_for(self.conn_id, make_hook.conn_type, self.module, make_hook, self.hook_kwargs)
        self._subscription = self._poller.subscribe(self.video_task_ids, interval, self.deadline)
        try:
            return (await self._follow(self._subscription, wait)).to_event()
        finally:
            self._unsubscribe()

    async def _follow(self, subscription: Subscription, wait: Wait) -> Verdict:
        """Judge each reading until the wait is over. A task seen over is remembered and read no more: the
        subscription narrows to the tasks still running, so a batch costs reads of what is left."""
        over: dict[str, VideoTask] = {}
        while True:
            update = await subscription.inbox.get()
            if isinstance(update, BaseException):
                verdict = wait.observe_error(update, _now())
            else:
                read = {task.task_id: task for task in update}
                tasks = [over.get(task_id) or read[task_id] for task_id in self.video_task_ids]
                verdict = wait.observe(tasks, now := _now())
                if (line := wait.progress(verdict, now)) is not None:
                    self.log.info("%s; polling every %.0fs", line, self.read_interval)
                over.update((task.task_id, task) for task in verdict.tasks if task.state.is_terminal)
                subscription.task_ids = [task_id for task_id in self.video_task_ids if task_id not in over]
            if verdict.over:
                return verdict

    async def _hook_class(self) -> type[VideoTaskHook]:
        conn_type = self.conn_type
        if conn_type is None:
            from airflow.providers.common.compat.connection import get_async_connection

            conn_type = (await get_async_connection(self.conn_id)).conn_type
        return hook_class(conn_type, self.conn_id)

    def _unsubscribe(self) -> None:
        if self._poller is not None and self._subscription is not None:
            self._poller.unsubscribe(self._subscription)
        self._poller = self._subscription = None

    async def on_kill(self) -> None:
        """A person marked the task failed or success, or cleared it (Airflow 3.3+ calls this; older
        releases only ``cleanup``), or a vendor's callback resumed the task (Airflow cancels the trigger
        the same way). The wait already left the poller when it was cancelled."""
        self._unsubscribe()
        state = await self._task_state() if self.callback_fallback_interval is not None else None
        if state in _RESUMED:
            self.log.info("The task was resumed (a vendor's callback woke it): this trigger stops")
            return
        try:
            make_hook = await self._hook_class()
            vendor = make_hook.vendor
        except Exception:  # the connection is gone: the warning matters more than the name
            make_hook, vendor = None, "the vendor"
        if state == "failed" and make_hook is not None and await self._all_over(make_hook):
            # Marked failed by a person, or failed by the video a callback reported: either way nothing runs on.
            self.log.info("The task failed and its vendor tasks are over: this trigger stops")
            return
        self.log.warning(stopped_waiting(self.video_task_ids, vendor))

    async def _task_state(self) -> str | None:
        """The task instance's state as Airflow has it now (the Task SDK's task states; None if unknown)."""
        ti = getattr(self, "task_instance", None)
        if ti is None:
            return None
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

            map_index = getattr(ti, "map_index", -1)
            states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
                dag_id=ti.dag_id, map_index=map_index, task_ids=[ti.task_id], run_ids=[ti.run_id]
            )
            state = (states.get(ti.run_id) or {}).get(
                ti.task_id if map_index is None or map_index < 0 else f"{ti.task_id}_{map_index}"
            )
        except Exception:  # unknown: the warning is the safe side
            return None
        return None if state is None else str(getattr(state, "value", state))

    async def _all_over(self, make_hook: type[VideoTaskHook]) -> bool:
        hook = make_hook(self.conn_id)
        try:
            return all(task.state.is_terminal for task in await hook.aget_tasks(self.video_task_ids, self.module))
        except Exception:  # unknown: the warning is the safe side
            return False
        finally:
            await hook.aclose()

    async def cleanup(self) -> None:
        """Leave the poller; it stops, and closes its HTTP client, when its last waiter leaves."""
        self._unsubscribe()
        await super().cleanup()
