"""Ace Data Cloud's video services: what they share, in one place (the requests, the answers, the reading).

Every video service on Ace Data Cloud (Hailuo, Kling, Veo, Luma, Wan, Seedance) has the same shape
(AceDataCloud/APIs, ``<service>/docs/<service>_videos.md`` and ``<service>_tasks.md``):

- ``POST /<service>/videos`` with ``"async": true`` answers ``{"task_id": ...}`` at once (without it
  the call blocks until the video is done);
- ``POST /<service>/tasks`` with ``{"id", "action": "retrieve"}`` or ``{"ids", "action":
  "retrieve_batch"}`` answers task documents (``{items, count}`` for a batch): ``id``, ``created_at``,
  ``request``, ``response`` (the body a blocking submit would have answered), and ``finished_at`` once
  done;
- errors are ``{"error": {"code", "message"}, "trace_id"}``.

What differs is each service's request (its ``api/<service>.py``) and where its ``response`` keeps the
state and the video, which :func:`parse_task` reads for all of them, as Ace's own SDK does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_videotask.api.batch import Page
from airflow_provider_videotask.api.common import (
    ApiRequest,
    as_dict,
    as_int,
    as_str,
    as_timestamp,
    body_snippet,
    decode_json,
    unique,
    unreadable_body,
)
from airflow_provider_videotask.api.errors import (
    VideoTaskRequestError,
    VideoTaskResponseError,
    VideoTaskValidationError,
    error_for_status,
)
from airflow_provider_videotask.api.models import TaskState, VideoTask

VENDOR = "Ace Data Cloud"
DEFAULT_BASE_URL = "https://api.acedata.cloud"

# State words as Ace Data Cloud's own SDK reads them (AceDataCloud/SDK, python/src/acedatacloud/_runtime/
# tasks.py: _DONE, _FAILED), under the key "state" or "status" (Seedance says "status", the others
# "state"); the waiting words as its web app reads them (AceDataCloud/Nexior, components/*/task/
# Preview.vue: isWaiting).
_DONE_WORDS = frozenset({"succeed", "succeeded", "success", "completed", "complete", "finished"})
_FAILED_WORDS = frozenset({"failed", "failure", "error", "cancelled", "canceled", "rejected"})
_QUEUED_WORDS = frozenset({"queued", "pending"})
_RUNNING_WORDS = frozenset({"processing", "running"})
_STATE_KEYS = ("state", "status")


@dataclass(frozen=True)
class Service:
    """One video service on Ace Data Cloud, as its ``api/<service>.py`` declares it (or, for a service with
    no module, :func:`generic`).

    :param name: the path segment (``/<name>/videos``), also the ``service`` argument of the sensor.
    :param title: how logs and errors name it.
    :param body: the submit body from the operator's fields, checked first (``None`` values dropped).
    :param documented: each enumerated field's documented values (``model`` among them; an empty tuple:
        the service documents none). A value outside them is sent with a warning (:func:`unlisted`):
        Ace adds models and options every month, and refuses an unknown one for free (HTTP 400, no task).
    :param default_model: the model sent when none is given (None: none is sent).
    :param source: the page its facts come from.
    """

    name: str
    title: str
    body: Callable[[Mapping[str, Any]], dict[str, Any]]
    documented: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    default_model: str | None = None
    source: str = ""

    @property
    def videos_path(self) -> str:
        return f"/{self.name}/videos"

    @property
    def tasks_path(self) -> str:
        return f"/{self.name}/tasks"

    @property
    def models(self) -> tuple[Any, ...]:
        return self.documented.get("model", ())


# The video services Ace's own SDK calls by name with its generic video call (AceDataCloud/SDK, python/src/
# acedatacloud/resources/video.py). Another name is sent too, with a warning (``unlisted``).
SDK_SERVICES = ("sora", "luma", "veo", "kling", "hailuo", "seedance", "wan", "pika", "pixverse")
# Ace's path pattern (``/{service}/videos``, AceDataCloud/SDK python/src/acedatacloud/resources/video.py): a
# name that is not one path segment would send the request somewhere else.
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def check_service_name(name: Any) -> str:
    """A service name that can stand in Ace's path pattern, or a refusal saying what one looks like."""
    if not isinstance(name, str) or not SERVICE_NAME.match(name):
        raise VideoTaskValidationError(
            f"service must be an Ace Data Cloud video service's name as its path spells it (lowercase letters, "
            f"digits, '-' or '_', e.g. 'kling' or 'sora'), got {name!r}"
        )
    return name


