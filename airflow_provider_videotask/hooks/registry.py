"""Which hook serves which connection type, so one sensor or trigger works for every vendor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_videotask.api.errors import VideoTaskValidationError

if TYPE_CHECKING:
    from airflow_provider_videotask.hooks.base import VideoTaskHook

# connection type -> (name in the UI, hook class). Strings only: get_provider_info reads this too.
HOOKS = {
    "hidream": ("HiDream", "airflow_provider_videotask.hooks.hidream.HiDreamHook"),
    "hailuo": ("Hailuo (Ace Data Cloud)", "airflow_provider_videotask.hooks.hailuo.HailuoHook"),
    "acedatacloud": ("Ace Data Cloud (video)", "airflow_provider_videotask.hooks.ace.AceDataCloudHook"),
}


def hook_class(conn_type: str | None, conn_id: str) -> type[VideoTaskHook]:
    """The hook class for a connection type, or an error that says which types work."""
    if conn_type not in HOOKS:
        raise VideoTaskValidationError(
            f"connection {conn_id!r} is of type {conn_type!r}; use a connection of type "
            f"{' or '.join(repr(t) for t in HOOKS)}"
        )
    from importlib import import_module

    module, _, name = HOOKS[conn_type][1].rpartition(".")
    hook: type[VideoTaskHook] = getattr(import_module(module), name)
    return hook


def get_hook(conn_id: str, **hook_kwargs: Any) -> VideoTaskHook:
    """A hook for ``conn_id``, of the class its connection type asks for (reads the connection), built with
    ``hook_kwargs`` (what shapes its requests: ``VideoTaskHook.request_arguments``)."""
    from airflow.providers.common.compat.sdk import BaseHook

    return hook_class(BaseHook.get_connection(conn_id).conn_type, conn_id)(conn_id, **hook_kwargs)
