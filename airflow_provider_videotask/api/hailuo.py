"""Hailuo (MiniMax video) on Ace Data Cloud: its request, as API_NOTES.md section 2 describes it.

Everything Ace's services share (the envelope, the task reads, the errors, reading a result) is in
``api/ace.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_videotask.api import ace
from airflow_provider_videotask.api.errors import VideoTaskValidationError

VENDOR = "Hailuo"
# The models, and the fields required of every submit ("required": ["action", "prompt", "model"]), as
# Ace Data Cloud's API reference gives them (AceDataCloud/Docs, openapi/hailuo.json).
MODELS = ("minimax-t2v", "minimax-i2v", "minimax-i2v-director")
DEFAULT_MODEL = "minimax-t2v"
IMAGE_MODELS = ("minimax-i2v", "minimax-i2v-director")


def validate_submit(fields: Mapping[str, Any]) -> None:
    """Refuse what Ace Data Cloud's Hailuo pages say it refuses, before anything is paid for.

    A prompt is required for every model (openapi/hailuo.json); the image-to-video models need
    ``first_image_url``, a link ("Base64 encoding is not supported": AceDataCloud/APIs,
    hailuo/docs/hailuo_videos_api_integration_guide.md). No prompt length limit is documented.
    """
    model = fields.get("model") or DEFAULT_MODEL
    ace.require(SERVICE, fields, "prompt", why=f" {model}")
    if model in IMAGE_MODELS and not fields.get("first_image_url"):
        raise VideoTaskValidationError(f"Hailuo {model} needs 'first_image_url' (an http(s) URL of the image)")
    ace.check_url(SERVICE, fields, "first_image_url")


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    validate_submit(fields)
    return {"action": "generate", "model": DEFAULT_MODEL, **fields}


SERVICE = ace.Service(
    name="hailuo",
    title=VENDOR,
    body=_body,
    documented={"model": MODELS},
    default_model=DEFAULT_MODEL,
    source="https://platform.acedata.cloud/documents/hailuo-videos (AceDataCloud/Docs, openapi/hailuo.json)",
)
