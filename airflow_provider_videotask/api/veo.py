"""Veo on Ace Data Cloud: its request (AceDataCloud/APIs, veo/docs/veo_videos.md; the platform spec in
AceDataCloud/SDK, scripts/specs/52a0fa83-*.json).

Result: ``response.data[]``, each with ``state`` (``succeeded``), ``video_url`` and ``id`` (what
``get1080p`` takes): veo/docs/veo_tasks.md. Read by ``api/ace.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_videotask.api import ace
from airflow_provider_videotask.api.errors import VideoTaskValidationError

ACTIONS = ("text2video", "image2video", "ingredients2video", "get1080p")
MODELS = ("veo3", "veo3-fast", "veo31", "veo31-fast", "veo31-fast-ingredients")
DEFAULT_MODEL = "veo3-fast"  # the spec's default (Ace's own clients pick veo31-fast)
RESOLUTIONS = ("4k", "1080p", "gif")
# aspect_ratio is not checked: the spec allows 16:9 and 9:16, the guide lists more.
# How many images each action takes: 1 (first frame) or 2 (first and last); ingredients 1 to 3.
IMAGES = {"image2video": (1, 2), "ingredients2video": (1, 3)}


def validate_submit(fields: Mapping[str, Any]) -> None:
    action = fields.get("action") or "text2video"
    if action == "get1080p":
        ace.require(SERVICE, fields, "video_id", why=" get1080p")
        return
    ace.require(SERVICE, fields, "prompt", why=f" {action}")
    if action in IMAGES:
        least, most = IMAGES[action]
        images = fields.get("image_urls") or []
        if not isinstance(images, (list, tuple)) or not least <= len(images) <= most:
            raise VideoTaskValidationError(
                f"Veo {action} needs image_urls: a list of {least} to {most} image URLs, got {images!r}"
            )
    ace.check_url(SERVICE, fields, "image_urls")


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    validate_submit(fields)
    body = {"action": "text2video", "model": DEFAULT_MODEL, **fields}
    if body["action"] == "ingredients2video":
        body["model"] = "veo31-fast-ingredients"  # the only model the spec allows for it
    return body


SERVICE = ace.Service(
    name="veo",
    title="Veo",
    body=_body,
    documented={"model": MODELS, "action": ACTIONS, "resolution": RESOLUTIONS},
    default_model=DEFAULT_MODEL,
    source="https://platform.acedata.cloud/documents/veo-videos (AceDataCloud/APIs veo/docs/veo_videos.md)",
)
