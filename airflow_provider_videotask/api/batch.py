"""How a batch of task ids is read: in chunks, every page of each, and around the ids a vendor refuses.

Pure: :func:`read_batch` is a generator that yields the requests to send and is sent back what each
answer parsed to (or thrown the error it ended in). The sync and async hooks drive it alike, so both
paths share every rule here.

- Chunks: at most ``batch_size`` distinct ids per request (neither vendor documents a maximum; Ace
  Data Cloud's own MCP servers recommend at most 50, ``MCPs/hailuo/tools/task_tools.py``).
- Pages: a vendor whose answer says more items match than it returned (Ace's ``count``) is asked for
  the next page, so no id is taken for unknown just because it was on page two.
- Refused ids: one id the vendor will not take fails the whole request, with HTTP 400 (Ace: "a missing
  or malformed task id", seedance/docs/seedance_tasks_api_integration_guide.md) or with HTTP 200 and
  an error code (HiDream's envelope, Ace's error document). The chunk is then split in halves at once
  (no retries of a refused chunk) until the refused ids stand alone (about 2·log2(chunk) extra requests
  per refused id, once: they are remembered in ``refused``), so only those ids read as failed and
  every other id of the batch is still answered. A lone id gets the hooks' retries first; a refusal
  that may be passing (``retryable``) is pinned on it only if other ids were answered (``_Reader``).
- Single-task reads (``refused=None``: HiDream v3 and v4, which document no batch read): a 4xx on one
  task's read is a failed read, raised for the waiting rules to bound, never a verdict on the task. The
  address of those reads is less documented than a batch's, and a task read as failed may be
  submitted again by a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, MutableMapping, Sequence
from dataclasses import dataclass, replace

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
    """One request to send, and how to read its answer. ``split_on_refusal``: a refusal of this request
    is not tried again as it stands, since the batch is split instead (see the module's docstring)."""

    request: ApiRequest
    parse: Callable[[object], Page]
    split_on_refusal: bool = False


# (ids of the chunk, offset of the page) -> the request and its parser
PlanRequest = Callable[[Sequence[str], int], Step]
BatchRead = Generator[Step, Page, list[VideoTask]]


def read_batch(
    task_ids: Sequence[str],
    plan: PlanRequest,
    *,
    batch_size: int,
    refused: MutableMapping[str, VideoTaskApiError] | None,
) -> BatchRead:
    """Every id's task, in the caller's order: found, refused (failed) or ``unknown``."""
    reader = _Reader(plan, refused)
    pending = [task_id for task_id in unique(task_ids) if refused is None or task_id not in refused]
    for chunk in chunked(pending, batch_size):
        reader.found.update((yield from reader.chunk(chunk)))
    return reader.result(task_ids)


class _Reader:
    """One read of many ids: what was found, and which ids were refused.

    A refusal that another try might not repeat (HiDream's envelope codes: no table says which are
    final) is pinned on an id only if the vendor answered other ids in the same read; otherwise it is
    the gateway's, not an id's, and the read fails as a whole (a failed poll, which the waiting rules
    ride out), so no task is failed for a passing fault.
    """

    def __init__(self, plan: PlanRequest, refused: MutableMapping[str, VideoTaskApiError] | None) -> None:
        self.plan = plan
        self.refused = refused
        self.found: dict[str, VideoTask] = {}
        self.doubtful: dict[str, VideoTaskRequestError] = {}  # refused, but maybe only for now
        self.answered = False

    def chunk(self, chunk: list[str]) -> Generator[Step, Page, dict[str, VideoTask]]:
        try:
            return (yield from self._pages(chunk))
        except VideoTaskRequestError as error:
            if self.refused is None:
                raise
            if len(chunk) == 1:
                (self.doubtful if error.retryable else self.refused)[chunk[0]] = error
                return {}
            middle = len(chunk) // 2
            found = yield from self.chunk(chunk[:middle])
            found.update((yield from self.chunk(chunk[middle:])))
            return found

    def _pages(self, chunk: list[str]) -> Generator[Step, Page, dict[str, VideoTask]]:
        wanted = set(chunk)
        found: dict[str, VideoTask] = {}
        offset = 0
        # Splitting is the retry of a refused chunk of several ids; a lone id gets the hooks' retries.
        split = self.refused is not None and len(chunk) > 1
        for _ in range(MAX_PAGES):
            page = yield replace(self.plan(chunk, offset), split_on_refusal=split)
            self.answered = True
            for task in page.tasks:
                if task.task_id in wanted:
                    found.setdefault(task.task_id, task)
            offset += len(page.tasks)
            if page.total is None or not page.tasks or offset >= page.total or len(found) == len(wanted):
                break
        return found

    def result(self, task_ids: Sequence[str]) -> list[VideoTask]:
        if self.doubtful and not self.answered:
            raise next(iter(self.doubtful.values()))
        if self.refused is not None:
            self.refused.update(self.doubtful)
        return [self.found.get(task_id) or _refused_task(task_id, self.refused or {}) for task_id in task_ids]


def _refused_task(task_id: str, refused: MutableMapping[str, VideoTaskApiError]) -> VideoTask:
    error = refused.get(task_id)
    if error is None:
        return VideoTask.unknown(task_id)
    return VideoTask(task_id=task_id, state=TaskState.FAILED, error=f"the vendor refused this task id: {error}")
