"""Hailuo (MiniMax video) on Ace Data Cloud: requests and answers, as API_NOTES.md section 2 describes them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_videotask.api.common import (
    ApiRequest,
    as_dict,
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

VENDOR = "Hailuo"
DEFAULT_BASE_URL = "https://api.acedata.cloud"
MODELS = ("minimax-t2v", "minimax-i2v", "minimax-i2v-director")
DEFAULT_MODEL = "minimax-t2v"
IMAGE_MODELS = ("minimax-i2v", "minimax-i2v-director")
MAX_PROMPT_CHARS = 7000
VIDEOS_PATH = "/hailuo/videos"
TASKS_PATH = "/hailuo/tasks"

_QUEUED_WORDS = frozenset({"queued", "pending"})
_RUNNING_WORDS = frozenset({"processing", "running"})
_FAILED_WORDS = frozenset({"failed", "error", "cancelled", "canceled", "rejected"})


def check_model(model: str) -> str:
    if model not in MODELS:
        raise VideoTaskValidationError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    return model


def validate_submit(fields: Mapping[str, Any]) -> None:
    """Refuse what Hailuo would refuse, before anything is paid for; the message names the field."""
    prompt = fields.get("prompt")
    model = check_model(fields.get("model") or DEFAULT_MODEL)
    if prompt is not None and not isinstance(prompt, str):
        raise VideoTaskValidationError(f"prompt must be a string, got {type(prompt).__name__}")
    if model not in IMAGE_MODELS and not as_str(prompt):
        raise VideoTaskValidationError(f"Hailuo {model} needs a non-empty 'prompt'")
    if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
        raise VideoTaskValidationError(
            f"prompt is {len(prompt)} characters long; Hailuo accepts at most {MAX_PROMPT_CHARS}: shorten it"
        )
    image = fields.get("first_image_url")
    if model in IMAGE_MODELS and not as_str(image):
        raise VideoTaskValidationError(f"Hailuo {model} needs 'first_image_url' (an http(s) URL of the image)")
    if image is not None and not (isinstance(image, str) and image.startswith(("http://", "https://"))):
        raise VideoTaskValidationError(
            "first_image_url must be an http(s) URL; Hailuo refuses base64 data: upload the image and pass its URL"
        )


def submit_request(fields: Mapping[str, Any]) -> ApiRequest:
    """Create a video task. Always asynchronous: without ``async`` the call blocks for minutes."""
    validate_submit(fields)
    body: dict[str, Any] = {"action": "generate", "model": DEFAULT_MODEL}
    body.update({key: value for key, value in fields.items() if value is not None})
    body["async"] = True
    return ApiRequest("POST", VIDEOS_PATH, json=body, action=f"{VENDOR} submit", paid=True)


def retrieve_request(task_id: str) -> ApiRequest:
    return ApiRequest("POST", TASKS_PATH, json={"id": task_id, "action": "retrieve"}, action=f"{VENDOR} retrieve")


def batch_request(task_ids: Sequence[str]) -> ApiRequest:
    return ApiRequest(
        "POST",
        TASKS_PATH,
        json={"ids": list(task_ids), "action": "retrieve_batch"},
        action=f"{VENDOR} retrieve_batch",
    )


def read_response(status_code: int, text: str, retry_after: float | None = None) -> Any:
    """The answer's body, or the error it stands for."""
    body = decode_json(text)
    document = as_dict(body)
    error = as_dict(document.get("error"))
    trace_id = as_str(document.get("trace_id"))
    if not 200 <= status_code < 300:
        raise error_for_status(
            vendor=VENDOR,
            status_code=status_code,
            vendor_code=as_str(error.get("code")),
            vendor_message=as_str(error.get("message")) if body is not None else body_snippet(text),
            trace_id=trace_id,
            retry_after=retry_after,
        )
    if not isinstance(body, dict):
        raise unreadable_body(VENDOR, status_code, text)
    return body


def parse_submit(body: Any) -> str:
    document = as_dict(body)
    task_id = as_str(document.get("task_id"))
    if task_id is not None:
        return task_id
    error = as_dict(document.get("error"))
    raise VideoTaskApiError(
        "submit was not accepted",
        vendor=VENDOR,
        vendor_code=as_str(error.get("code")),
        vendor_message=as_str(error.get("message")) or "the answer has no task_id",
        trace_id=as_str(document.get("trace_id")),
    )


def parse_task(document: Any) -> VideoTask:
    """One task document as a VideoTask (see API_NOTES.md section 3)."""
    doc = as_dict(document)
    task_id = as_str(doc.get("id")) or ""
    response = doc.get("response")
    if not isinstance(response, dict):
        return VideoTask(task_id=task_id, state=TaskState.QUEUED, raw=doc)
    data = [as_dict(item) for item in as_list(response.get("data"))]
    words = [(as_str(item.get("state")) or "").strip().lower() for item in data]
    error = as_dict(response.get("error"))
    # Failure outranks a contradicting "success: true".
    failed_word = next((word for word in words if word in _FAILED_WORDS), None)
    if failed_word or (response.get("success") is False and error):
        message = as_str(error.get("message")) or f"task state is {failed_word!r}"
        code = as_str(error.get("code"))
        return VideoTask(
            task_id=task_id,
            state=TaskState.FAILED,
            error=f"{code}: {message}" if code else message,
            raw=doc,
        )
    urls = tuple(url for item in data if (url := as_str(item.get("video_url"))))
    if data and all(word == "succeeded" for word in words) and len(urls) == len(data):
        return VideoTask(task_id=task_id, state=TaskState.SUCCEEDED, progress=1.0, video_urls=urls, raw=doc)
    if data and all(word in _QUEUED_WORDS for word in words):
        return VideoTask(task_id=task_id, state=TaskState.QUEUED, raw=doc)
    for word in words:
        if word not in _QUEUED_WORDS | _RUNNING_WORDS | {"succeeded"}:
            log.warning("Hailuo task %s: unrecognised state %r, treated as running", task_id, word)
    return VideoTask(task_id=task_id, state=TaskState.RUNNING, raw=doc)


def parse_batch(body: Any, task_ids: Sequence[str]) -> list[VideoTask]:
    """The batch answer in the caller's order, matched by ``id``; ids the answer lacks are ``unknown``."""
    items = as_dict(body).get("items")
    if not isinstance(items, list):
        raise VideoTaskResponseError(
            f"retrieve_batch answer: items should be a list, got {type(items).__name__}",
            vendor=VENDOR,
            trace_id=as_str(as_dict(body).get("trace_id")),
            retryable=True,
        )
    by_id: dict[str, VideoTask] = {}
    for item in items:
        task = parse_task(item)
        if task.task_id and task.task_id not in by_id:
            by_id[task.task_id] = task
    return [by_id.get(task_id) or VideoTask.unknown(task_id) for task_id in task_ids]
