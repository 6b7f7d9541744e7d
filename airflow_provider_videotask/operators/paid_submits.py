"""The paid-submit protocol the video operators share, for one video or thousands: through the ledger.

- Before a wave of submits leaves, each item's intent is written to the ledger (one write); when the
  wave is answered, each accepted item's vendor task id (one write). Up to ``in_flight`` submits of a
  wave are sent at once, each under the connection's own pacing.
- An answer decides the item (``api/errors.py``, ``submit_fate``): *accepted* (a task id), *refused*
  (429, held back by the connection's pacing: nothing billed; tried again after its wait), *rejected*
  (400, 403 ...: nothing billed; the item fails with the vendor's reason) or of *unknown* fate (a 5xx,
  a timeout after sending, an unreadable answer: the vendor may have made and billed it; never sent
  again, and reported with when it was sent).
- A later try reads the ledger first (:func:`reattach`): ids are read once from the vendor; a failed one
  is submitted anew, a running or succeeded one waited on; an intent without an id is of unknown fate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_videotask.api.errors import SubmitFate, VideoTaskApiError, VideoTaskValidationError, submit_fate
from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.ledger import Entry, Ledger

if TYPE_CHECKING:
    from airflow_provider_videotask.hooks.base import VideoTaskHook
    from airflow_provider_videotask.operators.base import VideoGenerationOperator


@dataclass(frozen=True)
class Item:
    """One video of the task: its place in ``prompts``, the operator as it is for it, its fingerprint."""

    index: int
    video: VideoGenerationOperator
    fingerprint: str


@dataclass(frozen=True)
class Outcome:
    """How one submit was answered: ``fate`` is ``accepted``, or a ``SubmitFate`` value."""

    index: int
    fate: str
    task_id: str | None = None
    error: Exception | None = None


@dataclass
class Reattached:
    """What a try found in the ledger beyond the ids it paid for (``Ledger.paid_ids``): items to send (anew),
    items of unknown fate, and the vendor tasks that succeeded for an earlier try (not waited on again: their
    callbacks, if any, came then)."""

    to_send: list[int] = field(default_factory=list)
    unknown: dict[int, str] = field(default_factory=dict)  # index -> why, with when it was sent
    succeeded: list[VideoTask] = field(default_factory=list)

    def waiting(self, paid: Sequence[str]) -> list[str]:
        """The paid-for tasks still to wait on: all but those that succeeded for an earlier try."""
        over = {task.task_id for task in self.succeeded}
        return [task_id for task_id in paid if task_id not in over]


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")


def reattach(
    ledger: Ledger,
    items: Sequence[Item],
    hook: VideoTaskHook,
    module: str | None,
    log: Any,
    *,
    read_vendor: bool,
    where: str,
) -> Reattached:
    """What the ledger holds for these items. A new try (``read_vendor``) reads the recorded ids once from the
    vendor, in batch reads, to submit the failed ones anew; a try back from a refusal's wait has just paid
    for them and waits on them all."""
    found = Reattached()
    recorded: dict[int, str] = {}
    for item in items:
        entry = ledger.entries.get(item.index)
        if entry is None:
            found.to_send.append(item.index)
        elif entry.fingerprint != item.fingerprint:
            raise VideoTaskValidationError(
                f"prompts[{item.index}] is not what an earlier try of this task paid for (its fields changed since, "
                f"e.g. an upstream XCom): nothing is sent. Vendor task {entry.video_task_id or '(no id)'} was sent "
                f"at {iso(entry.sent_at)}. Run the new prompts in a new DAG run, or restore the old ones."
            )
        elif entry.video_task_id is None:
            found.unknown[item.index] = unknown_reason(item.index, entry, hook, where)
        else:
            recorded[item.index] = entry.video_task_id
    if recorded and read_vendor:
        tasks = {task.task_id: task for task in hook.get_tasks(list(recorded.values()), module)}
        failed = [index for index, task_id in recorded.items() if task_id in tasks and tasks[task_id].state.is_failure]
        found.to_send += failed
        found.succeeded = [task for task in tasks.values() if task.state is TaskState.SUCCEEDED]
        log.info(
            "Reattached to %d video task(s) an earlier try paid for; %d of them failed and are submitted anew",
            len(recorded),
            len(failed),
        )
    found.to_send.sort()
    return found


def unknown_reason(index: int, entry: Entry, hook: VideoTaskHook, where: str) -> str:
    """Why an item has no task id and is not sent again, where a person looks, and how to go on."""
    sent_at = iso(entry.sent_at)
    how = entry.unknown or "the try that sent it was stopped before the answer came"
    return (
        f"the submit's fate is unknown (sent at {sent_at}; {how}): {hook.vendor} may have created (and billed) the "
        f"task. It is not sent again. Look for a task submitted at about {sent_at} in {hook.console}; clear this "
        f"task only if there is none, after deleting item {index} from the ledger ({where}): clearing then submits it"
    )


class PaidSubmits:
    """Sends waves of items' submits, each item written to the ledger before it leaves and once answered.

    :param ledger: the task instance's ledger.
    :param in_flight: the most submits sent at once.
    :param count: called with each submit's fate and its item's operator (metrics).
    """

    def __init__(self, ledger: Ledger, in_flight: int, count: Callable[[str, VideoGenerationOperator], None]) -> None:
        self.ledger = ledger
        self.in_flight = in_flight
        self.count = count

    def send(self, wave: Sequence[Item]) -> list[Outcome]:
        """Send one wave (at most ``in_flight`` items): intent first, then the submits, then their answers."""
        sent_at = time.time()
        self.ledger.record({item.index: Entry(sent_at, item.fingerprint) for item in wave})
        if len(wave) == 1:
            outcomes = [self._send_one(wave[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix="videotask-submit") as pool:
                outcomes = list(pool.map(self._send_one, wave))
        fingerprints = {item.index: item.fingerprint for item in wave}
        self.ledger.record({outcome.index: _entry(outcome, sent_at, fingerprints) for outcome in outcomes})
        by_index = {item.index: item for item in wave}
        for outcome in outcomes:
            self.count(outcome.fate, by_index[outcome.index].video)
        return outcomes

    @staticmethod
    def _send_one(item: Item) -> Outcome:
        try:
            return Outcome(item.index, "accepted", task_id=item.video.submit())
        except VideoTaskApiError as error:
            return Outcome(item.index, submit_fate(error).value, error=error)
        except VideoTaskValidationError as error:  # the hook's own checks (the connection's API version)
            return Outcome(item.index, SubmitFate.REJECTED.value, error=error)
        except Exception as error:  # anything else may have happened after sending: of unknown fate
            return Outcome(item.index, SubmitFate.UNKNOWN.value, error=error)


def _entry(outcome: Outcome, sent_at: float, fingerprints: Mapping[int, str]) -> Entry | None:
    """The ledger's entry for an answered submit (None: nothing was billed, forget the intent)."""
    fingerprint = fingerprints[outcome.index]
    if outcome.fate == "accepted":
        return Entry(sent_at, fingerprint, outcome.task_id)
    if outcome.fate == SubmitFate.UNKNOWN.value:
        return Entry(sent_at, fingerprint, unknown=str(outcome.error))
    return None  # refused or rejected: nothing was made


def refusal_of(outcomes: Sequence[Outcome]) -> VideoTaskApiError | None:
    """The refusal to wait on before the next wave (the longest the vendor asked for), if any."""
    refused = [
        outcome.error
        for outcome in outcomes
        if outcome.fate == SubmitFate.REFUSED.value and isinstance(outcome.error, VideoTaskApiError)
    ]
    return max(refused, key=lambda error: error.retry_after or 0.0, default=None)


def submit_failure(outcome: Outcome, hook: VideoTaskHook, sent_at: float, where: str) -> str:
    """Why a submit left an item without a video (rejected, or of unknown fate)."""
    if outcome.fate == SubmitFate.UNKNOWN.value:
        return unknown_reason(outcome.index, Entry(sent_at, "", unknown=str(outcome.error)), hook, where)
    return (
        f"{outcome.error}. The vendor rejected the submit: no task was created and nothing was billed; fix what it "
        "names, then clear this task"
    )
