"""prompts=: one task instance submits, waits for and hands on many videos, each recorded in the ledger."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException, TaskDeferred
from airflow.providers.standard.triggers.temporal import DateTimeTrigger

from airflow_provider_videotask.api.common import DEFAULT_SUBMITS_IN_FLIGHT
from airflow_provider_videotask.exceptions import VideoTaskAuthError, VideoTaskValidationError
from airflow_provider_videotask.ledger import PAGE_SIZE, Entry, Ledger, fingerprint
from airflow_provider_videotask.operators import base as operator_base
from airflow_provider_videotask.operators.ace import KlingVideoOperator
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator
from airflow_provider_videotask.operators.items import item_operator
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.sandbox.world import SubmitLimit
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from airflow_provider_videotask.wait_rules import Verdict
from tests.conftest import LogCapture, StateStore, operator_context, set_connection


def hailuo(prompts: Any, **kwargs: Any) -> HailuoVideoOperator:
    return HailuoVideoOperator(task_id="batch", prompts=prompts, poll_interval=0.05, timeout=30, **kwargs)


class CountingStore(StateStore):
    """The task state store, counting the writes a batch costs."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def set(self, key: str, value: Any) -> None:
        self.writes += 1
        super().set(key, value)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(operator_base, "_sleep", recorded.append)
    return recorded


def test_one_task_makes_every_video_in_the_order_of_its_prompts(sandbox_conns: Sandbox) -> None:
    prompts: list[Any] = [f"boat {n}" for n in range(12)]
    prompts[3] = {"prompt": "a director's boat", "model": "minimax-i2v-director", "first_image_url": "https://i/1.png"}
    context = operator_context()
    result = hailuo(prompts).execute(context)
    assert sandbox_conns.counts()["hailuo_submit"] == 12  # one submit per prompt, none twice
    assert [len(urls) for urls in result] == [1] * 12
    xcom = context["ti"].xcom
    records = xcom["videos"]
    assert [record["index"] for record in records] == list(range(12))
    assert [record["prompt"] for record in records][:4] == ["boat 0", "boat 1", "boat 2", "a director's boat"]
    assert [record["video_urls"] for record in records] == result
    assert xcom["video_task_ids"] == [record["video_task_id"] for record in records]
    assert len(set(xcom["video_task_ids"])) == 12
    # What was asked, for the Videos page while the batch waits: its size, its first item.
    assert (xcom["video_request"]["videos"], xcom["video_request"]["prompt"]) == (12, "12 videos: boat 0")
    assert context["task_state_store"] == {}  # succeeded: the ledger is gone


def test_every_item_is_checked_before_anything_is_paid(sandbox_conns: Sandbox) -> None:
    prompts = ["fine", {"prompt": "i2v without its image", "model": "minimax-i2v"}, "fine too"]
    with pytest.raises(VideoTaskValidationError, match=r"prompts\[1\]: .*first_image_url"):
        hailuo(prompts).execute(operator_context())
    assert sandbox_conns.counts()["hailuo_submit"] == 0


