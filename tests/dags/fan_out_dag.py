"""A fan-out past the vendors' rate: 20 prompts per vendor, mapped, deferrable (see test_fan_out.py)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator

PROMPTS = 20

with DAG("fan_out", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as dag:
    waiting = {"deferrable": True, "poll_interval": 0.2, "timeout": 120, "submit_timeout": 300}
    HiDreamVideoOperator.partial(task_id="hidream", hidream_conn_id="fan_hidream", **waiting).expand(
        prompt=[f"fox {n}" for n in range(PROMPTS)]
    )
    HailuoVideoOperator.partial(task_id="hailuo", hailuo_conn_id="fan_hailuo", **waiting).expand(
        prompt=[f"boat {n}" for n in range(PROMPTS)]
    )
