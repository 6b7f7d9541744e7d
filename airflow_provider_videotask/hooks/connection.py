"""An Airflow connection as a hook reads it: :class:`ConnectionSettings`, its base URL, its secrets."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.providers.common.compat.sdk import mask_secret

from airflow_provider_videotask.api.common import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PARALLEL_READS,
    DEFAULT_SUBMITS_IN_FLIGHT,
    as_str,
)


@dataclass(frozen=True)
class ConnectionSettings:
    """What a hook needs from its Airflow connection. The secret is kept out of ``repr``.

    ``secret`` is the connection's password: the API key (HiDream) or the API token (Ace Data Cloud).
    """

    conn_id: str
    base_url: str
    secret: str = field(repr=False)
    timeout: float
    extras: Mapping[str, Any] = field(repr=False)
    batch_size: int = DEFAULT_BATCH_SIZE
    # False: each task is read on its own (no batch read is documented), so a 4xx is a failed read.
    batch_reads: bool = True
    parallel_reads: int = DEFAULT_PARALLEL_READS
    max_submits_per_minute: int | None = None
    max_concurrent_tasks: int | None = None
    max_submits_in_flight: int = DEFAULT_SUBMITS_IN_FLIGHT

    def extra(self, name: str) -> Any:
        """An extra field as the UI stores it; an empty string counts as unset."""
        value = self.extras.get(name)
        return None if value == "" else value

    @functools.cached_property
    def account(self) -> str:
        """Who pays: a digest of the base URL and credentials, so the secret itself is kept nowhere else.
        Keys the process-wide caches (HiDream tokens, submit pacing)."""
        parts = (self.base_url, self.secret, as_str(self.extra("token")) or "")
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def secrets(self) -> list[str]:
        """Every secret the connection holds: its password, a raw token in the extras (HiDream), and the
        secrets callback URLs are signed with (the current one and those rotated out)."""
        extras = (as_str(self.extra("token")), *accepted_secrets(self.extra))
        return [value for value in (self.secret, *extras) if value]


def accepted_secrets(extra: Callable[[str], Any]) -> list[str]:
    """The secrets a callback URL may be signed with: ``callback_secret``, then each of
    ``callback_previous_secrets`` (a JSON list, or one secret a line or comma, as the UI stores it), so a
    secret can be rotated while tasks signed with the old one still wait (docs/callbacks.md)."""
    current, previous = extra("callback_secret"), extra("callback_previous_secrets")
    if isinstance(previous, str):
        try:
            previous = json.loads(previous)
        except ValueError:
            previous = previous.replace(",", "\n").splitlines()
    if isinstance(previous, str):
        previous = [previous]
    olds = [old.strip() for old in previous or [] if isinstance(old, str) and old.strip()]
    return [secret for secret in (current, *olds) if isinstance(secret, str) and secret]


# A task's calls to its supervisor (reading a connection, masking a secret) share one channel that Airflow
# 3.0's Task SDK does not lock: two threads of a task using it at once (a batch's submits) deadlock. Every
# such call of the provider goes through this lock.
TASK_SDK_CALLS = threading.RLock()


def mask(secret: str) -> None:
    """Register a secret with Airflow's secret masker, with the header value a log line would show."""
    if secret:
        with TASK_SDK_CALLS:
            mask_secret(secret)
            mask_secret(f"Bearer {secret}")


def base_url_of(host: str | None, port: int | None) -> str | None:
    """The connection's host as a base URL: ``http://`` is kept (the sandbox), no scheme means https;
    the connection's port is added where the host names none."""
    host = (host or "").strip().rstrip("/")
    if not host:
        return None
    if "://" not in host:
        host = f"https://{host}"
    if port and urlsplit(host).port is None:
        parts = urlsplit(host)
        host = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
    return host


def whole_or_none(number: float | None) -> int | None:
    return None if number is None else int(number)
