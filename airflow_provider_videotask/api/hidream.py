"""HiDream ("Pixeling") video API: requests and answers, as API_NOTES.md section 1 describes them."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_videotask.api.batch import Page
from airflow_provider_videotask.api.common import (
    ApiRequest,
    as_dict,
    as_fraction,
    as_int,
    as_list,
    as_str,
    as_timestamp,
    body_snippet,
    decode_json,
    unreadable_body,
)
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskResponseError,
    VideoTaskValidationError,
    error_for_status,
)
from airflow_provider_videotask.api.models import TaskState, VideoTask

VENDOR = "HiDream"
DEFAULT_BASE_URL = "https://www.hidreamai.com"
MODULES = ("txt2video", "img2video", "video_edit")
DEFAULT_MODULE = "txt2video"
# The video_edit styles, spelled as the doc spells them ("van_goph"):
# https://www.hidreamai.com/docs/pixeling/video_edit/video_edit_request.html
STYLES = (
    "barbie_doll",
    "ink_wash",
    "van_goph",
    "hayao_miyazaki",
    "cyber_punk",
    "cartoon",
    "anime",
    "vector_art",
    "abstract",
    "watercolor",
)
ASPECT_RATIOS = ("16:9", "1:1", "9:16")
RESOLUTIONS = (1024, 2048, 4096)
CAMERA_MOVES = ("camera_move_horizontal", "camera_move_vertical", "camera_move_depth")

# The long-lived secret is the API key; it buys a token that lives one day ("当前token令牌有效期为1天"):
# https://www.hidreamai.com/docs/pixeling/user/token.html
EXCHANGE_PATH = "/prod-api/user/apikey2token"
TOKEN_LIFETIME_SECONDS = 24 * 60 * 60

# task_status, from the result pages (https://hidreamai.com/doc/txt2video/result): 0 waiting, 1 done,
# 2 processing, 3 failed, 4 refused by review. HiDream's own client treats -5..-1 as "still running"
# (HiDream-ai/hidream-api-gen, scripts/common/task_client.py: transient_statuses).
_WAITING, _DONE, _PROCESSING, _FAILED, _REJECTED = 0, 1, 2, 3, 4
_STILL_RUNNING = frozenset({-5, -4, -3, -2, -1, _PROCESSING})

# Envelope codes. HiDream publishes no code table; 2031 ("model not available to this account") is the
# one seen from the gateway (HiDream-ai/hidream-api-gen, references/verification-log.md). It is the
# account's or module's state, not a passing fault: it fails at once. Auth refusals answer HTTP 401/403;
# 40101 ("invalid refresh token") is from HiDream's own client (vivago-agent-cli, internal/auth/
# refresh_test.go). Both mean: exchange the API key for a fresh token once, then give up.
NOT_AVAILABLE_CODES = frozenset({2031})
AUTH_CODES = frozenset({401, 403, 40101})


def _base(module: str) -> str:
    return f"/api-pub/gw/v2/video/{check_module(module)}/async"


def check_module(module: str) -> str:
    if module not in MODULES:
        raise VideoTaskValidationError(f"module must be one of {', '.join(MODULES)}, got {module!r}")
    return module


def validate_submit(module: str, fields: Mapping[str, Any]) -> None:
    """Refuse what HiDream's doc pages say it refuses, before anything is paid for; the message names the field.

    Each module gets its own page's rules only; a field a module's page does not document is passed
    through unchecked (the vendor decides).
    """
    check_module(module)
    if module == "txt2video":
        # https://www.hidreamai.com/docs/pixeling/txt2video/txt2video_request.html: prompt required;
        # aspect_ratio (16:9, 1:1, 9:16); resolution_ratio (1024, 2048, 4096); camera moves -5..5
        # (the page's own example sends -5 and 5); motion_strength 0..30.
        _require(module, fields, "prompt")
        _one_of(fields, "aspect_ratio", ASPECT_RATIOS)
        _one_of(fields, "resolution_ratio", RESOLUTIONS)
        _check_motion(fields)
    elif module == "img2video":
        # https://hidreamai.com/doc/img2video/request: image required (URL or base64), prompt optional;
        # camera moves and motion_strength with txt2video's ranges. (No v2 img2video page is public.)
        _require(module, fields, "image")
        _check_motion(fields)
    else:
        # https://www.hidreamai.com/docs/pixeling/video_edit/video_edit_request.html: video_name (URL or
        # base64) required, and one of prompt or style ("prompt和style选填一项").
        _require(module, fields, "video_name")
        style = fields.get("style")
        if not as_str(fields.get("prompt")) and style is None:
            raise VideoTaskValidationError("HiDream video_edit needs either 'prompt' or 'style'")
        _one_of(fields, "style", STYLES)


def _require(module: str, fields: Mapping[str, Any], name: str) -> None:
    if not as_str(fields.get(name)):
        raise VideoTaskValidationError(f"HiDream {module} needs a non-empty '{name}'")


def _one_of(fields: Mapping[str, Any], name: str, allowed: Sequence[Any]) -> None:
    value = fields.get(name)
    if value is not None and value not in allowed:
        raise VideoTaskValidationError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def _check_motion(fields: Mapping[str, Any]) -> None:
    for name in CAMERA_MOVES:
        value, move = fields.get(name), as_int(fields.get(name))
        if value is not None and (move is None or not -5 <= move <= 5):
            raise VideoTaskValidationError(f"{name} must be an integer from -5 to 5, got {value!r}")
    strength = fields.get("motion_strength")
    if strength is not None and (
        isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 30
    ):
        raise VideoTaskValidationError(f"motion_strength must be a number from 0 to 30, got {strength!r}")


def submit_request(module: str, fields: Mapping[str, Any]) -> ApiRequest:
    """Create a video task. Fields the provider does not know are passed through unchanged."""
    validate_submit(module, fields)
    body = {key: value for key, value in fields.items() if value is not None}
    return ApiRequest("POST", _base(module), json=body, action=f"{module} submit", paid=True)


def result_request(module: str, task_id: str) -> ApiRequest:
    return ApiRequest("GET", f"{_base(module)}/results", params={"task_id": task_id}, action=f"{module} result")


def batch_request(module: str, task_ids: Sequence[str]) -> ApiRequest:
    body: dict[str, Any] = {"task_id_list": list(task_ids)}
    return ApiRequest("POST", f"{_base(module)}/results/batch", json=body, action=f"{module} batch results")


def token_request() -> ApiRequest:
    """Exchange the API key (sent by the hook as the ``Api-Key`` header) for a token; free."""
    return ApiRequest("GET", EXCHANGE_PATH, action="API key exchange", credential="api_key")


def parse_token(result: Any, now: float) -> tuple[str, float]:
    """The token and when it expires (Unix time) from the exchange's ``result``.

    ``expire_time`` is RFC 3339 in the doc ("2024-01-25T03:49:10.601343+00:00"); Unix seconds (or
    milliseconds) are accepted too. Without a readable one, the JWT's ``exp`` claim (what HiDream's own
    clients read), else the documented one-day lifetime.
    """
    document = as_dict(result)
    token = as_str(document.get("token"))
    if token is None:
        raise VideoTaskResponseError("the API key exchange answered without result.token", vendor=VENDOR)
    expires = as_timestamp(document.get("expire_time")) or _jwt_expiry(token)
    return token, expires if expires is not None else now + TOKEN_LIFETIME_SECONDS


def _jwt_expiry(token: str) -> float | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    return as_timestamp(as_dict(claims).get("exp"))


def read_response(status_code: int, text: str, retry_after: float | None = None) -> Any:
    """The envelope's ``result``, or the error the answer stands for."""
    body = decode_json(text)
    envelope = as_dict(body)
    trace_id = as_str(envelope.get("request_id"))
    code = envelope.get("code")
    if not 200 <= status_code < 300:
        raise error_for_status(
            vendor=VENDOR,
            status_code=status_code,
            vendor_code=None if code is None else str(code),
            vendor_message=as_str(envelope.get("message")) if body is not None else body_snippet(text),
            trace_id=trace_id,
            retry_after=retry_after,
        )
    if not isinstance(body, dict):
        raise unreadable_body(VENDOR, status_code, text)
    number = as_int(code)
    if number == 0:
        return envelope.get("result")
    kind: type[VideoTaskApiError] = VideoTaskApiError
    retryable = False
    if number in AUTH_CODES:
        kind, message = VideoTaskAuthError, "the credentials were refused"
    elif number in NOT_AVAILABLE_CODES:
        message = "the model is not available to this account"
    else:
        # No code table is published, so an unknown code may be a busy gateway: a read is free and is
        # tried again within the hooks' retry budget (a submit never is: it is paid).
        message, retryable = "the request was refused", True
    raise kind(
        message,
        vendor=VENDOR,
        status_code=status_code,
        vendor_code=str(code),
        vendor_message=as_str(envelope.get("message")),
        trace_id=trace_id,
        retryable=retryable,
    )


