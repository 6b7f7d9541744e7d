"""Where the page's data comes from: the run's task instances and XComs in the metadata database, and each
kept video in its object storage, read in byte ranges so that a player can seek."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_videotask.gallery.tiles import Clip, Instance
from airflow_provider_videotask.xcoms import XCOM_KEYS

CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# A batch's ``videos`` XCom holds a record per item (about 2 MB at 2,000), and each of a page's players asks for
# its own clip: the task instance as last read, by its video XComs' newest write and count, is parsed once.
_READ: OrderedDict[tuple[str, str, str, int], tuple[tuple[Any, ...], Instance]] = OrderedDict()
_READ_KEPT = 16
_READ_LOCK = threading.Lock()


def _video_xcoms(dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None) -> Any:
    """The where-clause of a run's video XComs (or of one task instance's)."""
    from airflow.models.xcom import XComModel

    clause = [XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key.in_(XCOM_KEYS)]
    if task_id is not None:
        clause += [XComModel.task_id == task_id, XComModel.map_index == map_index]
    return clause


def run_instances(dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None) -> list[Instance]:
    """The run's task instances (or one of them) with their video XComs: two queries, whatever the run's size."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
        )
        xcoms = select(XComModel).where(*_video_xcoms(dag_id, run_id, task_id, map_index))
        if task_id is not None:
            tis = tis.where(TaskInstance.task_id == task_id, TaskInstance.map_index == map_index)
        values: dict[tuple[str, int], dict[str, Any]] = {}
        for row in session.scalars(xcoms):
            values.setdefault((str(row.task_id), int(row.map_index)), {})[str(row.key)] = XComModel.deserialize_value(
                row
            )
        return [
            Instance(ti_task_id, ti_map_index, None if state is None else str(getattr(state, "value", state)),
                     values.get((ti_task_id, ti_map_index), {}))
            for ti_task_id, ti_map_index, state in session.execute(tis)
        ]  # fmt: skip


def task_instance(dag_id: str, run_id: str, task_id: str, map_index: int) -> Instance | None:
    """One task instance with its video XComs (None if the run has no such one), for a clip: read again only
    when its XComs changed since the last read (one small query), so a page's players parse a batch once."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    key = (dag_id, run_id, task_id, map_index)
    with create_session() as session:
        written = tuple(
            session.execute(
                select(func.max(XComModel.timestamp), func.count()).where(
                    *_video_xcoms(dag_id, run_id, task_id, map_index)
                )
            ).one()
        )
    with _READ_LOCK:
        if (read := _READ.get(key)) is not None and read[0] == written:
            _READ.move_to_end(key)
            return read[1]
    instances = run_instances(dag_id, run_id, task_id, map_index)
    if not instances:
        return None
    with _READ_LOCK:
        _READ[key] = (written, instances[0])
        while len(_READ) > _READ_KEPT:
            _READ.popitem(last=False)
    return instances[0]


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def byte_range(header: str | None, size: int) -> ByteRange | str | None:
    """The one range a ``Range`` header asks for within ``size`` bytes: None for the whole file (no header,
    or one this does not serve: several ranges), ``"unsatisfiable"`` for a range past the end (416)."""
    match = _RANGE.match((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if first and last and int(last) < int(first):
        return None  # not a valid range: ignored, the whole file is sent (RFC 9110, 14.2)
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last)) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return ByteRange(start, end, size)


def kept_size(clip: Clip) -> int:
    """The kept copy's size: as recorded, else as the storage says."""
    if clip.bytes is not None:
        return clip.bytes
    return int(_path(clip).stat().st_size)


def open_kept(clip: Clip, start: int) -> Any:
    """The kept copy, open at ``start``: ``FileNotFoundError`` (or another ``OSError``) when it is gone,
    before anything is sent."""
    stream = _path(clip).open("rb")
    try:
        stream.seek(start)
    except BaseException:
        stream.close()
        raise
    return stream


def read_kept(stream: Any, length: int) -> Iterator[bytes]:
    """``length`` bytes of an open kept copy (``open_kept``), in chunks (flat memory, whatever the video's
    size); closes it at the end, or when the reader stops early (a player seeking elsewhere)."""
    try:
        while length > 0:
            chunk = stream.read(min(CHUNK_BYTES, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        stream.close()


def _path(clip: Clip) -> Any:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(str(clip.kept_uri), conn_id=clip.conn_id)
