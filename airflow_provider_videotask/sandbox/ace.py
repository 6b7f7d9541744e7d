"""The sandbox's Ace Data Cloud: any video service's submits (asynchronous, or blocking as Ace answers a
submit without ``async``), ``retrieve`` and a paged ``retrieve_batch``.

Each service answers with its own documented result shape (``SHAPES``; the sources are in its
``api/<service>.py`` and in AceDataCloud/APIs ``<service>/docs/*_tasks_api_integration_guide.md``):
Hailuo, Veo, Sora and Pika in ``response.data[]``, PixVerse too but with no state word, Kling, Luma
(with its ``thumbnail_url``) and Wan flat in ``response``, Seedance in a ``response.data`` object under
``status`` (with its ``last_frame_url``). Any other service name of Ace's path pattern is served with
the ``data[]`` shape. Models: a service with a module accepts the models its sources list and the newer
ones Ace's SDK knows (``MODELS``), and refuses any other as Ace does (HTTP 400 ``bad_request``, "model
is invalid.", no task made); other services take any model.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_videotask.api.services import SERVICES

if TYPE_CHECKING:
    from airflow_provider_videotask.sandbox.world import Handler, SandboxTask

PATH = re.compile(r"^/(?P<service>[a-z][a-z0-9_-]{0,39})/(?P<kind>videos|tasks)$")
IMAGE_MODELS = ("minimax-i2v", "minimax-i2v-director")
# What each service's spec requires of a submit (the sandbox answers 400 without it, as Ace does).
REQUIRED = {"hailuo": ("prompt",), "wan": ("model", "prompt"), "seedance": ("model", "content"),
            "sora": ("prompt",), "pika": ("prompt",), "pixverse": ("prompt",)}  # fmt: skip
# The models Ace serves: what the provider's sources list, and newer ones Ace's SDK lists (acedatacloud
# 2026.10.20.0 on PyPI: resources/kling.py KLING_MODELS, resources/providers/seedance.py SeedanceModel),
# so the sandbox, like Ace, knows more than the provider.
NEWER_MODELS = {"kling": ("kling-v3-turbo",), "seedance": ("doubao-seedance-2-5-260628",)}
MODELS = {name: (*service.models, *NEWER_MODELS.get(name, ())) for name, service in SERVICES.items() if service.models}
# How long a blocking submit may hold its connection at most (Ace: "the HTTP request will keep the
# connection open" for the 1-2 minutes a video takes: hailuo/docs/hailuo_videos_api_integration_guide.md).
BLOCKING_LIMIT_SECONDS = 600.0


def error_document(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, "trace_id": str(uuid.uuid4())}


def serve(handler: Handler, service: str, kind: str, body: Any) -> None:
    state = handler.server.state
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
    missing = [name for name in REQUIRED.get(service, ()) if not body.get(name)]
    if service == "hailuo" and model in IMAGE_MODELS and not body.get("first_image_url"):
        problem = "first_image_url is required for " + model
    elif missing:
        problem = f"{missing[0]} is required"
    elif body.get("model") is not None and service in MODELS and body["model"] not in MODELS[service]:
        problem = "model is invalid."
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
    if isinstance(body.get("callback_url"), str):
        state.expect_callback(created, body["callback_url"], "ace")
    if body.get("async") is True or body.get("callback_url"):
        handler.send_json(200, {"task_id": created.task_id, "trace_id": str(uuid.uuid4())})
        return
    # Without ``async`` (or a callback) Ace answers when the video is done, with the body the task's
    # ``response`` holds (luma/docs/luma_tasks_api_integration_guide.md: "consistent with the ... return of
    # the Videos Generation API").
    give_up = time.monotonic() + BLOCKING_LIMIT_SECONDS
    while state.phase(created)[0] in ("queued", "running") and time.monotonic() < give_up:
        time.sleep(0.05)
    handler.send_json(200, _document(handler, created).get("response") or {"task_id": created.task_id})


def _retrieve_batch(handler: Handler, service: str, ids: list[Any], body: dict[str, Any]) -> None:
    """A paged list query: ``offset`` and ``limit`` (default page when absent), ``count`` = all matches."""
    state = handler.server.state
    refused = state.refuses(ids)
    if refused is not None:
        task_id, how = refused
        handler.send_json(400 if how == "http" else 200, error_document("bad_request", f"invalid task id: {task_id}"))
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


def _in_data_list(done: bool, word: str, video: str | None, video_id: str, key: str) -> dict[str, Any]:
    """Hailuo, Veo, Sora, Pika, PixVerse (no ``key``: no state word): one item per video in ``response.data``."""
    item = {"id": video_id, **({key: word} if key else {}), "video_url": video if done else None}
    return {"data": [item]}


def _flat(done: bool, word: str, video: str | None, video_id: str, key: str) -> dict[str, Any]:
    """Kling, Wan: the state and the video in ``response`` itself."""
    return {key: word, **({"video_url": video, "video_id": video_id} if done else {})}


def _luma(done: bool, word: str, video: str | None, video_id: str, key: str) -> dict[str, Any]:
    """Luma: flat, with a picture beside the video (its tasks guide's ``thumbnail_url``)."""
    thumbnail = {"thumbnail_url": f"{video.rsplit('/', 1)[0]}/{video_id}.jpg"} if done and video else {}
    return {**thumbnail, **_flat(done, word, video, video_id, key)}


def _in_data_object(done: bool, word: str, video: str | None, video_id: str, key: str) -> dict[str, Any]:
    """Seedance: ``response.data``, one object, its word under ``status``, its last frame beside the video."""
    frames = {"last_frame_url": f"{video.rsplit('/', 1)[0]}/{video_id}-last.png", "video_url": video} if video else {}
    return {"data": {"task_id": f"cgt-{video_id}", key: word, **(frames if done else {})}}


Shape = Callable[[bool, str, "str | None", str, str], dict[str, Any]]
# Each service: its result shape, the key of its state word ("": none), the word while running and once done.
SHAPES: dict[str, tuple[Shape, str, str, str]] = {
    "hailuo": (_in_data_list, "state", "processing", "succeeded"),
    "veo": (_in_data_list, "state", "running", "succeeded"),
    "sora": (_in_data_list, "state", "processing", "succeeded"),
    "pika": (_in_data_list, "state", "processing", "succeeded"),
    "pixverse": (_in_data_list, "", "", ""),
    "kling": (_flat, "state", "processing", "succeed"),
    "luma": (_luma, "state", "processing", "completed"),
    "wan": (_flat, "state", "processing", "completed"),
    "seedance": (_in_data_object, "status", "processing", "succeeded"),
}
GENERIC_SHAPE = SHAPES["sora"]


def _document(handler: Handler, task: SandboxTask) -> dict[str, Any]:
    state = handler.server.state
    phase, _ = state.phase(task)
    doc: dict[str, Any] = {
        "id": task.task_id,
        "created_at": task.created_wall,
        "request": task.request,
        "trace_id": str(uuid.uuid4()),
    }
    over = phase not in ("queued", "running")
    if over and "top_level_failed" in task.variant:
        # [top_level_failed]: a record that says how it ended only at the top, with no response.
        return {**doc, "status": "failed", "finished_at": state.finished_at(task)}
    if over and "finished_no_outcome" in task.variant:
        return {**doc, "finished_at": state.finished_at(task)}  # [finished_no_outcome]: done, nothing to read
    if phase == "queued":
        return doc
    shape, key, running, done_word = SHAPES.get(task.vendor, GENERIC_SHAPE)
    key = task.variant.get("key", key)
    envelope = {"success": True, "task_id": task.task_id, "trace_id": doc["trace_id"]}
    if phase == "succeeded":
        word = "generating_v2" if "odd_state" in task.variant else task.variant.get("word", done_word)
        video = (
            None if "no_video" in task.variant else handler.video_url(task.sub_ids[0], task.variant.get("video_bytes"))
        )
        response = {**envelope, **shape(True, word, video, task.sub_ids[0], key)}
        doc.update(started_at=task.created_wall, finished_at=state.finished_at(task), elapsed=task.duration)
    elif phase in ("failed", "rejected"):
        message = "content rejected by review" if phase == "rejected" else f"no channel available for {task.module}"
        response = {**envelope, "success": False, "error": {"code": "api_error", "message": message}}
        doc["finished_at"] = state.finished_at(task)
    else:
        response = {**envelope, **shape(False, running, None, task.sub_ids[0], key)}
        if "passing_error" in task.variant:
            # [passing_error]: a note in passing while it runs, as Ace's SDK reads one (it then succeeds).
            response.update(success=False, error="temporary")
    if task.vendor == "hailuo" and isinstance(response.get("data"), list):
        # Hailuo echoes the request in each item: an image URL beside the video (hailuo_tasks_api.txt).
        for item in response["data"]:
            item.update(
                model=task.module,
                prompt=task.request.get("prompt"),
                first_image_url=task.request.get("first_image_url"),
            )
    doc["response"] = response
    return doc
