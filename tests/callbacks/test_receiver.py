"""The callback receiver (callbacks/receiver.py) as the vendor meets it: the FastAPI app mounted under the
plugin's prefix, called over HTTP (Starlette's TestClient) at the URL ``callback_url`` gives the vendor, its
connections read from Airflow (AIRFLOW_CONN_*), and a real metadata database in which no task instance
waits: a valid callback is answered 200 and then ignored; anything else is refused unread."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airflow_provider_videotask.callbacks import resume
from airflow_provider_videotask.callbacks.address import WaitAddress, address_name, callback_url, signature_for
from airflow_provider_videotask.callbacks.receiver import MAX_BODY_BYTES
from airflow_provider_videotask.plugin import URL_PREFIX, VideoTaskPlugin, create_app
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.callbacks import CallbackSender
from tests.conftest import SENTINEL_TOKEN, LogCapture, set_connection
from tests.test_metrics import parse, statsd_env

pytestmark = pytest.mark.usefixtures("airflow_db")

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://testserver"  # the api-server as the vendor reaches it (the test client's own host)
SECRET = "receiver-test-secret-0123456789"
OTHER_SECRET = "somebody-elses-secret-98765"
HIDREAM_SECRET = "hidream-callback-secret-000111"
SECRETS = (SECRET, OTHER_SECRET, HIDREAM_SECRET, SENTINEL_TOKEN)
ACE = WaitAddress("acedatacloud_default", "make_videos", "manual__2026-05-01T10:00:00+00:00", "submit", -1)
HIDREAM = WaitAddress("hidream_default", "make_videos", "manual__2026-05-01T10:00:00+00:00", "notify", 3)
ABSENT = "the task instance is absent"


def mounted() -> FastAPI:
    """The receiver as the api-server serves it: the plugin's app under the plugin's prefix."""
    [spec] = VideoTaskPlugin.fastapi_apps
    assert spec["url_prefix"] == URL_PREFIX == "/videotask"
    app = FastAPI()
    app.mount(URL_PREFIX, create_app())
    return app


@pytest.fixture
def callbacks_on(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """``acedatacloud_default`` and ``hidream_default`` with callbacks on, pointing at a fresh sandbox; and
    ``acedatacloud_plain``, the same without callbacks."""
    for conn_id, conn_type, secret in (
        ("acedatacloud_default", "acedatacloud", SECRET),
        ("hidream_default", "hidream", HIDREAM_SECRET),
    ):
        set_connection(monkeypatch, conn_id, conn_type, sandbox.url, callback_base_url=BASE, callback_secret=secret)
    set_connection(monkeypatch, "acedatacloud_plain", "acedatacloud", sandbox.url)
    return sandbox


@pytest.fixture
def client(callbacks_on: Sandbox, logs: LogCapture) -> Iterator[TestClient]:
    # The test's own HTTP client logs each full URL it requests (httpx, INFO): the vendor's side, not ours.
    httpx_log = logging.getLogger("httpx")
    level = httpx_log.level
    httpx_log.setLevel(logging.WARNING)
    with TestClient(mounted(), base_url=BASE) as test_client:
        yield test_client
    httpx_log.setLevel(level)


def url_for(address: WaitAddress, secret: str) -> str:
    return callback_url(BASE, address, secret)


def signature_in(url: str) -> str:
    return (parse_qs(urlsplit(url).query).get("token") or [""])[0]


def post(client: TestClient, url: str, **kwargs: object) -> httpx.Response:
    return client.post(url, **kwargs)  # type: ignore[arg-type]


def ignored_as_absent(logs: LogCapture, prefix: str) -> bool:
    """``prefix`` (the callback's log line) was logged once as ignored, for no task instance there."""
    text, logged = logs.text, f"{prefix}: ignored ("
    return logs.count(logged) == 1 and ABSENT in text[text.index(logged) :]


def assert_nothing_leaked(logs: LogCapture, *urls: str) -> None:
    text = logs.text
    for url in urls:
        if signature_in(url):
            assert signature_in(url) not in text, url
    for secret in SECRETS:
        assert secret not in text


def assert_answer_holds_nothing(answer: httpx.Response, url: str) -> None:
    shown = answer.text + json.dumps(dict(answer.headers))
    if signature_in(url):
        assert signature_in(url) not in shown
    for secret in SECRETS:
        assert secret not in shown


# ----- a valid callback ------------------------------------------------------------------------------------


def test_a_valid_callback_is_answered_200_then_ignored_as_no_task_waits(client: TestClient, logs: LogCapture) -> None:
    url = url_for(ACE, SECRET)
    answer = post(client, url, json={"task_id": "ace-task-1", "success": True})
    assert answer.status_code == 200
    assert answer.json() == {"status": "received"}
    # The background work ran before the test client returned: the outcome is logged with its reason.
    assert ignored_as_absent(logs, f"Callback for make_videos/{ACE.run_id}/submit[-1], task ace-task-1")
    assert_nothing_leaked(logs, url)


def test_a_sandbox_callback_body_is_read_for_its_task(
    client: TestClient, callbacks_on: Sandbox, logs: LogCapture
) -> None:
    """The body the sandbox posts for a finished Kling task names that task to the receiver."""
    submitted = requests.post(
        f"{callbacks_on.url}/kling/videos",
        json={"prompt": "a boat [callback=lost]", "callback_url": "http://127.0.0.1:9/never"},
        headers={"Authorization": "Bearer anything"},
        timeout=10,
    )
    task_id = submitted.json()["task_id"]
    body = CallbackSender(callbacks_on.state, callbacks_on.url)._body(callbacks_on.task(task_id))
    url = url_for(ACE, SECRET)
    assert post(client, url, json=body).status_code == 200
    assert ignored_as_absent(logs, f"Callback for make_videos/{ACE.run_id}/submit[-1], task {task_id}")
    assert_nothing_leaked(logs, url)


def test_a_hidream_notification_is_verified_with_its_own_connections_secret(
    client: TestClient, logs: LogCapture
) -> None:
    url = url_for(HIDREAM, HIDREAM_SECRET)
    body = {"code": 0, "message": "Success", "request_id": "r", "result": {"task_id": "hd-9", "sub_task_results": []}}
    assert post(client, url, json=body).status_code == 200
    assert ignored_as_absent(logs, f"Callback for make_videos/{HIDREAM.run_id}/notify[3], task hd-9")
    # The Ace connection's secret signs nothing for the HiDream connection.
    forged = url_for(HIDREAM, SECRET)
    assert post(client, forged, json=body).status_code == 403
    assert_nothing_leaked(logs, url, forged)


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2, 3]", b'"a string"', b"{}"])
def test_a_valid_callback_with_an_unreadable_body_is_answered_200_naming_no_task(
    client: TestClient, logs: LogCapture, body: bytes
) -> None:
    url = url_for(ACE, SECRET)
    assert post(client, url, content=body).status_code == 200
    assert ignored_as_absent(logs, f"Callback for make_videos/{ACE.run_id}/submit[-1]")  # no ", task ..."
    assert_nothing_leaked(logs, url)


