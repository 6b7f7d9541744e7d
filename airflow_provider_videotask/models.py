"""Public vocabulary: :class:`TaskState` and :class:`VideoTask` (defined in ``api.models``)."""

from airflow_provider_videotask.api.models import TaskState, VideoTask

__all__ = ["TaskState", "VideoTask"]
