"""The vendors' APIs as pure functions: build requests, read answers. No I/O, no Airflow."""

from airflow_provider_videotask.api import errors
from airflow_provider_videotask.api.common import ApiRequest
from airflow_provider_videotask.api.errors import *  # noqa: F403 - the error family, as errors.py lists it
from airflow_provider_videotask.api.models import TaskState, VideoTask

__all__ = ["ApiRequest", "TaskState", "VideoTask", *errors.__all__]