@pytest.mark.parametrize(
    ("prompts", "named"),
    [
        pytest.param("one string", "must be a list", id="not-a-list"),
        pytest.param(["ok", 3], r"prompts\[1\] must be a prompt string or a dict", id="not-an-item"),
        pytest.param(["ok", {"prompt": "x", "colour": "red"}], r"prompts\[1\] sets colour", id="unknown-field"),
        pytest.param([{"prompt": "x", "hailuo_conn_id": "other"}], "apply to the whole task", id="task-wide"),
    ],
)
def test_a_bad_batch_fails_when_the_dag_is_parsed(prompts: Any, named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        hailuo(prompts)


def test_an_item_takes_only_its_own_fields_and_leaves_the_operator_alone() -> None:
    operator = HiDreamVideoOperator(task_id="t", prompt="default", duration=5, prompts=["x"])
    video = item_operator(operator, {"prompt": "mine", "style": "anime"})
    assert (video.fields()["prompt"], video.fields()["style"], video.fields()["duration"]) == ("mine", "anime", 5)
    assert (operator.prompt, operator.style) == ("default", None)
    with pytest.raises(VideoTaskValidationError, match="module apply to the whole task"):
        HiDreamVideoOperator(task_id="t", prompts=[{"prompt": "x", "module": "img2video"}])


def test_a_service_operator_takes_its_typed_fields_per_item(sandbox_conns: Sandbox) -> None:
    prompts = [{"prompt": "a fox", "duration": 10}, {"prompt": "an owl", "mode": "pro"}]
    context = operator_context()
    result = KlingVideoOperator(task_id="k", prompts=prompts, poll_interval=0.05).execute(context)
    assert len(result) == 2
    bodies = [sandbox_conns.task(task_id).request for task_id in context["ti"].xcom["video_task_ids"]]
    assert [(body["prompt"], body.get("duration"), body.get("mode")) for body in bodies] == [
        ("a fox", 10, None),
        ("an owl", None, "pro"),
    ]


REJECTED = (3, 17, 42, 77, 99)  # refused by the vendor's content review


def review_batch() -> list[str]:
    return [f"boat {n}" + (" [reject]" if n in REJECTED else "") for n in range(100)]


def test_failures_within_the_allowance_leave_empty_entries(sandbox_conns: Sandbox, logs: LogCapture) -> None:
    context = operator_context()
    result = hailuo(review_batch(), allowed_failures=5).execute(context)
    assert [n for n, urls in enumerate(result) if not urls] == list(REJECTED)
    assert sum(1 for urls in result if urls) == 95
    reasons = [record["reason"] for record in context["ti"].xcom["videos"] if record["reason"]]
    assert len(reasons) == 5
    assert all("content rejected by review" in reason for reason in reasons)  # the vendor's own words
    assert "5 of 100 videos failed (allowed_failures=5)" in logs.text


def test_past_the_allowance_the_task_fails_after_keeping_every_success(sandbox_conns: Sandbox, tmp_path: Path) -> None:
    context = operator_context()
    with pytest.raises(AirflowFailException, match="5 of 100 videos failed, more than allowed_failures=0") as failure:
        hailuo(review_batch(), output_path=tmp_path.as_uri()).execute(context)
    message = str(failure.value)
    assert all(f"prompts[{n}] 'boat {n} [reject]'" in message for n in REJECTED)
    records = context["ti"].xcom["videos"]
    kept = [record for record in records if record["kept"]]
    assert len(kept) == 95
    assert {record["index"] for record in records} - {r["index"] for r in kept} == set(REJECTED)
    assert all(Path(record["kept"][0]["stored_uri"].removeprefix("file://")).exists() for record in kept)
    assert [record["state"] for record in records if not record["kept"]] == ["failed"] * 5
    assert Ledger(context["task_state_store"], 100).paid_ids(range(100))  # kept: a clear reattaches


def test_a_fraction_allows_a_share_of_the_batch(sandbox_conns: Sandbox) -> None:
    prompts = [f"boat {n}" + (" [fail]" if n in (1, 4, 6) else "") for n in range(8)]
    with pytest.raises(
        AirflowFailException, match=r"3 of 8 videos failed, more than allowed_failures=0.25 allows \(2\)"
    ):
        hailuo(prompts, allowed_failures=0.25).execute(operator_context())
    assert len(hailuo(prompts, allowed_failures=0.4).execute(operator_context())) == 8  # 3 of 8 is within 40%


def test_a_clear_after_failures_pays_only_for_the_failed_ones(sandbox_conns: Sandbox) -> None:
    store = StateStore()
    with pytest.raises(AirflowFailException):
        hailuo(["one", "two [fail]", "three"]).execute(operator_context(store))
    result = hailuo(["one", "two [fail]", "three"], allowed_failures=1).execute(operator_context(store))
    assert sandbox_conns.counts()["hailuo_submit"] == 4  # three, then the failed one anew
    assert [bool(urls) for urls in result] == [True, False, True]


def test_a_retry_sends_only_what_was_never_sent(sandbox_conns: Sandbox) -> None:
    prompts = [f"boat {n}" for n in range(9)]
    operator = hailuo(prompts, allowed_failures=3)
    store = StateStore()
    ledger = Ledger(store, 9)
    fingerprints = [fingerprint(item_operator(operator, {"prompt": p}).fields()) for p in prompts]
    # What a try killed mid-batch leaves: 0-2 paid (ids), 3-5 sent without an answer, 6-8 never sent.
    paid = [operator.hook.submit(prompt=prompt, model="minimax-t2v") for prompt in prompts[:3]]
    ledger.record({n: Entry(1764648000.0, fingerprints[n], paid[n] if n < 3 else None) for n in range(6)})
    context = operator_context(store)
    result = operator.execute(context)
    assert sandbox_conns.counts()["hailuo_submit"] == 3 + 3  # the earlier try's three, and 6-8
    assert [bool(urls) for urls in result] == [True] * 3 + [False] * 3 + [True] * 3
    assert context["ti"].xcom["video_task_ids"][:3] == paid
    reasons = [record["reason"] for record in context["ti"].xcom["videos"]][3:6]
    assert all("fate is unknown" in reason and "deleting item" in reason for reason in reasons)


def test_a_wait_that_died_is_reattached_for_the_whole_batch(sandbox_conns: Sandbox) -> None:
    store = StateStore()
    sandbox_conns.add_fault("unauthorized", count=1, only="reads")  # paid for all five, then the wait died
    with pytest.raises(VideoTaskAuthError):
        hailuo([f"boat {n}" for n in range(5)]).execute(operator_context(store))
    result = hailuo([f"boat {n}" for n in range(5)]).execute(operator_context(store))
    assert sandbox_conns.counts()["hailuo_submit"] == 5
    assert all(result)


def test_a_retry_waits_only_on_what_still_runs_and_returns_every_video(sandbox_conns: Sandbox) -> None:
    """The tasks an earlier try paid for that succeeded are taken as they are, not waited on again (their
    callbacks, if any, came in that try): the wait holds only the one still running, and the end has all."""
    prompts = ["boat 0", "boat 1 [duration=600]", "boat 2"]
    store = StateStore()
    with pytest.raises(TaskDeferred):  # the first try pays for all three, then its worker dies in the wait
        hailuo(prompts, deferrable=True).execute(operator_context(store))
    ids = list(Ledger(store, 3).paid_ids(range(3)).values())
    with pytest.raises(TaskDeferred) as retried:
        hailuo(prompts, deferrable=True).execute(operator_context(store))
    trigger = retried.value.trigger
    assert isinstance(trigger, VideoTaskTrigger)
    assert trigger.video_task_ids == [ids[1]]
    done = retried.value.kwargs["done"]
    assert [(task["task_id"], task["state"]) for task in done] == [(ids[0], "succeeded"), (ids[2], "succeeded")]
    sandbox_conns.finish(ids[1])
    [running] = HailuoVideoOperator(task_id="read", prompt="x").hook.get_tasks([ids[1]])
    event = Verdict("success", [running], "all 1 video tasks finished").to_event()
    result = hailuo(prompts, deferrable=True).execute_complete(operator_context(store), event, **retried.value.kwargs)
    assert [len(urls) for urls in result] == [1, 1, 1]
    assert sandbox_conns.counts()["hailuo_submit"] == 3  # nothing paid twice


def test_the_ledger_costs_two_writes_a_wave_whatever_the_batch(sandbox_conns: Sandbox) -> None:
    store = CountingStore()
    hailuo([f"boat {n}" for n in range(250)], wait_for_completion=False).execute(operator_context(store))
    assert store.writes == 2 * math.ceil(250 / DEFAULT_SUBMITS_IN_FLIGHT)
    assert store == {}  # nothing to wait for, nothing left
    assert PAGE_SIZE == 100


def test_submits_are_paced_and_refusals_sent_again(monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    with Sandbox(duration=0, limits={("hailuo", "*"): SubmitLimit(per_window=4, window=2.0)}) as sandbox:
        set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url, max_submits_in_flight=3)
        result = hailuo([f"boat {n}" for n in range(10)]).execute(operator_context())
        assert sandbox.counts()["tasks_created"] == 10
    assert all(result)
    assert waits  # refused waves waited their turn


def test_a_long_refusal_is_waited_in_the_triggerer_and_the_batch_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(duration=0, limits={("hailuo", "*"): SubmitLimit(per_window=4, window=60.0)}) as sandbox:
        set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url, max_submits_in_flight=4)
        store = StateStore()
        prompts = [f"boat {n}" for n in range(6)]
        with pytest.raises(TaskDeferred) as deferred:
            hailuo(prompts, deferrable=True).execute(operator_context(store))
        assert isinstance(deferred.value.trigger, DateTimeTrigger)
        assert deferred.value.method_name == "resume_submit"
        assert len(Ledger(store, 6).paid_ids(range(6))) == 4
        sandbox.state.limits.clear()  # the window passed
        with pytest.raises(TaskDeferred) as waiting:
            hailuo(prompts, deferrable=True).resume_submit(operator_context(store), **deferred.value.kwargs)
        trigger = waiting.value.trigger
        assert isinstance(trigger, VideoTaskTrigger)
        assert len(trigger.video_task_ids) == 6  # one wait for the whole batch
        assert sandbox.counts()["hailuo_submit"] == 4 + 2 + 2  # 4 accepted, 2 refused, the 2 sent again
        assert sandbox.counts()["tasks_created"] == 6


