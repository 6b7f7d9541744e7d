"""HiDream's submit: what each module of each API version takes, checked before anything is paid
(required fields, exclusive fields, numeric ranges: refused) or warned about (values of enumerated
fields and modules the sources do not list: sent, for HiDream to judge), and the submit request itself.
Every rule cites its page (v4: HiDream's own client). How answers are read is in ``api/hidream.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_videotask.api.common import ApiRequest, as_int, as_str
from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.api.hidream import DEFAULT_API_VERSION, GATEWAYS, check_module

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


def _txt2video(module: str, fields: Mapping[str, Any]) -> None:
    # txt2video, v2 and v3 pages: prompt required; camera moves -5..5 (the v2 page's own example sends -5
    # and 5); motion_strength 0..30. (v2's aspect_ratio and resolution_ratio, v3's version and resolution,
    # which replace them: _DOCUMENTED.)
    _require(module, fields, "prompt")
    _check_motion(fields)


def _img2video(module: str, fields: Mapping[str, Any]) -> None:
    # https://hidreamai.com/doc/img2video/request (v3; no v2 img2video page is public): image required (URL
    # or base64), prompt optional; camera moves and motion_strength with txt2video's ranges.
    _require(module, fields, "image")
    _check_motion(fields)


def _v2_video_edit(module: str, fields: Mapping[str, Any]) -> None:
    # v2 video_edit page: video_name (URL or base64) required, and one of prompt or style
    # ("prompt和style选填一项").
    _require(module, fields, "video_name")
    if not as_str(fields.get("prompt")) and fields.get("style") is None:
        raise VideoTaskValidationError("HiDream video_edit needs either 'prompt' or 'style'")


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
    ("v2", "txt2video"): _txt2video,
    ("v2", "img2video"): _img2video,
    ("v2", "video_edit"): _v2_video_edit,
    ("v3", "txt2video"): _txt2video,
    ("v3", "img2video"): _img2video,
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