def test_a_body_of_exactly_the_limit_is_taken(client: TestClient, logs: LogCapture) -> None:
    assert post(client, url_for(ACE, SECRET), content=b" " * MAX_BODY_BYTES).status_code == 200
    assert ignored_as_absent(logs, f"Callback for make_videos/{ACE.run_id}/submit[-1]")


async def test_waking_an_absent_task_instance_is_ignored_at_once(callbacks_on: Sandbox, logs: LogCapture) -> None:
    """``absent`` is no state a deferral may still come from: nothing is waited for."""
    assert "absent" not in resume._ABOUT_TO_DEFER
    assert resume.find_wait(ACE) == "absent"
    assert await resume.wake(ACE, "ace-task-2", log_line="Callback under test") == "ignored"
    assert ignored_as_absent(logs, "Callback under test")


# ----- refused callbacks -----------------------------------------------------------------------------------


def assert_forbidden(client: TestClient, logs: LogCapture, url: str) -> None:
    answer = post(client, url, json={"task_id": "ace-task-1"})
    assert answer.status_code == 403, url
    assert answer.json() == {"detail": "forbidden"}
    assert_answer_holds_nothing(answer, url)


def test_a_url_signed_with_another_secret_is_forbidden(client: TestClient, logs: LogCapture) -> None:
    url = url_for(ACE, OTHER_SECRET)
    assert_forbidden(client, logs, url)
    assert "refused: its signature does not verify" in logs.text
    assert "ignored" not in logs.text  # nothing was acted on
    assert_nothing_leaked(logs, url)


