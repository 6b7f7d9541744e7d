"""The sandbox speaks both vendor APIs, moves tasks along, injects faults and counts requests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_videotask.sandbox import Fault, Sandbox

HIDREAM = "/api-pub/gw/v2/video/txt2video/async"
AUTH = {"Authorization": "Bearer anything"}  # Ace Data Cloud takes any bearer token unless told otherwise


def hidream_auth(server: Sandbox, api_key: str = "any-key") -> dict[str, str]:
    """A bearer header with a token bought from HiDream's API key exchange."""
    answer = requests.get(f"{server.url}/prod-api/user/apikey2token", headers={"Api-Key": api_key}).json()
    return {"Authorization": f"Bearer {answer['result']['token']}"}


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
    answer = requests.post(
        f"{server.url}{HIDREAM}/results/batch", json={"task_id_list": [task_id]}, headers=hidream_auth(server)
    )
    return answer.json()["result"][0]["sub_task_results"][0]


def test_hidream_task_moves_from_queued_through_running_to_succeeded(slow_sandbox: Sandbox, clock: ManualClock) -> None:
    answer = requests.post(
        f"{slow_sandbox.url}{HIDREAM}", json={"prompt": "fox"}, headers=hidream_auth(slow_sandbox)
    ).json()
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
    answer = requests.post(
        f"{slow_sandbox.url}{HIDREAM}", json={"prompt": f"fox {keyword}"}, headers=hidream_auth(slow_sandbox)
    ).json()
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


def test_a_submit_without_async_is_answered_with_the_finished_result() -> None:
    """As Ace answers one: when the video is done, with the body the task's ``response`` holds."""
    with Sandbox(duration=0.3) as server:
        answer = requests.post(f"{server.url}/hailuo/videos", json={"prompt": "boat"}, headers=AUTH)
        assert answer.status_code == 200
        body = answer.json()
        assert body["success"] is True
        assert body["data"][0]["state"] == "succeeded"
        assert body["data"][0]["video_url"].startswith(f"{server.url}/_sandbox/videos/")
        assert server.state.phase(server.task(body["task_id"]))[0] == "succeeded"  # not answered before it was


@pytest.mark.parametrize("service", ["sora", "pika", "pixverse", "hunyuan"])
def test_any_service_name_is_served(sandbox: Sandbox, service: str) -> None:
    submitted = requests.post(f"{sandbox.url}/{service}/videos", json={"prompt": "boat", "async": True}, headers=AUTH)
    task_id = submitted.json()["task_id"]
    body = {"ids": [task_id], "action": "retrieve_batch"}
    [item] = requests.post(f"{sandbox.url}/{service}/tasks", json=body, headers=AUTH).json()["items"]
    assert item["response"]["data"][0]["video_url"].endswith(".mp4")
    assert ("state" in item["response"]["data"][0]) is (service != "pixverse")  # PixVerse's items carry no word


def test_a_model_ace_does_not_serve_is_refused_and_makes_no_task(sandbox: Sandbox) -> None:
    body = {"prompt": "boat", "model": "kling-v9-imaginary", "async": True}
    answer = requests.post(f"{sandbox.url}/kling/videos", json=body, headers=AUTH)
    assert (answer.status_code, answer.json()["error"]) == (
        400,
        {"code": "bad_request", "message": "model is invalid."},
    )
    newer = requests.post(f"{sandbox.url}/kling/videos", json={**body, "model": "kling-v3-turbo"}, headers=AUTH)
    assert newer.status_code == 200
    assert sandbox.counts()["tasks_created"] == 1


