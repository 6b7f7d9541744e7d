"""How a video operator's wait ends, item by item, in the order of its prompts.

Each item ends with its videos, or with a reason it has none (the vendor failed or rejected it, its
submit was rejected, or its submit's fate is unknown). The task succeeds while no more items failed than
``allowed_failures`` (a count, or a fraction of the batch); past it, it fails once every item is final,
after the videos of every item that succeeded were kept and recorded: nothing paid is lost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.operators.items import short
from airflow_provider_videotask.outputs import OutputSpec, store_videos
from airflow_provider_videotask.storage import videos_of
from airflow_provider_videotask.wait_rules import summary_table
from airflow_provider_videotask.xcoms import item_record

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# A batch's summary table lists every failure, and the successes only up to this many rows.
SUMMARY_ROWS = 50


@dataclass
class ItemResult:
    """One item at the end: its vendor task (None: it never got one) and its outputs."""

    index: int
    fields: Mapping[str, Any]
    task: VideoTask | None = None
    reason: str | None = None  # why it has no video
    kept: list[dict[str, Any]] = field(default_factory=list)
    cost: float | None = None

    @property
    def prompt(self) -> str | None:
        return self.fields.get("prompt")

    @property
    def succeeded(self) -> bool:
        return self.task is not None and self.task.state is TaskState.SUCCEEDED

    @property
    def outputs(self) -> list[str]:
        """What ``return_value`` holds for it: the kept URIs, else the vendor's URLs; [] when it failed."""
        if not self.succeeded or self.task is None:
            return []
        return [record["stored_uri"] for record in self.kept] if self.kept else list(self.task.video_urls)

    def record(self) -> dict[str, Any]:
        """Its entry in XCom ``videos`` (batches): ``xcoms.item_record``."""
        task = None if self.task is None else self.task.to_dict()
        return item_record(self.index, self.prompt, task, self.reason, self.kept, self.cost)


def check_allowed_failures(value: Any) -> None:
    """A count (whole number >= 0) or a fraction of the batch (0 < f < 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise VideoTaskValidationError(
            f"allowed_failures must be a count of videos (0, 1, 2 ...) or a fraction of the batch (e.g. 0.05), "
            f"got {value!r}"
        )
    if isinstance(value, float) and value >= 1 and not value.is_integer():
        raise VideoTaskValidationError(f"allowed_failures as a fraction must be below 1, got {value!r}")


def failures_allowed(value: float, size: int) -> int:
    """How many of ``size`` items may fail: a count as it is, a fraction of the batch rounded down."""
    return int(value) if value >= 1 or value == 0 else math.floor(value * size)


def item_results(
    items: Sequence[tuple[int, Mapping[str, Any]]],
    ids: Mapping[int, str],
    tasks: Sequence[VideoTask],
    failures: Mapping[int, str],
) -> list[ItemResult]:
    """Every item in order, with its vendor task as the wait saw it, or the reason it has none."""
    by_id = {task.task_id: task for task in tasks}
    results = []
    for index, fields in items:
        task = by_id.get(ids[index]) if index in ids else None
        reason = failures.get(index)
        if task is not None and task.state is not TaskState.SUCCEEDED:
            reason = f"{task.state.value}" + (f": {task.error}" if task.error else "")
        elif task is None and reason is None:
            reason = "no vendor task"
        results.append(ItemResult(index, fields, task, reason))
    return results


def keep_items(
    context: Context, results: Sequence[ItemResult], output: OutputSpec, vendor: str
) -> list[dict[str, Any]]:
    """Store the videos of the items that succeeded; each item's kept records; every record, in order."""
    finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    videos, owners = [], []
    for result in results:
        if result.succeeded and result.task is not None:
            for video in videos_of(vendor, [result.task], result.fields, finished_at):
                videos.append(video)
                owners.append(result)
    stored = store_videos(context, videos, output)
    for owner, record in zip(owners, stored, strict=True):
        owner.kept.append(record)
    return stored


def failure_list(results: Sequence[ItemResult], *, batch: bool = True) -> str:
    """One line per failed item: index, the start of its prompt, the reason."""
    return "\n".join(
        f"  {f'prompts[{result.index}] ' if batch else ''}{short(result.prompt)!r}: {result.reason}"
        for result in results
        if not result.succeeded
    )


def batch_summary(results: Sequence[ItemResult]) -> str:
    """The end of a batch for the log: every failure in full, the successes as a count past SUMMARY_ROWS."""
    tasks = [result.task for result in results if result.task is not None]
    succeeded = [task for task in tasks if task.state is TaskState.SUCCEEDED]
    others = [task for task in tasks if task.state is not TaskState.SUCCEEDED]
    shown = others + succeeded[: max(0, SUMMARY_ROWS - len(others))]
    table = summary_table(shown) if shown else ""
    if len(shown) < len(tasks):
        table += f"\n... and {len(tasks) - len(shown)} more succeeded"
    without = [result for result in results if result.task is None]
    if without:
        table += "\nWithout a vendor task:\n" + failure_list(without)
    return table


def past_allowed(
    failed: Sequence[ItemResult], size: int, allowed_failures: float, *, batch: bool, kept: bool
) -> str | None:
    """Why the task fails when more videos failed than ``allowed_failures`` allows; None when it may succeed."""
    allowed = failures_allowed(allowed_failures, size)
    if len(failed) <= allowed:
        return None
    if not batch:
        return f"The video failed ({failed[0].reason}). Not retried: a failed video stays failed."
    return (
        f"{len(failed)} of {size} videos failed, more than allowed_failures={allowed_failures:g} allows ({allowed}); "
        f"the {size - len(failed)} that succeeded were recorded{' and kept' if kept else ''}. Not retried: a failed "
        f"video stays failed (clearing this task submits only the failed ones anew).\n{failure_list(failed)}"
    )
