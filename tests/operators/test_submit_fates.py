"""A failed submit is refused (waits its turn, tried again), of unknown fate (never repeated) or rejected
(fails at once): through both operators, sleeping in the worker and deferring to the triggerer."""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from airflow.providers.standard.triggers.temporal import DateTimeTrigger

from airflow_provider_videotask.api.errors import VideoTaskRateLimitError
from airflow_provider_videotask.hooks.hailuo import HailuoHook
from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.operators import base as operator_base
from airflow_provider_videotask.operators.base import VideoGenerationOperator
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator
from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import LogCapture, set_connection
from tests.operators.test_operators import make_context

VENDORS = ["hidream", "hailuo"]


def operator(vendor: str, **kwargs: Any) -> VideoGenerationOperator:
    common: dict[str, Any] = {"task_id": "generate", "wait_for_completion": False, "deferrable": False, **kwargs}
    if vendor == "hidream":
        return HiDreamVideoOperator(prompt="a fox", **common)
    return HailuoVideoOperator(prompt="a boat", **common)


def submits(sandbox: Sandbox, vendor: str) -> int:
    return sandbox.counts()[f"{vendor}_submit"]


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The operators' waits between refused submits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(operator_base, "_sleep", recorded.append)
    return recorded


# ----- refused: nothing billed, tried again ------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_refused_submit_waits_the_retry_after_and_is_tried_again(
    vendor: str, sandbox_conns: Sandbox, waits: list[float], logs: LogCapture
) -> None:
    sandbox_conns.add_fault("rate_limit", count=2, only="submits", retry_after=3)
    context = make_context()
    [task_id] = operator(vendor).execute(context)
    assert context["ti"].xcom["video_task_ids"] == [task_id]
    assert submits(sandbox_conns, vendor) == 3
    assert sandbox_conns.counts()["tasks_created"] == 1
    assert len(waits) == 2
    assert all(3 <= wait <= 4 for wait in waits)
    assert "Submit attempt 1 refused, nothing billed" in logs.text
    assert "Submit attempt 2 refused, nothing billed" in logs.text
    assert "waiting in this worker" in logs.text


def test_without_retry_after_the_backoff_is_full_jitter(sandbox_conns: Sandbox, waits: list[float]) -> None:
    sandbox_conns.add_fault("rate_limit", count=4, only="submits")
    operator("hailuo").execute(make_context())
    assert len(waits) == 4
    for refusals, wait in enumerate(waits, start=1):
        assert 0 <= wait <= 2.0 * 2 ** (refusals - 1)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_long_wait_defers_to_a_timer_and_resumes_to_submit(
    vendor: str, sandbox_conns: Sandbox, waits: list[float], logs: LogCapture
) -> None:
    sandbox_conns.add_fault("rate_limit", count=1, only="submits", retry_after=40)
    first = operator(vendor, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        first.execute(make_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, DateTimeTrigger)
    due = (trigger.moment - datetime.now(timezone.utc)).total_seconds()
    assert 38 <= due <= 41
    assert deferred.value.method_name == "resume_submit"
    assert deferred.value.kwargs["refusals"] == 1
    assert waits == []  # no worker time spent waiting
    assert "waiting in the triggerer" in logs.text
    # Airflow resumes a fresh instance of the operator with the deferral's kwargs.
    context = make_context()
    [task_id] = operator(vendor, deferrable=True).resume_submit(context, None, **deferred.value.kwargs)
    assert context["ti"].xcom["video_task_ids"] == [task_id]
    assert submits(sandbox_conns, vendor) == 2
    assert sandbox_conns.counts()["tasks_created"] == 1


def test_a_short_wait_sleeps_even_when_deferrable(sandbox_conns: Sandbox, waits: list[float]) -> None:
    sandbox_conns.add_fault("rate_limit", count=1, only="submits", retry_after=1)
    operator("hidream", deferrable=True).execute(make_context())
    assert len(waits) == 1
    assert waits[0] <= operator_base.SLEEP_IN_WORKER_AT_MOST


def test_refusals_past_submit_timeout_fail_saying_nothing_was_billed(sandbox_conns: Sandbox) -> None:
    sandbox_conns.add_fault("rate_limit", count=1, only="submits", retry_after=120)
    with pytest.raises(AirflowException, match="nothing was billed") as failure:
        operator("hailuo", submit_timeout=60).execute(make_context())
    assert not isinstance(failure.value, AirflowFailException)  # an Airflow retry cannot pay twice here
    assert "submit_timeout=60s" in str(failure.value)
    assert sandbox_conns.counts()["tasks_created"] == 0


def test_a_refusal_resumed_from_the_triggerer_counts_from_the_first(sandbox_conns: Sandbox) -> None:
    sandbox_conns.add_fault("rate_limit", count=1, only="submits", retry_after=30)
    long_ago = datetime.now(timezone.utc).timestamp() - 3590
    with pytest.raises(AirflowException, match="refused 2 time"):
        operator("hailuo").resume_submit(make_context(), None, refusals=1, first_refused_at=long_ago)


def test_a_connection_refused_before_sending_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing was sent, so nothing was billed: the submit waits and goes once the vendor answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    set_connection(monkeypatch, "hailuo_default", "hailuo", f"http://127.0.0.1:{port}")
    started: list[Sandbox] = []

    def the_vendor_comes_back(delay: float) -> None:
        started.append(Sandbox(port=port, duration=0).start())

    monkeypatch.setattr(operator_base, "_sleep", the_vendor_comes_back)
    try:
        [task_id] = operator("hailuo").execute(make_context())
        assert len(started) == 1
        assert started[0].counts()["hailuo_submit"] == 1
        assert started[0].task(task_id).request["prompt"] == "a boat"
    finally:
        for sandbox in started:
            sandbox.stop()


# ----- unknown: may have been billed, never repeated ---------------------------------------------------


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("fault", "options"),
    [("drop", {}), ("server_error", {"status": 502}), ("malformed", {}), ("html", {"status": 504})],
)
def test_a_submit_of_unknown_fate_is_never_repeated(
    fault: str, options: dict[str, Any], vendor: str, deferrable: bool, sandbox_conns: Sandbox, waits: list[float]
) -> None:
    sandbox_conns.add_fault(fault, count=1, only="submits", **options)
    context = make_context(store=None)
    with pytest.raises(AirflowFailException) as failure:  # no Airflow retry either: it would submit again
        operator(vendor, deferrable=deferrable).execute(context)
    message = str(failure.value)
    assert "fate is unknown" in message
    assert "It is not sent again" in message
    assert "clear this task only if there is none" in message
    assert ("hidreamai.com" if vendor == "hidream" else "platform.acedata.cloud") in message
    assert submits(sandbox_conns, vendor) == 1
    assert waits == []
    assert "video_task_ids" not in context["ti"].xcom


