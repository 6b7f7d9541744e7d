"""The sandbox's Ace Data Cloud: every video service's submits, ``retrieve`` and a paged ``retrieve_batch``.

Each service answers with its own documented result shape (``SHAPES``; the sources are in its
``api/<service>.py``): Hailuo and Veo in ``response.data[]``, Kling, Luma and Wan flat in ``response``,
Seedance in a ``response.data`` object under ``status``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_videotask.api.services import SERVICES

if TYPE_CHECKING:
    from airflow_provider_videotask.sandbox.world import Handler, SandboxTask

PATHS = tuple(path for name in SERVICES for path in (f"/{name}/videos", f"/{name}/tasks"))
IMAGE_MODELS = ("minimax-i2v", "minimax-i2v-director")
# What each service's spec requires of a submit (the sandbox answers 400 without it, as Ace does).
REQUIRED = {"hailuo": ("prompt",), "kling": (), "veo": (), "luma": (), "wan": ("model", "prompt"),
            "seedance": ("model", "content")}  # fmt: skip


def error_document(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, "trace_id": str(uuid.uuid4())}


def serve(handler: Handler, path: str, body: Any) -> None:
    state = handler.server.state
    service, _, kind = path.strip("/").partition("/")
    action = body.get("action") if isinstance(body, dict) else None
    is_submit = kind == "videos"
    route = f"{service}_submit" if is_submit else f"{service}_{action}"
    ids = body.get("ids") if isinstance(body, dict) else None
    state.count(route, len(ids) if isinstance(ids, list) else int(not is_submit), ids)
    if not handler.authorized():
        handler.send_json(401, error_document("invalid_token", "invalid token"))
        return
    if handler.apply_fault(service, is_submit):
        return
    if not isinstance(body, dict):
        handler.send_json(400, error_document("bad_request", "body must be a JSON object"))
    elif is_submit:
        _submit(handler, service, body)
    elif action == "retrieve":
        task = state.find(body.get("id"), service)
        if task is None:
            handler.send_json(404, error_document("not_found", "task not found"))
        else:
            handler.send_json(200, _document(handler, task))
    elif action == "retrieve_batch" and isinstance(ids, list):
        _retrieve_batch(handler, service, ids, body)
    else:
        handler.send_json(400, error_document("bad_request", f"unknown action {action!r}"))


def _prompt(body: dict[str, Any]) -> str:
    """The prompt, wherever the service puts it (Seedance: the text item of ``content``)."""
    texts = [item.get("text") for item in body.get("content") or () if isinstance(item, dict)]
    return str(body.get("prompt") or next((text for text in texts if text), ""))


def _submit(handler: Handler, service: str, body: dict[str, Any]) -> None:
    state = handler.server.state
    model = body.get("model") or ("minimax-t2v" if service == "hailuo" else service)
    missing = [name for name in REQUIRED[service] if not body.get(name)]
    if body.get("async") is not True and not body.get("callback_url"):
        problem = 'the sandbox only serves asynchronous submits: send "async": true'
    elif service == "hailuo" and model in IMAGE_MODELS and not body.get("first_image_url"):
        problem = "first_image_url is required for " + model
    elif missing:
        problem = f"{missing[0]} is required"
    else:
        problem = None
    if problem is not None:
        handler.send_json(400, error_document("bad_request", problem))
        return
    account = handler.bearer_token()
    wait = state.admit_submit(service, model, account)
    if wait is not None:
        handler.refuse_rate_limited(service, model, wait)
        return
    created = state.create(service, model, body, _prompt(body), account)
    handler.send_json(200, {"task_id": created.task_id, "trace_id": str(uuid.uuid4())})


def _retrieve_batch(handler: Handler, service: str, ids: list[Any], body: dict[str, Any]) -> None:
    """A paged list query: ``offset`` and ``limit`` (default page when absent), ``count`` = all matches."""
    state = handler.server.state
    refused = state.refuses(ids)
    if refused is not None:
        handler.send_json(400, error_document("bad_request", f"invalid task id: {refused}"))
        return
    matches = [task for task_id in ids if (task := state.find(task_id, service))]
    offset, limit = body.get("offset", 0), body.get("limit", state.page_size)
    if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or limit < 1:
        handler.send_json(400, error_document("bad_request", "offset and limit must be whole numbers"))
        return
    if state.max_page is not None:
        limit = min(limit, state.max_page)
    page = [_document(handler, task) for task in matches[offset : offset + limit]]
    handler.send_json(200, {"items": page, "count": len(matches)})


def _in_data_list(
    done: bool, word: str, video: str | None, video_id: str, key: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """Hailuo and Veo: one item per video in ``response.data``."""
    return {"data": [{"id": video_id, key: word, "video_url": video if done else None, **extra}]}


def _flat(done: bool, word: str, video: str | None, video_id: str, key: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Kling, Luma, Wan: the state and the video in ``response`` itself."""
    return {key: word, **({"video_url": video, "video_id": video_id} if done else {})}


def _in_data_object(
    done: bool, word: str, video: str | None, video_id: str, key: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """Seedance: ``response.data``, one object, its word under ``status``."""
    return {"data": {"task_id": f"cgt-{video_id}", key: word, **({"video_url": video} if done else {})}}


Shape = Callable[[bool, str, "str | None", str, str, dict[str, Any]], dict[str, Any]]
# Each service: its result shape, the key of its state word, the word while running and once done.
SHAPES: dict[str, tuple[Shape, str, str, str]] = {
    "hailuo": (_in_data_list, "state", "processing", "succeeded"),
    "veo": (_in_data_list, "state", "running", "succeeded"),
    "kling": (_flat, "state", "processing", "succeed"),
    "luma": (_flat, "state", "processing", "completed"),
    "wan": (_flat, "state", "processing", "completed"),
    "seedance": (_in_data_object, "status", "processing", "succeeded"),
}


def _document(handler: Handler, task: SandboxTask) -> dict[str, Any]:
    phase, _ = handler.server.state.phase(task)
    doc: dict[str, Any] = {
        "id": task.task_id,
        "created_at": task.created_wall,
        "request": task.request,
        "trace_id": str(uuid.uuid4()),
    }
    if phase == "queued":
        return doc
    shape, key, running, done_word = SHAPES[task.vendor]
    key = task.variant.get("key", key)
    envelope = {"success": True, "task_id": task.task_id, "trace_id": doc["trace_id"]}
    extra = {"model": task.module, "prompt": task.request.get("prompt")} if task.vendor == "hailuo" else {}
    if task.vendor == "hailuo":
        extra["first_image_url"] = task.request.get("first_image_url")
    if phase == "succeeded":
        word = "generating_v2" if "odd_state" in task.variant else task.variant.get("word", done_word)
        video = (
            None if "no_video" in task.variant else handler.video_url(task.sub_ids[0], task.variant.get("video_bytes"))
        )
        response = {**envelope, **shape(True, word, video, task.sub_ids[0], key, extra)}
        doc.update(
            started_at=task.created_wall,
            finished_at=handler.server.state.finished_at(task),
            elapsed=task.duration,
        )
    elif phase in ("failed", "rejected"):
        message = "content rejected by review" if phase == "rejected" else f"no channel available for {task.module}"
        response = {**envelope, "success": False, "error": {"code": "api_error", "message": message}}
        doc["finished_at"] = handler.server.state.finished_at(task)
    else:
        response = {**envelope, **shape(False, running, None, task.sub_ids[0], key, extra)}
    doc["response"] = response
    return doc
