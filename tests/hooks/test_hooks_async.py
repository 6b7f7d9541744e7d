"""The async HTTP path (triggers) against the real sandbox: same answers, same rules as the sync path."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest

from airflow_provider_videotask.api.models import TaskState
from airflow_provider_videotask.exceptions import (
    VideoTaskAuthError,
    VideoTaskRateLimitError,
    VideoTaskResponseError,
    VideoTaskTransportError,
)
from airflow_provider_videotask.hooks import base
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.hooks.retry import NO_RETRY
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import SENTINEL_TOKEN, LogCapture, set_connection


async def test_async_and_sync_paths_agree(sandbox_conns: Sandbox) -> None:
    hidream, hailuo = HiDreamHook(), HailuoHook()
    ids = [hidream.submit("txt2video", prompt=f"fox {n} [videos=2]") for n in range(3)]
    hailuo_id = hailuo.submit("boat [fail]")
    sync_tasks = hidream.get_tasks([*ids, "nope"]) + hailuo.get_tasks([hailuo_id])
    async_tasks = await hidream.aget_tasks([*ids, "nope"]) + await hailuo.aget_tasks([hailuo_id])
    await hidream.aclose()
    await hailuo.aclose()
    assert async_tasks == sync_tasks
    assert [t.state for t in async_tasks] == [TaskState.SUCCEEDED] * 3 + [TaskState.UNKNOWN, TaskState.FAILED]
    assert all(len(t.video_urls) == 2 for t in async_tasks[:3])
    assert async_tasks[-1].error == "api_error: no channel available for minimax-t2v"


async def test_async_batches_at_50_ids_one_request_each(sandbox_conns: Sandbox) -> None:
    hook = HailuoHook()
    ids = [f"missing-{n}" for n in range(101)]
    sandbox_conns.reset_counts()
    tasks = await hook.aget_tasks(ids + ids[:10])
    await hook.aclose()
    assert sandbox_conns.counts()["hailuo_retrieve_batch"] == 3
    assert sandbox_conns.counts()["ids_queried"] == 101
    assert [t.task_id for t in tasks] == ids + ids[:10]
    assert {t.state for t in tasks} == {TaskState.UNKNOWN}


async def test_async_reads_retry_and_honour_retry_after(sandbox_conns: Sandbox, sleeps: list[float]) -> None:
    hook = HiDreamHook()
    task_id = hook.submit("txt2video", prompt="fox")
    sandbox_conns.reset_counts()
    sandbox_conns.add_fault("rate_limit", count=2, retry_after=2, only="reads")
    sandbox_conns.add_fault("drop", count=1)
    sandbox_conns.add_fault("malformed", count=1)
    [task] = await hook.aget_tasks([task_id])
    await hook.aclose()
    assert task.state is TaskState.SUCCEEDED
    assert sandbox_conns.counts()["hidream_batch"] == 5
    assert sleeps[:2] == [2.0, 2.0]
    assert len(sleeps) == 4


async def test_async_retries_are_bounded(sandbox_conns: Sandbox, sleeps: list[float]) -> None:
    hook = HailuoHook()
    sandbox_conns.add_fault("rate_limit", count=-1)
    with pytest.raises(VideoTaskRateLimitError, match="HTTP 429"):
        await hook.aget_tasks(["a"])
    await hook.aclose()
    assert sandbox_conns.counts()["hailuo_retrieve_batch"] == 5
    assert len(sleeps) == 4


async def test_async_timeout_is_a_transport_error(sandbox_conns: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "impatient", "hailuo", sandbox_conns.url, request_timeout=1)
    hook = HailuoHook("impatient", retry_policy=NO_RETRY)
    sandbox_conns.add_fault("slow", delay=1.5)
    with pytest.raises(VideoTaskTransportError, match="no answer within 1s"):
        await hook.aget_tasks(["a"])
    await hook.aclose()


async def test_async_wrong_shape_is_a_response_error(sandbox_conns: Sandbox, sleeps: list[float]) -> None:
    hook = HiDreamHook()
    sandbox_conns.add_fault("wrong_types", count=-1)
    with pytest.raises(VideoTaskResponseError, match="result should be a list"):
        await hook.aget_tasks(["a"])
    await hook.aclose()


async def test_async_auth_error_without_token(sandbox_conns: Sandbox, logs: LogCapture, sleeps: list[float]) -> None:
    hook = HailuoHook()
    sandbox_conns.add_fault("unauthorized")
    with pytest.raises(VideoTaskAuthError) as caught:
        await hook.aget_tasks(["a"])
    await hook.aclose()
    assert sleeps == []
    assert SENTINEL_TOKEN not in str(caught.value)
    assert SENTINEL_TOKEN not in logs.text


async def test_async_path_does_not_block_the_event_loop(sandbox_conns: Sandbox) -> None:
    """While a slow answer is awaited, other coroutines keep running."""
    hook = HailuoHook()
    await hook.aget_tasks(["warm-up"])  # the connection is read once, then cached
    sandbox_conns.add_fault("slow", delay=0.5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    await hook.aget_tasks(["a"])
    ticking.cancel()
    await hook.aclose()
    assert ticks >= 10


async def test_mock_transport_sees_the_documented_request(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "count": 0})

    set_connection(monkeypatch, "mocked", "hailuo", "https://hailuo.test")
    hook = HailuoHook("mocked")
    hook._async_client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    await hook.aget_tasks(["x", "y"])
    await hook.aclose()
    [request] = seen
    assert str(request.url) == "https://hailuo.test/hailuo/tasks"
    assert request.headers["authorization"] == f"Bearer {SENTINEL_TOKEN}"
    assert json.loads(request.content) == {"ids": ["x", "y"], "action": "retrieve_batch", "limit": 2, "offset": 0}


async def test_token_and_header_value_are_registered_with_the_secret_masker(
    sandbox_conns: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through Airflow's own masker: what a log line would show once the hooks have read their connections."""
    import importlib
    import uuid

    from airflow.providers.common.compat.sdk import mask_secret

    redact = importlib.import_module(mask_secret.__module__).redact  # the masker mask_secret feeds
    api_key, token = f"key-{uuid.uuid4().hex}", f"tok-{uuid.uuid4().hex}"  # never registered before
    for conn_id, conn_type, secret in (("hidream_default", "hidream", api_key), ("hailuo_default", "hailuo", token)):
        document = {"conn_type": conn_type, "host": sandbox_conns.url, "password": secret}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))
    line = f"api key {api_key}, header Bearer {token}"
    assert api_key in str(redact(line))  # the test can fail: nothing is masked yet
    HailuoHook().get_tasks(["a"])
    hook = HiDreamHook()
    await hook.aget_tasks(["a"])
    await hook.aclose()
    [exchanged] = sandbox_conns.state.tokens  # the token HiDream's exchange handed out for the API key
    shown = str(redact(f"{line}, token {exchanged}"))
    for secret in (api_key, token, exchanged):
        assert secret not in shown, shown


