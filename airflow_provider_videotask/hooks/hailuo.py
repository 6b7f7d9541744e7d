"""Hailuo hook: the Ace Data Cloud hook bound to its Hailuo service, for ``hailuo`` connections."""

from __future__ import annotations

from typing import Any

from airflow_provider_videotask.api import hailuo
from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.api.services import service_named
from airflow_provider_videotask.hooks.ace import AceDataCloudHook
from airflow_provider_videotask.hooks.connection import ConnectionSettings
from airflow_provider_videotask.hooks.retry import RetryPolicy


class HailuoHook(AceDataCloudHook):
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
    console = (
        "your Ace Data Cloud console (https://platform.acedata.cloud), or the account's task list: "
        'POST /hailuo/tasks {"action": "retrieve_batch"} without ids'
    )

    def __init__(self, conn_id: str = default_conn_name, *, retry_policy: RetryPolicy | None = None) -> None:
        super().__init__(conn_id, retry_policy=retry_policy)

    def submit(  # type: ignore[override]  # the service is Hailuo's: its fields come first
        self,
        prompt: str | None = None,
        model: str = hailuo.DEFAULT_MODEL,
        first_image_url: str | None = None,
        callback_url: str | None = None,
        **fields: Any,
    ) -> str:
        """Create one video task (paid; sent once, never retried, always ``async``) and return its id."""
        return super().submit(
            "hailuo", prompt=prompt, model=model, first_image_url=first_image_url, callback_url=callback_url, **fields
        )

    def resolve_module(self, module: str | None, settings: ConnectionSettings) -> str:
        """Hailuo's, unless a read names another Ace service: the token is the same (a ``hailuo`` and an
        ``acedatacloud`` connection of one account share their pacing, and its reads of running tasks)."""
        if module is None:
            return "hailuo"
        try:
            return service_named(module).name
        except VideoTaskValidationError as error:
            raise VideoTaskValidationError(
                f"module={module!r} does not apply to the Hailuo connection {self.conn_id!r}: leave it unset "
                f"(an acedatacloud connection serves the other Ace Data Cloud services); {error}"
            ) from None
