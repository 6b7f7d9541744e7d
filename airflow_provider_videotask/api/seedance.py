"""Seedance on Ace Data Cloud: its request (the platform spec in AceDataCloud/SDK, scripts/specs/
0083b874-*.json, which requires ``model`` and ``content``; AceDataCloud/APIs, seedance/docs/seedance_videos.md).

The request has no ``action`` and no ``prompt``: a ``content`` list of ``{"type": "text", "text"}`` and
``{"type": "image_url", "image_url": {"url"}, "role": "first_frame" | "last_frame" | "reference_image"}``
items, which :func:`content` builds from the operator's fields.

Result: ``response.data.status`` (``succeeded``, the word is "status") and ``response.data.video_url``
(seedance/docs/seedance_tasks.md); the spec's example has ``data`` as a list with ``content.video_url``.
``api/ace.py`` reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_videotask.api import ace
from airflow_provider_videotask.api.errors import VideoTaskValidationError

MODELS = (
    "doubao-seedance-1-0-pro-250528", "doubao-seedance-1-0-pro-fast-251015", "doubao-seedance-1-5-pro-251215",
    "doubao-seedance-1-0-lite-t2v-250428", "doubao-seedance-1-0-lite-i2v-250428", "doubao-seedance-2-0-260128",
    "doubao-seedance-2-0-fast-260128", "doubao-seedance-2-0-mini-260615",
)  # fmt: skip
DEFAULT_MODEL = "doubao-seedance-2-0-260128"  # Ace's own clients' default (the spec names none)
RESOLUTIONS = ("480p", "720p", "1080p", "4k")
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
# The operator's image fields, and the role each has in ``content``.
IMAGE_ROLES = {"first_frame_url": "first_frame", "last_frame_url": "last_frame"}


def content(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``content`` list from ``prompt``, ``first_frame_url``, ``last_frame_url`` and
    ``reference_image_urls`` (frames and references do not mix, the page says)."""
    items: list[dict[str, Any]] = []
    if fields.get("prompt"):
        items.append({"type": "text", "text": fields["prompt"]})
    for name, role in IMAGE_ROLES.items():
        if fields.get(name):
            items.append({"type": "image_url", "image_url": {"url": fields[name]}, "role": role})
    for url in fields.get("reference_image_urls") or ():
        items.append({"type": "image_url", "image_url": {"url": url}, "role": "reference_image"})
    return items


def validate_submit(fields: Mapping[str, Any]) -> None:
    # Images may be links or base64 data URLs (seedance/docs/seedance_videos.md): neither is refused here.
    if fields.get("prompt") is not None:
        ace.require(SERVICE, fields, "prompt")
    if fields.get("content") is None and not content(fields):
        raise VideoTaskValidationError("Seedance needs a 'prompt' or a first frame ('first_frame_url'), or 'content'")
    if fields.get("reference_image_urls") and any(fields.get(name) for name in IMAGE_ROLES):
        raise VideoTaskValidationError("Seedance: reference_image_urls do not mix with first or last frames")


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    validate_submit(fields)
    own = {"prompt", "reference_image_urls", *IMAGE_ROLES}
    body = {"model": DEFAULT_MODEL, **{key: value for key, value in fields.items() if key not in own}}
    body.setdefault("content", content(fields))
    return body


SERVICE = ace.Service(
    name="seedance",
    title="Seedance",
    body=_body,
    documented={"model": MODELS, "resolution": RESOLUTIONS, "ratio": RATIOS},
    default_model=DEFAULT_MODEL,
    source="https://platform.acedata.cloud/documents/seedance-videos (AceDataCloud/SDK scripts/specs/0083b874-*.json)",
)
