"""The buttons on a video task instance: "Video" opens its first finished video, "Videos of this run" the
run's page of videos (``gallery/``; the same page as the run's "Videos" tab on Airflow 3.1+)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

# Not waiting.py: the api-server loads extra links, and must not import the HTTP stack for them.
from airflow_provider_videotask.xcoms import TASKS_XCOM_KEY

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey


def first_video_url(tasks: Any) -> str:
    """The first video URL in a ``tasks`` XCom value, or "" (Airflow hides an empty link)."""
    for task in tasks if isinstance(tasks, list) else []:
        urls = task.get("video_urls") if isinstance(task, dict) else None
        if isinstance(urls, list) and urls and isinstance(urls[0], str):
            return urls[0]
    return ""


def mark_no_video_yet(context: Any) -> None:
    """Push an empty ``tasks`` XCom as a task starts. Airflow computes every extra link in the worker
    whenever a try ends or defers, and the Task SDK logs a missing XCom at error level: without this, each
    video task that defers would log a false ``XCom not found ... key='tasks'`` error (the wait's end
    replaces it with the tasks' states)."""
    context["ti"].xcom_push(key=TASKS_XCOM_KEY, value=[])


class VideoLink(BaseOperatorLink):
    """Opens the first finished video of a video operator or sensor (from its ``tasks`` XCom)."""

    name = "Video"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        return first_video_url(XCom.get_value(ti_key=ti_key, key=TASKS_XCOM_KEY))


def run_videos_path(dag_id: str, run_id: str) -> str:
    """The run's page of videos within the provider's app (``gallery/routes.py``), ids quoted."""
    return f"/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"


def run_videos_url(base_url: str, dag_id: str, run_id: str) -> str:
    """The run's page of videos in the provider's api-server app, mounted under ``/videotask`` (``plugin.py``)."""
    return f"{base_url.rstrip('/')}/videotask{run_videos_path(dag_id, run_id)}"


class RunVideosLink(BaseOperatorLink):
    """Opens the page of every video of the task's DAG run: on Airflow 3.0, which shows no plugin tabs, the
    way there; on 3.1+ the same page as the run's "Videos" tab."""

    name = "Videos of this run"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        from airflow.providers.common.compat.sdk import conf

        return run_videos_url(conf.get("api", "base_url", fallback="") or "", ti_key.dag_id, ti_key.run_id)
