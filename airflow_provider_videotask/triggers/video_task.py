"""VideoTaskTrigger: poll a batch of vendor tasks from the triggerer and fire one event when the wait is over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_videotask.api.common import normalize_task_ids
from airflow_provider_videotask.api.errors import VideoTaskApiError, VideoTaskError
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.registry import hook_class
from airflow_provider_videotask.triggers.outcome import (
    DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD,
    Watch,
    check_wait_arguments,
    judge,
    make_event,
    summarize,
)
from airflow_provider_videotask.triggers.poller import BatchPoller, Subscription, private_poller, shared_poller

# Indirection so tests can run the trigger on a fake clock: see its waits without waiting.
_sleep = asyncio.sleep
_now = time.time

DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_UNKNOWN_GRACE_PERIOD = 300.0
DEFAULT_MAX_CONSECUTIVE_ERRORS = 5


class VideoTaskTrigger(BaseTrigger):
    """Wait in the triggerer until a batch of vendor tasks is over, then fire exactly one event.

    Everything it needs to resume after a triggerer restart is in its (primitive) arguments; the
    deadline is wall-clock time, so a restarted trigger keeps the original one.

    :param conn_id: the Airflow connection (type ``hidream`` or ``hailuo``).
    :param task_ids: the vendor task ids to wait for.
    :param module: HiDream module the tasks belong to (HiDream only; default: the connection's).
    :param poll_interval: seconds between two polls; the first poll also waits this long, because
        the sensor has just looked.
    :param deadline: Unix time after which the wait ends with a ``timeout`` event (None: no deadline).
    :param fail_on: ``"any"`` or ``"all"``, see :func:`~airflow_provider_videotask.triggers.outcome.judge`.
    :param unknown_grace_period: seconds an id may stay unknown to the vendor before it counts as failed.
    :param max_consecutive_errors: transient poll failures in a row (each after the hook's own
        retries) before the wait ends with an ``error`` event.
    :param conn_type: the connection's type, resolved by the sensor (None: read from the connection).
    :param wait_started_at: Unix time the wait began (for the unknown grace period).
    :param unrecognised_state_grace_period: seconds a task may report a state this provider does not
        know (waited on as running) before it counts as failed.
    :param shared: poll through the batch poller shared by every trigger of the same connection,
        vendor and module in this triggerer (default); False: this trigger polls on its own.

    Events: ``{"status": "success" | "failed" | "timeout" | "error", "message": str,
    "tasks": [VideoTask.to_dict(), ...], "failed_task_ids": [...]}``.
    """

    def __init__(
        self,
        conn_id: str,
        task_ids: str | Iterable[str],
        module: str | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
        fail_on: str = "any",
        unknown_grace_period: float = DEFAULT_UNKNOWN_GRACE_PERIOD,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        conn_type: str | None = None,
        wait_started_at: float | None = None,
        shared: bool = True,
        unrecognised_state_grace_period: float = DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # untyped on Airflow 3.0
        check_wait_arguments(
            fail_on=fail_on,
            poll_interval=poll_interval,
            unknown_grace_period=unknown_grace_period,
            max_consecutive_errors=max_consecutive_errors,
            unrecognised_state_grace_period=unrecognised_state_grace_period,
        )
        self.conn_id = conn_id
        self.task_ids = normalize_task_ids(task_ids)
        self.module = module
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.fail_on = fail_on
        self.unknown_grace_period = float(unknown_grace_period)
        self.max_consecutive_errors = max_consecutive_errors
        self.conn_type = conn_type
        self.wait_started_at = _now() if wait_started_at is None else wait_started_at
        self.shared = shared
        self.unrecognised_state_grace_period = float(unrecognised_state_grace_period)
        self._poller: BatchPoller | None = None
        self._subscription: Subscription | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "task_ids": list(self.task_ids),
                "module": self.module,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "fail_on": self.fail_on,
                "unknown_grace_period": self.unknown_grace_period,
                "max_consecutive_errors": self.max_consecutive_errors,
                "conn_type": self.conn_type,
                "wait_started_at": self.wait_started_at,
                "shared": self.shared,
                "unrecognised_state_grace_period": self.unrecognised_state_grace_period,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._wait()
        self.log.info("Video tasks %s: %s", event["status"], event["message"])
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _wait(self) -> dict[str, Any]:
        """Follow the tasks until the wait is over; return the one event."""
        try:
            make_hook = await self._hook_class()
        except VideoTaskError as error:
            return make_event("error", str(error), [])
        # Airflow can fail a task whose trigger fires within seconds of deferring, and the sensor has
        # just looked: the first poll comes one interval later.
        if await self._sleep_until_deadline(self.poll_interval):
            return make_event("timeout", "timed out before the first poll", [])
        if self.shared:
            self._poller = shared_poller(self.conn_id, make_hook.conn_type, self.module, make_hook)
        else:
            self._poller = private_poller(self.conn_id, self.module, make_hook)
        self._subscription = self._poller.subscribe(self.task_ids, self.poll_interval, self.deadline)
        try:
            return await self._follow(self._subscription)
        finally:
            self._unsubscribe()

    async def _follow(self, subscription: Subscription) -> dict[str, Any]:
        tasks: list[VideoTask] = []
        errors = 0
        watch = Watch(self.unrecognised_state_grace_period, self.log)
        while True:
            update = await subscription.inbox.get()
            if isinstance(update, BaseException):
                if not (isinstance(update, VideoTaskApiError) and update.retryable):
                    return make_event("error", str(update) or repr(update), tasks)
                errors += 1
                if errors >= self.max_consecutive_errors:
                    return make_event("error", f"gave up after {errors} failed polls in a row: {update}", tasks)
                self.log.warning(
                    "Poll %d of %d failed, the wait goes on: %s", errors, self.max_consecutive_errors, update
                )
            else:
                errors, tasks = 0, watch.review(update, _now())
                verdict = judge(
                    tasks,
                    fail_on=self.fail_on,
                    waited=_now() - self.wait_started_at,
                    unknown_grace_period=self.unknown_grace_period,
                )
                if verdict.status != "pending":
                    return make_event(verdict.status, verdict.message, verdict.tasks, verdict.failed_ids)
                self.log.info("%s; polling every %.0fs", verdict.message, self.poll_interval)
            if self.deadline is not None and _now() >= self.deadline:
                return make_event("timeout", f"timed out: {summarize(tasks) if tasks else 'no answer yet'}", tasks)

    async def _sleep_until_deadline(self, delay: float) -> bool:
        """Sleep ``delay`` seconds, or until the deadline if sooner; True once the deadline has passed."""
        if self.deadline is None:
            await _sleep(delay)
            return False
        remaining = self.deadline - _now()
        if remaining <= 0:
            return True
        await _sleep(min(delay, remaining))
        return False

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

    async def cleanup(self) -> None:
        """Leave the poller; it stops, and closes its HTTP client, when its last waiter leaves."""
        self._unsubscribe()
        await super().cleanup()
