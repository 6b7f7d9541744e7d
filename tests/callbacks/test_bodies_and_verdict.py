"""What a callback's body is read for, and what a callback may do to a wait.

The bodies are the sandbox's own (``CallbackSender._body`` / ``_lie``, sandbox/callbacks.py), made for tasks
submitted to a real sandbox over HTTP, so these tests follow the sandbox as its bodies follow the vendors'
documents. The body is a hint only: ``callback_task_id`` names the task it claims. What ends a wait is the
vendor's own reading, judged by ``wait_rules.callback_verdict``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from airflow_provider_videotask.api import ace, hidream
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.callbacks import LIE_VIDEO, CallbackSender
from airflow_provider_videotask.wait_rules import Verdict, WaitSettings, callback_verdict

AUTH = {"Authorization": "Bearer anything"}
# Never sent: the test reads the bodies the sender would post, and nothing listens at this URL.
LOST = "[callback=lost]"
NOWHERE = "http://127.0.0.1:9/never-called"
LOG = logging.getLogger("test_bodies_and_verdict")

# Each Ace service with its own module, and what its submit needs besides a prompt (sandbox/ace.py REQUIRED).
ACE_SUBMITS: dict[str, dict[str, Any]] = {
    "hailuo": {"prompt": f"a boat {LOST}"},
    "kling": {"prompt": f"a boat {LOST}"},
    "veo": {"prompt": f"a boat {LOST}"},
    "luma": {"prompt": f"a boat {LOST}"},
    "wan": {"prompt": f"a boat {LOST}", "model": "wan2.6-t2v"},
    "seedance": {
        "model": "doubao-seedance-1-0-pro-250528",
        "content": [{"type": "text", "text": f"a boat {LOST}"}],
    },
}


def ace_submit(sandbox: Sandbox, service: str, body: dict[str, Any]) -> str:
    answer = requests.post(
        f"{sandbox.url}/{service}/videos", json={**body, "callback_url": NOWHERE}, headers=AUTH, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def hidream_submit(sandbox: Sandbox, version: str, module: str = "txt2video", prompt: str = "a fox") -> str:
    token = sandbox.state.issue_token("key")
    assert token is not None
    answer = requests.post(
        f"{sandbox.url}/api-pub/gw/{version}/video/{module}/async",
        json={"prompt": f"{prompt} {LOST}", "notify_url": NOWHERE},
        headers={"Authorization": f"Bearer {token[0]}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 0, answer.text
    return str(answer.json()["result"]["task_id"])


def sender(sandbox: Sandbox) -> CallbackSender:
    """A sender over the sandbox's tasks, never started: its bodies are made on demand."""
    return CallbackSender(sandbox.state, sandbox.url)


# ----- Ace Data Cloud: callback_url -----------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(ACE_SUBMITS))
def test_an_ace_callback_names_the_task_the_submit_returned(sandbox: Sandbox, service: str) -> None:
    task_id = ace_submit(sandbox, service, ACE_SUBMITS[service])
    task = sandbox.task(task_id)
    assert (task.callback_url, task.callback_style) == (NOWHERE, "ace")  # it is a task the sandbox calls back
    body = sender(sandbox)._body(task)
    assert body["success"] is True  # the finished result, as the service's answer holds it
    assert ace.callback_task_id(body) == task_id


@pytest.mark.parametrize("outcome", ["[fail]", "[reject]"])
@pytest.mark.parametrize("service", ["hailuo", "kling"])
def test_a_failed_ace_callback_names_its_task(sandbox: Sandbox, service: str, outcome: str) -> None:
    task_id = ace_submit(sandbox, service, {"prompt": f"a boat {outcome} {LOST}"})
    body = sender(sandbox)._body(sandbox.task(task_id))
    assert body["success"] is False
    assert body["error"]["code"] == "api_error"
    assert ace.callback_task_id(body) == task_id


def test_a_lying_ace_callback_names_its_task_too(sandbox: Sandbox) -> None:
    """The lie claims a video the vendor never made; the task id it names is still the task's (the receiver
    reads the vendor, never the body)."""
    task_id = ace_submit(sandbox, "kling", {"prompt": f"a boat {LOST}"})
    body = sender(sandbox)._lie(sandbox.task(task_id))
    assert body["video_url"] == LIE_VIDEO
    assert ace.callback_task_id(body) == task_id


# ----- HiDream: notify_url --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "module", "style"),
    [("v2", "txt2video", "hidream-v2"), ("v3", "txt2video", "hidream-v3"), ("v4", "hidream-R", "hidream-v3")],
)
@pytest.mark.parametrize("prompt", ["a fox", "a fox [fail]"])
def test_a_hidream_notification_names_the_task_the_submit_returned(
    sandbox: Sandbox, version: str, module: str, style: str, prompt: str
) -> None:
    task_id = hidream_submit(sandbox, version, module, prompt)
    task = sandbox.task(task_id)
    assert task.callback_style == style
    body = sender(sandbox)._body(task)
    if version == "v2":
        assert set(body) == {"main_task_id", "result"}  # the seed's body: main_task_id and result
    else:
        assert body["code"] == 0  # the result page's envelope
        assert "main_task_id" not in body
    assert body["result"]["task_id"] == task_id
    assert hidream.callback_task_id(body) == task_id


def test_a_lying_hidream_notification_names_its_task_too(sandbox: Sandbox) -> None:
    task_id = hidream_submit(sandbox, "v2")
    body = sender(sandbox)._lie(sandbox.task(task_id))
    assert body["result"]["sub_task_results"][0]["video"] == LIE_VIDEO
    assert hidream.callback_task_id(body) == task_id


