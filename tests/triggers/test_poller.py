"""The shared batch poller: many waiting triggers, a handful of requests per cycle."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.triggers import poller
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import FakeClock, LogCapture, first_event, set_connection, until


def pollers_here() -> dict[Any, poller.BatchPoller]:
    return poller._POLLERS.get(asyncio.get_running_loop(), {})


def slow_tasks(sandbox: Sandbox, count: int, module: str = "txt2video") -> list[str]:
    """Tasks made at the sandbox (not paid submits: HiDream takes only 10 a minute), 10 minutes long."""
    return [sandbox.state.create("hidream", module, {}, f"clip {n} [duration=600]").task_id for n in range(count)]


@pytest.mark.parametrize("waiters", [1, 50, 120])
async def test_k_triggers_cost_ceil_k_over_50_requests_per_cycle(
    waiters: int, sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    ids = slow_tasks(sandbox_conns, waiters)
    running = [
        asyncio.ensure_future(first_event(VideoTaskTrigger("hidream_default", [i], poll_interval=5))) for i in ids
    ]
    await until(lambda: len(pollers_here()) == 1 and len(next(iter(pollers_here().values())).subscriptions) == waiters,
                "every trigger subscribed")  # fmt: skip
    [shared] = pollers_here().values()
    start_cycles, start_requests = shared.cycles, sandbox_conns.counts()["hidream_batch"]
    await until(lambda: shared.cycles >= start_cycles + 4, "four more cycles")
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    cycles = shared.cycles - start_cycles
    requests = sandbox_conns.counts()["hidream_batch"] - start_requests
    # A cycle in flight when counting started may or may not have been counted: allow for one.
    assert math.ceil(waiters / 50) * (cycles - 1) <= requests <= math.ceil(waiters / 50) * (cycles + 1)
    assert pollers_here() == {}


async def test_two_connections_or_two_modules_do_not_share(
    sandbox_conns: Sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "hidream_other", "hidream", sandbox_conns.url)
    txt, img = slow_tasks(sandbox_conns, 1)[0], slow_tasks(sandbox_conns, 1, module="img2video")[0]
    triggers = [
        VideoTaskTrigger("hidream_default", [txt], module="txt2video", poll_interval=5),
        VideoTaskTrigger("hidream_other", [txt], module="txt2video", poll_interval=5),
        VideoTaskTrigger("hidream_default", [img], module="img2video", poll_interval=5),
        VideoTaskTrigger("hidream_default", [txt], module="txt2video", poll_interval=5),  # shares with the first
    ]
    running = [asyncio.ensure_future(first_event(t)) for t in triggers]
    await until(lambda: sum(len(p.subscriptions) for p in pollers_here().values()) == 4, "all subscribed")
    assert sorted((key[0], key[2], len(p.subscriptions)) for key, p in pollers_here().items()) == [
        ("hidream_default", "img2video", 1),
        ("hidream_default", "txt2video", 2),
        ("hidream_other", "txt2video", 1),
    ]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    assert pollers_here() == {}


async def test_cancelling_one_waiter_leaves_the_others_waiting_and_correct(
    sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    ids = slow_tasks(sandbox_conns, 3)
    running = [
        asyncio.ensure_future(first_event(VideoTaskTrigger("hidream_default", [i], poll_interval=5))) for i in ids
    ]
    await until(lambda: sum(len(p.subscriptions) for p in pollers_here().values()) == 3, "all subscribed")
    [shared] = pollers_here().values()
    running[0].cancel()
    await asyncio.gather(running[0], return_exceptions=True)
    assert len(shared.subscriptions) == 2
    cycles = shared.cycles
    await until(lambda: shared.cycles >= cycles + 2, "the poller goes on")
    queried = sandbox_conns.counts()["ids_queried"]
    batches = sandbox_conns.counts()["hidream_batch"]
    await until(lambda: sandbox_conns.counts()["hidream_batch"] >= batches + 2, "two more polls")
    # The cancelled trigger's id is no longer asked for: two ids per request from now on.
    grown = sandbox_conns.counts()
    assert (grown["ids_queried"] - queried) == 2 * (grown["hidream_batch"] - batches)
    for task_id in ids:
        sandbox_conns.finish(task_id)
    events = await asyncio.gather(*running[1:])
    assert [event["status"] for event in events] == ["success", "success"]
    assert [event["tasks"][0]["task_id"] for event in events] == ids[1:]
    assert pollers_here() == {}


async def test_a_poll_error_reaches_every_waiter(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    ids = slow_tasks(sandbox_conns, 3)
    sandbox_conns.reset_counts()
    sandbox_conns.add_fault("used_up", count=-1)
    triggers = [VideoTaskTrigger("hidream_default", [i], poll_interval=5, conn_type="hidream") for i in ids]
    events = await asyncio.gather(*(first_event(t) for t in triggers))
    assert [event["status"] for event in events] == ["error"] * 3
    assert all("HTTP 403" in event["message"] for event in events)
    # One shared request, three waiters told; HiDream answers 403 for refused credentials, so one more
    # try follows a fresh token.
    assert sandbox_conns.counts()["hidream_batch"] == 2
    assert sandbox_conns.counts()["hidream_token"] == 2


async def test_each_waiter_applies_its_own_retry_bound(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    ids = slow_tasks(sandbox_conns, 2)
    sandbox_conns.add_fault("server_error", count=-1)
    patient = VideoTaskTrigger("hidream_default", [ids[0]], poll_interval=5, max_consecutive_errors=3)
    impatient = VideoTaskTrigger("hidream_default", [ids[1]], poll_interval=5, max_consecutive_errors=1)
    first = asyncio.ensure_future(first_event(patient))
    second = await first_event(impatient)
    assert "gave up after 1 failed polls" in second["message"]
    assert not first.done()
    assert "gave up after 3 failed polls" in (await first)["message"]


def test_triggers_in_different_event_loops_do_not_share(sandbox_conns: Sandbox) -> None:
    found: list[poller.BatchPoller] = []
    both_inside = threading.Barrier(2, timeout=10)

    def in_its_own_loop() -> None:
        async def take() -> None:
            shared = poller.shared_poller("hidream_default", "hidream", None, HiDreamHook)
            found.append(shared)
            assert poller.shared_poller("hidream_default", "hidream", None, HiDreamHook) is shared
            both_inside.wait()  # both loops alive at once

        asyncio.run(take())

    threads = [threading.Thread(target=in_its_own_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(found) == 2
    assert found[0] is not found[1]


async def test_sharing_switched_off_polls_per_trigger(
    sandbox_conns: Sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The naive way, for benchmarks: a seam, not a trigger argument (resuming needs no such knob)."""
    monkeypatch.setattr(poller, "SHARE_POLLERS", False)
    ids = slow_tasks(sandbox_conns, 3)
    sandbox_conns.reset_counts()
    running = [
        asyncio.ensure_future(first_event(VideoTaskTrigger("hidream_default", [i], poll_interval=5))) for i in ids
    ]
    await until(lambda: sandbox_conns.counts()["hidream_batch"] >= 9, "a few polls")
    assert pollers_here() == {}
    counts = sandbox_conns.counts()
    assert counts["ids_queried"] == counts["hidream_batch"]  # one id per request: nobody shares
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


