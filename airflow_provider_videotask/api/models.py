"""The provider's vocabulary for a vendor task, shared by both vendors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TaskState(str, Enum):
    """Where a vendor task stands, in one vocabulary for every vendor."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.REJECTED)

    @property
    def is_failure(self) -> bool:
        return self in (TaskState.FAILED, TaskState.REJECTED)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class VideoTask:
    """One vendor task as the provider sees it.

    ``video_urls`` holds every finished video of the task in sub-task order; ``raw`` keeps the vendor's
    own document for callers that need a field the provider does not model (it never goes to XCom).

    Two readings cannot be taken at face value, and the task then reads as running while the waiting
    rules (``wait_rules.py``) bound how long that may last: ``unrecognised_state`` holds a state
    value the reader does not know (a new vendor word or number); ``missing_video`` says the vendor
    reports the task done but gave no video URL.

    ``created_at`` and ``finished_at`` are the vendor's own Unix times, where it reports them (Ace Data
    Cloud does, HiDream does not). ``seconds`` (submit to finish) and ``detection_delay`` (finish to seen
    finished, only with the vendor's ``finished_at``) are filled by the wait when it first sees the task
    over (``wait_rules.Wait``).
    """

    task_id: str
    state: TaskState
    progress: float | None = None
    video_urls: tuple[str, ...] = ()
    error: str | None = None
    video_ids: tuple[str, ...] = ()  # the vendor's ids of the videos, where it gives them (what ``extend`` takes)
    unrecognised_state: str | None = None
    missing_video: bool = False
    created_at: float | None = None
    finished_at: float | None = None
    seconds: float | None = None
    detection_delay: float | None = None
    raw: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def unknown(cls, task_id: str) -> VideoTask:
        """A task the vendor did not return (not created yet, or not there at all)."""
        return cls(task_id=task_id, state=TaskState.UNKNOWN)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe form used in trigger events and XCom: small, without the raw document."""
        return {
            "task_id": self.task_id,
            "state": self.state.value,
            "progress": self.progress,
            "video_urls": list(self.video_urls),
            "video_ids": list(self.video_ids),
            "error": self.error,
            "seconds": self.seconds,
            "detection_delay": self.detection_delay,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoTask:
        """Rebuild a task from :meth:`to_dict` output (a trigger event, an XCom value)."""
        progress, seconds, delay = (data.get(key) for key in ("progress", "seconds", "detection_delay"))
        return cls(
            task_id=str(data["task_id"]),
            state=TaskState(data["state"]),
            progress=float(progress) if progress is not None else None,
            video_urls=tuple(str(url) for url in data.get("video_urls") or ()),
            error=data.get("error"),
            video_ids=tuple(str(video_id) for video_id in data.get("video_ids") or ()),
            seconds=float(seconds) if seconds is not None else None,
            detection_delay=float(delay) if delay is not None else None,
        )