def test_a_v3_envelope_is_read_by_its_result_alone() -> None:
    """v3's envelope carries no main_task_id: the id comes from ``result.task_id`` (and v2's wins when both)."""
    assert hidream.callback_task_id({"code": 0, "result": {"task_id": "t-3"}}) == "t-3"
    assert hidream.callback_task_id({"main_task_id": "t-2", "result": {"task_id": "other"}}) == "t-2"


# ----- bodies that name no task ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        [],
        ["task_id", "abc"],
        [{"task_id": "abc"}],
        "abc",
        "",
        None,
        42,
        {},
        {"task_id": None},
        {"task_id": ""},
        {"task_id": 12345},
        {"task_id": {"id": "abc"}},
        {"main_task_id": None, "result": None},
        {"main_task_id": "", "result": "abc"},
        {"result": []},
        {"result": {"task_id": ["abc"]}},
    ],
)
def test_a_body_that_names_no_task_reads_as_none(body: Any) -> None:
    assert ace.callback_task_id(body) is None
    assert hidream.callback_task_id(body) is None


# ----- what a callback may do to a wait ---------------------------------------------------------------------

START = 1_800_000_000.0


def task(task_id: str, state: str, **fields: Any) -> VideoTask:
    urls = (f"https://videos.example/{task_id}.mp4",) if state == "succeeded" else ()
    return VideoTask(task_id=task_id, state=TaskState(state), video_urls=urls, **fields)


def verdict(
    tasks: list[VideoTask], *, after: float = 30, deadline: float | None = None, **settings: Any
) -> Verdict | None:
    return callback_verdict(
        tasks,
        WaitSettings(**settings),
        started_at=START,
        deadline=None if deadline is None else START + deadline,
        now=START + after,
        log=LOG,
    )


def test_every_task_succeeded_ends_the_wait_in_success_from_the_callback() -> None:
    result = verdict([task("a", "succeeded"), task("b", "succeeded")])
    assert result is not None
    assert (result.status, result.source) == ("success", "callback")
    assert [t.task_id for t in result.tasks] == ["a", "b"]
    assert result.failed_ids == []
    assert result.to_event()["source"] == "callback"


def test_one_failed_task_ends_the_wait_as_failed() -> None:
    result = verdict([task("a", "succeeded"), task("b", "failed", error="no channel")])
    assert result is not None
    assert (result.status, result.source) == ("failed", "callback")
    assert result.failed_ids == ["b"]


def test_one_failure_while_another_runs_ends_the_wait_under_fail_on_any() -> None:
    result = verdict([task("a", "running"), task("b", "rejected")])
    assert result is not None
    assert result.status == "failed"
    assert verdict([task("a", "running"), task("b", "rejected")], fail_on="all") is None  # "all" waits for a


def test_fail_on_all_with_some_success_is_a_success() -> None:
    result = verdict([task("a", "succeeded"), task("b", "failed")], fail_on="all")
    assert result is not None
    assert (result.status, result.failed_ids) == ("success", ["b"])


@pytest.mark.parametrize("state", ["running", "queued"])
def test_a_task_still_running_leaves_the_wait_alone(state: str) -> None:
    assert verdict([task("a", state)]) is None
    assert verdict([task("a", "succeeded"), task("b", state)]) is None


def test_a_task_unknown_within_its_grace_period_leaves_the_wait_alone() -> None:
    assert verdict([task("a", "unknown")], after=299) is None
    assert verdict([task("a", "unknown")], after=5, unknown_grace_period=10) is None


def test_a_task_unknown_past_its_grace_period_fails_the_wait() -> None:
    """The same rule as the trigger's: still unknown after the grace period counts as failed."""
    result = verdict([task("a", "unknown")], after=11, unknown_grace_period=10)
    assert result is not None
    assert (result.status, result.failed_ids, result.source) == ("failed", ["a"], "callback")


def test_an_unrecognised_state_leaves_the_wait_alone() -> None:
    assert verdict([task("a", "running", unrecognised_state="task_status 7")]) is None


def test_done_without_a_video_leaves_the_wait_alone_once() -> None:
    """One reading of "done, no video" is read once more by the trigger: a callback does not end it."""
    assert verdict([task("a", "running", missing_video=True)]) is None


def test_past_the_deadline_a_finished_task_still_counts() -> None:
    result = verdict([task("a", "succeeded")], after=100, deadline=60)
    assert result is not None
    assert (result.status, result.source) == ("success", "callback")
    failed = verdict([task("a", "failed")], after=100, deadline=60)
    assert failed is not None
    assert failed.status == "failed"


def test_past_the_deadline_a_running_task_is_the_triggers_timeout_not_the_callbacks() -> None:
    assert verdict([task("a", "running")], after=100, deadline=60) is None
    assert verdict([task("a", "unknown")], after=100, deadline=60) is None


def test_the_callback_source_survives_the_trigger_event() -> None:
    result = verdict([task("a", "succeeded")])
    assert result is not None
    event = result.to_event()
    again = Verdict.from_event(event)
    assert again is not None
    assert again.source == "callback"
    assert (again.status, [t.task_id for t in again.tasks]) == ("success", ["a"])


def test_an_event_without_a_source_was_a_poll() -> None:
    result = verdict([task("a", "succeeded")])
    assert result is not None
    event = result.to_event()
    del event["source"]
    read = Verdict.from_event(event)
    assert read is not None
    assert read.source == "poll"
    read = Verdict.from_event({**event, "source": "carrier pigeon"})
    assert read is not None
    assert read.source == "poll"
    assert Verdict("success", [], "done").to_event()["source"] == "poll"
