"""HiDream ("Pixeling") video API, as API_NOTES.md section 1 describes it: its API versions (gateways),
the requests, and every rule of reading its answers. What a submit may carry, checked before paying, is
in ``api/hidream_submit.py``."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
    VideoTaskRequestError,
    VideoTaskResponseError,
    VideoTaskValidationError,
    error_for_status,
)
from airflow_provider_videotask.api.models import TaskState, VideoTask

VENDOR = "HiDream"
DEFAULT_BASE_URL = "https://www.hidreamai.com"
DEFAULT_MODULE = "txt2video"
DEFAULT_API_VERSION = "v2"


@dataclass(frozen=True)
class Gateway:
    """One generation of HiDream's public video API (a connection's extra ``api_version``).

    - v2 (the default): the pages under https://www.hidreamai.com/docs/pixeling/, with a batch results
      endpoint (/docs/pixeling/batch_result/batch_video_result.html).
    - v3: the pages under https://hidreamai.com/doc/ (txt2video, img2video, keyframe2video), same host and
      token. No v3 batch results page exists, so each task is read on its own (its /results page).
    - v4: the gateway HiDream's own client uses (HiDream-ai/hidream-api-gen, scripts/common/task_client.py
      and base_video.py): vivago.ai, model families as modules, ``module`` and ``version`` in the body,
      one /results read per task (the client knows no batch read). It has no public pages.
    """

    api_version: str
    base_url: str
    modules: tuple[str, ...]
    batch_reads: bool
    module_in_body: bool = False
    # Where a sub-task's video given as a bare id lives (None: only URLs are read). HiDream's vivago.ai
    # clients turn an id into https://media.vivago.ai/<id>.mp4 (HiDream-ai/vivago-agent-cli,
    # internal/artifact/url.go; hidream-model-gen, scripts/cli_utils.py, which drops a "v_" prefix).
    media_base_url: str | None = None
    # Takes ``notify_url`` and calls it when a task ends: documented for v2 and v3 (HiDream's API pages,
    # callback section: POST, 200 expected within 5 s, 3 tries 1 s apart); v4 has no public pages.
    notifies: bool = True

    @property
    def default_module(self) -> str:
        return self.modules[0]

    def path(self, module: str) -> str:
        return f"/api-pub/gw/{self.api_version}/video/{check_module(module)}/async"


GATEWAYS = {
    "v2": Gateway("v2", DEFAULT_BASE_URL, ("txt2video", "img2video", "video_edit"), batch_reads=True),
    "v3": Gateway("v3", DEFAULT_BASE_URL, ("txt2video", "img2video", "keyframe2video"), batch_reads=False),
    "v4": Gateway(
        "v4",
        "https://vivago.ai",
        ("hidream-Q2", "hidream-R", "hidream-R2-Audio"),
        batch_reads=False,
        module_in_body=True,
        media_base_url="https://media.vivago.ai",
        notifies=False,
    ),
}
API_VERSIONS = tuple(GATEWAYS)
# Every module of every API version (forms, and checks made before the connection is read).
MODULES = tuple(dict.fromkeys(module for gateway in GATEWAYS.values() for module in gateway.modules))

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


def gateway_of(api_version: Any) -> Gateway:
    """The API generation a connection's extra ``api_version`` names (unset: v2)."""
    chosen = as_str(api_version) or DEFAULT_API_VERSION
    if chosen not in GATEWAYS:
        raise VideoTaskValidationError(
            f"extra 'api_version' must be one of {', '.join(API_VERSIONS)}, got {api_version!r}"
        )
    return GATEWAYS[chosen]


# A module is a path segment (``/video/<module>/async``): anything else would address another endpoint.
MODULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_module(module: Any) -> str:
    """A module name that can stand in HiDream's path. Whether the connection's API version serves it is
    the vendor's to say (:func:`unlisted` warns when its pages do not list it there)."""
    if not isinstance(module, str) or not MODULE_NAME.match(module):
        raise VideoTaskValidationError(
            f"module must be a HiDream module's name as its path spells it (e.g. {', '.join(MODULES)}), got {module!r}"
        )
    return module


