"""The base of both vendor hooks: an Airflow connection turned into authenticated HTTP, sync and async.

Subclasses add only what differs per vendor: headers, request builders and answer parsers from ``api/``.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import certifi
import httpx
import requests
from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.common.compat.sdk import BaseHook, mask_secret
from asgiref.sync import sync_to_async

from airflow_provider_videotask.api.common import (
    ApiRequest,
    chunked,
    header,
    normalize_task_ids,
    parse_retry_after,
    unique,
)
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskError,
    VideoTaskTransportError,
    VideoTaskValidationError,
)
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.connection_form import (
    CONN_FIELDS,
    DEFAULT_TIMEOUT_SECONDS,
    legacy_form_widgets,
    legacy_ui_field_behaviour,
)
from airflow_provider_videotask.hooks.retry import NO_RETRY, RetryPolicy

# Indirection so tests can observe the waits between retries without waiting.
_sleep = time.sleep
_asleep = asyncio.sleep

# A task id no vendor will ever have: the connection test asks for it, which costs nothing.
CONNECTION_TEST_TASK_ID = "airflow-connection-test"


@dataclass(frozen=True)
class ConnectionSettings:
    """What a hook needs from its Airflow connection. The token is kept out of ``repr``."""

    conn_id: str
    base_url: str
    token: str = field(repr=False)
    timeout: float
    extras: Mapping[str, Any]

    def extra(self, name: str, conn_type: str) -> Any:
        """An extra field, as the UI stores it (plain name) or as older forms did (``extra__type__name``)."""
        value = self.extras.get(name)
        if value in (None, ""):
            value = self.extras.get(f"extra__{conn_type}__{name}")
        return None if value == "" else value


class VideoTaskHook(BaseHook):
    """Authenticated, retrying HTTP to one vendor, configured by an Airflow connection.

    Reads (status queries) are retried on transient failures following ``retry_policy``; a paid call
    (submit) is sent exactly once, whatever happens.
    """

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    vendor: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(self, conn_id: str | None = None, *, retry_policy: RetryPolicy | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        self.retry_policy = retry_policy or RetryPolicy()
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._async_client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # ----- what each vendor fills in -------------------------------------------------------------

    def _headers(self, settings: ConnectionSettings) -> dict[str, str]:
        raise NotImplementedError

    def _read_response(self, status_code: int, text: str, retry_after: float | None) -> Any:
        raise NotImplementedError

    def resolve_module(self, module: str | None, settings: ConnectionSettings) -> str | None:
        raise NotImplementedError

    def _batch_request(self, task_ids: Sequence[str], module: str | None) -> ApiRequest:
        raise NotImplementedError

    def _parse_batch(self, payload: Any, task_ids: Sequence[str]) -> list[VideoTask]:
        raise NotImplementedError

    # ----- the connection ------------------------------------------------------------------------

    def get_settings(self) -> ConnectionSettings:
        if self._settings is None:
            conn = self.get_connection(self.conn_id)
            settings = self._settings_from(conn, conn.extra_dejson)
            _mask_token(settings.token)
            self._settings = settings
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """The settings, read without blocking the event loop (Airflow's async connection API)."""
        if self._settings is None:
            conn = await get_async_connection(self.conn_id, self)
            settings = self._settings_from(conn, await get_async_extra_dejson(conn))
            # Before Airflow 3.1 the masker calls the supervisor synchronously: not on the event loop.
            await sync_to_async(_mask_token)(settings.token)
            self._settings = settings
        return self._settings

    def _settings_from(self, conn: Any, extras: Mapping[str, Any]) -> ConnectionSettings:
        token = (conn.password or "").strip()
        if token.lower().startswith("bearer "):
            token = token[len("bearer ") :].strip()
        if not token:
            raise VideoTaskValidationError(
                f"connection {self.conn_id!r} has no API token: put the {self.vendor} token in its "
                "password field ('API token' in the Airflow UI)"
            )
        settings = ConnectionSettings(
            conn_id=self.conn_id,
            base_url=_base_url(conn.host, conn.port) or self.default_base_url,
            token=token,
            timeout=DEFAULT_TIMEOUT_SECONDS,
            extras=dict(extras or {}),
        )
        timeout = settings.extra("request_timeout", self.conn_type)
        if timeout is None:
            return settings
        try:
            seconds = float(timeout)
        except (TypeError, ValueError):
            seconds = 0.0
        if not seconds > 0:
            raise VideoTaskValidationError(
                f"connection {self.conn_id!r}: extra 'request_timeout' must be a number of seconds above 0, "
                f"got {timeout!r}"
            )
        return replace(settings, timeout=seconds)

    # ----- reading task states -------------------------------------------------------------------

    def get_tasks(self, task_ids: str | Iterable[str], module: str | None = None) -> list[VideoTask]:
        """The current state of each task, in the caller's order; one request per 50 distinct ids."""
        settings = self.get_settings()
        ids, batches = self._plan(task_ids, module, settings)
        return self._assemble(ids, [self._send(request, parse=parse) for request, parse in batches])

    async def aget_tasks(self, task_ids: str | Iterable[str], module: str | None = None) -> list[VideoTask]:
        """:meth:`get_tasks` for the event loop (triggers): httpx, never a blocking call."""
        settings = await self.aget_settings()
        ids, batches = self._plan(task_ids, module, settings)
        return self._assemble(ids, [await self._asend(request, parse=parse) for request, parse in batches])

    def _plan(
        self, task_ids: str | Iterable[str], module: str | None, settings: ConnectionSettings
    ) -> tuple[list[str], list[tuple[ApiRequest, Callable[[Any], list[VideoTask]]]]]:
        """The ids, checked, and one (request, parser) per 50 distinct ids."""
        ids = normalize_task_ids(task_ids)
        resolved = self.resolve_module(module, settings)
        return ids, [
            (self._batch_request(chunk, resolved), functools.partial(self._parse_batch, task_ids=chunk))
            for chunk in chunked(unique(ids))
        ]

    @staticmethod
    def _assemble(ids: list[str], pages: list[list[VideoTask]]) -> list[VideoTask]:
        found = {task.task_id: task for page in pages for task in page}
        return [found[task_id] for task_id in ids]

    def test_connection(self) -> tuple[bool, str]:
        """Ask for a task id that does not exist: a free call that proves host and token."""
        try:
            settings = self.get_settings()
            _, [(request, parse)] = self._plan([CONNECTION_TEST_TASK_ID], None, settings)
            self._send(request, parse=parse, retry_policy=NO_RETRY)  # the answer must read as the vendor's too
        except VideoTaskError as error:
            return False, str(error)
        return True, f"Connected to {self.vendor} at {settings.base_url}"

    # ----- HTTP ----------------------------------------------------------------------------------

    def _send(
        self, request: ApiRequest, *, parse: Callable[[Any], Any] | None = None, retry_policy: RetryPolicy | None = None
    ) -> Any:
        """Send ``request`` and read the answer (with ``parse``, if given), retrying a failed read as the
        policy allows: an answer of the wrong shape is as worth another try as a lost one."""
        settings = self.get_settings()
        retries = 0
        while True:
            try:
                payload = self._send_once(settings, request)
                return parse(payload) if parse else payload
            except VideoTaskApiError as error:
                delay = self._next_delay(retry_policy, retries, request, error)
                if delay is None:
                    raise
            retries += 1
            _sleep(delay)

    async def _asend(
        self, request: ApiRequest, *, parse: Callable[[Any], Any] | None = None, retry_policy: RetryPolicy | None = None
    ) -> Any:
        """:meth:`_send` for the event loop."""
        settings = await self.aget_settings()
        retries = 0
        while True:
            try:
                payload = await self._asend_once(settings, request)
                return parse(payload) if parse else payload
            except VideoTaskApiError as error:
                delay = self._next_delay(retry_policy, retries, request, error)
                if delay is None:
                    raise
            retries += 1
            await _asleep(delay)

    def _next_delay(
        self, retry_policy: RetryPolicy | None, retries: int, request: ApiRequest, error: VideoTaskApiError
    ) -> float | None:
        """Seconds before the next try, or None to raise. A paid request is never tried twice."""
        policy = NO_RETRY if request.paid else (retry_policy or self.retry_policy)
        delay = policy.delay_for(retries, error)
        if delay is not None:
            self.log.warning(
                "%s failed, retry %d of %d in %.1fs: %s",
                request.action,
                retries + 1,
                policy.max_retries,
                delay,
                error,
            )
        return delay

    def _send_once(self, settings: ConnectionSettings, request: ApiRequest) -> Any:
        if self._session is None:
            self._session = requests.Session()
        try:
            response = self._session.request(**self._http_arguments(settings, request))
        except requests.Timeout:
            raise self._transport_error(settings, request, f"no answer within {settings.timeout:g}s") from None
        except requests.RequestException as exc:
            raise self._transport_error(settings, request, f"{type(exc).__name__}: {exc}") from None
        return self._read(settings, response.status_code, response.headers, response.text)

    async def _asend_once(self, settings: ConnectionSettings, request: ApiRequest) -> Any:
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(verify=_ssl_context())
        try:
            response = await self._async_client.request(**self._http_arguments(settings, request))
        except httpx.TimeoutException:
            raise self._transport_error(settings, request, f"no answer within {settings.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise self._transport_error(settings, request, f"{type(exc).__name__}: {exc}") from None
        return self._read(settings, response.status_code, response.headers, response.text)

    def _http_arguments(self, settings: ConnectionSettings, request: ApiRequest) -> dict[str, Any]:
        """The arguments requests and httpx both take for one call."""
        return {
            "method": request.method,
            "url": settings.base_url + request.path,
            "params": dict(request.params) or None,
            "json": request.json,
            "headers": self._headers(settings),
            "timeout": settings.timeout,
        }

    def _read(self, settings: ConnectionSettings, status: int, headers: Mapping[str, str], text: str) -> Any:
        retry_after = parse_retry_after(header(headers, "Retry-After"), time.time())
        try:
            return self._read_response(status, text, retry_after)
        except VideoTaskApiError as error:
            raise _without_token(error, settings.token) from None

    def _transport_error(self, settings: ConnectionSettings, request: ApiRequest, reason: str) -> VideoTaskApiError:
        message = f"{request.action} to {settings.base_url}: {reason}"
        if request.paid:
            # The vendor may have created (and billed) the task before the line dropped.
            message += "; the task may exist at the vendor already: check before submitting again"
        error = VideoTaskTransportError(message, vendor=self.vendor, retryable=not request.paid)
        return _without_token(error, settings.token)

    def close(self) -> None:
        """Release the HTTP session (sync path)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    async def aclose(self) -> None:
        """Release the HTTP client (async path)."""
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    # ----- the connection form, for Airflow before 3.2 (3.2+ reads get_provider_info) ------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return legacy_ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return legacy_form_widgets(cls.conn_type) if CONN_FIELDS.get(cls.conn_type) else {}


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every async client: loading the CA bundle takes tens of milliseconds, which
    each new client would otherwise spend blocking the triggerer's event loop."""
    return ssl.create_default_context(cafile=certifi.where())


def _mask_token(token: str) -> None:
    """Register the token with Airflow's secret masker; the header value is what a log line would show."""
    mask_secret(token)
    mask_secret(f"Bearer {token}")


def _base_url(host: str | None, port: int | None) -> str | None:
    """The connection's host as a base URL: ``http://`` is kept (the sandbox), no scheme means https."""
    host = (host or "").strip().rstrip("/")
    if not host:
        return None
    if "://" not in host:
        host = f"https://{host}"
        if port:
            host += f":{port}"
    return host


def _without_token(error: VideoTaskApiError, token: str) -> VideoTaskApiError:
    """The same error with the token blanked out of every text field (a proxy may echo a header)."""
    if token and token in str(error):
        for name in ("message", "vendor_message", "vendor_code", "trace_id"):
            value = getattr(error, name)
            if isinstance(value, str):
                setattr(error, name, value.replace(token, "***"))
        error.args = (error._render(),)
    return error