def generic(name: str) -> Service:
    """A service the provider has no module for: the request is the operator's fields as they are (prompt,
    model, ``payload``), as Ace's own SDK sends any service's (``video.generate``); its answer is read by
    :func:`parse_task` like every other's."""
    check_service_name(name)

    def body(fields: Mapping[str, Any]) -> dict[str, Any]:
        if fields.get("prompt") is not None:
            require(spec, fields, "prompt")
        return dict(fields)

    spec = Service(
        name=name,
        title=name.capitalize(),
        body=body,
        source="AceDataCloud/SDK python/src/acedatacloud/resources/video.py (the generic video call)",
    )
    return spec


def unlisted(service: Service, body: Mapping[str, Any]) -> list[str]:
    """One warning for each enumerated field of ``body`` whose value the service's sources do not list: it is
    sent all the same (the vendor judges it; a refusal is free and fails the task at once)."""
    warnings = []
    if service.name not in SDK_SERVICES:
        warnings.append(
            f"{service.title}: service {service.name!r} is not among the video services Ace's SDK names "
            f"({', '.join(SDK_SERVICES)}); it is sent as given, and {VENDOR} decides: a refusal costs nothing"
        )
    for name, values in service.documented.items():
        value = body.get(name)
        if value is None or value in values:
            continue
        listed = ", ".join(map(str, values)) if values else "none"
        warnings.append(
            f"{service.title}: {name}={value!r} is not among the documented values ({listed}; source: "
            f"{service.source}); it is sent as given, and {VENDOR} decides: a refusal costs nothing"
        )
    return warnings


def submit_request(service: Service, fields: Mapping[str, Any]) -> ApiRequest:
    """Create a video task. Always asynchronous: without ``async`` the call blocks for minutes."""
    body = {key: value for key, value in service.body(fields).items() if value is not None}
    body["async"] = True
    return ApiRequest("POST", service.videos_path, json=body, action="submit", paid=True)


def retrieve_request(service: str, task_id: str) -> ApiRequest:
    return ApiRequest("POST", f"/{service}/tasks", json={"id": task_id, "action": "retrieve"}, action="retrieve")


def batch_request(service: str, task_ids: Sequence[str], offset: int = 0) -> ApiRequest:
    """``retrieve_batch`` is a paged list query (``offset``, ``limit``; Ace's task lists default to 12 a
    page: AceDataCloud/APIs, openai/docs/openai_tasks_api_integration_guide.md), so the page is always
    asked to be as long as the ids."""
    return ApiRequest(
        "POST",
        f"/{service}/tasks",
        json={"ids": list(task_ids), "action": "retrieve_batch", "limit": len(task_ids), "offset": offset},
        action="retrieve_batch",
    )


def require(service: Service, fields: Mapping[str, Any], *names: str, why: str = "") -> None:
    """Each named field is a non-empty string, or the submit is refused naming it."""
    for name in names:
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise VideoTaskValidationError(f"{service.title}: {name} must be a string, got {type(value).__name__}")
        if not as_str(value):
            raise VideoTaskValidationError(f"{service.title}{why} needs a non-empty {name!r}")


def check_url(service: Service, fields: Mapping[str, Any], *names: str) -> None:
    """Image and video inputs are links: Ace's services take http(s) URLs, not base64 data."""
    for name in names:
        values = fields.get(name)
        for value in values if isinstance(values, (list, tuple)) else [values]:
            if value is not None and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
                raise VideoTaskValidationError(
                    f"{service.title}: {name} must hold http(s) URLs; Ace's services refuse base64 data: upload "
                    f"the file and pass its link, got {value!r}"
                )


