"""Wake one deferred wait from the api-server: find it, read its tasks from the vendor, resume it.

Airflow has no public way for an HTTP request to wake a deferred task. The one path there is, and the
one the triggerer itself takes when a trigger fires, is ``Trigger.submit_event(trigger_id, event,
session=...)`` (airflow-core ``models/trigger.py``, the same call on 3.0.6 and 3.3.2): it resumes the task
instances deferred on that trigger, and does nothing for one already resumed. It is internal, so it is
reached only through :func:`submit_event` below; without it callbacks switch off with one log line and
polling goes on. All state is in the metadata database: any api-server replica may take any callback,
and the triggerer (restarted, doubled, or killed) is not needed for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from airflow_provider_videotask import metrics
from airflow_provider_videotask.api.errors import VideoTaskError
from airflow_provider_videotask.callbacks.address import WaitAddress
from airflow_provider_videotask.hooks.registry import get_hook, hook_class
from airflow_provider_videotask.triggers.video_task import VideoTaskTrigger
from airflow_provider_videotask.wait_rules import callback_verdict

log = logging.getLogger(__name__)

TRIGGER_CLASSPATH = f"{VideoTaskTrigger.__module__}.{VideoTaskTrigger.__qualname__}"
# A deferred task resumed within seconds of deferring can be failed by Airflow's scheduler (apache/airflow
# #66374, #67287, #72716; API_NOTES.md section 5): the executor's report of the deferring process's exit,
# if it comes after the resume, fails the task. Seen 6 s late on a busy 2-core machine: a final verdict is
# held until the deferral is this old.
HOLD_SECONDS = 15.0
# A callback may beat the deferral (a fast task, a slow worker): it waits this long for the task to defer.
EARLY_WAIT_SECONDS = 60.0
_LOOK_AGAIN_SECONDS = 1.0
# Task instance states from which a deferral may still come (the submit just returned in the worker).
_ABOUT_TO_DEFER = frozenset({"scheduled", "queued", "running", "restarting", "up_for_retry"})

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
        trigger = session.get(Trigger, ti.trigger_id)
        if trigger is None or trigger.classpath != TRIGGER_CLASSPATH:
            return "deferred on another trigger"
        return DeferredWait(int(trigger.id), trigger.created_date.timestamp(), VideoTaskTrigger(**trigger.kwargs))


def submit_event(trigger_id: int, payload: dict[str, Any]) -> bool:
    """Resume the task instances still deferred on ``trigger_id`` with ``payload``; False when none was
    (resumed meanwhile by the trigger, or by another callback). The trigger's row is locked first, so two
    api-servers taking the same callback resume its task once (PostgreSQL, MySQL; SQLite has one writer)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import func, select

    with create_session() as session:
        if session.scalars(select(Trigger.id).where(Trigger.id == trigger_id).with_for_update()).one_or_none() is None:
            return False
        deferred = session.scalar(
            select(func.count())
            .select_from(TaskInstance)
            .where(TaskInstance.trigger_id == trigger_id, TaskInstance.state == TaskInstanceState.DEFERRED)
        )
        if not deferred:
            return False
        Trigger.submit_event(trigger_id, TriggerEvent(payload), session=session)  # type: ignore[no-untyped-call]
    return True


def can_resume() -> bool:
    """Whether this Airflow has the path :func:`submit_event` takes (said once in the log when it has not)."""
    try:
        from airflow.models.trigger import Trigger
    except ImportError:
        return False
    return callable(getattr(Trigger, "submit_event", None))


async def wake(address: WaitAddress, claimed_task_id: str | None, *, log_line: str) -> str:
    """Act on one valid callback for ``address`` (its body named ``claimed_task_id``): the outcome,
    ``accepted`` or ``ignored`` (counted, and logged with the reason). Never raises. Runs on the
    api-server's event loop: its waits are ``asyncio`` sleeps, its database and vendor calls in threads."""
    vendor = None
    try:
        outcome, why, vendor = await _wake(address, claimed_task_id)
    except Exception as error:  # a hint that could not be used: polling goes on
        log.warning("%s: ignored (it could not be used: %s); the wait polls on", log_line, error, exc_info=True)
        outcome = "ignored"
    else:
        log.info("%s: %s (%s)", log_line, outcome, why)
    metrics.callback(outcome, vendor=vendor, conn_id=address.conn_id)
    return outcome


async def _wake(address: WaitAddress, claimed_task_id: str | None) -> tuple[str, str, str | None]:
    found = await _deferred(address)
    if isinstance(found, str):
        return "ignored", f"no wait is deferred there: the task instance is {found}", None
    trigger = found.trigger
    conn_type = trigger.conn_type  # set by every deferral that asked for a callback (WaitPlan)
    if claimed_task_id is not None and claimed_task_id not in trigger.video_task_ids:
        # An earlier try's task, or a body that lies: not worth a read.
        ids = ", ".join(trigger.video_task_ids)
        return "ignored", f"it names task {claimed_task_id}, the wait is on {ids}", conn_type
    if (hold := found.deferred_at + HOLD_SECONDS - _now()) > 0:
        await _sleep(hold)
    if conn_type is None:  # reads the connection's type
        hook = await asyncio.to_thread(get_hook, address.conn_id, **trigger.hook_kwargs)
    else:  # built as the hook that submitted the tasks was (HiDream's api_user_id)
        hook = hook_class(conn_type, address.conn_id)(address.conn_id, **trigger.hook_kwargs)
    conn_type = hook.conn_type
    try:
        tasks = await asyncio.to_thread(hook.get_tasks, trigger.video_task_ids, trigger.module)
    except VideoTaskError as error:
        return "ignored", f"reading the tasks failed: {error}", conn_type
    finally:
        hook.close()
    verdict = callback_verdict(
        tasks,
        trigger.wait_settings,
        started_at=trigger.wait_started_at,
        deadline=trigger.deadline,
        now=_now(),
        log=log,
    )
    if verdict is None:
        return "ignored", f"{hook.vendor} reports the wait not over: {_states(tasks)}", conn_type
    if not await asyncio.to_thread(submit_event, found.trigger_id, verdict.to_event()):
        return "ignored", "the wait was resumed already", conn_type
    return "accepted", f"resumed the task: {verdict.message}", conn_type


async def _deferred(address: WaitAddress) -> DeferredWait | str:
    """The deferred wait, waiting up to ``EARLY_WAIT_SECONDS`` for a task instance about to defer."""
    give_up_at = _now() + EARLY_WAIT_SECONDS
    while True:
        found = await asyncio.to_thread(find_wait, address)
        if not isinstance(found, str) or found not in _ABOUT_TO_DEFER or _now() >= give_up_at:
            return found
        await _sleep(_LOOK_AGAIN_SECONDS)


def _states(tasks: list[Any]) -> str:
    return ", ".join(f"{task.task_id} {task.state.value}" for task in tasks)
