"""StoreVideosOperator: keep videos whose URLs came from elsewhere (an existing sensor's XCom, an API)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.links import RunVideosLink
from airflow_provider_videotask.outputs import OUTPUT_TEMPLATE_FIELDS, KeepsVideos, declare_output, keep_videos
from airflow_provider_videotask.storage import DEFAULT_FILE_NAME, VideoToStore

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class StoreVideosOperator(KeepsVideos, BaseOperator):
    """Stream each video URL into object storage, once; the same code as the operators' ``output_path``.

    :param video_urls: the URLs (templated): one, a list, or an upstream task's output such as a
        ``VideoTaskSensor``'s ``return_value``.
    :param output_path: where to keep them (templated), e.g. ``file:///data/videos/{{ ds }}/``.
    :param output_conn_id: the Airflow connection of that storage (e.g. ``aws_default`` for ``s3://``).
    :param file_name: the name under ``output_path`` (templated); ``{video_task_id}`` is the URL's
        file name without its extension (or a digest of the URL when it has none).
    :param vendor: the ``{vendor}`` part of the name (default ``videos``).

    Returns (XCom ``return_value``) the stored URIs; XCom ``videos`` holds one record per video, and
    the asset ``output_path`` names gets an event carrying them.
    """

    template_fields: Sequence[str] = ("video_urls", *OUTPUT_TEMPLATE_FIELDS)
    ui_color = "#d4f0e4"
    operator_extra_links = (RunVideosLink(),)

    def __init__(
        self,
        *,
        video_urls: Any,
        output_path: str,
        output_conn_id: str | None = None,
        file_name: str = DEFAULT_FILE_NAME,
        vendor: str = "videos",
        **kwargs: Any,
    ) -> None:
        if output_path is None:
            raise VideoTaskValidationError(
                "output_path is required: where to keep the videos, e.g. 'file:///data/videos/'"
            )
        output_asset = declare_output(output_path, file_name, kwargs)
        super().__init__(**kwargs)
        self.video_urls = video_urls
        self.vendor = vendor
        self._keep_output(output_path, output_conn_id, file_name, output_asset)

    def execute(self, context: Context) -> list[str]:
        urls = [self.video_urls] if isinstance(self.video_urls, str) else list(self.video_urls or [])
        for index, url in enumerate(urls):
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise VideoTaskValidationError(f"video_urls[{index}] must be an http(s) URL, got {url!r}")
        output = self.output_spec()
        assert output is not None  # output_path is required
        names = [name_of(url) for url in urls]
        # The same link twice (or two links one name stands for) must not overwrite each other: numbered.
        repeated = {name for name, count in Counter(names).items() if count > 1}
        seen: dict[str, int] = {}
        videos = []
        for name, url in zip(names, urls, strict=True):
            seen[name] = seen.get(name, 0) + 1
            videos.append(VideoToStore(self.vendor, name, url, seen[name] if name in repeated else 0))
        return keep_videos(context, videos, output)


def name_of(url: str) -> str:
    """A stable name for a video known only by its URL: its file name without the extension, and a
    digest of the URL without its query (CDNs name many files ``output.mp4``; a re-signed link is the
    same video)."""
    parts = urlsplit(url)
    stem = parts.path.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "video"
    digest = hashlib.sha256(f"{parts.netloc}{parts.path}".encode()).hexdigest()[:8]
    return f"{stem}-{digest}"
