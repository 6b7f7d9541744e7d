"""What the hooks' HTTP needs around a request: one TLS context, and reading a transport error."""

from __future__ import annotations

import functools
import re
import ssl
from typing import TYPE_CHECKING, Any

import certifi
import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from airflow_provider_videotask.api.errors import VideoTaskApiError

if TYPE_CHECKING:
    from airflow_provider_videotask.hooks.flow import Send


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every async client: loading the CA bundle takes tens of milliseconds, which
    each new client would otherwise spend blocking the triggerer's event loop."""
    return ssl.create_default_context(cafile=certifi.where())


def requests_connect_phase(exc: requests.RequestException) -> bool:
    """True when requests failed before a byte of the request left: refused, unresolvable, connect timeout."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def short_reason(exc: Exception) -> str:
    """The innermost reason of a transport error, without urllib3's retry wording or object reprs."""
    reason: Any = getattr(exc.args[0], "reason", None) if exc.args else None
    text = str(reason or exc)
    text = re.sub(r"<[^>]+ object at 0x[0-9a-f]+>:\s*", "", text)
    text = re.sub(
        r"HTTP(S)?ConnectionPool\(.*?\): Max retries exceeded with url: \S+ \(Caused by \w+\((.*)\)\)", r"\2", text
    )
    return f"{type(exc).__name__}: {text.strip()}" if text.strip() else type(exc).__name__


def without_secrets(error: VideoTaskApiError, send: Send) -> VideoTaskApiError:
    """The same error with every secret blanked out of every text field (a proxy may echo a header)."""
    secrets = [*send.settings.secrets(), *([send.token] if send.token else [])]
    for secret in secrets:
        if secret and secret in str(error):
            for name in ("message", "vendor_message", "vendor_code", "trace_id"):
                value = getattr(error, name)
                if isinstance(value, str):
                    setattr(error, name, value.replace(secret, "***"))
            error.args = (error._render(),)
    return error
