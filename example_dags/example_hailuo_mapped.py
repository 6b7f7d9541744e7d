"""One Hailuo video per prompt with dynamic task mapping, then one task that collects every URL.

Shows ``HailuoVideoOperator`` under ``.partial(...).expand(prompt=[...])``: each mapped task submits
exactly one paid task and waits for it in the triggerer, so a hundred prompts hold no worker slots
while the videos render. The collecting task receives one list of URLs per prompt, in prompt order.

A fan-out larger than the account's rate is fine: a submit the vendor refuses (HTTP 429, nothing
billed) waits its turn in the triggerer and is tried again, for up to ``submit_timeout``. To stay
within the account's concurrency, give the task a pool per connection (``pool=``) and bound the DAG's
instances at a time (``max_active_tis_per_dag``).

Needs a ``hailuo_default`` connection (type ``hailuo``): your API token, or the local sandbox.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator

# Real videos take minutes: poll every 30 s. The demo and the tests, against the sandbox, poll every second.
POLL_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_POLL_SECONDS", "30"))

# A pool per connection keeps every worker together within the account's concurrency. Create one that
# counts deferred tasks (they are still running at the vendor) and name it here:
#   airflow pools set hailuo 5 "Ace Data Cloud concurrency" --include-deferred
POOL = os.environ.get("VIDEOTASK_EXAMPLE_POOL", "default_pool")

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
        submit_timeout=60 * 60,  # how long a refused submit keeps trying (nothing is billed meanwhile)
        pool=POOL,
        max_active_tis_per_dag=10,  # at most 10 instances of this task at once, across runs
        retries=2,
    ).expand(prompt=PROMPTS)

    @task
    def collect(urls_per_prompt: list[list[str]]) -> list[str]:
        """Every URL of every prompt, flat and in prompt order."""
        return [url for urls in urls_per_prompt for url in urls]

    collect(videos.output)