def parse_submit(result: Any) -> str:
    task_id = as_str(as_dict(result).get("task_id"))
    if task_id is None:
        raise VideoTaskResponseError("submit answer has no result.task_id", vendor=VENDOR)
    return task_id


def parse_task(document: Any) -> VideoTask:
    """One ``{task_id, sub_task_results}`` document as a VideoTask (see API_NOTES.md section 3).

    As HiDream's own client reads it (hidream-api-gen, scripts/common/task_client.py): any sub-task
    failed (3) or refused by review (4) fails the task; all done (1) with their videos is success; a
    done sub-task without its video is not finished (``missing_video``); a status nobody documents
    reads as running with ``unrecognised_state`` set, for the waiting rules to bound.
    """
    doc = as_dict(document)
    task_id = as_str(doc.get("task_id")) or ""
    subs = [as_dict(sub) for sub in as_list(doc.get("sub_task_results"))]
    if not subs:
        return VideoTask(task_id=task_id, state=TaskState.UNKNOWN, raw=doc)
    states = [_sub_state(sub) for sub in subs]
    progresses = [_sub_progress(sub, state) for sub, state in zip(subs, states, strict=True)]
    known = [p for p in progresses if p is not None]
    state = _aggregate(states)
    statuses = [as_int(sub.get("task_status")) for sub in subs]
    unrecognised = [
        repr(sub.get("task_status"))
        for sub, status in zip(subs, statuses, strict=True)
        if status not in _STILL_RUNNING | {_WAITING, _DONE, _FAILED, _REJECTED}
    ]
    return VideoTask(
        task_id=task_id,
        state=state,
        progress=round(sum(known) / len(known), 4) if known else None,
        video_urls=tuple(
            url
            for sub, s in zip(subs, states, strict=True)
            if s is TaskState.SUCCEEDED and (url := as_str(sub.get("video")))
        ),
        error=_error_text(subs, states) if state.is_failure else None,
        unrecognised_state=f"task_status {', '.join(unrecognised)}" if unrecognised and not state.is_terminal else None,
        missing_video=not state.is_terminal and all(status == _DONE for status in statuses),
        raw=doc,
    )


