"""Wake one deferred wait from the api-server: find it, read the task a callback names, resume it when over.

Airflow has no public way for an HTTP request to wake a deferred task. The one path there is, and the
one the triggerer itself takes when a trigger fires, is ``Trigger.submit_event(trigger_id, event,
session=...)`` (airflow-core ``models/trigger.py``, the same call on 3.0.6 and 3.3.2): it resumes the task
instances deferred on that trigger, and does nothing for one already resumed. It is internal, so it is
reached only through :func:`resume` below; without it callbacks switch off with one log line and
polling goes on. All state is in the metadata database: any api-server replica may take any callback,
and the triggerer (restarted, doubled, or killed) is not needed for it.

A callback costs one vendor read of the one task it names, whatever the size of the wait: the task, once
over, is noted (``notes.py``) and never read again, and the callback that notes the last one resumes the
task. Callbacks that come before their task defers (a batch still submitting, or waiting out a refusal)
are held, and read together, in batch reads, when it does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from airflow_provider_videotask import metrics
from airflow_provider_videotask.api.errors import VideoTaskError
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.callbacks import notes
from airflow_provider_videotask.callbacks.address import WaitAddress
from airflow_provider_videotask.hooks.registry import get_hook, hook_class
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from airflow_provider_videotask.wait_rules import Verdict, callback_verdict, summarize, timed

log = logging.getLogger(__name__)

TRIGGER_CLASSPATH = f"{VideoTaskTrigger.__module__}.{VideoTaskTrigger.__qualname__}"
# A deferred task resumed within seconds of deferring can be failed by Airflow's scheduler (apache/airflow
# #66374, #67287, #72716; API_NOTES.md section 5): the executor's report of the deferring process's exit,
# if it comes after the resume, fails the task. Seen 6 s late on a busy 2-core machine: a final verdict is
# held until the deferral is this old.
HOLD_SECONDS = 15.0
# Callbacks may beat the deferral (a fast task, a slow worker, a batch still submitting): they are held until
# the task defers, at most this long after the last of them.
EARLY_WAIT_SECONDS = 60.0
_LOOK_AGAIN_SECONDS = 1.0
# Task instance states from which a deferral may still come (the submit just returned in the worker).
_ABOUT_TO_DEFER = frozenset({"scheduled", "queued", "running", "restarting", "up_for_retry"})
_ON_ANOTHER_TRIGGER = "deferred on another trigger"  # a batch waiting out a refusal before it submits on
_EARLY = _ABOUT_TO_DEFER | {_ON_ANOTHER_TRIGGER}
# Triggers as their rows' kwargs make them, by row id and creation time (a row's kwargs never change; SQLite
# may reuse an id): a batch's thousands of callbacks decrypt and parse its thousands of ids once.
_TRIGGERS: OrderedDict[tuple[int, float], VideoTaskTrigger] = OrderedDict()
_TRIGGERS_KEPT = 64
# Callbacks held until their task defers: the tasks they named (None: unnamed), since when, and the
# watchers (one per wait) that read them then.
_held: dict[WaitAddress, set[str | None]] = {}
_held_since: dict[WaitAddress, float] = {}
_watchers: set[asyncio.Task[None]] = set()

# Indirection so tests can run the waits without waiting.
_sleep = asyncio.sleep
_now = time.time


@dataclass(frozen=True)
class DeferredWait:
    """A task instance deferred on a ``VideoTaskTrigger``: the trigger's row id, when it deferred, and the
    trigger as its kwargs make it (the vendor ids, the connection, the wait's settings and deadline)."""

    trigger_id: int
    deferred_at: float
    trigger: VideoTaskTrigger
    ids: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", frozenset(self.trigger.video_task_ids))


def find_wait(address: WaitAddress) -> DeferredWait | str:
    """The wait deferred at ``address``, or the state of its task instance (``"absent"`` if none)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == address.dag_id,
                TaskInstance.run_id == address.run_id,
                TaskInstance.task_id == address.task_id,
                TaskInstance.map_index == address.map_index,
            )
        ).one_or_none()
        if ti is None:
            return "absent"
        state = str(getattr(ti.state, "value", ti.state))
        if state in _ABOUT_TO_DEFER and ti.next_method is not None:
            return f"{state}, resumed already"  # its wait is over: nothing to wait for
        if state != "deferred" or ti.trigger_id is None:
            return state
        row = session.execute(
            select(Trigger.classpath, Trigger.created_date).where(Trigger.id == ti.trigger_id)
        ).one_or_none()
        if row is None or row.classpath != TRIGGER_CLASSPATH:
            return _ON_ANOTHER_TRIGGER
        trigger_id, created = int(ti.trigger_id), row.created_date.timestamp()
        if (trigger := _TRIGGERS.get((trigger_id, created))) is None:
            kwargs = session.scalars(select(Trigger).where(Trigger.id == trigger_id)).one().kwargs  # decrypted
            trigger = _TRIGGERS[trigger_id, created] = VideoTaskTrigger(**kwargs)
            while len(_TRIGGERS) > _TRIGGERS_KEPT:
                _TRIGGERS.popitem(last=False)
        return DeferredWait(trigger_id, created, trigger)


def resume(
    found: DeferredWait, address: WaitAddress, decide: Callable[[list[VideoTask]], Verdict | None]
) -> Verdict | str:
    """Resume the task deferred on ``found`` with what ``decide`` makes of its noted tasks, and delete the notes,
    in one transaction: the verdict it was resumed with, or why not. The trigger's row is locked first, so two
    api-servers completing the same wait resume its task once (PostgreSQL, MySQL; SQLite has one writer)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import func, select

    trigger_id = found.trigger_id
    with create_session() as session:
        if session.scalars(select(Trigger.id).where(Trigger.id == trigger_id).with_for_update()).one_or_none() is None:
            return "the wait was resumed already"
        deferred = session.scalar(
            select(func.count())
            .select_from(TaskInstance)
            .where(TaskInstance.trigger_id == trigger_id, TaskInstance.state == TaskInstanceState.DEFERRED)
        )
        if not deferred:
            return "the wait was resumed already"
        tasks = notes.read_notes(session, address, found.trigger.video_task_ids)
        verdict = decide(tasks)
        if verdict is None:
            return f"the wait is not over: {summarize(tasks)}"
        Trigger.submit_event(trigger_id, TriggerEvent(verdict.to_event()), session=session)  # type: ignore[no-untyped-call]
        notes.delete_notes(session, address)
    return verdict


def can_resume() -> bool:
    """Whether this Airflow has the path :func:`resume` takes (said once in the log when it has not)."""
    try:
        from airflow.models.trigger import Trigger
    except ImportError:
        return False
    return callable(getattr(Trigger, "submit_event", None))


async def wake(address: WaitAddress, claimed_task_id: str | None, *, log_line: str) -> str:
    """Act on one valid callback for ``address`` (its body named ``claimed_task_id``): the outcome, ``accepted``
    (it resumed the task), ``noted`` (its task is over, others still run), ``held`` (it came before the task
    deferred: read when it does) or ``ignored``, counted and logged with the reason. Never raises. Runs on the
    api-server's event loop: its waits are ``asyncio`` sleeps, its database and vendor calls in threads."""
    vendor = None
    try:
        found = await asyncio.to_thread(find_wait, address)
        if isinstance(found, DeferredWait):
            ids = found.trigger.video_task_ids if claimed_task_id is None else [claimed_task_id]
            outcome, why, vendor = await _read_and_note(found, address, ids)
        elif found in _EARLY:
            outcome, why = "held", f"the task is {found}: its task is read once it defers"
            _hold(address, claimed_task_id)
        else:
            outcome, why = "ignored", f"no wait is deferred there: the task instance is {found}"
    except Exception as error:  # a hint that could not be used: polling goes on
        log.warning("%s: ignored (it could not be used: %s); the wait polls on", log_line, error, exc_info=True)
        outcome = "ignored"
    else:
        log.info("%s: %s (%s)", log_line, outcome, why)
    metrics.callback(outcome, vendor=vendor, conn_id=address.conn_id)
    return outcome


async def _read_and_note(found: DeferredWait, address: WaitAddress, ids: list[str]) -> tuple[str, str, str | None]:
    """Read the named tasks of a deferred wait (those of the wait, not noted over yet), note the ones over, and
    resume the task when that completes the wait."""
    trigger = found.trigger
    conn_type = trigger.conn_type  # set by every deferral that asked for a callback (WaitPlan)
    stray = [task_id for task_id in ids if task_id not in found.ids]
    if stray:  # an earlier try's task, or a body that lies: not worth a read
        return "ignored", f"it names task {stray[0]}, which this wait of {len(found.ids)} does not hold", conn_type
    noted = await asyncio.to_thread(notes.noted_ids, address, ids)
    ids = [task_id for task_id in ids if task_id not in noted]
    if not ids:
        return "ignored", "its task is noted over already", conn_type
    if conn_type is None:  # reads the connection's type
        hook = await asyncio.to_thread(get_hook, address.conn_id, **trigger.hook_kwargs)
    else:  # built as the hook that submitted the tasks was (HiDream's api_user_id)
        hook = hook_class(conn_type, address.conn_id)(address.conn_id, **trigger.hook_kwargs)
    conn_type = hook.conn_type
    try:
        tasks = await asyncio.to_thread(hook.get_tasks, ids, trigger.module)
    except VideoTaskError as error:
        return "ignored", f"reading the tasks failed: {error}", conn_type
    finally:
        hook.close()
    now = _now()
    over = [timed(task, started_at=trigger.wait_started_at, seen_at=now) for task in tasks if task.state.is_terminal]
    if not over:
        return "ignored", f"{hook.vendor} reports it not over: {_states(tasks)}", conn_type
    count = await asyncio.to_thread(notes.note, address, over)
    if count < 0:
        return "ignored", "the task instance is gone", conn_type
    fails_now = trigger.wait_settings.fail_on == "any" and any(task.state.is_failure for task in over)
    if count < len(found.ids) and not fails_now:
        return "noted", f"{_states(over)}; {count} of {len(found.ids)} tasks of the wait are over", conn_type
    if (hold := found.deferred_at + HOLD_SECONDS - _now()) > 0:
        await _sleep(hold)

    def decide(tasks: list[VideoTask]) -> Verdict | None:
        return callback_verdict(
            tasks,
            trigger.wait_settings,
            started_at=trigger.wait_started_at,
            deadline=trigger.deadline,
            now=_now(),
            log=log,
        )

    resumed = await asyncio.to_thread(resume, found, address, decide)
    if isinstance(resumed, str):
        return "ignored", resumed, conn_type
    return "accepted", f"resumed the task: {resumed.message}", conn_type


def _hold(address: WaitAddress, claimed_task_id: str | None) -> None:
    """Keep a callback that came before its task deferred, to be read with the others once it does."""
    _held_since[address] = _now()
    if address in _held:
        _held[address].add(claimed_task_id)
        return
    _held[address] = {claimed_task_id}
    watcher = asyncio.get_running_loop().create_task(_when_deferred(address), name="videotask-held-callbacks")
    _watchers.add(watcher)
    watcher.add_done_callback(_watchers.discard)


async def _when_deferred(address: WaitAddress) -> None:
    """One watcher per wait, however many callbacks it holds: looks every second until the task defers, then
    reads the held tasks together (batch reads); gives up ``EARLY_WAIT_SECONDS`` after the last held callback
    (the task's own polling finds them then)."""
    found: DeferredWait | str = "not looked at"
    try:
        while _now() - _held_since[address] < EARLY_WAIT_SECONDS:
            await _sleep(_LOOK_AGAIN_SECONDS)
            found = await asyncio.to_thread(find_wait, address)
            if not isinstance(found, str) or found not in _EARLY:
                break
    finally:
        claimed = _held.pop(address, set())
        _held_since.pop(address, None)
    line = f"{len(claimed)} callback(s) for {address.dag_id}/{address.run_id}/{address.task_id}[{address.map_index}]"
    if not isinstance(found, DeferredWait):
        log.info("%s that came before it deferred: ignored (the task instance is %s; it polls)", line, found)
        return
    ids = found.trigger.video_task_ids if None in claimed else sorted(str(i) for i in claimed if i in found.ids)
    if not ids:
        log.info("%s that came before it deferred: ignored (they name no task of this wait)", line)
        return
    try:
        outcome, why, _ = await _read_and_note(found, address, ids)
    except Exception as error:  # a hint that could not be used: polling goes on
        log.warning("%s that came before it deferred: ignored (%s); the wait polls on", line, error, exc_info=True)
        return
    log.info("%s that came before it deferred: %s (%s)", line, outcome, why)


def _states(tasks: list[VideoTask]) -> str:
    """One callback's task ("task X succeeded"), or a held group's, as waits summarize theirs."""
    return f"task {tasks[0].task_id} {tasks[0].state.value}" if len(tasks) == 1 else summarize(tasks)
