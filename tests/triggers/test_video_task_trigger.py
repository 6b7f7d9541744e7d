"""VideoTaskTrigger on its own: serialization, exactly one event, errors, deadline, cleanup."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_videotask.exceptions import VideoTaskValidationError
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.triggers import poller
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import SENTINEL_TOKEN, FakeClock, LogCapture, until


async def run_to_end(trigger: VideoTaskTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def make_trigger(**kwargs: Any) -> VideoTaskTrigger:
    defaults: dict[str, Any] = {"conn_id": "hidream_default", "video_task_ids": ["a"], "poll_interval": 5}
    return VideoTaskTrigger(**{**defaults, **kwargs})


def test_serialize_round_trips_through_airflows_trigger_storage() -> None:
    from airflow.models.trigger import Trigger

    trigger = make_trigger(video_task_ids=["a", "b"], module="img2video", deadline=1_900_000_000.5, fail_on="all",
                           unknown_grace_period=12, max_consecutive_errors=3, conn_type="hidream")  # fmt: skip
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_videotask.triggers.video_task.VideoTaskTrigger"
    stored = Trigger._decrypt_kwargs(Trigger.encrypt_kwargs(kwargs))
    assert stored == kwargs
    assert VideoTaskTrigger(**stored).serialize() == (classpath, kwargs)
    assert all(isinstance(value, (str, int, float, list, type(None))) for value in kwargs.values())
    assert SENTINEL_TOKEN not in repr(kwargs)


def test_kwargs_of_an_older_release_still_load() -> None:
    """A trigger stored by 0.1 (before an upgrade) resumes: its kwargs, exactly as 0.1 serialized them."""
    stored_by_0_1 = {
        "conn_id": "hailuo_default",
        "task_ids": ["a", "b"],
        "module": None,
        "poll_interval": 30.0,
        "deadline": 1_900_000_000.0,
        "fail_on": "any",
        "unknown_grace_period": 300.0,
        "max_consecutive_errors": 5,
        "conn_type": "hailuo",
        "wait_started_at": 1_899_990_000.0,
        "shared": True,
    }
    resumed = VideoTaskTrigger(**stored_by_0_1)
    assert resumed.video_task_ids == ["a", "b"]
    kwargs = resumed.serialize()[1]
    assert "shared" not in kwargs
    assert "task_ids" not in kwargs
    assert (kwargs["deadline"], kwargs["wait_started_at"]) == (1_900_000_000.0, 1_899_990_000.0)
    assert kwargs["unrecognised_state_grace_period"] == 600.0  # added since: its default


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"fail_on": "most"}, "fail_on"), ({"poll_interval": -1}, "poll_interval"),
     ({"video_task_ids": []}, "video_task_ids"), ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
     ({"unknown_grace_period": "soon"}, "unknown_grace")],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        make_trigger(**kwargs)


async def test_one_event_after_waiting_one_interval_first(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    ids = [HiDreamHook().submit("txt2video", prompt=p) for p in ("a", "b [videos=2]")]
    sandbox_conns.reset_counts()
    trigger = make_trigger(video_task_ids=ids, conn_type="hidream")
    events = await run_to_end(trigger)
    assert clock.waits == [5.0]  # waited one poll interval, then a single poll found both done
    assert sandbox_conns.counts()["hidream_batch"] == 1
    [event] = events
    assert event["status"] == "success"
    assert [t["task_id"] for t in event["tasks"]] == ids
    assert [len(t["video_urls"]) for t in event["tasks"]] == [1, 2]
    assert event["failed_task_ids"] == []


async def test_polls_until_done_and_logs_what_it_saw(
    sandbox_conns: Sandbox, clock: FakeClock, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="slow [duration=600]")
    trigger = make_trigger(video_task_ids=[task_id])

    async def finish_on_third_wait(delay: float) -> None:
        await clock.sleep(delay)
        if len(clock.waits) == 3:
            sandbox_conns.finish(task_id)

    monkeypatch.setattr(poller, "_sleep", finish_on_third_wait)
    [event] = await run_to_end(trigger)
    assert event["status"] == "success"
    assert clock.waits == [5.0, 5.0, 5.0]  # the trigger's first wait, then the poller's cycles
    assert sandbox_conns.counts()["hidream_batch"] == 3
    assert "0 of 1 video tasks done (1 queued), mean progress 0%; 5s since the wait began; polling every 5s" in (
        logs.text
    )


async def test_a_task_seen_over_is_not_read_again(
    sandbox_conns: Sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch costs reads of what is left: after the first poll sees two of three over, the next polls ask
    for the third alone, and the event still holds all three, in order, with how the first two ended."""
    ids = [HiDreamHook().submit("txt2video", prompt=p) for p in ("fast", "slow [duration=600]", "bad [reject]")]
    sandbox_conns.reset_counts()

    async def finish_on_third_wait(delay: float) -> None:
        await clock.sleep(delay)
        if len(clock.waits) == 3:
            sandbox_conns.finish(ids[1])

    monkeypatch.setattr(poller, "_sleep", finish_on_third_wait)
    [event] = await run_to_end(make_trigger(video_task_ids=ids, fail_on="all"))
    counts = sandbox_conns.counts()
    assert counts["hidream_batch"] == 3
    assert counts["ids_queried"] == 3 + 1 + 1  # all three, then the one still running, twice
    assert event["status"] == "success"
    assert [(t["task_id"], t["state"]) for t in event["tasks"]] == [
        (ids[0], "succeeded"),
        (ids[1], "succeeded"),
        (ids[2], "rejected"),
    ]
    assert event["tasks"][0]["video_urls"]
    assert event["failed_task_ids"] == [ids[2]]


