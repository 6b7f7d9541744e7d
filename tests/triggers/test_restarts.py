"""Airflow's own restarts: a triggerer that restarts mid-wait, and two triggerers running one trigger."""

from __future__ import annotations

import asyncio

from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import FakeClock, first_event, until


async def test_a_restarted_trigger_resumes_with_its_original_deadline(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="slow [duration=600]")
    original = VideoTaskTrigger("hidream_default", [task_id], poll_interval=5, deadline=clock.now + 3600)
    classpath, kwargs = original.serialize()
    running = asyncio.ensure_future(first_event(original))
    await until(lambda: sandbox_conns.counts()["hidream_batch"] >= 2, "the first trigger polled")
    running.cancel()  # the triggerer goes away mid-wait
    await asyncio.gather(running, return_exceptions=True)

    clock.now += 120  # and comes back two minutes later, re-creating the trigger from the database
    restarted = VideoTaskTrigger(**kwargs)
    assert restarted.serialize() == (classpath, kwargs)
    assert restarted.deadline == original.deadline
    assert restarted.wait_started_at == original.wait_started_at
    sandbox_conns.finish(task_id)
    event = await first_event(restarted)
    assert event["status"] == "success"
    assert sandbox_conns.counts()["hidream_submit"] == 1  # resuming never submits


async def test_a_restarted_trigger_past_its_deadline_times_out_at_once(
    sandbox_conns: Sandbox, clock: FakeClock
) -> None:
    task_id = HiDreamHook().submit("txt2video", prompt="slow [duration=600]")
    kwargs = VideoTaskTrigger("hidream_default", [task_id], poll_interval=5, deadline=clock.now + 60).serialize()[1]
    clock.now += 61
    event = await first_event(VideoTaskTrigger(**kwargs))
    assert event["status"] == "timeout"


async def test_two_copies_of_one_trigger_end_with_the_same_event(sandbox_conns: Sandbox, clock: FakeClock) -> None:
    """Triggerer failover can run one trigger twice for a while: both copies must agree."""
    ids = [HiDreamHook().submit("txt2video", prompt=prompt) for prompt in ("a [duration=600]", "b [duration=600]")]
    kwargs = VideoTaskTrigger("hidream_default", ids, poll_interval=5, fail_on="all").serialize()[1]
    copies = [asyncio.ensure_future(first_event(VideoTaskTrigger(**kwargs))) for _ in range(2)]
    await until(lambda: sandbox_conns.counts()["hidream_batch"] >= 2, "both copies are waiting")
    for task_id in ids:
        sandbox_conns.finish(task_id)
    first, second = await asyncio.gather(*copies)
    assert first == second
    assert first["status"] == "success"
    assert [task["task_id"] for task in first["tasks"]] == ids
