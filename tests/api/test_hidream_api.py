"""HiDream: requests built and answers read exactly as API_NOTES.md says, whatever the vendor sends."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_videotask.api import hidream
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskResponseError,
    VideoTaskServerError,
    VideoTaskValidationError,
)
from airflow_provider_videotask.api.models import TaskState

URL = "https://media.hidreamai.com/x.mp4"


def sub(status: Any, video: Any = None, completion: Any = None, **more: Any) -> dict[str, Any]:
    return {"sub_task_id": "s", "task_status": status, "video": video, "task_completion": completion, **more}


# API_NOTES.md section 3, HiDream column, one row per signal.
@pytest.mark.parametrize(
    ("subs", "state"),
    [
        pytest.param([sub(0)], TaskState.QUEUED, id="0-waiting"),
        pytest.param([sub(2, completion=0.4)], TaskState.RUNNING, id="2-processing"),
        pytest.param([sub(-1)], TaskState.RUNNING, id="negative-1"),
        pytest.param([sub(-5)], TaskState.RUNNING, id="negative-5"),
        pytest.param([sub(1)], TaskState.RUNNING, id="1-without-video"),
        pytest.param([sub(1, video="")], TaskState.RUNNING, id="1-with-empty-video"),
        pytest.param([sub(1, video=URL)], TaskState.SUCCEEDED, id="1-with-video"),
        pytest.param([sub(3)], TaskState.FAILED, id="3-failed"),
        pytest.param([sub(4)], TaskState.REJECTED, id="4-rejected"),
        pytest.param([], TaskState.UNKNOWN, id="empty-sub-task-results"),
        pytest.param(None, TaskState.UNKNOWN, id="null-sub-task-results"),
        pytest.param([sub("2")], TaskState.RUNNING, id="status-as-string"),
        pytest.param([sub("1", video=URL)], TaskState.SUCCEEDED, id="done-as-string"),
        pytest.param([sub(None)], TaskState.RUNNING, id="status-null"),
        pytest.param([{"sub_task_id": "s"}], TaskState.RUNNING, id="status-missing"),
        pytest.param([sub(1, video=123)], TaskState.RUNNING, id="video-not-a-string"),
        pytest.param(["not a dict"], TaskState.RUNNING, id="sub-task-not-an-object"),
    ],
)
def test_state_table(subs: Any, state: TaskState) -> None:
    task = hidream.parse_task({"task_id": "t1", "sub_task_results": subs})
    assert task.task_id == "t1"
    assert task.state is state
    assert task.video_urls == ((URL,) if state is TaskState.SUCCEEDED else ())


def test_unrecognised_status_is_running_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        task = hidream.parse_task({"task_id": "t1", "sub_task_results": [sub(99)]})
    assert task.state is TaskState.RUNNING
    assert "unrecognised task_status 99" in caplog.text


@pytest.mark.parametrize(
    ("statuses", "state"),
    [
        ([(1, URL), (1, URL + "2")], TaskState.SUCCEEDED),
        ([(1, URL), (2, None)], TaskState.RUNNING),
        ([(0, None), (0, None)], TaskState.QUEUED),
        ([(0, None), (2, None)], TaskState.RUNNING),
        ([(1, URL), (3, None)], TaskState.FAILED),
        ([(1, URL), (4, None)], TaskState.REJECTED),
        ([(4, None), (3, None)], TaskState.FAILED),
    ],
)
def test_sub_tasks_aggregate(statuses: list[tuple[int, str | None]], state: TaskState) -> None:
    subs = [sub(status, video=video) for status, video in statuses]
    assert hidream.parse_task({"task_id": "t", "sub_task_results": subs}).state is state


def test_several_videos_in_sub_task_order_and_mean_progress() -> None:
    subs = [sub(1, video=URL + "a", completion=1), sub(1, video=URL + "b", completion="0.5")]
    task = hidream.parse_task({"task_id": "t", "sub_task_results": subs})
    assert task.video_urls == (URL + "a", URL + "b")
    assert task.progress == pytest.approx(0.75)


def test_progress_is_clamped_and_tolerant() -> None:
    task = hidream.parse_task({"task_id": "t", "sub_task_results": [sub(2, completion=7), sub(2, completion="x")]})
    assert task.progress == 1.0


def test_failure_message_names_the_sub_task() -> None:
    task = hidream.parse_task({"task_id": "t", "sub_task_results": [dict(sub(4), sub_task_id="abc")]})
    assert task.error == "abc: rejected by content review"


SEED_BATCH = """{
"code": 0,
"message": "请求成功",
"request_id": "cdb5f35a-e11b-11ee-b3bd-6aea5a175df8",
"result": [
{"sub_task_results": [{"sub_task_id": "67375f2a-bd41-4905-b422-61e957e1be89", "task_completion": 1,
  "task_status": 1, "video": "https://media.hidreamai.com/99090e36-9ac1-439f-91c7-5f62293e8904.mp4",
  "video_wm": "https://media.hidreamai.com/99090e36-9ac1-439f-91c7-5f62293e8904_wm.mp4"}],
 "task_id": "f48051cc-e109-11ee-b588-be4091741d67"},
{"sub_task_results": [{"sub_task_id": "49df0d8c-6c71-4a41-8032-cf427c9bc726", "task_completion": 1,
  "task_status": 1, "video": "https://media.hidreamai.com/74109859-4ac6-48c5-ba5b-aa5a027b8461.mp4",
  "video_wm": "https://media.hidreamai.com/74109859-4ac6-48c5-ba5b-aa5a027b8461_wm.mp4"}],
 "task_id": "c29574f4-e117-11ee-aee0-8ab6933153da"}
]
}"""


def test_seed_batch_example_in_callers_order_with_unknown_ids() -> None:
    asked = ["c29574f4-e117-11ee-aee0-8ab6933153da", "missing", "f48051cc-e109-11ee-b588-be4091741d67"]
    tasks = hidream.parse_batch(hidream.read_response(200, SEED_BATCH), asked)
    assert [t.task_id for t in tasks] == asked
    assert [t.state for t in tasks] == [TaskState.SUCCEEDED, TaskState.UNKNOWN, TaskState.SUCCEEDED]
    assert tasks[0].video_urls == ("https://media.hidreamai.com/74109859-4ac6-48c5-ba5b-aa5a027b8461.mp4",)
    assert tasks[2].progress == 1.0


def test_batch_result_of_the_wrong_type_is_a_retryable_response_error() -> None:
    with pytest.raises(VideoTaskResponseError) as caught:
        hidream.parse_batch("oops", ["a"])
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable", "in_message"),
    [
        (200, {"code": 2031, "message": "model not available", "request_id": "r-1"}, VideoTaskApiError, False, "2031"),
        (401, {"code": 401, "message": "invalid token", "request_id": "r-1"}, VideoTaskAuthError, False, "API token"),
        (503, {"code": 503, "message": "busy", "request_id": "r-1"}, VideoTaskServerError, True, "HTTP 503"),
        (200, {"code": "7", "message": "odd", "request_id": "r-1"}, VideoTaskApiError, False, "code 7"),
    ],
)
def test_error_envelopes(
    status: int, body: dict[str, Any], kind: type[VideoTaskApiError], retryable: bool, in_message: str
) -> None:
    with pytest.raises(kind) as caught:
        hidream.read_response(status, json.dumps(body))
    error = caught.value
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.trace_id == "r-1"
    assert in_message in str(error)
    assert "r-1" in str(error)


def test_unreadable_success_body_is_retryable() -> None:
    with pytest.raises(VideoTaskResponseError) as caught:
        hidream.read_response(200, '{"code": 0, "result": [')
    assert caught.value.retryable


def test_submit_request_passes_unknown_fields_and_drops_none() -> None:
    request = hidream.submit_request("txt2video", {"prompt": "fox", "aspect_ratio": None, "new_knob": 3})
    assert (request.method, request.path) == ("POST", "/api-pub/gw/v2/video/txt2video/async")
    assert request.json == {"prompt": "fox", "new_knob": 3}
    assert request.paid


def test_read_requests() -> None:
    batch = hidream.batch_request("img2video", ["a", "b"])
    assert (batch.method, batch.path) == ("POST", "/api-pub/gw/v2/video/img2video/async/results/batch")
    assert batch.json == {"task_id_list": ["a", "b"]}
    assert not batch.paid
    single = hidream.result_request("video_edit", "a")
    assert (single.method, single.path, dict(single.params)) == (
        "GET",
        "/api-pub/gw/v2/video/video_edit/async/results",
        {"task_id": "a"},
    )


@pytest.mark.parametrize(
    ("module", "fields", "named"),
    [
        ("txt2video", {}, "'prompt'"),
        ("img2video", {"prompt": "x"}, "'image'"),
        ("video_edit", {"prompt": "x"}, "'video_name'"),
        ("video_edit", {"video_name": "https://v"}, "'prompt' or 'style'"),
        ("video_edit", {"video_name": "https://v", "style": "oil"}, "style must be one of"),
        ("txt2video", {"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
        ("txt2video", {"prompt": "x", "resolution_ratio": 720}, "resolution_ratio"),
        ("txt2video", {"prompt": "x", "camera_move_depth": 6}, "camera_move_depth"),
        ("txt2video", {"prompt": "x", "motion_strength": 31}, "motion_strength"),
        ("txt2vid", {"prompt": "x"}, "module must be one of"),
    ],
)
def test_submit_validation_names_the_field(module: str, fields: dict[str, Any], named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        hidream.submit_request(module, fields)
