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
from airflow_provider_videotask.triggers.outcome import check_wait_arguments, judge, make_event, summarize

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
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # untyped on Airflow 3.0
        check_wait_arguments(
            fail_on=fail_on,
            poll_interval=poll_interval,
            unknown_grace_period=unknown_grace_period,
            max_consecutive_errors=max_consecutive_errors,
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
        self._hook: VideoTaskHook | None = None

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
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        finally:
            await self._close_hook()
        self.log.info("Video tasks %s: %s", event["status"], event["message"])
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _wait(self) -> dict[str, Any]:
        """Poll until the wait is over; return the one event."""
        try:
            hook = await self._get_hook()
        except VideoTaskError as error:
            return make_event("error", str(error), [])
        tasks: list[VideoTask] = []
        errors = 0
        delay = self.poll_interval
        while True:
            if await self._sleep_until_deadline(delay):
                return make_event("timeout", f"timed out: {summarize(tasks) if tasks else 'no answer yet'}", tasks)
            try:
                tasks = await hook.aget_tasks(self.task_ids, self.module)
            except VideoTaskApiError as error:
                if not error.retryable:
                    return make_event("error", str(error), tasks)
                errors += 1
                if errors >= self.max_consecutive_errors:
                    return make_event("error", f"gave up after {errors} failed polls in a row: {error}", tasks)
                delay = min(self.poll_interval * 2 ** (errors - 1), max(self.poll_interval, 1.0) * 10)
                self.log.warning(
                    "Poll %d of %d failed, next in %.0fs: %s", errors, self.max_consecutive_errors, delay, error
                )
                continue
            except VideoTaskError as error:
                return make_event("error", str(error), tasks)
            errors, delay = 0, self.poll_interval
            verdict = judge(
                tasks,
                fail_on=self.fail_on,
                waited=_now() - self.wait_started_at,
                unknown_grace_period=self.unknown_grace_period,
            )
            if verdict.status != "pending":
                return make_event(verdict.status, verdict.message, verdict.tasks, verdict.failed_ids)
            self.log.info("%s; next poll in %.0fs", verdict.message, delay)

    async def _sleep_until_deadline(self, delay: float) -> bool:
        """Sleep ``delay`` seconds, or until the deadline if sooner; True once the deadline has passed."""
        if self.deadline is None:
            await _sleep(delay)
            return False
        remaining = self.deadline - _now()
        if remaining <= 0:
            return True
        await _sleep(min(delay, remaining))
        # A last poll at the deadline itself, so a task that finished just in time still counts.
        return False

    async def _get_hook(self) -> VideoTaskHook:
        if self._hook is None:
            conn_type = self.conn_type
            if conn_type is None:
                from airflow.providers.common.compat.connection import get_async_connection

                conn_type = (await get_async_connection(self.conn_id)).conn_type
            self._hook = hook_class(conn_type, self.conn_id)(self.conn_id)
        return self._hook

    async def _close_hook(self) -> None:
        if self._hook is not None:
            await self._hook.aclose()
            self._hook = None

    async def cleanup(self) -> None:
        """Release what the trigger opened (its HTTP client), also when the triggerer cancels it."""
        await self._close_hook()
        await super().cleanup()
