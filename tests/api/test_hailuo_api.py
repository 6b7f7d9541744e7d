"""Hailuo: requests built and answers read exactly as API_NOTES.md says, whatever the vendor sends."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_videotask.api import hailuo
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskQuotaError,
    VideoTaskRateLimitError,
    VideoTaskResponseError,
    VideoTaskServerError,
    VideoTaskValidationError,
)
from airflow_provider_videotask.api.models import TaskState

URL = "https://file.example/v.mp4"


def doc(response: Any = None, **data: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"id": "t1", "created_at": 1736863231.588, "trace_id": "tr-1"}
    if response is not None:
        document["response"] = response
    elif data:
        document["response"] = {"success": True, "task_id": "t1", "data": [data]}
    return document


# API_NOTES.md section 3, Hailuo column, one row per signal.
@pytest.mark.parametrize(
    ("document", "state"),
    [
        pytest.param(doc(), TaskState.QUEUED, id="no-response-yet"),
        pytest.param({"id": "t1", "response": None}, TaskState.QUEUED, id="response-null"),
        pytest.param(doc(state="queued"), TaskState.QUEUED, id="queued"),
        pytest.param(doc(state="pending"), TaskState.QUEUED, id="pending"),
        pytest.param(doc(state="processing"), TaskState.RUNNING, id="processing"),
        pytest.param(doc(state="running"), TaskState.RUNNING, id="running"),
        pytest.param(doc(state="succeeded", video_url=URL), TaskState.SUCCEEDED, id="succeeded-with-url"),
        pytest.param(doc(state="succeeded"), TaskState.RUNNING, id="succeeded-without-url"),
        pytest.param(doc({"success": True, "task_id": "t1"}), TaskState.RUNNING, id="success-alone-is-not-done"),
        pytest.param(
            doc({"success": False, "error": {"code": "api_error", "message": "no channel available for minimax-t2v"}}),
            TaskState.FAILED,
            id="success-false-with-error",
        ),
        pytest.param(doc(state="failed"), TaskState.FAILED, id="failed"),
        pytest.param(doc(state="error"), TaskState.FAILED, id="error"),
        pytest.param(doc(state="cancelled"), TaskState.FAILED, id="cancelled"),
        pytest.param(doc(state="canceled"), TaskState.FAILED, id="canceled"),
        pytest.param(doc(state="rejected"), TaskState.FAILED, id="rejected-word"),
        pytest.param(doc(state="FAILED", video_url=URL), TaskState.FAILED, id="failure-outranks-success-true"),
        pytest.param(doc(state=None), TaskState.RUNNING, id="state-null"),
        pytest.param(doc({"success": True, "data": "oops"}), TaskState.RUNNING, id="data-not-a-list"),
        pytest.param(doc(state="succeeded", video_url=7), TaskState.RUNNING, id="url-not-a-string"),
    ],
)
def test_state_table(document: dict[str, Any], state: TaskState) -> None:
    task = hailuo.parse_task(document)
    assert task.task_id == "t1"
    assert task.state is state
    assert task.video_urls == ((URL,) if state is TaskState.SUCCEEDED else ())


def test_failure_carries_the_vendor_message() -> None:
    task = hailuo.parse_task(doc({"success": False, "error": {"code": "api_error", "message": "no channel"}}))
    assert task.error == "api_error: no channel"


def test_unrecognised_state_word_is_running_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        task = hailuo.parse_task(doc(state="baking"))
    assert task.state is TaskState.RUNNING
    assert "unrecognised state 'baking'" in caplog.text


SEED_SINGLE = """{
  "_id": "67866dff550a4144a5867aa7", "id": "58cc618b-9639-4ee7-add2-d2fcf260d9a3",
  "api_id": "d5af91f6-a7ec-4015-b0a5-d25051158470", "application_id": "2f9f4d93-9193-4c49-a1a5-eddf0ff38abb",
  "created_at": 1736863231.588, "credential_id": "f634e655-012e-432e-92a8-a87e4a80d636",
  "request": {"action": "generate", "prompt": "Internal heat"},
  "trace_id": "0c1f9f13-0aef-4d9a-a9d2-1d27055ff190", "user_id": "ad7afe47-cea9-4cda-980f-2ad8810e51cf",
  "response": {
    "success": true, "task_id": "58cc618b-9639-4ee7-add2-d2fcf260d9a3",
    "trace_id": "0c1f9f13-0aef-4d9a-a9d2-1d27055ff190",
    "data": [{"id": "2a1tbgnjdxrg80cmcmes19s33r", "model": "minimax-t2v", "prompt": "Internal heat",
      "first_image_url": null,
      "video_url": "https://file.aigpai.com/czjl/tjU3QYKgU96IJFgpL0eMfBFhmy0qXz9Y05P2IBhShCYaDCFUA/tmp5uligw3a.output.mp4",
      "state": "succeeded"}]
  }
}"""


def test_seed_single_example() -> None:
    task = hailuo.parse_task(hailuo.read_response(200, SEED_SINGLE))
    assert task.task_id == "58cc618b-9639-4ee7-add2-d2fcf260d9a3"
    assert task.state is TaskState.SUCCEEDED
    assert task.video_urls == (
        "https://file.aigpai.com/czjl/tjU3QYKgU96IJFgpL0eMfBFhmy0qXz9Y05P2IBhShCYaDCFUA/tmp5uligw3a.output.mp4",
    )


def test_batch_matches_by_id_in_callers_order_with_unknown_ids() -> None:
    seed_item = json.loads(SEED_SINGLE)
    body = {"items": [seed_item, doc(state="processing") | {"id": "09d4a93e"}], "count": 2}
    asked = ["09d4a93e", "gone", "58cc618b-9639-4ee7-add2-d2fcf260d9a3"]
    tasks = hailuo.parse_batch(body, asked)
    assert [t.task_id for t in tasks] == asked
    assert [t.state for t in tasks] == [TaskState.RUNNING, TaskState.UNKNOWN, TaskState.SUCCEEDED]


def test_batch_without_items_list_is_a_retryable_response_error() -> None:
    with pytest.raises(VideoTaskResponseError) as caught:
        hailuo.parse_batch({"items": "oops"}, ["a"])
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (400, "bad_request", VideoTaskApiError, False),
        (400, "token_mismatched", VideoTaskAuthError, False),
        (401, "invalid_token", VideoTaskAuthError, False),
        (401, "token_expired", VideoTaskAuthError, False),
        (403, "used_up", VideoTaskQuotaError, False),
        (404, "no_api", VideoTaskApiError, False),
        (408, "timeout", VideoTaskServerError, True),
        (409, "conflict", VideoTaskServerError, True),
        (429, "too_many_requests", VideoTaskRateLimitError, True),
        (500, "api_error", VideoTaskServerError, True),
    ],
)
def test_error_envelopes(status: int, code: str, kind: type[VideoTaskApiError], retryable: bool) -> None:
    body = json.dumps({"error": {"code": code, "message": "vendor says no"}, "trace_id": "tr-9"})
    with pytest.raises(kind) as caught:
        hailuo.read_response(status, body, retry_after=3.0)
    error = caught.value
    assert type(error) is kind
    assert (error.status_code, error.vendor_code, error.trace_id, error.retryable) == (status, code, "tr-9", retryable)
    assert error.retry_after == (3.0 if retryable else None)
    assert "tr-9" in str(error)
    assert "vendor says no" in str(error)
    if kind in (VideoTaskAuthError, VideoTaskQuotaError):
        assert "API token" in str(error)


def test_html_error_page_from_a_proxy() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with pytest.raises(VideoTaskServerError, match="502 Bad Gateway") as caught:
        hailuo.read_response(502, page)
    assert caught.value.retryable


def test_submit_request_is_always_async() -> None:
    request = hailuo.submit_request({"prompt": "boat", "async": False, "extra_knob": 1})
    assert (request.method, request.path) == ("POST", "/hailuo/videos")
    assert request.json == {
        "action": "generate",
        "model": "minimax-t2v",
        "prompt": "boat",
        "extra_knob": 1,
        "async": True,
    }
    assert request.paid


def test_read_requests() -> None:
    assert hailuo.retrieve_request("a").json == {"id": "a", "action": "retrieve"}
    batch = hailuo.batch_request(["a", "b"])
    assert (batch.method, batch.path, batch.json) == (
        "POST",
        "/hailuo/tasks",
        {"ids": ["a", "b"], "action": "retrieve_batch"},
    )
    assert not batch.paid


def test_submit_answer_without_task_id_is_an_error_with_the_vendor_message() -> None:
    with pytest.raises(VideoTaskApiError, match="no channel"):
        hailuo.parse_submit(
            {"success": False, "error": {"code": "api_error", "message": "no channel"}, "trace_id": "x"}
        )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({}, "'prompt'"),
        ({"prompt": "x" * 7001}, "at most 7000"),
        ({"prompt": "x", "model": "minimax-i2v"}, "first_image_url"),
        ({"prompt": "x", "model": "minimax-i2v", "first_image_url": "data:image/png;base64,AAAA"}, "base64"),
        ({"prompt": "x", "model": "sora"}, "model must be one of"),
    ],
)
def test_submit_validation_names_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        hailuo.submit_request(fields)
