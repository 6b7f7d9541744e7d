"""Whether a submit asks the vendor to call back, and where: decided by the operators before paying."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.callbacks.address import PATH, WaitAddress, callback_config, callback_url
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.connection import mask


@dataclass(frozen=True)
class CallbackPlan:
    """The submit field that carries the URL, the URL (a credential: never logged, never recorded with the
    videos), and how often the wait reads the task meanwhile, as the safety net."""

    submit_field: str
    url: str = field(repr=False)
    fallback_interval: float


def plan_callback(
    hook: VideoTaskHook,
    conn_id: str,
    wanted: bool | None,
    fields: dict[str, Any],
    ti: Any,
    log: logging.Logger | Any,
    *,
    deferred: bool,
) -> CallbackPlan | None:
    """The callback of a task's submits, or None to poll only. ``wanted`` (the ``callbacks`` argument): None
    uses callbacks when the connection has them (a bad setting warns, then polls); True refuses, before
    paying, a connection that cannot take them; False never asks. A task that sets the vendor's field keeps
    it. Only a wait in the triggerer (``deferred``) is woken; a callback reads only the task it names, so a
    batch of any size may ask (``resume.py``)."""
    if wanted is False:
        return None
    if not deferred:
        if wanted:
            raise VideoTaskValidationError(
                "callbacks=True wakes a wait in the triggerer: set deferrable=True and wait_for_completion=True"
            )
        return None
    settings = hook.get_settings()
    field_name = hook.callback_field(settings)
    try:
        config = callback_config(settings.extra, conn_id)
    except VideoTaskValidationError as error:
        if wanted:
            raise
        log.warning("Callbacks are off for this task, it polls: %s", error)
        return None
    if config is None or field_name is None:
        if wanted:
            why = (
                "its API version documents no callback"
                if field_name is None
                else "set its extras callback_base_url and callback_secret (docs/callbacks.md)"
            )
            raise VideoTaskValidationError(f"callbacks=True, but connection {conn_id!r} cannot take them: {why}")
        return None
    if config.base_url.startswith("http://") and not config.base_url.startswith(("http://127.", "http://localhost")):
        log.warning("callback_base_url is plain http: the callback URLs, credentials, cross the network unencrypted")
    if fields.get(field_name):
        log.info("The task sets its own %s: the vendor calls that, and this wait polls", field_name)
        return None
    map_index = getattr(ti, "map_index", -1)
    address = WaitAddress(conn_id, ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else int(map_index))
    url = callback_url(config.base_url, address, config.secret)
    mask(url.rpartition("?token=")[2])  # the signature is the credential; the rest may show
    log.info(
        "%s calls back at %s%s... when the task ends; the wait polls every %.0fs meanwhile, as the safety net",
        hook.vendor,
        config.base_url.rstrip("/"),
        PATH,
        config.fallback_interval,
    )
    return CallbackPlan(field_name, url, config.fallback_interval)
