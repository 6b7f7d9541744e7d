"""The fault matrix: every vendor fault against every waiting path, and what the provider does about it.

Each row is a fault the sandbox injects into status reads and the outcome expected of the sync hook,
the async hook, the trigger and the sensor in poke mode alike: ``None`` means the wait survives and
succeeds; a list of strings means it fails with a message that contains each of them (the cause, the
HTTP status, the vendor's trace id). The "Failure behaviour" table in docs/failures.md is this table.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_videotask.exceptions import VideoTaskError
from airflow_provider_videotask.hooks.ace import AceDataCloudHook
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import FakeClock, RecordingTI, first_event, set_connection

PATHS = ("sync_hook", "async_hook", "trigger", "sensor_poke")


@dataclass(frozen=True)
class Fault:
    options: dict[str, Any]
    fails_with: list[str] | None = None  # None: the wait survives and the task succeeds
    extra: dict[str, Any] = field(default_factory=dict)


MATRIX = {
    "429 with Retry-After": Fault({"kind": "rate_limit", "count": 2, "retry_after": 1}),
    "429 without Retry-After": Fault({"kind": "rate_limit", "count": 2}),
    "5xx burst within the retry budget": Fault({"kind": "server_error", "count": 3, "status": 503}),
    "5xx burst past the retry budget": Fault(
        {"kind": "server_error", "count": -1, "status": 500}, ["failed on its side", "HTTP 500", "trace id"]
    ),
    "answers slower than the request timeout": Fault({"kind": "slow", "count": 2, "delay": 1.5}),
    "dropped connections": Fault({"kind": "drop", "count": 2}),
    "malformed JSON": Fault({"kind": "malformed", "count": 2}),
    "fields of the wrong type": Fault({"kind": "wrong_types", "count": 2}),
    "HTML error page from a proxy": Fault({"kind": "html", "count": 2, "status": 502}),
    "401 invalid token": Fault({"kind": "unauthorized", "count": -1}, ["API token", "HTTP 401", "trace id"]),
    "403 balance used up": Fault({"kind": "used_up", "count": -1}, ["balance is used up", "HTTP 403", "trace id"]),
}


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, sleeps: list[float]) -> Sandbox:
    """A Hailuo connection with a 1 s request timeout; waits between retries are recorded, not slept."""
    set_connection(monkeypatch, "faulty", "hailuo", sandbox.url, request_timeout=1)
    set_connection(monkeypatch, "faulty_ace", "acedatacloud", sandbox.url, request_timeout=1)
    FakeClock().install(monkeypatch)
    return sandbox


async def wait_through(path: str, task_id: str) -> str:
    """Wait for one task along one path; return how it ended ("succeeded"), or raise with the reason."""
    if path == "sync_hook":
        return HailuoHook("faulty").get_tasks([task_id])[0].state.value
    if path == "async_hook":
        hook = HailuoHook("faulty")
        try:
            return (await hook.aget_tasks([task_id]))[0].state.value
        finally:
            await hook.aclose()
    if path == "trigger":
        trigger = VideoTaskTrigger("faulty", [task_id], poll_interval=1, max_consecutive_errors=2, deadline=None)
        async for event in trigger.run():
            if event.payload["status"] != "success":
                raise VideoTaskError(event.payload["message"])
            return str(event.payload["tasks"][0]["state"])
    sensor = VideoTaskSensor(
        task_id="wait",
        video_task_ids=[task_id],
        conn_id="faulty",
        poke_interval=0.01,
        timeout=60,
        max_consecutive_errors=2,
    )
    urls = await asyncio.to_thread(sensor.execute, {"ti": RecordingTI()})
    return "succeeded" if urls else "no video"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", list(MATRIX))
async def test_fault_matrix(fault: str, path: str, faulty: Sandbox) -> None:
    row = MATRIX[fault]
    task_id = HailuoHook("faulty").submit("a boat")
    faulty.add_fault(only="reads", **row.options)
    if row.fails_with is None:
        assert await asyncio.wait_for(wait_through(path, task_id), timeout=60) == "succeeded"
        return
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the message is what is checked
        await asyncio.wait_for(wait_through(path, task_id), timeout=60)
    for needle in row.fails_with:
        assert needle in str(caught.value), f"{needle!r} not in {caught.value}"


@pytest.mark.parametrize("service", ["kling", "veo", "luma", "wan", "seedance"])
@pytest.mark.parametrize("fault", list(MATRIX))
async def test_fault_matrix_of_each_ace_service_through_the_shared_poller(
    fault: str, service: str, faulty: Sandbox
) -> None:
    """The same rows for every other Ace Data Cloud service, read by the shared poller in the triggerer."""
    row = MATRIX[fault]
    task_id = AceDataCloudHook("faulty_ace").submit(service, prompt="a boat")
    faulty.add_fault(only="reads", **row.options)
    trigger = VideoTaskTrigger("faulty_ace", [task_id], module=service, poll_interval=1, max_consecutive_errors=2)
    assert_outcome(row, await asyncio.wait_for(first_event(trigger), timeout=60))


def assert_outcome(row: Fault, event: dict[str, Any]) -> None:
    """A trigger's event is what the row expects: success with a video, or an error naming each needle."""
    if row.fails_with is None:
        assert event["status"] == "success", event["message"]
        assert event["tasks"][0]["video_urls"], event
        return
    assert event["status"] == "error", event
    for needle in row.fails_with:
        assert needle in event["message"], f"{needle!r} not in {event['message']}"
