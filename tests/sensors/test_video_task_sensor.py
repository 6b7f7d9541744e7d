"""VideoTaskSensor's own rules: arguments, the first look before deferring, and event validation."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout, TaskDeferred

from airflow_provider_videotask.exceptions import VideoTaskValidationError
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import LogCapture, RecordingTI


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": RecordingTI()}


def sensor(**kwargs: Any) -> VideoTaskSensor:
    defaults: dict[str, Any] = {
        "task_id": "wait",
        "video_task_ids": ["a"],
        "conn_id": "hidream_default",
        "poke_interval": 7,
    }
    return VideoTaskSensor(**{**defaults, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"fail_on": "most"}, "fail_on"), ({"unknown_grace_period": -1}, "unknown_grace_period"),
     ({"conn_id": ""}, "conn_id"), ({"max_consecutive_errors": 0}, "max_consecutive_errors")],
)  # fmt: skip
def test_bad_arguments_fail_at_parse_time_naming_the_argument(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        sensor(**kwargs)


@pytest.mark.parametrize(
    ("task_ids", "named"),
    [([], "video_task_ids is empty"), (["ok", 7], r"video_task_ids\[1\]"), ("", "video_task_ids")],
)
def test_bad_task_ids_fail_at_run_time_naming_the_argument(
    task_ids: Any, named: str, context: dict[str, Any], sandbox_conns: Sandbox
) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        sensor(video_task_ids=task_ids).execute(context)


def test_module_on_a_hailuo_connection_is_refused(context: dict[str, Any], sandbox_conns: Sandbox) -> None:
    with pytest.raises(VideoTaskValidationError, match="module='txt2video/x' does not apply to the Hailuo connection"):
        sensor(conn_id="hailuo_default", module="txt2video/x").execute(context)


def test_a_single_id_is_accepted_and_tasks_already_done_need_no_trigger(
    context: dict[str, Any], sandbox_conns: Sandbox
) -> None:
    task_id = HailuoHook().submit("boat")
    urls = sensor(video_task_ids=task_id, conn_id="hailuo_default", deferrable=True).execute(context)
    assert len(urls) == 1
    assert context["ti"].xcom["tasks"][0]["task_id"] == task_id


def test_pending_tasks_defer_with_the_sensors_timeout(context: dict[str, Any], sandbox_conns: Sandbox) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="slow [duration=600]")
    waiting = sensor(video_task_ids=[task_id], deferrable=True, timeout=120, fail_on="all", module="txt2video")
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, VideoTaskTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert 119 < deferred.value.timeout.total_seconds() <= 120  # what is left of the wait, as the deadline
    kwargs = trigger.serialize()[1]
    assert kwargs["video_task_ids"] == [task_id]
    assert kwargs["poll_interval"] == 7
    assert kwargs["conn_type"] == "hidream"
    assert kwargs["fail_on"] == "all"
    assert kwargs["deadline"] == pytest.approx(kwargs["wait_started_at"] + 120)


@pytest.mark.parametrize("event", [None, {}, {"status": "done"}, "success", {"status": None}])
def test_execute_complete_refuses_a_missing_or_unknown_event(event: Any, context: dict[str, Any]) -> None:
    with pytest.raises(AirflowException, match="unexpected trigger event"):
        sensor().execute_complete(context, event)


def test_execute_complete_success_returns_urls_and_pushes_tasks(context: dict[str, Any]) -> None:
    tasks = [
        {"task_id": "a", "state": "succeeded", "progress": 1.0, "video_urls": ["u1", "u2"], "error": None},
        {"task_id": "b", "state": "failed", "progress": None, "video_urls": [], "error": "boom"},
    ]
    event = {"status": "success", "message": "done", "tasks": tasks, "failed_task_ids": ["b"]}
    assert sensor(fail_on="all").execute_complete(context, event) == ["u1", "u2"]
    # An event of an older trigger, without the timings: they read as unknown.
    unknown = {"video_ids": [], "seconds": None, "detection_delay": None}
    assert context["ti"].xcom["tasks"] == [{**task, **unknown} for task in tasks]


@pytest.mark.parametrize(("status", "error"), [("timeout", AirflowSensorTimeout), ("error", AirflowException)])
def test_execute_complete_timeout_and_error_raise(status: str, error: type[Exception], context: dict[str, Any]) -> None:
    with pytest.raises(error, match="vendor said no"):
        sensor().execute_complete(context, {"status": status, "message": "vendor said no", "tasks": []})


def test_the_old_argument_name_still_works_and_warns(context: dict[str, Any], sandbox_conns: Sandbox) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="fox [duration=0]")
    with pytest.warns(DeprecationWarning, match=r"task_ids=\.\.\.\) is deprecated: use video_task_ids"):
        waiting = VideoTaskSensor(task_id="wait", task_ids=[task_id], conn_id="hidream_default", poke_interval=0.01)
    assert waiting.video_task_ids == [task_id]
    assert len(waiting.execute(context)) == 1
    with pytest.raises(VideoTaskValidationError, match="not both"), pytest.warns(DeprecationWarning, match="task_ids"):
        VideoTaskSensor(task_id="wait", task_ids=["a"], video_task_ids=["a"], conn_id="hidream_default")


def test_a_sensor_stopped_in_poke_mode_says_what_keeps_billing(sandbox_conns: Sandbox, logs: LogCapture) -> None:
    """Airflow calls on_kill when a person marks the waiting task failed or success, or clears it."""
    sensor = VideoTaskSensor(task_id="wait", video_task_ids=["v-1", "v-2"], conn_id="hailuo_default", mode="poke")
    sensor.on_kill()
    assert "video task(s) v-1, v-2 keep running at Hailuo and are billed" in logs.text
