"""Kling on Ace Data Cloud: its request (AceDataCloud/APIs, kling/docs/kling_videos.md; the platform
spec in AceDataCloud/SDK, scripts/specs/29187cb2-*.json).

Result: ``response.state`` (``succeed``) and ``response.video_url``, flat; ``response.video_id`` is what
``extend`` takes (kling/docs/kling_tasks.md). Read by ``api/ace.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_videotask.api import ace

ACTIONS = ("text2video", "image2video", "extend")
MODELS = (
    "kling-v1", "kling-v1-6", "kling-v2-master", "kling-v2-1-master", "kling-v2-5-turbo", "kling-v2-6",
    "kling-v3", "kling-v3-omni", "kling-o1",
)  # fmt: skip
DEFAULT_MODEL = "kling-v1"  # the spec's default
MODES = ("std", "pro", "4k")
ASPECT_RATIOS = ("16:9", "9:16", "1:1")


def validate_submit(fields: Mapping[str, Any]) -> None:
    """The spec requires ``action``; text2video and image2video need a prompt (the SDK checks it),
    image2video a ``start_image_url``, extend a ``video_id`` (of a finished Kling video). Models, modes and
    aspect ratios the spec does not list go to Ace with a warning (``ace.unlisted``)."""
    action = fields.get("action") or "text2video"
    if action in ("text2video", "image2video"):
        ace.require(SERVICE, fields, "prompt", why=f" {action}")
    if action == "image2video":
        ace.require(SERVICE, fields, "start_image_url", why=" image2video")
    if action == "extend":
        ace.require(SERVICE, fields, "video_id", why=" extend")
    ace.check_url(SERVICE, fields, "start_image_url", "end_image_url")


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    validate_submit(fields)
    return {"action": "text2video", "model": DEFAULT_MODEL, **fields}


SERVICE = ace.Service(
    name="kling",
    title="Kling",
    body=_body,
    documented={"model": MODELS, "action": ACTIONS, "mode": MODES, "aspect_ratio": ASPECT_RATIOS},
    default_model=DEFAULT_MODEL,
    source="https://platform.acedata.cloud/documents/kling-videos (AceDataCloud/APIs kling/docs/kling_videos.md)",
)
