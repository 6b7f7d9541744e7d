"""The sandbox's Ace Data Cloud (Hailuo): submits, ``retrieve`` and a paged ``retrieve_batch``."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_videotask.sandbox.world import Handler, SandboxTask

PATHS = ("/hailuo/videos", "/hailuo/tasks")
IMAGE_MODELS = ("minimax-i2v", "minimax-i2v-director")


def error_document(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, "trace_id": str(uuid.uuid4())}


def serve(handler: Handler, path: str, body: Any) -> None:
    state = handler.server.state
    action = body.get("action") if isinstance(body, dict) else None
    is_submit = path == "/hailuo/videos"
    route = "hailuo_submit" if is_submit else f"hailuo_{action}"
    ids = body.get("ids") if isinstance(body, dict) else None
    state.count(route, len(ids) if isinstance(ids, list) else int(not is_submit), ids)
    if not handler.authorized():
        handler.send_json(401, error_document("invalid_token", "invalid token"))
        return
    if handler.apply_fault("hailuo", is_submit):
        return
    if not isinstance(body, dict):
        handler.send_json(400, error_document("bad_request", "body must be a JSON object"))
    elif is_submit:
        _submit(handler, body)
    elif action == "retrieve":
        task = state.find(body.get("id"), "hailuo")
        if task is None:
            handler.send_json(404, error_document("not_found", "task not found"))
        else:
            handler.send_json(200, _document(handler, task))
    elif action == "retrieve_batch" and isinstance(ids, list):
        _retrieve_batch(handler, ids, body)
    else:
        handler.send_json(400, error_document("bad_request", f"unknown action {action!r}"))


def _submit(handler: Handler, body: dict[str, Any]) -> None:
    state = handler.server.state
    model = body.get("model") or "minimax-t2v"
    if body.get("async") is not True and not body.get("callback_url"):
        problem = 'the sandbox only serves asynchronous submits: send "async": true'
    elif model in IMAGE_MODELS and not body.get("first_image_url"):
        problem = "first_image_url is required for " + model
    elif not body.get("prompt"):
        problem = "prompt is required"
    else:
        problem = None
    if problem is not None:
        handler.send_json(400, error_document("bad_request", problem))
        return
    account = handler.bearer_token()
    wait = state.admit_submit("hailuo", model, account)
    if wait is not None:
        handler.refuse_rate_limited("hailuo", model, wait)
        return
    created = state.create("hailuo", model, body, str(body.get("prompt") or ""), account)
    handler.send_json(200, {"task_id": created.task_id, "trace_id": str(uuid.uuid4())})


def _retrieve_batch(handler: Handler, ids: list[Any], body: dict[str, Any]) -> None:
    """A paged list query: ``offset`` and ``limit`` (default page when absent), ``count`` = all matches."""
    state = handler.server.state
    refused = state.refuses(ids)
    if refused is not None:
        handler.send_json(400, error_document("bad_request", f"invalid task id: {refused}"))
        return
    matches = [task for task_id in ids if (task := state.find(task_id, "hailuo"))]
    offset, limit = body.get("offset", 0), body.get("limit", state.page_size)
    if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or limit < 1:
        handler.send_json(400, error_document("bad_request", "offset and limit must be whole numbers"))
        return
    if state.max_page is not None:
        limit = min(limit, state.max_page)
    page = [_document(handler, task) for task in matches[offset : offset + limit]]
    handler.send_json(200, {"items": page, "count": len(matches)})


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
    key = task.variant.get("key", "state")
    item = {
        "id": task.sub_ids[0],
        "model": task.module,
        "prompt": task.request.get("prompt"),
        "first_image_url": task.request.get("first_image_url"),
        "video_url": None,
        key: "processing",
    }
    response: dict[str, Any] = {"success": True, "task_id": task.task_id, "trace_id": doc["trace_id"], "data": [item]}
    if phase == "succeeded":
        word = "generating_v2" if "odd_state" in task.variant else task.variant.get("word", "succeeded")
        video = (
            None if "no_video" in task.variant else handler.video_url(task.sub_ids[0], task.variant.get("video_bytes"))
        )
        item.update({key: word, "video_url": video})
        doc.update(
            started_at=task.created_wall,
            finished_at=handler.server.state.finished_at(task),
            elapsed=task.duration,
        )
    elif phase in ("failed", "rejected"):
        message = "content rejected by review" if phase == "rejected" else f"no channel available for {task.module}"
        response = {
            "success": False,
            "task_id": task.task_id,
            "trace_id": doc["trace_id"],
            "error": {"code": "api_error", "message": message},
        }
        doc["finished_at"] = handler.server.state.finished_at(task)
    doc["response"] = response
    return doc
