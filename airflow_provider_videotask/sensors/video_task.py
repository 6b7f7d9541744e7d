"""VideoTaskSensor: wait for a batch of vendor video tasks, then hand their video URLs downstream."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_videotask.api.common import normalize_task_ids
from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.registry import get_hook
from airflow_provider_videotask.links import VideoLink
from airflow_provider_videotask.triggers.outcome import (
    DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD,
    Verdict,
    check_wait_arguments,
)
from airflow_provider_videotask.triggers.video_task import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_UNKNOWN_GRACE_PERIOD,
    VideoTaskTrigger,
)
from airflow_provider_videotask.waiting import Waiter, publish, push_tasks, read_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class VideoTaskSensor(BaseSensorOperator):
    """Wait until a batch of HiDream or Hailuo tasks is over; return their video URLs.

    One sensor serves both vendors: the hook follows the connection's type. On success the XCom
    ``return_value`` is the flat list of video URLs in task order, and the XCom ``tasks`` holds one
    dict per task (``task_id``, ``state``, ``progress``, ``video_urls``, ``error``).

    :param task_ids: vendor task ids (templated): one id, a list, or an upstream task's output.
    :param conn_id: an Airflow connection of type ``hidream`` or ``hailuo``.
    :param module: HiDream module of the tasks (HiDream only; default: the connection's).
    :param fail_on: ``"any"`` (default) fails as soon as a task failed or was rejected; ``"all"``
        fails only when every task failed and otherwise returns the URLs of those that succeeded.
    :param unknown_grace_period: seconds an id may stay unknown to the vendor before it counts as
        failed ("task id not found at the vendor").
    :param max_consecutive_errors: transient poll failures in a row (after the hook's own retries)
        before the sensor gives up.
    :param unrecognised_state_grace_period: seconds a task may report a state this provider does not
        know (waited on as running, logged once) before it counts as failed (default 600).
    :param deferrable: wait in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("task_ids",)
    operator_extra_links = (VideoLink(),)
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        task_ids: Any,
        conn_id: str,
        module: str | None = None,
        fail_on: str = "any",
        unknown_grace_period: float = DEFAULT_UNKNOWN_GRACE_PERIOD,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        unrecognised_state_grace_period: float = DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_wait_arguments(
            fail_on=fail_on,
            poll_interval=self.poke_interval,
            unknown_grace_period=unknown_grace_period,
            max_consecutive_errors=max_consecutive_errors,
            unrecognised_state_grace_period=unrecognised_state_grace_period,
        )
        if not conn_id or not isinstance(conn_id, str):
            raise VideoTaskValidationError(f"conn_id must name an Airflow connection, got {conn_id!r}")
        self.task_ids = task_ids
        self.conn_id = conn_id
        self.module = module
        self.fail_on = fail_on
        self.unknown_grace_period = unknown_grace_period
        self.max_consecutive_errors = max_consecutive_errors
        self.unrecognised_state_grace_period = unrecognised_state_grace_period
        self.deferrable = deferrable
        self._started_at: float | None = None

    @cached_property
    def hook(self) -> VideoTaskHook:
        """The hook for the connection's type (``hidream`` or ``hailuo``)."""
        return get_hook(self.conn_id)

    @cached_property
    def waiter(self) -> Waiter:
        return Waiter(
            self.hook,
            self.task_ids,
            module=self.module,
            fail_on=self.fail_on,
            unknown_grace_period=self.unknown_grace_period,
            max_consecutive_errors=self.max_consecutive_errors,
            unrecognised_state_grace_period=self.unrecognised_state_grace_period,
            log=self.log,
        )

    def execute(self, context: Context) -> Any:
        self._started_at = time.time()
        self.task_ids = normalize_task_ids(self.task_ids)
        if not self.deferrable:
            return super().execute(context)
        # Look once on the worker: tasks that are already done need no trigger.
        try:
            verdict = self._look(context)
            if verdict is not None and verdict.status != "pending":
                return publish(context, verdict, self.log)
        except AirflowFailException as error:
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {error}") from error
            raise
        self.defer(
            trigger=VideoTaskTrigger(
                conn_id=self.conn_id,
                task_ids=self.task_ids,
                module=self.module,
                poll_interval=self.poke_interval,
                deadline=self._started_at + self.timeout,
                fail_on=self.fail_on,
                unknown_grace_period=self.unknown_grace_period,
                max_consecutive_errors=self.max_consecutive_errors,
                unrecognised_state_grace_period=self.unrecognised_state_grace_period,
                conn_type=self.hook.conn_type,
                wait_started_at=self._started_at,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        verdict = self._look(context)
        if verdict is None or verdict.status == "pending":
            return False
        return PokeReturnValue(is_done=True, xcom_value=publish(context, verdict, self.log))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[str]:
        """Resume after the trigger fired: validate the event and branch on its status."""
        status, message, tasks, failed_ids = read_event(event)
        if status == "timeout":
            push_tasks(context, tasks)
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        if status == "error":
            push_tasks(context, tasks)
            raise AirflowException(f"Waiting for video tasks failed: {message}")
        return publish(context, Verdict(status, tasks, message, failed_ids), self.log)

    def _look(self, context: Context) -> Verdict | None:
        """Poll once. None when the poll failed transiently and the wait should go on."""
        waited = time.time() - self._wait_started_at(context)
        verdict = self.waiter.look(waited)
        if verdict is not None and verdict.status == "pending" and waited > self.timeout:
            # Airflow's own timeout check (after poke) would end the wait too, but without the tasks XCom
            # that the deferrable path publishes on timeout; ending it here keeps the modes alike.
            push_tasks(context, verdict.tasks)
            raise AirflowSensorTimeout(f"Sensor has timed out after {waited:.0f}s: {verdict.message}")
        return verdict

    def _wait_started_at(self, context: Context) -> float:
        """When this wait began: the first reschedule in reschedule mode, else this try's start."""
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            if isinstance(first, str):  # Airflow 3.0 hands over the API's ISO string
                first = datetime.fromisoformat(first.replace("Z", "+00:00"))
            if first is not None:
                return float(first.timestamp())
        return self._started_at if self._started_at is not None else time.time()
