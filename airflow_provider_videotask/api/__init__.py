"""The vendors' APIs as pure functions: build requests, read answers. No I/O, no Airflow."""

from airflow_provider_videotask.api.common import ApiRequest
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
from airflow_provider_videotask.api.models import TaskState, VideoTask

__all__ = [
    "ApiRequest",
    "TaskState",
    "VideoTask",
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