@pytest.mark.parametrize(
    "previous",
    [[SECRET], json.dumps([SECRET]), f"{OTHER_SECRET}\n{SECRET}", f"{OTHER_SECRET}, {SECRET}"],
    ids=["list", "json", "lines", "commas"],
)
def test_a_url_signed_with_a_secret_rotated_out_is_still_taken(
    client: TestClient, logs: LogCapture, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, previous: object
) -> None:
    rotated = "the-new-secret-after-rotation-42"
    old_url, new_url = url_for(ACE, SECRET), url_for(ACE, rotated)
    set_connection(monkeypatch, "acedatacloud_default", "acedatacloud", sandbox.url, callback_base_url=BASE,
                   callback_secret=rotated, callback_previous_secrets=previous)  # fmt: skip
    assert post(client, old_url, json={"task_id": "ace-task-1"}).status_code == 200  # signed before the change
    assert post(client, new_url, json={"task_id": "ace-task-1"}).status_code == 200
    set_connection(monkeypatch, "acedatacloud_default", "acedatacloud", sandbox.url, callback_base_url=BASE,
                   callback_secret=rotated)  # fmt: skip  # the old secret dropped: its URLs stop working
    assert_forbidden(client, logs, old_url)
    assert_nothing_leaked(logs, old_url, new_url)
    assert rotated not in logs.text


def test_a_url_for_a_connection_that_does_not_exist_is_forbidden(client: TestClient, logs: LogCapture) -> None:
    url = url_for(WaitAddress("no_such_connection", "d", "r", "t"), SECRET)
    assert_forbidden(client, logs, url)
    assert "refused: its signature does not verify" in logs.text
    assert_nothing_leaked(logs, url)


def test_a_url_for_a_connection_without_callbacks_is_forbidden(client: TestClient, logs: LogCapture) -> None:
    url = url_for(WaitAddress("acedatacloud_plain", "d", "r", "t"), SECRET)
    assert_forbidden(client, logs, url)
    assert_nothing_leaked(logs, url)


def test_an_altered_url_is_forbidden(client: TestClient, logs: LogCapture) -> None:
    name = address_name(ACE)
    signature = signature_for(name, SECRET)
    other_name = address_name(WaitAddress(ACE.conn_id, ACE.dag_id, "manual__other", ACE.task_id))
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    altered = [
        f"{BASE}/videotask/callbacks/{name}?token={flipped}",  # one character of the signature
        f"{BASE}/videotask/callbacks/{other_name}?token={signature}",  # another task instance, this signature
        f"{BASE}/videotask/callbacks/{name}?token={signature_for(name, OTHER_SECRET)}",
        f"{BASE}/videotask/callbacks/{name}",  # no token
        f"{BASE}/videotask/callbacks/{name}?token=",
        f"{BASE}/videotask/callbacks/{name}?signature={signature}",  # the signature under another name
    ]
    for url in altered:
        assert_forbidden(client, logs, url)
    assert logs.text.count("refused: its signature does not verify") >= len(altered)
    assert "ignored" not in logs.text
    assert_nothing_leaked(logs, *altered)


@pytest.mark.parametrize(
    "name",
    ["not-a-name", "abc", "e30", "WyJhIl0", "x" * 300, "%E2%98%83", base64.urlsafe_b64encode(b"[1,2]").decode()],
)
def test_a_malformed_name_is_forbidden(client: TestClient, logs: LogCapture, name: str) -> None:
    url = f"{BASE}/videotask/callbacks/{name}?token={signature_for(name, SECRET)}"
    assert_forbidden(client, logs, url)
    assert "refused: its signature does not verify" in logs.text
    assert "ignored" not in logs.text
    assert_nothing_leaked(logs, url)


def test_a_deeply_nested_name_is_forbidden(callbacks_on: Sandbox) -> None:
    name = base64.urlsafe_b64encode(b"[" * 1000).rstrip(b"=").decode()
    with TestClient(mounted(), base_url=BASE, raise_server_exceptions=False) as test_client:
        assert post(test_client, f"{BASE}/videotask/callbacks/{name}?token=c2ln", json={}).status_code == 403


