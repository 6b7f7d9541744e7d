"""How a batch of task ids is read: in chunks, every page of each, and around the ids a vendor refuses.

Pure: :func:`read_batch` is a generator that delegates each request to the caller's ``call`` (a flow
that sends it and returns what the answer parsed to, or raises the error it ended in), with
``yield from``; whatever ``call`` yields passes through. The sync and async hooks drive it alike, so
both paths share every rule here.

- Chunks: at most ``batch_size`` distinct ids per request (neither vendor documents a maximum; Ace
  Data Cloud's own MCP servers recommend at most 50, ``MCPs/hailuo/tools/task_tools.py``).
- Pages: a vendor whose answer says more items match than it returned (Ace's ``count``) is asked for
  the next page, so no id is taken for unknown just because it was on page two.
- Refused ids: one id the vendor will not take fails the whole request, with HTTP 400 (Ace: "a missing
  or malformed task id", seedance/docs/seedance_tasks_api_integration_guide.md) or with HTTP 200 and
  an error code (HiDream's envelope, Ace's error document). The chunk is then split in halves at once
  (no retries of a refused chunk) until the refused ids stand alone (about 2·log2(chunk) extra requests
  per refused id, once: they are remembered in ``refused``), so only those ids read as failed and
  every other id of the batch is still answered. A refusal that may be passing (``retryable``) is
  pinned on an id only if another id of the read is answered again and the id alone, retried, is
  refused still (``_Reader``).
- Single-task reads (``refused=None``: HiDream v3 and v4, which document no batch read): a 4xx on one
  task's read is a failed read, raised for the waiting rules to bound, never a verdict on the task. The
  address of those reads is less documented than a batch's, and a task read as failed may be
  submitted again by a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, MutableMapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_videotask.api.common import ApiRequest, chunked, unique
from airflow_provider_videotask.api.errors import VideoTaskApiError, VideoTaskRequestError
from airflow_provider_videotask.api.models import TaskState, VideoTask

# A bound on the pages of one chunk, in case a vendor's count never stops saying "more".
MAX_PAGES = 100


@dataclass(frozen=True)
class Page:
    """One batch answer: the tasks it holds, and how many the vendor says match in all (None: no paging)."""

    tasks: list[VideoTask]
    total: int | None = None


@dataclass(frozen=True)
class Step:
    """One request to send, and how to read its answer. ``retry_refusal=False``: a refusal of this request
    is not tried again as it stands, since the batch is split instead (see the module's docstring)."""

    request: ApiRequest
    parse: Callable[[object], Page]
    retry_refusal: bool = True


# (ids of the chunk, offset of the page) -> the request and its parser
PlanRequest = Callable[[Sequence[str], int], Step]
# A step sent and read: a generator yielding whatever its sender needs done, returning the page.
Call = Callable[[Step], Generator[Any, Any, Page]]
BatchRead = Generator[Any, Any, list[VideoTask]]


def read_batch(
    task_ids: Sequence[str],
    plan: PlanRequest,
    call: Call,
    *,
    batch_size: int,
    refused: MutableMapping[str, VideoTaskApiError] | None,
) -> BatchRead:
    """Every id's task, in the caller's order: found, refused (failed) or ``unknown``."""
    reader = _Reader(plan, call, refused)
    pending = [task_id for task_id in unique(task_ids) if refused is None or task_id not in refused]
    for chunk in chunked(pending, batch_size):
        reader.found.update((yield from reader.chunk(chunk, split=False)))
    yield from reader.confirm()
    return [reader.found.get(task_id) or _refused_task(task_id, refused or {}) for task_id in task_ids]


class _Reader:
    """One read of many ids: what was found, and which ids were refused.

    Splitting is the retry of a refused chunk: no request of a split is tried again as it stands. A
    refusal that another try might not repeat (``retryable``: HiDream's envelope codes, Ace's error
    documents with a 2xx status, which no page explains) is pinned on a lone id only once the vendor
    answered another id of the same read, answers it again now, and the lone id, read again with the
    hooks' retries, is still refused. Otherwise it is the gateway's, not an id's: the read fails as a
    whole (a failed poll, which the waiting rules ride out), and no task fails for a passing fault. A
    gateway refusing every id costs one read per split (2n - 1), no waits.
    """

    def __init__(self, plan: PlanRequest, call: Call, refused: MutableMapping[str, VideoTaskApiError] | None) -> None:
        self.plan = plan
        self.call = call
        self.refused = refused
        self.found: dict[str, VideoTask] = {}
        self.doubtful: list[str] = []  # lone ids refused with a code that may be passing
        self.doubt: VideoTaskRequestError | None = None

    def chunk(self, chunk: list[str], *, split: bool = True) -> Generator[Any, Any, dict[str, VideoTask]]:
        """``split``: a part of a refused chunk, read without retries (a chunk of one id read first gets the
        hooks' retries, as any single read does)."""
        try:
            retry_refusal = self.refused is None or (not split and len(chunk) == 1)
            return (yield from self._pages(chunk, retry_refusal=retry_refusal))
        except VideoTaskRequestError as error:
            if self.refused is None:
                raise
            if len(chunk) == 1:
                if error.retryable:
                    self.doubtful.append(chunk[0])
                    self.doubt = error
                else:
                    self.refused[chunk[0]] = error
                return {}
            middle = len(chunk) // 2
            found = yield from self.chunk(chunk[:middle])
            found.update((yield from self.chunk(chunk[middle:])))
            return found

    def confirm(self) -> Generator[Any, Any, None]:
        """Read each doubtful id alone once more, with retries, once an id the vendor answered in this read
        is answered again (else the gateway refuses everything now, and the read fails as a whole)."""
        if self.doubt is None:
            return
        answered = next(iter(self.found), None)
        if answered is None:
            raise self.doubt
        try:
            yield from self._pages([answered], retry_refusal=True)
        except VideoTaskRequestError:
            raise self.doubt from None
        for task_id in self.doubtful:
            try:
                self.found.update((yield from self._pages([task_id], retry_refusal=True)))
            except VideoTaskRequestError as error:
                assert self.refused is not None  # doubts arise only where refusals are remembered
                self.refused[task_id] = error

    def _pages(self, chunk: list[str], *, retry_refusal: bool) -> Generator[Any, Any, dict[str, VideoTask]]:
        wanted = set(chunk)
        found: dict[str, VideoTask] = {}
        offset = 0
        for _ in range(MAX_PAGES):
            page = yield from self.call(replace(self.plan(chunk, offset), retry_refusal=retry_refusal))
            for task in page.tasks:
                if task.task_id in wanted:
                    found.setdefault(task.task_id, task)
            offset += len(page.tasks)
            if page.total is None or not page.tasks or offset >= page.total or len(found) == len(wanted):
                break
        return found


def _refused_task(task_id: str, refused: MutableMapping[str, VideoTaskApiError]) -> VideoTask:
    error = refused.get(task_id)
    if error is None:
        return VideoTask.unknown(task_id)
    return VideoTask(task_id=task_id, state=TaskState.FAILED, error=f"the vendor refused this task id: {error}")
