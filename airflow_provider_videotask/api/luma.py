"""Luma on Ace Data Cloud: its request (AceDataCloud/APIs, luma/docs/luma_videos.md; the platform spec
in AceDataCloud/SDK, scripts/specs/94fc9028-*.json). Luma takes no model.

Result: ``response.state`` (``completed``) and ``response.video_url``, flat; ``response.video_id`` is
what ``extend`` takes (luma/docs/luma_tasks.md). Read by ``api/ace.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_videotask.api import ace
from airflow_provider_videotask.api.errors import VideoTaskValidationError

ACTIONS = ("generate", "extend")


def validate_submit(fields: Mapping[str, Any]) -> None:
    if (fields.get("action") or "generate") == "extend":
        if not (fields.get("video_id") or fields.get("video_url")):
            raise VideoTaskValidationError("Luma extend needs 'video_id' (of a finished Luma video) or 'video_url'")
    else:
        ace.require(SERVICE, fields, "prompt", why=" generate")
    ace.check_url(SERVICE, fields, "start_image_url", "end_image_url", "video_url")


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    validate_submit(fields)
    return {"action": "generate", **fields}


SERVICE = ace.Service(
    name="luma",
    title="Luma",
    body=_body,
    documented={"model": (), "action": ACTIONS},
    source="https://platform.acedata.cloud/documents/luma-videos (AceDataCloud/APIs luma/docs/luma_videos.md)",
)