def assert_refused_for_its_size(answer: httpx.Response, logs: LogCapture, url: str) -> None:
    assert answer.status_code == 413
    assert answer.json() == {"detail": "body too large"}
    assert "refused: its body is over 1048576 bytes" in logs.text
    assert "ignored" not in logs.text
    assert_answer_holds_nothing(answer, url)
    assert_nothing_leaked(logs, url)


def test_a_body_over_the_limit_is_refused_unread(client: TestClient, logs: LogCapture) -> None:
    url = url_for(ACE, SECRET)
    answer = post(client, url, content=b"x" * (MAX_BODY_BYTES + 1))
    assert answer.request.headers["content-length"] == str(MAX_BODY_BYTES + 1)
    assert_refused_for_its_size(answer, logs, url)


def test_a_streamed_body_over_the_limit_without_a_length_is_refused(client: TestClient, logs: LogCapture) -> None:
    url = url_for(ACE, SECRET)

    def chunks() -> Iterator[bytes]:
        for _ in range(16):
            yield b"x" * (64 * 1024)
        yield b"x"

    answer = post(client, url, content=chunks())
    assert "content-length" not in answer.request.headers
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert_refused_for_its_size(answer, logs, url)


def test_a_body_over_the_limit_is_refused_before_the_signature_is_checked(client: TestClient, logs: LogCapture) -> None:
    url = url_for(ACE, OTHER_SECRET)
    answer = post(client, url, content=b"x" * (MAX_BODY_BYTES + 1))
    assert answer.status_code == 413
    assert "its signature does not verify" not in logs.text
    assert_answer_holds_nothing(answer, url)
    assert_nothing_leaked(logs, url)


# ----- metrics ---------------------------------------------------------------------------------------------

POSTS = """
import json, logging, sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
from airflow_provider_videotask.plugin import create_app
logging.getLogger("httpx").setLevel(logging.WARNING)  # the client's side: it logs each full URL
app = FastAPI()
app.mount("/videotask", create_app())
client = TestClient(app, base_url="http://testserver")
for url, body in json.loads(sys.stdin.read()):
    print("answered", client.post(url, content=body.encode()).status_code, flush=True)
"""


def test_each_callback_is_counted_by_outcome(
    callbacks_on: Sandbox, statsd: tuple[int, Callable[[], list[str]]]
) -> None:
    """In a fresh process with StatsD on (as tests/test_metrics.py runs its DAGs): one valid callback
    (ignored: nothing waits), one forged, one too large, one malformed (rejected)."""
    port, drained = statsd
    posts = [
        (url_for(ACE, SECRET), '{"task_id": "ace-task-1"}'),
        (url_for(ACE, OTHER_SECRET), '{"task_id": "ace-task-1"}'),
        (url_for(ACE, SECRET), "x" * (MAX_BODY_BYTES + 1)),
        (f"{BASE}/videotask/callbacks/not-a-name?token=abc", "{}"),
    ]
    run = subprocess.run(
        [sys.executable, "-c", POSTS],
        input=json.dumps(posts),
        cwd=ROOT,
        env=statsd_env(port),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    answers = [line.split()[1] for line in run.stdout.splitlines() if line.startswith("answered ")]
    assert answers == ["200", "403", "413", "403"]
    counted = [parse(line) for line in drained() if line.startswith("airflow.videotask.callback.")]
    assert sorted((name, tags["conn_id"]) for name, tags, _ in counted) == [
        ("videotask.callback.ignored", "acedatacloud_default"),
        ("videotask.callback.rejected", "acedatacloud_default"),
        ("videotask.callback.rejected", "acedatacloud_default"),
        ("videotask.callback.rejected", "unknown"),
    ]
    # No wait was found, so no vendor is known: "unknown" (docs/metrics.md).
    assert all(kind == "c" and tags == {"vendor": "unknown", "conn_id": tags["conn_id"]} for _, tags, kind in counted)
    for url, _ in posts[:3]:
        assert signature_in(url) not in run.stdout + run.stderr
    for secret in SECRETS:
        assert secret not in run.stdout + run.stderr
