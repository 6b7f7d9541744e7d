"""The rule "never pay twice" rests on: which failed submits may be tried again."""

from __future__ import annotations

import json

import pytest

from airflow_provider_videotask.api import ace, hidream
from airflow_provider_videotask.api.errors import (
    SubmitFate,
    VideoTaskApiError,
    VideoTaskTransportError,
    submit_fate,
)


def answered(vendor: str, status: int, body: object) -> VideoTaskApiError:
    reader = ace.read_response if vendor == "hailuo" else hidream.read_response
    with pytest.raises(VideoTaskApiError) as failure:
        reader(status, body if isinstance(body, str) else json.dumps(body))
    return failure.value


def ace_error(code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


ACE_429 = ace_error("too_many_requests", "You have exceeded the rate limit.")


@pytest.mark.parametrize(
    ("error", "fate"),
    [
        # refused: the vendor turned it away before doing anything
        (answered("hailuo", 429, ACE_429), SubmitFate.REFUSED),
        (answered("hidream", 429, {"code": 429, "message": "too many requests"}), SubmitFate.REFUSED),
        (answered("hailuo", 400, ACE_429), SubmitFate.REFUSED),  # the code says it, whatever the status
        (VideoTaskTransportError("connection refused", vendor="Hailuo", sent=False), SubmitFate.REFUSED),
        # unknown: it may exist
        (VideoTaskTransportError("no answer within 30s", vendor="Hailuo"), SubmitFate.UNKNOWN),
        (answered("hailuo", 500, ace_error("api_error", "Internal server error.")), SubmitFate.UNKNOWN),
        (answered("hailuo", 503, "<html>Service Unavailable</html>"), SubmitFate.UNKNOWN),
        (answered("hidream", 408, {"code": 408, "message": "timeout"}), SubmitFate.UNKNOWN),
        (answered("hidream", 200, "{not json"), SubmitFate.UNKNOWN),
        # rejected: the vendor said no
        (answered("hailuo", 400, ace_error("bad_request", "model is invalid.")), SubmitFate.REJECTED),
        (answered("hailuo", 403, ace_error("used_up", "balance")), SubmitFate.REJECTED),
        (answered("hailuo", 401, ace_error("invalid_token", "invalid")), SubmitFate.REJECTED),
        (answered("hidream", 422, {"code": 422, "message": "bad"}), SubmitFate.REJECTED),
        (answered("hidream", 200, {"code": 2031, "message": "model not available"}), SubmitFate.REJECTED),
        (answered("hidream", 200, {"code": 1001, "message": "missing parameter"}), SubmitFate.REJECTED),
    ],
)  # fmt: skip
def test_each_failure_has_one_fate(error: VideoTaskApiError, fate: SubmitFate) -> None:
    assert submit_fate(error) is fate


def test_an_ace_answer_without_task_id_is_read_by_its_error_code() -> None:
    with pytest.raises(VideoTaskApiError) as refused:
        ace.parse_submit(ACE_429)
    assert submit_fate(refused.value) is SubmitFate.REFUSED
    with pytest.raises(VideoTaskApiError) as rejected:
        ace.parse_submit({"error": {"code": "bad_request", "message": "prompt is required"}})
    assert submit_fate(rejected.value) is SubmitFate.REJECTED
    assert "prompt is required" in str(rejected.value)
    # No id and no error: nobody can say whether a task was created.
    for body in ({}, {"success": True}, {"task_id": None}):
        with pytest.raises(VideoTaskApiError) as unreadable:
            ace.parse_submit(body)
        assert submit_fate(unreadable.value) is SubmitFate.UNKNOWN


def test_a_hidream_answer_without_task_id_is_of_unknown_fate() -> None:
    with pytest.raises(VideoTaskApiError) as failure:
        hidream.parse_submit({"sub_task_results": []})
    assert submit_fate(failure.value) is SubmitFate.UNKNOWN


def test_a_failure_before_the_submit_left_is_never_of_unknown_fate() -> None:
    """A token exchange or a pacing read that failed first: the submit itself was never sent."""
    busy = answered("hidream", 502, {"code": 502, "message": "bad gateway"})
    refused_key = answered("hidream", 401, {"code": 401, "message": "invalid api key"})
    assert submit_fate(busy) is SubmitFate.UNKNOWN  # as the submit's own answer: it may exist
    busy.sent = refused_key.sent = False
    assert submit_fate(busy) is SubmitFate.REFUSED  # try again later: nothing was sent
    assert submit_fate(refused_key) is SubmitFate.REJECTED  # a bad key does not get better by waiting
