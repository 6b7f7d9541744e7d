"""What the page shows of each video task of a run, read from its XComs. Pure.

Every task that waits on vendor tasks pushes some of: ``video_request`` (what was asked: vendor, module or
service, prompt, model ...; the operators, before paying), ``video_task_ids`` (the moment the vendor task
exists), ``estimated_cost``, ``tasks`` (how each vendor task ended) and ``videos`` (the kept copies). A task
instance with any of them is a tile; one without is not a video task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_videotask.xcoms import (
    ESTIMATED_COST_XCOM_KEY,
    REQUEST_XCOM_KEY,
    TASKS_XCOM_KEY,
    VIDEO_TASK_IDS_XCOM_KEY,
    VIDEOS_XCOM_KEY,
    XCOM_KEYS,
)

_FAILED = frozenset({"failed", "upstream_failed"})
# What the page names the vendor's link of a video not kept: the vendors' links are temporary (Ace Data
# Cloud's and MiniMax's last hours; HiDream documents no lifetime: storage.py).
VENDOR_LINK_NOTE = "the vendor's link, not kept: it may stop working hours after the video was made"


@dataclass(frozen=True)
class Instance:
    """One task instance of the run as the page reads it: its Airflow state and its XComs by key."""

    task_id: str
    map_index: int
    state: str | None
    xcoms: Mapping[str, Any]


@dataclass(frozen=True)
class Clip:
    """One video of a tile: its kept copy (URI, connection, size, SHA-256), else the vendor's link."""

    kept_uri: str | None
    conn_id: str | None
    bytes: int | None
    sha256: str | None
    vendor_url: str | None
    content_type: str = "video/mp4"


@dataclass(frozen=True)
class Tile:
    task_id: str
    map_index: int
    state: str  # "succeeded", "failed" or "waiting"
    reason: str | None = None
    prompt: str | None = None
    vendor: str | None = None
    service: str | None = None  # Ace's service, or HiDream's module
    model: str | None = None
    seconds: float | None = None
    cost: float | None = None
    video_task_ids: tuple[str, ...] = ()
    clips: tuple[Clip, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass(frozen=True)
class Summary:
    succeeded: int
    failed: int
    waiting: int
    cost: float | None  # the estimates' sum; None when no task had a price


def tiles_of(instances: Iterable[Instance]) -> list[Tile]:
    """The run's video tasks, in task and map index order."""
    found = [tile_of(instance) for instance in instances if any(key in instance.xcoms for key in XCOM_KEYS)]
    return sorted(found, key=lambda tile: (tile.task_id, tile.map_index))


def _kept_copies(records: Sequence[Any]) -> list[Mapping[str, Any]]:
    """The kept copies a task recorded: its records, or with ``prompts=`` each item's ``kept`` (``xcoms.py``)."""
    copies: list[Mapping[str, Any]] = []
    for record in records:
        if isinstance(record, Mapping) and "index" in record:
            copies += [copy for copy in _list(record.get("kept")) if isinstance(copy, Mapping)]
        elif isinstance(record, Mapping):
            copies.append(record)
    return copies


def tile_of(instance: Instance) -> Tile:
    xcoms = instance.xcoms
    kept = _kept_copies(_list(xcoms.get(VIDEOS_XCOM_KEY)))
    # What was asked: the task's own record, else (StoreVideosOperator, a task of an older provider) the
    # submit fields its kept videos were recorded with, and their vendor.
    first = kept[0] if kept else {}
    request = _mapping(xcoms.get(REQUEST_XCOM_KEY)) or {
        **_mapping(first.get("parameters")),
        "vendor": first.get("vendor"),
    }
    tasks = [task for task in _list(xcoms.get(TASKS_XCOM_KEY)) if isinstance(task, Mapping)]
    state = _state(instance.state)
    seconds = [float(task["seconds"]) for task in tasks if isinstance(task.get("seconds"), (int, float))]
    return Tile(
        task_id=instance.task_id,
        map_index=instance.map_index,
        state=state,
        reason=_reason(state, tasks),
        prompt=_text(request.get("prompt")),
        vendor=_text(request.get("vendor")),
        service=_text(request.get("module")),
        model=_text(request.get("model")) or _text(request.get("version")),
        seconds=max(seconds) if seconds else None,
        cost=_number(xcoms.get(ESTIMATED_COST_XCOM_KEY)),
        video_task_ids=tuple(str(task_id) for task_id in _list(xcoms.get(VIDEO_TASK_IDS_XCOM_KEY))),
        clips=_clips(kept, tasks),
    )


def summary_of(tiles: Sequence[Tile]) -> Summary:
    costs = [tile.cost for tile in tiles if tile.cost is not None]
    return Summary(
        succeeded=sum(tile.state == "succeeded" for tile in tiles),
        failed=sum(tile.state == "failed" for tile in tiles),
        waiting=sum(tile.state == "waiting" for tile in tiles),
        cost=sum(costs) if costs else None,
    )


def _state(airflow_state: str | None) -> str:
    if airflow_state == "success":
        return "succeeded"
    return "failed" if airflow_state in _FAILED else "waiting"


def _reason(state: str, tasks: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a failed tile failed: the vendor's reasons, else a pointer to the task's log."""
    if state != "failed":
        return None
    reasons = [f"{task.get('state')}: {task['error']}" for task in tasks if task.get("error")]
    if reasons:
        return "; ".join(str(reason) for reason in reasons)
    bad = [str(task.get("state")) for task in tasks if task.get("state") in ("failed", "rejected")]
    return ", ".join(bad) or "the task failed before the vendor reported an end: see its log"


def _clips(kept: Sequence[Any], tasks: Sequence[Mapping[str, Any]]) -> tuple[Clip, ...]:
    """The kept copies when the task kept its videos, else the vendor's links of its finished tasks."""
    records = [record for record in kept if isinstance(record, Mapping) and record.get("stored_uri")]
    if records:
        return tuple(
            Clip(
                kept_uri=str(record["stored_uri"]),
                conn_id=_text(record.get("conn_id")),
                bytes=int(record["bytes"]) if isinstance(record.get("bytes"), int) else None,
                sha256=_text(record.get("sha256")),
                vendor_url=_text(record.get("source_url")),
                content_type=_text(record.get("content_type")) or "video/mp4",
            )
            for record in records
        )
    return tuple(
        Clip(kept_uri=None, conn_id=None, bytes=None, sha256=None, vendor_url=url)
        for task in tasks
        if task.get("state") == "succeeded"
        for url in _list(task.get("video_urls"))
        if isinstance(url, str)
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
