"""Hailuo: requests built and answers read exactly as API_NOTES.md says, whatever the vendor sends."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_videotask.api import ace, hailuo
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskQuotaError,
    VideoTaskRateLimitError,
    VideoTaskRequestError,
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
    task = ace.parse_task(document)
    assert task.task_id == "t1"
    assert task.state is state
    assert task.video_urls == ((URL,) if state is TaskState.SUCCEEDED else ())
    assert task.unrecognised_state is None
    assert (task.error is not None) is (state is TaskState.FAILED)


def finished(response: dict[str, Any]) -> dict[str, Any]:
    return doc(response) | {"finished_at": 1736863300.0}


# The reading rules of ace.parse_task's docstring, one row per variant.
@pytest.mark.parametrize(
    ("document", "state", "urls", "error", "missing_video"),
    [
        pytest.param(doc(status="succeeded", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="status-key"),
        pytest.param(
            doc({"success": True, "status": "completed", "video_url": URL}),
            TaskState.SUCCEEDED,
            (URL,),
            None,
            False,
            id="status-key-on-the-response",
        ),
        pytest.param(doc(status="processing"), TaskState.RUNNING, (), None, False, id="status-key-waiting"),
        pytest.param(doc(state="succeed", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="done-succeed"),
        pytest.param(doc(state="success", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="done-success"),
        pytest.param(
            doc(state="succeeded", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="done-succeeded"
        ),
        pytest.param(
            doc(state="completed", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="done-completed"
        ),
        pytest.param(
            doc(state="complete", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="done-complete"
        ),
        pytest.param(
            doc(state="finished", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="done-finished"
        ),
        pytest.param(
            doc(state=" Completed ", video_url=URL), TaskState.SUCCEEDED, (URL,), None, False, id="done-word-any-case"
        ),
        pytest.param(doc(state="failed"), TaskState.FAILED, (), "task state is 'failed'", False, id="failed-failed"),
        pytest.param(doc(state="failure"), TaskState.FAILED, (), "task state is 'failure'", False, id="failed-failure"),
        pytest.param(doc(state="error"), TaskState.FAILED, (), "task state is 'error'", False, id="failed-error"),
        pytest.param(
            doc(state="cancelled"), TaskState.FAILED, (), "task state is 'cancelled'", False, id="failed-cancelled"
        ),
        pytest.param(
            doc(state="canceled"), TaskState.FAILED, (), "task state is 'canceled'", False, id="failed-canceled"
        ),
        pytest.param(
            doc(state="rejected"), TaskState.FAILED, (), "task state is 'rejected'", False, id="failed-rejected"
        ),
        pytest.param(
            doc(
                {"success": True, "error": {"code": "api_error", "message": "no channel"}, "data": [{"video_url": URL}]}
            ),
            TaskState.FAILED,
            (),
            "api_error: no channel",
            False,
            id="error-object-outranks-success-true",
        ),
        pytest.param(
            finished({"success": True, "error": "content blocked", "data": [{"state": "succeeded", "video_url": URL}]}),
            TaskState.FAILED,
            (),
            "content blocked",
            False,
            id="error-string-outranks-success-true",
        ),
        pytest.param(
            {"id": "t1", "status": "failed", "finished_at": 1736863300.0},
            TaskState.FAILED,
            (),
            "task state is 'failed'",
            False,
            id="top-level-state-without-a-response",
        ),
        pytest.param(
            {"id": "t1", "status": "failed", "finished_at": 1736863300.0, "error": {"message": "no quota left"}},
            TaskState.FAILED,
            (),
            "no quota left",
            False,
            id="top-level-state-and-error",
        ),
        pytest.param(
            {"id": "t1", "finished_at": 1736863300.0},
            TaskState.RUNNING,
            (),
            None,
            True,
            id="finished-with-no-readable-outcome",
        ),
        pytest.param(
            {"id": "t1", "status": "succeeded", "finished_at": 1736863300.0},
            TaskState.RUNNING,
            (),
            None,
            True,
            id="top-level-done-without-a-video",
        ),
        pytest.param(
            {"id": "t1", "status": "processing"}, TaskState.RUNNING, (), None, False, id="top-level-waiting-word"
        ),
        pytest.param(
            doc({"success": False, "error": {"code": "used_up"}}),
            TaskState.FAILED,
            (),
            "used_up",
            False,
            id="error-object-with-only-a-code",
        ),
        pytest.param(
            doc({"success": True, "error": {}, "data": [{"state": "succeeded", "video_url": URL}]}),
            TaskState.SUCCEEDED,
            (URL,),
            None,
            False,
            id="empty-error-object-is-no-error",
        ),
        pytest.param(
            finished({"success": False}),
            TaskState.FAILED,
            (),
            "the vendor reports the task finished unsuccessfully",
            False,
            id="finished-with-success-false",
        ),
        pytest.param(
            doc({"success": False, "finished_at": 1736863300.0}),
            TaskState.FAILED,
            (),
            "the vendor reports the task finished unsuccessfully",
            False,
            id="finished-on-the-response-with-success-false",
        ),
        pytest.param(
            doc({"success": False}), TaskState.RUNNING, (), None, False, id="success-false-unfinished-is-not-a-failure"
        ),
        pytest.param(
            finished({"success": True, "data": [{"video_url": URL}]}),
            TaskState.SUCCEEDED,
            (URL,),
            None,
            False,
            id="finished-without-word-with-video",
        ),
        pytest.param(
            finished({"success": True, "data": [{}]}),
            TaskState.RUNNING,
            (),
            None,
            True,
            id="finished-without-word-without-video",
        ),
        pytest.param(
            finished({"success": True, "data": [{"state": "processing", "video_url": URL}]}),
            TaskState.RUNNING,
            (),
            None,
            False,
            id="finished-but-a-waiting-word-is-running",
        ),
        pytest.param(
            doc({"success": True, "state": "succeeded", "video_url": URL}),
            TaskState.SUCCEEDED,
            (URL,),
            None,
            False,
            id="video-url-on-the-response",
        ),
        pytest.param(
            doc({"success": True, "video_url": URL + "r", "data": [{"state": "succeeded", "video_url": URL}]}),
            TaskState.SUCCEEDED,
            (URL, URL + "r"),
            None,
            False,
            id="data-urls-before-the-response-url",
        ),
        pytest.param(doc(state="succeeded"), TaskState.RUNNING, (), None, True, id="done-without-video"),
    ],
)
def test_reading_rules(
    document: dict[str, Any], state: TaskState, urls: tuple[str, ...], error: str | None, missing_video: bool
) -> None:
    task = ace.parse_task(document)
    assert task.task_id == "t1"
    assert task.state is state
    assert task.video_urls == urls
    assert task.error == error
    assert task.missing_video is missing_video
    assert task.unrecognised_state is None
    assert task.progress == (1.0 if state is TaskState.SUCCEEDED else None)


def test_unrecognised_state_word_is_running_and_flagged() -> None:
    task = ace.parse_task(doc(state="baking"))
    assert task.state is TaskState.RUNNING
    assert task.unrecognised_state == "state 'baking'"
    assert not task.missing_video


def test_unrecognised_state_under_the_status_key_is_flagged_too() -> None:
    task = ace.parse_task(doc(status="Levitating", video_url=URL))
    assert task.state is TaskState.RUNNING
    assert task.unrecognised_state == "state 'levitating'"
    assert task.video_urls == ()


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
    task = ace.parse_task(ace.read_response(200, SEED_SINGLE))
    assert task.task_id == "58cc618b-9639-4ee7-add2-d2fcf260d9a3"
    assert task.state is TaskState.SUCCEEDED
    assert task.video_urls == (
        "https://file.aigpai.com/czjl/tjU3QYKgU96IJFgpL0eMfBFhmy0qXz9Y05P2IBhShCYaDCFUA/tmp5uligw3a.output.mp4",
    )


def test_ace_times_are_read_and_finished_only_once_over() -> None:
    # The seed example has created_at only; finished records add finished_at (API_NOTES.md, Hailuo).
    seed = ace.parse_task(ace.read_response(200, SEED_SINGLE))
    assert (seed.created_at, seed.finished_at) == (1736863231.588, None)
    done = ace.parse_task(finished({"success": True, "data": [{"state": "succeeded", "video_url": URL}]}))
    assert (done.created_at, done.finished_at) == (1736863231.588, 1736863300.0)
    running = ace.parse_task(doc(state="processing") | {"finished_at": "2025-01-14T14:01:40Z"})
    assert running.finished_at is None  # a running task has not finished, whatever the record says
    iso = ace.parse_task(
        finished({"success": True, "data": [{"state": "succeeded", "video_url": URL}]})
        | {"finished_at": "2025-01-14T14:01:40Z"}
    )
    assert iso.finished_at == 1736863300.0


def test_batch_page_holds_the_found_tasks_and_the_count() -> None:
    seed_item = json.loads(SEED_SINGLE)
    body = {"items": [seed_item, doc(state="processing") | {"id": "09d4a93e"}, {"response": None}], "count": 2}
    page = ace.parse_batch(body)
    by_id = {t.task_id: t for t in page.tasks}
    assert set(by_id) == {"09d4a93e", "58cc618b-9639-4ee7-add2-d2fcf260d9a3"}  # the item without id is dropped
    assert by_id["09d4a93e"].state is TaskState.RUNNING
    assert by_id["58cc618b-9639-4ee7-add2-d2fcf260d9a3"].state is TaskState.SUCCEEDED
    assert page.total == 2


@pytest.mark.parametrize(("count", "total"), [(30, 30), ("12", 12), (None, None), ("many", None), (True, None)])
def test_batch_total_is_the_count_when_readable(count: Any, total: int | None) -> None:
    assert ace.parse_batch({"items": [], "count": count}).total == total


def test_batch_without_items_list_is_a_retryable_response_error() -> None:
    with pytest.raises(VideoTaskResponseError) as caught:
        ace.parse_batch({"items": "oops", "trace_id": "tr-7"})
    assert caught.value.retryable
    assert caught.value.trace_id == "tr-7"


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (400, "bad_request", VideoTaskRequestError, False),
        (400, "token_mismatched", VideoTaskAuthError, False),
        (401, "invalid_token", VideoTaskAuthError, False),
        (401, "token_expired", VideoTaskAuthError, False),
        (403, "used_up", VideoTaskQuotaError, False),
        (404, "no_api", VideoTaskRequestError, False),
        (422, "invalid_prompt", VideoTaskRequestError, False),
        (408, "timeout", VideoTaskServerError, True),
        (409, "conflict", VideoTaskServerError, True),
        (429, "too_many_requests", VideoTaskRateLimitError, True),
        (500, "api_error", VideoTaskServerError, True),
    ],
)
def test_error_envelopes(status: int, code: str, kind: type[VideoTaskApiError], retryable: bool) -> None:
    body = json.dumps({"error": {"code": code, "message": "vendor says no"}, "trace_id": "tr-9"})
    with pytest.raises(kind) as caught:
        ace.read_response(status, body, retry_after=3.0)
    error = caught.value
    assert type(error) is kind
    assert (error.status_code, error.vendor_code, error.trace_id, error.retryable) == (status, code, "tr-9", retryable)
    assert error.retry_after == (3.0 if retryable else None)
    assert "tr-9" in str(error)
    assert "vendor says no" in str(error)
    assert isinstance(error, VideoTaskApiError)
    if kind is VideoTaskAuthError:
        assert "the credentials were refused: check the connection's password" in str(error)
    if kind is VideoTaskQuotaError:
        assert "API token" in str(error)
    if kind is VideoTaskRequestError:
        assert "the vendor refused the request" in str(error)


def test_request_error_is_an_api_error() -> None:
    assert issubclass(VideoTaskRequestError, VideoTaskApiError)
    assert not issubclass(VideoTaskRequestError, VideoTaskAuthError)


def test_html_error_page_from_a_proxy() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with pytest.raises(VideoTaskServerError, match="502 Bad Gateway") as caught:
        ace.read_response(502, page)
    assert caught.value.retryable


def test_submit_request_is_always_async() -> None:
    request = ace.submit_request(hailuo.SERVICE, {"prompt": "boat", "async": False, "extra_knob": 1})
    assert (request.method, request.path) == ("POST", "/hailuo/videos")
    assert request.json == {
        "action": "generate",
        "model": "minimax-t2v",
        "prompt": "boat",
        "extra_knob": 1,
        "async": True,
    }
    assert request.paid
    assert request.action == "submit"


def test_read_requests() -> None:
    single = ace.retrieve_request("hailuo", "a")
    assert single.json == {"id": "a", "action": "retrieve"}
    assert single.action == "retrieve"
    assert not single.paid
    batch = ace.batch_request("hailuo", ["a", "b"])
    assert (batch.method, batch.path, batch.json) == (
        "POST",
        "/hailuo/tasks",
        {"ids": ["a", "b"], "action": "retrieve_batch", "limit": 2, "offset": 0},
    )
    assert batch.action == "retrieve_batch"
    assert not batch.paid


def test_batch_request_asks_for_a_page_as_long_as_the_ids_at_the_offset() -> None:
    batch = ace.batch_request("hailuo", ["a", "b", "c"], offset=10)
    assert batch.json is not None
    assert batch.json["ids"] == ["a", "b", "c"]
    assert (batch.json["limit"], batch.json["offset"]) == (3, 10)


def test_submit_answer_without_task_id_is_an_error_with_the_vendor_message() -> None:
    with pytest.raises(VideoTaskApiError, match="no channel"):
        ace.parse_submit({"success": False, "error": {"code": "api_error", "message": "no channel"}, "trace_id": "x"})


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({}, "'prompt'"),
        ({"prompt": "   "}, "'prompt'"),
        ({"prompt": 7}, "prompt must be a string"),
        ({"model": "minimax-i2v", "first_image_url": "https://img.example/a.png"}, "'prompt'"),
        ({"model": "minimax-i2v-director", "first_image_url": "https://img.example/a.png"}, "'prompt'"),
        ({"prompt": "x", "model": "minimax-i2v"}, "first_image_url"),
        ({"prompt": "x", "model": "minimax-i2v", "first_image_url": "data:image/png;base64,AAAA"}, "base64"),
    ],
)
def test_submit_validation_names_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        ace.submit_request(hailuo.SERVICE, fields)


@pytest.mark.parametrize(
    "response",
    [
        pytest.param({"success": False, "error": "temporary", "data": [{"state": "processing"}]}, id="string"),
        pytest.param({"success": False, "error": {"message": "retrying upstream"}}, id="no-code"),
        pytest.param(
            {"success": False, "error": "temporary", "data": [{"state": "succeeded", "video_url": URL}]},
            id="beside-a-done-word",
        ),
    ],
)
def test_an_error_without_a_code_before_the_task_finished_holds_the_verdict(response: dict[str, Any]) -> None:
    """Ace's SDK keeps waiting on it (a note in passing), Nexior shows a failure: the task waits as running,
    the error named as an odd reading, bounded by the waiting rules' unrecognised-state grace period; once
    the record is finished the same error fails it."""
    task = ace.parse_task(doc(response))
    assert task.state is TaskState.RUNNING
    assert task.unrecognised_state is not None
    assert "an error before the task finished" in task.unrecognised_state
    assert ace.parse_task(finished(response)).state is TaskState.FAILED


def test_a_model_the_docs_do_not_list_is_sent_with_a_warning_naming_them() -> None:
    fields = {"prompt": "x", "model": "minimax-t2v-02"}
    request = ace.submit_request(hailuo.SERVICE, fields)
    assert request.json is not None
    assert request.json["model"] == "minimax-t2v-02"
    [warning] = ace.unlisted(hailuo.SERVICE, request.json)
    assert "model='minimax-t2v-02' is not among the documented values (minimax-t2v, minimax-i2v, " in warning
    assert "openapi/hailuo.json" in warning  # where they come from


def test_a_long_prompt_is_accepted() -> None:
    # No prompt length limit is documented for Hailuo: the vendor decides.
    request = ace.submit_request(hailuo.SERVICE, {"prompt": "x" * 9000})
    assert request.json is not None
    assert request.json["prompt"] == "x" * 9000


def test_image_model_with_prompt_and_image_url_is_accepted() -> None:
    fields = {"model": "minimax-i2v", "prompt": "wave", "first_image_url": "https://img.example/a.png"}
    request = ace.submit_request(hailuo.SERVICE, fields)
    assert request.json is not None
    assert {key: request.json[key] for key in fields} == fields
