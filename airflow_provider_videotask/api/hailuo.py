"""Hailuo (MiniMax video) on Ace Data Cloud: requests and answers, as API_NOTES.md section 2 describes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from airflow_provider_videotask.api.batch import Page
from airflow_provider_videotask.api.common import (
    ApiRequest,
    as_dict,
    as_int,
    as_list,
    as_str,
    as_timestamp,
    body_snippet,
    decode_json,
    unreadable_body,
)
from airflow_provider_videotask.api.errors import (
    VideoTaskResponseError,
    VideoTaskValidationError,
    error_for_status,
)
from airflow_provider_videotask.api.models import TaskState, VideoTask

VENDOR = "Hailuo"
DEFAULT_BASE_URL = "https://api.acedata.cloud"
# The models, and the fields required of every submit ("required": ["action", "prompt", "model"]), as
# Ace Data Cloud's API reference gives them (AceDataCloud/Docs, openapi/hailuo.json).
MODELS = ("minimax-t2v", "minimax-i2v", "minimax-i2v-director")
DEFAULT_MODEL = "minimax-t2v"
IMAGE_MODELS = ("minimax-i2v", "minimax-i2v-director")
VIDEOS_PATH = "/hailuo/videos"
TASKS_PATH = "/hailuo/tasks"

# State words as Ace Data Cloud's own SDK reads them (AceDataCloud/SDK, python/src/acedatacloud/_runtime/
# tasks.py: _DONE, _FAILED), under the key "state" or "status" (the platform spec names the field
# "status", its examples "state"); the waiting words as its web app reads them (AceDataCloud/Nexior,
# components/hailuo/task/Preview.vue: isWaiting).
_DONE_WORDS = frozenset({"succeed", "succeeded", "success", "completed", "complete", "finished"})
_FAILED_WORDS = frozenset({"failed", "failure", "error", "cancelled", "canceled", "rejected"})
_QUEUED_WORDS = frozenset({"queued", "pending"})
_RUNNING_WORDS = frozenset({"processing", "running"})
_STATE_KEYS = ("state", "status")


def check_model(model: str) -> str:
    if model not in MODELS:
        raise VideoTaskValidationError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    return model


def validate_submit(fields: Mapping[str, Any]) -> None:
    """Refuse what Ace Data Cloud's Hailuo pages say it refuses, before anything is paid for.

    A prompt is required for every model (openapi/hailuo.json); the image-to-video models need
    ``first_image_url``, a link ("Base64 encoding is not supported": AceDataCloud/APIs,
    hailuo/docs/hailuo_videos_api_integration_guide.md). No prompt length limit is documented.
    """
    prompt = fields.get("prompt")
    model = check_model(fields.get("model") or DEFAULT_MODEL)
    if prompt is not None and not isinstance(prompt, str):
        raise VideoTaskValidationError(f"prompt must be a string, got {type(prompt).__name__}")
    if not as_str(prompt):
        raise VideoTaskValidationError(f"Hailuo {model} needs a non-empty 'prompt'")
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
    return ApiRequest("POST", VIDEOS_PATH, json=body, action="submit", paid=True)


def retrieve_request(task_id: str) -> ApiRequest:
    return ApiRequest("POST", TASKS_PATH, json={"id": task_id, "action": "retrieve"}, action="retrieve")


def batch_request(task_ids: Sequence[str], offset: int = 0) -> ApiRequest:
    """``retrieve_batch`` is a paged list query (``offset``, ``limit``; Ace's task lists default to 12 a
    page: AceDataCloud/APIs, openai/docs/openai_tasks_api_integration_guide.md), so the page is always
    asked to be as long as the ids."""
    return ApiRequest(
        "POST",
        TASKS_PATH,
        json={"ids": list(task_ids), "action": "retrieve_batch", "limit": len(task_ids), "offset": offset},
        action="retrieve_batch",
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
            vendor_message=(as_str(error.get("message")) or as_str(document.get("error")))
            if body is not None
            else body_snippet(text),
            trace_id=trace_id,
            retry_after=retry_after,
        )
    if not isinstance(body, dict):
        raise unreadable_body(VENDOR, status_code, text)
    return body


def parse_submit(body: Any) -> str:
    """The new task's id. An answer without one was not a creation: with an error code it is read as the
    vendor's refusal (``too_many_requests`` ... ); without any, it is unreadable, and the task's fate is
    unknown (see ``errors.submit_fate``)."""
    document = as_dict(body)
    task_id = as_str(document.get("task_id"))
    if task_id is not None:
        return task_id
    error = as_dict(document.get("error"))
    code = as_str(error.get("code"))
    if code is None:
        raise VideoTaskResponseError(
            "the submit answer has no task_id", vendor=VENDOR, trace_id=as_str(document.get("trace_id"))
        )
    raise error_for_status(
        vendor=VENDOR,
        status_code=200,
        vendor_code=code,
        vendor_message=as_str(error.get("message")),
        trace_id=as_str(document.get("trace_id")),
    )


def parse_task(document: Any) -> VideoTask:
    """One task document as a VideoTask, in the order Ace's own clients decide (docs/vendors.md, "How the
    provider reads each vendor"):

    1. no ``response`` yet: queued;
    2. an ``error`` in the response (an object or a string), a failure word, or ``success: false`` on a
       finished record or with an error code: failed; the error outranks ``success: true`` (Nexior,
       Preview.vue: isFailure);
    3. a done word: succeeded with its ``video_url``s, or ``missing_video`` when there is none;
    4. a waiting word: queued or running; a word nobody documents: running, ``unrecognised_state`` set;
    5. no word at all: a finished record (``finished_at``) with a video is succeeded, without one
       ``missing_video``; otherwise running.
    """
    doc = as_dict(document)
    task = _read_state(doc)
    # Ace's own times (epoch seconds in the docs), for how long generation took and how soon it was seen.
    response = as_dict(doc.get("response"))
    created_at = as_timestamp(doc.get("created_at"))
    finished_at = as_timestamp(doc.get("finished_at")) or as_timestamp(response.get("finished_at"))
    return replace(task, created_at=created_at, finished_at=finished_at if task.state.is_terminal else None)


def _read_state(doc: dict[str, Any]) -> VideoTask:
    task_id = as_str(doc.get("id")) or ""
    response = doc.get("response")
    if not isinstance(response, dict):
        return VideoTask(task_id=task_id, state=TaskState.QUEUED, raw=doc)
    data = [as_dict(item) for item in as_list(response.get("data"))]
    words = [word for item in [response, *data] if (word := _state_word(item))]
    urls = tuple(url for item in [*data, response] if (url := as_str(item.get("video_url"))))
    finished = doc.get("finished_at") is not None or response.get("finished_at") is not None
    failure = _failure(response, words, finished)
    if failure is not None:
        return VideoTask(task_id=task_id, state=TaskState.FAILED, error=failure, raw=doc)
    done = any(word in _DONE_WORDS for word in words) or (not words and finished)
    if done and urls:
        return VideoTask(task_id=task_id, state=TaskState.SUCCEEDED, progress=1.0, video_urls=urls, raw=doc)
    if done:
        return VideoTask(task_id=task_id, state=TaskState.RUNNING, missing_video=True, raw=doc)
    if words and all(word in _QUEUED_WORDS for word in words):
        return VideoTask(task_id=task_id, state=TaskState.QUEUED, raw=doc)
    unknown = [word for word in words if word not in _QUEUED_WORDS | _RUNNING_WORDS]
    return VideoTask(
        task_id=task_id,
        state=TaskState.RUNNING,
        unrecognised_state=f"state {', '.join(map(repr, unknown))}" if unknown else None,
        raw=doc,
    )


def _state_word(item: Mapping[str, Any]) -> str | None:
    for key in _STATE_KEYS:
        word = as_str(item.get(key))
        if word:
            return word.strip().lower()
    return None


def _failure(response: Mapping[str, Any], words: Sequence[str], finished: bool) -> str | None:
    """Why the task failed, or None when it has not."""
    error = response.get("error")
    failed_word = next((word for word in words if word in _FAILED_WORDS), None)
    has_error = bool(as_dict(error) or as_str(error))
    if not (has_error or failed_word or (response.get("success") is False and finished)):
        return None
    if isinstance(error, dict):
        message = as_str(error.get("message")) or as_str(error.get("detail"))
        code = as_str(error.get("code"))
        if message or code:
            return f"{code}: {message}" if code and message else message or code
    if as_str(error):
        return str(error)
    return f"task state is {failed_word!r}" if failed_word else "the vendor reports the task finished unsuccessfully"


def parse_batch(body: Any) -> Page:
    """A ``retrieve_batch`` answer's tasks and ``count`` (how many match in all, as Ace's web app reads
    it: AceDataCloud/Nexior, store/factories/createTaskActions.ts); ids it lacks are unknown."""
    document = as_dict(body)
    items = document.get("items")
    if not isinstance(items, list):
        raise VideoTaskResponseError(
            f"retrieve_batch answer: items should be a list, got {type(items).__name__}",
            vendor=VENDOR,
            trace_id=as_str(document.get("trace_id")),
            retryable=True,
        )
    count = as_int(document.get("count"))
    return Page([task for item in items if (task := parse_task(item)).task_id], total=count)