def test_spend_guards_count_and_sum_the_batch(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url, prices={"minimax-t2v": 0.25})
    with pytest.raises(AirflowFailException, match=r"would make 5 videos in this run \(5 in this task\)"):
        hailuo(["a"] * 5, max_videos_per_run=4).execute(operator_context())
    with pytest.raises(AirflowFailException, match=r"estimated cost 1\.25 of 5 videos exceeds max_cost=1"):
        hailuo(["a"] * 5, max_cost=1).execute(operator_context())
    context = operator_context()
    hailuo(["a"] * 4, max_cost=1, wait_for_completion=False).execute(context)
    assert context["ti"].xcom["estimated_cost"] == 1.0
    assert sandbox.counts()["hailuo_submit"] == 4


def test_a_bad_in_flight_setting_names_the_extra(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url, max_submits_in_flight="many")
    with pytest.raises(VideoTaskValidationError, match="'max_submits_in_flight' must be a whole number"):
        hailuo(["a", "b"]).execute(operator_context())
    assert sandbox.counts()["hailuo_submit"] == 0


def test_an_empty_batch_is_skipped_without_a_call(sandbox_conns: Sandbox) -> None:
    with pytest.raises(AirflowSkipException, match="prompts is empty"):
        hailuo([]).execute(operator_context())
    assert sandbox_conns.counts()["requests"] == 0


