"""Watch a batch of video tasks submitted elsewhere: VideoTaskSensor on ids given as DAG params.

Trigger it with the vendor task ids in the run's conf, e.g.
``airflow dags trigger example_watch_existing_tasks --conf '{"video_task_ids": ["id-1", "id-2"]}'``.
The sensor waits in the triggerer with one batch request per poll for all the ids, fails as soon as
one task failed (``fail_on="any"``), and hands the video URLs to the next task.

Needs a ``hidream_default`` connection; point ``conn_id`` at a ``hailuo`` connection to watch
Hailuo tasks instead: the sensor follows the connection's type.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param, task

from airflow_provider_videotask.sensors.video_task import VideoTaskSensor

# Real videos take minutes: poll every 30 s. The demo and the tests, against the sandbox, poll every second.
POLL_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_watch_existing_tasks",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    params={
        "video_task_ids": Param([], type="array", items={"type": "string"}, description="Vendor task ids to watch"),
    },
    tags=["example", "videotask"],
) as dag:
    wait = VideoTaskSensor(
        task_id="wait_for_videos",
        video_task_ids="{{ params.video_task_ids }}",
        conn_id="hidream_default",
        fail_on="any",
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=6 * 60 * 60,
    )

    @task
    def report(video_urls: list[str]) -> int:
        for url in video_urls:
            print(url)
        return len(video_urls)

    report(wait.output)
