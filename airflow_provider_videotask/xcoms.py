"""The XComs video tasks push and the Videos page reads: their keys and record shapes, in one place.

Below the operators, the sensor and the page alike (``gallery/`` reads what ``operators/`` writes), so
neither imports the other for them. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_videotask.storage import public_parameters

# The vendor task ids, the moment they exist. "video_task_ids": Airflow's own "task_ids" means Airflow tasks.
VIDEO_TASK_IDS_XCOM_KEY = "video_task_ids"
LEGACY_TASK_IDS_XCOM_KEY = "task_ids"  # also pushed until 0.3, for DAGs that pull the old key
# How each vendor task ended (``VideoTask.to_dict()``); an empty list while the task has not ended.
TASKS_XCOM_KEY = "tasks"
# The kept copies (``storage.StoredVideo.to_dict()``); with ``prompts=``, one record per item
# (:func:`item_record`) whose ``kept`` holds its copies.
VIDEOS_XCOM_KEY = "videos"
# What was asked (:func:`request_record`), before paying; a batch's also says how many videos it holds.
REQUEST_XCOM_KEY = "video_request"
BATCH_SIZE_FIELD = "videos"
# The connection's price table's estimate for the task's videos together.
ESTIMATED_COST_XCOM_KEY = "estimated_cost"
XCOM_KEYS = (REQUEST_XCOM_KEY, VIDEO_TASK_IDS_XCOM_KEY, ESTIMATED_COST_XCOM_KEY, TASKS_XCOM_KEY, VIDEOS_XCOM_KEY)

# A prompt is the text a person reads beside the video: kept whole in ``video_request`` up to this length
# (other values are cut at ``storage.MAX_PARAMETER_CHARS``).
MAX_PROMPT_CHARS = 20_000


def request_record(
    vendor: str, module: str | None, fields: Mapping[str, Any], batch_size: int | None = None
) -> dict[str, Any]:
    """XCom ``video_request``: what a task asked for, without secrets (``storage.public_parameters``: no field
    named like a secret, URLs without their query, long values such as an inline base64 image cut to a note
    of their length); the prompts whole up to ``MAX_PROMPT_CHARS``, as the page shows them. A batch's
    (``batch_size``): its first item's fields, its size, and a prompt that says both."""
    record = public_parameters(fields)
    for name, value in fields.items():
        if name not in record or "prompt" not in name.lower() or not isinstance(value, str):
            continue
        if len(value) <= MAX_PROMPT_CHARS and not value.startswith(("http://", "https://")):  # a link: no query
            record[name] = value
    if batch_size is not None:
        record |= {"prompt": f"{batch_size} videos: {fields.get('prompt') or ''}", BATCH_SIZE_FIELD: batch_size}
    return {**record, "vendor": vendor, "module": module}


def item_record(
    index: int,
    prompt: str | None,
    task: Mapping[str, Any] | None,
    reason: str | None,
    kept: Sequence[Mapping[str, Any]],
    cost: float | None,
) -> dict[str, Any]:
    """One item of a batch in XCom ``videos``: its place in ``prompts``, its prompt, its vendor task (as
    ``VideoTask.to_dict()``, None when it never got one), why it has no video, its kept copies, its cost."""
    return {
        "index": index,
        "prompt": prompt,
        "video_task_id": None if task is None else task["task_id"],
        "state": "failed" if task is None else task["state"],
        "reason": reason,
        "video_urls": [] if task is None else list(task["video_urls"]),
        "kept": [dict(record) for record in kept],
        "seconds": None if task is None else task.get("seconds"),
        "cost": cost,
    }
