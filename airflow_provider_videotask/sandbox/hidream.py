"""The sandbox's HiDream: the API key exchange, submits under per-minute limits, single and batch results.

Every API version is served on one host: v2 with its batch results, v3 and v4 (the gateway of HiDream's
own client) with single results only, as their sources show them (see ``api/hidream.py``).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_videotask.sandbox.world import Handler

MODULES = {
    "v2": ("txt2video", "img2video", "video_edit"),
    "v3": ("txt2video", "img2video", "keyframe2video"),
    "v4": ("hidream-Q2", "hidream-R", "hidream-R2-Audio"),
}
PATH = re.compile(
    r"^/api-pub/gw/(?P<version>v[0-9]+)/video/(?P<module>[A-Za-z0-9_.-]+)/async(?P<rest>/results(?:/batch)?)?/?$"
)
EXCHANGE_PATH = "/prod-api/user/apikey2token"
# What each module's page (v4: HiDream's client) requires.
REQUIRED = {
    "txt2video": "prompt",
    "img2video": "image",
    "video_edit": "video_name",
    "keyframe2video": "images",
    "hidream-Q2": "version",
    "hidream-R": "prompt",
    "hidream-R2-Audio": "prompt",
}
_STATUS = {"queued": 0, "running": 2, "succeeded": 1, "failed": 3, "rejected": 4}


def error_document(code: int | str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": str(uuid.uuid4()), "result": None}


def envelope(handler: Handler, result: Any, code: int = 0, message: str = "Success", status: int = 200) -> None:
    document = {"code": code, "message": message, "request_id": str(uuid.uuid4()), "result": result}
    handler.send_json(status, document)


def exchange(handler: Handler) -> None:
    """``GET /prod-api/user/apikey2token`` with ``Api-Key``: a token and its RFC 3339 expiry."""
    state = handler.server.state
    state.count("hidream_token")
    issued = state.issue_token((handler.headers.get("Api-Key") or "").strip())
    if issued is None:
        handler.send_json(401, error_document(401, "invalid api key"))
        return
    token, expires = issued
    expire_time = datetime.fromtimestamp(expires, timezone.utc).isoformat()
    envelope(handler, {"token": token, "expire_time": expire_time})


def serve(
    handler: Handler, method: str, version: str, module: str, rest: str, query: dict[str, list[str]], body: Any
) -> None:
    state = handler.server.state
    is_submit = rest == ""
    route = {"": "hidream_submit", "/results": "hidream_result", "/results/batch": "hidream_batch"}[rest]
    ids = body.get("task_id_list") if isinstance(body, dict) else None
    state.count(route, len(ids) if isinstance(ids, list) else int(not is_submit), ids)
    if user_id := handler.headers.get("API-User-ID"):  # whose requests these are, for tests to tell apart
        state.count(f"{route} as {user_id}")
    problem = _auth_problem(handler)
    if problem is not None:
        handler.send_json(401, error_document(401, problem))
        return
    if handler.apply_fault("hidream", is_submit):
        return
    if version not in MODULES or (rest == "/results/batch" and version != "v2"):
        handler.send_json(404, error_document(404, f"no API at {method} {version}/video/{module}/async{rest}"))
    elif module not in MODULES[version]:
        envelope(handler, None, 2031, f"model {module} not available to this account")
    elif is_submit and method == "POST" and isinstance(body, dict):
        _submit(handler, version, module, body)
    elif rest == "/results" and method == "GET":
        task_id = (query.get("task_id") or [""])[0]
        if not _refused(handler, [task_id]):
            envelope(handler, _document(handler, task_id, module))
    elif rest == "/results/batch" and method == "POST" and isinstance(ids, list):
        if not _refused(handler, ids):
            envelope(handler, [_document(handler, task_id, module) for task_id in ids])
    else:
        envelope(handler, None, 1001, "bad request")


# HiDream publishes no code table (api/hidream.py): the code of an unreadable id is the sandbox's own.
INVALID_TASK_ID_CODE = 1002


def _refused(handler: Handler, ids: list[Any]) -> bool:
    """An id the sandbox was told to refuse fails the whole read (single or batch): HTTP 400, or HTTP 200
    with an envelope code (``Sandbox.refuse_ids(how=...)``)."""
    refused = handler.server.state.refuses(ids)
    if refused is None:
        return False
    task_id, how = refused
    if how == "code":
        envelope(handler, None, INVALID_TASK_ID_CODE, f"task_id is invalid: {task_id}")
    else:
        handler.send_json(400, error_document(400, f"invalid task_id: {task_id}"))
    return True


def _auth_problem(handler: Handler) -> str | None:
    token = handler.bearer_token()
    return handler.server.state.token_problem(token) if token else "missing token"


def _submit(handler: Handler, version: str, module: str, body: dict[str, Any]) -> None:
    state = handler.server.state
    required = REQUIRED[module]
    if not body.get(required):
        envelope(handler, None, 1001, f"missing parameter: {required}")
        return
    account = state.account_of(handler.bearer_token())
    # HiDream's per-minute limits are documented for v2's modules; v3's and v4's are limited apart (by
    # "hidream:v3/txt2video=..." or "hidream:*"), so v2's numbers never apply to them.
    scope = module if version == "v2" else f"{version}/{module}"
    wait = state.admit_submit("hidream", scope, account)
    if wait is not None:
        handler.refuse_rate_limited("hidream", scope, wait)
        return
    task = state.create("hidream", module, body, str(body.get("prompt") or ""), account)
    if isinstance(body.get("notify_url"), str):
        state.expect_callback(task, body["notify_url"], f"hidream-{'v2' if version == 'v2' else 'v3'}")
    envelope(handler, {"task_id": task.task_id})


def _document(handler: Handler, task_id: Any, module: str) -> dict[str, Any]:
    state = handler.server.state
    task = state.find(task_id, "hidream", module)
    if task is None:
        return {"task_id": task_id, "sub_task_results": []}
    phase, progress = state.phase(task)
    status: int = _STATUS[phase]
    if phase == "succeeded" and "odd_state" in task.variant:
        status = 7  # a status nobody documents
    if "status" in task.variant and phase not in ("queued", "failed", "rejected"):
        status = int(task.variant["status"])  # [status=N]: this status, from the start of the run on
    subs = []
    for sub_id in task.sub_ids:
        video = (
            handler.video_url(sub_id, task.variant.get("video_bytes"))
            if phase == "succeeded" and "no_video" not in task.variant
            else ""
        )
        subs.append(
            {
                "sub_task_id": sub_id,
                "task_status": status,
                "task_completion": round(progress, 2),
                "video": video,
                "video_wm": video.replace(".mp4", "_wm.mp4"),
            }
        )
    return {"task_id": task.task_id, "sub_task_results": subs}