async def test_cycles_start_one_interval_after_the_previous_start(
    sandbox_conns: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow answers do not push the schedule back: the nap after a cycle is the interval less its length."""
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        await asyncio.sleep(seconds)

    monkeypatch.setattr(poller, "_sleep", nap)
    sandbox_conns.add_fault("slow", count=-1, only="reads", delay=0.4)
    [task_id] = slow_tasks(sandbox_conns, 1)
    shared = poller.shared_poller("hidream_default", "hidream", None, HiDreamHook)
    subscription = shared.subscribe([task_id], 1.0, None)
    for _ in range(3):
        await asyncio.wait_for(subscription.inbox.get(), timeout=10)
    shared.unsubscribe(subscription)
    assert len(naps) >= 2
    # Each answer took at least 0.4 s, so a nap measured from the cycle's start is at most 0.6 s
    # (measured from its end, it would be the whole 1 s).
    assert all(seconds <= 0.6 for seconds in naps), naps


async def test_batches_go_out_in_parallel_within_the_bound(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "hidream_default", "hidream", sandbox.url, batch_size=2, parallel_reads=3)
    ids = slow_tasks(sandbox, 20)  # ten batches of two
    sandbox.add_fault("slow", count=-1, only="reads", delay=0.3)
    shared = poller.shared_poller("hidream_default", "hidream", None, HiDreamHook)
    subscriptions = [shared.subscribe(ids[n : n + 2], 60.0, None) for n in range(0, 20, 2)]
    updates = [await asyncio.wait_for(s.inbox.get(), timeout=20) for s in subscriptions]
    for subscription in subscriptions:
        shared.unsubscribe(subscription)
    assert [[task.task_id for task in update] for update in updates] == [ids[n : n + 2] for n in range(0, 20, 2)]
    assert sandbox.counts()["hidream_batch"] == 10  # one request per batch of two
    assert sandbox.counts()["max_in_flight"] == 3  # the connection's parallel_reads: in parallel, never more


async def test_a_waiter_joining_mid_request_is_polled_at_once(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    """Its trigger has already waited one interval: it gets a short extra cycle, not the next full one."""
    first, second = slow_tasks(sandbox_conns, 2)
    sandbox_conns.add_fault("slow", count=1, only="reads", delay=0.5)
    shared = poller.shared_poller("hidream_default", "hidream", None, HiDreamHook)
    early = shared.subscribe([first], 30.0, None)
    await until(lambda: sandbox_conns.counts()["hidream_batch"] == 1, "the first request is in flight")
    late = shared.subscribe([second], 30.0, None)
    [update] = [await asyncio.wait_for(late.inbox.get(), timeout=10)]
    assert [task.task_id for task in update] == [second]
    assert clock.waits == []  # no interval went by on the poller's clock
    assert sandbox_conns.counts()["ids_queried"] == 2  # the extra cycle asked for the newcomer alone
    await asyncio.wait_for(early.inbox.get(), timeout=10)
    for subscription in (early, late):
        shared.unsubscribe(subscription)


async def test_a_connection_gone_mid_wait_ends_the_wait_instead_of_hanging(
    sandbox_conns: Sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    [task_id] = slow_tasks(sandbox_conns, 1)
    trigger = VideoTaskTrigger("hidream_default", [task_id], poll_interval=5, max_consecutive_errors=1)
    running = asyncio.ensure_future(first_event(trigger))
    await until(lambda: sandbox_conns.counts()["hidream_batch"] >= 1, "the first poll")
    monkeypatch.delenv("AIRFLOW_CONN_HIDREAM_DEFAULT")  # deleted in the UI meanwhile
    assert trigger._poller is not None
    trigger._poller.hook._settings_read_at = 0.0  # and the hook's copy is due for a fresh read
    event = await asyncio.wait_for(running, timeout=20)
    assert event["status"] == "error"
    assert "hidream_default" in event["message"]


class ContextRecorder(logging.Handler):
    """Records each line with the structlog context it was logged in (how Airflow routes trigger logs)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.getMessage(), dict(structlog.contextvars.get_contextvars())))


