"""The videos of a run on one page (see tests/gallery/test_routes.py): three mapped Kling tasks that keep their
videos where the run's conf says (``output``, a ``file://`` folder), and two that do not keep them."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.ace import KlingVideoOperator

KEPT_PROMPTS = ["a paper boat on a pond", "a fox in the snow", "a lighthouse at dusk"]
NOT_KEPT_PROMPTS = ["a whale breaching", "a kite over the dunes"]
FAST = {"deferrable": True, "poll_interval": 0.2, "timeout": 120}

with DAG("gallery_kept", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as kept:
    KlingVideoOperator.partial(task_id="kling", output_path="{{ dag_run.conf['output'] }}", **FAST).expand(
        prompt=KEPT_PROMPTS
    )

with DAG("gallery_not_kept", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as not_kept:
    KlingVideoOperator.partial(task_id="kling", **FAST).expand(prompt=NOT_KEPT_PROMPTS)
