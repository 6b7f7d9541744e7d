"""Compare video models side by side: the same prompt on three Ace Data Cloud services, then one table.

``generate`` is ``AceVideoOperator`` mapped over services (one ``acedatacloud`` connection, one token,
for all of them): each instance submits once to its service and waits for it in the triggerer, where
the waits of each service share one batch poller. ``compare`` receives every instance's video URLs, in
the order of ``SERVICES``, and returns them by service. Each service also has its own operator with its
documented arguments (``KlingVideoOperator``, ``LumaVideoOperator``, ``WanVideoOperator``,
``VeoVideoOperator``, ``SeedanceVideoOperator``); see docs/services.md.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_videotask.operators.ace import AceVideoOperator

PROMPT = "a lighthouse at dawn, waves rolling in, cinematic"
SERVICES = ["kling", "luma", "wan"]
POLL_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_POLL_SECONDS", "30"))  # the tests poll faster

with DAG(
    "example_compare_services",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "videotask", "acedatacloud"],
) as dag:
    generate = AceVideoOperator.partial(
        task_id="generate",
        prompt=PROMPT,
        acedatacloud_conn_id="acedatacloud_default",
        deferrable=True,
        poll_interval=POLL_SECONDS,
        max_videos_per_run=len(SERVICES),
    ).expand(service=SERVICES)

    @task
    def compare(urls: list[list[str]]) -> dict[str, list[str]]:
        """The videos of each service, side by side."""
        return dict(zip(SERVICES, urls, strict=True))

    compare(generate.output)
