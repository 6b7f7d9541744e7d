"""Hailuo hook: submit MiniMax video tasks on Ace Data Cloud and read them through the Tasks API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_videotask.api import hailuo
from airflow_provider_videotask.api.batch import Step
from airflow_provider_videotask.api.common import ApiRequest
from airflow_provider_videotask.api.errors import VideoTaskRequestError, VideoTaskValidationError
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.hooks.base import ConnectionSettings, VideoTaskHook
from airflow_provider_videotask.hooks.retry import RetryPolicy


class HailuoHook(VideoTaskHook):
    """Talks to Hailuo on Ace Data Cloud with the token of an Airflow ``hailuo`` connection.

    :param conn_id: the Airflow connection (type ``hailuo``); its password is the API token, its host
        an optional base URL, its extras ``request_timeout`` and ``batch_size``.
    :param retry_policy: how reads are retried; submits are never retried.

    .. code-block:: python

        hook = HailuoHook("hailuo_default")
        task_id = hook.submit("a paper boat on a rainy street")
        [task] = hook.get_tasks([task_id])
    """

    conn_type = "hailuo"
    default_conn_name = "hailuo_default"
    hook_name = "Hailuo (Ace Data Cloud)"
    vendor = hailuo.VENDOR
    default_base_url = hailuo.DEFAULT_BASE_URL
    # retrieve_batch without ids pages through the account's own history (Ace's tasks guides, e.g.
    # https://platform.acedata.cloud/documents/webextrator-tasks-integration: "omit both to paginate").
    console = (
        "your Ace Data Cloud console (https://platform.acedata.cloud), or the account's task list: "
        'POST /hailuo/tasks {"action": "retrieve_batch"} without ids'
    )

    def __init__(self, conn_id: str = default_conn_name, *, retry_policy: RetryPolicy | None = None) -> None:
        super().__init__(conn_id, retry_policy=retry_policy)

    def submit(
        self,
        prompt: str | None = None,
        model: str = hailuo.DEFAULT_MODEL,
        first_image_url: str | None = None,
        callback_url: str | None = None,
        **fields: Any,
    ) -> str:
        """Create one video task (paid; sent once, never retried, always ``async``) and return its id."""
        request = hailuo.submit_request(
            {
                "prompt": prompt,
                "model": model,
                "first_image_url": first_image_url,
                "callback_url": callback_url,
                **fields,
            }
        )
        task_id = self._run(self._submit(request, hailuo.parse_submit, None))
        self.log.info("Submitted Hailuo %s task %s", model, task_id)
        return task_id

    def get_task(self, task_id: str) -> VideoTask:
        """One task through ``retrieve`` (``get_tasks`` is cheaper for several).

        An id the vendor does not know is ``unknown``, however it says so: HTTP 404 or 400, or an empty
        answer (``{}``, as Ace's task APIs document: AceDataCloud/APIs,
        openai/docs/openai_tasks_api_integration_guide.md).
        """
        try:
            task = hailuo.parse_task(self._run(self._call(hailuo.retrieve_request(task_id))))
        except VideoTaskRequestError:
            return VideoTask.unknown(task_id)
        return task if task.task_id else VideoTask.unknown(task_id)

    def _headers(self, settings: ConnectionSettings, request: ApiRequest, token: str | None) -> dict[str, str]:
        return {
            "authorization": f"Bearer {token}",
            "accept": "application/json",
            "content-type": "application/json",
        }

    def _read_response(self, status_code: int, text: str, retry_after: float | None) -> Any:
        return hailuo.read_response(status_code, text, retry_after)

    def resolve_module(self, module: str | None, settings: ConnectionSettings) -> None:
        if module is not None:
            raise VideoTaskValidationError(
                f"module={module!r} applies to HiDream only: leave it unset for the Hailuo connection {self.conn_id!r}"
            )
        return None

    def _batch_step(self, task_ids: Sequence[str], offset: int, module: str | None) -> Step:
        return Step(hailuo.batch_request(task_ids, offset), hailuo.parse_batch)
