"""The "Video" button on task instances: opens the first finished video."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

# Not waiting.py: the api-server loads extra links, and must not import the HTTP stack for them.
from airflow_provider_videotask.wait_rules import TASKS_XCOM_KEY

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey


def first_video_url(tasks: Any) -> str:
    """The first video URL in a ``tasks`` XCom value, or "" (Airflow hides an empty link)."""
    for task in tasks if isinstance(tasks, list) else []:
        urls = task.get("video_urls") if isinstance(task, dict) else None
        if isinstance(urls, list) and urls and isinstance(urls[0], str):
            return urls[0]
    return ""


class VideoLink(BaseOperatorLink):
    """Opens the first finished video of a video operator or sensor (from its ``tasks`` XCom)."""

    name = "Video"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        return first_video_url(XCom.get_value(ti_key=ti_key, key=TASKS_XCOM_KEY))
