"""One Hailuo video per prompt with dynamic task mapping, then one task that collects every URL.

Shows ``HailuoVideoOperator`` under ``.partial(...).expand(prompt=[...])``: each mapped task submits
exactly one paid task and waits for it in the triggerer, so a hundred prompts hold no worker slots
while the videos render. The collecting task receives one list of URLs per prompt, in prompt order.

Needs a ``hailuo_default`` connection (type ``hailuo``): your API token, or the local sandbox.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator

# Real videos take minutes: poll every 30 s. The demo and the tests, against the sandbox, poll every second.
POLL_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_POLL_SECONDS", "30"))

PROMPTS = [
    "A paper boat drifting down a rainy city street, close-up",
    "A robot chef flipping pancakes in a sunny kitchen",
    "Time-lapse of clouds rolling over mountain peaks",
]

with DAG(
    dag_id="example_hailuo_mapped",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "videotask", "hailuo"],
) as dag:
    videos = HailuoVideoOperator.partial(
        task_id="generate",
        model="minimax-t2v",
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=60 * 60,
        retries=2,
    ).expand(prompt=PROMPTS)

    @task
    def collect(urls_per_prompt: list[list[str]]) -> list[str]:
        """Every URL of every prompt, flat and in prompt order."""
        return [url for urls in urls_per_prompt for url in urls]

    collect(videos.output)