@pytest.fixture
def recorded() -> Iterator[ContextRecorder]:
    recorder = ContextRecorder()
    package = logging.getLogger("airflow_provider_videotask")
    package.addHandler(recorder)
    level, package.level = package.level, logging.INFO
    try:
        yield recorder
    finally:
        package.removeHandler(recorder)
        package.setLevel(level)


async def test_many_waiters_make_one_poller_line_per_cycle_in_the_triggerers_own_log(
    sandbox_conns: Sandbox, clock: FakeClock, recorded: ContextRecorder, logs: LogCapture
) -> None:
    """Airflow routes a trigger's lines to its task log by the trigger_id bound in its context; the
    poller's line is about every waiter, so it must not land in the log of whichever trigger started it."""
    ids = slow_tasks(sandbox_conns, 30)

    async def as_a_triggerer_runs_it(number: int, task_id: str) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(trigger_id=number)
        return await first_event(VideoTaskTrigger("hidream_default", [task_id], poll_interval=5))

    running = [asyncio.ensure_future(as_a_triggerer_runs_it(n, i)) for n, i in enumerate(ids)]
    await until(lambda: bool(pollers_here()) and next(iter(pollers_here().values())).cycles >= 6, "six cycles")
    [shared] = pollers_here().values()
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    cycles = shared.cycles  # final: the poller stopped with its last waiter

    poller_lines = [
        (text, bound) for name, text, bound in recorded.lines if name == poller.__name__ and " waits on " in text
    ]
    assert cycles - 1 <= len(poller_lines) <= cycles  # one per cycle (the last may be cut short)
    assert "30 waits on 30 task ids, 1 requests" in poller_lines[-1][0]
    assert "0 of 30 video tasks done (30 queued)" in poller_lines[-1][0]
    assert all("trigger_id" not in bound for _, bound in poller_lines)  # the triggerer's log, nobody's task log
    # Each waiter logged its unchanged progress once, not once per cycle.
    assert logs.count("0 of 1 video tasks done (1 queued), mean progress 0%; ") == 30


