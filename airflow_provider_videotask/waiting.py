"""Waiting on vendor tasks from a worker: one poll at a time, and publishing how the wait ended.

Shared by ``VideoTaskSensor`` (poke and reschedule modes, and its first look before deferring) and the
operators (``wait_for_completion`` without deferral); the trigger does the same from the triggerer. The
rules themselves are in ``wait_rules.py``; this module only polls, sleeps and speaks Airflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_videotask import metrics
from airflow_provider_videotask.api.errors import VideoTaskApiError
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from airflow_provider_videotask.wait_rules import (
    Verdict,
    Wait,
    WaitSettings,
    summary_table,
    video_urls,
)
from airflow_provider_videotask.xcoms import LEGACY_TASK_IDS_XCOM_KEY, TASKS_XCOM_KEY, VIDEO_TASK_IDS_XCOM_KEY

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, Context

# Indirection so tests can run an in-task wait without waiting.
_sleep = time.sleep


class Waiter:
    """Polls a batch of tasks once per :meth:`look` and asks the wait's rules what it means."""

    def __init__(
        self,
        hook: VideoTaskHook,
        video_task_ids: list[str],
        *,
        module: str | None,
        settings: WaitSettings,
        started_at: float,
        deadline: float | None,
        log: logging.Logger | Any,
    ) -> None:
        self.hook = hook
        self.video_task_ids = video_task_ids
        self.module = module
        self.log = log
        self.wait_state = Wait(settings, started_at=started_at, deadline=deadline, log=log)

    def look(self) -> Verdict:
        """The verdict after one poll; a wait that ends in ``error`` raises AirflowException."""
        try:
            tasks = self.hook.get_tasks(self.video_task_ids, self.module)
        except VideoTaskApiError as error:
            verdict = self.wait_state.observe_error(error, time.time())
            if verdict.status == "error":
                if not error.retryable:
                    raise  # as the hook raised it: its type and message say what to fix
                raise AirflowException(verdict.message) from error
            return verdict
        now = time.time()
        verdict = self.wait_state.observe(tasks, now)
        if (line := verdict.message if verdict.over else self.wait_state.progress(verdict, now)) is not None:
            self.log.info(line)
        return verdict

    def wait(self, poll_interval: float) -> Verdict:
        """Poll until the wait is over (operators waiting in the task)."""
        while True:
            verdict = self.look()
            if verdict.over:
                return verdict
            remaining = self.wait_state.remaining(time.time())
            # The last sleep stops at the deadline, so a task that finished just in time still counts.
            _sleep(poll_interval if remaining is None else max(0.0, min(poll_interval, remaining)))


@dataclass(frozen=True)
class WaitPlan:
    """One wait on vendor tasks as an operator or the sensor plans it: polled from the worker
    (:meth:`waiter`) or handed to the triggerer (:meth:`defer`), with one deadline for both."""

    conn_id: str
    conn_type: str
    video_task_ids: list[str]
    module: str | None
    poll_interval: float
    wait_settings: WaitSettings
    started_at: float
    timeout: float
    # Set when the vendor is to call back: the trigger then reads this seldom, as the safety net.
    callback_fallback_interval: float | None = None
    # What the waiting hook was built with to shape its requests (``VideoTaskHook.request_arguments``).
    hook_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def deadline(self) -> float:
        return self.started_at + self.timeout

    def waiter(self, hook: VideoTaskHook, log: logging.Logger | Any) -> Waiter:
        return Waiter(
            hook,
            self.video_task_ids,
            module=self.module,
            settings=self.wait_settings,
            started_at=self.started_at,
            deadline=self.deadline,
            log=log,
        )

    def defer(self, task: BaseOperator, kwargs: dict[str, Any] | None = None) -> NoReturn:
        """Hand the wait to the triggerer, resuming in ``execute_complete`` (with ``kwargs``): one deadline for
        the trigger and for Airflow's own deferral timeout (both from when the wait began)."""
        task.defer(
            trigger=VideoTaskTrigger(
                conn_id=self.conn_id,
                video_task_ids=self.video_task_ids,
                module=self.module,
                poll_interval=self.poll_interval,
                deadline=self.deadline,
                conn_type=self.conn_type,
                wait_started_at=self.started_at,
                callback_fallback_interval=self.callback_fallback_interval,
                hook_kwargs=dict(self.hook_kwargs) or None,
                **self.wait_settings.as_kwargs(),
            ),
            method_name="execute_complete",
            kwargs=kwargs,
            timeout=timedelta(seconds=max(0.0, self.deadline - time.time())),
        )
        raise AssertionError("defer() returned")  # it raises TaskDeferred


def read_event(event: Any) -> Verdict:
    """The verdict a trigger event carries; a missing or unknown event is an error."""
    verdict = Verdict.from_event(event)
    if verdict is None:
        raise AirflowException(f"resumed with an unexpected trigger event: {event!r}")
    return verdict


def with_done(verdict: Verdict, done: Sequence[Mapping[str, Any]]) -> Verdict:
    """The verdict with the vendor tasks that were over before the wait began (succeeded for an earlier try,
    as ``VideoTask.to_dict()``): every task of the task instance, for its results."""
    return replace(verdict, tasks=[*(VideoTask.from_dict(task) for task in done), *verdict.tasks]) if done else verdict


def push_video_task_ids(context: Context, video_task_ids: list[str]) -> None:
    """The vendor task ids, under their name and (until 0.3) the old one."""
    for key in (VIDEO_TASK_IDS_XCOM_KEY, LEGACY_TASK_IDS_XCOM_KEY):
        context["ti"].xcom_push(key=key, value=video_task_ids)


def push_tasks(context: Context, tasks: list[VideoTask]) -> None:
    """The XCom ``tasks``: one small dict per task, for people and downstream tasks."""
    if tasks:
        context["ti"].xcom_push(key=TASKS_XCOM_KEY, value=[task.to_dict() for task in tasks])


def publish(
    context: Context,
    verdict: Verdict,
    log: logging.Logger | Any,
    keep: Callable[[Sequence[VideoTask]], list[str]] | None = None,
    *,
    vendor: str,
    conn_id: str,
) -> list[str]:
    """End a wait that is over: push ``tasks``; return the URLs on success, fail otherwise.

    A failed vendor task stays failed, so ``failed`` ends without Airflow retries; ``timeout`` and
    ``error`` raise AirflowException (the sensor raises its own timeout before calling this). With
    ``keep`` (an ``output_path``), the succeeded tasks' videos are stored and their URIs returned.
    The tasks seen over are counted (``metrics.py``) when the wait's end is final: a timeout or an error
    may be retried, and so may a failure to keep the videos; their tasks are counted by the try that ends.
    """
    push_tasks(context, verdict.tasks)
    if verdict.tasks:
        log.info("How the video tasks ended:\n%s", summary_table(verdict.tasks))
    if verdict.status == "failed":
        metrics.finished(verdict.tasks, vendor=vendor, conn_id=conn_id, source=verdict.source)
        raise AirflowFailException(verdict.message)
    if verdict.status in ("timeout", "error"):
        raise AirflowException(f"Waiting for the video tasks failed ({verdict.status}): {verdict.message}")
    urls = video_urls(verdict.tasks)
    woken = " (woken by the vendor's callback)" if verdict.source == "callback" else ""
    log.info("%s: %d video URLs%s", verdict.message, len(urls), woken)
    if keep is not None:
        urls = keep([task for task in verdict.tasks if task.state is TaskState.SUCCEEDED])
    metrics.finished(verdict.tasks, vendor=vendor, conn_id=conn_id, source=verdict.source)
    return urls
