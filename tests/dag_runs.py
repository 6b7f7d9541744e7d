"""Helpers for tests that run whole DAGs with dag.test(): outcomes read back from Airflow's database."""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def task_states(dag_run: Any) -> dict[str, str]:
    """Each task's final state; a mapped task's instances must all agree (else they are listed)."""
    seen: dict[str, set[str]] = {}
    for ti in dag_run.get_task_instances():
        seen.setdefault(ti.task_id, set()).add(str(ti.state))
    return {task_id: states.pop() if len(states) == 1 else ",".join(sorted(states)) for task_id, states in seen.items()}


def try_numbers(dag_run: Any, task_id: str) -> list[int]:
    return sorted(ti.try_number for ti in dag_run.get_task_instances() if ti.task_id == task_id)


def xcoms(dag_run: Any, task_id: str) -> dict[str, Any]:
    """Every XCom a task pushed in this run, by key (map index -1: an unmapped task)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(
                XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id, XComModel.task_id == task_id
            )
            .all()
        )
        return {row.key: XComModel.deserialize_value(row) for row in rows}


def parse_dags_folder() -> None:
    """What the dag processor does before the scheduler runs anything: every DAG of the DAGs folder and
    its assets written to the database, the assets made active (dag.test() alone skips it)."""
    command = [sys.executable, "-m", "airflow", "dags", "reserialize"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
