"""Both video operators: validate before paying, submit once, wait (or not), reattach on retry."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_videotask.exceptions import VideoTaskAuthError, VideoTaskValidationError
from airflow_provider_videotask.ledger import Entry, Ledger, fingerprint
from airflow_provider_videotask.links import VideoLink, first_video_url
from airflow_provider_videotask.operators.base import VideoGenerationOperator
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator
from airflow_provider_videotask.sandbox import Sandbox
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from tests.conftest import StateStore, operator_context


def make_context(store: StateStore | None = None) -> dict[str, Any]:
    return operator_context(store)


def hidream(**kwargs: Any) -> HiDreamVideoOperator:
    return HiDreamVideoOperator(**{"task_id": "generate", "poll_interval": 0.05, "timeout": 30, **kwargs})


def hailuo(**kwargs: Any) -> HailuoVideoOperator:
    return HailuoVideoOperator(**{"task_id": "generate", "poll_interval": 0.05, "timeout": 30, **kwargs})


@pytest.mark.parametrize(
    ("operator", "named"),
    [
        pytest.param(lambda: hidream(), "'prompt'", id="txt2video-without-prompt"),
        pytest.param(lambda: hidream(module="img2video", prompt="x"), "'image'", id="img2video-without-image"),
        pytest.param(
            lambda: hidream(module="video_edit", style="anime"), "'video_name'", id="video_edit-without-video"
        ),
        pytest.param(lambda: hidream(prompt="x", motion_strength=31), "motion_strength", id="out-of-range"),
        pytest.param(lambda: hidream(prompt="x", camera_move_depth=9), "camera_move_depth", id="camera-out-of-range"),
        pytest.param(lambda: hailuo(), "'prompt'", id="hailuo-without-prompt"),
        pytest.param(
            lambda: hailuo(model="minimax-i2v", first_image_url="https://i/1.png"), "'prompt'", id="i2v-without-prompt"
        ),  # Ace's API reference requires a prompt of every model
        pytest.param(lambda: hailuo(prompt="x", model="minimax-i2v"), "first_image_url", id="i2v-without-image"),
        pytest.param(
            lambda: hailuo(prompt="x", model="minimax-i2v-director", first_image_url="iVBORw0KGgo="),
            "base64",
            id="base64-image",
        ),
    ],
)
def test_invalid_requests_are_refused_before_paying(operator: Any, named: str, sandbox_conns: Sandbox) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        operator().execute(make_context())
    assert sandbox_conns.counts()["requests"] == 0


@pytest.mark.parametrize(
    ("make", "named"),
    [(lambda: hidream(module="txt2img/async"), "module"), (lambda: hailuo(submit_timeout="soon"), "submit_timeout")],
)  # fmt: skip
def test_bad_arguments_fail_when_the_dag_is_parsed(make: Any, named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        make()


def test_old_names_keep_working_for_one_minor_release(sandbox_conns: Sandbox) -> None:
    with pytest.warns(DeprecationWarning, match="is deprecated and ignored"):
        hailuo(prompt="boat", fail_on="all")
    context = make_context()
    [task_id] = hailuo(prompt="boat", wait_for_completion=False).execute(context)
    # Downstream DAGs that pull the old XCom key still find the id.
    assert context["ti"].xcom["video_task_ids"] == context["ti"].xcom["task_ids"] == [task_id]


def test_a_subclass_that_passes_conn_id_keeps_working_for_a_while(sandbox_conns: Sandbox) -> None:
    """Before 0.3 the base took ``conn_id=``; each operator now keeps its connection once, under its own name."""

    class MyHailuo(HailuoVideoOperator):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)

    with pytest.warns(DeprecationWarning, match=r"VideoGenerationOperator\(conn_id=\.\.\.\) is deprecated"):
        legacy = VideoGenerationOperator(task_id="legacy", conn_id="my_conn")
    assert legacy.conn_id == "my_conn"
    legacy.conn_id = "moved"  # as a subclass that assigned it before 0.3 does
    assert legacy.conn_id == "moved"
    assert MyHailuo(task_id="mine", prompt="x", hailuo_conn_id="other").conn_id == "other"


def test_waits_in_the_task_and_returns_the_urls(sandbox_conns: Sandbox) -> None:
    context = make_context()
    urls = hidream(prompt="fox [videos=2]", payload={"new_knob": 1}, aspect_ratio="9:16").execute(context)
    assert len(urls) == 2
    counts = sandbox_conns.counts()
    assert counts["hidream_submit"] == 1
    [task_id] = context["ti"].xcom["video_task_ids"]
    [pushed] = context["ti"].xcom["tasks"]
    seconds = pushed.pop("seconds")
    assert pushed == {
        "task_id": task_id,
        "state": "succeeded",
        "progress": 1.0,
        "video_urls": urls,
        "video_ids": [],  # HiDream gives none (an Ace Kling or Luma video's id is what an extend takes)
        "error": None,
        "detection_delay": None,  # HiDream reports no finish time
    }
    assert 0 <= seconds < 30  # from the submit to the poll that saw it done
    assert sandbox_conns.task(task_id).request == {"prompt": "fox [videos=2]", "new_knob": 1, "aspect_ratio": "9:16"}


def test_failed_video_fails_the_task_without_retries(sandbox_conns: Sandbox) -> None:
    context = make_context()
    with pytest.raises(AirflowFailException, match="no channel available"):
        hailuo(prompt="boat [fail]").execute(context)
    assert context["ti"].xcom["tasks"][0]["state"] == "failed"


def test_in_task_wait_times_out(sandbox_conns: Sandbox) -> None:
    with pytest.raises(AirflowException, match=r"\(timeout\): timed out after 0s: 0 of 1 video tasks done"):
        hailuo(prompt="slow [duration=600]", timeout=0.2).execute(make_context())
    assert sandbox_conns.counts()["hailuo_submit"] == 1


def test_without_waiting_returns_the_task_ids(sandbox_conns: Sandbox) -> None:
    context = make_context()
    task_ids = hailuo(prompt="boat", wait_for_completion=False).execute(context)
    assert task_ids == context["ti"].xcom["video_task_ids"]
    assert len(task_ids) == 1
    assert sandbox_conns.counts()["requests"] == 1  # the submit, nothing else


def test_deferrable_submits_once_then_defers(sandbox_conns: Sandbox) -> None:
    context = make_context()
    operator = hidream(module="img2video", image="https://img/1.png", prompt="[duration=600]", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, VideoTaskTrigger)
    kwargs = trigger.serialize()[1]
    assert kwargs["video_task_ids"] == context["ti"].xcom["video_task_ids"]
    assert (kwargs["module"], kwargs["conn_type"], kwargs["poll_interval"]) == ("img2video", "hidream", 0.05)
    assert 29 < deferred.value.timeout.total_seconds() <= 30
    assert sandbox_conns.counts()["hidream_submit"] == 1


def test_execute_complete_returns_urls_and_refuses_bad_events() -> None:
    task = {"task_id": "t", "state": "succeeded", "progress": 1.0, "video_urls": ["u"], "error": None}
    store = StateStore()  # what the try that deferred left: the paid task's id in the ledger
    Ledger(store, 1).record({0: Entry(1764648000.0, fingerprint(hailuo(prompt="x").fields()), "t")})
    context = make_context(store)
    assert hailuo(prompt="x").execute_complete(context, {"status": "success", "message": "", "tasks": [task]}) == ["u"]
    for event in (None, {"status": "maybe"}):
        with pytest.raises(AirflowException, match="unexpected trigger event"):
            hailuo(prompt="x").execute_complete(context, event)
    with pytest.raises(AirflowException, match=r"\(timeout\)"):
        hailuo(prompt="x").execute_complete(context, {"status": "timeout", "message": "late", "tasks": [task]})


def test_a_retry_after_a_crash_does_not_pay_twice(sandbox_conns: Sandbox) -> None:
    store = StateStore()
    sandbox_conns.add_fault("unauthorized", count=1, only="reads")  # the first try dies after submitting
    with pytest.raises(VideoTaskAuthError):
        hailuo(prompt="boat").execute(make_context(store))
    [paid] = Ledger(store, 1).entries.values()
    retry_context = make_context(store)
    urls = hailuo(prompt="boat").execute(retry_context)
    assert len(urls) == 1
    assert sandbox_conns.counts()["hailuo_submit"] == 1
    assert retry_context["ti"].xcom["video_task_ids"] == [paid.video_task_id]
    assert store == {}  # the task succeeded: its ledger is gone, a later clear starts afresh


def test_a_retry_resubmits_only_when_the_stored_task_failed(sandbox_conns: Sandbox) -> None:
    store = StateStore()
    with pytest.raises(AirflowFailException):
        hailuo(prompt="boat [fail]").execute(make_context(store))
    [first] = Ledger(store, 1).entries.values()  # a failed task keeps its ledger: a clear reattaches
    second = make_context(store)
    hailuo(prompt="boat [fail]", allowed_failures=1).execute(second)
    assert sandbox_conns.counts()["hailuo_submit"] == 2
    assert second["ti"].xcom["video_task_ids"] != [first.video_task_id]


def test_a_try_killed_while_its_submit_was_in_flight_is_not_sent_again(sandbox_conns: Sandbox) -> None:
    # What a killed try leaves behind: the intent of a submit sent, and no task id.
    store = StateStore()
    operator = hailuo(prompt="boat")
    Ledger(store, 1).record({0: Entry(1764648000.0, fingerprint(operator.fields()))})
    sent = r"fate is unknown \(sent at 2025-12-02T04:00:00\+00:00; the try that sent it was stopped"
    with pytest.raises(AirflowFailException, match=sent) as raised:
        operator.execute(make_context(store))
    assert "acedata.cloud" in str(raised.value)  # where to look
    assert sandbox_conns.counts()["hailuo_submit"] == 0


def test_a_retry_whose_prompt_changed_pays_nothing(sandbox_conns: Sandbox) -> None:
    store = StateStore()
    with pytest.raises(AirflowFailException):
        hailuo(prompt="boat [fail]").execute(make_context(store))
    with pytest.raises(VideoTaskValidationError, match=r"prompts\[0\] is not what an earlier try .* paid for"):
        hailuo(prompt="another boat").execute(make_context(store))
    assert sandbox_conns.counts()["hailuo_submit"] == 1


def test_nothing_is_recorded_when_the_submit_never_left() -> None:
    store = StateStore()
    with pytest.raises(Exception, match="isn't defined"):  # the connection cannot be read: nothing was sent
        hailuo(prompt="boat", hailuo_conn_id="no_such_connection").execute(make_context(store))
    assert store == {}


@pytest.mark.parametrize("fault", [None, "rate_limit", "server_error"])
def test_the_ledger_holds_what_each_answer_means(
    fault: str | None, sandbox_conns: Sandbox, sleeps: list[float]
) -> None:
    if fault:
        sandbox_conns.add_fault(fault, count=1, only="submits", retry_after=0.01)
    store = StateStore()
    if fault == "server_error":  # of unknown fate: this try says so itself
        with pytest.raises(AirflowFailException, match="fate is unknown"):
            hidream(prompt="fox", wait_for_completion=False).execute(make_context(store))
    else:
        hidream(prompt="fox", wait_for_completion=False).execute(make_context(store))
    entries = list(Ledger(store, 1).entries.values())
    if fault == "server_error":  # kept, without an id: never sent again
        assert [(entry.video_task_id, entry.fate_unknown) for entry in entries] == [(None, True)]
    else:  # the task succeeded: nothing is left to reattach to
        assert entries == []
    assert sandbox_conns.counts()["hidream_submit"] == (2 if fault == "rate_limit" else 1)


def test_video_link_reads_the_first_url_from_the_tasks_xcom(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_videotask import links

    tasks = [
        {"task_id": "a", "state": "failed", "video_urls": []},
        {"task_id": "b", "state": "succeeded", "video_urls": ["https://v/b1.mp4", "https://v/b2.mp4"]},
    ]
    asked: dict[str, Any] = {}

    def get_value(*, ti_key: Any, key: str) -> Any:
        asked.update(ti_key=ti_key, key=key)
        return tasks

    monkeypatch.setattr(links.XCom, "get_value", get_value)
    assert VideoLink().get_link(hailuo(prompt="x"), ti_key="key-1") == "https://v/b1.mp4"  # type: ignore[arg-type]
    assert asked == {"ti_key": "key-1", "key": "tasks"}
    assert first_video_url(None) == ""
    assert first_video_url([{"video_urls": "oops"}]) == ""
    assert VideoLink.name == "Video"
    assert any(isinstance(link, VideoLink) for link in hailuo(prompt="x").operator_extra_links)


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: HailuoVideoOperator(task_id="t", prompt=""), "'prompt'"),
        (lambda: HiDreamVideoOperator(task_id="t", prompt="x", motion_strength=31), "motion_strength"),
        (lambda: HiDreamVideoOperator(task_id="t", module="img2video", prompt="x"), "'image'"),
    ],
)
def test_what_is_known_when_the_dag_is_parsed_fails_then_with_the_run_time_message(make: Any, named: str) -> None:
    with pytest.raises(VideoTaskValidationError, match=named):
        make()  # no execute: the DAG file itself fails to load, naming the field


def test_templated_fields_are_checked_when_rendered_not_when_parsed(sandbox_conns: Sandbox) -> None:
    operator = HailuoVideoOperator(task_id="t", prompt="{{ params.prompt }}", poll_interval=0.05)
    operator.prompt = ""  # as an empty parameter renders
    with pytest.raises(VideoTaskValidationError, match="'prompt'"):
        operator.execute(make_context())
    assert sandbox_conns.counts()["requests"] == 0


def test_a_built_in_operator_given_conn_id_names_its_own_argument() -> None:
    """KlingVideoOperator(conn_id=...) never worked (before 0.3 a TypeError); it must not quietly use the
    default connection instead."""
    from airflow_provider_videotask.operators.ace import KlingVideoOperator

    with pytest.raises(
        VideoTaskValidationError, match=r"takes its connection as acedatacloud_conn_id=\.\.\., not conn_id="
    ):
        KlingVideoOperator(task_id="k", prompt="a boat", conn_id="my_ace")