async def test_failure_event_names_the_ids(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    ids = [HiDreamHook().submit("txt2video", prompt=p) for p in ("ok", "bad [reject]")]
    [event] = await run_to_end(make_trigger(video_task_ids=ids))
    assert event["status"] == "failed"
    assert event["failed_task_ids"] == [ids[1]]
    assert "rejected by content review" in event["message"]


async def test_unknown_id_past_grace_fails(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    trigger = make_trigger(video_task_ids=["never-submitted"], unknown_grace_period=30, wait_started_at=clock.now - 31)
    [event] = await run_to_end(trigger)
    assert event["status"] == "failed"
    assert "task id not found at the vendor" in event["message"]


async def test_transient_errors_do_not_end_the_wait(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="a")
    sandbox_conns.add_fault("server_error", count=12, only="reads")  # two polls' worth, with the hook's retries
    [event] = await run_to_end(make_trigger(video_task_ids=[task_id]))
    assert event["status"] == "success"
    assert clock.waits == [5.0, 5.0, 10.0]  # backoff between failed polls


async def test_transient_errors_past_the_bound_end_with_an_error_event(
    sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    sandbox_conns.add_fault("rate_limit", count=-1)
    [event] = await run_to_end(make_trigger(max_consecutive_errors=3))
    assert event["status"] == "error"
    assert "gave up after 3 failed polls in a row" in event["message"]
    assert "HTTP 429" in event["message"]


async def test_permanent_error_ends_at_once_with_cause_and_trace_id(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    sandbox_conns.add_fault("used_up", count=-1)
    [event] = await run_to_end(make_trigger(conn_id="hailuo_default", conn_type="hailuo"))
    assert event["status"] == "error"
    assert "balance is used up" in event["message"]
    assert "trace id" in event["message"]
    assert sandbox_conns.counts()["hailuo_retrieve_batch"] == 1
    assert SENTINEL_TOKEN not in str(event)


async def test_deadline_ends_with_a_timeout_event(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="slow [duration=600]")
    [event] = await run_to_end(make_trigger(video_task_ids=[task_id], deadline=clock.now + 12))
    assert event["status"] == "timeout"
    assert event["tasks"][0]["state"] == "queued"
    # The last wait stops at the deadline; one last poll there, then the timeout.
    assert clock.waits == [5.0, 5.0, pytest.approx(2.0)]
    assert sandbox_conns.counts()["hidream_batch"] == 3


async def test_connection_type_is_read_when_not_given(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    [event] = await run_to_end(make_trigger(conn_id="hailuo_default", video_task_ids=["x"], unknown_grace_period=0))
    assert event["status"] == "failed"  # asked Hailuo, which does not know "x"
    assert sandbox_conns.counts()["hailuo_retrieve_batch"] == 1


async def test_wrong_connection_type_is_an_error_event(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SOME_HTTP", '{"conn_type": "http", "host": "x"}')
    [event] = await run_to_end(make_trigger(conn_id="some_http"))
    assert event["status"] == "error"
    assert "use a connection of type 'hidream' or 'hailuo'" in event["message"]


async def test_cancelled_trigger_leaves_and_the_poller_closes_its_client(
    sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="slow [duration=600]")
    trigger = make_trigger(video_task_ids=[task_id])
    running = asyncio.ensure_future(run_to_end(trigger))
    await until(lambda: sandbox_conns.counts()["hidream_batch"] > 0, "the poller polled once")
    shared = trigger._poller
    assert shared is not None
    client_opened = shared.hook._async_client is not None
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await trigger.cleanup()
    await asyncio.sleep(0)  # let the cancelled poller run its finally
    assert client_opened
    assert not shared.subscriptions
    assert poller._POLLERS.get(asyncio.get_running_loop(), {}) == {}
    await until(lambda: shared.hook._async_client is None, "the poller closed its HTTP client")


async def test_a_wait_stopped_by_a_person_leaves_the_poller_and_says_what_keeps_billing(
    sandbox_conns: Sandbox, clock: FakeClock, logs: LogCapture
) -> None:
    """As Airflow 3.3's triggerer does on mark-failed, mark-success or clear: cancel, then on_kill."""
    stopped_id, other_id = (HiDreamHook().submit("txt2video", prompt=f"{n} [duration=600]") for n in "ab")
    stopped = make_trigger(video_task_ids=[stopped_id])
    running = [asyncio.ensure_future(run_to_end(t)) for t in (stopped, make_trigger(video_task_ids=[other_id]))]
    await until(
        lambda: {i for batch in sandbox_conns.state.batches for i in batch.ids} == {stopped_id, other_id}, "polled"
    )

    running[0].cancel()
    await asyncio.gather(running[0], return_exceptions=True)
    await stopped.on_kill()
    # A cycle already under way when the wait stopped may still carry its id; every cycle after does not.
    polled = len(sandbox_conns.state.batches)

    def without_the_stopped_id() -> bool:
        return any(batch.ids == [other_id] for batch in list(sandbox_conns.state.batches)[polled:])

    await until(without_the_stopped_id, "a batch read without the stopped wait's id")
    later = list(sandbox_conns.state.batches)[polled:]
    first = next(n for n, batch in enumerate(later) if batch.ids == [other_id])
    assert len(later) - first >= 1
    assert all(batch.ids == [other_id] for batch in later[first:])  # and it never comes back
    assert first <= 1  # at most the one read of the cycle that was under way
    assert f"video task(s) {stopped_id} keep running at HiDream and are billed" in logs.text
    running[1].cancel()
    await asyncio.gather(running[1], return_exceptions=True)


async def test_the_hooks_request_arguments_travel_with_the_wait(
    sandbox: Sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import set_connection

    set_connection(monkeypatch, "hidream_default", "hidream", sandbox.url, api_user_id="conn-user")
    mine = HiDreamHook(api_user_id="u-1")
    [submitted] = [mine.submit("txt2video", prompt="a")]
    [others] = [HiDreamHook().submit("txt2video", prompt="b")]
    sandbox.reset_counts()
    waits = [
        make_trigger(video_task_ids=[submitted], conn_type="hidream", hook_kwargs=mine.request_arguments()),
        make_trigger(video_task_ids=[others], conn_type="hidream"),
    ]
    assert waits[0].serialize()[1]["hook_kwargs"] == {"api_user_id": "u-1"}
    events = await asyncio.gather(*(run_to_end(wait) for wait in waits))
    assert [event["status"] for [event] in events] == ["success", "success"]
    counts = sandbox.counts()
    # Read with the header the submit was sent with, in a request of its own: never in another user's batch.
    assert (counts["hidream_batch as u-1"], counts["hidream_batch as conn-user"], counts["hidream_batch"]) == (1, 1, 2)
