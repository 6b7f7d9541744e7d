"""HiDream hook: submit video tasks and read their results (txt2video, img2video, video_edit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from airflow_provider_videotask.api import hidream
from airflow_provider_videotask.api.common import ApiRequest, as_str
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.hooks.base import ConnectionSettings, VideoTaskHook
from airflow_provider_videotask.hooks.retry import RetryPolicy


class HiDreamHook(VideoTaskHook):
    """Talks to HiDream's video API with the token of an Airflow ``hidream`` connection.

    :param conn_id: the Airflow connection (type ``hidream``); its password is the API token, its host
        an optional base URL, its extras ``request_timeout``, ``api_user_id`` and ``default_module``.
    :param api_user_id: the ``API-User-ID`` header for this hook's calls, overriding the connection's.
    :param retry_policy: how reads are retried; submits are never retried.

    .. code-block:: python

        hook = HiDreamHook("hidream_default")
        task_id = hook.submit("txt2video", prompt="a red fox in the snow", aspect_ratio="16:9")
        [task] = hook.get_tasks([task_id])
    """

    conn_type = "hidream"
    default_conn_name = "hidream_default"
    hook_name = "HiDream"
    vendor = hidream.VENDOR
    default_base_url = hidream.DEFAULT_BASE_URL

    def __init__(
        self,
        conn_id: str = default_conn_name,
        *,
        api_user_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(conn_id, retry_policy=retry_policy)
        self.api_user_id = api_user_id

    def submit(self, module: str | None = None, **fields: Any) -> str:
        """Create one video task (paid; sent once, never retried) and return its task id.

        ``fields`` are the vendor's body fields (``prompt``, ``image``, ``video_name``, ``style``,
        ``aspect_ratio`` ...); fields this provider does not know are passed through unchanged.
        """
        settings = self.get_settings()
        resolved = self.resolve_module(module, settings)
        task_id = hidream.parse_submit(self._send(hidream.submit_request(resolved, fields)))
        self.log.info("Submitted HiDream %s task %s", resolved, task_id)
        return task_id

    def get_task(self, task_id: str, module: str | None = None) -> VideoTask:
        """One task through the single-result endpoint (``get_tasks`` is cheaper for several)."""
        request = hidream.result_request(self.resolve_module(module, self.get_settings()), task_id)
        task = hidream.parse_task(self._send(request))
        return task if task.task_id else replace(task, task_id=task_id)

    def _headers(self, settings: ConnectionSettings) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {settings.token}", "Content-Type": "application/json"}
        user_id = self.api_user_id or as_str(settings.extra("api_user_id", self.conn_type))
        if user_id:
            headers["API-User-ID"] = user_id
        return headers

    def _read_response(self, status_code: int, text: str, retry_after: float | None) -> Any:
        return hidream.read_response(status_code, text, retry_after)

    def resolve_module(self, module: str | None, settings: ConnectionSettings) -> str:
        chosen = module or as_str(settings.extra("default_module", self.conn_type)) or hidream.DEFAULT_MODULE
        return hidream.check_module(chosen)

    def _batch_request(self, task_ids: Sequence[str], module: str | None) -> ApiRequest:
        return hidream.batch_request(module or hidream.DEFAULT_MODULE, task_ids)

    def _parse_batch(self, payload: Any, task_ids: Sequence[str]) -> list[VideoTask]:
        return hidream.parse_batch(payload, task_ids)
