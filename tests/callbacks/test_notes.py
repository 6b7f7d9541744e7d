"""The notes a wait's callbacks keep (callbacks/notes.py), in Airflow's own metadata database (SQLite here;
PostgreSQL in tests/stack/test_batches.py): one XCom row per vendor task seen over, on the waiting task
instance, counted, read back in the wait's order, and deleted."""

from __future__ import annotations

import pytest

from airflow_provider_videotask.api.models import TaskState, VideoTask
from airflow_provider_videotask.callbacks import notes
from airflow_provider_videotask.callbacks.address import WaitAddress

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def address(airflow_db: None) -> WaitAddress:
    """A task instance of a real run, as a callback's URL names it."""
    from tests.dags.notes_dags import holder

    run = holder.test()
    return WaitAddress("hailuo_default", run.dag_id, run.run_id, "wait", -1)


def over(task_id: str, state: TaskState = TaskState.SUCCEEDED) -> VideoTask:
    urls = (f"https://vendor.example/{task_id}.mp4",) if state is TaskState.SUCCEEDED else ()
    return VideoTask(task_id, state, video_urls=urls, error=None if urls else "rejected", seconds=12.0)


def test_notes_are_counted_once_each_read_in_the_waits_order_and_deleted(address: WaitAddress) -> None:
    from airflow.utils.session import create_session

    assert notes.note(address, [over("a"), over("b", TaskState.REJECTED)]) == 2
    assert notes.note(address, [over("a")]) == 2  # a duplicate callback's task: still one note
    assert notes.noted_ids(address, ["a", "c"]) == {"a"}
    with create_session() as session:
        tasks = notes.read_notes(session, address, ["c", "b", "a"])
    assert [(task.task_id, task.state) for task in tasks] == [
        ("c", TaskState.RUNNING),  # not noted: still running as far as the callbacks know
        ("b", TaskState.REJECTED),
        ("a", TaskState.SUCCEEDED),
    ]
    assert tasks[2].video_urls == ("https://vendor.example/a.mp4",)
    assert tasks[2].seconds == 12.0
    with create_session() as session:
        notes.delete_notes(session, address)
    assert notes.noted_ids(address, ["a", "b"]) == set()


def test_notes_belong_to_their_task_instance(address: WaitAddress) -> None:
    other = WaitAddress(address.conn_id, address.dag_id, address.run_id, "wait", 3)  # no such map index
    assert notes.note(other, [over("a")]) == -1
    assert notes.noted_ids(address, ["a"]) == set()
