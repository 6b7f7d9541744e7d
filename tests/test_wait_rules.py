"""Every waiting rule, as a table: observations fed to one Wait, the verdict it answers (no Airflow, no I/O)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from airflow_provider_videotask.api.errors import VideoTaskAuthError, VideoTaskServerError, VideoTaskValidationError
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.wait_rules import Verdict, Wait, WaitSettings

START = 1_800_000_000.0
LOG = logging.getLogger("test_wait_rules")


def task(task_id: str, state: str, **fields: Any) -> VideoTask:
    urls = ("https://v/" + task_id,) if state == "succeeded" else ()
    return VideoTask(task_id=task_id, state=TaskState(state), video_urls=urls, **fields)


def busy() -> VideoTaskServerError:
    return VideoTaskServerError("the vendor failed on its side", vendor="Hailuo", status_code=503, retryable=True)


# (scenario, settings, deadline after START, [(seconds after START, tasks or an error)], verdicts expected)
TABLE: list[tuple[str, dict[str, Any], float | None, list[tuple[float, Any]], list[str]]] = [
    ("all succeed", {}, None, [(1, [task("a", "running"), task("b", "succeeded")]),
                              (2, [task("a", "succeeded"), task("b", "succeeded")])], ["pending", "success"]),
    ("any: one failure ends it", {}, None, [(1, [task("a", "running"), task("b", "failed")])], ["failed"]),
    ("all: one failure waits for the rest", {"fail_on": "all"}, None,
     [(1, [task("a", "running"), task("b", "failed")]), (2, [task("a", "succeeded"), task("b", "failed")])],
     ["pending", "success"]),
    ("all: every failure fails", {"fail_on": "all"}, None, [(1, [task("a", "rejected"), task("b", "failed")])],
     ["failed"]),
    ("unknown within its grace", {"unknown_grace_period": 10}, None, [(5, [task("a", "unknown")])], ["pending"]),
    ("unknown past its grace", {"unknown_grace_period": 10}, None,
     [(5, [task("a", "unknown")]), (11, [task("a", "unknown")])], ["pending", "failed"]),
    ("odd state within its grace", {"unrecognised_state_grace_period": 10}, None,
     [(1, [task("a", "running", unrecognised_state="7")]), (10, [task("a", "running", unrecognised_state="7")])],
     ["pending", "pending"]),
    ("odd state past its grace", {"unrecognised_state_grace_period": 10}, None,
     [(1, [task("a", "running", unrecognised_state="7")]), (12, [task("a", "running", unrecognised_state="7")])],
     ["pending", "failed"]),
    ("done without a video: read once more", {}, None,
     [(1, [task("a", "running", missing_video=True)]), (2, [task("a", "succeeded")])], ["pending", "success"]),
    ("done without a video twice", {}, None,
     [(1, [task("a", "running", missing_video=True)]), (2, [task("a", "running", missing_video=True)])],
     ["pending", "failed"]),
    ("errors ridden out, then an answer", {"max_consecutive_errors": 3}, None,
     [(1, busy()), (2, busy()), (3, [task("a", "succeeded")])], ["pending", "pending", "success"]),
    ("too many errors in a row", {"max_consecutive_errors": 3}, None,
     [(1, busy()), (2, busy()), (3, [task("a", "running")]), (4, busy()), (5, busy()), (6, busy())],
     ["pending", "pending", "pending", "pending", "pending", "error"]),
    ("an error no retry cures", {}, None, [(1, VideoTaskAuthError("refused", vendor="Hailuo"))], ["error"]),
    ("past the deadline", {}, 10, [(5, [task("a", "running")]), (10, [task("a", "running")])], ["pending", "timeout"]),
    ("finished just in time counts", {}, 10, [(10, [task("a", "succeeded")])], ["success"]),
    ("an error past the deadline", {}, 10, [(11, busy())], ["timeout"]),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "deadline", "observations", "expected"), [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])  # fmt: skip
def test_the_wait_answers_each_observation(
    settings: dict[str, Any], deadline: float | None, observations: list[tuple[float, Any]], expected: list[str]
) -> None:
    wait = Wait(WaitSettings(**settings), started_at=START, deadline=None if deadline is None else START + deadline,
                log=LOG)  # fmt: skip
    verdicts: list[Verdict] = []
    for at, seen in observations:
        now = START + at
        verdicts.append(wait.observe_error(seen, now) if isinstance(seen, Exception) else wait.observe(seen, now))
    assert [verdict.status for verdict in verdicts] == expected


def test_a_verdict_travels_as_a_trigger_event() -> None:
    verdict = Wait(WaitSettings(), started_at=START, deadline=None, log=LOG).observe(
        [task("a", "succeeded"), task("b", "failed", error="no channel")], START + 1
    )
    again = Verdict.from_event(verdict.to_event())
    assert again == verdict
    assert again is not None
    assert again.failed_ids == ["b"]
    assert Verdict.from_event({"status": "maybe"}) is None
    assert Verdict.from_event(None) is None


def test_the_messages_say_what_happened() -> None:
    wait = Wait(WaitSettings(max_consecutive_errors=2), started_at=START, deadline=START + 60, log=LOG)
    wait.observe([task("a", "running", progress=0.5)], START + 1)
    assert wait.observe_error(busy(), START + 2).message.startswith("poll failed")
    gave_up = wait.observe_error(busy(), START + 3)
    assert gave_up.message.startswith("gave up after 2 failed polls in a row")
    assert gave_up.tasks[0].task_id == "a"  # the last reading goes with it
    timed_out = Wait(WaitSettings(), started_at=START, deadline=START + 60, log=LOG).observe(
        [task("a", "running", progress=0.5)], START + 61
    )
    assert timed_out.message == "timed out after 61s: 0 of 1 video tasks done (1 running), mean progress 50%"


@pytest.mark.parametrize(
    ("settings", "named"),
    [({"fail_on": "most"}, "fail_on"), ({"unknown_grace_period": -1}, "unknown_grace_period"),
     ({"unrecognised_state_grace_period": float("inf")}, "unrecognised_state_grace_period"),
     ({"max_consecutive_errors": 0}, "max_consecutive_errors"), ({"max_consecutive_errors": True}, "max_consecutive")],
)  # fmt: skip
def test_bad_settings_name_the_argument(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        WaitSettings(**settings)


def test_progress_is_logged_when_it_changes_and_at_most_every_thirty_seconds() -> None:
    wait = Wait(WaitSettings(), started_at=START, deadline=None, log=LOG)

    def line_at(seconds: float, tasks: list[VideoTask]) -> str | None:
        return wait.progress(wait.observe(tasks, START + seconds), START + seconds)

    queued = [task("a", "queued"), task("b", "queued")]
    assert line_at(1, queued) == "0 of 2 video tasks done (2 queued); 1s since the wait began"  # the first, always
    assert line_at(5, queued) is None  # unchanged: never repeated
    assert line_at(40, queued) is None  # not even later
    assert line_at(45, [task("a", "running", progress=0.1), task("b", "queued")]) is not None  # changed, 44 s on
    assert line_at(50, [task("a", "running", progress=0.2), task("b", "queued")]) is None  # changed, only 5 s on
    assert line_at(75, [task("a", "running", progress=0.3), task("b", "queued")]) == (
        "0 of 2 video tasks done (1 queued, 1 running), mean progress 30%; 75s since the wait began"
    )
    assert line_at(76, [task("a", "succeeded"), task("b", "succeeded")]) is None  # over: its owner logs the verdict


def test_the_summary_table_has_a_row_per_task() -> None:
    from airflow_provider_videotask.wait_rules import summary_table

    tasks = [task("a1", "succeeded", seconds=95.4), task("b", "failed", error="content review", seconds=7.0)]
    assert summary_table([*tasks, task("c", "running")]).splitlines() == [
        "video task  state      seconds  video URL(s) or error",
        "a1          succeeded       95  https://v/a1",
        "b           failed           7  content review",
        "c           running",
    ]


def test_a_task_over_carries_seconds_from_submit_to_finish() -> None:
    wait = Wait(WaitSettings(), started_at=1000.0, deadline=None, log=LOG)
    assert wait.observe([task("h", "running")], 1010.0).tasks[0].seconds is None  # not over yet
    # HiDream reports no times: from the start of the wait to the first poll that saw it over.
    [first] = wait.observe([task("h", "succeeded")], 1042.0).tasks
    [again] = wait.observe([task("h", "succeeded")], 1072.0).tasks
    assert (first.seconds, again.seconds, first.detection_delay) == (42.0, 42.0, None)
    # Ace reports when it was created and finished: those win, and how late it was seen is known.
    ace = task("a", "succeeded", created_at=900.0, finished_at=1030.0)
    [timed] = Wait(WaitSettings(), started_at=1000.0, deadline=None, log=LOG).observe([ace], 1032.5).tasks
    assert (timed.seconds, timed.detection_delay) == (130.0, 2.5)
    assert VideoTask.from_dict(timed.to_dict()) == replace(timed, created_at=None, finished_at=None)


def test_the_progress_interval_is_a_setting() -> None:
    wait = Wait(WaitSettings(progress_interval=5), started_at=0.0, deadline=None, log=LOG)
    lines = [
        wait.progress(wait.observe([task("a", "running", progress=step / 10)], now), now)
        for step, now in enumerate([1.0, 3.0, 7.0])
    ]
    assert [line is not None for line in lines] == [True, False, True]
    with pytest.raises(VideoTaskValidationError, match="progress_interval must be a number of seconds"):
        WaitSettings(progress_interval=-1)
