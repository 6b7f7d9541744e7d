"""Whatever a vendor (or a proxy in front of it) sends, the parsers raise nothing but VideoTaskError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_videotask.api import ace, hidream
from airflow_provider_videotask.api.batch import Page
from airflow_provider_videotask.api.errors import VideoTaskError
from airflow_provider_videotask.api.models import TaskState, VideoTask

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
# Documents shaped like the vendors' own, with any value in any field: the likelier kind of surprise.
HIDREAM_SUB = st.fixed_dictionaries(
    {},
    optional={"sub_task_id": JSON, "task_status": JSON, "task_completion": JSON, "video": JSON, "video_wm": JSON},
)
HIDREAM_TASK = st.fixed_dictionaries({}, optional={"task_id": JSON, "sub_task_results": JSON | st.lists(HIDREAM_SUB)})
WORDS = st.sampled_from(["succeeded", "success", "completed", "finished", "failed", "cancelled", "running", "queued"])
HAILUO_DATA = st.fixed_dictionaries(
    {}, optional={"state": JSON | WORDS, "status": JSON | WORDS, "video_url": JSON | st.just("https://v")}
)
HAILUO_TASK = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON,
        "finished_at": JSON,
        "response": JSON
        | st.fixed_dictionaries(
            {},
            optional={
                "success": JSON,
                "error": JSON,
                "state": JSON | WORDS,
                "status": JSON | WORDS,
                "video_url": JSON,
                "finished_at": JSON,
                "data": JSON | st.lists(HAILUO_DATA),
            },
        ),
    },
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_documented_errors(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except VideoTaskError:
        return None


@FUZZ
@given(status=st.integers(100, 599), body=JSON | st.text(max_size=50))
def test_read_response_never_raises_anything_else(status: int, body: Any) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    for read in (hidream.read_response, ace.read_response):
        only_documented_errors(read, status, text, None)


def check_page(page: Any) -> None:
    """A parsed batch: a Page of VideoTasks that each have an id, or None after a documented error."""
    if page is None:
        return
    assert isinstance(page, Page)
    assert all(isinstance(task, VideoTask) and task.task_id for task in page.tasks)
    assert page.total is None or isinstance(page.total, int)


def check_task(task: VideoTask) -> None:
    assert isinstance(task.state, TaskState)
    assert all(isinstance(url, str) and url for url in task.video_urls)
    if task.state is TaskState.SUCCEEDED:
        assert task.video_urls  # never a success without a video
    if task.missing_video or task.unrecognised_state is not None:
        assert not task.state.is_terminal
    assert (task.error is not None) is task.state.is_failure


@FUZZ
@given(document=JSON | HIDREAM_TASK)
def test_hidream_task_parsing_never_raises(document: Any) -> None:
    check_task(hidream.parse_task(document))
    check_page(only_documented_errors(hidream.parse_batch, [document, document]))
    check_page(only_documented_errors(hidream.parse_batch, document))
    only_documented_errors(hidream.parse_submit, document)


@FUZZ
@given(document=JSON | HAILUO_TASK, count=JSON)
def test_hailuo_task_parsing_never_raises(document: Any, count: Any) -> None:
    check_task(ace.parse_task(document))
    check_page(only_documented_errors(ace.parse_batch, {"items": [document], "count": count}))
    check_page(only_documented_errors(ace.parse_batch, document))
    only_documented_errors(ace.parse_submit, document)


@FUZZ
@given(result=JSON | st.fixed_dictionaries({}, optional={"token": JSON | st.text(max_size=40), "expire_time": JSON}))
def test_hidream_token_parsing_never_raises(result: Any) -> None:
    parsed = only_documented_errors(hidream.parse_token, result, 1_700_000_000.0)
    if parsed is not None:
        token, expires = parsed
        assert isinstance(token, str)
        assert token
        assert isinstance(expires, float)


DONE_WORDS = {"succeed", "succeeded", "success", "completed", "complete", "finished"}


@FUZZ
@given(word=st.text(max_size=15), key=st.sampled_from(["state", "status"]))
def test_an_unknown_state_word_is_never_a_success(word: str, key: str) -> None:
    document = {"id": "t", "response": {"success": True, "data": [{key: word, "video_url": "https://v"}]}}
    state = ace.parse_task(document).state
    assert state is not TaskState.SUCCEEDED or word.strip().lower() in DONE_WORDS