def read_response(status_code: int, text: str, retry_after: float | None = None, vendor: str = VENDOR) -> Any:
    """The answer's body, or the error it stands for."""
    body = decode_json(text)
    document = as_dict(body)
    error = as_dict(document.get("error"))
    trace_id = as_str(document.get("trace_id"))
    if not 200 <= status_code < 300:
        raise error_for_status(
            vendor=vendor,
            status_code=status_code,
            vendor_code=as_str(error.get("code")),
            vendor_message=(as_str(error.get("message")) or as_str(document.get("error")))
            if body is not None
            else body_snippet(text),
            trace_id=trace_id,
            retry_after=retry_after,
        )
    if not isinstance(body, dict):
        raise unreadable_body(vendor, status_code, text)
    if as_str(error.get("code")) and not any(key in document for key in ("id", "items", "task_id")):
        # An error document with a 2xx status: a refusal (a batch holding an id Ace will not read is split
        # to find it: api/batch.py), but one no page explains, which may be a passing fault of the gateway:
        # retryable, so it counts against an id only once confirmed, and never fails a whole batch.
        refusal = error_for_status(
            vendor=vendor,
            status_code=status_code,
            vendor_code=as_str(error.get("code")),
            vendor_message=as_str(error.get("message")),
            trace_id=trace_id,
        )
        if isinstance(refusal, VideoTaskRequestError):
            refusal.retryable = True
        raise refusal
    return body


def parse_submit(body: Any, vendor: str = VENDOR) -> str:
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
            "the submit answer has no task_id", vendor=vendor, trace_id=as_str(document.get("trace_id"))
        )
    raise error_for_status(
        vendor=vendor,
        status_code=200,
        vendor_code=code,
        vendor_message=as_str(error.get("message")),
        trace_id=as_str(document.get("trace_id")),
    )


def callback_task_id(body: Any) -> str | None:
    """The task a ``callback_url`` call names, read as a hint only (nobody signs it): every service posts
    its synchronous answer with ``task_id``, and a failure ``{success: false, task_id, trace_id, error}``
    (AceDataCloud/Docs en/concepts/async-tasks.mdx)."""
    return as_str(as_dict(body).get("task_id"))


