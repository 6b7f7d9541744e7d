"""What the page shows of each video task of a run, read from its XComs. Pure.

Every task that waits on vendor tasks pushes some of: ``video_request`` (what was asked: vendor, module or
service, prompt, model ...; the operators, before paying), ``video_task_ids`` (the moment the vendor task
exists), ``estimated_cost``, ``tasks`` (how each vendor task ended) and ``videos`` (the kept copies). A task
instance with any of them is a video task; one without is not.

A tile is one video: a task instance of one video (``prompt=``, the sensor, ``StoreVideosOperator``) is one
tile, a batch (``prompts=[...]``) a tile per item, from its ``videos`` records (``xcoms.item_record``); while
a batch still waits, before those records exist, a tile per vendor task in ``video_task_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_videotask.xcoms import (
    BATCH_SIZE_FIELD,
    ESTIMATED_COST_XCOM_KEY,
    REQUEST_XCOM_KEY,
    TASKS_XCOM_KEY,
    VIDEO_TASK_IDS_XCOM_KEY,
    VIDEOS_XCOM_KEY,
    XCOM_KEYS,
)

_FAILED = frozenset({"failed", "upstream_failed"})
_VENDOR_FAILED = frozenset({"failed", "rejected"})
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
    # A batch's item: its index in ``prompts``; while the batch waits, its vendor task's place in
    # ``video_task_ids``. None: the task instance's one tile.
    item: int | None = None

    @property
    def label(self) -> str:
        task = self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"
        return task if self.item is None else f"{task} #{self.item}"


@dataclass(frozen=True)
class Summary:
    succeeded: int
    failed: int
    waiting: int
    cost: float | None  # the estimates' sum; None when no task had a price


def tiles_of(instances: Iterable[Instance]) -> list[Tile]:
    """The run's videos, in task, map index and item order."""
    found = [
        tile
        for instance in instances
        if any(key in instance.xcoms for key in XCOM_KEYS)
        for tile in instance_tiles(instance)
    ]
    return sorted(found, key=lambda tile: (tile.task_id, tile.map_index, -1 if tile.item is None else tile.item))


def instance_tiles(instance: Instance) -> list[Tile]:
    """A task instance's tiles: a batch's items (or, while it waits, its vendor tasks), else its one tile."""
    records = _item_records(instance.xcoms)
    if records:
        asked = _Asked.of(_mapping(instance.xcoms.get(REQUEST_XCOM_KEY)))
        return [_item_tile(instance, record, asked) for record in records]
    if _waiting_batch_size(instance.xcoms) is not None:
        return _waiting_tiles(instance)
    return [tile_of(instance)]


def clip_of(instance: Instance, item: int | None, n: int) -> Clip | None:
    """The n-th video of a tile of this task instance: of its item ``item``, built alone (the route serves one
    video of a batch of thousands); ``item`` None: of the task's tile as a whole, as addressed before a
    batch had a tile per item (its items' kept copies numbered across them)."""
    if item is None:
        clips = tile_of(instance).clips
    elif records := _item_records(instance.xcoms):
        record = next((record for record in records if record["index"] == item), None)
        clips = () if record is None else _item_tile(instance, record, _Asked.of({})).clips  # asks nothing
    else:
        clips = next((tile.clips for tile in instance_tiles(instance) if tile.item == item), ())
    return clips[n] if 0 <= n < len(clips) else None


def _kept_copies(records: Sequence[Any]) -> list[Mapping[str, Any]]:
    """The kept copies a task recorded: its records, or with ``prompts=`` each item's ``kept`` (``xcoms.py``),
    one after another: a batch's clips as addressed before its items had tiles (``clip_of``)."""
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
    tasks = _tasks(xcoms)
    state = _state(instance.state)
    seconds = [float(task["seconds"]) for task in tasks if isinstance(task.get("seconds"), (int, float))]
    asked = _Asked.of(request)
    return Tile(
        task_id=instance.task_id,
        map_index=instance.map_index,
        state=state,
        reason=_reason(state, tasks),
        prompt=_text(request.get("prompt")),
        vendor=asked.vendor,
        service=asked.service,
        model=asked.model,
        seconds=max(seconds) if seconds else None,
        cost=_number(xcoms.get(ESTIMATED_COST_XCOM_KEY)),
        video_task_ids=tuple(str(task_id) for task_id in _list(xcoms.get(VIDEO_TASK_IDS_XCOM_KEY))),
        clips=_clips(kept, tasks),
    )


