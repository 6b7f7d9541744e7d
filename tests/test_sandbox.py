"""The sandbox speaks both vendor APIs, moves tasks along, injects faults and counts requests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_videotask.sandbox import Fault, Sandbox

HIDREAM = "/api-pub/gw/v2/video/txt2video/async"
AUTH = {"Authorization": "Bearer anything"}


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def slow_sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    with Sandbox(duration=10, clock=clock) as server:
        yield server


def hidream_status(server: Sandbox, task_id: str) -> dict[str, object]:
    answer = requests.post(f"{server.url}{HIDREAM}/results/batch", json={"task_id_list": [task_id]}, headers=AUTH)
    return answer.json()["result"][0]["sub_task_results"][0]


def test_hidream_task_moves_from_queued_through_running_to_succeeded(slow_sandbox: Sandbox, clock: ManualClock) -> None:
    answer = requests.post(f"{slow_sandbox.url}{HIDREAM}", json={"prompt": "fox"}, headers=AUTH).json()
    assert answer["code"] == 0
    task_id = answer["result"]["task_id"]
    assert hidream_status(slow_sandbox, task_id)["task_status"] == 0
    clock.now += 5
    running = hidream_status(slow_sandbox, task_id)
    assert (running["task_status"], running["task_completion"], running["video"]) == (2, 0.5, "")
    clock.now += 5
    done = hidream_status(slow_sandbox, task_id)
    assert done["task_status"] == 1
    assert str(done["video"]).startswith(f"{slow_sandbox.url}/_sandbox/videos/")
    assert requests.get(str(done["video"])).status_code == 200


@pytest.mark.parametrize(("keyword", "status"), [("[fail]", 3), ("[reject]", 4)])
def test_prompt_keywords_force_an_outcome(slow_sandbox: Sandbox, clock: ManualClock, keyword: str, status: int) -> None:
    answer = requests.post(f"{slow_sandbox.url}{HIDREAM}", json={"prompt": f"fox {keyword}"}, headers=AUTH).json()
    clock.now += 10
    assert hidream_status(slow_sandbox, answer["result"]["task_id"])["task_status"] == status


def test_hailuo_submit_retrieve_and_batch(slow_sandbox: Sandbox, clock: ManualClock) -> None:
    submit = requests.post(f"{slow_sandbox.url}/hailuo/videos", json={"prompt": "boat", "async": True}, headers=AUTH)
    task_id = submit.json()["task_id"]
    one = requests.post(f"{slow_sandbox.url}/hailuo/tasks", json={"id": task_id, "action": "retrieve"}, headers=AUTH)
    assert "response" not in one.json()
    clock.now += 10
    batch = requests.post(
        f"{slow_sandbox.url}/hailuo/tasks", json={"ids": ["nope", task_id], "action": "retrieve_batch"}, headers=AUTH
    ).json()
    assert batch["count"] == 1
    [item] = batch["items"]
    assert item["id"] == task_id
    assert item["response"]["data"][0]["state"] == "succeeded"


def test_hailuo_refuses_a_blocking_submit(sandbox: Sandbox) -> None:
    answer = requests.post(f"{sandbox.url}/hailuo/videos", json={"prompt": "boat"}, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"


def test_token_is_required_and_checked() -> None:
    with Sandbox(token="right") as server:
        url = f"{server.url}/hailuo/tasks"
        body = {"ids": [], "action": "retrieve_batch"}
        assert requests.post(url, json=body).status_code == 401
        assert requests.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert requests.post(url, json=body, headers={"Authorization": "Bearer right"}).status_code == 200


def test_faults_from_http_hit_the_next_requests_then_stop(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/hailuo/tasks"
    body = {"ids": ["a"], "action": "retrieve_batch"}
    assert requests.post(f"{sandbox.url}/_sandbox/faults", json={"kind": "rate_limit", "count": 2, "retry_after": 3})
    first, second, third = (requests.post(url, json=body, headers=AUTH) for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert second.status_code == 429
    assert third.status_code == 200
    assert requests.post(f"{sandbox.url}/_sandbox/faults", json={"kind": "nonsense"}).status_code == 400


def test_faults_can_target_submits_only(sandbox: Sandbox) -> None:
    sandbox.add_fault("server_error", count=-1, only="submits", status=503)
    read = requests.post(f"{sandbox.url}{HIDREAM}/results/batch", json={"task_id_list": []}, headers=AUTH)
    submit = requests.post(f"{sandbox.url}{HIDREAM}", json={"prompt": "x"}, headers=AUTH)
    assert (read.status_code, submit.status_code) == (200, 503)


def test_html_and_dropped_connection_faults(sandbox: Sandbox) -> None:
    sandbox.add_fault("html")
    sandbox.add_fault("drop")
    page = requests.post(f"{sandbox.url}/hailuo/tasks", json={"ids": [], "action": "retrieve_batch"}, headers=AUTH)
    assert page.status_code == 502
    assert page.headers["Content-Type"] == "text/html"
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.url}/hailuo/tasks", json={"ids": [], "action": "retrieve_batch"}, headers=AUTH)


def test_stats_count_requests_by_route(sandbox: Sandbox) -> None:
    requests.post(f"{sandbox.url}{HIDREAM}", json={"prompt": "x"}, headers=AUTH)
    requests.post(f"{sandbox.url}{HIDREAM}/results/batch", json={"task_id_list": ["a", "b"]}, headers=AUTH)
    stats = requests.get(f"{sandbox.url}/_sandbox/stats").json()
    assert stats["counts"]["hidream_submit"] == 1
    assert stats["counts"]["hidream_batch"] == 1
    assert stats["counts"]["requests"] == 2
    assert stats["counts"]["ids_queried"] == 2  # read ids only, not submits
    requests.post(f"{sandbox.url}/_sandbox/reset")
    assert requests.get(f"{sandbox.url}/_sandbox/stats").json()["counts"] == {}


def test_fault_parse_from_the_command_line() -> None:
    assert Fault.parse("rate_limit:count=3,retry_after=1.5") == Fault("rate_limit", count=3, retry_after=1.5)
    with pytest.raises(ValueError, match="fault kind must be one of"):
        Fault.parse("meteor")


def test_module_runs_as_a_command() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_videotask.sandbox", "--port", "0", "--duration", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = banner.split(" at ")[1].split()[0]
        assert requests.get(f"{url}/_sandbox/health", timeout=5).json() == {"ok": True}
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
