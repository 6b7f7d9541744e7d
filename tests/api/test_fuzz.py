"""Whatever a vendor (or a proxy in front of it) sends, the parsers raise nothing but VideoTaskError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_videotask.api import hailuo, hidream
from airflow_provider_videotask.api.errors import VideoTaskError
from airflow_provider_videotask.api.models import TaskState

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
HAILUO_DATA = st.fixed_dictionaries(
    {}, optional={"state": JSON | st.sampled_from(["succeeded", "failed", "running"]), "video_url": JSON}
)
HAILUO_TASK = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON,
        "response": JSON
        | st.fixed_dictionaries({}, optional={"success": JSON, "error": JSON, "data": JSON | st.lists(HAILUO_DATA)}),
    },
)
IDS = st.lists(st.text(min_size=1, max_size=8), max_size=5)
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
    for module in (hidream, hailuo):
        only_documented_errors(module.read_response, status, text, None)


@FUZZ
@given(document=JSON | HIDREAM_TASK, ids=IDS)
def test_hidream_task_parsing_never_raises(document: Any, ids: list[str]) -> None:
    task = hidream.parse_task(document)
    assert isinstance(task.state, TaskState)
    assert all(isinstance(url, str) for url in task.video_urls)
    tasks = only_documented_errors(hidream.parse_batch, [document], ids)
    assert tasks is None or [t.task_id for t in tasks] == ids
    only_documented_errors(hidream.parse_submit, document)


@FUZZ
@given(document=JSON | HAILUO_TASK, ids=IDS)
def test_hailuo_task_parsing_never_raises(document: Any, ids: list[str]) -> None:
    task = hailuo.parse_task(document)
    assert isinstance(task.state, TaskState)
    if task.state is TaskState.SUCCEEDED:
        assert task.video_urls  # never a success without a video
    tasks = only_documented_errors(hailuo.parse_batch, {"items": [document]}, ids)
    assert tasks is None or [t.task_id for t in tasks] == ids
    only_documented_errors(hailuo.parse_submit, document)


@FUZZ
@given(word=st.text(max_size=15))
def test_an_unknown_state_word_is_never_a_success(word: str) -> None:
    document = {"id": "t", "response": {"success": True, "data": [{"state": word, "video_url": "https://v"}]}}
    state = hailuo.parse_task(document).state
    assert state is not TaskState.SUCCEEDED or word.strip().lower() == "succeeded"