def _item_tile(instance: Instance, record: Mapping[str, Any], asked: _Asked) -> Tile:
    """A batch's item from its record (``xcoms.item_record``): its prompt, how it ended, its videos."""
    vendor_state = str(record.get("state"))
    reason = _text(record.get("reason"))
    state = _item_state(vendor_state, reason)
    video_task_id = _text(record.get("video_task_id"))
    kept = _kept_copies([record])
    return Tile(
        task_id=instance.task_id,
        map_index=instance.map_index,
        item=int(record["index"]),
        state=state,
        reason=(reason or vendor_state) if state == "failed" else None,
        prompt=_text(record.get("prompt")),
        seconds=_number(record.get("seconds")),
        cost=_number(record.get("cost")),
        video_task_ids=(video_task_id,) if video_task_id else (),
        clips=_clips(kept, [{"state": vendor_state, "video_urls": record.get("video_urls")}]),
        vendor=asked.vendor,
        service=asked.service,
        model=asked.model,
    )


def _item_state(vendor_state: str, reason: str | None) -> str:
    """An item's state on the page: an item without a video has a reason (``operators/results.py``), so it
    failed, whatever its vendor task says."""
    if vendor_state == "succeeded":
        return "succeeded"
    return "failed" if vendor_state in _VENDOR_FAILED or reason else "waiting"


def _waiting_tiles(instance: Instance) -> list[Tile]:
    """A batch before its records: a tile per vendor task, as XCom ``tasks`` has it where it ended, else as
    the task instance stands. Which prompt each was is not known yet (a refused submit has no vendor task),
    so none is shown; each has its share of the batch's estimate, so that the summary still sums it."""
    xcoms = instance.xcoms
    ids = [str(video_task_id) for video_task_id in _list(xcoms.get(VIDEO_TASK_IDS_XCOM_KEY))]
    size = _waiting_batch_size(xcoms) or len(ids)
    estimate = _number(xcoms.get(ESTIMATED_COST_XCOM_KEY))
    ended = {
        str(task.get("task_id")): task for task in _tasks(xcoms) if task.get("state") in ("succeeded", *_VENDOR_FAILED)
    }
    asked, default = _Asked.of(_mapping(xcoms.get(REQUEST_XCOM_KEY))), _state(instance.state)
    tiles = []
    for place, video_task_id in enumerate(ids):
        task = ended.get(video_task_id)
        state = default if task is None else "succeeded" if task["state"] == "succeeded" else "failed"
        tasks = [] if task is None else [task]
        tiles.append(
            Tile(
                task_id=instance.task_id,
                map_index=instance.map_index,
                item=place,
                state=state,
                reason=_reason(state, tasks),
                seconds=None if task is None else _number(task.get("seconds")),
                cost=None if estimate is None else estimate / size,
                video_task_ids=(video_task_id,),
                clips=_clips([], tasks),
                vendor=asked.vendor,
                service=asked.service,
                model=asked.model,
            )
        )
    return tiles


def _item_records(xcoms: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A batch's records in XCom ``videos`` (each with its ``index``); [] for a task of one video."""
    return [
        record
        for record in _list(xcoms.get(VIDEOS_XCOM_KEY))
        if isinstance(record, Mapping)
        and isinstance(record.get("index"), int)
        and not isinstance(record["index"], bool)
    ]


def _waiting_batch_size(xcoms: Mapping[str, Any]) -> int | None:
    """The size of a batch that has vendor tasks but no records yet (its request says how many videos it holds:
    the sensor pushes several ids too); None for anything else."""
    size = _mapping(xcoms.get(REQUEST_XCOM_KEY)).get(BATCH_SIZE_FIELD)
    if not isinstance(size, int) or isinstance(size, bool) or not _list(xcoms.get(VIDEO_TASK_IDS_XCOM_KEY)):
        return None
    return size


@dataclass(frozen=True)
class _Asked:
    """A batch's fields from its request: the same on each of its tiles, read once for its thousands."""

    vendor: str | None
    service: str | None  # Ace's service, or HiDream's module
    model: str | None

    @classmethod
    def of(cls, request: Mapping[str, Any]) -> _Asked:
        model = _text(request.get("model")) or _text(request.get("version"))
        return cls(_text(request.get("vendor")), _text(request.get("module")), model)


def _tasks(xcoms: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [task for task in _list(xcoms.get(TASKS_XCOM_KEY)) if isinstance(task, Mapping)]


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
