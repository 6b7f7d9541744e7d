"""Keep the videos: generate them, store them in a folder, and let another DAG use the stored files.

Vendor video URLs are temporary (Ace Data Cloud links last hours), so a pipeline that needs its videos
later stores them. ``output_path`` on ``HailuoVideoOperator`` streams each finished video into
``<output_path>/hailuo/<video task id>.mp4`` (once: a retry or rerun finds it there), records it in
XCom ``videos`` (URI, bytes, SHA-256, prompt and model), and announces it as an event of the asset the
path names. ``example_keep_videos_consumer`` is scheduled on that asset: each new batch of videos
starts it, and it reads the stored files, checking each against its recorded size and digest.

Set ``VIDEOTASK_EXAMPLE_OUTPUT`` to keep the videos elsewhere, e.g. ``s3://my-bucket/videos/`` with an
``aws`` connection in ``VIDEOTASK_EXAMPLE_OUTPUT_CONN`` (the ``s3`` extra). Needs a ``hailuo_default``
connection (type ``hailuo``): your API token, or the local sandbox.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, ObjectStoragePath, task

from airflow_provider_videotask.operators.hailuo import HailuoVideoOperator

POLL_SECONDS = float(os.environ.get("VIDEOTASK_EXAMPLE_POLL_SECONDS", "30"))
OUTPUT = os.environ.get("VIDEOTASK_EXAMPLE_OUTPUT", "file:///tmp/videotask-videos/")
OUTPUT_CONN = os.environ.get("VIDEOTASK_EXAMPLE_OUTPUT_CONN") or None
# The asset every run's folder belongs to: output_path up to its first template.
VIDEOS = Asset(OUTPUT)

with DAG(
    dag_id="example_keep_videos",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "videotask", "hailuo", "storage"],
) as dag:
    HailuoVideoOperator(
        task_id="generate",
        prompt="A lighthouse at dusk, waves breaking, slow aerial shot",
        deferrable=True,
        poll_interval=POLL_SECONDS,
        # One folder per day. Not {{ ds }}: Airflow 3 runs triggered without a logical date have none.
        output_path=OUTPUT + "{{ dag_run.run_after | ds }}/",
        output_conn_id=OUTPUT_CONN,
    )


with DAG(
    dag_id="example_keep_videos_consumer",
    schedule=[VIDEOS],  # runs when example_keep_videos has stored new videos
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "videotask", "storage"],
) as consumer:

    @task(inlets=[VIDEOS])
    def check_videos(**context: Any) -> list[dict[str, Any]]:
        """Read every stored video of the newest event; fail if one is not what its record says."""
        events = context["triggering_asset_events"].get(VIDEOS) or list(context["inlet_events"][VIDEOS])[-1:]
        checked = []
        for event in events:
            for record in event.extra["videos"]:
                path = ObjectStoragePath(record["stored_uri"], conn_id=record["conn_id"])
                digest, size = hashlib.sha256(), 0
                with path.open("rb") as video:
                    while chunk := video.read(1024 * 1024):
                        digest.update(chunk)
                        size += len(chunk)
                if (size, digest.hexdigest()) != (record["bytes"], record["sha256"]):
                    raise ValueError(f"{record['stored_uri']} is not the video recorded: {size} bytes")
                checked.append({"uri": record["stored_uri"], "bytes": size, "prompt": record["parameters"]["prompt"]})
        return checked

    check_videos()
