"""Wan on Ace Data Cloud: its request (the platform spec in AceDataCloud/SDK, scripts/specs/6a4ecdbf-*.json,
which requires ``action``, ``model`` and ``prompt``; AceDataCloud/APIs, wan/docs/wan_videos.md).

Result (Wan 2.6): ``response.state`` (``completed``) and ``response.video_url``, flat
(wan/docs/wan_tasks_api_integration_guide.md); the newest tasks page names ``response.data.video_url``,
which ``api/ace.py`` reads too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_videotask.api import ace
from airflow_provider_videotask.api.errors import VideoTaskValidationError

ACTIONS = ("text2video", "image2video")
# The spec's models, and Wan 3 from the newest videos page (its own fields go through ``payload``).
MODELS = ("wan2.6-t2v", "wan2.6-i2v", "wan2.6-i2v-flash", "wan2.6-r2v", "wan3.0-video")
DEFAULT_MODEL = "wan2.6-t2v"  # Ace's own clients' default (the spec names none)
IMAGE_MODELS = ("wan2.6-i2v", "wan2.6-i2v-flash")  # a first frame is required
# The guide puts the reference model under image2video too; Wan 3 takes no action.
IMAGE2VIDEO_MODELS = (*IMAGE_MODELS, "wan2.6-r2v")
RESOLUTIONS = ("480P", "720P", "1080P")
# Durations are not checked: the spec says 5, 10 or 15, the guide any of 2 to 30 (or -1).


def validate_submit(fields: Mapping[str, Any]) -> None:
    model = fields.get("model") or DEFAULT_MODEL
    ace.require(SERVICE, fields, "prompt", why=f" {model}")
    if model in IMAGE_MODELS and not fields.get("image_url"):
        raise VideoTaskValidationError(f"Wan {model} needs 'image_url' (the first frame, an http(s) URL)")
    ace.check_url(SERVICE, fields, "image_url", "reference_video_urls", "audio_url")


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    validate_submit(fields)
    model = fields.get("model") or DEFAULT_MODEL
    if model == "wan3.0-video":
        return {"model": model, **fields}
    return {"action": "image2video" if model in IMAGE2VIDEO_MODELS else "text2video", "model": model, **fields}


SERVICE = ace.Service(
    name="wan",
    title="Wan",
    body=_body,
    documented={"model": MODELS, "action": ACTIONS, "resolution": RESOLUTIONS},
    default_model=DEFAULT_MODEL,
    source="https://platform.acedata.cloud/documents/wan-videos (AceDataCloud/SDK scripts/specs/6a4ecdbf-*.json)",
)
