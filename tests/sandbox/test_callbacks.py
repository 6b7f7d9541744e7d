"""The sandbox calls back as the vendors document (sandbox/callbacks.py), with the faults a receiver must
survive: lost, twice, late, and a body that lies. A real HTTP receiver on loopback collects the posts."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from airflow_provider_videotask.sandbox import Sandbox, callbacks
from tests.sandbox.test_sandbox import ManualClock  # the sandbox's clock, moved by the test

AUTH = {"Authorization": "Bearer anything"}


class Receiver:
    """Collects each POST's path and JSON body; answers each with the next status of ``statuses`` (then 200)."""

    def __init__(self) -> None:
        self.posts: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.posts.put((self.path, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def next(self) -> tuple[str, Any]:
        return self.posts.get(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.httpd.shutdown()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    with Sandbox(duration=10, clock=clock, limits={}) as server:
        yield server


def ace_submit(sandbox: Sandbox, receiver: Receiver, prompt: str, path: str = "/cb", service: str = "kling") -> str:
    body = {"prompt": prompt, "callback_url": receiver.url + path}
    return str(requests.post(f"{sandbox.url}/{service}/videos", json=body, headers=AUTH).json()["task_id"])


def hidream_submit(sandbox: Sandbox, receiver: Receiver, version: str, path: str = "/notify") -> str:
    module = "txt2video"
    url = f"{sandbox.url}/api-pub/gw/{version}/video/{module}/async"
    headers = {"Authorization": f"Bearer {sandbox.state.issue_token('key')[0]}"}  # type: ignore[index]
    answer = requests.post(url, json={"prompt": "a fox", "notify_url": receiver.url + path}, headers=headers)
    return str(answer.json()["result"]["task_id"])


def test_ace_calls_back_with_the_finished_result(sandbox: Sandbox, receiver: Receiver, clock: ManualClock) -> None:
    task_id = ace_submit(sandbox, receiver, "a boat")
    clock.now += 10
    path, body = receiver.next()
    assert path == "/cb"
    assert body["task_id"] == task_id
    assert (body["success"], body["state"]) == (True, "succeed")  # Kling's flat result, as its answer holds it
    assert body["video_url"].startswith(f"{sandbox.url}/_sandbox/videos/")


def test_ace_calls_back_a_failure_with_its_error(sandbox: Sandbox, receiver: Receiver, clock: ManualClock) -> None:
    task_id = ace_submit(sandbox, receiver, "a boat [fail]", service="hailuo")
    clock.now += 10
    _, body = receiver.next()
    assert (body["task_id"], body["success"]) == (task_id, False)
    assert body["error"]["code"] == "api_error"
    assert "trace_id" in body


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_hidream_notifies_in_its_versions_body(
    sandbox: Sandbox, receiver: Receiver, clock: ManualClock, version: str
) -> None:
    task_id = hidream_submit(sandbox, receiver, version)
    clock.now += 10
    _, body = receiver.next()
    result = body["result"]
    if version == "v2":
        assert body["main_task_id"] == task_id  # the seed: main_task_id and result
    else:
        assert body["code"] == 0  # v3: the result page's envelope
    assert result["task_id"] == task_id
    [sub] = result["sub_task_results"]
    assert sub["task_status"] == 1
    assert sub["video"].startswith(f"{sandbox.url}/_sandbox/videos/")


def test_hidream_tries_three_times_one_second_apart(
    sandbox: Sandbox, receiver: Receiver, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callbacks, "HIDREAM_PAUSE", 0.01)
    receiver.statuses = [500, 503]
    hidream_submit(sandbox, receiver, "v2")
    clock.now += 10
    bodies = [receiver.next()[1] for _ in range(3)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert sandbox.counts()["callbacks_sent"] == 3  # counted before each post leaves
    delivered = threading.Event()  # counted once the third answer is read: wait for it, bounded
    for _ in range(500):
        if sandbox.counts()["callbacks_delivered"] == 1 or delivered.wait(0.01):
            break
    assert sandbox.counts()["callbacks_delivered"] == 1
    assert receiver.posts.empty()  # no fourth try


def test_a_lost_callback_is_never_sent(sandbox: Sandbox, receiver: Receiver, clock: ManualClock) -> None:
    ace_submit(sandbox, receiver, "a boat [callback=lost]", path="/lost")
    ace_submit(sandbox, receiver, "a boat", path="/kept")  # ends at the same moment: sent in the same scan
    clock.now += 10
    assert receiver.next()[0] == "/kept"
    assert receiver.posts.empty()
    assert sandbox.counts()["callbacks_sent"] == 1


def test_a_duplicated_callback_comes_twice(sandbox: Sandbox, receiver: Receiver, clock: ManualClock) -> None:
    ace_submit(sandbox, receiver, "a boat [callback=twice]")
    clock.now += 10
    first, second = receiver.next(), receiver.next()
    assert first == second


def test_a_delayed_callback_comes_after_its_delay(sandbox: Sandbox, receiver: Receiver, clock: ManualClock) -> None:
    ace_submit(sandbox, receiver, "a boat [callback_delay=30]", path="/late")
    ace_submit(sandbox, receiver, "a boat", path="/on-time")
    clock.now += 10
    assert receiver.next()[0] == "/on-time"
    assert receiver.posts.empty()  # the late one was not due with it
    clock.now += 30
    assert receiver.next()[0] == "/late"


def test_a_lying_callback_claims_success_while_the_vendor_says_running(
    sandbox: Sandbox, receiver: Receiver, clock: ManualClock
) -> None:
    task_id = ace_submit(sandbox, receiver, "a boat [callback=lie]")
    clock.now += 5
    _, lie = receiver.next()
    assert lie["video_url"] == callbacks.LIE_VIDEO
    read = {"id": task_id, "action": "retrieve"}
    truth = requests.post(f"{sandbox.url}/kling/tasks", json=read, headers=AUTH).json()
    assert truth["response"]["state"] == "processing"  # what the vendor reports meanwhile
    clock.now += 5
    _, real = receiver.next()
    assert real["state"] == "succeed"
    assert real["video_url"].startswith(f"{sandbox.url}/_sandbox/videos/")