class StrictStore(StateStore):
    """Airflow 3.0 to 3.2's Variables as the ledger meets them: a read of a missing key logs an error
    there (a false error line in the run); here it fails the test."""

    def get(self, key: str, default: Any = None) -> Any:
        assert key in self, f"read of {key}, which is not there"
        return super().get(key, default)


def test_a_first_try_never_reads_a_page_that_is_not_there(sandbox_conns: Sandbox) -> None:
    store = StrictStore()
    context = operator_context(store)
    context["ti"].try_number = 1
    result = hailuo([f"boat {n}" for n in range(150)], deferrable=False).execute(context)  # two pages
    assert len(result) == 150
    assert store == {}  # succeeded: every page deleted


def test_every_submit_of_a_batch_carries_the_callback(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    extras = {"callback_base_url": "http://127.0.0.1:9", "callback_secret": "a-callback-secret-of-32-characters!"}
    set_connection(monkeypatch, "hailuo_default", "hailuo", sandbox.url, **extras)
    context = operator_context()
    with pytest.raises(TaskDeferred):
        hailuo([f"boat {n}" for n in range(7)], deferrable=True).execute(context)
    urls = [sandbox.task(task_id).request.get("callback_url") for task_id in context["ti"].xcom["video_task_ids"]]
    assert len(urls) == 7
    assert all(str(url).startswith("http://127.0.0.1:9/videotask/callbacks/") for url in urls)
    assert len(set(urls)) == 1  # one address: the task instance's wait
