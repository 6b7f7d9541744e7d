"""Fan-outs (see test_fan_out.py and test_spend.py): 20 prompts per vendor past the vendor's rate, mapped
and deferrable, one DAG per vendor; and a fan-out past its own max_videos_per_run."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator

PROMPTS = 20
SUBJECT = {"hidream": "fox", "hailuo": "boat"}
WAITING = {"deferrable": True, "poll_interval": 0.2, "timeout": 120, "submit_timeout": 300}
DAGS: dict[str, DAG] = {}

for vendor, operator in (("hidream", HiDreamVideoOperator), ("hailuo", HailuoVideoOperator)):
    with DAG(f"fan_out_{vendor}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as dag:
        operator.partial(task_id=vendor, **{f"{vendor}_conn_id": f"fan_{vendor}"}, **WAITING).expand(
            prompt=[f"{SUBJECT[vendor]} {n}" for n in range(PROMPTS)]
        )
    DAGS[vendor] = dag
    globals()[dag.dag_id] = dag

with DAG("fan_out_guarded", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as guarded:
    HailuoVideoOperator.partial(
        task_id="generate", hailuo_conn_id="fan_guarded", max_videos_per_run=2, poll_interval=0.05
    ).expand(prompt=["a", "b", "c"])