def result_request(module: str, task_id: str, api_version: str = DEFAULT_API_VERSION) -> ApiRequest:
    path = f"{GATEWAYS[api_version].path(module)}/results"
    return ApiRequest("GET", path, params={"task_id": task_id}, action=f"{module} result")


def batch_request(module: str, task_ids: Sequence[str]) -> ApiRequest:
    """v2's batch read (https://www.hidreamai.com/docs/pixeling/batch_result/batch_video_result.html)."""
    body: dict[str, Any] = {"task_id_list": list(task_ids)}
    return ApiRequest(
        "POST", f"{GATEWAYS['v2'].path(module)}/results/batch", json=body, action=f"{module} batch results"
    )


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
        # No code table is published: an unknown code refuses this request (a batch holding an id the
        # gateway will not read is split to find it: api/batch.py), but may also be a busy gateway, so a
        # read is tried again within the hooks' retry budget (a submit never is: it is paid).
        kind, message, retryable = VideoTaskRequestError, "the request was refused", True
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


def parse_task(document: Any, gateway: Gateway = GATEWAYS[DEFAULT_API_VERSION]) -> VideoTask:
    """One ``{task_id, sub_task_results}`` document as a VideoTask (see API_NOTES.md section 3); every
    API version answers in this shape.

    As HiDream's own client reads it (hidream-api-gen, scripts/common/task_client.py): any sub-task
    failed (3) or refused by review (4) fails the task; all done (1) with their videos is success; a
    done sub-task without its video is not finished (``missing_video``); a status nobody documents
    reads as running with ``unrecognised_state`` set, for the waiting rules to bound.
    """
    doc = as_dict(document)
    task_id = as_str(doc.get("task_id")) or ""
    subs = [_with_video_url(as_dict(sub), gateway) for sub in as_list(doc.get("sub_task_results"))]
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


def callback_task_id(body: Any) -> str | None:
    """The task a ``notify_url`` call names, read as a hint only (nobody signs it): v2 posts
    ``{main_task_id, result}``, v3 the result page's envelope ``{code, message, result: {task_id ...}}``."""
    document = as_dict(body)
    return as_str(document.get("main_task_id")) or as_str(as_dict(document.get("result")).get("task_id"))


def parse_one(result: Any, task_id: str, gateway: Gateway) -> Page:
    """A single /results answer, as a page of one (v3 and v4 read each task on its own). No result, or an
    empty one, is a task the vendor does not know (yet): unknown, for the waiting rules' grace period."""
    if result is None or result == {}:
        return Page([VideoTask.unknown(task_id)])
    if not isinstance(result, dict):
        raise VideoTaskResponseError(
            f"result answer: result should be an object, got {type(result).__name__}", vendor=VENDOR, retryable=True
        )
    task = parse_task(result, gateway)
    return Page([task if task.task_id else replace(task, task_id=task_id)])


def parse_batch(result: Any) -> Page:
    """A batch answer's tasks (matched to the ids asked by ``api/batch.py``); no paging."""
    if not isinstance(result, list):
        raise VideoTaskResponseError(
            f"batch answer: result should be a list, got {type(result).__name__}",
            vendor=VENDOR,
            retryable=True,
        )
    return Page([task for document in result if (task := parse_task(document)).task_id])


def _with_video_url(sub: dict[str, Any], gateway: Gateway) -> dict[str, Any]:
    """A sub-task whose ``video`` is a bare id gets its URL on the gateway's media host, if it has one."""
    video = as_str(sub.get("video"))
    if gateway.media_base_url is None or video is None or video.startswith(("http://", "https://")):
        return sub
    name = video.removeprefix("v_")
    return {**sub, "video": f"{gateway.media_base_url}/{name}{'' if name.endswith('.mp4') else '.mp4'}"}


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
