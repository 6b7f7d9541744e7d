"""Public error family (defined in ``api.errors``); catch :class:`VideoTaskError` for all of them."""

from airflow_provider_videotask.api.errors import (
    VideoTaskApiError,
    VideoTaskAuthError,
    VideoTaskError,
    VideoTaskQuotaError,
    VideoTaskRateLimitError,
    VideoTaskRequestError,
    VideoTaskResponseError,
    VideoTaskServerError,
    VideoTaskTransportError,
    VideoTaskValidationError,
)

__all__ = [
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
]