def test_a_timeout_after_sending_is_of_unknown_fate(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    set_connection(monkeypatch, "hidream_default", "hidream", sandbox.url, request_timeout=0.5)
    sandbox.add_fault("slow", count=1, only="submits", delay=2)
    with pytest.raises(AirflowFailException, match=r"fate is unknown.*no answer within 0.5s"):
        operator("hidream").execute(make_context())
    assert submits(sandbox, "hidream") == 1


# ----- rejected: the request or the account is wrong, fail at once ------------------------------------


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
@pytest.mark.parametrize(
    ("vendor", "fault", "named", "sent"),
    [
        ("hailuo", "used_up", "balance is used up", 1),
        # An auth refusal is tried once more where fresh credentials can help (a refused call is not billed):
        # not for Hailuo when the connection still holds the same token; for HiDream with a fresh token,
        # and HiDream answers a used-up account as it answers any 403 (it documents no code).
        ("hailuo", "unauthorized", "API token was refused", 1),
        ("hidream", "unauthorized", "was refused", 2),
        ("hidream", "used_up", "was refused", 2),
    ],
)
def test_a_rejected_submit_fails_at_once(
    vendor: str, fault: str, named: str, sent: int, deferrable: bool, sandbox_conns: Sandbox, waits: list[float]
) -> None:
    sandbox_conns.add_fault(fault, count=-1, only="submits")
    with pytest.raises(AirflowFailException, match=named) as failure:
        operator(vendor, deferrable=deferrable).execute(make_context())
    assert "The vendor rejected the submit: no task was created and nothing was billed" in str(failure.value)
    assert waits == []
    assert submits(sandbox_conns, vendor) == sent


def test_submit_timeout_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="submit_timeout"):
        operator("hailuo", submit_timeout=-1)


# ----- staying under the limits: the connection's own pacing -------------------------------------------


@pytest.mark.parametrize("hook_class", [HiDreamHook, HailuoHook])
def test_max_submits_per_minute_holds_back_without_sending(
    hook_class: type[HiDreamHook | HailuoHook], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = f"paced_{hook_class.conn_type}"
    set_connection(monkeypatch, conn_id, hook_class.conn_type, sandbox.url, max_submits_per_minute=2)
    for _ in range(2):
        hook_class(conn_id).submit(prompt="x")
    with pytest.raises(VideoTaskRateLimitError, match="max_submits_per_minute=2 is used up; nothing was sent") as held:
        hook_class(conn_id).submit(prompt="x")  # another hook, same account: the same window
    assert held.value.retry_after is not None
    assert 55 <= held.value.retry_after <= 60
    assert sandbox.counts()[f"{hook_class.conn_type}_submit"] == 2


def test_max_concurrent_tasks_waits_for_a_running_task(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "paced", "hailuo", sandbox.url, max_concurrent_tasks=1)
    hook = HailuoHook("paced")
    first = hook.submit(prompt="slow [duration=600]")
    with pytest.raises(VideoTaskRateLimitError, match="max_concurrent_tasks=1") as held:
        hook.submit(prompt="second")
    assert held.value.retry_after == 15
    assert (sandbox.counts()["hailuo_submit"], sandbox.counts()["hailuo_retrieve_batch"]) == (1, 1)  # looked once, free
    sandbox.finish(first)
    hook.submit(prompt="second")
    assert sandbox.counts()["hailuo_submit"] == 2


def test_a_held_back_submit_waits_in_the_operator_like_a_refused_one(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url, max_submits_per_minute=1)
    operator("hailuo").execute(make_context())
    with pytest.raises(TaskDeferred) as deferred:
        operator("hailuo", deferrable=True).execute(make_context())
    assert isinstance(deferred.value.trigger, DateTimeTrigger)
    assert sandbox.counts()["hailuo_submit"] == 1


def test_a_failed_read_before_the_submit_is_a_refusal_not_an_unknown_fate(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, sleeps: list[float], logs: LogCapture
) -> None:
    """max_concurrent_tasks reads the running tasks first; if that free read fails, nothing was sent."""
    set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url, max_concurrent_tasks=1)
    running = HailuoHook().submit(prompt="slow [duration=600]")
    sandbox.add_fault("server_error", count=-1, only="reads", status=503)

    def the_vendor_recovers(delay: float) -> None:
        sandbox.clear_faults()
        sandbox.finish(running)

    monkeypatch.setattr(operator_base, "_sleep", the_vendor_recovers)
    [task_id] = operator("hailuo").execute(make_context())
    assert task_id != running
    assert sandbox.counts()["hailuo_submit"] == 2  # the first task, and this one once
    assert "the submit itself was not sent" in logs.text