def test_luma_and_seedance_hold_a_picture_before_the_video(sandbox: Sandbox) -> None:
    """A reader that takes the first URL it finds would take the picture: Luma's thumbnail_url, Seedance's
    last_frame_url (their tasks guides)."""
    for service, body in (
        ("luma", {"prompt": "x"}),
        ("seedance", {"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}]}),
    ):
        task_id = requests.post(f"{sandbox.url}/{service}/videos", json={**body, "async": True}, headers=AUTH).json()
        read = {"id": task_id["task_id"], "action": "retrieve"}
        response = requests.post(f"{sandbox.url}/{service}/tasks", json=read, headers=AUTH).json()["response"]
        holder = response.get("data") or response
        urls = [key for key, value in holder.items() if key.endswith("_url") and value]
        assert urls[0] in ("thumbnail_url", "last_frame_url")
        assert "video_url" in urls


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
    read = requests.post(
        f"{sandbox.url}{HIDREAM}/results/batch", json={"task_id_list": []}, headers=hidream_auth(sandbox)
    )
    submit = requests.post(f"{sandbox.url}{HIDREAM}", json={"prompt": "x"}, headers=hidream_auth(sandbox))
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
    headers = hidream_auth(sandbox)
    requests.post(f"{sandbox.url}{HIDREAM}", json={"prompt": "x"}, headers=headers)
    requests.post(f"{sandbox.url}{HIDREAM}/results/batch", json={"task_id_list": ["a", "b"]}, headers=headers)
    stats = requests.get(f"{sandbox.url}/_sandbox/stats").json()
    assert stats["counts"]["hidream_token"] == stats["counts"]["tokens_issued"] == 1
    assert stats["counts"]["hidream_submit"] == 1
    assert stats["counts"]["hidream_batch"] == 1
    assert stats["counts"]["requests"] == 3
    assert stats["counts"]["ids_queried"] == 2  # read ids only, not submits
    assert stats["counts"]["connections"] == 4  # requests opens a connection per call here
    assert stats["counts"]["max_in_flight"] == 1  # one after another
    requests.post(f"{sandbox.url}/_sandbox/reset")
    after = requests.get(f"{sandbox.url}/_sandbox/stats").json()["counts"]
    assert after == {"connections": 1, "max_in_flight": 1}  # the stats request itself, nothing before it


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


def test_a_busy_port_is_one_line_that_names_the_fix(sandbox: Sandbox) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_videotask.sandbox", "--port", port],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()  # no traceback
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert f"make sandbox SANDBOX_PORT={int(port) + 1}" in line


def test_hidream_tokens_come_from_the_api_key_and_expire() -> None:
    with Sandbox(api_key="right-key", token_ttl=0.2) as server:
        refused = requests.get(f"{server.url}/prod-api/user/apikey2token", headers={"Api-Key": "wrong"})
        assert refused.status_code == 401
        answer = requests.get(f"{server.url}/prod-api/user/apikey2token", headers={"Api-Key": "right-key"}).json()
        assert answer["code"] == 0
        assert "T" in answer["result"]["expire_time"]  # RFC 3339, as the doc shows
        headers = {"Authorization": f"Bearer {answer['result']['token']}"}
        url = f"{server.url}{HIDREAM}/results/batch"
        assert requests.post(url, json={"task_id_list": ["a"]}, headers=headers).status_code == 200
        assert requests.post(url, json={"task_id_list": ["a"]}, headers=AUTH).status_code == 401  # not issued
        deadline = server.state.tokens[answer["result"]["token"]][1]
        while time.time() < deadline:  # bounded: the token lives 0.2 s
            time.sleep(0.05)
        expired = requests.post(url, json={"task_id_list": ["a"]}, headers=headers)
        assert (expired.status_code, expired.json()["message"]) == (401, "token expired")


def test_a_rotated_api_key_ends_the_old_tokens(sandbox: Sandbox) -> None:
    headers = hidream_auth(sandbox, "old-key")
    sandbox.rotate_api_key("new-key")
    url = f"{sandbox.url}{HIDREAM}/results/batch"
    assert requests.post(url, json={"task_id_list": ["a"]}, headers=headers).status_code == 401
    assert requests.post(url, json={"task_id_list": ["a"]}, headers=hidream_auth(sandbox, "new-key")).status_code == 200


def test_hidream_submits_are_limited_per_minute_and_module(sandbox: Sandbox) -> None:
    headers = hidream_auth(sandbox)
    edits = [
        requests.post(
            f"{sandbox.url}/api-pub/gw/v2/video/video_edit/async",
            json={"video_name": "https://v/x.mp4", "style": "anime"},
            headers=headers,
        )
        for _ in range(3)
    ]
    assert [answer.status_code for answer in edits] == [200, 200, 429]
    assert 1 <= int(edits[2].headers["Retry-After"]) <= 60
    # txt2video has its own window of 10.
    assert requests.post(f"{sandbox.url}{HIDREAM}", json={"prompt": "x"}, headers=headers).status_code == 200
    assert (sandbox.counts()["submits_accepted"], sandbox.counts()["submits_refused"]) == (3, 1)


def hailuo_ids(server: Sandbox, count: int) -> list[str]:
    return [server.state.create("hailuo", "minimax-t2v", {"prompt": "p"}, "p").task_id for _ in range(count)]


def test_retrieve_batch_pages_when_no_limit_is_sent(sandbox: Sandbox) -> None:
    ids = hailuo_ids(sandbox, 30)
    url = f"{sandbox.url}/hailuo/tasks"
    default = requests.post(url, json={"ids": ids, "action": "retrieve_batch"}, headers=AUTH).json()
    assert (len(default["items"]), default["count"]) == (12, 30)
    body = {"ids": ids, "action": "retrieve_batch", "limit": 30, "offset": 0}
    assert len(requests.post(url, json=body, headers=AUTH).json()["items"]) == 30
    body = {"ids": ids, "action": "retrieve_batch", "limit": 20, "offset": 20}
    assert [item["id"] for item in requests.post(url, json=body, headers=AUTH).json()["items"]] == ids[20:]


def test_a_refused_id_fails_the_whole_batch(sandbox: Sandbox) -> None:
    ids = hailuo_ids(sandbox, 2)
    sandbox.refuse_ids("bad-id")
    url = f"{sandbox.url}/hailuo/tasks"
    refused = requests.post(url, json={"ids": [*ids, "bad-id"], "action": "retrieve_batch"}, headers=AUTH)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "bad_request")
    assert requests.post(url, json={"ids": ids, "action": "retrieve_batch"}, headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    ("prompt", "key", "word", "url"),
    [
        ("plain", "state", "succeeded", True),
        ("[key=status]", "status", "succeeded", True),
        ("[word=completed]", "state", "completed", True),
        ("[no_video]", "state", "succeeded", False),
        ("[odd_state]", "state", "generating_v2", True),
    ],
)
def test_hailuo_result_variants_on_request(sandbox: Sandbox, prompt: str, key: str, word: str, url: bool) -> None:
    task = sandbox.state.create("hailuo", "minimax-t2v", {"prompt": prompt}, prompt)
    body = {"id": task.task_id, "action": "retrieve"}
    [item] = requests.post(f"{sandbox.url}/hailuo/tasks", json=body, headers=AUTH).json()["response"]["data"]
    assert item[key] == word
    assert bool(item["video_url"]) is url


def test_finished_tasks_link_to_a_real_mp4_of_the_size_asked_for(sandbox: Sandbox) -> None:
    from airflow_provider_videotask.sandbox.server import CLIP

    def boxes(data: bytes) -> list[tuple[bytes, int]]:
        """The top-level MP4 boxes (type, size): a player reads exactly these."""
        found, at = [], 0
        while at < len(data):
            size, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
            if size == 1:  # a 64-bit size follows
                size = int.from_bytes(data[at + 8 : at + 16], "big")
            found.append((kind, size))
            at += size
        assert at == len(data), "the boxes must cover the file exactly"
        return found

    task = sandbox.state.create("hailuo", "minimax-t2v", {}, "a boat [duration=0] [video_bytes=500000]")
    document = requests.post(f"{sandbox.url}/hailuo/tasks", json={"action": "retrieve", "id": task.task_id},
                             headers={"Authorization": "Bearer t"}).json()  # fmt: skip
    url = document["response"]["data"][0]["video_url"]
    answer = requests.get(url, timeout=10)
    assert answer.headers["Content-Type"] == "video/mp4"
    assert int(answer.headers["Content-Length"]) == len(answer.content) == 500000
    assert answer.content.startswith(CLIP)
    assert [kind for kind, _ in boxes(CLIP)][:1] == [b"ftyp"]
    assert boxes(answer.content)[-1] == (b"free", 500000 - len(CLIP))  # padding a player skips
    plain = requests.get(url.split("?")[0], timeout=10)
    assert plain.content == CLIP
    assert sandbox.counts()["video_downloads"] == 2


def test_download_faults_touch_only_downloads(sandbox: Sandbox) -> None:
    sandbox.add_fault("expired", only="videos")
    sandbox.add_fault("truncate", only="videos")
    url = f"{sandbox.url}/_sandbox/videos/v.mp4"
    assert requests.get(url, timeout=10).status_code == 403
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=10)
    assert requests.get(url, timeout=10).status_code == 200  # both used up
    with pytest.raises(ValueError, match="one of reads, submits, all, videos"):
        Fault("expired", only="downloads")
