"""HiDream ("Pixeling") video API: requests and answers, as API_NOTES.md section 1 describes them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_videotask.api.common import (
    ApiRequest,
    as_dict,
    as_fraction,
    as_int,
    as_list,
    as_str,
    body_snippet,
    decode_json,
    unreadable_body,
)
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskResponseError,
    VideoTaskValidationError,
    error_for_status,
)
from airflow_provider_videotask.api.models import TaskState, VideoTask

log = logging.getLogger(__name__)

VENDOR = "HiDream"
DEFAULT_BASE_URL = "https://www.hidreamai.com"
MODULES = ("txt2video", "img2video", "video_edit")
DEFAULT_MODULE = "txt2video"
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

# task_status values; negatives (-5..-1) have been seen in the wild and mean "still running".
_WAITING, _DONE, _PROCESSING, _FAILED, _REJECTED = 0, 1, 2, 3, 4


def _base(module: str) -> str:
    return f"/api-pub/gw/v2/video/{check_module(module)}/async"


def check_module(module: str) -> str:
    if module not in MODULES:
        raise VideoTaskValidationError(f"module must be one of {', '.join(MODULES)}, got {module!r}")
    return module


def validate_submit(module: str, fields: Mapping[str, Any]) -> None:
    """Refuse what HiDream would refuse, before anything is paid for; the message names the field."""
    check_module(module)
    required = {"txt2video": "prompt", "img2video": "image", "video_edit": "video_name"}[module]
    if not as_str(fields.get(required)):
        raise VideoTaskValidationError(f"HiDream {module} needs a non-empty '{required}'")
    if module == "video_edit":
        style = fields.get("style")
        if not as_str(fields.get("prompt")) and style is None:
            raise VideoTaskValidationError("HiDream video_edit needs either 'prompt' or 'style'")
        if style is not None and style not in STYLES:
            raise VideoTaskValidationError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    if fields.get("aspect_ratio") is not None and fields["aspect_ratio"] not in ASPECT_RATIOS:
        raise VideoTaskValidationError(
            f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}, got {fields['aspect_ratio']!r}"
        )
    if fields.get("resolution_ratio") is not None and fields["resolution_ratio"] not in RESOLUTIONS:
        raise VideoTaskValidationError(
            f"resolution_ratio must be one of {', '.join(map(str, RESOLUTIONS))}, got {fields['resolution_ratio']!r}"
        )
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
    return ApiRequest("POST", _base(module), json=body, action=f"{VENDOR} {module} submit", paid=True)


def result_request(module: str, task_id: str) -> ApiRequest:
    return ApiRequest(
        "GET", f"{_base(module)}/results", params={"task_id": task_id}, action=f"{VENDOR} {module} result"
    )


def batch_request(module: str, task_ids: Sequence[str], notify_url: str | None = None) -> ApiRequest:
    body: dict[str, Any] = {"task_id_list": list(task_ids)}
    if notify_url:
        body["notify_url"] = notify_url
    return ApiRequest("POST", f"{_base(module)}/results/batch", json=body, action=f"{VENDOR} {module} batch results")


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
    if as_int(code) != 0:
        raise VideoTaskApiError(
            "the request was refused",
            vendor=VENDOR,
            status_code=status_code,
            vendor_code=str(code),
            vendor_message=as_str(envelope.get("message")),
            trace_id=trace_id,
        )
    return envelope.get("result")


def parse_submit(result: Any) -> str:
    task_id = as_str(as_dict(result).get("task_id"))
    if task_id is None:
        raise VideoTaskResponseError("submit answer has no result.task_id", vendor=VENDOR)
    return task_id


def parse_task(document: Any) -> VideoTask:
    """One ``{task_id, sub_task_results}`` document as a VideoTask (see API_NOTES.md section 3)."""
    doc = as_dict(document)
    task_id = as_str(doc.get("task_id")) or ""
    subs = [as_dict(sub) for sub in as_list(doc.get("sub_task_results"))]
    if not subs:
        return VideoTask(task_id=task_id, state=TaskState.UNKNOWN, raw=doc)
    states = [_sub_state(sub, task_id) for sub in subs]
    progresses = [_sub_progress(sub, state) for sub, state in zip(subs, states, strict=True)]
    known = [p for p in progresses if p is not None]
    state = _aggregate(states)
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
        raw=doc,
    )


def parse_batch(result: Any, task_ids: Sequence[str]) -> list[VideoTask]:
    """The batch answer in the caller's order; ids the answer lacks are ``unknown``."""
    if not isinstance(result, list):
        raise VideoTaskResponseError(
            f"batch answer: result should be a list, got {type(result).__name__}",
            vendor=VENDOR,
            retryable=True,
        )
    by_id: dict[str, VideoTask] = {}
    for document in result:
        task = parse_task(document)
        if task.task_id and task.task_id not in by_id:
            by_id[task.task_id] = task
    return [by_id.get(task_id) or VideoTask.unknown(task_id) for task_id in task_ids]


def _sub_state(sub: Mapping[str, Any], task_id: str) -> TaskState:
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
    if status != _PROCESSING and not (status is not None and status < 0):
        log.warning(
            "HiDream task %s: unrecognised task_status %r, treated as running",
            task_id,
            sub.get("task_status"),
        )
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
