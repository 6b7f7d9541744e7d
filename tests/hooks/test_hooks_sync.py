"""The sync HTTP path of both hooks, against requests-mock: batching, retries, errors, token hygiene."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import requests_mock

from airflow_provider_videotask.api.models import TaskState
from airflow_provider_videotask.exceptions import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskError,
    VideoTaskQuotaError,
    VideoTaskRateLimitError,
    VideoTaskTransportError,
    VideoTaskValidationError,
)
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import SENTINEL_TOKEN, LogCapture, set_connection

HIDREAM = "https://hidream.test"
HAILUO = "https://hailuo.test"
BATCH = f"{HIDREAM}/api-pub/gw/v2/video/txt2video/async/results/batch"
SUBMIT = f"{HIDREAM}/api-pub/gw/v2/video/txt2video/async"
TASKS = f"{HAILUO}/hailuo/tasks"


EXCHANGE = f"{HIDREAM}/prod-api/user/apikey2token"
# What HiDream's exchange answers (https://www.hidreamai.com/docs/pixeling/user/token.html), with a later expiry.
EXCHANGED_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.exchanged"
EXCHANGE_ANSWER = {
    "code": 0,
    "message": "Success",
    "request_id": "45debd04-0000",
    "result": {"expire_time": "2099-01-25T03:49:10.601343+00:00", "token": EXCHANGED_TOKEN},
}


class Mocker(requests_mock.Mocker):  # type: ignore[misc]
    """requests-mock with HiDream's API key exchange answered; ``call_count`` and ``request_history``
    leave the exchange out (``exchanges`` has those), so each test counts the calls it is about."""

    def start(self) -> None:
        super().start()
        self.get(EXCHANGE, json=EXCHANGE_ANSWER)

    @property
    def exchanges(self) -> list[Any]:
        return [call for call in self._adapter.request_history if call.url == EXCHANGE]

    @property
    def request_history(self) -> list[Any]:
        return [call for call in self._adapter.request_history if call.url != EXCHANGE]

    @property
    def call_count(self) -> int:
        return len(self.request_history)


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "hidream_default", "hidream", HIDREAM, api_user_id="user-7", request_timeout="12")
    set_connection(monkeypatch, "hailuo_default", "hailuo", HAILUO)


def hidream_batch_answer(request: Any, context: Any) -> dict[str, Any]:
    ids = request.json()["task_id_list"]
    return {"code": 0, "message": "ok", "request_id": "r", "result": [
        {"task_id": i, "sub_task_results": [{"task_status": 1, "video": f"https://v/{i}.mp4"}]} for i in ids
    ]}  # fmt: skip


def hailuo_batch_answer(request: Any, context: Any) -> dict[str, Any]:
    ids = request.json()["ids"]
    items = [{"id": i, "response": {"success": True, "data": [{"state": "processing"}]}} for i in ids]
    return {"items": items, "count": len(items)}


def test_hidream_batches_at_50_ids_asks_duplicates_once_and_keeps_order() -> None:
    ids = [f"id-{n}" for n in range(120)]
    asked = [*ids, "id-5", "id-0"]
    with Mocker() as mock:
        mock.post(BATCH, json=hidream_batch_answer)
        tasks = HiDreamHook().get_tasks(asked)
    assert mock.call_count == 3
    assert [len(call.json()["task_id_list"]) for call in mock.request_history] == [50, 50, 20]
    assert [t.task_id for t in tasks] == asked
    assert all(t.state is TaskState.SUCCEEDED for t in tasks)
    assert tasks[-1].video_urls == ("https://v/id-0.mp4",)


def test_hailuo_batches_at_50_ids() -> None:
    ids = [f"id-{n}" for n in range(51)]
    with Mocker() as mock:
        mock.post(TASKS, json=hailuo_batch_answer)
        tasks = HailuoHook().get_tasks(ids)
    assert mock.call_count == 2
    assert [call.json()["action"] for call in mock.request_history] == ["retrieve_batch"] * 2
    assert [t.state for t in tasks] == [TaskState.RUNNING] * 51


def test_headers_timeout_and_connection_extras() -> None:
    with Mocker() as mock:
        mock.post(BATCH, json=hidream_batch_answer)
        HiDreamHook().get_tasks("one")
    sent = mock.last_request
    assert sent.headers["Authorization"] == f"Bearer {EXCHANGED_TOKEN}"
    assert sent.headers["API-User-ID"] == "user-7"
    [exchange] = mock.exchanges
    assert exchange.headers["Api-Key"] == SENTINEL_TOKEN
    assert "Authorization" not in exchange.headers
    assert sent.timeout == 12.0


def test_hidream_default_module_from_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "hidream_edit", "hidream", HIDREAM, default_module="video_edit")
    with Mocker() as mock:
        mock.post(f"{HIDREAM}/api-pub/gw/v2/video/video_edit/async/results/batch", json=hidream_batch_answer)
        HiDreamHook("hidream_edit").get_tasks(["a"])
    assert mock.call_count == 1


def test_host_without_scheme_means_https_and_empty_host_means_vendor_default(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "plain", "hailuo", "hailuo.test")
    set_connection(monkeypatch, "blank", "hailuo", "")
    with Mocker() as mock:
        mock.post(TASKS, json=hailuo_batch_answer)
        mock.post("https://api.acedata.cloud/hailuo/tasks", json=hailuo_batch_answer)
        HailuoHook("plain").get_tasks(["a"])
        HailuoHook("blank").get_tasks(["a"])
    assert [call.url for call in mock.request_history] == [TASKS, "https://api.acedata.cloud/hailuo/tasks"]


def test_reads_retry_transient_failures_with_backoff(sleeps: list[float]) -> None:
    with Mocker() as mock:
        mock.post(
            BATCH,
            [
                {"status_code": 503, "json": {"code": 503, "message": "busy"}},
                {"exc": requests.ConnectionError("connection reset")},
                {"status_code": 200, "text": "<html>proxy</html>"},
                {"status_code": 200, "json": hidream_batch_answer},
            ],
        )
        [task] = HiDreamHook().get_tasks(["a"])
    assert task.state is TaskState.SUCCEEDED
    assert mock.call_count == 4
    assert len(sleeps) == 3
    # Exponential with equal jitter: each wait lies in [backoff/2, backoff] for backoff 1, 2, 4 s.
    for wait, backoff in zip(sleeps, (1, 2, 4), strict=True):
        assert backoff / 2 <= wait <= backoff


def test_retry_after_is_honoured_and_capped(sleeps: list[float]) -> None:
    with Mocker() as mock:
        mock.post(
            TASKS,
            [
                {"status_code": 429, "headers": {"Retry-After": "7"}, "json": {"error": {"code": "too_many_requests"}}},
                {"status_code": 429, "headers": {"Retry-After": "3600"}, "json": {}},
                {"status_code": 200, "json": hailuo_batch_answer},
            ],
        )
        HailuoHook().get_tasks(["a"])
    assert sleeps == [7.0, 60.0]


def test_429_exhausted_raises_a_clear_rate_limit_error(sleeps: list[float]) -> None:
    body = {"error": {"code": "too_many_requests", "message": "slow down"}, "trace_id": "tr-429"}
    with Mocker() as mock:
        mock.post(TASKS, status_code=429, json=body, headers={"Retry-After": "1"})
        with pytest.raises(VideoTaskRateLimitError) as caught:
            HailuoHook().get_tasks(["a"])
    assert mock.call_count == 5  # the first try and 4 retries
    assert sleeps == [1.0] * 4
    assert "HTTP 429" in str(caught.value)
    assert "tr-429" in str(caught.value)


def test_submit_is_sent_once_even_on_a_transient_failure(sleeps: list[float]) -> None:
    with Mocker() as mock:
        mock.post(SUBMIT, status_code=503, json={"code": 503, "message": "busy", "request_id": "r-5"})
        with pytest.raises(VideoTaskApiError, match="HTTP 503"):
            HiDreamHook().submit("txt2video", prompt="a fox")
    assert mock.call_count == 1
    assert sleeps == []


def test_submit_lost_on_the_wire_is_not_retried_and_says_to_check(sleeps: list[float]) -> None:
    with Mocker() as mock:
        mock.post(f"{HAILUO}/hailuo/videos", exc=requests.ReadTimeout("read timed out"))
        with pytest.raises(VideoTaskTransportError, match="check before submitting again") as caught:
            HailuoHook().submit("a boat")
    assert mock.call_count == 1
    assert not caught.value.retryable
    assert sleeps == []


def test_submit_returns_the_task_id_and_sends_the_fields() -> None:
    with Mocker() as mock:
        mock.post(f"{HAILUO}/hailuo/videos", json={"task_id": "hl-1", "trace_id": "t"})
        task_id = HailuoHook().submit("a boat", model="minimax-i2v", first_image_url="https://img/1.png")
    assert task_id == "hl-1"
    assert mock.last_request.json() == {
        "action": "generate",
        "model": "minimax-i2v",
        "prompt": "a boat",
        "first_image_url": "https://img/1.png",
        "async": True,
    }


def test_invalid_submit_is_refused_before_any_call() -> None:
    with Mocker() as mock, pytest.raises(VideoTaskValidationError, match="'image'"):
        HiDreamHook().submit("img2video", prompt="no image")
    assert mock.call_count == 0


@pytest.mark.parametrize(
    ("status", "body", "kind", "needle"),
    [
        (401, {"error": {"code": "invalid_token", "message": "bad token"}, "trace_id": "tr-1"}, VideoTaskAuthError,
         "check the connection's password"),
        (403, {"error": {"code": "used_up", "message": "balance exhausted"}, "trace_id": "tr-1"}, VideoTaskQuotaError,
         "balance is used up"),
    ],
)  # fmt: skip
def test_auth_and_quota_errors_are_clear_and_not_retried(
    status: int, body: dict[str, Any], kind: type[VideoTaskError], needle: str, sleeps: list[float]
) -> None:
    with Mocker() as mock:
        mock.post(TASKS, status_code=status, json=body)
        with pytest.raises(kind, match=needle) as caught:
            HailuoHook().get_tasks(["a"])
    assert mock.call_count == 1
    assert sleeps == []
    assert f"HTTP {status}" in str(caught.value)
    assert "tr-1" in str(caught.value)


def test_hidream_code_other_than_zero_is_an_error_with_code_and_message() -> None:
    with Mocker() as mock:
        mock.post(BATCH, json={"code": 2031, "message": "model not available", "request_id": "req-2031"})
        with pytest.raises(VideoTaskApiError) as caught:
            HiDreamHook().get_tasks(["a"])
    text = str(caught.value)
    assert "code 2031" in text
    assert "model not available" in text
    assert "req-2031" in text


def test_module_on_a_hailuo_connection_is_refused() -> None:
    """Any Ace service's name reads that service with the Hailuo connection's token; what is no name is refused."""
    with pytest.raises(VideoTaskValidationError, match="module='txt2video/async' does not apply to the Hailuo"):
        HailuoHook().get_tasks(["a"], module="txt2video/async")


@pytest.mark.parametrize(
    ("task_ids", "needle"),
    [([], "task_ids is empty"), ([""], r"task_ids\[0\]"), (["a", 3], r"task_ids\[1\]"), (5, "must be a task id")],
)
def test_bad_task_ids_name_the_argument(task_ids: Any, needle: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=needle):
        HailuoHook().get_tasks(task_ids)


def test_connection_without_token_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NO_TOKEN", json.dumps({"conn_type": "hailuo", "host": HAILUO}))
    with pytest.raises(VideoTaskValidationError, match="password field"):
        HailuoHook("no_token").get_tasks(["a"])


@pytest.mark.parametrize(
    ("extra", "value", "must_be"),
    [
        ("request_timeout", "soon", "a number of seconds above 0"),
        ("batch_size", "2.5", "a whole number above 0"),
        ("parallel_reads", 0, "a whole number above 0"),
        ("max_submits_per_minute", True, "a whole number above 0"),
    ],
)
def test_a_bad_extra_names_the_field_and_what_it_must_be(
    monkeypatch: pytest.MonkeyPatch, extra: str, value: object, must_be: str
) -> None:
    set_connection(monkeypatch, "bad_extra", "hailuo", HAILUO, **{extra: value})
    with pytest.raises(VideoTaskValidationError, match=f"connection 'bad_extra': extra '{extra}' must be {must_be}"):
        HailuoHook("bad_extra").get_tasks(["a"])


def test_parallel_reads_is_a_connection_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "wide", "hailuo", HAILUO, parallel_reads="8")
    set_connection(monkeypatch, "plain", "hailuo", HAILUO)
    assert HailuoHook("wide").get_settings().parallel_reads == 8
    assert HailuoHook("plain").get_settings().parallel_reads == 4  # the conservative default


def test_test_connection_reports_success_and_failure_without_retrying(sleeps: list[float]) -> None:
    with Mocker() as mock:
        mock.post(BATCH, json=hidream_batch_answer)
        assert HiDreamHook().test_connection() == (True, f"Connected to HiDream at {HIDREAM}")
        mock.post(BATCH, status_code=503, json={"code": 503, "message": "busy"})
        ok, message = HiDreamHook().test_connection()
    assert not ok
    assert "HTTP 503" in message
    assert sleeps == []


def test_test_connection_is_one_free_read() -> None:
    with Mocker() as mock:
        mock.post(TASKS, json=hailuo_batch_answer)
        assert HailuoHook().test_connection()[0]
    assert mock.call_count == 1
    assert mock.last_request.json()["action"] == "retrieve_batch"


def echo_token(request: Any, context: Any) -> str:
    context.status_code = 401
    return f"<html><title>denied {request.headers['authorization']}</title></html>"


@pytest.mark.parametrize(
    "response",
    [
        pytest.param({"status_code": 401, "json": {"error": {"code": "invalid_token"}}}, id="401"),
        pytest.param({"status_code": 403, "json": {"error": {"code": "used_up"}}}, id="403"),
        pytest.param({"status_code": 500, "json": {"error": {"code": "api_error"}}}, id="5xx-exhausted"),
        pytest.param({"exc": requests.ConnectTimeout("timed out")}, id="timeout"),
        pytest.param({"status_code": 200, "text": "{not json"}, id="malformed"),
        pytest.param({"text": echo_token}, id="proxy-echoes-the-header"),
    ],
)
def test_the_token_never_leaks(response: dict[str, Any], logs: LogCapture, sleeps: list[float]) -> None:
    hook = HailuoHook()
    with Mocker() as mock:
        mock.post(TASKS, **response)
        with pytest.raises(VideoTaskError) as caught:
            hook.get_tasks(["a"])
        ok, message = hook.test_connection()
    assert not ok
    log_text = logs.text
    assert "Hailuo retrieve_batch" in log_text or not caught.value.retryable  # the capture sees the hook's logs
    for text in (str(caught.value), repr(caught.value), message, repr(hook), repr(hook.get_settings()), log_text):
        assert SENTINEL_TOKEN not in text


def test_each_retry_is_logged_with_the_cause(logs: LogCapture, sleeps: list[float]) -> None:
    with Mocker() as mock:
        mock.post(BATCH, [{"status_code": 502, "text": "<title>Bad Gateway</title>"}, {"json": hidream_batch_answer}])
        HiDreamHook().get_tasks(["a"])
    assert "HiDream txt2video batch results failed, retry 1 of 4" in logs.text
    assert "HTTP 502" in logs.text


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("api.acedata.cloud", None, "https://api.acedata.cloud"),
        ("http://127.0.0.1", 8090, "http://127.0.0.1:8090"),  # a scheme in the host keeps the port
        ("http://127.0.0.1:9000/", 8090, "http://127.0.0.1:9000"),  # the host's own port wins
        ("gw.example.com", 8443, "https://gw.example.com:8443"),
        ("  ", None, None),
    ],
)
def test_the_base_url_keeps_scheme_and_port(host: str, port: int | None, url: str | None) -> None:
    from airflow_provider_videotask.hooks.connection import base_url_of

    assert base_url_of(host, port) == url


def test_errors_survive_pickling_with_their_details() -> None:
    import pickle

    from airflow_provider_videotask.exceptions import VideoTaskRateLimitError

    error = VideoTaskRateLimitError("slow down", vendor="Hailuo", status_code=429, trace_id="t-1", retry_after=3.0)
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (type(again), again.status_code, again.trace_id, again.retry_after) == (type(error), 429, "t-1", 3.0)
    assert str(again) == str(error) == "Hailuo: slow down (HTTP 429, trace id t-1)"


def test_a_token_pasted_with_its_bearer_prefix_is_sent_once_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(token="tok-1") as strict:  # refuses anything but exactly "Bearer tok-1"
        document = {"conn_type": "hailuo", "host": strict.url, "password": "Bearer tok-1"}
        monkeypatch.setenv("AIRFLOW_CONN_PASTED", json.dumps(document))
        [task] = HailuoHook("pasted").get_tasks(["a"])
    assert task.state.value == "unknown"
