"""Runs that between them emit every metric of the provider (see test_metrics.py): one DAG per outcome,
each run after the sandbox fault it needs is set."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator
from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator

FAST = {"poll_interval": 0.2, "timeout": 60}
DAGS: dict[str, DAG] = {}


def _dag(dag_id: str) -> DAG:
    dag = DAGS[dag_id] = DAG(dag_id, schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"])
    return dag


# Refused once, then accepted; waited on in the triggerer through the shared poller; succeeds.
with _dag("metrics_hailuo_deferred"):
    HailuoVideoOperator(task_id="generate", prompt="a boat", hailuo_conn_id="metrics_hailuo", deferrable=True, **FAST)

# Two HiDream tasks that end badly: one fails, one is rejected by content review.
with _dag("metrics_hidream_ends_badly"):
    HiDreamVideoOperator.partial(task_id="generate", hidream_conn_id="metrics_hidream", **FAST).expand(
        prompt=["[fail] a fox", "[reject] a fox"]
    )

# A submit the vendor rejects (HTTP 400), one whose fate is unknown (HTTP 500), a poll refused (HTTP 401).
for outcome in ("submit_rejected", "submit_unknown", "poll_refused"):
    with _dag(f"metrics_{outcome}"):
        HailuoVideoOperator(task_id="generate", prompt="a boat", hailuo_conn_id="metrics_hailuo", **FAST)

globals().update(DAGS)
