"""Video tasks whose first try fails after it paid: the retry must not pay again, on every supported Airflow."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator

with DAG("retry_reattaches", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as dag:
    HailuoVideoOperator.partial(
        task_id="generate",
        hailuo_conn_id="retry_hailuo",
        poll_interval=0.2,
        timeout=60,
        retries=1,
        retry_delay=timedelta(0),
    ).expand(prompt=["first [duration=1]", "second [duration=1]"])

# One task for a batch: its first try pays for all three, then dies; the retry reattaches to all three.
with DAG(
    "retry_reattaches_batch", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]
) as dag_batch:
    HailuoVideoOperator(
        task_id="generate",
        hailuo_conn_id="retry_hailuo",
        prompts=["first [duration=1]", "second [duration=1]", {"prompt": "third [duration=1]"}],
        poll_interval=0.2,
        timeout=60,
        retries=1,
        retry_delay=timedelta(0),
    )