def parse_task(document: Any) -> VideoTask:
    """One task document as a VideoTask, in the order Ace's own clients decide (docs/vendors.md, "How the
    provider reads each vendor"; the SDK is AceDataCloud/SDK python/src/acedatacloud/_runtime/tasks.py):

    1. the record is its ``response``; without one, the record itself (the SDK reads it so: a top-level
       ``status: failed`` and ``finished_at`` is a failed task), which says nothing yet while it holds no
       state word and no ``finished_at``: queued;
    2. a failure word, or an ``error`` object with a ``code`` (every tasks guide's failure:
       ``{"success": false, "error": {"code", "message"}}``), or ``success: false`` / any ``error`` on a
       finished record (``finished_at``): failed, outranking ``success: true`` (Nexior, Preview.vue:
       isFailure);
    3. a done word: succeeded with its ``video_url``s, or ``missing_video`` when there is none;
    4. a waiting word: queued or running; a word nobody documents: running, ``unrecognised_state`` set;
    5. no word at all: a finished record with a video is succeeded (PixVerse's records carry no word),
       without one ``missing_video``; otherwise running.

    A string error, or an error object without a code, on a record not yet finished is what the SDK
    reads as "a note in passing" (tasks.py: "a string is a note in passing"; its tests keep ``"error":
    "temporary"`` waiting), while Nexior shows any error as a failure: it holds the verdict. The task is
    waited on as running with ``unrecognised_state`` naming the error (even beside a done word), so the
    waiting rules fail it after ``unrecognised_state_grace_period`` unless ``finished_at`` (failed) or a
    failure word decides first. Failing it at once could fail a task that then succeeds, and a retry
    would pay for it again; succeeding at once could hand on a video the vendor said went wrong.
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
    finished = doc.get("finished_at") is not None or as_dict(response).get("finished_at") is not None
    if not isinstance(response, dict):
        if _state_word(doc) is None and not finished:
            return VideoTask(task_id=task_id, state=TaskState.QUEUED, raw=doc)
        response = doc
    # ``data`` is a list (Hailuo, Veo, Sora, Pika, PixVerse), one object (Seedance), or absent (Kling, Luma,
    # Wan: flat); an item may hold its video under ``content`` (Seedance's platform spec). Only ``video_url``
    # is a video: Luma's ``thumbnail_url`` and Seedance's ``last_frame_url`` are pictures.
    raw = response.get("data")
    data = [item for item in map(as_dict, raw if isinstance(raw, list) else [raw]) if item]
    words = [word for item in [response, *data] if (word := _state_word(item))]
    holders = [*data, *(as_dict(item.get("content")) for item in data), response]
    urls = tuple(unique(url for item in holders if (url := as_str(item.get("video_url")))))
    failure, doubt = _failure(response, words, finished)
    if failure is not None:
        return VideoTask(task_id=task_id, state=TaskState.FAILED, error=failure, raw=doc)
    done = any(word in _DONE_WORDS for word in words) or (not words and finished)
    if done and urls and doubt is None:
        # The ids an ``extend`` takes: ``response.video_id`` (Kling, Luma), the ``id`` of a ``data`` item that
        # holds its video itself (Veo; a Seedance item's is Ark's task id, its video under ``content``).
        listed = [
            item.get("video_id") or item.get("id") for item in data if isinstance(raw, list) and item.get("video_url")
        ]
        ids = [response.get("video_id"), *listed]
        video_ids = tuple(
            unique(str(i) for i in ids if isinstance(i, (str, int)) and not isinstance(i, bool) and i != "")
        )
        return VideoTask(
            task_id=task_id, state=TaskState.SUCCEEDED, progress=1.0, video_urls=urls, video_ids=video_ids, raw=doc
        )
    if done and doubt is None:
        return VideoTask(task_id=task_id, state=TaskState.RUNNING, missing_video=True, raw=doc)
    if doubt is None and words and all(word in _QUEUED_WORDS for word in words):
        return VideoTask(task_id=task_id, state=TaskState.QUEUED, raw=doc)
    unknown = [word for word in words if word not in _QUEUED_WORDS | _RUNNING_WORDS]
    odd = ", ".join(filter(None, [f"state {', '.join(map(repr, unknown))}" if unknown else None, doubt]))
    return VideoTask(task_id=task_id, state=TaskState.RUNNING, unrecognised_state=odd or None, raw=doc)


def _state_word(item: Mapping[str, Any]) -> str | None:
    for key in _STATE_KEYS:
        word = as_str(item.get(key))
        if word:
            return word.strip().lower()
    return None


def _failure(response: Mapping[str, Any], words: Sequence[str], finished: bool) -> tuple[str | None, str | None]:
    """Why the task failed (or None), and a failure it only may have had (or None): see :func:`parse_task`."""
    error = response.get("error")
    failed_word = next((word for word in words if word in _FAILED_WORDS), None)
    coded = isinstance(error, dict) and as_str(error.get("code")) is not None
    has_error = bool(as_dict(error) or as_str(error))
    if failed_word or coded or (finished and (has_error or response.get("success") is False)):
        return _reason(error, failed_word), None
    return None, (f"an error before the task finished ({_reason(error, None)})" if has_error else None)


def _reason(error: Any, failed_word: str | None) -> str:
    if isinstance(error, dict):
        message = as_str(error.get("message")) or as_str(error.get("detail"))
        code = as_str(error.get("code"))
        if message or code:
            return f"{code}: {message}" if code and message else message or code or ""
    if as_str(error):
        return str(error)
    return f"task state is {failed_word!r}" if failed_word else "the vendor reports the task finished unsuccessfully"


def parse_batch(body: Any, vendor: str = VENDOR) -> Page:
    """A ``retrieve_batch`` answer's tasks and ``count`` (how many match in all, as Ace's web app reads
    it: AceDataCloud/Nexior, store/factories/createTaskActions.ts); ids it lacks are unknown."""
    document = as_dict(body)
    items = document.get("items")
    if not isinstance(items, list):
        raise VideoTaskResponseError(
            f"retrieve_batch answer: items should be a list, got {type(items).__name__}",
            vendor=vendor,
            trace_id=as_str(document.get("trace_id")),
            retryable=True,
        )
    count = as_int(document.get("count"))
    return Page([task for item in items if (task := parse_task(item)).task_id], total=count)
