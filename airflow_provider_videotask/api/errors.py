"""The error family every layer raises, the rule that turns an HTTP answer into one of them, and the rule
that decides what a failed submit may do next (``submit_fate``)."""

from __future__ import annotations

from enum import Enum

# The public error family (re-exported by ``airflow_provider_videotask.exceptions``).
__all__ = [
    "SubmitFate",
    "VideoTaskApiError",
    "VideoTaskAuthError",
    "VideoTaskError",
    "VideoTaskQuotaError",
    "VideoTaskRateLimitError",
    "VideoTaskRequestError",
    "VideoTaskResponseError",
    "VideoTaskServerError",
    "VideoTaskTransportError",
    "VideoTaskValidationError",
    "submit_fate",
]

# Vendor error codes that mean the credentials are wrong (Hailuo; HiDream publishes no table).
AUTH_CODES = frozenset({"invalid_token", "token_expired", "no_token", "token_mismatched", "disabled"})
QUOTA_CODES = frozenset({"used_up"})
# Ace Data Cloud's "slow down" (HTTP 429 ``too_many_requests``: AceDataCloud/Docs openapi/hailuo.json, and the
# SDK's code map in python/src/acedatacloud/_runtime/transport.py). HiDream documents no such code.
RATE_LIMIT_CODES = frozenset({"too_many_requests"})
# 408 and 409 are what Ace Data Cloud answers while a backend is busy; both are worth another try.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


class VideoTaskError(Exception):
    """Base of every error this provider raises."""


class VideoTaskValidationError(VideoTaskError, ValueError):
    """An argument is wrong before anything was sent; the message names the field and the fix."""


class VideoTaskApiError(VideoTaskError):
    """A vendor call failed.

    Carries what support needs (HTTP status, vendor code and message, the vendor's trace or request id)
    and whether another try may succeed. The message never contains the API token.
    """

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        status_code: int | None = None,
        vendor_code: str | None = None,
        vendor_message: str | None = None,
        trace_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        self.message = message
        # False when the call failed before its request left this machine (a refused connection, or a free
        # call it needed first, such as a token exchange, failed): nothing of it reached the vendor.
        self.sent = sent
        self.vendor = vendor
        self.status_code = status_code
        self.vendor_code = vendor_code
        self.vendor_message = vendor_message
        self.trace_id = trace_id
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(self._render())

    def _render(self) -> str:
        details = []
        if self.status_code is not None:
            details.append(f"HTTP {self.status_code}")
        if self.vendor_code is not None:
            details.append(f"code {self.vendor_code}")
        if self.trace_id:
            details.append(f"trace id {self.trace_id}")
        text = f"{self.vendor}: {self.message}"
        if self.vendor_message and self.vendor_message not in self.message:
            text += f": {self.vendor_message}"
        return f"{text} ({', '.join(details)})" if details else text

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments do not survive the default pickling (Airflow pickles some errors).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[VideoTaskApiError], state: dict[str, object]) -> VideoTaskApiError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._render())
    return error


class VideoTaskAuthError(VideoTaskApiError):
    """The vendor refused the credentials: the connection's API key or token is wrong, expired or disabled."""


class VideoTaskRequestError(VideoTaskApiError):
    """The vendor refused this request as it stands (HTTP 400, 404, 422 ..., or an error code in a 2xx
    answer): sending it again cannot help, unless ``retryable`` says the vendor's code may be passing
    (HiDream publishes no code table).

    In a batch read this usually means one id the vendor will not take; the hooks then split the batch to
    find it, so only that id's waiters fail (see ``api/batch.py``).
    """


class VideoTaskQuotaError(VideoTaskApiError):
    """The account's balance or quota is used up."""


class VideoTaskRateLimitError(VideoTaskApiError):
    """The vendor asked us to slow down (HTTP 429)."""


class VideoTaskServerError(VideoTaskApiError):
    """The vendor (or a proxy in front of it) failed on its side; worth another try."""


class VideoTaskTransportError(VideoTaskApiError):
    """No answer: connection refused or dropped, DNS failure, or no answer within the timeout.

    ``sent`` is False when the failure came before a byte of the request left (connection refused, a
    name that does not resolve, a connect timeout): the vendor cannot have acted on it.
    """


class VideoTaskResponseError(VideoTaskApiError):
    """An answer arrived but could not be read (not JSON, or not the documented shape)."""


def error_for_status(
    *,
    vendor: str,
    status_code: int,
    vendor_code: str | None,
    vendor_message: str | None,
    trace_id: str | None,
    retry_after: float | None = None,
) -> VideoTaskApiError:
    """The error for a failed HTTP answer, chosen by status and vendor code."""
    kind: type[VideoTaskApiError]
    if vendor_code in QUOTA_CODES:
        kind, message = (
            VideoTaskQuotaError,
            "the account's balance is used up: top it up at the vendor, or check that the connection's "
            "API token belongs to the account you expect",
        )
    elif status_code in (401, 403) or vendor_code in AUTH_CODES:
        kind, message = VideoTaskAuthError, "the credentials were refused: check the connection's password"
    elif status_code == 429 or vendor_code in RATE_LIMIT_CODES:
        kind, message = VideoTaskRateLimitError, "rate limited by the vendor"
    elif status_code in RETRYABLE_STATUSES or status_code >= 500:
        kind, message = VideoTaskServerError, "the vendor failed on its side"
    else:
        kind, message = VideoTaskRequestError, "the vendor refused the request"
    retryable = kind in (VideoTaskRateLimitError, VideoTaskServerError)
    return kind(
        message,
        vendor=vendor,
        status_code=status_code,
        vendor_code=vendor_code,
        vendor_message=vendor_message,
        trace_id=trace_id,
        retryable=retryable,
        retry_after=retry_after if retryable else None,
    )


class SubmitFate(str, Enum):
    """What a failed submit (a paid call) may do next."""

    REFUSED = "refused"  # turned away before any work: nothing billed; try again after a wait
    UNKNOWN = "unknown"  # it may have been created, and billed: never sent again automatically
    REJECTED = "rejected"  # the request itself is wrong, or the account cannot pay: fail at once


def submit_fate(error: VideoTaskApiError) -> SubmitFate:
    """The one rule for failed submits; "never pay twice" rests on it, so only a sure refusal is REFUSED.

    - refused: HTTP 429 or a rate-limit code (``too_many_requests``), a submit held back by the
      connection's own pacing (``max_submits_per_minute``, ``max_concurrent_tasks``), any transient
      failure before the submit was sent (``sent=False``: a refused connection, a failed token exchange
      or pacing read). (An auth refusal is retried once inside the hook, after a fresh token or a fresh
      read of the connection; one that reaches here is final: rejected.)
    - unknown: no answer after the request was sent (timeout, dropped connection), a 5xx or a "busy"
      408/409, an answer that cannot be read: the vendor may have created the task.
    - rejected: everything else the vendor answered (400, 403, 404, 422, a used-up balance, a HiDream
      envelope code): it said no, so nothing was created.
    """
    if isinstance(error, VideoTaskRateLimitError):
        return SubmitFate.REFUSED
    if not error.sent:
        # The submit never left: only a verdict on the account or the request itself ends the task.
        final = (VideoTaskAuthError, VideoTaskQuotaError, VideoTaskRequestError, VideoTaskValidationError)
        return SubmitFate.REJECTED if isinstance(error, final) and not error.retryable else SubmitFate.REFUSED
    if isinstance(error, (VideoTaskTransportError, VideoTaskServerError, VideoTaskResponseError)):
        return SubmitFate.UNKNOWN
    return SubmitFate.REJECTED
