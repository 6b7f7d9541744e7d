"""What a waiting operator or sensor does with finished videos when it has an ``output_path``.

It stores them (``storage.VideoStore``: streamed, checked, once), records them (XCom ``videos``, one
record per video), announces them (an asset event on the output's ``Asset``, so downstream DAGs can
be scheduled on new videos) and reports lineage (Airflow's hook lineage collector, which OpenLineage
reads). ``return_value`` then holds the stored URIs instead of the vendor URLs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.storage import (
    DEFAULT_FILE_NAME,
    StoredVideo,
    VideoStore,
    VideoToStore,
    check_output,
    videos_of,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

log = logging.getLogger(__name__)

VIDEOS_XCOM_KEY = "videos"
OUTPUT_TEMPLATE_FIELDS = ("output_path", "file_name")


def output_asset(output_path: str) -> Any:
    """The ``Asset`` an ``output_path`` stands for: the part before its first template, so one asset
    covers every run's folder (``file:///data/videos/{{ ds }}/`` is the asset ``file:///data/videos/``).
    None when that part names no place (``s3://{{ var.value.bucket }}/``): declare an outlet yourself."""
    from airflow.sdk import Asset

    static = output_path.split("{{", 1)[0].split("{%", 1)[0]
    parts = urlsplit(static)
    if not parts.scheme or not (parts.netloc or parts.path.strip("/")) or (parts.scheme != "file" and not parts.netloc):
        return None
    return Asset(uri=static)


def output_outlets(output_path: str | None, file_name: str, outlets: Any) -> tuple[list[Any], Any]:
    """The outlets of a task that stores its videos (the user's, and the output's asset), and that
    asset (None without one). A literal ``output_path`` is checked now, at parse time; a templated one
    when it is rendered, before anything is paid."""
    declared = list(outlets or []) if isinstance(outlets, (list, tuple)) else ([outlets] if outlets else [])
    if output_path is None:
        return declared, None
    if "{{" not in output_path and "{%" not in output_path:
        check_output(output_path, file_name)
    asset = output_asset(output_path)
    return ([*declared, asset] if asset is not None else declared), asset


def keeper(context: Context, owner: Any) -> Callable[[Sequence[VideoTask]], list[str]] | None:
    """The keep step of ``waiting.publish`` for an operator or sensor (``owner``) with an ``output_path``;
    None when it has none. The records name the owner's vendor and, for an operator, its submit fields."""
    if owner.output_path is None:
        return None

    def keep(tasks: Sequence[VideoTask]) -> list[str]:
        finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")  # when this wait saw them done
        parameters = owner.fields() if hasattr(owner, "fields") else None
        return keep_videos(context, videos_of(owner.hook.conn_type, tasks, parameters, finished_at), owner)

    return keep


def keep_videos(context: Context, videos: Sequence[VideoToStore], owner: Any) -> list[str]:
    """Store the videos where ``owner`` (an operator or sensor) says; push XCom ``videos``; announce
    them; return the stored URIs."""
    store = VideoStore(owner.output_path, conn_id=owner.output_conn_id, file_name=owner.file_name or DEFAULT_FILE_NAME)
    records = store.keep(videos)
    documents = [record.to_dict() for record in records]
    context["ti"].xcom_push(key=VIDEOS_XCOM_KEY, value=documents)
    _announce(context, owner.output_asset, documents)
    _report_lineage(store, records)
    log.info("Stored %d video(s) under %s", len(records), owner.output_path)
    return [record.stored_uri for record in records]


def _announce(context: Context, asset: Any, documents: list[dict[str, Any]]) -> None:
    """The asset event's extra carries the records, so a DAG scheduled on the asset finds the files."""
    outlet_events = context.get("outlet_events")
    if asset is None or outlet_events is None:
        return
    outlet_events[asset].extra = {"videos": cast(Any, documents)}


def _report_lineage(store: VideoStore, records: Sequence[StoredVideo]) -> None:
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    collector = get_hook_lineage_collector()  # type: ignore[no-untyped-call]
    for record in records:
        try:
            collector.add_input_asset(context=store.root, uri=record.source_url.split("?", 1)[0])
            collector.add_output_asset(context=store.root, uri=record.stored_uri)
        except Exception as error:  # lineage is informative: it must never fail a paid video's task
            log.debug("Lineage of %s not reported: %s", record.stored_uri, error)