@pytest.mark.slow
async def test_connections_stay_warm_between_polls(sandbox_conns: Sandbox) -> None:
    """Idle longer than httpx's default keep-alive (5 s): the next read still reuses the connection."""
    hook = HailuoHook()
    await hook.aget_tasks(["a"])
    await asyncio.sleep(6)  # the idle time under test, not a synchronisation
    await hook.aget_tasks(["a"])
    await hook.aclose()
    assert sandbox_conns.counts()["hailuo_retrieve_batch"] == 2
    assert sandbox_conns.counts()["connections"] == 1


class ThreadNotingHailuoHook(HailuoHook):
    """Notes which thread read each answer (a subclass, as a user's would be: no patching inside the hook)."""

    read_on: list[str] = []

    def _read_response(self, status_code: int, text: str, retry_after: float | None) -> Any:
        self.read_on.append(threading.current_thread().name)
        return super()._read_response(status_code, text, retry_after)


@pytest.mark.parametrize(("threshold", "read_on_the_loop"), [(10**9, True), (0, False)])
async def test_a_large_answer_is_read_off_the_event_loop(
    sandbox_conns: Sandbox, monkeypatch: pytest.MonkeyPatch, threshold: int, read_on_the_loop: bool
) -> None:
    monkeypatch.setattr(base, "LARGE_ANSWER_BYTES", threshold)
    hook = ThreadNotingHailuoHook()
    hook.read_on = []
    task_id = hook.submit("boat")
    [task] = await hook.aget_tasks([task_id])
    await hook.aclose()
    assert (task.task_id, task.state) == (task_id, TaskState.SUCCEEDED)  # read the same either way
    assert (hook.read_on[-1] == threading.current_thread().name) is read_on_the_loop, hook.read_on


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nobody listens once the probe is closed


def test_a_submit_that_never_left_says_nothing_was_sent_and_one_that_did_may_exist(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "typo", "hailuo", f"http://127.0.0.1:{closed_port()}")
    set_connection(monkeypatch, "dropped", "hailuo", sandbox.url)
    sandbox.add_fault("drop", count=1, only="submits")  # the request arrives; the line drops before the answer

    def submit(conn_id: str) -> str:
        with pytest.raises(VideoTaskTransportError) as failed:
            HailuoHook(conn_id).submit("a boat")
        return str(failed.value)

    never_sent, lost = submit("typo"), submit("dropped")
    assert "nothing was sent; nothing was billed" in never_sent
    assert "may exist" not in never_sent
    assert "Max retries exceeded" not in never_sent  # urllib3's words: a submit is never retried
    assert never_sent.count("Hailuo") == 1  # the vendor named once
    assert "the task may exist at the vendor already" in lost
    assert "nothing was sent" not in lost


async def test_an_async_read_that_never_left_says_nothing_was_sent(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    set_connection(monkeypatch, "typo", "hailuo", f"http://127.0.0.1:{closed_port()}")
    hook = HailuoHook("typo")
    with pytest.raises(VideoTaskTransportError) as failed:
        await hook.aget_tasks(["a"])
    await hook.aclose()
    message = str(failed.value)
    assert "nothing was sent" in message
    assert "nothing was billed" not in message  # a read costs nothing anyway
    assert message.count("Hailuo") == 1
    assert len(sleeps) == 4  # reads are retried, as the policy allows
