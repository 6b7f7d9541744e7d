"""What both vendors share: the request description, tolerant field readers, task-id lists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_videotask.api.errors import VideoTaskResponseError, VideoTaskValidationError

# Neither vendor documents a maximum batch size; Ace Data Cloud's MCP servers recommend at most 50
# (MCPs/hailuo/tools/task_tools.py). A connection's extra ``batch_size`` changes it.
DEFAULT_BATCH_SIZE = 50
# Batch reads the shared poller sends at once. Neither vendor documents a limit for status reads
# (HiDream's 1-10 concurrent tasks by tier bound generation, not reads): a conservative few. A
# connection's extra ``parallel_reads`` changes it.
DEFAULT_PARALLEL_READS = 4
# Submits of one task (``prompts=``) sent at once. Few enough that a burst limit refuses little (HiDream
# takes 10 video tasks a minute, https://www.hidreamai.com/docs; Ace Data Cloud answers 429 when submits
# come too fast and publishes no number), many enough that a slow answer (seconds) does not set the pace
# of a batch. A connection's extra ``max_submits_in_flight`` changes it.
DEFAULT_SUBMITS_IN_FLIGHT = 5


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP call, described: the hooks send it, the tests read it."""

    method: str
    path: str
    json: Mapping[str, Any] | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    # A human name for logs and errors ("HiDream txt2video batch results").
    action: str = ""
    # A paid call (a submit) is never sent twice: the hooks do not retry it.
    paid: bool = False
    # What authenticates it: "token" (the bearer token) or "api_key" (HiDream's key-for-token exchange).
    credential: str = "token"


def as_str(value: Any) -> str | None:
    """A non-empty string, or None for anything else (missing, null, a number, an object)."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def as_int(value: Any) -> int | None:
    """An integer from an int or a numeric string ("2"), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):  # bounded: no 4300-digit parse
        return int(value)
    return None


def as_fraction(value: Any) -> float | None:
    """A progress fraction clamped to 0..1, or None when the value is not a finite number."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return min(1.0, max(0.0, number))


def as_timestamp(value: Any) -> float | None:
    """A moment as Unix seconds: seconds or milliseconds (a number or its text), or RFC 3339 text; None otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Seconds, or milliseconds past 1e11; anything past the year 2286 in ms is no timestamp.
        if not 0 < value < 1e13 or value != value:
            return None
        return float(value) / 1000 if value > 1e11 else float(value)
    text = as_str(value)
    if text is None:
        return None
    if re.fullmatch(r"\d{1,13}(\.\d{1,9})?", text.strip()):
        return as_timestamp(float(text))
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def decode_json(text: str) -> Any:
    """The parsed body, or None when the body is not JSON (an HTML page from a proxy, a cut answer)."""
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None


def body_snippet(text: str, limit: int = 120) -> str:
    """A short, single-line excerpt of a body that is not JSON, for error messages."""
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    excerpt = title.group(1) if title else text
    excerpt = " ".join(excerpt.split())
    return excerpt[:limit] + ("..." if len(excerpt) > limit else "") or "(empty body)"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def unreadable_body(vendor: str, status_code: int, text: str, trace_id: str | None = None) -> VideoTaskResponseError:
    """A 2xx answer we cannot read. Retryable: proxies and cut connections produce these, and a read is free."""
    return VideoTaskResponseError(
        f"unreadable answer (expected JSON): {body_snippet(text)}",
        vendor=vendor,
        status_code=status_code,
        trace_id=trace_id,
        retryable=True,
    )


def normalize_task_ids(task_ids: str | Iterable[str], *, argument: str = "task_ids") -> list[str]:
    """The ids as a list, checked: a single id becomes a list of one; blanks and non-strings are refused."""
    if isinstance(task_ids, str):
        task_ids = [task_ids]
    try:
        ids = list(task_ids)
    except TypeError:
        raise VideoTaskValidationError(
            f"{argument} must be a task id or a list of task ids, got {type(task_ids).__name__}"
        ) from None
    if not ids:
        raise VideoTaskValidationError(f"{argument} is empty: pass at least one vendor task id")
    for position, task_id in enumerate(ids):
        if not isinstance(task_id, str) or not task_id.strip():
            raise VideoTaskValidationError(
                f"{argument}[{position}] must be a non-empty string (a vendor task id), got {task_id!r}"
            )
    return [task_id.strip() for task_id in ids]


def unique(items: Iterable[str]) -> list[str]:
    """The items once each, in first-seen order."""
    return list(dict.fromkeys(items))


def chunked(items: Sequence[str], size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
