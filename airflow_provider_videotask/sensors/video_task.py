"""VideoTaskSensor: wait for a batch of vendor video tasks, then hand their video URLs downstream."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_videotask.api.common import normalize_task_ids
from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.registry import get_hook
from airflow_provider_videotask.links import RunVideosLink, VideoLink, mark_no_video_yet
from airflow_provider_videotask.outputs import OUTPUT_TEMPLATE_FIELDS, KeepsVideos, declare_output, keeper
from airflow_provider_videotask.storage import DEFAULT_FILE_NAME
from airflow_provider_videotask.wait_rules import (
    Verdict,
    WaitSettings,
    check_seconds,
    stopped_waiting,
)
from airflow_provider_videotask.waiting import Waiter, WaitPlan, publish, push_tasks, read_event
from airflow_provider_videotask.xcoms import REQUEST_XCOM_KEY, request_record

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class VideoTaskSensor(KeepsVideos, BaseSensorOperator):
    """Wait until a batch of HiDream or Ace Data Cloud tasks is over; return their video URLs.

    One sensor serves every vendor: the hook follows the connection's type. On success the XCom
    ``return_value`` is the flat list of video URLs in task order, and the XCom ``tasks`` holds one
    dict per task (``task_id``, ``state``, ``progress``, ``video_urls``, ``error``).

    :param video_task_ids: vendor task ids (templated): one id, a list, or an upstream task's output.
    :param conn_id: an Airflow connection of type ``hidream``, ``hailuo`` or ``acedatacloud``.
    :param module: HiDream module of the tasks (HiDream only; default: the connection's).
    :param service: the Ace Data Cloud service of the tasks, any by name (``kling``, ``veo``, ``sora`` ...):
        required with an ``acedatacloud`` connection, which serves them all.
    :param fail_on: ``"any"`` (default) fails as soon as a task failed or was rejected; ``"all"``
        fails only when every task failed and otherwise returns the URLs of those that succeeded.
    :param unknown_grace_period: seconds an id may stay unknown to the vendor before it counts as
        failed ("task id not found at the vendor").
    :param max_consecutive_errors: transient poll failures in a row (after the hook's own retries)
        before the sensor gives up.
    :param unrecognised_state_grace_period: seconds a task may report a state this provider does not
        know (waited on as running, logged once) before it counts as failed (default 600).
    :param progress_interval: seconds between two progress lines while the tasks change (default 30).
    :param deferrable: wait in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    :param output_path: where to keep the videos (templated), an object storage URI such as
        ``file:///data/videos/{{ ds }}/``; see the operators' argument of the same name.
    :param output_conn_id: the Airflow connection of that storage (e.g. ``aws_default`` for ``s3://``).
    :param file_name: the name of each video under ``output_path`` (templated).
    :param task_ids: deprecated name of ``video_task_ids`` (until 0.3): Airflow's own ``task_ids``
        names Airflow tasks.
    """

    template_fields: Sequence[str] = ("video_task_ids", *OUTPUT_TEMPLATE_FIELDS)
    operator_extra_links = (VideoLink(), RunVideosLink())
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        video_task_ids: Any = None,
        conn_id: str,
        module: str | None = None,
        service: str | None = None,
        fail_on: str = "any",
        unknown_grace_period: float = WaitSettings.unknown_grace_period,
        max_consecutive_errors: int = WaitSettings.max_consecutive_errors,
        unrecognised_state_grace_period: float = WaitSettings.unrecognised_state_grace_period,
        progress_interval: float = WaitSettings.progress_interval,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        task_ids: Any = None,
        output_path: str | None = None,
        output_conn_id: str | None = None,
        file_name: str = DEFAULT_FILE_NAME,
        **kwargs: Any,
    ) -> None:
        output_asset = declare_output(output_path, file_name, kwargs)
        super().__init__(**kwargs)
        self._keep_output(output_path, output_conn_id, file_name, output_asset)
        if task_ids is not None:
            warnings.warn(
                "VideoTaskSensor(task_ids=...) is deprecated: use video_task_ids=... (the vendor's task ids; "
                "Airflow's task_ids names Airflow tasks). The old name goes in 0.3.",
                DeprecationWarning,
                stacklevel=2,
            )
            if video_task_ids is not None:
                raise VideoTaskValidationError("give video_task_ids or its old name task_ids, not both")
            video_task_ids = task_ids
        if video_task_ids is None:
            raise VideoTaskValidationError("video_task_ids is required: the vendor task ids to wait for")
        check_seconds("poke_interval", self.poke_interval)
        self.wait_settings = WaitSettings(
            fail_on=fail_on,
            unknown_grace_period=unknown_grace_period,
            max_consecutive_errors=max_consecutive_errors,
            unrecognised_state_grace_period=unrecognised_state_grace_period,
            progress_interval=progress_interval,
        )
        if not conn_id or not isinstance(conn_id, str):
            raise VideoTaskValidationError(f"conn_id must name an Airflow connection, got {conn_id!r}")
        self.video_task_ids = video_task_ids
        self.conn_id = conn_id
        if service is not None and module not in (None, service):
            raise VideoTaskValidationError("give module (HiDream) or service (Ace Data Cloud), not both")
        # The waiting layers call both a module: one shared poller per connection and module.
        self.module = service if service is not None else module
        self.deferrable = deferrable
        self._started_at: float | None = None
        self._waiter: Waiter | None = None

    @cached_property
    def hook(self) -> VideoTaskHook:
        """The hook for the connection's type (``hidream``, ``hailuo``, ``acedatacloud``)."""
        return get_hook(self.conn_id)

    def execute(self, context: Context) -> Any:
        """Every mode runs through ``BaseSensorOperator.execute``, so ``timeout``, ``soft_fail``,
        ``never_fail`` and ``silent_fail`` mean what they mean for any sensor; in deferrable mode the first
        poke, finding the tasks not done, defers (tasks that are already done need no trigger)."""
        self._started_at = time.time()
        mark_no_video_yet(context)
        self.video_task_ids = normalize_task_ids(self.video_task_ids, argument="video_task_ids")
        context["ti"].xcom_push(key=REQUEST_XCOM_KEY, value=request_record(self._conn_type(), self.module, {}))
        return super().execute(context)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        verdict = self._look(context)
        if verdict.over:
            return PokeReturnValue(is_done=True, xcom_value=self._publish(context, verdict))
        if self.deferrable:
            self._defer(context)
        return False

    def _defer(self, context: Context) -> None:
        self._wait_plan(context).defer(self)

    def _wait_plan(self, context: Context) -> WaitPlan:
        return WaitPlan(
            self.conn_id,
            self.hook.conn_type,
            self.video_task_ids,
            self.module,
            self.poke_interval,
            self.wait_settings,
            started_at=self._wait_started_at(context),
            timeout=self.timeout,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[str]:
        """Resume after the trigger fired: validate the event and branch on its status."""
        return self._publish(context, self._sensor_verdict(context, read_event(event)))

    def on_kill(self) -> None:
        """A person marked the task failed or success, or cleared it, while it waited in a worker."""
        try:
            vendor = self.hook.vendor
        except Exception:  # the connection is gone: the warning matters more than the name
            vendor = "the vendor"
        self.log.warning(stopped_waiting(normalize_task_ids(self.video_task_ids), vendor))

    def _publish(self, context: Context, verdict: Verdict) -> list[str]:
        return publish(
            context,
            verdict,
            self.log,
            keeper(context, self.output_spec(), self._conn_type()),
            vendor=self._conn_type(),
            conn_id=self.conn_id,
        )

    def _conn_type(self) -> str:
        """The connection's type, for the metrics' tags; a connection gone meanwhile must not stop the videos."""
        try:
            return self.hook.conn_type
        except Exception:
            return "unknown"

    def _look(self, context: Context) -> Verdict:
        """Poll once (a ridden-out failed poll reads as pending)."""
        if self._waiter is None:
            self._waiter = self._wait_plan(context).waiter(self.hook, self.log)
        return self._sensor_verdict(context, self._waiter.look())

    def _sensor_verdict(self, context: Context, verdict: Verdict) -> Verdict:
        """A timed-out wait ends as every sensor's does (``AirflowSensorTimeout``), with the tasks XCom."""
        if verdict.status == "timeout":
            push_tasks(context, verdict.tasks)
            raise AirflowSensorTimeout(f"Sensor has timed out: {verdict.message}")
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
