"""A batch on the run's Videos page (see tests/gallery/test_routes.py): one Kling task of three prompts, the
second rejected by the vendor's content review (allowed), keeping its videos where the run's conf says
(``output``, a ``file://`` folder)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.ace import KlingVideoOperator

BATCH_PROMPTS = ["a paper boat on a pond", "a fox in the snow [reject]", "a lighthouse at dusk"]

with DAG("gallery_batch", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as batch:
    KlingVideoOperator(
        task_id="kling",
        prompts=BATCH_PROMPTS,
        allowed_failures=1,
        output_path="{{ dag_run.conf['output'] }}",
        deferrable=True,
        poll_interval=0.2,
        timeout=120,
    )
