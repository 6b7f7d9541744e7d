"""read_batch, driven by hand against tiny fake vendors: chunks, pages and refused ids (api/batch.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, MutableMapping, Sequence
from typing import Any

import pytest

from airflow_provider_videotask.api.batch import Page, Step, read_batch
from airflow_provider_videotask.api.common import ApiRequest
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskRequestError,
    VideoTaskServerError,
)
from airflow_provider_videotask.api.models import TaskState, VideoTask

# A fake vendor: the request's ids and offset in, a Page out (or a raised VideoTaskApiError).
Vendor = Callable[[list[str], int], Page]


def plan(chunk: Sequence[str], offset: int) -> Step:
    request = ApiRequest("POST", "/fake/tasks", json={"ids": list(chunk), "offset": offset}, action="fake batch")
    return Step(request=request, parse=lambda body: body)  # the fake vendor answers with a Page already


def send(step: Step) -> Generator[Step, Page, Page]:
    """The hooks' ``call``, bare: hand the step to the driver below, return what it sends back."""
    return (yield step)


def drive(
    task_ids: Sequence[str],
    vendor: Vendor,
    *,
    batch_size: int = 50,
    refused: MutableMapping[str, VideoTaskApiError] | None = None,
) -> tuple[list[VideoTask], list[dict[str, Any]]]:
    """Run read_batch to the end as the hooks do; return its result and every request body sent."""
    sent: list[dict[str, Any]] = []
    gen = read_batch(task_ids, plan, send, batch_size=batch_size, refused={} if refused is None else refused)
    try:
        step = next(gen)
        while True:
            assert step.request.json is not None
            body = dict(step.request.json)
            sent.append(body)
            assert len(sent) < 1000, "read_batch does not stop"
            try:
                page = step.parse(vendor(list(body["ids"]), body["offset"]))
            except VideoTaskApiError as error:
                step = gen.throw(error)
            else:
                step = gen.send(page)
    except StopIteration as stop:
        return stop.value, sent


def running(task_id: str) -> VideoTask:
    return VideoTask(task_id=task_id, state=TaskState.RUNNING, progress=0.5)


def succeeded(task_id: str) -> VideoTask:
    return VideoTask(task_id=task_id, state=TaskState.SUCCEEDED, progress=1.0, video_urls=(f"https://v/{task_id}",))


def test_order_kept_duplicates_asked_once_unknown_ids_and_chunks() -> None:
    known = {"a": succeeded("a"), "b": running("b"), "c": succeeded("c"), "d": running("d"), "e": succeeded("e")}

    def vendor(ids: list[str], offset: int) -> Page:
        # Answers in its own order (reversed), without the ids it does not know, and no paging.
        return Page([known[i] for i in reversed(ids) if i in known])

    asked = ["a", "b", "a", "c", "zz", "b", "d", "e"]
    tasks, sent = drive(asked, vendor, batch_size=2)

    assert [t.task_id for t in tasks] == asked
    assert tasks[0] is known["a"]
    assert tasks[2] is known["a"]
    assert tasks[1] is known["b"]
    assert tasks[5] is known["b"]
    assert tasks[4] == VideoTask.unknown("zz")
    assert tasks[4].state is TaskState.UNKNOWN
    assert [t.state for t in tasks] == [
        TaskState.SUCCEEDED,
        TaskState.RUNNING,
        TaskState.SUCCEEDED,
        TaskState.SUCCEEDED,
        TaskState.UNKNOWN,
        TaskState.RUNNING,
        TaskState.RUNNING,
        TaskState.SUCCEEDED,
    ]
    # Distinct ids in first-seen order, at most batch_size per request, each asked exactly once.
    assert [body["ids"] for body in sent] == [["a", "b"], ["c", "zz"], ["d", "e"]]
    assert all(body["offset"] == 0 for body in sent)


def test_a_task_the_vendor_returns_but_nobody_asked_for_is_ignored() -> None:
    def vendor(ids: list[str], offset: int) -> Page:
        return Page([running("stranger"), *(running(i) for i in ids)])

    tasks, sent = drive(["x", "y"], vendor)
    assert [t.task_id for t in tasks] == ["x", "y"]
    assert len(sent) == 1


def test_every_page_is_read_with_increasing_offsets() -> None:
    ids = [f"id-{n:02d}" for n in range(30)]

    def vendor(asked: list[str], offset: int) -> Page:
        matches = [running(i) for i in asked]
        return Page(matches[offset : offset + 10], total=len(matches))

    tasks, sent = drive(ids, vendor, batch_size=50)

    assert [t.task_id for t in tasks] == ids
    assert all(t.state is TaskState.RUNNING for t in tasks)
    offsets = [body["offset"] for body in sent]
    assert offsets == [0, 10, 20]
    assert all(body["ids"] == ids for body in sent)


def test_paging_stops_when_the_vendor_returns_an_empty_page() -> None:
    def vendor(asked: list[str], offset: int) -> Page:
        # Claims 100 matches but has nothing past the first page.
        return Page([running(asked[0])] if offset == 0 else [], total=100)

    tasks, sent = drive(["a", "b"], vendor)
    assert [t.state for t in tasks] == [TaskState.RUNNING, TaskState.UNKNOWN]
    assert [body["offset"] for body in sent] == [0, 1]


def refusing(bad: set[str]) -> Vendor:
    def vendor(asked: list[str], offset: int) -> Page:
        refused = sorted(bad.intersection(asked))
        if refused:
            raise VideoTaskRequestError(
                "the vendor refused the request",
                vendor="Fake",
                status_code=400,
                vendor_message=f"invalid task id: {refused[0]}",
            )
        return Page([succeeded(i) for i in asked])

    return vendor


