"""What the vendor serves, not what the provider's sources listed (see tests/operators/test_open_world.py):
a Kling model and aspect ratio newer than the provider's sources, services with no module of their own
(mapped over by name), a sensor on a Sora task submitted elsewhere, and a model Ace refuses."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.ace import AceVideoOperator, KlingVideoOperator
from airflow_provider_videotask.sensors.video_task import VideoTaskSensor

FAST = {"deferrable": True, "poll_interval": 0.2, "timeout": 120}

with DAG("open_world", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as dag:
    KlingVideoOperator(
        task_id="kling_new_model", prompt="a paper boat", model="kling-v3-turbo", aspect_ratio="21:9", **FAST
    )
    AceVideoOperator.partial(task_id="any_service", prompt="a red fox in snow", **FAST).expand(
        service=["sora", "pika", "pixverse"]
    )
    VideoTaskSensor(
        task_id="wait_on_sora",
        video_task_ids="{{ dag_run.conf['sora_task_id'] }}",
        conn_id="acedatacloud_default",
        service="sora",
        deferrable=True,
        poke_interval=0.2,
        timeout=120,
    )

with DAG("refused_model", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as refused:
    KlingVideoOperator(task_id="kling_unknown_model", prompt="a paper boat", model="kling-v9-imaginary", **FAST)
