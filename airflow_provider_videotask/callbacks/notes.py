"""What a wait's callbacks have seen over, kept until the last one resumes it: a note per vendor task.

A wait may hold thousands of vendor tasks (``prompts=``), and its callbacks come one task at a time. Each
callback reads only the task it names (``resume.py``); when the vendor reports that task over, its reading
is noted here, as an XCom ``videotask_over.<vendor task id>`` of the waiting task instance. Notes live in
the metadata database, so every api-server replica sees all of them, and each is written once: the cost of
a wait is linear in its size. The callback whose note completes the wait resumes the task with every note
and deletes them, in one transaction (``resume.resume``).

Notes are written under a lock on the task instance's row: of two callbacks noting a wait's last two tasks
at once, the second counts both, so one of them resumes the task. Notes of a wait that ended otherwise (its
own polling found the tasks over first, or it timed out) stay with the task instance until Airflow clears
its XComs, when its next try starts; Airflow keeps XComs across a resume from deferral, so notes written
while the task was still submitting count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.callbacks.address import WaitAddress

PREFIX = "videotask_over."


def _key(task_id: str) -> str:
    return f"{PREFIX}{task_id}"


def _rows(address: WaitAddress) -> Any:
    """The notes of the task instance at ``address`` (a query's where-clause)."""
    from airflow.models.xcom import XComModel

    return (
        XComModel.dag_id == address.dag_id,
        XComModel.run_id == address.run_id,
        XComModel.task_id == address.task_id,
        XComModel.map_index == address.map_index,
        XComModel.key.startswith(PREFIX),
    )


def noted_ids(address: WaitAddress, task_ids: Iterable[str]) -> set[str]:
    """Which of ``task_ids`` are noted over already (a duplicate callback needs no read)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    keys = {_key(task_id): task_id for task_id in task_ids}
    with create_session() as session:
        found = session.scalars(select(XComModel.key).where(*_rows(address), XComModel.key.in_(list(keys))))
        return {keys[key] for key in found}


def note(address: WaitAddress, tasks: Sequence[VideoTask]) -> int:
    """Note ``tasks`` (each over) for the task instance at ``address``; how many notes it holds now, or -1 when
    the task instance is gone. One transaction, under a lock on the task instance's row."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        locked = session.scalars(
            select(TaskInstance.id)
            .where(
                TaskInstance.dag_id == address.dag_id,
                TaskInstance.run_id == address.run_id,
                TaskInstance.task_id == address.task_id,
                TaskInstance.map_index == address.map_index,
            )
            .with_for_update()
        ).one_or_none()
        if locked is None:
            return -1
        for task in tasks:
            XComModel.set(
                _key(task.task_id),
                task.to_dict(),
                dag_id=address.dag_id,
                task_id=address.task_id,
                run_id=address.run_id,
                map_index=address.map_index,
                session=session,
            )
        return int(session.scalar(select(func.count()).select_from(XComModel).where(*_rows(address))) or 0)


def read_notes(session: Any, address: WaitAddress, task_ids: Sequence[str]) -> list[VideoTask]:
    """Every task of the wait as noted, in the wait's order; a task not noted reads as running."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    noted: dict[str, VideoTask] = {}
    for row in session.scalars(select(XComModel).where(*_rows(address))):
        value = XComModel.deserialize_value(row)
        if isinstance(value, dict) and "task_id" in value:
            noted[str(value["task_id"])] = VideoTask.from_dict(value)
    return [noted.get(task_id) or VideoTask(task_id, TaskState.RUNNING) for task_id in task_ids]


def delete_notes(session: Any, address: WaitAddress) -> None:
    """Delete the notes, in the caller's transaction (the one that resumes the task)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import delete

    session.execute(delete(XComModel).where(*_rows(address)).execution_options(synchronize_session=False))
