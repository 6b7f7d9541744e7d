"""The provider against the sandbox in its realistic default mode: tokens that expire, keys that rotate,
paged batch reads, refused ids, and readings that cannot be taken at face value."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_videotask.api.errors import VideoTaskRequestError
from airflow_provider_videotask.api.models import TaskState
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import SENTINEL_TOKEN, FakeClock, LogCapture, RecordingTI, first_event, set_connection, until


def hidream_tasks(sandbox: Sandbox, count: int, prompt: str = "fox") -> list[str]:
    return [sandbox.state.create("hidream", "txt2video", {}, prompt).task_id for _ in range(count)]


def hailuo_tasks(sandbox: Sandbox, count: int, prompt: str = "boat") -> list[str]:
    return [sandbox.state.create("hailuo", "minimax-t2v", {}, prompt).task_id for _ in range(count)]


# ----- HiDream: the API key buys tokens that expire ------------------------------------------------


@pytest.fixture
def short_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """HiDream tokens that live 2 s, and tasks that take 5 s: every wait outlives a few tokens. (The
    renewal comes a tenth of the life early, 0.2 s here: shorter lives made the margin a loaded CI
    machine's scheduling delay.)"""
    with Sandbox(duration=5, token_ttl=2) as server:
        set_connection(monkeypatch, "hidream_default", "hidream", server.url)
        yield server


async def test_a_deferred_wait_outlives_its_tokens_with_one_exchange_per_lifetime(short_tokens: Sandbox) -> None:
    ids = hidream_tasks(short_tokens, 3)
    started = time.monotonic()
    events = await asyncio.gather(
        *(first_event(VideoTaskTrigger("hidream_default", [i], poll_interval=0.1)) for i in ids)
    )
    waited = time.monotonic() - started
    counts = short_tokens.counts()
    assert [event["status"] for event in events] == ["success"] * 3
    assert counts["auth_refused"] == 0  # renewed before expiry, never refused
    # One token per 1.8 s of life (2 s less its tenth), shared by the three waits of this process.
    assert 1 <= counts["tokens_issued"] <= waited / 1.8 + 1


def test_a_poke_mode_sensor_outlives_its_tokens(short_tokens: Sandbox) -> None:
    ids = hidream_tasks(short_tokens, 2)
    sensor = VideoTaskSensor(
        task_id="wait", video_task_ids=ids, conn_id="hidream_default", poke_interval=0.1, timeout=30
    )
    urls = sensor.execute({"ti": RecordingTI()})
    assert len(urls) == 2
    assert short_tokens.counts()["auth_refused"] == 0
    assert short_tokens.counts()["tokens_issued"] >= 2  # the wait took more than one token's life


async def test_a_key_rotated_during_a_wait_is_used_after_the_old_one_fails(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, logs: LogCapture
) -> None:
    with Sandbox(duration=0, api_key=SENTINEL_TOKEN) as server:
        set_connection(monkeypatch, "hidream_default", "hidream", server.url)
        [task_id] = hidream_tasks(server, 1, "fox [duration=3600]")
        waiting = asyncio.ensure_future(first_event(VideoTaskTrigger("hidream_default", [task_id], poll_interval=5)))
        await until(lambda: server.counts()["hidream_batch"] >= 2, "two polls with the first key's token")
        server.rotate_api_key("rotated-key")
        document = {"conn_type": "hidream", "host": server.url, "password": "rotated-key"}
        monkeypatch.setenv("AIRFLOW_CONN_HIDREAM_DEFAULT", json.dumps(document))
        server.finish(task_id)
        event = await asyncio.wait_for(waiting, timeout=10)
        counts = server.counts()
    assert event["status"] == "success"
    assert counts["auth_refused"] == 1  # the old token, once; then the connection is read again
    assert counts["tokens_issued"] == 2
    assert "read connection 'hidream_default' again" in logs.text
    assert "rotated-key" not in logs.text


def test_the_connection_test_tells_a_wrong_key_an_expired_token_and_an_unreachable_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Sandbox(api_key="right-key") as server:
        set_connection(monkeypatch, "wrong_key", "hidream", server.url)  # the sentinel is not the key
        monkeypatch.setenv(
            "AIRFLOW_CONN_RAW_TOKEN",
            json.dumps({"conn_type": "hidream", "host": server.url, "extra": {"token": "long-expired-token"}}),
        )
        wrong_key = HiDreamHook("wrong_key").test_connection()
        expired = HiDreamHook("raw_token").test_connection()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    set_connection(monkeypatch, "nowhere", "hidream", f"http://127.0.0.1:{closed_port}")
    unreachable = HiDreamHook("nowhere").test_connection()
    assert wrong_key == (False, wrong_key[1])
    assert "the API key was refused" in wrong_key[1]
    assert expired[0] is False
    assert "extra 'token' was refused" in expired[1]
    assert "put the API key in the connection's password" in expired[1]
    assert unreachable[0] is False
    assert unreachable[1].startswith("Could not reach HiDream")
    assert "nothing was sent" in unreachable[1]
    assert "Max retries" not in unreachable[1]
    assert len({wrong_key[1], expired[1], unreachable[1]}) == 3


# ----- Ace Data Cloud: paged batch reads --------------------------------------------------------------


async def test_thirty_waits_on_one_connection_resolve_while_pages_hold_ten(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    with Sandbox(duration=0, page_size=10, max_page=10) as server:
        set_connection(monkeypatch, "hailuo_default", "hailuo", server.url)
        ids = hailuo_tasks(server, 30)
        events = await asyncio.gather(
            *(first_event(VideoTaskTrigger("hailuo_default", [i], poll_interval=5)) for i in ids)
        )
        counts = server.counts()
    assert [event["status"] for event in events] == ["success"] * 30
    # Pages of ten: a shared cycle over the 30 ids costs three requests (offsets 0, 10, 20); waits that
    # joined while the first cycle was in flight cost a second one.
    assert 3 <= counts["hailuo_retrieve_batch"] <= 2 * 3


def test_a_long_batch_reads_every_page_on_the_sync_path(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(duration=0, max_page=7) as server:
        set_connection(monkeypatch, "hailuo_default", "hailuo", server.url, batch_size=20)
        ids = hailuo_tasks(server, 45)
        tasks = HailuoHook().get_tasks(ids)
        requests_sent = server.counts()["hailuo_retrieve_batch"]
    assert [task.state for task in tasks] == [TaskState.SUCCEEDED] * 45
    assert requests_sent == 3 + 3 + 1  # chunks of 20, 20, 5; pages of at most 7


# ----- one refused id fails only its own waiters ----------------------------------------------------


# HTTP 400 for the batch (both vendors' error statuses), or HTTP 200 with an error code in the body
# (HiDream's envelope: "task_id is invalid"; Ace's error document), as a stricter vendor answers.
REFUSALS = [
    pytest.param("hidream", "http", "HTTP 400", id="hidream-http"),
    pytest.param("hidream", "code", "code 1002", id="hidream-code"),
    pytest.param("hailuo", "http", "HTTP 400", id="hailuo-http"),
    pytest.param("hailuo", "code", "code bad_request", id="hailuo-code"),
]


@pytest.mark.parametrize(("vendor", "how", "said"), REFUSALS)
async def test_one_bad_id_among_fifty_waits_fails_only_its_own_waiter(
    vendor: str, how: str, said: str, sandbox_conns: Sandbox, clock: FakeClock, sleeps: list[float]
) -> None:
    """50 waits of one connection share one poller; one id the vendor will not read fails its own wait, with
    the vendor's code and message, and the 49 others succeed."""
    make = hidream_tasks if vendor == "hidream" else hailuo_tasks
    bad = "not-a-task-id"
    sandbox_conns.refuse_ids(bad, how=how)
    conn_id = f"{vendor}_default"
    events = await asyncio.gather(
        *(first_event(VideoTaskTrigger(conn_id, [i], poll_interval=5)) for i in [*make(sandbox_conns, 49), bad])
    )
    assert [event["status"] for event in events[:49]] == ["success"] * 49
    # An HTTP 400 is pinned on the id at once. A code that may be passing is pinned once the same read
    # answers other ids; a trigger whose cycle reads its id alone (it joined after the others) cannot tell
    # the id from the gateway, and rides it out as failed polls until max_consecutive_errors: then "error".
    assert events[49]["status"] == "failed" or (how == "code" and events[49]["status"] == "error")
    assert said in events[49]["message"]
    assert "invalid" in events[49]["message"]
    assert bad in events[49]["message"]
    route = "hidream_batch" if vendor == "hidream" else "hailuo_retrieve_batch"
    print(f"{vendor} ({how}): 50 waits, one bad id: {sandbox_conns.counts()[route]} batch reads in all")


@pytest.mark.parametrize(("vendor", "how", "said"), REFUSALS)
def test_a_bad_id_costs_about_two_log2_requests_once(
    vendor: str, how: str, said: str, sandbox_conns: Sandbox, sleeps: list[float]
) -> None:
    make = hidream_tasks if vendor == "hidream" else hailuo_tasks
    ids = [*make(sandbox_conns, 49), "refused-id"]
    sandbox_conns.refuse_ids("refused-id", how=how)
    hook = HiDreamHook() if vendor == "hidream" else HailuoHook()
    route = "hidream_batch" if vendor == "hidream" else "hailuo_retrieve_batch"
    first = hook.get_tasks(ids)
    first_cost = sandbox_conns.counts()[route]
    again = hook.get_tasks(ids)
    second_cost = sandbox_conns.counts()[route] - first_cost
    assert [task.state for task in first[:49]] == [TaskState.SUCCEEDED] * 49
    assert first[49].state is TaskState.FAILED
    assert said in (first[49].error or "")
    # log2(50) is 5.6: six halvings, two requests each at most, none tried again. A code, which may be
    # passing (HiDream's envelope, Ace's error document with HTTP 200), is confirmed before it counts: one
    # read of an answered id (the gateway answers), then the lone id again with the hooks' 4 retries.
    confirm = 1 + 1 + 4 if how == "code" else 0
    assert 1 + 6 + confirm <= first_cost <= 1 + 2 * 6 + confirm
    assert len(sleeps) == (4 if confirm else 0)
    assert second_cost == 1  # remembered: the refused id is not asked again
    assert again[49].state is TaskState.FAILED
    print(f"{vendor} ({how}): one refused id in a batch of 50 cost {first_cost} requests, then {second_cost} per read")


@pytest.mark.parametrize(("vendor", "said"), [("hidream", "code 1002"), ("hailuo", "code bad_request")])
def test_a_refusal_code_for_every_id_is_a_failed_read_not_failed_tasks(
    vendor: str, said: str, sandbox_conns: Sandbox, sleeps: list[float]
) -> None:
    """A code sent for every id of a read says nothing about any one id (a busy gateway may send one): the
    read fails as a whole, for the waiting rules to ride out, and no task is failed or remembered as
    refused."""
    make, hook, route = (
        (hidream_tasks, HiDreamHook(), "hidream_batch")
        if vendor == "hidream"
        else (hailuo_tasks, HailuoHook(), "hailuo_retrieve_batch")
    )
    ids = make(sandbox_conns, 4)
    sandbox_conns.refuse_ids(*ids, how="code")
    with pytest.raises(VideoTaskRequestError, match=said) as caught:
        hook.get_tasks(ids)
    assert caught.value.retryable
    assert sandbox_conns.counts()[route] == 2 * len(ids) - 1  # every split once, nothing retried
    assert sleeps == []
    sandbox_conns.state.refused_ids.clear()
    assert [task.state for task in hook.get_tasks(ids)] == [TaskState.SUCCEEDED] * 4


# ----- readings that cannot be taken at face value --------------------------------------------------


@pytest.mark.parametrize("vendor", ["hidream", "hailuo"])
async def test_an_unrecognised_state_is_waited_on_for_its_grace_period_then_fails(
    vendor: str, sandbox_conns: Sandbox, clock: FakeClock, logs: LogCapture
) -> None:
    make = hidream_tasks if vendor == "hidream" else hailuo_tasks
    [task_id] = make(sandbox_conns, 1, "odd [odd_state]")
    trigger = VideoTaskTrigger(f"{vendor}_default", [task_id], poll_interval=5, unrecognised_state_grace_period=60)
    started = clock.now
    event = await first_event(trigger)
    assert event["status"] == "failed"
    assert "does not know" in event["message"]
    assert ("task_status 7" if vendor == "hidream" else "'generating_v2'") in event["message"]
    assert 60 < clock.now - started <= 60 + 2 * 5  # the grace period, to the next poll
    # Logged once, not once a poll (13 polls here); Airflow 3.0 echoes a trigger's line to stderr too,
    # so the capture may see that one line twice.
    assert 1 <= logs.text.count("which this provider does not know; waiting on it") <= 2


@pytest.mark.parametrize("vendor", ["hidream", "hailuo"])
async def test_done_without_a_video_is_read_once_more_then_fails(
    vendor: str, sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    make = hidream_tasks if vendor == "hidream" else hailuo_tasks
    [task_id] = make(sandbox_conns, 1, "empty [no_video]")
    route = "hidream_batch" if vendor == "hidream" else "hailuo_retrieve_batch"
    event = await first_event(VideoTaskTrigger(f"{vendor}_default", [task_id], poll_interval=5))
    assert event["status"] == "failed"
    assert "done but gave no video URL, twice in a row" in event["message"]
    assert sandbox_conns.counts()[route] == 2


# ----- the secret sweep, for the API key and the token it bought ----------------------------------------


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        pytest.param("x [top_level_failed]", "task state is 'failed'", id="top-level-status-failed"),
        pytest.param("x [finished_no_outcome]", "done but gave no video URL, twice in a row", id="finished-no-outcome"),
    ],
)
async def test_an_ace_record_that_says_it_is_over_ends_its_wait_within_two_polls(
    prompt: str, reason: str, sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    """Records a stricter Ace answers: a top-level ``status: failed`` with ``finished_at`` and no
    ``response`` (Ace's SDK reads the whole record then), and ``finished_at`` with nothing to read."""
    [task_id] = hailuo_tasks(sandbox_conns, 1, prompt)
    event = await first_event(VideoTaskTrigger("hailuo_default", [task_id], poll_interval=5))
    assert event["status"] == "failed"
    assert reason in event["message"]
    assert sandbox_conns.counts()["hailuo_retrieve_batch"] <= 2


async def test_a_wait_ending_at_its_deadline_names_the_state_it_could_not_read(
    sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    [task_id] = hidream_tasks(sandbox_conns, 1, "x [status=1005]")
    event = await first_event(VideoTaskTrigger("hidream_default", [task_id], poll_interval=5, deadline=clock.now + 30))
    assert event["status"] == "timeout"
    assert "(1 running)" in event["message"]  # what it counted, and the raw value it could not read:
    assert f"the vendor reports what this provider does not know: {task_id}: task_status 1005" in event["message"]


async def test_an_error_in_passing_while_running_does_not_end_the_wait(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``success: false`` with a string error while the task runs, as Ace's SDK reads it: a note in passing.
    The task then succeeds, and so does the wait."""
    with Sandbox(duration=20, clock=clock.time) as server:
        set_connection(monkeypatch, "hailuo_default", "hailuo", server.url)
        [task_id] = hailuo_tasks(server, 1, "x [passing_error]")
        event = await first_event(VideoTaskTrigger("hailuo_default", [task_id], poll_interval=5))
        assert event["status"] == "success"
        assert server.counts()["hailuo_retrieve_batch"] >= 3  # it was seen running with the error first


def test_neither_the_api_key_nor_the_exchanged_token_leaks(
    sandbox_conns: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: LogCapture, sleeps: list[float]
) -> None:
    FakeClock().install(monkeypatch)
    ids = hidream_tasks(sandbox_conns, 1)
    seen: list[str] = []
    hook = HiDreamHook()
    seen.append(repr(hook.get_tasks(ids)))
    sensor = VideoTaskSensor(task_id="s", video_task_ids=ids, conn_id="hidream_default", deferrable=True, timeout=60)
    ti = RecordingTI()
    seen.append(repr(sensor.execute({"ti": ti})))
    trigger = VideoTaskTrigger("hidream_default", ids, poll_interval=1)
    seen.append(json.dumps(trigger.serialize()))
    seen.append(json.dumps(asyncio.run(first_event(trigger))))
    sandbox_conns.add_fault("unauthorized", count=-1)
    for call in (lambda: hook.get_tasks(ids), lambda: hook.submit("txt2video", prompt="x")):
        try:
            call()
        except Exception as error:
            seen += [str(error), repr(error)]
    seen += [json.dumps(ti.xcom), repr(hook), repr(hook.get_settings()), logs.text]
    [exchanged, *_] = sandbox_conns.state.tokens
    assert requests.get(f"{sandbox_conns.url}/_sandbox/health").ok
    assert sandbox_conns.counts()["tokens_issued"] >= 1
    for text in seen:
        assert SENTINEL_TOKEN not in text
        assert exchanged not in text
