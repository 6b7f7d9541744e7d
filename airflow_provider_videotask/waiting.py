"""Waiting on vendor tasks from a worker: one poll at a time, and publishing how the wait ended.

Shared by ``VideoTaskSensor`` (poke and reschedule modes, and its first look before deferring) and the
operators (``wait_for_completion`` without deferral); the trigger does the same from the triggerer.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_videotask.api.errors import VideoTaskApiError
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.triggers.outcome import (
    DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD,
    EVENT_STATUSES,
    Verdict,
    Watch,
    judge,
    video_urls,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

TASKS_XCOM_KEY = "tasks"
TASK_IDS_XCOM_KEY = "task_ids"


class Waiter:
    """Polls a batch of tasks once per :meth:`look`, riding out transient failures up to a bound."""

    def __init__(
        self,
        hook: VideoTaskHook,
        task_ids: list[str],
        *,
        module: str | None,
        fail_on: str,
        unknown_grace_period: float,
        max_consecutive_errors: int,
        log: logging.Logger | Any,
        unrecognised_state_grace_period: float = DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD,
    ) -> None:
        self.hook = hook
        self.task_ids = task_ids
        self.module = module
        self.fail_on = fail_on
        self.unknown_grace_period = unknown_grace_period
        self.max_consecutive_errors = max_consecutive_errors
        self.log = log
        self.consecutive_errors = 0
        self.watch = Watch(unrecognised_state_grace_period, log)

    def look(self, waited: float) -> Verdict | None:
        """The verdict after one poll, or None when the poll failed transiently and the wait goes on."""
        try:
            tasks = self.hook.get_tasks(self.task_ids, self.module)
        except VideoTaskApiError as error:
            if not error.retryable:
                raise
            self.consecutive_errors += 1
            if self.consecutive_errors >= self.max_consecutive_errors:
                raise AirflowException(
                    f"gave up after {self.consecutive_errors} failed polls in a row: {error}"
                ) from error
            self.log.warning(
                "Poll %d of %d failed, the wait goes on: %s",
                self.consecutive_errors,
                self.max_consecutive_errors,
                error,
            )
            return None
        self.consecutive_errors = 0
        tasks = self.watch.review(tasks, time.time())
        verdict = judge(tasks, fail_on=self.fail_on, waited=waited, unknown_grace_period=self.unknown_grace_period)
        self.log.info(verdict.message)
        return verdict

    def wait(self, *, poll_interval: float, timeout: float, started_at: float) -> Verdict:
        """Poll until the wait is over (operators waiting in the task); AirflowException on timeout."""
        deadline = started_at + timeout
        while True:
            verdict = self.look(time.time() - started_at)
            if verdict is not None and verdict.status != "pending":
                return verdict
            remaining = deadline - time.time()
            if remaining <= 0:
                raise AirflowException(
                    f"timed out after {timeout:.0f}s waiting for video tasks {', '.join(self.task_ids)}"
                    + (f": {verdict.message}" if verdict else "")
                )
            # The last wait stops at the deadline, so a task that finished just in time still counts.
            time.sleep(min(poll_interval, remaining))


def read_event(event: Any) -> tuple[str, str, list[VideoTask], list[str]]:
    """A trigger event's status, message, tasks and failed ids; a missing or unknown event is an error."""
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise AirflowException(f"resumed with an unexpected trigger event: {event!r}")
    tasks = [VideoTask.from_dict(task) for task in event.get("tasks") or []]
    return event["status"], str(event.get("message", "")), tasks, list(event.get("failed_task_ids") or [])


def push_tasks(context: Context, tasks: list[VideoTask]) -> None:
    """The XCom ``tasks``: one small dict per task, for people and downstream tasks."""
    if tasks:
        context["ti"].xcom_push(key=TASKS_XCOM_KEY, value=[task.to_dict() for task in tasks])


def publish(context: Context, verdict: Verdict, log: logging.Logger | Any) -> list[str]:
    """End a wait: push ``tasks``; return the URLs on success, fail (without retries) otherwise."""
    push_tasks(context, verdict.tasks)
    if verdict.status == "failed":
        # A failed vendor task stays failed: retrying the Airflow task cannot help.
        raise AirflowFailException(verdict.message)
    urls = video_urls(verdict.tasks)
    log.info("%s: %d video URLs", verdict.message, len(urls))
    return urls
