"""HiDream text-to-video, then a downstream task that uses the video URLs.

Shows ``HiDreamVideoOperator``: it validates the request before anything is paid for, submits one
task (never twice: the vendor task id goes to XCom ``video_task_ids`` at once, and on Airflow 3.3+ a retry
reattaches to it), waits for it in the triggerer (``deferrable=True``), and returns the video URLs,
which the next task receives as an ordinary argument.

Needs a ``hidream_default`` connection (type ``hidream``): your API token, or the local sandbox.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator

# Real videos take minutes: poll every 30 s. The demo and the tests, against the sandbox, poll every second.
POLL_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_hidream_txt2video",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "videotask", "hidream"],
) as dag:
    generate = HiDreamVideoOperator(
        task_id="generate",
        module="txt2video",
        prompt="A red fox trotting through fresh snow at sunrise, cinematic",
        aspect_ratio="16:9",
        motion_strength=9,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=60 * 60,
    )

    @task
    def publish(video_urls: list[str]) -> list[str]:
        """Stand-in for your own step: download, post, or store the videos."""
        for url in video_urls:
            print(f"New video: {url}")
        return video_urls

    publish(generate.output)
