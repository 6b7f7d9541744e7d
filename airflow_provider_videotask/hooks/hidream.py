"""HiDream hook: submit video tasks and read their results, on the API version its connection names."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from airflow_provider_videotask.api import hidream, hidream_submit
from airflow_provider_videotask.api.batch import Page, Step
from airflow_provider_videotask.api.common import ApiRequest, as_str
from airflow_provider_videotask.api.errors import VideoTaskApiError, VideoTaskValidationError
from airflow_provider_videotask.api.models import VideoTask
from airflow_provider_videotask.hooks.base import VideoTaskHook
from airflow_provider_videotask.hooks.connection import ConnectionSettings
from airflow_provider_videotask.hooks.flow import Flow
from airflow_provider_videotask.hooks.retry import RetryPolicy

# A token is exchanged again this long before it expires (at most a tenth of its life, for short ones).
TOKEN_REFRESH_MARGIN_SECONDS = 600.0


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    expires_at: float
    refresh_at: float


# Tokens exchanged in this process, by (base URL, API key digest): every hook of a process shares one
# token per key, so a triggerer full of waits exchanges once per token lifetime.
_TOKENS: dict[str, _Token] = {}


class HiDreamHook(VideoTaskHook):
    """Talks to HiDream's video API with the API key of an Airflow ``hidream`` connection.

    :param conn_id: the Airflow connection (type ``hidream``). Its password is the API key, which the
        hook exchanges for a day-long token (cached per process, renewed before it expires); its host
        an optional base URL (default: the API version's host); its extras ``api_version`` (``v2``, the
        default, ``v3`` or ``v4``: see ``api/hidream.py``), ``request_timeout``, ``batch_size`` (v2 only:
        v3 and v4 read each task on its own), ``api_user_id``, ``default_module``, and ``token`` (a raw
        token used as it is instead of the API key: it is never renewed).
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
    callback_task_id = staticmethod(hidream.callback_task_id)
    default_base_url = hidream.DEFAULT_BASE_URL
    console = (
        "your HiDream account's generation history (https://www.hidreamai.com; https://vivago.ai for a "
        "connection whose api_version is v4)"
    )
    secret_name = "API key"  # noqa: S105 - a label, not a secret

    def __init__(
        self,
        conn_id: str = default_conn_name,
        *,
        api_user_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(conn_id, retry_policy=retry_policy)
        self.api_user_id = api_user_id

    def request_arguments(self) -> dict[str, Any]:
        """``api_user_id`` when set: the API-User-ID header goes with every read of a wait too."""
        return {"api_user_id": self.api_user_id} if self.api_user_id else {}

    def callback_field(self, settings: ConnectionSettings) -> str | None:
        """``notify_url``, on the API versions that document it (v2, v3: ``Gateway.notifies``)."""
        return "notify_url" if hidream.gateway_of(api_version(settings)).notifies else None

    def submit(self, module: str | None = None, **fields: Any) -> str:
        """Create one video task (paid; sent once, never retried) and return its task id.

        ``fields`` are the vendor's body fields (``prompt``, ``image``, ``video_name``, ``style``,
        ``aspect_ratio`` ...); fields this provider does not know are passed through unchanged.
        """
        settings = self.get_settings()
        resolved, version = self.resolve_module(module, settings), api_version(settings)
        request = hidream_submit.submit_request(resolved, fields, version)
        for warning in hidream_submit.unlisted(resolved, fields, version):
            self.log.warning("%s", warning)
        task_id = self._run(self._submit(request, hidream.parse_submit, resolved))
        self.log.info("Submitted HiDream %s task %s (API %s)", resolved, task_id, version)
        return task_id

    def get_task(self, task_id: str, module: str | None = None) -> VideoTask:
        """One task through the single-result endpoint (``get_tasks`` is cheaper for several on v2)."""
        settings = self.get_settings()
        request = hidream.result_request(self.resolve_module(module, settings), task_id, api_version(settings))
        page: Page = self._run(
            self._call(request, parse=lambda result: hidream.parse_one(result, task_id, _gateway(settings)))
        )
        return page.tasks[0]

    # ----- credentials: the API key buys a token ---------------------------------------------------

    def _accepts_missing_secret(self, extras: Any) -> bool:
        return bool(as_str(extras.get("token")))

    def _credential(self, settings: ConnectionSettings, refused: str | None) -> Flow[str]:
        raw = as_str(settings.extra("token"))
        if raw:
            return raw
        key = settings.account
        cached, now = _TOKENS.get(key), time.time()
        if cached is None or cached.refresh_at <= now or cached.value == refused:
            result = yield from self._call(hidream.token_request())
            value, expires_at = hidream.parse_token(result, now)  # masked by the driver before it is sent
            margin = min(TOKEN_REFRESH_MARGIN_SECONDS, max(0.0, expires_at - now) / 10)
            cached = _TOKENS[key] = _Token(value, expires_at, expires_at - margin)
            self.log.info(
                "HiDream: exchanged the API key of connection %r for a token valid until %s",
                self.conn_id,
                datetime.fromtimestamp(expires_at, timezone.utc).isoformat(timespec="seconds"),
            )
        return cached.value

    def _may_recover(self, old: ConnectionSettings, new: ConnectionSettings) -> bool:
        # With an API key a fresh token may help; a raw token only helps if someone replaced it.
        raw = as_str(new.extra("token"))
        return raw is None or raw != as_str(old.extra("token"))

    def _auth_failure(
        self, error: VideoTaskApiError, settings: ConnectionSettings, request: ApiRequest
    ) -> VideoTaskApiError:
        on_v4 = api_version(settings) == "v4"
        if request.credential == "api_key":
            error.message = "the API key was refused: check the connection's password ('API key')" + (
                "; that vivago.ai (api_version v4) takes an API key is not documented: HiDream's own v4 client "
                "sends a vivago.ai token, which goes in the connection's extra 'token'"
                if on_v4
                else ""
            )
        elif as_str(settings.extra("token")) and on_v4:
            error.message = (
                "the vivago.ai token in the connection's extra 'token' was refused; it may have expired (a "
                "raw token is never renewed): put a fresh one there"
            )
        elif as_str(settings.extra("token")):
            error.message = (
                "the token in the connection's extra 'token' was refused; it may have expired (HiDream "
                "tokens live one day and a raw token is never renewed): put the API key in the "
                "connection's password ('API key') and remove the extra 'token'"
            )
        else:
            error.message = (
                "a token fresh from the API key was refused: check that the connection's API key belongs "
                "to an account with access to this module"
            )
        error.args = (error._render(),)
        return error

    # ----- requests --------------------------------------------------------------------------------

    def _headers(self, settings: ConnectionSettings, request: ApiRequest, token: str | None) -> dict[str, str]:
        if request.credential == "api_key":
            return {"Api-Key": settings.secret}
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        user_id = self.api_user_id or as_str(settings.extra("api_user_id"))
        if user_id:
            headers["API-User-ID"] = user_id
        return headers

    def _read_response(self, status_code: int, text: str, retry_after: float | None) -> Any:
        return hidream.read_response(status_code, text, retry_after)

    def _settings_from(self, conn: Any, extras: Mapping[str, Any]) -> ConnectionSettings:
        try:
            gateway = hidream.gateway_of((extras or {}).get("api_version"))
        except VideoTaskValidationError as error:
            raise VideoTaskValidationError(f"connection {self.conn_id!r}: {error}") from None
        settings = super()._settings_from(conn, extras)
        if not conn.host:  # each API version has its own host (v4: vivago.ai)
            settings = replace(settings, base_url=gateway.base_url)
        if not gateway.batch_reads:  # one task per read: the poller's chunks are single ids
            settings = replace(settings, batch_size=1, batch_reads=False)
        return settings

    def resolve_module(self, module: str | None, settings: ConnectionSettings) -> str:
        gateway = _gateway(settings)
        chosen = module or as_str(settings.extra("default_module")) or gateway.default_module
        return hidream.check_module(chosen)

    def _batch_step(
        self, task_ids: Sequence[str], offset: int, module: str | None, settings: ConnectionSettings
    ) -> Step:
        gateway = _gateway(settings)
        resolved = module or gateway.default_module
        if gateway.batch_reads:
            return Step(hidream.batch_request(resolved, task_ids), hidream.parse_batch)
        [task_id] = task_ids  # batch_size is 1 for these (see _settings_from)
        request = hidream.result_request(resolved, task_id, gateway.api_version)
        return Step(request, lambda result: hidream.parse_one(result, task_id, gateway))


def api_version(settings: ConnectionSettings) -> str:
    """The API version a connection's extra ``api_version`` names (checked when it was read)."""
    return _gateway(settings).api_version


def _gateway(settings: ConnectionSettings) -> hidream.Gateway:
    return hidream.gateway_of(settings.extra("api_version"))
