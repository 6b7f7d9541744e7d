"""HiDream ("Pixeling") video API: requests and answers, as API_NOTES.md section 1 describes them."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
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
    ),
}
API_VERSIONS = tuple(GATEWAYS)
# Every module of every API version (forms, and checks made before the connection is read).
MODULES = tuple(dict.fromkeys(module for gateway in GATEWAYS.values() for module in gateway.modules))

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
# v3 (https://hidreamai.com/doc/txt2video/request, /doc/img2video/request): one model version, three sizes.
V3_VERSIONS = ("v2",)
V3_RESOLUTIONS = ("960*960", "1280*720", "720*1280")
# v3 keyframe2video (https://hidreamai.com/doc/keyframe2video/request): first and last frame, 5 or 10 s.
KEYFRAME_VERSIONS = ("v1.0-standard",)
KEYFRAME_RESOLUTIONS = ("keep",)
DURATIONS = (5, 10)
# v4, from HiDream's own client (hidream-api-gen scripts/kling.py, seedance_1_0_pro.py, seedance_1_5_pro.py
# and references/model-mapping.md): Kling is hidream-Q2, Seedance 1.0 Pro hidream-R, 1.5 Pro hidream-R2-Audio.
KLING_VERSIONS = ("Q2.5T-std", "Q2.5T-pro", "Q2.6-pro")
KLING_SOUND_VERSION = "Q2.6-pro"
KLING_RATIOS = ("16:9", "9:16", "1:1")
SEEDANCE_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "adaptive")
SEEDANCE_RESOLUTIONS = ("480p", "720p", "1080p")
# The single version of a v4 module, sent as HiDream's client sends it when the task names none.
V4_ONLY_VERSION = {"hidream-R": "R1", "hidream-R2-Audio": "R2-Audio"}

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


def _version_for(module: str, api_version: str | None) -> str | None:
    """The version whose rules apply: the connection's, or (a DAG being parsed, ``api_version=None``) the
    first version serving the module; None for a module no version documents."""
    if api_version is not None:
        return api_version
    return next((v for v, gateway in GATEWAYS.items() if module in gateway.modules), None)


def validate_submit(module: str, fields: Mapping[str, Any], api_version: str | None = DEFAULT_API_VERSION) -> None:
    """Refuse what would surely be refused or would buy a wrong video, before anything is paid; the message
    names the field. Required fields, fields that exclude each other and numeric ranges come from HiDream's
    pages (v4: its own client); a value of an enumerated field that they do not list goes to HiDream with
    a warning (:func:`unlisted`), and so does a module they do not list for the API version.

    Each module gets its own page's rules only; a field a module's page does not document is passed
    through unchecked (the vendor decides). ``api_version=None`` is a DAG being parsed, before its
    connection (and so its API version) is read: the rules of the first version serving the module apply
    then (v2's for txt2video and img2video, which take every valid v3 task of theirs, as v3 only adds
    fields), and the hook checks the task against the connection's own version before sending it.
    """
    check_module(module)
    version = _version_for(module, api_version)
    rule = _RULES.get((version, module)) if version else None
    if rule is not None:
        rule(module, fields)


def unlisted(module: str, fields: Mapping[str, Any], api_version: str = DEFAULT_API_VERSION) -> list[str]:
    """One warning for a module the API version's sources do not list, and one for each enumerated field
    whose value they do not list: each is sent as given, and HiDream decides (a refusal is an envelope
    code, free: no task is made)."""
    gateway = GATEWAYS[api_version]
    if module not in gateway.modules:
        served_by = [g.api_version for g in GATEWAYS.values() if module in g.modules]
        where = f" (documented on {' and '.join(served_by)}: use a connection of that api_version)" if served_by else ""
        return [
            f"HiDream {api_version}: module {module!r} is not among the documented modules "
            f"({', '.join(gateway.modules)}){where}; it is sent as given, and HiDream decides: a refusal costs nothing"
        ]
    warnings = []
    for name, values in _DOCUMENTED.get((api_version, module), {}).items():
        value = fields.get(name)
        if value is not None and value not in values:
            warnings.append(
                f"HiDream {module}: {name}={value!r} is not among the documented values "
                f"({', '.join(map(str, values))}; source: {_SOURCES[api_version, module]}); it is sent as given, "
                "and HiDream decides: a refusal costs nothing"
            )
    return warnings


# Where each module's rules come from (cited in warnings and in docs/vendors.md).
_SOURCES = {
    ("v2", "txt2video"): "https://www.hidreamai.com/docs/pixeling/txt2video/txt2video_request.html",
    ("v2", "img2video"): "https://hidreamai.com/doc/img2video/request",
    ("v2", "video_edit"): "https://www.hidreamai.com/docs/pixeling/video_edit/video_edit_request.html",
    ("v3", "txt2video"): "https://hidreamai.com/doc/txt2video/request",
    ("v3", "img2video"): "https://hidreamai.com/doc/img2video/request",
    ("v3", "keyframe2video"): "https://hidreamai.com/doc/keyframe2video/request",
    ("v4", "hidream-Q2"): "HiDream-ai/hidream-api-gen scripts/kling.py",
    ("v4", "hidream-R"): "HiDream-ai/hidream-api-gen scripts/seedance_1_0_pro.py",
    ("v4", "hidream-R2-Audio"): "HiDream-ai/hidream-api-gen scripts/seedance_1_5_pro.py",
}
# The enumerated fields each source lists: a value outside them is sent with a warning (``unlisted``).
_DOCUMENTED: dict[tuple[str, str], dict[str, tuple[Any, ...]]] = {
    ("v2", "txt2video"): {"aspect_ratio": ASPECT_RATIOS, "resolution_ratio": RESOLUTIONS},
    ("v2", "video_edit"): {"style": STYLES},
    ("v3", "txt2video"): {"version": V3_VERSIONS, "resolution": V3_RESOLUTIONS},
    ("v3", "img2video"): {"version": V3_VERSIONS, "resolution": V3_RESOLUTIONS},
    ("v3", "keyframe2video"): {"version": KEYFRAME_VERSIONS, "resolution": KEYFRAME_RESOLUTIONS, "duration": DURATIONS},
    ("v4", "hidream-Q2"): {
        "version": KLING_VERSIONS,
        "duration": DURATIONS,
        "wh_ratio": KLING_RATIOS,
        "sound": ("on", "off"),
    },
    **{
        ("v4", module): {
            "version": (V4_ONLY_VERSION[module],),
            "duration": DURATIONS,
            "wh_ratio": ratios,
            "resolution": SEEDANCE_RESOLUTIONS,
        }
        for module, ratios in (("hidream-R", SEEDANCE_RATIOS), ("hidream-R2-Audio", (*SEEDANCE_RATIOS, "keep")))
    },
}


def _v2_txt2video(module: str, fields: Mapping[str, Any]) -> None:
    # v2 txt2video page: prompt required; camera moves -5..5 (the page's own example sends -5 and 5);
    # motion_strength 0..30. (aspect_ratio and resolution_ratio: _DOCUMENTED.)
    _require(module, fields, "prompt")
    _check_motion(fields)


def _v2_img2video(module: str, fields: Mapping[str, Any]) -> None:
    # https://hidreamai.com/doc/img2video/request: image required (URL or base64), prompt optional;
    # camera moves and motion_strength with txt2video's ranges. (No v2 img2video page is public.)
    _require(module, fields, "image")
    _check_motion(fields)


def _v2_video_edit(module: str, fields: Mapping[str, Any]) -> None:
    # v2 video_edit page: video_name (URL or base64) required, and one of prompt or style
    # ("prompt和style选填一项").
    _require(module, fields, "video_name")
    if not as_str(fields.get("prompt")) and fields.get("style") is None:
        raise VideoTaskValidationError("HiDream video_edit needs either 'prompt' or 'style'")


def _v3_txt2video(module: str, fields: Mapping[str, Any]) -> None:
    # v3 txt2video page: prompt required; camera moves and motion_strength as in v2 (version and
    # resolution, which replace v2's aspect_ratio and resolution_ratio: _DOCUMENTED).
    _require(module, fields, "prompt")
    _check_motion(fields)


def _v3_img2video(module: str, fields: Mapping[str, Any]) -> None:
    # v3 img2video page: as txt2video, with image (URL or base64) required and prompt optional.
    _require(module, fields, "image")
    _check_motion(fields)


def _v3_keyframe2video(module: str, fields: Mapping[str, Any]) -> None:
    # v3 keyframe2video page: images = [first frame, last frame] (URLs or base64) required.
    images = fields.get("images")
    if not (isinstance(images, (list, tuple)) and len(images) == 2 and all(as_str(image) for image in images)):
        raise VideoTaskValidationError(
            f"HiDream keyframe2video needs 'images' as [first frame, last frame] (two URLs or base64), got {images!r}"
        )


def _v4_kling(module: str, fields: Mapping[str, Any]) -> None:
    # hidream-api-gen scripts/kling.py: version required; sound "on" only for Q2.6-pro from images (the
    # client refuses it otherwise, before sending; a version it does not know is the vendor's to judge).
    version = fields.get("version")
    if version is None:
        raise VideoTaskValidationError(f"HiDream {module} needs a 'version': one of {', '.join(KLING_VERSIONS)}")
    if fields.get("sound") == "on" and (
        (version in KLING_VERSIONS and version != KLING_SOUND_VERSION) or not fields.get("images")
    ):
        raise VideoTaskValidationError(f"HiDream {module}: sound 'on' needs version {KLING_SOUND_VERSION} and 'images'")


def _v4_seedance(module: str, fields: Mapping[str, Any]) -> None:
    # hidream-api-gen scripts/seedance_1_0_pro.py and seedance_1_5_pro.py: prompt required.
    _require(module, fields, "prompt")


_RULES: dict[tuple[str, str], Callable[[str, Mapping[str, Any]], None]] = {
    ("v2", "txt2video"): _v2_txt2video,
    ("v2", "img2video"): _v2_img2video,
    ("v2", "video_edit"): _v2_video_edit,
    ("v3", "txt2video"): _v3_txt2video,
    ("v3", "img2video"): _v3_img2video,
    ("v3", "keyframe2video"): _v3_keyframe2video,
    ("v4", "hidream-Q2"): _v4_kling,
    ("v4", "hidream-R"): _v4_seedance,
    ("v4", "hidream-R2-Audio"): _v4_seedance,
}


def _require(module: str, fields: Mapping[str, Any], name: str) -> None:
    if not as_str(fields.get(name)):
        raise VideoTaskValidationError(f"HiDream {module} needs a non-empty '{name}'")


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


def submit_request(module: str, fields: Mapping[str, Any], api_version: str = DEFAULT_API_VERSION) -> ApiRequest:
    """Create a video task. Fields the provider does not know are passed through unchanged; v4 carries
    ``module`` (and a single-version module's ``version``) in the body, as HiDream's client sends them."""
    validate_submit(module, fields, api_version)
    gateway = GATEWAYS[api_version]
    body = {key: value for key, value in fields.items() if value is not None}
    if gateway.module_in_body:
        only_version = {"version": V4_ONLY_VERSION[module]} if module in V4_ONLY_VERSION else {}
        body = {**only_version, **body, "module": module}  # the path's module, whatever a payload said
    return ApiRequest("POST", gateway.path(module), json=body, action=f"{module} submit", paid=True)


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
