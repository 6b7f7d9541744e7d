"""A run whose task instance holds a wait's notes in tests/callbacks/test_notes.py: one task, no vendor."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

with DAG("notes_holder", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as holder:

    @task
    def wait() -> None:
        """Stands for a task instance waiting on vendor tasks."""

    wait()