def test_a_refused_id_is_found_by_bisection_and_fails_alone() -> None:
    ids = [f"id-{n:02d}" for n in range(49)]
    ids.insert(37, "bad")
    refused: dict[str, VideoTaskApiError] = {}

    tasks, sent = drive(ids, refusing({"bad"}), batch_size=50, refused=refused)

    assert [t.task_id for t in tasks] == ids
    by_id = {t.task_id: t for t in tasks}
    assert by_id["bad"].state is TaskState.FAILED
    assert by_id["bad"].error is not None
    assert "invalid task id: bad" in by_id["bad"].error
    others = [t for t in tasks if t.task_id != "bad"]
    assert len(others) == 49
    assert all(t.state is TaskState.SUCCEEDED and t.error is None for t in others)
    assert len(sent) <= 1 + 2 * math.ceil(math.log2(50))
    assert set(refused) == {"bad"}
    assert isinstance(refused["bad"], VideoTaskRequestError)

    # The refused id is remembered: a second read does not ask for it again, and it still reads failed.
    again, sent_again = drive(ids, refusing({"bad"}), batch_size=50, refused=refused)
    assert sent_again
    assert all("bad" not in body["ids"] for body in sent_again)
    assert len(sent_again) == 1
    assert [t.task_id for t in again] == ids
    assert {t.task_id: t.state for t in again} == {t.task_id: t.state for t in tasks}


def test_two_refused_ids_in_different_chunks() -> None:
    ids = [f"id-{n}" for n in range(10)] + ["bad-1"] + [f"id-{n}" for n in range(10, 20)] + ["bad-2"]
    tasks, _ = drive(ids, refusing({"bad-1", "bad-2"}), batch_size=8)
    states = {t.task_id: t.state for t in tasks}
    assert {i for i, s in states.items() if s is TaskState.FAILED} == {"bad-1", "bad-2"}
    assert all(s is TaskState.SUCCEEDED for i, s in states.items() if not i.startswith("bad"))


def test_an_error_other_than_a_refusal_is_not_bisected_but_raised() -> None:
    calls: list[list[str]] = []

    def vendor(asked: list[str], offset: int) -> Page:
        calls.append(asked)
        raise VideoTaskServerError("the vendor failed on its side", vendor="Fake", status_code=503, retryable=True)

    refused: dict[str, VideoTaskApiError] = {}
    with pytest.raises(VideoTaskServerError):
        drive(["a", "b", "c", "d"], vendor, refused=refused)
    assert calls == [["a", "b", "c", "d"]]
    assert refused == {}


def busy(ids: list[str]) -> VideoTaskRequestError:
    """A refusal no table explains (HiDream's envelope code): maybe the id's, maybe a passing fault."""
    return VideoTaskRequestError("refused", vendor="fake", vendor_code="7", retryable=True)


def test_a_doubtful_refusal_is_pinned_only_once_the_gateway_answers_again() -> None:
    refused: dict[str, VideoTaskApiError] = {}

    def vendor(ids: list[str], offset: int) -> Page:
        if "bad" in ids:
            raise busy(ids)
        return Page([succeeded(i) for i in ids])

    tasks, sent = drive(["a", "b", "bad", "c"], vendor, refused=refused)
    assert [t.state for t in tasks] == [TaskState.SUCCEEDED] * 2 + [TaskState.FAILED, TaskState.SUCCEEDED]
    assert set(refused) == {"bad"}
    # The split, then one read of an answered id (the gateway answers), then the doubtful id alone again.
    assert sent[-2]["ids"] == ["a"]
    assert sent[-1]["ids"] == ["bad"]


def test_a_gateway_refusing_everything_midway_pins_no_id() -> None:
    """A first chunk answered, then every request refused: the gateway's fault, not the ids'."""
    refused: dict[str, VideoTaskApiError] = {}
    calls: list[list[str]] = []

    def vendor(ids: list[str], offset: int) -> Page:
        calls.append(ids)
        if len(calls) > 1:
            raise busy(ids)
        return Page([succeeded(i) for i in ids])

    with pytest.raises(VideoTaskRequestError):
        drive(["a", "b", "c", "d"], vendor, batch_size=2, refused=refused)
    assert refused == {}


def test_a_lone_id_read_first_keeps_the_hooks_retries_and_parts_of_a_split_do_not() -> None:
    flags: list[tuple[list[str], bool]] = []
    gen = read_batch(["x"], plan, send, batch_size=50, refused={})
    step = next(gen)
    flags.append((list(step.request.json["ids"]), step.retry_refusal))  # type: ignore[index]
    with pytest.raises(StopIteration):
        gen.send(Page([running("x")]))
    gen = read_batch(["x", "y"], plan, send, batch_size=50, refused={})
    step = next(gen)
    flags.append((list(step.request.json["ids"]), step.retry_refusal))  # type: ignore[index]
    step = gen.throw(busy(["x", "y"]))
    flags.append((list(step.request.json["ids"]), step.retry_refusal))  # type: ignore[index]
    assert flags == [(["x"], True), (["x", "y"], False), (["x"], False)]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import datetime, timezone
    from email.utils import format_datetime

    from airflow_provider_videotask.api.common import parse_retry_after

    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after("7", now) == 7.0
    assert (
        parse_retry_after(format_datetime(datetime(2026, 12, 1, 12, 0, 30, tzinfo=timezone.utc), usegmt=True), now)
        == 30
    )
    assert parse_retry_after(format_datetime(datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
