"""The base of both vendor hooks: an Airflow connection turned into authenticated HTTP, sync and async.

Subclasses add only what differs per vendor: headers, request builders and answer parsers from ``api/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import httpx
import requests
from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.common.compat.sdk import BaseHook
from asgiref.sync import sync_to_async

with contextlib.suppress(ImportError):
    # httpx's first request imports anyio's asyncio backend (~50 ms) in the middle of the triggerer's
    # event loop, blocking every trigger; imported with this module instead, outside the loop.
    import anyio._backends._asyncio  # noqa: F401

from airflow_provider_videotask import metrics
from airflow_provider_videotask.api.batch import Step, read_batch
from airflow_provider_videotask.api.common import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PARALLEL_READS,
    DEFAULT_SUBMITS_IN_FLIGHT,
    ApiRequest,
    header,
    normalize_task_ids,
    parse_retry_after,
)
from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskError,
    VideoTaskRateLimitError,
    VideoTaskRequestError,
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
from airflow_provider_videotask.hooks import pacing
from airflow_provider_videotask.hooks.connection import (
    TASK_SDK_CALLS,
    ConnectionSettings,
    base_url_of,
    mask,
    whole_or_none,
)
from airflow_provider_videotask.hooks.flow import Action, Flow, ReadConnection, Send, Sleep, arun, nothing_to_ask, run
from airflow_provider_videotask.hooks.http import requests_connect_phase, short_reason, ssl_context, without_secrets
from airflow_provider_videotask.hooks.retry import NO_RETRY, RetryPolicy

T = TypeVar("T")

# Indirection so tests can observe the waits between retries without waiting.
_sleep = time.sleep
_asleep = asyncio.sleep

# A task id no vendor will ever have: the connection test asks for it, which costs nothing.
CONNECTION_TEST_TASK_ID = "airflow-connection-test"
# A hook re-reads its connection at least this often, and at once after an auth refusal, so a key
# rotated in the UI reaches waits that are already running (the shared poller lives for hours).
SETTINGS_MAX_AGE_SECONDS = 300.0
# How long the async client keeps an idle connection: longer than any usual poll interval, so a poller's
# next cycle finds its connections warm (no new TCP and TLS handshake). httpx's default is 5 s. A vendor
# that closes idle connections sooner just gets a new one.
KEEPALIVE_SECONDS = 300.0
# An answer longer than this is decoded and parsed in a worker thread rather than on the event loop,
# where every other trigger of the triggerer waits meanwhile. The default batch of 50 tasks is ~40 KB
# and reads in under 1 ms; 2,000 tasks (a large batch_size) are ~1.5 MB and ~14 ms.
LARGE_ANSWER_BYTES = 256 * 1024


class VideoTaskHook(BaseHook):
    """Authenticated, retrying HTTP to one vendor, configured by an Airflow connection: reads are retried
    on transient failures (``retry_policy``), a paid submit is sent exactly once; a call refused for its
    credentials re-reads the connection and is tried once more (a refused call was not billed)."""

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    vendor: ClassVar[str]
    default_base_url: ClassVar[str]
    secret_name: ClassVar[str] = "API token"  # noqa: S105 - a label, not a secret
    # The module the Test button's free status query reads (None: the connection's default).
    connection_test_module: ClassVar[str | None] = None
    console: ClassVar[str]  # where a user looks up the tasks an account has submitted

    def __init__(self, conn_id: str | None = None, *, retry_policy: RetryPolicy | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        self.retry_policy = retry_policy or RetryPolicy()
        self._settings: ConnectionSettings | None = None
        self._settings_read_at = 0.0
        self._session: requests.Session | None = None
        self._async_client: httpx.AsyncClient | None = None
        # Ids the vendor refused (HTTP 400 ...), found by splitting a batch: not asked again.
        self._refused: dict[str, VideoTaskApiError] = {}
        self._masked: set[str] = set()  # the tokens this hook has had masked

    def request_arguments(self) -> dict[str, Any]:  # what shapes its requests: a wait's reads go out the same
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # ----- what each vendor fills in -------------------------------------------------------------

    def _headers(self, settings: ConnectionSettings, request: ApiRequest, token: str | None) -> dict[str, str]:
        raise NotImplementedError

    def _read_response(self, status_code: int, text: str, retry_after: float | None) -> Any:
        raise NotImplementedError

    def resolve_module(self, module: str | None, settings: ConnectionSettings) -> str | None:
        raise NotImplementedError

    def callback_field(self, settings: ConnectionSettings) -> str | None:
        """The submit field a callback URL goes in on this connection (None: its API takes none)."""
        return None

    @staticmethod
    def callback_task_id(body: Any) -> str | None:
        """The task a callback's body names, read as a hint only (``callbacks/``)."""
        raise NotImplementedError

    def _batch_step(
        self, task_ids: Sequence[str], offset: int, module: str | None, settings: ConnectionSettings
    ) -> Step:
        """The request reading ``task_ids`` (``offset``: the page), and how to read its answer."""
        raise NotImplementedError

    def _credential(self, settings: ConnectionSettings, refused: str | None) -> Flow[str]:
        """The bearer token for a call (``refused``: the one just turned down): the connection's secret here."""
        return nothing_to_ask(settings.secret)

    def _may_recover(self, old: ConnectionSettings, new: ConnectionSettings) -> bool:
        """After an auth refusal and a fresh read of the connection: is another try worth it?"""
        return new.secret != old.secret

    def _auth_failure(
        self, error: VideoTaskApiError, settings: ConnectionSettings, request: ApiRequest
    ) -> VideoTaskApiError:
        """The auth error the user sees, saying what to fix."""
        error.message = f"the {self.secret_name} was refused: check the connection's password ('{self.secret_name}')"
        error.args = (error._render(),)
        return error

    # ----- the connection ------------------------------------------------------------------------

    def get_settings(self, fresh: bool = False) -> ConnectionSettings:
        """The connection's settings, read again when ``fresh`` or older than five minutes."""
        with TASK_SDK_CALLS:  # one thread reads it, the others wait for that reading (connection.py)
            if fresh or self._settings_stale():
                with warnings.catch_warnings():  # Airflow 3.0's own BaseHook calls its deprecated models API
                    warnings.simplefilter("ignore", DeprecationWarning)
                    conn = self.get_connection(self.conn_id)
                settings = self._settings_from(conn, conn.extra_dejson)
                for secret in settings.secrets():
                    mask(secret)
                self._keep(settings)
        assert self._settings is not None
        return self._settings

    async def aget_settings(self, fresh: bool = False) -> ConnectionSettings:
        """:meth:`get_settings` without blocking the event loop (Airflow's async connection API)."""
        if fresh or self._settings_stale():
            conn = await get_async_connection(self.conn_id, self)
            settings = self._settings_from(conn, await get_async_extra_dejson(conn))
            for secret in settings.secrets():
                # Before Airflow 3.1 the masker calls the supervisor synchronously: not on the event loop.
                await sync_to_async(mask)(secret)
            self._keep(settings)
        assert self._settings is not None
        return self._settings

    def _settings_stale(self) -> bool:
        return self._settings is None or time.monotonic() - self._settings_read_at > SETTINGS_MAX_AGE_SECONDS

    def _keep(self, settings: ConnectionSettings) -> None:
        self._settings, self._settings_read_at = settings, time.monotonic()

    def _settings_from(self, conn: Any, extras: Mapping[str, Any]) -> ConnectionSettings:
        secret = (conn.password or "").strip()
        if secret.lower().startswith("bearer "):
            secret = secret[len("bearer ") :].strip()
        extras = dict(extras or {})
        if not secret and not self._accepts_missing_secret(extras):
            raise VideoTaskValidationError(
                f"connection {self.conn_id!r} has no {self.secret_name}: put the {self.vendor} "
                f"{self.secret_name} in its password field ('{self.secret_name}' in the Airflow UI)"
            )
        return ConnectionSettings(
            conn_id=self.conn_id,
            base_url=base_url_of(conn.host, conn.port) or self.default_base_url,
            secret=secret,
            timeout=self._positive_extra(extras, "request_timeout", float) or DEFAULT_TIMEOUT_SECONDS,
            extras=extras,
            batch_size=int(self._positive_extra(extras, "batch_size", int) or DEFAULT_BATCH_SIZE),
            parallel_reads=int(self._positive_extra(extras, "parallel_reads", int) or DEFAULT_PARALLEL_READS),
            max_submits_per_minute=whole_or_none(self._positive_extra(extras, "max_submits_per_minute", int)),
            max_concurrent_tasks=whole_or_none(self._positive_extra(extras, "max_concurrent_tasks", int)),
            max_submits_in_flight=int(
                self._positive_extra(extras, "max_submits_in_flight", int) or DEFAULT_SUBMITS_IN_FLIGHT
            ),
        )

    def _accepts_missing_secret(self, extras: Mapping[str, Any]) -> bool:
        return False

    def _positive_extra(self, extras: Mapping[str, Any], name: str, kind: type[float] | type[int]) -> float | None:
        value: Any = extras.get(name)
        if value in (None, ""):
            return None
        try:
            number = kind(value)
        except (TypeError, ValueError):
            number = 0
        if isinstance(value, bool) or not number > 0 or (kind is int and number != float(value)):
            what = "a whole number above 0" if kind is int else "a number of seconds above 0"
            raise VideoTaskValidationError(f"connection {self.conn_id!r}: extra {name!r} must be {what}, got {value!r}")
        return number

    # ----- reading task states -------------------------------------------------------------------

    def get_tasks(self, task_ids: str | Iterable[str], module: str | None = None) -> list[VideoTask]:
        """The current state of each task, in the caller's order; one request per ``batch_size`` distinct ids
        (default 50), every page of each, and a refused id fails alone (see ``api/batch.py``)."""
        with metrics.poll(vendor=self.conn_type, conn_id=self.conn_id):
            return self._run(self._read_tasks(normalize_task_ids(task_ids), module))

    async def aget_tasks(self, task_ids: str | Iterable[str], module: str | None = None) -> list[VideoTask]:
        """:meth:`get_tasks` for the event loop (triggers): httpx, never a blocking call."""
        with metrics.poll(vendor=self.conn_type, conn_id=self.conn_id):
            return await self._arun(self._read_tasks(normalize_task_ids(task_ids), module))

    def _read_tasks(self, ids: list[str], module: str | None) -> Flow[list[VideoTask]]:
        settings: ConnectionSettings = yield ReadConnection()
        resolved = self.resolve_module(module, settings)
        tasks = yield from read_batch(
            ids,
            lambda chunk, offset: self._batch_step(chunk, offset, resolved, settings),
            lambda step: self._call(step.request, parse=step.parse, retry_refusals=step.retry_refusal),
            batch_size=settings.batch_size,
            refused=self._refused if settings.batch_reads else None,
        )
        if gate := pacing.known_gate(settings.account):
            gate.observe(tasks)
        return tasks

    # ----- submitting: a paid call, sent once, under the connection's own pacing ----------------------

    def _submit(self, request: ApiRequest, parse: Callable[[Any], str], module: str | None) -> Flow[str]:
        """Send one submit and return the new task's id, unless the connection's ``max_submits_per_minute``
        or ``max_concurrent_tasks`` hold it back (see ``hooks/pacing.py``): then nothing is sent, and the
        refusal says how long to wait."""
        settings: ConnectionSettings = yield ReadConnection()
        gate = pacing.gate_for(settings.account)
        limit = settings.max_concurrent_tasks
        if limit is not None and gate.running_count() >= limit:
            # Some may have finished since this process last looked: a read is free.
            for running_module, task_ids in gate.running_by_module().items():
                yield from self._before_sending(request, self._read_tasks(task_ids, running_module))
            running = gate.running_count()
            if running >= limit:
                raise self._held_back(
                    f"{running} tasks this process submitted are still running, the connection's "
                    f"max_concurrent_tasks={limit}",
                    pacing.CONCURRENCY_RECHECK_SECONDS,
                    request,
                )
        wait = gate.admit(time.monotonic(), settings.max_submits_per_minute)
        if wait is not None:
            raise self._held_back(
                f"the connection's max_submits_per_minute={settings.max_submits_per_minute} is used up", wait, request
            )
        task_id = parse((yield from self._call(request)))
        gate.started(task_id, module)
        return task_id

    def _held_back(self, why: str, wait: float, request: ApiRequest) -> VideoTaskRateLimitError:
        message = f"{request.action} held back: {why}; nothing was sent"
        return VideoTaskRateLimitError(message, vendor=self.vendor, retry_after=wait)

    def test_connection(self) -> tuple[bool, str]:
        """Ask for a task id that does not exist: a free call that proves host and credentials."""
        # The button answers at once: no call of the test is retried (the key exchange included).
        retry_policy, self.retry_policy = self.retry_policy, NO_RETRY
        try:
            settings = self.get_settings(fresh=True)
            self._run(self._read_tasks([CONNECTION_TEST_TASK_ID], self.connection_test_module))
        except VideoTaskTransportError as error:
            return False, f"Could not reach {self.vendor}: {error.message}. Check the connection's Base URL."
        except VideoTaskError as error:
            return False, str(error)
        finally:
            self.retry_policy = retry_policy
        return True, f"Connected to {self.vendor} at {settings.base_url}"

    # ----- one call: retries and auth refresh, written once for both paths ------------------------

    def _call(
        self, request: ApiRequest, *, parse: Callable[[Any], Any] | None = None, retry_refusals: bool = True
    ) -> Flow[Any]:
        """Send ``request`` and read the answer (with ``parse``, if given). A failed read is retried as the
        policy allows (an answer of the wrong shape as a lost one); a paid request never is. An auth refusal
        re-reads the connection and tries once more where that can help (a refused call was not billed).
        ``retry_refusals=False``: a refusal is raised at once (a batch read that is split, ``api/batch.py``)."""
        settings: ConnectionSettings = yield ReadConnection()
        retries, refused = 0, None
        while True:
            # Outside the try: a refused credential exchange is final, it is not "this call refused".
            token = None
            if request.credential == "token":
                token = yield from self._before_sending(request, self._credential(settings, refused))
            try:
                return (yield Send(settings, request, token, parse))
            except VideoTaskAuthError as error:
                if refused is not None or request.credential != "token":
                    raise self._auth_failure(error, settings, request) from None
                fresh: ConnectionSettings = yield ReadConnection(fresh=True)
                if not self._may_recover(settings, fresh):
                    raise self._auth_failure(error, fresh, request) from None
                self.log.warning(
                    "%s %s: the credentials were refused; read connection %r again and trying once more",
                    self.vendor,
                    request.action,
                    self.conn_id,
                )
                settings, refused = fresh, token or ""
            except VideoTaskApiError as error:
                if isinstance(error, VideoTaskRequestError) and not retry_refusals:
                    raise
                delay = self._next_delay(retries, request, error)
                if delay is None:
                    raise
                retries += 1
                yield Sleep(delay)

    def _before_sending(self, request: ApiRequest, flow: Flow[T]) -> Flow[T]:
        """A free call a request needs first (a token exchange, a pacing read). If it fails, the request
        itself never left, and its error says so (``sent=False``): a paid submit stays safe to try again."""
        try:
            return (yield from flow)
        except VideoTaskApiError as error:
            if request.paid:
                error.sent = False
                error.message += f"; the {request.action} itself was not sent"
                error.args = (error._render(),)
            raise

    def _next_delay(self, retries: int, request: ApiRequest, error: VideoTaskApiError) -> float | None:
        """Seconds before the next try, or None to raise. A paid request is never tried twice."""
        policy = NO_RETRY if request.paid else self.retry_policy
        return policy.next_delay(retries, error, f"{self.vendor} {request.action}", self.log)

    # ----- the two drivers: perform what a flow asks, sync or async (hooks/flow.py) ------------

    def _run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` with blocking I/O (operators, poke mode)."""
        return run(flow, self._perform)

    async def _arun(self, flow: Flow[T]) -> T:
        """Drive ``flow`` on the event loop (triggers): never a blocking call."""
        return await arun(flow, self._aperform)

    def _perform(self, action: Action) -> Any:
        match action:
            case Send():
                self._mask_token(action.token)
                return self._send_once(action)
            case Sleep(seconds=seconds):
                return _sleep(seconds)
            case ReadConnection(fresh=fresh):
                return self.get_settings(fresh=fresh)

    async def _aperform(self, action: Action) -> Any:
        match action:
            case Send():
                if action.token and action.token not in self._masked:
                    # Before Airflow 3.1 the masker calls the supervisor synchronously: not on the event loop.
                    await sync_to_async(self._mask_token)(action.token)
                return await self._asend_once(action)
            case Sleep(seconds=seconds):
                return await _asleep(seconds)
            case ReadConnection(fresh=fresh):
                return await self.aget_settings(fresh=fresh)

    def _mask_token(self, token: str | None) -> None:  # HiDream's, before it is first sent
        if token and token not in self._masked:
            mask(token)
            self._masked.add(token)

    # ----- HTTP ----------------------------------------------------------------------------------

    def _send_once(self, send: Send) -> Any:
        if self._session is None:
            self._session = requests.Session()
        try:
            response = self._session.request(**self._http_arguments(send))
        except requests.RequestException as exc:
            raise self._transport_error(send, exc, connect_phase=requests_connect_phase(exc)) from None
        return self._read(send, response.status_code, response.headers, response.text)

    async def _asend_once(self, send: Send) -> Any:
        if self._async_client is None:
            # The first TLS context of the process loads the CA bundle (~50 ms): in a thread, off the loop.
            verify = await asyncio.to_thread(ssl_context)
            if self._async_client is None:  # a parallel read may have made it meanwhile: one client per hook
                self._async_client = httpx.AsyncClient(
                    verify=verify, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
                )
        try:
            response = await self._async_client.request(**self._http_arguments(send))
        except httpx.HTTPError as exc:
            connect_phase = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            raise self._transport_error(send, exc, connect_phase=connect_phase) from None
        if len(response.content) > LARGE_ANSWER_BYTES:  # decoded (response.text) in the thread too
            return await asyncio.to_thread(
                lambda: self._read(send, response.status_code, response.headers, response.text)
            )
        return self._read(send, response.status_code, response.headers, response.text)

    def _http_arguments(self, send: Send) -> dict[str, Any]:
        """The arguments requests and httpx both take for one call."""
        request = send.request
        return {
            "method": request.method,
            "url": send.settings.base_url + request.path,
            "params": dict(request.params) or None,
            "json": request.json,
            "headers": self._headers(send.settings, request, send.token),
            "timeout": send.settings.timeout,
        }

    def _read(self, send: Send, status: int, headers: Mapping[str, str], text: str) -> Any:
        retry_after = parse_retry_after(header(headers, "Retry-After"), time.time())
        try:
            payload = self._read_response(status, text, retry_after)
        except VideoTaskApiError as error:
            raise without_secrets(error, send) from None
        return send.parse(payload) if send.parse else payload

    def _transport_error(self, send: Send, exc: Exception, *, connect_phase: bool) -> VideoTaskApiError:
        request, settings = send.request, send.settings
        if isinstance(exc, (requests.Timeout, httpx.TimeoutException)) and not connect_phase:
            reason = f"no answer within {settings.timeout:g}s"
        else:
            reason = short_reason(exc)
        message = f"{request.action} to {settings.base_url}: {reason}"
        if connect_phase:
            message += "; nothing was sent" + ("; nothing was billed" if request.paid else "")
        elif request.paid:
            # The vendor may have created (and billed) the task before the line dropped.
            message += "; the task may exist at the vendor already: check before submitting again"
        error = VideoTaskTransportError(
            message, vendor=self.vendor, retryable=not request.paid or connect_phase, sent=not connect_phase
        )
        return without_secrets(error, send)

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
