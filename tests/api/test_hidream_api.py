"""HiDream: requests built and answers read exactly as API_NOTES.md says, whatever the vendor sends."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_videotask.api import hidream, hidream_submit
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskRequestError,
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


@pytest.mark.parametrize(
    ("subs", "missing"),
    [
        pytest.param([sub(1)], True, id="done-without-video"),
        pytest.param([sub(1, video="")], True, id="done-with-empty-video"),
        pytest.param([sub(1, video=URL), sub("1")], True, id="one-of-two-done-without-video"),
        pytest.param([sub(1, video=URL)], False, id="done-with-video"),
        pytest.param([sub(1), sub(2)], False, id="one-still-processing"),
        pytest.param([sub(1), sub(3)], False, id="one-failed"),
        pytest.param([sub(2)], False, id="processing"),
    ],
)
def test_done_without_a_video_reads_as_running_with_missing_video(subs: list[dict[str, Any]], missing: bool) -> None:
    task = hidream.parse_task({"task_id": "t1", "sub_task_results": subs})
    assert task.missing_video is missing
    if missing:
        assert task.state is TaskState.RUNNING
        assert task.error is None


def test_unrecognised_status_is_running_and_flagged() -> None:
    task = hidream.parse_task({"task_id": "t1", "sub_task_results": [sub(99)]})
    assert task.state is TaskState.RUNNING
    assert task.unrecognised_state == "task_status 99"
    assert not task.missing_video


@pytest.mark.parametrize(
    ("status", "flagged"),
    [
        (0, None),
        (1, None),
        (2, None),
        (-3, None),
        ("2", None),
        ("soon", "task_status 'soon'"),
        (None, "task_status None"),
    ],
)
def test_only_undocumented_statuses_are_flagged(status: Any, flagged: str | None) -> None:
    task = hidream.parse_task({"task_id": "t1", "sub_task_results": [sub(status)]})
    assert task.unrecognised_state == flagged


def test_an_unrecognised_status_beside_a_failure_is_not_flagged() -> None:
    task = hidream.parse_task({"task_id": "t1", "sub_task_results": [sub(99), sub(3)]})
    assert task.state is TaskState.FAILED
    assert task.unrecognised_state is None


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


def test_seed_batch_example_as_a_page() -> None:
    page = hidream.parse_batch(hidream.read_response(200, SEED_BATCH))
    by_id = {t.task_id: t for t in page.tasks}
    assert set(by_id) == {"c29574f4-e117-11ee-aee0-8ab6933153da", "f48051cc-e109-11ee-b588-be4091741d67"}
    assert all(t.state is TaskState.SUCCEEDED for t in page.tasks)
    assert by_id["c29574f4-e117-11ee-aee0-8ab6933153da"].video_urls == (
        "https://media.hidreamai.com/74109859-4ac6-48c5-ba5b-aa5a027b8461.mp4",
    )
    assert by_id["f48051cc-e109-11ee-b588-be4091741d67"].progress == 1.0
    assert page.total is None  # HiDream's batch is not paged


def test_batch_drops_documents_without_a_task_id() -> None:
    page = hidream.parse_batch([{"sub_task_results": [sub(1, video=URL)]}, "junk", {"task_id": "t", "x": 1}])
    assert [t.task_id for t in page.tasks] == ["t"]
    assert page.tasks[0].state is TaskState.UNKNOWN


def test_batch_result_of_the_wrong_type_is_a_retryable_response_error() -> None:
    with pytest.raises(VideoTaskResponseError) as caught:
        hidream.parse_batch("oops")
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable", "in_message"),
    [
        pytest.param(
            200,
            {"code": 2031, "message": "model not available", "request_id": "r-1"},
            VideoTaskApiError,
            False,
            "the model is not available to this account",
            id="2031-not-available",
        ),
        pytest.param(
            200,
            {"code": 401, "message": "invalid token", "request_id": "r-1"},
            VideoTaskAuthError,
            False,
            "the credentials were refused",
            id="envelope-401",
        ),
        pytest.param(
            200,
            {"code": 403, "message": "forbidden", "request_id": "r-1"},
            VideoTaskAuthError,
            False,
            "code 403",
            id="envelope-403",
        ),
        pytest.param(
            200,
            {"code": "40101", "message": "invalid refresh token", "request_id": "r-1"},
            VideoTaskAuthError,
            False,
            "code 40101",
            id="envelope-40101",
        ),
        pytest.param(
            401,
            {"code": 401, "message": "invalid token", "request_id": "r-1"},
            VideoTaskAuthError,
            False,
            "the credentials were refused: check the connection's password",
            id="http-401",
        ),
        pytest.param(
            400,
            {"code": 400, "message": "invalid task_id", "request_id": "r-1"},
            VideoTaskRequestError,
            False,
            "invalid task_id",
            id="http-400",
        ),
        pytest.param(
            404,
            {"code": 404, "message": "no such route", "request_id": "r-1"},
            VideoTaskRequestError,
            False,
            "HTTP 404",
            id="http-404",
        ),
        pytest.param(
            503,
            {"code": 503, "message": "busy", "request_id": "r-1"},
            VideoTaskServerError,
            True,
            "HTTP 503",
            id="http-503",
        ),
        pytest.param(
            200,
            {"code": "7", "message": "odd", "request_id": "r-1"},
            VideoTaskRequestError,
            True,
            "code 7",
            id="code-7",
        ),
        pytest.param(
            200,
            {"code": -1, "message": "busy", "request_id": "r-1"},
            VideoTaskRequestError,
            True,
            "code -1",
            id="code-neg",
        ),
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
    assert error.vendor_code == str(body["code"])


def test_success_envelope_returns_the_result() -> None:
    body = {"code": 0, "message": "ok", "result": {"task_id": "t-1"}, "request_id": "r"}
    assert hidream.read_response(200, json.dumps(body)) == {"task_id": "t-1"}
    assert hidream.read_response(200, json.dumps(body | {"code": "0"})) == {"task_id": "t-1"}


def test_unreadable_success_body_is_retryable() -> None:
    with pytest.raises(VideoTaskResponseError) as caught:
        hidream.read_response(200, '{"code": 0, "result": [')
    assert caught.value.retryable


def test_submit_request_passes_unknown_fields_and_drops_none() -> None:
    request = hidream_submit.submit_request("txt2video", {"prompt": "fox", "aspect_ratio": None, "new_knob": 3})
    assert (request.method, request.path) == ("POST", "/api-pub/gw/v2/video/txt2video/async")
    assert request.json == {"prompt": "fox", "new_knob": 3}
    assert request.paid
    assert request.action == "txt2video submit"


def test_read_requests() -> None:
    batch = hidream.batch_request("img2video", ["a", "b"])
    assert (batch.method, batch.path) == ("POST", "/api-pub/gw/v2/video/img2video/async/results/batch")
    assert batch.json == {"task_id_list": ["a", "b"]}
    assert not batch.paid
    assert batch.action == "img2video batch results"
    single = hidream.result_request("video_edit", "a")
    assert (single.method, single.path, dict(single.params)) == (
        "GET",
        "/api-pub/gw/v2/video/video_edit/async/results",
        {"task_id": "a"},
    )
    assert single.action == "video_edit result"
    token = hidream.token_request()
    assert (token.method, token.path, token.credential, token.paid) == (
        "GET",
        "/prod-api/user/apikey2token",
        "api_key",
        False,
    )


def test_action_names_do_not_repeat_the_vendor() -> None:
    requests = [
        hidream_submit.submit_request("video_edit", {"video_name": "https://v", "style": "anime"}),
        hidream.result_request("txt2video", "a"),
        hidream.batch_request("txt2video", ["a"]),
        hidream.token_request(),
    ]
    assert [r.action for r in requests] == [
        "video_edit submit",
        "txt2video result",
        "txt2video batch results",
        "API key exchange",
    ]
    assert all("hidream" not in r.action.lower() for r in requests)


@pytest.mark.parametrize(
    ("module", "fields", "named"),
    [
        ("txt2video", {}, "'prompt'"),
        ("img2video", {"prompt": "x"}, "'image'"),
        ("video_edit", {"prompt": "x"}, "'video_name'"),
        ("video_edit", {"video_name": "https://v"}, "'prompt' or 'style'"),
        ("txt2video", {"prompt": "x", "camera_move_depth": 6}, "camera_move_depth"),
        ("txt2video", {"prompt": "x", "motion_strength": 31}, "motion_strength"),
        ("txt2video", {"prompt": "x", "motion_strength": True}, "motion_strength"),
        ("txt2video", {"prompt": "x", "camera_move_vertical": "left"}, "camera_move_vertical"),
        ("img2video", {"image": "   "}, "'image'"),
        ("img2video", {"image": "https://i", "camera_move_horizontal": -6}, "camera_move_horizontal"),
        ("img2video", {"image": "https://i", "motion_strength": -1}, "motion_strength"),
        ("video_edit", {"video_name": "https://v", "prompt": ""}, "'prompt' or 'style'"),
        ("txt2/video", {"prompt": "x"}, "module must be a HiDream module's name"),
    ],
)
def test_submit_validation_names_the_field(module: str, fields: dict[str, Any], named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        hidream_submit.submit_request(module, fields)


@pytest.mark.parametrize(
    ("module", "fields"),
    [
        pytest.param(
            "txt2video", {"prompt": "x", "camera_move_depth": -5, "motion_strength": 30}, id="txt2video-bounds"
        ),
        pytest.param("txt2video", {"prompt": "x", "camera_move_depth": "5"}, id="txt2video-move-as-string"),
        pytest.param("img2video", {"image": "https://i"}, id="img2video-prompt-optional"),
        pytest.param("img2video", {"image": "https://i", "aspect_ratio": "4:3"}, id="img2video-any-aspect-ratio"),
        pytest.param("img2video", {"image": "https://i", "resolution_ratio": 720}, id="img2video-any-resolution"),
        pytest.param("img2video", {"image": "https://i", "camera_move_vertical": 5}, id="img2video-move-in-range"),
        pytest.param("video_edit", {"video_name": "https://v", "prompt": "rain"}, id="video_edit-prompt-only"),
        pytest.param("video_edit", {"video_name": "https://v", "style": "van_goph"}, id="video_edit-style-only"),
        pytest.param(
            "video_edit",
            {"video_name": "https://v", "style": "anime", "aspect_ratio": "4:3"},
            id="video_edit-any-aspect-ratio",
        ),
        pytest.param(
            "video_edit", {"video_name": "https://v", "prompt": "x", "camera_move_depth": 9}, id="video_edit-no-motion"
        ),
    ],
)
def test_each_module_checks_only_its_own_rules(module: str, fields: dict[str, Any]) -> None:
    request = hidream_submit.submit_request(module, fields)
    assert request.json == fields
    assert request.path == f"/api-pub/gw/v2/video/{module}/async"


@pytest.mark.parametrize(
    ("module", "fields", "named"),
    [
        pytest.param("video_edit", {"video_name": "https://v", "style": "oil"}, "style='oil'", id="style"),
        pytest.param("txt2video", {"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio='4:3'", id="aspect-ratio"),
        pytest.param("txt2video", {"prompt": "x", "resolution_ratio": 720}, "resolution_ratio=720", id="resolution"),
        pytest.param("txt2vid", {"prompt": "x"}, "module 'txt2vid' is not among the documented modules", id="module"),
    ],
)
def test_a_value_the_pages_do_not_list_is_sent_with_one_warning(
    module: str, fields: dict[str, Any], named: str
) -> None:
    """Validation guards money, not menus: HiDream may have added the value since its pages; its refusal
    (an envelope code) is free."""
    request = hidream_submit.submit_request(module, fields)
    assert request.json == fields
    [warning] = hidream_submit.unlisted(module, fields)
    assert named in warning
    assert "sent as given" in warning
    assert "a refusal costs nothing" in warning


def test_the_warning_names_the_documented_values_and_their_source() -> None:
    [warning] = hidream_submit.unlisted("txt2video", {"prompt": "x", "aspect_ratio": "4:3"})
    assert "(16:9, 1:1, 9:16; source: https://www.hidreamai.com/docs/pixeling/txt2video/txt2video_request.html)" in (
        warning
    )
    assert hidream_submit.unlisted("txt2video", {"prompt": "x", "aspect_ratio": "9:16"}) == []


def test_only_txt2video_lists_aspect_ratios() -> None:
    assert hidream_submit.unlisted("txt2video", {"prompt": "x", "aspect_ratio": "4:3"})
    assert hidream_submit.unlisted("img2video", {"image": "https://i", "aspect_ratio": "4:3"}) == []
    assert (
        hidream_submit.unlisted("video_edit", {"video_name": "https://v", "prompt": "x", "aspect_ratio": "4:3"}) == []
    )


SOURCES = {
    ("v2", "txt2video"): "https://www.hidreamai.com/docs/pixeling/txt2video/txt2video_request.html",
    ("v2", "img2video"): "https://hidreamai.com/doc/img2video/request",  # no v2 page is public
    ("v2", "video_edit"): "https://www.hidreamai.com/docs/pixeling/video_edit/video_edit_request.html",
    ("v3", "txt2video"): "https://hidreamai.com/doc/txt2video/request",
    ("v3", "img2video"): "https://hidreamai.com/doc/img2video/request",
    ("v3", "keyframe2video"): "https://hidreamai.com/doc/keyframe2video/request",
    ("v4", "hidream-Q2"): "hidream-api-gen scripts/kling.py",
    ("v4", "hidream-R"): "hidream-api-gen scripts/seedance_1_0_pro.py",
    ("v4", "hidream-R2-Audio"): "seedance_1_5_pro.py",
}


@pytest.mark.parametrize(("api_version", "module"), list(hidream_submit._RULES))
def test_every_module_rule_cites_its_source(api_version: str, module: str) -> None:
    """Each module's rules name their page (or client file): the checks in the rule's code or its entry in
    ``_SOURCES`` (which the warnings and docs/vendors.md quote), the documented values beside it."""
    assert SOURCES[api_version, module] in hidream_submit._SOURCES[api_version, module]
    assert set(hidream_submit._DOCUMENTED) <= set(hidream_submit._SOURCES)


# ----- the API key exchange -----------------------------------------------------------------------

NOW = 1_700_000_000.0
EXPIRY = datetime(2024, 1, 25, 3, 49, 10, 601343, tzinfo=timezone.utc).timestamp()


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.signature"


@pytest.mark.parametrize(
    ("result", "expires"),
    [
        pytest.param({"token": "tok", "expire_time": "2024-01-25T03:49:10.601343+00:00"}, EXPIRY, id="rfc3339"),
        pytest.param({"token": "tok", "expire_time": "2024-01-25T03:49:10.601343Z"}, EXPIRY, id="rfc3339-zulu"),
        pytest.param({"token": "tok", "expire_time": "2024-01-25T11:49:10.601343+08:00"}, EXPIRY, id="rfc3339-offset"),
        pytest.param({"token": "tok", "expire_time": "2024-01-25T03:49:10.601343"}, EXPIRY, id="rfc3339-naive-is-utc"),
        pytest.param({"token": "tok", "expire_time": 1706154550}, 1706154550.0, id="unix-seconds"),
        pytest.param({"token": "tok", "expire_time": 1706154550.5}, 1706154550.5, id="unix-seconds-float"),
        pytest.param({"token": "tok", "expire_time": "1706154550"}, 1706154550.0, id="unix-seconds-as-string"),
        pytest.param({"token": "tok", "expire_time": 1706154550601}, 1706154550.601, id="unix-milliseconds"),
        pytest.param({"token": "tok", "expire_time": "1706154550601"}, 1706154550.601, id="unix-ms-as-string"),
        pytest.param({"token": jwt({"exp": 1706154550})}, 1706154550.0, id="jwt-exp"),
        pytest.param({"token": jwt({"exp": 1706154550}), "expire_time": "soon"}, 1706154550.0, id="jwt-exp-fallback"),
        pytest.param(
            {"token": jwt({"exp": 1}), "expire_time": "2024-01-25T03:49:10.601343+00:00"},
            EXPIRY,
            id="expire-time-before-jwt",
        ),
        pytest.param({"token": "tok"}, NOW + 86400, id="one-day-default"),
        pytest.param({"token": "tok", "expire_time": None}, NOW + 86400, id="null-expire-time"),
        pytest.param({"token": "tok", "expire_time": 0}, NOW + 86400, id="zero-expire-time"),
        pytest.param({"token": "tok", "expire_time": True}, NOW + 86400, id="bool-expire-time"),
        pytest.param({"token": "a.b.c"}, NOW + 86400, id="jwt-unreadable"),
        pytest.param({"token": jwt({"sub": "me"})}, NOW + 86400, id="jwt-without-exp"),
        pytest.param({"token": jwt({"exp": "tomorrow"})}, NOW + 86400, id="jwt-exp-not-a-number"),
    ],
)
def test_parse_token_expiry(result: dict[str, Any], expires: float) -> None:
    token, expiry = hidream.parse_token(result, NOW)
    assert token == result["token"]
    assert expiry == pytest.approx(expires, abs=1e-3)


@pytest.mark.parametrize("result", [{}, {"token": ""}, {"token": 5}, None, ["tok"]])
def test_parse_token_without_a_token_is_a_response_error(result: Any) -> None:
    with pytest.raises(VideoTaskResponseError, match=r"result\.token"):
        hidream.parse_token(result, NOW)
