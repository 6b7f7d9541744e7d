"""The ledger of paid submits: what a task instance has sent to a vendor, kept across its tries.

Every submit is written down twice: its intent, durably, before the request leaves (``sending``), and
the vendor's task id the moment it is known (``paid``). A later try of the same task instance (an Airflow
retry, a worker killed with ``-9``, a person clearing a failed task) reads the ledger before anything else:

- an item with a vendor task id is reattached: still running, it is waited on; succeeded, its videos are
  taken; failed, it is submitted anew (and its entry replaced);
- an item whose submit left without an answer (``sending`` and no id: the try died while the answer was
  on its way, or the vendor answered 5xx or not at all) is of *unknown fate*: the vendor may have made
  and billed it, so it is never sent again; the task reports it with when it was sent;
- an item with no entry was never sent: it is submitted.

Where it is kept, the same rules on every supported Airflow:

- Airflow 3.3+: the task state store (``context["task_state_store"]``), scoped to the task instance.
- Airflow 3.0 to 3.2: Airflow Variables, which every deployment has, are written through the Task SDK
  (so they work with any executor), survive a killed worker and a retry, and are not cleared when a new
  try starts (XComs are). Keys ``videotask_ledger.<digest>.<page>``; the description names the task.

Items are kept in pages of :data:`PAGE_SIZE`, one key each, so a write costs one page however large the
batch; submits are written a wave at a time (one write before a wave leaves, one when it is answered).
The ledger is deleted when the task succeeds. A task that ends failed keeps it, so clearing it
reattaches to what was paid instead of paying again (docs/spend-safety.md).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

PAGE_SIZE = 100
KEY_PREFIX = "videotask_ledger"


class Store(Protocol):
    """A durable key-value store of JSON values (the task state store's own interface)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class Entry:
    """One item's submit as the ledger holds it.

    :param sent_at: Unix time the submit was sent (or about to be).
    :param fingerprint: a digest of the item's fields, so a retry whose prompts changed never takes
        another prompt's paid task for its own.
    :param video_task_id: the vendor's task id (None: no answer yet, or none came).
    :param unknown: why the submit's fate is unknown, when its try said so itself (a 5xx, a timeout).
    """

    sent_at: float
    fingerprint: str
    video_task_id: str | None = None
    unknown: str | None = None

    @property
    def fate_unknown(self) -> bool:
        """Sent, and no task id came back: the vendor may have made (and billed) it."""
        return self.video_task_id is None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"s": round(self.sent_at, 3), "f": self.fingerprint}
        if self.video_task_id is not None:
            document["id"] = self.video_task_id
        if self.unknown is not None:
            document["u"] = self.unknown
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Entry:
        task_id = document.get("id")
        return cls(
            float(document["s"]),
            str(document["f"]),
            None if task_id is None else str(task_id),
            None if document.get("u") is None else str(document["u"]),
        )


def fingerprint(fields: Mapping[str, Any]) -> str:
    """A short digest of an item's submit fields (callback URLs left out: they are not the video)."""
    text = json.dumps(dict(fields), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Ledger:
    """The entries of one task instance's items, read once per try and written a wave at a time.

    :param store: where the pages are kept (:func:`open_store`).
    :param size: how many items the task has: the pages read and, on success, deleted.
    :param new: the first look of a task instance's first try, when nothing can be stored yet: its pages
        are made, empty, instead of read, so that no read ever asks for a key that is not there (Airflow
        3.0 to 3.2 log a missing Variable at error level, a false error line in every run).
    """

    def __init__(self, store: Store, size: int, *, new: bool = False) -> None:
        self.store = store
        self.pages = max(1, math.ceil(size / PAGE_SIZE))
        self.entries: dict[int, Entry] = {}
        for page in range(self.pages):
            if new:
                store.set(_page_key(page), {})
                continue
            document = store.get(_page_key(page))
            for index, entry in document.items() if isinstance(document, Mapping) else ():
                self.entries[int(index)] = Entry.from_json(entry)

    def record(self, changes: Mapping[int, Entry | None]) -> None:
        """Write these items' entries (None: forget the item, nothing was billed), one write per page."""
        touched: set[int] = set()
        for index, entry in changes.items():
            if entry is None:
                self.entries.pop(index, None)
            else:
                self.entries[index] = entry
            touched.add(index // PAGE_SIZE)
        for page in sorted(touched):
            self._write(page)

    def _write(self, page: int) -> None:
        first = page * PAGE_SIZE
        document = {
            str(index): entry.to_json()
            for index, entry in sorted(self.entries.items())
            if first <= index < first + PAGE_SIZE
        }
        self.store.set(_page_key(page), document)  # an empty page stays: it is read on the next look

    def delete(self) -> None:
        """The task succeeded: nothing is left to reattach to."""
        for page in range(self.pages):
            self.store.delete(_page_key(page))
        self.entries.clear()

    def paid_ids(self, indexes: Iterable[int]) -> dict[int, str]:
        """The vendor task ids of these items, where they have one."""
        return {
            index: entry.video_task_id
            for index in indexes
            if (entry := self.entries.get(index)) is not None and entry.video_task_id is not None
        }


def _page_key(page: int) -> str:
    return f"{KEY_PREFIX}.{page}"


class VariableStore:
    """Airflow Variables as the ledger's store (Airflow 3.0 to 3.2), under keys of this task instance.

    :param identity: what names the task instance: dag id, run id, task id, map index.
    """

    def __init__(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
        digest = hashlib.sha256(json.dumps([dag_id, run_id, task_id, map_index]).encode()).hexdigest()[:24]
        self.prefix = f"{KEY_PREFIX}.{digest}"
        where = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        self.description = (
            f"airflow-provider-videotask: the paid submits of {dag_id}.{where} in run {run_id}; deleted when "
            "the task succeeds. Deleting it makes a retry or a clear pay again for what was paid."
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key.rsplit('.', 1)[-1]}"

    def get(self, key: str) -> Any:
        from airflow.sdk import Variable

        value = Variable.get(self._key(key), default=None)
        return None if value is None else json.loads(value)

    def set(self, key: str, value: Any) -> None:
        from airflow.sdk import Variable

        Variable.set(self._key(key), json.dumps(value, separators=(",", ":")), description=self.description)

    def delete(self, key: str) -> None:
        from airflow.sdk import Variable

        Variable.delete(self._key(key))


def open_store(context: Mapping[str, Any]) -> Store:
    """The task instance's durable store: the task state store where Airflow has one (3.3+), else Variables."""
    store = context.get("task_state_store")
    if store is not None:
        return store  # type: ignore[no-any-return]
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    return VariableStore(ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else int(map_index))


def where_kept(store: Store) -> str:
    """Where a person finds the ledger kept in ``store``, for a message that asks them to look."""
    if isinstance(store, VariableStore):
        return f"the Airflow Variables {store.prefix}.* (Admin > Variables)"
    return f"the keys {KEY_PREFIX}.* of this task instance's state store"
