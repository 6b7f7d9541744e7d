"""What a waiting operator or sensor does with finished videos when it has an ``output_path``.

It stores them (``storage.VideoStore``: streamed, checked, once), records them (XCom ``videos``, one
record per video), announces them (an asset event on the output's ``Asset``, so downstream DAGs can
be scheduled on new videos) and reports lineage (Airflow's hook lineage collector, which OpenLineage
reads). ``return_value`` then holds the stored URIs instead of the vendor URLs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from airflow_provider_videotask.xcoms import VIDEOS_XCOM_KEY

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class OutputSpec:
    """Where a task keeps its videos, as rendered when it runs: handed down to the storage step, so that
    nothing below reads the operator back.

    :param output_path: where the videos go, rendered (``file:///data/videos/2026-12-04/``).
    :param output_conn_id: the Airflow connection of that storage.
    :param file_name: the name of each video under ``output_path``.
    :param asset: the ``Asset`` the output path stands for (None: no asset event).
    """

    output_path: str
    output_conn_id: str | None = None
    file_name: str = DEFAULT_FILE_NAME
    asset: Any = None


def declare_output(output_path: str | None, file_name: str, kwargs: dict[str, Any]) -> Any:
    """Add the output's asset to the task's ``outlets`` in ``kwargs`` (before ``BaseOperator.__init__``
    reads them) and return it (None without one). A literal ``output_path`` is checked now, at parse time;
    a templated one when it is rendered, before anything is paid."""
    outlets = kwargs.get("outlets")
    declared = list(outlets or []) if isinstance(outlets, (list, tuple)) else ([outlets] if outlets else [])
    asset = None if output_path is None else output_asset(output_path)
    kwargs["outlets"] = [*declared, asset] if asset is not None else declared
    if output_path is not None and "{{" not in output_path and "{%" not in output_path:
        check_output(output_path, file_name)
    return asset


class KeepsVideos:
    """The output arguments the operators, the sensor and ``StoreVideosOperator`` share: ``output_path`` and
    ``file_name`` are template fields, so they live on the task as attributes, and :meth:`output_spec`
    reads them once rendered."""

    output_path: str | None
    output_conn_id: str | None
    file_name: str
    output_asset: Any

    def _keep_output(self, output_path: str | None, output_conn_id: str | None, file_name: str, asset: Any) -> None:
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.file_name = file_name
        self.output_asset = asset

    def output_spec(self) -> OutputSpec | None:
        """Where the videos go, as rendered (None: they are not kept); checked before anything is paid."""
        if self.output_path is None:
            return None
        check_output(self.output_path, self.file_name)
        return OutputSpec(self.output_path, self.output_conn_id, self.file_name or DEFAULT_FILE_NAME, self.output_asset)


def keeper(
    context: Context, output: OutputSpec | None, vendor: str, parameters: Mapping[str, Any] | None = None
) -> Callable[[Sequence[VideoTask]], list[str]] | None:
    """The keep step of ``waiting.publish`` for a task that keeps its videos at ``output`` (None: it does
    not). The records name the ``vendor`` (the connection type) and, for an operator, its submit fields."""
    if output is None:
        return None

    def keep(tasks: Sequence[VideoTask]) -> list[str]:
        finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")  # when this wait saw them done
        return keep_videos(context, videos_of(vendor, tasks, parameters, finished_at), output)

    return keep


def keep_videos(context: Context, videos: Sequence[VideoToStore], output: OutputSpec) -> list[str]:
    """Store the videos at ``output``; push XCom ``videos``; announce them; return the stored URIs."""
    documents = store_videos(context, videos, output)
    context["ti"].xcom_push(key=VIDEOS_XCOM_KEY, value=documents)
    return [document["stored_uri"] for document in documents]


def store_videos(context: Context, videos: Sequence[VideoToStore], output: OutputSpec) -> list[dict[str, Any]]:
    """Store the videos at ``output`` and announce them; their records, in order (the caller pushes them)."""
    store = VideoStore(output.output_path, output_conn_id=output.output_conn_id, file_name=output.file_name)
    records = store.keep(videos)
    documents = [record.to_dict() for record in records]
    _announce(context, output.asset, documents)
    _report_lineage(store, records)
    log.info("Stored %d video(s) under %s", len(records), output.output_path)
    return documents


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
