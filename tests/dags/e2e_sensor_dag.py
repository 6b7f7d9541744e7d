"""End-to-end DAG for the tests: submit three HiDream tasks, wait for them deferred, use the URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_videotask.hooks.hidream import HiDreamHook
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor

with DAG(
    "e2e_video_sensor",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    params={"duration": 2},
    tags=["test"],
) as dag:

    @task
    def submit(params: dict[str, Any] | None = None) -> list[str]:
        duration = (params or {}).get("duration", 2)
        hook = HiDreamHook("e2e_hidream")
        return [hook.submit("txt2video", prompt=f"clip {n} [duration={duration}]") for n in range(3)]

    wait = VideoTaskSensor(
        task_id="wait",
        video_task_ids=submit(),
        conn_id="e2e_hidream",
        deferrable=True,
        poke_interval=1,
        timeout=300,
    )

    @task
    def use_videos(urls: list[str]) -> dict[str, Any]:
        return {"count": len(urls), "urls": urls}

    use_videos(wait.output)