def parse_batch(result: Any) -> Page:
    """A batch answer's tasks (matched to the ids asked by ``api/batch.py``); no paging."""
    if not isinstance(result, list):
        raise VideoTaskResponseError(
            f"batch answer: result should be a list, got {type(result).__name__}",
            vendor=VENDOR,
            retryable=True,
        )
    return Page([task for document in result if (task := parse_task(document)).task_id])


def _sub_state(sub: Mapping[str, Any]) -> TaskState:
    status = as_int(sub.get("task_status"))
    if status == _WAITING:
        return TaskState.QUEUED
    if status == _DONE:
        # "done" without a video URL is not finished yet.
        return TaskState.SUCCEEDED if as_str(sub.get("video")) else TaskState.RUNNING
    if status == _FAILED:
        return TaskState.FAILED
    if status == _REJECTED:
        return TaskState.REJECTED
    return TaskState.RUNNING


def _sub_progress(sub: Mapping[str, Any], state: TaskState) -> float | None:
    progress = as_fraction(sub.get("task_completion"))
    if progress is None and state is TaskState.SUCCEEDED:
        return 1.0
    return progress


def _aggregate(states: Sequence[TaskState]) -> TaskState:
    for failure in (TaskState.FAILED, TaskState.REJECTED):
        if failure in states:
            return failure
    if all(s is TaskState.SUCCEEDED for s in states):
        return TaskState.SUCCEEDED
    if all(s is TaskState.QUEUED for s in states):
        return TaskState.QUEUED
    return TaskState.RUNNING


def _error_text(subs: Sequence[Mapping[str, Any]], states: Sequence[TaskState]) -> str:
    reasons = []
    for sub, state in zip(subs, states, strict=True):
        if not state.is_failure:
            continue
        what = "rejected by content review" if state is TaskState.REJECTED else "generation failed"
        detail = as_str(sub.get("message")) or as_str(sub.get("error"))
        name = as_str(sub.get("sub_task_id")) or "sub-task"
        reasons.append(f"{name}: {what}" + (f" ({detail})" if detail else ""))
    return "; ".join(reasons)
