"""Ace Data Cloud hook: submit video tasks to any of its services and read them through its Tasks API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_videotask.api import ace
from airflow_provider_videotask.api.batch import Step
from airflow_provider_videotask.api.common import ApiRequest
from airflow_provider_videotask.api.errors import VideoTaskRequestError, VideoTaskValidationError
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.api.services import service_named
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.connection import ConnectionSettings
from airflow_provider_videotask.hooks.retry import RetryPolicy


class AceDataCloudHook(VideoTaskHook):
    """Talks to Ace Data Cloud's video services with the token of an Airflow ``acedatacloud`` connection.

    One token serves every service (Hailuo, Kling, Veo, Luma, Wan, Seedance: ``api/services.py``);
    each call names its service, and the shared poller keeps one per connection and service.

    :param conn_id: the Airflow connection (type ``acedatacloud``); its password is the API token, its
        host an optional base URL.
    :param retry_policy: how reads are retried; submits are never retried.

    .. code-block:: python

        hook = AceDataCloudHook("acedatacloud_default")
        task_id = hook.submit("kling", action="text2video", prompt="a paper boat on a rainy street")
        [task] = hook.get_tasks([task_id], "kling")
    """

    conn_type = "acedatacloud"
    default_conn_name = "acedatacloud_default"
    hook_name = "Ace Data Cloud (video)"
    vendor = ace.VENDOR
    callback_task_id = staticmethod(ace.callback_task_id)
    default_base_url = ace.DEFAULT_BASE_URL
    # retrieve_batch without ids pages through the account's own history (Ace's tasks guides, e.g.
    # https://platform.acedata.cloud/documents/webextrator-tasks-integration: "omit both to paginate").
    console = (
        "your Ace Data Cloud console (https://platform.acedata.cloud), or the account's task list: "
        'POST /<service>/tasks {"action": "retrieve_batch"} without ids'
    )

    # The Test button's free status query asks Hailuo's tasks: the token is one for every service.
    connection_test_module = "hailuo"

    def __init__(self, conn_id: str | None = None, *, retry_policy: RetryPolicy | None = None) -> None:
        super().__init__(conn_id, retry_policy=retry_policy)

    def callback_field(self, settings: ConnectionSettings) -> str:
        """Every video service takes ``callback_url`` (AceDataCloud/Docs en/concepts/async-tasks.mdx)."""
        return "callback_url"

    def submit(self, service: str, **fields: Any) -> str:
        """Create one video task of ``service`` (paid; sent once, never retried, always ``async``); its id."""
        spec = self.service(service)
        request = ace.submit_request(spec, {key: value for key, value in fields.items() if value is not None})
        for warning in ace.unlisted(spec, request.json or {}):
            self.log.warning("%s", warning)
        task_id = self._run(self._submit(request, lambda body: ace.parse_submit(body, spec.title), spec.name))
        model = (request.json or {}).get("model")
        self.log.info("Submitted %s %stask %s", spec.title, f"{model} " if model else "", task_id)
        return task_id

    def get_task(self, task_id: str, service: str | None = None) -> VideoTask:
        """One task through ``retrieve`` (``get_tasks`` is cheaper for several).

        An id the vendor does not know is ``unknown``, however it says so: HTTP 404 or 400, or an empty
        answer (``{}``, as Ace's task APIs document: AceDataCloud/APIs,
        openai/docs/openai_tasks_api_integration_guide.md).
        """
        name = self.resolve_module(service, self.get_settings())
        try:
            task = ace.parse_task(self._run(self._call(ace.retrieve_request(name, task_id))))
        except VideoTaskRequestError:
            return VideoTask.unknown(task_id)
        return task if task.task_id else VideoTask.unknown(task_id)

    def service(self, name: str | None) -> ace.Service:
        """The service called ``name``: its module's (``api/services.py``), or the generic request for any
        other name of Ace's path pattern."""
        try:
            return service_named(name)
        except VideoTaskValidationError as error:
            raise VideoTaskValidationError(
                f"connection {self.conn_id!r} serves every Ace Data Cloud video service: name one with "
                f"service=... (e.g. {', '.join(ace.SDK_SERVICES)}); {error}"
            ) from None

    def _headers(self, settings: ConnectionSettings, request: ApiRequest, token: str | None) -> dict[str, str]:
        return {
            "authorization": f"Bearer {token}",
            "accept": "application/json",
            "content-type": "application/json",
        }

    def _read_response(self, status_code: int, text: str, retry_after: float | None) -> Any:
        return ace.read_response(status_code, text, retry_after, self.vendor)

    def resolve_module(self, module: str | None, settings: ConnectionSettings) -> str:
        """The service a read is for (the ``module`` of the waiting layers)."""
        return self.service(module).name

    def _batch_step(
        self, task_ids: Sequence[str], offset: int, module: str | None, settings: ConnectionSettings
    ) -> Step:
        return Step(ace.batch_request(self.service(module).name, task_ids, offset), self._parse_batch)

    def _parse_batch(self, body: Any) -> Any:
        return ace.parse_batch(body, self.vendor)
