"""Every rule of waiting on vendor tasks, in one place: when a wait is over, and how it ended.

Pure: neither Airflow nor asyncio. The worker-side waiter (``waiting.py``: the sensor's poke and
reschedule modes, the operators' in-task wait) and the trigger (``triggers/video_task.py``) both feed a
:class:`Wait` what they observe (the tasks' states, or a failed poll) and act on the :class:`Verdict`
it answers. The rules:

- ``fail_on="any"`` fails as soon as one task failed or was rejected; ``"all"`` fails only when every
  task failed, and otherwise succeeds once all are over (:func:`judge`).
- An id still unknown to the vendor after ``unknown_grace_period`` seconds counts as failed.
- A state nobody documents is waited on as running for ``unrecognised_state_grace_period`` seconds,
  then fails naming it; a task reported done without a video is read once more, then fails (:class:`Watch`).
- A failed poll that a retry may cure is ridden out ``max_consecutive_errors - 1`` times in a row; the
  next, or any other failure, ends the wait with ``error``.
- Past the deadline, a wait that is not over ends with ``timeout``; a task that finished just in time
  still counts (the tasks are judged first).
- A task seen over is final: it is not read again. The trigger reads only the tasks it has not seen over;
  a callback reads only the task it names, and notes it once over (``callbacks/notes.py``); a wait woken
  by callbacks is judged on the notes, a task not noted reading as running (:func:`callback_verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from airflow_provider_videotask.api.errors import VideoTaskApiError, VideoTaskValidationError
from airflow_provider_videotask.api.models import TaskState, VideoTask

DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_UNKNOWN_GRACE_PERIOD = 300.0
DEFAULT_MAX_CONSECUTIVE_ERRORS = 5
DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD = 600.0
# A waiter logs its progress when it changes, at most this often by default (``progress_interval``):
# thousands of waiters sharing a triggerer must not write a line each on every poll (the shared poller
# logs one line per cycle).
DEFAULT_PROGRESS_INTERVAL = 30.0
FAIL_ON = ("any", "all")
# The closed set of ends of a wait (and of trigger event statuses); "pending" means it goes on.
EVENT_STATUSES = ("success", "failed", "timeout", "error")
NOT_FOUND = "task id not found at the vendor"
# What may wake a wait: a poll (the trigger's, the sensor's, the operator's) or a vendor's callback.
SOURCES = ("poll", "callback")
# The ends a callback may bring (callback_verdict): the vendor's own reading of the tasks. A timeout or
# an error is the trigger's to decide, on its own clock and with its own retries.
CALLBACK_ENDS = ("success", "failed")


@dataclass(frozen=True)
class WaitSettings:
    """How a wait judges what it sees: the wait arguments the sensor, the operators and the trigger share,
    each declared and defaulted here once (the operators' and the sensor's signatures name these defaults,
    since Airflow checks ``partial()`` arguments against a signature).

    - ``fail_on``: ``"any"`` fails the wait as soon as one task failed or was rejected; ``"all"`` only when
      every task failed.
    - ``unknown_grace_period``: seconds an id may stay unknown to the vendor before it counts as failed.
    - ``max_consecutive_errors``: failed polls in a row (each after the hook's own retries) before the wait
      ends with ``error``.
    - ``unrecognised_state_grace_period``: seconds a task may report a state nobody documents (waited on as
      running) before it counts as failed.
    - ``progress_interval``: seconds between two progress lines while the tasks change.

    Checked when made, so a bad value fails when the DAG is parsed, naming the argument.
    """

    fail_on: str = "any"
    unknown_grace_period: float = DEFAULT_UNKNOWN_GRACE_PERIOD
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS
    unrecognised_state_grace_period: float = DEFAULT_UNRECOGNISED_STATE_GRACE_PERIOD
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise VideoTaskValidationError(f"fail_on must be 'any' or 'all', got {self.fail_on!r}")
        for name in ("unknown_grace_period", "unrecognised_state_grace_period", "progress_interval"):
            check_seconds(name, getattr(self, name))
        errors = self.max_consecutive_errors
        if isinstance(errors, bool) or not isinstance(errors, int) or errors < 1:
            raise VideoTaskValidationError(f"max_consecutive_errors must be an integer >= 1, got {errors!r}")

    def as_kwargs(self) -> dict[str, Any]:
        return asdict(self)


def check_seconds(name: str, value: Any) -> None:
    """Refuse anything but a finite number of seconds >= 0, naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
        raise VideoTaskValidationError(f"{name} must be a number of seconds >= 0, got {value!r}")


@dataclass(frozen=True)
class Verdict:
    """Where a wait stands after one observation."""

    status: str  # "pending", or one of EVENT_STATUSES
    tasks: list[VideoTask]
    message: str
    failed_ids: list[str] = field(default_factory=list)
    source: str = "poll"  # what woke the wait: a poll, or a vendor's callback (SOURCES)

    @property
    def over(self) -> bool:
        return self.status != "pending"

    def to_event(self) -> dict[str, Any]:
        """The JSON-safe trigger event."""
        return {
            "status": self.status,
            "message": self.message,
            "tasks": [task.to_dict() for task in self.tasks],
            "failed_task_ids": list(self.failed_ids),
            "source": self.source,
        }

    @classmethod
    def from_event(cls, event: Any) -> Verdict | None:
        """The verdict a trigger event carries; None for a missing or broken event."""
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
            return None
        tasks = [VideoTask.from_dict(task) for task in event.get("tasks") or []]
        failed_ids = [str(task_id) for task_id in event.get("failed_task_ids") or []]
        source = str(event["source"]) if event.get("source") in SOURCES else "poll"
        return cls(event["status"], tasks, str(event.get("message", "")), failed_ids, source)


class Wait:
    """One wait on a batch of tasks: fed observations, it answers with a verdict.

    :param wait_settings: how to judge.
    :param started_at: Unix time the wait began (the unknown grace period counts from it).
    :param deadline: Unix time after which a wait that is not over times out (None: never).
    :param log: where the odd readings and ridden-out errors are reported.
    """

    def __init__(self, wait_settings: WaitSettings, *, started_at: float, deadline: float | None, log: Any) -> None:
        self.wait_settings = wait_settings
        self.started_at = started_at
        self.deadline = deadline
        self.log = log
        self.consecutive_errors = 0
        self.tasks: list[VideoTask] = []  # the last reading, for a timeout or an error to report
        self._watch = Watch(wait_settings.unrecognised_state_grace_period, log)
        self._progress: tuple[str, float] | None = None  # the last progress line logged, and when
        self._seen_over: dict[str, float] = {}  # when each task was first seen over

    def progress(self, verdict: Verdict, now: float) -> str | None:
        """The progress line to log for a verdict that is not over, or None to stay quiet: the first
        one, then a changed one at most every ``progress_interval`` seconds (the final verdict is logged
        by whoever acts on it)."""
        if verdict.over or (
            self._progress is not None
            and (verdict.message == self._progress[0] or now - self._progress[1] < self.wait_settings.progress_interval)
        ):
            return None
        self._progress = (verdict.message, now)
        return f"{verdict.message}; {now - self.started_at:.0f}s since the wait began"

    def observe(self, tasks: Sequence[VideoTask], now: float) -> Verdict:
        """The tasks as one poll read them."""
        self.consecutive_errors = 0
        self.tasks = self._watch.review(tasks, now)
        verdict = judge(
            self.tasks,
            fail_on=self.wait_settings.fail_on,
            waited=now - self.started_at,
            unknown_grace_period=self.wait_settings.unknown_grace_period,
        )
        verdict = replace(verdict, tasks=[self._timed(task, now) for task in verdict.tasks])
        return verdict if verdict.over else self._timed_out(now) or verdict

    def _timed(self, task: VideoTask, now: float) -> VideoTask:
        if not task.state.is_terminal:
            return task
        return timed(task, started_at=self.started_at, seen_at=self._seen_over.setdefault(task.task_id, now))

    def observe_error(self, error: BaseException, now: float) -> Verdict:
        """A poll that failed (after the hook's own retries)."""
        if not (isinstance(error, VideoTaskApiError) and error.retryable):
            return Verdict("error", self.tasks, str(error) or repr(error))
        self.consecutive_errors += 1
        limit = self.wait_settings.max_consecutive_errors
        if self.consecutive_errors >= limit:
            message = f"gave up after {self.consecutive_errors} failed polls in a row: {error}"
            return Verdict("error", self.tasks, message)
        self.log.warning("Poll %d of %d failed, the wait goes on: %s", self.consecutive_errors, limit, error)
        return self._timed_out(now) or Verdict("pending", self.tasks, f"poll failed: {error}")

    def remaining(self, now: float) -> float | None:
        """Seconds until the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - now

    def _timed_out(self, now: float) -> Verdict | None:
        if self.deadline is None or now < self.deadline:
            return None
        seen = summarize(self.tasks) if self.tasks else "no answer yet"
        return Verdict("timeout", self.tasks, f"timed out after {now - self.started_at:.0f}s: {seen}")


def timed(task: VideoTask, *, started_at: float, seen_at: float) -> VideoTask:
    """A task over, with how long it took: the vendor's own times where it reports them (Ace), else from the
    start of the wait (for the operators, the submit) to when it was first seen over. A task timed already
    (remembered by a trigger, noted by a callback) keeps its figures."""
    if not task.state.is_terminal or task.seconds is not None:
        return task
    finished = task.finished_at if task.finished_at is not None else seen_at
    started = task.created_at if task.created_at is not None else started_at
    delay = None if task.finished_at is None else max(0.0, seen_at - task.finished_at)
    return replace(task, seconds=max(0.0, finished - started), detection_delay=delay)


def callback_verdict(
    tasks: Sequence[VideoTask],
    wait_settings: WaitSettings,
    *,
    started_at: float,
    deadline: float | None,
    now: float,
    log: Any,
) -> Verdict | None:
    """What a vendor's callback may do to a wait, given its tasks as the vendor read them after their callbacks
    (a callback's body is never trusted; a task not read over yet reads as running): end it, as the trigger
    would on the same reading, when that ends in success or failure; otherwise nothing (None), and the
    trigger goes on."""
    verdict = Wait(wait_settings, started_at=started_at, deadline=deadline, log=log).observe(tasks, now)
    return replace(verdict, source="callback") if verdict.status in CALLBACK_ENDS else None


def judge(tasks: Sequence[VideoTask], *, fail_on: str, waited: float, unknown_grace_period: float) -> Verdict:
    """Decide the wait from the tasks' states (see the module's rules)."""
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


def stopped_waiting(video_task_ids: Sequence[str], vendor: str) -> str:
    """What a wait stopped by a person (marked failed or success, cleared) must say: the vendor tasks
    go on. Neither vendor documents a cancel call (HiDream's API has submit and result queries only;
    Ace Data Cloud's tasks API, ``retrieve`` and ``retrieve_batch``), so nothing is cancelled."""
    return (
        f"Stopped waiting, as asked. {vendor} offers no way to cancel a task: video task(s) "
        f"{', '.join(video_task_ids)} keep running at {vendor} and are billed; their videos can still be "
        "collected later with VideoTaskSensor(video_task_ids=[...])."
    )


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
    # What the vendor reports that this provider cannot read, raw, so a wait ending at its deadline says it.
    odd = [f"{task.task_id}: {task.unrecognised_state}" for task in tasks if task.unrecognised_state]
    if odd:
        more = f" and {len(odd) - 3} more" if len(odd) > 3 else ""
        text += f"; the vendor reports what this provider does not know: {'; '.join(odd[:3])}{more}"
    return text


def summary_table(tasks: Sequence[VideoTask]) -> str:
    """The end of a wait, one row per task: its id, how it ended, seconds from submit to finish (see
    ``Wait``), its videos or its error."""
    rows = [("video task", "state", "seconds", "video URL(s) or error")]
    rows += [
        (
            task.task_id,
            task.state.value,
            "" if task.seconds is None else f"{task.seconds:.0f}",
            " ".join(task.video_urls) or task.error or "",
        )
        for task in tasks
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        f"{row[0]:{widths[0]}}  {row[1]:{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip() for row in rows
    )


def video_urls(tasks: Sequence[VideoTask]) -> list[str]:
    """Every finished video, flat, in task order (what downstream tasks receive)."""
    return [url for task in tasks if task.state is TaskState.SUCCEEDED for url in task.video_urls]
