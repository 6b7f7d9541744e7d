"""Every Ace Data Cloud service's operator in one run (see tests/operators/test_ace_operators.py), and a
Kling extend that takes the first Kling video's id from XCom."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.ace import (
    KlingVideoOperator,
    LumaVideoOperator,
    SeedanceVideoOperator,
    VeoVideoOperator,
    WanVideoOperator,
)

FAST = {"deferrable": True, "poll_interval": 0.2, "timeout": 120}

with DAG("ace_services", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as dag:
    first = KlingVideoOperator(task_id="kling", prompt="a paper boat", **FAST)
    extend = KlingVideoOperator(
        task_id="kling_extend",
        action="extend",
        video_id="{{ ti.xcom_pull(task_ids='kling', key='tasks')[0]['video_ids'][0] }}",
        prompt="it sails on",
        **FAST,
    )
    first >> extend
    VeoVideoOperator(task_id="veo", prompt="a whale", **FAST)
    LumaVideoOperator(task_id="luma", prompt="a volcano", **FAST)
    WanVideoOperator(task_id="wan", prompt="a cat", resolution="720P", **FAST)
    SeedanceVideoOperator(task_id="seedance", prompt="a fox", ratio="16:9", **FAST)
