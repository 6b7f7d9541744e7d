"""Submits that ask the vendor to call back (see tests/operators/test_callback_submits.py)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.ace import KlingVideoOperator
from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator

FAST = {"deferrable": True, "poll_interval": 0.2, "timeout": 120}

with DAG("callbacks_asked", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as asked:
    HailuoVideoOperator(task_id="hailuo", prompt="hailuo asks", hailuo_conn_id="cb_hailuo", **FAST)
    HailuoVideoOperator.partial(task_id="mapped", hailuo_conn_id="cb_hailuo", **FAST).expand(
        prompt=["mapped 0", "mapped 1"]
    )
    HiDreamVideoOperator(task_id="hidream", prompt="hidream asks", hidream_conn_id="cb_hidream", **FAST)
    KlingVideoOperator(
        task_id="own_url",
        prompt="own url",
        payload={"callback_url": "https://mine.example/cb"},
        acedatacloud_conn_id="cb_ace",
        **FAST,
    )
    HailuoVideoOperator(task_id="off", prompt="callbacks off", hailuo_conn_id="cb_hailuo", callbacks=False, **FAST)
    HailuoVideoOperator(
        task_id="in_worker", prompt="in the worker", hailuo_conn_id="cb_hailuo", deferrable=False, poll_interval=0.2
    )

with DAG(
    "callbacks_required", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]
) as required:
    # callbacks=True on a connection without the extras: refused before anything is paid.
    HailuoVideoOperator(
        task_id="required", prompt="must call back", hailuo_conn_id="hailuo_default", callbacks=True, **FAST
    )
