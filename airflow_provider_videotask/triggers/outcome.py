"""When a wait on vendor tasks is over, and how it ended: one rule for the sensor and the trigger."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.api.models import TaskState, VideoTask

FAIL_ON = ("any", "all")
DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD = 600.0
# The closed set of trigger event statuses; anything else is a broken event.
EVENT_STATUSES = ("success", "failed", "timeout", "error")
NOT_FOUND = "task id not found at the vendor"


@dataclass(frozen=True)
class Verdict:
    """Where a wait stands after one look at the tasks."""

    status: str  # "pending", "success" or "failed"
    tasks: list[VideoTask]
    message: str
    failed_ids: list[str]


def judge(tasks: Sequence[VideoTask], *, fail_on: str, waited: float, unknown_grace_period: float) -> Verdict:
    """Decide the wait from the tasks' states.

    ``fail_on="any"`` fails as soon as one task failed or was rejected; ``"all"`` fails only when every
    task failed, and otherwise succeeds once all are terminal. An id still unknown after
    ``unknown_grace_period`` seconds of waiting counts as failed.
    """
    if waited > unknown_grace_period:
        tasks = [
            replace(task, state=TaskState.FAILED, error=f"{NOT_FOUND} (still unknown after {waited:.0f}s)")
            if task.state is TaskState.UNKNOWN
            else task
            for task in tasks
        ]
    else:
        tasks = list(tasks)
    failed = [task for task in tasks if task.state.is_failure]
    failed_ids = [task.task_id for task in failed]
    all_done = all(task.state.is_terminal for task in tasks)
    if failed and (fail_on == "any" or (all_done and len(failed) == len(tasks))):
        reasons = "; ".join(
            f"{task.task_id}: {task.state.value}" + (f" ({task.error})" if task.error else "") for task in failed
        )
        return Verdict("failed", tasks, f"{len(failed)} of {len(tasks)} video tasks failed: {reasons}", failed_ids)
    if all_done:
        message = f"all {len(tasks)} video tasks finished"
        if failed:
            message += f", {len(failed)} failed ({', '.join(failed_ids)})"
        return Verdict("success", tasks, message, failed_ids)
    return Verdict("pending", tasks, summarize(tasks), failed_ids)


class Watch:
    """What one wait remembers between two looks, for the readings that cannot be taken at face value.

    - A state nobody documents (``unrecognised_state``) is logged once and waited on as running for
      ``unrecognised_state_grace_period`` seconds from when it was first seen; then the task fails,
      naming the raw value, instead of hanging until the timeout.
    - A task reported done without a video URL (``missing_video``) is read once more (the next poll);
      reported so twice in a row, it fails with a clear message.

    It lives as long as the waiting process: a trigger restarted, or a sensor in reschedule mode,
    starts both clocks again.
    """

    def __init__(self, unrecognised_state_grace_period: float, log: Any) -> None:
        self.grace = unrecognised_state_grace_period
        self.log = log
        self._first_seen: dict[str, tuple[str, float]] = {}
        self._without_video: set[str] = set()

    def review(self, tasks: Sequence[VideoTask], now: float) -> list[VideoTask]:
        """The tasks as the verdict should see them."""
        return [self._review(task, now) for task in tasks]

    def _review(self, task: VideoTask, now: float) -> VideoTask:
        task_id = task.task_id
        if task.unrecognised_state is None:
            self._first_seen.pop(task_id, None)
        else:
            value, since = self._first_seen.get(task_id, (None, now))
            if value != task.unrecognised_state:
                since = now
                self._first_seen[task_id] = (task.unrecognised_state, since)
                self.log.warning(
                    "Video task %s: the vendor reports %s, which this provider does not know; waiting on it "
                    "as running for at most %.0fs",
                    task_id,
                    task.unrecognised_state,
                    self.grace,
                )
            if now - since > self.grace:
                return replace(
                    task,
                    state=TaskState.FAILED,
                    error=f"the vendor reported {task.unrecognised_state}, which this provider does not know, "
                    f"for {now - since:.0f}s (unrecognised_state_grace_period={self.grace:.0f}s)",
                )
        if not task.missing_video:
            self._without_video.discard(task_id)
        elif task_id in self._without_video:
            return replace(
                task,
                state=TaskState.FAILED,
                error="the vendor reported the task done but gave no video URL, twice in a row",
            )
        else:
            self._without_video.add(task_id)
            self.log.warning("Video task %s: reported done without a video URL; reading it once more", task_id)
        return task


def summarize(tasks: Sequence[VideoTask]) -> str:
    """One line for the logs: how many are done, how they ended, mean progress."""
    done = sum(task.state.is_terminal for task in tasks)
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.state.value] = counts.get(task.state.value, 0) + 1
    progresses = [task.progress for task in tasks if task.progress is not None]
    states = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    text = f"{done} of {len(tasks)} video tasks done ({states})"
    if progresses:
        text += f", mean progress {100 * sum(progresses) / len(progresses):.0f}%"
    return text


def video_urls(tasks: Sequence[VideoTask]) -> list[str]:
    """Every finished video, flat, in task order (what downstream tasks receive)."""
    return [url for task in tasks if task.state is TaskState.SUCCEEDED for url in task.video_urls]


def make_event(status: str, message: str, tasks: Sequence[VideoTask], failed_ids: Sequence[str] = ()) -> dict[str, Any]:
    """A JSON-safe trigger event."""
    return {
        "status": status,
        "message": message,
        "tasks": [task.to_dict() for task in tasks],
        "failed_task_ids": list(failed_ids),
    }


def check_wait_arguments(
    *,
    fail_on: str,
    poll_interval: float,
    unknown_grace_period: float,
    max_consecutive_errors: int,
    unrecognised_state_grace_period: float = DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD,
) -> None:
    """Refuse wait settings that cannot work, naming the argument."""
    if fail_on not in FAIL_ON:
        raise VideoTaskValidationError(f"fail_on must be 'any' or 'all', got {fail_on!r}")
    for name, value in (
        ("poll_interval", poll_interval),
        ("unknown_grace_period", unknown_grace_period),
        ("unrecognised_state_grace_period", unrecognised_state_grace_period),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
            raise VideoTaskValidationError(f"{name} must be a number of seconds >= 0, got {value!r}")
    if (
        isinstance(max_consecutive_errors, bool)
        or not isinstance(max_consecutive_errors, int)
        or max_consecutive_errors < 1
    ):
        raise VideoTaskValidationError(
            f"max_consecutive_errors must be an integer >= 1, got {max_consecutive_errors!r}"
        )