async def test_three_waits_started_during_a_slow_read_each_end_one_interval_after_their_own_start(
    sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    """The README's promise: the first poll one poll_interval after a wait starts, whoever is polling."""
    ids = [sandbox_conns.state.create("hidream", "txt2video", {}, f"done {n} [duration=0]").task_id for n in range(3)]
    sandbox_conns.add_fault("slow", count=1, only="reads", delay=0.5)
    first = asyncio.ensure_future(first_event(VideoTaskTrigger("hidream_default", ids[:1], poll_interval=3)))
    await until(lambda: sandbox_conns.counts()["hidream_batch"] == 1, "the first, slow read is in flight")
    others = [
        asyncio.ensure_future(first_event(VideoTaskTrigger("hidream_default", [i], poll_interval=3))) for i in ids[1:]
    ]
    events = await asyncio.gather(first, *others)
    assert [event["status"] for event in events] == ["success"] * 3
    # Each trigger waited its own one interval before its first poll; the poller added no interval of
    # its own for the two that joined while the first read was in flight (a full one would be 3.0 more).
    assert clock.waits == [3.0, 3.0, 3.0]


async def test_a_waiter_expecting_a_callback_is_read_at_its_own_slow_pace(
    sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    """Each waiter at its own pace: one polling every 5 s, one expecting a callback and read only every 60 s
    (its fallback), in one poller. Over 120 s the quick one's id is asked for every cycle, the slow one's
    every twelfth."""
    quick_id, slow_id = slow_tasks(sandbox_conns, 2)
    quick = VideoTaskTrigger("hidream_default", [quick_id], poll_interval=5)
    slow = VideoTaskTrigger("hidream_default", [slow_id], poll_interval=5, callback_fallback_interval=60)
    assert slow.read_interval == 60
    running = [asyncio.ensure_future(first_event(trigger)) for trigger in (quick, slow)]
    await until(lambda: len(pollers_here()) == 1 and len(next(iter(pollers_here().values())).subscriptions) == 2,
                "both subscribed")  # fmt: skip
    started = clock.now
    await until(lambda: clock.now - started >= 120, "two minutes on the fake clock")
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    reads = sandbox_conns.state.batches
    asked = {task_id: sum(task_id in read.ids for read in reads) for task_id in (quick_id, slow_id)}
    # The quick one: every 5 s (~24 reads in 120 s, and its first); the slow one: its first and every 60 s.
    assert asked[quick_id] >= 20, asked
    assert 2 <= asked[slow_id] <= 4, asked
    # The slow one rode along in a quick one's request: it never cost a request of its own.
    assert len(reads) == asked[quick_id], (len(reads), asked)


def test_a_trigger_serializes_its_callback_fallback_interval() -> None:
    trigger = VideoTaskTrigger("hidream_default", ["t1"], poll_interval=30, callback_fallback_interval=300)
    _, kwargs = trigger.serialize()
    again = VideoTaskTrigger(**kwargs)
    assert (again.callback_fallback_interval, again.read_interval) == (300, 300)
    assert VideoTaskTrigger("hidream_default", ["t1"], poll_interval=30).read_interval == 30
    with pytest.raises(Exception, match="callback_fallback_interval"):
        VideoTaskTrigger("hidream_default", ["t1"], callback_fallback_interval=-1)
