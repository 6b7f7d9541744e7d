"""HiDream's v3 and v4 modules through HiDreamVideoOperator in one run (see
tests/operators/test_hidream_versions_operators.py); the connections name their API version."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_videotask.operators.hidream import HiDreamVideoOperator

FAST = {"deferrable": True, "poll_interval": 0.2, "timeout": 120}
FRAMES = ["https://example.com/first.png", "https://example.com/last.png"]

with DAG("hidream_versions", schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["test"]) as dag:
    HiDreamVideoOperator(
        task_id="v3_txt2video",
        hidream_conn_id="hidream_v3",
        prompt="a harbour at dawn",
        negative_prompt="people",
        resolution="1280*720",
        **FAST,
    )
    HiDreamVideoOperator(
        task_id="v3_keyframe2video",
        hidream_conn_id="hidream_v3",
        module="keyframe2video",
        images=FRAMES,
        duration=5,
        **FAST,
    )
    HiDreamVideoOperator(
        task_id="v4_kling",
        hidream_conn_id="hidream_v4",
        module="hidream-Q2",
        version="Q2.6-pro",
        prompt="the harbour wakes up",
        images=FRAMES[:1],
        sound="on",
        **FAST,
    )
    HiDreamVideoOperator(
        task_id="v4_seedance",
        hidream_conn_id="hidream_v4",
        module="hidream-R2-Audio",
        prompt="gulls over the harbour",
        wh_ratio="16:9",
        resolution="720p",
        generate_audio=True,
        deferrable=False,
        poll_interval=0.2,
        timeout=120,
    )
